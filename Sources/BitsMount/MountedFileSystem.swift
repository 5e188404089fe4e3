import BitsEngine
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import Synchronization

/// The kernel's caches of names and pages, which the file system drops when what they hold
/// changed. `FuseSession` is the real one.
package protocol KernelCache: AnyObject, Sendable {
  func invalidate(inode: UInt64)
  func invalidate(name: String, in parent: UInt64)
}

/// The read-only file system of a mount: the tree of `MountTree`, its files each backed by a
/// `DownloadFile` of an on-demand job, made when the file is first opened (a file placed by
/// name has one from the start), and closed again once background fill is done with it and no
/// reader holds it (`stopUsing`). Directories read from a server are listed when first looked
/// at. Reads are answered from the cache, fetching missing blocks first; the reply leaves as
/// soon as the bytes are on disk, from whichever thread delivered them. Every operation answers
/// through its `reply`; nothing here knows of FUSE. Reads, directories, background fill,
/// extended attributes and the files of nodes are in extensions of their own
/// (`MountedFileSystem+Reading.swift`, `+Directories`, `+Prefetch`, `+Attributes`, `+Downloads`).
///
/// Each version of a file has an inode of its own (`InodeTable`), so the kernel's pages of one
/// version never answer a reader of another. Locks: `tree`, `downloads`, `inodes`, `handles`,
/// `kernel` and `fills` are leaves, never held together and never while calling the
/// engine or a reply.
public final class MountedFileSystem: FileSystemOperations {
  static let rootInode = InodeTable.root

  let job: DownloadJob
  let options: MountOptions
  let reader: DirectoryReader
  /// Listings kept across mounts; `nil` keeps them in memory only.
  let listingStore: ListingStore?
  /// Writes them to `listingStore`, off the path of the replies.
  let listingSaver: ListingSaver?
  /// Where `bitsfs prefetch` reaches the mount, published on the root as `user.bitsfs.control`.
  let controlSocketPath: String?
  /// The commands run for background fill.
  let hooks: FillHooks?
  /// The connections of `bitsfs events`.
  let events = EventSubscribers()
  let tree: Mutex<TreeState>
  /// The file of each file node that has been opened (or was placed by name).
  let downloads: Mutex<Downloads>
  let inodes = Mutex(InodeTable())
  let handles = Mutex(HandleTable())
  private let kernel = Mutex(KernelCacheReference())
  /// Tells the kernel which names to forget, in order (`forgetNames`).
  private let kernelNames = DispatchQueue(label: "bitsfs.kernel-names")
  /// The files filled in the background, and what became of each.
  let fills: Mutex<FillTable>
  /// Fill asked with `bitsfs prefetch`, kept across mounts; `nil` keeps it in memory only.
  let fillStore: FillRequestStore?
  let mountTime = Date()
  /// A warning for every EIO a reader gets, once per cause and minute with a count of repeats.
  let readFailures: ThrottledWarnings

  /// The tree, and who waits for what it does not know yet.
  struct TreeState {
    var tree: MountTree
    /// Directories whose listing is being read, and who waits for it (nobody, for a refresh).
    var listing: [Int: [@Sendable (Result<Void, BitsError>) -> Void]] = [:]
    /// Files whose size is being learned, and who waits for it.
    var probing: [Int: [@Sendable (Result<Void, BitsError>) -> Void]] = [:]
    /// Per directory, the position in its listing up to which a walk's read-ahead has looked
    /// (`listSiblings`).
    var readAhead: [Int: Int] = [:]
    /// Whether listings give the kernel their files' attributes, told by its lookups of files.
    var attributePolicy = ListingAttributePolicy()
  }

  struct HandleTable {
    var nextHandle: UInt64 = 1
    var open: [UInt64: OpenFile] = [:]

    mutating func nextNumber() -> UInt64 {
      defer { nextHandle += 1 }
      return nextHandle
    }
  }

  /// One `DownloadFile` per URL, however many nodes show it: one writer of each cache entry.
  struct Downloads {
    var byNode: [Int: DownloadFile]
    var byURL: [String: DownloadFile]
    /// Per URL, how many open handles and fills use its file (`use`, `stopUsing`).
    var users: [String: Int] = [:]
    /// The URLs placed by name: their files stay for the mount's life.
    var placed: Set<String>
    /// Files of URLs being closed (`stopUsing`): a new file of the URL waits for that, as the
    /// cache entry is the closing file's until then.
    var closing: [String: DispatchGroup] = [:]
  }

  private struct KernelCacheReference {
    weak var cache: (any KernelCache)?
  }

  /// Per open file: the version it was opened at, its reader's read-ahead, its last failure.
  struct OpenFile {
    let file: DownloadFile
    let generation: UInt64
    var readAhead: ReadAheadPolicy
    /// A read of these bytes failed until this instant: the kernel asks again for a page that
    /// failed, and that second ask fails at once rather than waiting the read timeout again.
    var failure: (range: Range<UInt64>, until: ContinuousClock.Instant)?
  }

  /// `tree` as placed; `files` are the files of its file nodes known from the start.
  package init(
    job: DownloadJob, tree: MountTree, files: [Int: DownloadFile], options: MountOptions,
    listingStore: ListingStore? = nil, fillStore: FillRequestStore? = nil, controlSocketPath: String? = nil,
    hooks: FillHooks? = nil, logger: Logger? = nil
  ) {
    self.hooks = hooks
    self.fillStore = fillStore
    fills = Mutex(FillTable(room: FillRoom(cacheRoom: options.cacheRoom)))
    self.job = job
    readFailures = ThrottledWarnings(logger: logger ?? .disabled)
    self.listingStore = listingStore
    listingSaver = listingStore.map { ListingSaver(store: $0) }
    self.controlSocketPath = controlSocketPath
    self.options = options
    self.tree = Mutex(TreeState(tree: tree))
    downloads = Mutex(
      Downloads(
        byNode: files, byURL: Dictionary(files.values.map { ($0.remoteURL, $0) }) { first, _ in first },
        placed: Set(files.values.map(\.remoteURL))))
    reader = job.directoryReader(limits: options.listingLimits)
  }

  /// Where to drop the kernel's stale names and pages; kept weakly.
  package func attach(kernel cache: any KernelCache) {
    kernel.withLock { $0.cache = cache }
  }

  var kernelCache: (any KernelCache)? { kernel.withLock { $0.cache } }

  // MARK: Nodes and inodes

  /// The generation a node's inode is numbered for: a directory has one, the first (1); a file
  /// the generation of its version, the first until it is opened.
  private static func generation(isDirectory: Bool, download: DownloadFile?) -> UInt64 {
    isDirectory ? 1 : max(download?.generation ?? 1, 1)
  }

  func currentInode(of node: Int, isDirectory: Bool) -> UInt64 {
    let key = InodeTable.Key(
      entry: node, generation: Self.generation(isDirectory: isDirectory, download: download(of: node)))
    return inodes.withLock { $0.number(for: key) }
  }

  /// The inodes of `nodes` (with whether each is a directory, and its file if opened), with one
  /// lock for all.
  func currentInodes(of nodes: [(node: Int, isDirectory: Bool, download: DownloadFile?)]) -> [UInt64] {
    inodes.withLock { table in
      nodes.map { node in
        table.number(
          for: InodeTable.Key(
            entry: node.node, generation: Self.generation(isDirectory: node.isDirectory, download: node.download)))
      }
    }
  }

  /// The node of `inode` and the generation of the version it was numbered for.
  func resolve(_ inode: UInt64) -> (node: Int, generation: UInt64)? {
    inodes.withLock { $0.key(of: inode) }.map { ($0.entry, $0.generation) }
  }

  /// The paths in the mount where `file` shows.
  func paths(of file: DownloadFile) -> [String] {
    let nodes = downloads.withLock { $0.byNode.filter { $0.value === file }.map(\.key) }
    return tree.withLock { state in nodes.map { state.tree.path(of: $0) } }.sorted()
  }

  /// The remote version of `file` changed: the kernel drops its lookup of the name, so the next
  /// open finds the new version's inode, and its pages of the old versions.
  package func fileChanged(_ file: DownloadFile) {
    refill(file)
    guard let kernel = kernelCache else { return }
    let nodes = downloads.withLock { $0.byNode.filter { $0.value === file }.map(\.key) }
    let names = nodes.map { node in
      let (parent, name) = tree.withLock { ($0.tree[node].parent, $0.tree[node].name) }
      return (name: name, parent: currentInode(of: parent, isDirectory: true))
    }
    let pages = inodes.withLock { table in nodes.flatMap { table.numbers(ofEntry: $0) } }
    // The directories' kept entries show the old version's inode.
    forgetNames(names, in: kernel, thenEntriesOf: Array(Set(names.map(\.parent))))
    // On a thread of its own: the kernel drops pages only once the reads pending on them are
    // answered, and their answers may come from the thread that tells of the change.
    DispatchQueue.global().async {
      for inode in pages { kernel.invalidate(inode: inode) }
    }
  }

  /// Has the kernel forget `names`, in order, and then the entries it keeps of `directories`
  /// (their names and inodes, kept since it read them). Never on the calling thread: the
  /// kernel waits for lookups and readings under way in a directory, which may wait for the
  /// engine.
  func forgetNames(
    _ names: [(name: String, parent: UInt64)], in kernel: any KernelCache, thenEntriesOf directories: [UInt64] = []
  ) {
    kernelNames.async {
      for (name, parent) in names { kernel.invalidate(name: name, in: parent) }
      for directory in directories { kernel.invalidate(inode: directory) }
    }
  }

  // MARK: Attributes

  /// How long the kernel may keep an answer about `node`: a file's own version is watched
  /// (its changes are invalidated), but it is asked for again each second so an open's
  /// revalidation shows at once; a listing's facts for the listing's time to live; a listed
  /// directory's for what is left of its own listing's, so that the kernel asks for them, and
  /// its refresh starts, before it answers again from the entries it keeps.
  func timeout(of node: Int) -> Double {
    timeout(of: tree.withLock { $0.tree.shown(node) }, download: download(of: node))
  }

  func timeout(of shown: MountTree.Shown, download: DownloadFile?) -> Double {
    if let listedAt = shown.listedAt {
      return max(0, (options.directoryTimeToLive - (.now - listedAt)).seconds)
    }
    return download == nil ? options.directoryTimeToLive.seconds : 1
  }

  func attributes(of node: Int, inode: UInt64) -> FileAttributes? {
    attributes(of: tree.withLock { $0.tree.shown(node) }, download: download(of: node), inode: inode)
  }

  /// The attributes of a node that shows as `shown`, whose file is `download` if opened.
  func attributes(of shown: MountTree.Shown, download: DownloadFile?, inode: UInt64) -> FileAttributes? {
    guard !shown.isDirectory else {
      return FileAttributes(
        inode: inode, size: 0, mode: S_IFDIR | 0o555, linkCount: 2, modificationTime: shown.modified ?? mountTime)
    }
    if let download {
      guard let version = download.lastKnownVersion else { return nil }
      let modified = version.lastModified.flatMap(HTTPDate.parse) ?? mountTime
      return FileAttributes(
        inode: inode, size: version.size, mode: S_IFREG | 0o444, linkCount: 1, modificationTime: modified)
    }
    guard case .exact(let size) = shown.size else { return nil }
    return FileAttributes(
      inode: inode, size: size, mode: S_IFREG | 0o444, linkCount: 1, modificationTime: shown.modified ?? mountTime)
  }

  package func lookup(parent: UInt64, name: String, reply: @escaping FileSystemReplyHandler) {
    guard let (directory, _) = resolve(parent), tree.withLock({ $0.tree.directory(directory) }) != nil else {
      return reply(.error(ENOTDIR))
    }
    whenListed(directory) { [self] result in
      guard case .success = result else { return reply(.error(EIO)) }
      let node = tree.withLock { state -> Int? in
        guard let node = state.tree.child(named: name, in: directory) else { return nil }
        if state.tree.file(node) != nil { state.attributePolicy.fileLookedUp(at: .now) }
        return node
      }
      guard let node else { return reply(.error(ENOENT)) }
      answerEntry(node, reply: reply)
    }
  }

  /// Replies with the attributes of `node`, learning first what is not known yet.
  private func answerEntry(_ node: Int, reply: @escaping FileSystemReplyHandler) {
    let answer: @Sendable () -> Void = { [self] in
      let isDirectory = tree.withLock { $0.tree.isDirectory(node) }
      // A path walk renews a directory's name, and with it the attributes it would ask for.
      if isDirectory { refreshIfExpired(node) }
      let inode = currentInode(of: node, isDirectory: isDirectory)
      guard let attributes = attributes(of: node, inode: inode) else { return reply(.error(EIO)) }
      reply(.entry(attributes, timeout: timeout(of: node)))
    }
    if let file = download(of: node) {
      // A file whose remote version changed is reconnecting: the name resolves once the new
      // version is known (bounded by the retry period), or the kernel would keep an inode with
      // the old size and date for the entry timeout.
      guard file.version != nil else { return file.connect { _ in answer() } }
      return answer()
    }
    guard attributes(of: node, inode: 0) == nil else { return answer() }
    learnSize(of: node) { result in
      switch result {
      case .success: answer()
      case .failure(let error): reply(.error(Self.errorNumber(for: error)))
      }
    }
  }

  /// The errno a reader gets for a failure to reach a file: gone for a file the server does
  /// not have (any more), EIO otherwise.
  static func errorNumber(for error: BitsError) -> Int32 {
    switch error.code {
    case .httpStatus(404), .httpStatus(410): ENOENT
    default: EIO
    }
  }

  package func getattr(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let (node, _) = resolve(inode), let attributes = attributes(of: node, inode: inode) else {
      return reply(.error(ENOENT))
    }
    if attributes.mode & S_IFMT == S_IFDIR { refreshIfExpired(node) }
    reply(.attributes(attributes, timeout: timeout(of: node)))
  }

  // MARK: Files

  package func open(inode: UInt64, flags: Int32, reply: @escaping FileSystemReplyHandler) {
    guard let (node, inodeGeneration) = resolve(inode) else { return reply(.error(ENOENT)) }
    guard let url = tree.withLock({ $0.tree.url(of: node) }) else { return reply(.error(EISDIR)) }
    guard flags & O_ACCMODE == O_RDONLY else { return reply(.error(EROFS)) }
    let file: DownloadFile
    do throws(BitsError) {
      file = try use(node, url: url)
    } catch {
      return reply(.error(EIO))
    }
    let limits = ReadAheadPolicy.Limits(maximum: options.maximumReadAhead, block: options.blockSize)
    let finishOpen: @Sendable () -> Void = { [self] in
      let generation = file.generation
      // An open through the inode of an older version (a name the kernel looked up before the
      // change) is stale: the kernel then looks the name up again and opens the new version's
      // inode, so an inode never holds bytes of two versions and the open sees the new size.
      guard inodeGeneration >= generation else {
        stopUsing(file)
        return reply(.error(ESTALE))
      }
      let handle = handles.withLock { table in
        let handle = table.nextNumber()
        table.open[handle] = OpenFile(file: file, generation: generation, readAhead: ReadAheadPolicy(limits: limits))
        return handle
      }
      // The kernel may keep the pages of this version's inode across opens.
      reply(.opened(handle: handle, keepCache: true))
    }
    // A file never reached, or whose remote version changed and is reconnecting: the open
    // waits for the version (bounded by the retry period), so that it reads the new version
    // rather than failing. A file that was never reached fails to open.
    guard file.version != nil else {
      return file.connect { [self] result in
        if case .failure(let error) = result, file.lastKnownVersion == nil {
          stopUsing(file)
          return reply(.error(Self.errorNumber(for: error)))
        }
        finishOpen()
      }
    }
    // Close-to-open consistency: an open confirms the version if it was last confirmed more
    // than the revalidation interval ago. No thread waits for the server meanwhile; an open
    // within the interval is answered at once.
    file.revalidate(ifOlderThan: options.revalidationInterval, completion: finishOpen)
  }

  package func release(inode: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    let closed = handles.withLock { $0.open.removeValue(forKey: handle) }
    reply(.error(0))
    if let closed { stopUsing(closed.file) }
  }
}
