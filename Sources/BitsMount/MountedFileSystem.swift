import BitsEngine
import FoundationEssentials
import Glibc
import Synchronization

/// How the mount serves reads.
public struct MountOptions: Sendable {
  /// Missing bytes are fetched in blocks of this size, aligned to it.
  public var blockSize: UInt64 = 64 << 10
  /// The largest read-ahead window a sequential reader earns; 0 turns read-ahead off.
  public var maximumReadAhead: UInt64 = 64 << 20
  /// A read whose bytes do not arrive in this time fails with EIO.
  public var readTimeout: Duration = .seconds(30)
  /// An open checks whether the remote file changed if that was last checked longer ago.
  public var revalidationInterval: Duration = .seconds(60)

  public init() {}
}

/// The read-only file system of a mount: one directory holding one file per URL, each backed by a
/// `DownloadFile` of an on-demand job. Reads are answered from the cache, fetching missing blocks
/// first; the reply leaves as soon as the bytes are on disk, from whichever thread delivered them.
/// Every operation answers through its `reply`; nothing here knows of FUSE.
///
/// Each version of a file has an inode of its own (`InodeTable`), so the kernel's pages of one
/// version never answer a reader of another. Locks: `inodes` and `handles` are leaves, never
/// held together and never while calling the engine or a reply.
public final class MountedFileSystem: FileSystemOperations {
  static let rootInode = InodeTable.root

  private let entries: [Entry]
  private let options: MountOptions
  private let inodes = Mutex(InodeTable())
  private let handles = Mutex(HandleTable())
  private let mountTime = Date()

  struct Entry: Sendable {
    let index: Int
    let name: String
    let file: DownloadFile
  }

  private struct HandleTable {
    var nextHandle: UInt64 = 1
    var open: [UInt64: OpenFile] = [:]
  }

  /// What a read of an open file does.
  private enum ReadPlan {
    case unknownHandle
    /// The kernel asks again for bytes whose read just failed.
    case failedJustNow
    /// Read the bytes of the version opened (`generation`), and act on the read-ahead decided.
    case read(generation: UInt64, readAhead: ReadAheadPolicy.Decision)
  }

  /// Per open file: the version it was opened at, its reader's read-ahead, its last failure.
  private struct OpenFile {
    let entry: Int
    let generation: UInt64
    var readAhead: ReadAheadPolicy
    /// A read of these bytes failed until this instant: the kernel asks again for a page that
    /// failed, and that second ask fails at once rather than waiting the read timeout again.
    var failure: (range: Range<UInt64>, until: ContinuousClock.Instant)?
  }

  /// `files` are named by the last path segment of their URL; names must be unique.
  public init(files: [(name: String, file: DownloadFile)], options: MountOptions) {
    entries = files.enumerated().map { Entry(index: $0, name: $1.name, file: $1.file) }
    self.options = options
  }

  /// The inode the file's current version has.
  private func currentInode(of entry: Entry) -> UInt64 {
    let generation = entry.file.generation
    return inodes.withLock { $0.number(for: InodeTable.Key(entry: entry.index, generation: generation)) }
  }

  /// The file of `inode` and the generation of the version it was numbered for.
  private func resolve(_ inode: UInt64) -> (entry: Entry, generation: UInt64)? {
    guard let key = inodes.withLock({ $0.key(of: inode) }) else { return nil }
    return (entries[key.entry], key.generation)
  }

  /// Every inode `file` has had, and its name: what to invalidate when its version changes.
  public func inodes(of file: DownloadFile) -> (name: String, inodes: [UInt64])? {
    guard let entry = entries.first(where: { $0.file === file }) else { return nil }
    return (entry.name, inodes.withLock { $0.numbers(ofEntry: entry.index) })
  }

  // MARK: Attributes

  private func attributes(of inode: UInt64) -> FileAttributes? {
    if inode == Self.rootInode {
      return FileAttributes(
        inode: inode, size: 0, mode: S_IFDIR | 0o555, linkCount: 2, modificationTime: mountTime)
    }
    guard let (entry, _) = resolve(inode), let version = entry.file.lastKnownVersion else { return nil }
    let modified = version.lastModified.flatMap(HTTPDate.parse) ?? mountTime
    return FileAttributes(
      inode: inode, size: version.size, mode: S_IFREG | 0o444, linkCount: 1, modificationTime: modified)
  }

  package func lookup(parent: UInt64, name: String, reply: @escaping FileSystemReplyHandler) {
    guard parent == Self.rootInode, let entry = entries.first(where: { $0.name == name }) else {
      return reply(.error(ENOENT))
    }
    let answer: @Sendable () -> Void = { [self] in
      guard let attributes = attributes(of: currentInode(of: entry)) else { return reply(.error(ENOENT)) }
      reply(.entry(attributes, timeout: 1))
    }
    // A file whose remote version changed is reconnecting: the name resolves once the new
    // version is known (bounded by the retry period), or the kernel would keep an inode with
    // the old size and date for the entry timeout.
    guard entry.file.version != nil else { return entry.file.connect { _ in answer() } }
    answer()
  }

  package func getattr(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let attributes = attributes(of: inode) else { return reply(.error(ENOENT)) }
    reply(.attributes(attributes, timeout: 1))
  }

  // MARK: Files

  package func open(inode: UInt64, flags: Int32, reply: @escaping FileSystemReplyHandler) {
    guard let (entry, inodeGeneration) = resolve(inode) else { return reply(.error(ENOENT)) }
    guard flags & O_ACCMODE == O_RDONLY else { return reply(.error(EROFS)) }
    let limits = ReadAheadPolicy.Limits(maximum: options.maximumReadAhead)
    let finishOpen: @Sendable () -> Void = { [self] in
      let generation = entry.file.generation
      let handle = handles.withLock { table in
        defer { table.nextHandle += 1 }
        table.open[table.nextHandle] = OpenFile(
          entry: entry.index, generation: generation, readAhead: ReadAheadPolicy(limits: limits))
        return table.nextHandle
      }
      // The kernel may keep the pages of this version's inode across opens. An open through
      // the inode of an older version (a name the kernel had looked up before the change)
      // bypasses the page cache, so that inode never holds bytes of two versions.
      let isCurrent = inodeGeneration == generation
      reply(.opened(handle: handle, keepCache: isCurrent, directIO: !isCurrent))
    }
    // A file whose remote version changed is reconnecting: the open waits for the new version
    // (bounded by the retry period), so that it reads the new version rather than failing.
    guard entry.file.version != nil else {
      return entry.file.connect { _ in finishOpen() }
    }
    // Close-to-open consistency: an open confirms the version if it was last confirmed more
    // than the revalidation interval ago. No thread waits for the server meanwhile; an open
    // within the interval is answered at once.
    entry.file.revalidate(ifOlderThan: options.revalidationInterval, completion: finishOpen)
  }

  package func read(inode: UInt64, size: Int, offset: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let (entry, _) = resolve(inode), let fileSize = entry.file.version?.size else { return reply(.error(EIO)) }
    // At or past the end (a reader of an older, longer version, say): nothing to read.
    guard offset < fileSize else { return reply(.bytes([])) }
    let (end, overflow) = offset.addingReportingOverflow(UInt64(size))
    let range = offset..<min(fileSize, overflow ? fileSize : end)
    let now = ContinuousClock.now
    let plan = handles.withLock { table -> ReadPlan in
      guard var open = table.open[handle] else { return .unknownHandle }
      defer { table.open[handle] = open }
      if let failure = open.failure, failure.until > now, failure.range.overlaps(range) { return .failedJustNow }
      return .read(generation: open.generation, readAhead: open.readAhead.read(range, fileSize: fileSize))
    }
    let (generation, decision): (UInt64, ReadAheadPolicy.Decision)
    switch plan {
    case .unknownHandle: return reply(.error(EBADF))
    case .failedJustNow: return reply(.error(EIO))
    case .read(let opened, let readAhead): (generation, decision) = (opened, readAhead)
    }
    let file = entry.file
    file.read(range, alignment: options.blockSize, timeout: options.readTimeout) { [self] result in
      switch result {
      case .success(let bytes) where bytes.generation == generation:
        // `bytes` keeps its part of the cache file from eviction until the reply is sent.
        withExtendedLifetime(bytes) {
          switch bytes.location {
          case .cache(let data): reply(.cached(data, offset: range.lowerBound, count: range.count))
          case .received(let received): reply(.bytes(received))
          }
        }
      case .success:
        // Another version than the one opened: never bytes of two versions in one open file.
        reply(.error(EIO))
      case .failure(let error):
        if error.code == .timedOut { remember(range, failedFor: handle) }
        reply(.error(EIO))
      }
    }
    if let drop = decision.drop { file.dropReadAhead(drop) }
    if let fetch = decision.fetch { file.prefetch(fetch) }
  }

  /// The kernel asks again for a page whose read failed; within the read timeout that ask
  /// fails at once, so a reader waits the timeout once.
  private func remember(_ range: Range<UInt64>, failedFor handle: UInt64) {
    let until = ContinuousClock.now + options.readTimeout
    handles.withLock { $0.open[handle]?.failure = (range, until) }
  }

  package func release(inode: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    handles.withLock { _ = $0.open.removeValue(forKey: handle) }
    reply(.error(0))
  }

  // MARK: Directory

  package func opendir(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard inode == Self.rootInode else { return reply(.error(ENOTDIR)) }
    reply(.opened(handle: 0, keepCache: false, directIO: false))
  }

  package func readdir(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard inode == Self.rootInode else { return reply(.error(ENOTDIR)) }
    let listing =
      [
        DirectoryEntry(name: ".", inode: Self.rootInode, mode: S_IFDIR),
        DirectoryEntry(name: "..", inode: Self.rootInode, mode: S_IFDIR),
      ] + entries.map { DirectoryEntry(name: $0.name, inode: currentInode(of: $0), mode: S_IFREG) }
    reply(.directory(listing))
  }

  package func releasedir(inode: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    reply(.error(0))
  }

  // MARK: Extended attributes

  package func getxattr(inode: UInt64, name: String, reply: @escaping FileSystemReplyHandler) {
    if inode == Self.rootInode, name == "user.bitsfs.pid" {
      // Which process serves the mount, for scripts and `bitsfs status`.
      return reply(.attributeValue(Array(String(getpid()).utf8)))
    }
    guard let (entry, _) = resolve(inode) else { return reply(.error(inode == Self.rootInode ? ENODATA : ENOENT)) }
    guard let value = FileExtendedAttributes.value(name, of: entry.file) else { return reply(.error(ENODATA)) }
    reply(.attributeValue(Array(value.utf8)))
  }

  package func listxattr(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let (entry, _) = resolve(inode) else {
      return reply(.attributeValue(inode == Self.rootInode ? Array("user.bitsfs.pid".utf8) + [0] : []))
    }
    reply(.attributeValue(FileExtendedAttributes.names(of: entry.file).flatMap { Array($0.utf8) + [0] }))
  }

  package func statfs(reply: @escaping FileSystemReplyHandler) {
    let total = entries.reduce(UInt64(0)) { $0 + ($1.file.version?.size ?? 0) }
    reply(.fileSystemStatistics(blockSize: 4096, blocks: (total + 4095) / 4096, files: UInt64(entries.count + 1)))
  }
}
