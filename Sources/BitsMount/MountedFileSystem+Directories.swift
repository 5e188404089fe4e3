import BitsEngine
import FoundationEssentials
import Glibc

/// Directories: listings read when a directory is first looked at and again in the background
/// once their time to live has passed, sizes a listing does not give learned on first look,
/// and readings of directories in parts, each part found by the offset the kernel hands back.
extension MountedFileSystem {
  /// How many directories a walk of the tree has listed ahead of it, and how many sizes a sweep
  /// of `stat`s over a listing without sizes has learned ahead of it.
  static let lookAhead = 8

  /// How long a directory whose listing failed to refresh answers from the old one before it is
  /// read again.
  var listingFailureHold: Duration { min(options.directoryTimeToLive, .seconds(30)) }

  /// Calls `completion` once `directory` can answer: at once if it was listed (reading it again
  /// in the background if that was longer ago than the time to live), after reading its
  /// listing if it never was. Concurrent callers share one reading.
  func whenListed(_ directory: Int, completion: @escaping @Sendable (Result<Void, BitsError>) -> Void) {
    let now = ContinuousClock.now
    let (freshness, start) = tree.withLock { state -> (MountTree.Freshness, Bool) in
      let freshness = state.tree.freshness(
        of: directory, at: now, timeToLive: options.directoryTimeToLive, failureHold: listingFailureHold)
      guard freshness != .fresh else { return (freshness, false) }
      let start = state.listing[directory] == nil
      if freshness == .unlisted {
        state.listing[directory, default: []].append(completion)
      } else if start {
        state.listing[directory] = []
      }
      return (freshness, start)
    }
    // An expired listing answers before its refresh starts, so the answer is the old listing's.
    if freshness != .unlisted { completion(.success(())) }
    if start { readListing(of: directory) }
  }

  /// The kernel asked for the attributes of `directory` (which last what is left of its
  /// listing's time, `timeout(of:)`), as it does before it answers a reading from the entries
  /// it keeps, or looked the directory up: a listing that expired is read again in the
  /// background, so a change reaches the kernel (`finishListing`).
  func refreshIfExpired(_ directory: Int) {
    let now = ContinuousClock.now
    let isStale = tree.withLock { state in
      state.tree.freshness(
        of: directory, at: now, timeToLive: options.directoryTimeToLive, failureHold: listingFailureHold) == .stale
    }
    if isStale { whenListed(directory) { _ in } }
  }

  /// Reads the listing of `directory`: from the listing store when it holds one and the
  /// directory was never listed in this mount (from the server too when that one has expired),
  /// else from the server.
  private func readListing(of directory: Int) {
    guard
      let (location, neverListed) = tree.withLock({ state in
        state.tree.directory(directory).flatMap { entries in entries.location.map { ($0, entries.listedAt == nil) } }
      })
    else { return }
    if neverListed, let (listing, resolved, age) = listingStore?.load(location) {
      let isFresh = age < options.directoryTimeToLive
      finishListing(directory, .success((listing, resolved)), at: .now - age, more: !isFresh)
      if isFresh { return }
    }
    reader.read(location) { [self] result in
      finishListing(directory, result, at: .now, more: false)
      // Kept after the waiters are answered: the copy on disk is for the next mount.
      if case .success(let (listing, resolved)) = result {
        listingSaver?.save(listing, of: location, readFrom: resolved)
      }
    }
  }

  /// Applies what reading the listing of `directory` gave, and answers who waited for it.
  /// `more`: a reading from the server follows (the waiters are answered now, the directory
  /// stays being read).
  private func finishListing(
    _ directory: Int, _ result: Result<(DirectoryListing, DirectoryLocation), BitsError>,
    at listedAt: ContinuousClock.Instant, more: Bool
  ) {
    let now = ContinuousClock.now
    typealias Applied = (waiters: [@Sendable (Result<Void, BitsError>) -> Void], gone: [String], changed: Bool)
    let (waiters, gone, changed) = tree.withLock { state -> Applied in
      let waiters = more ? (state.listing[directory] ?? []) : (state.listing.removeValue(forKey: directory) ?? [])
      if more { state.listing[directory] = [] }
      switch result {
      case .success(let (listing, location)):
        state.readAhead[directory] = nil  // positions of the old listing
        let wasListed = state.tree.directory(directory)?.listedAt != nil
        let before = state.tree.children(of: directory)
        let gone = state.tree.apply(listing, from: location, to: directory, at: listedAt)
        return (waiters, gone, wasListed && state.tree.children(of: directory) != before)
      case .failure:
        state.tree.listingFailed(directory, at: now)
        return (waiters, [], false)
      }
    }
    // Names gone from the listing are gone from the mount, also from the kernel's caches: its
    // names, and the entries it keeps of the directory (directories are not opened, so it
    // keeps what it read of one until told).
    if changed, let kernel = kernelCache {
      let inode = currentInode(of: directory, isDirectory: true)
      forgetNames(gone.map { ($0, inode) }, in: kernel, thenEntriesOf: [inode])
    }
    let outcome = result.map { _ in () }
    for waiter in waiters { waiter(outcome) }
  }

  /// A walk of the tree opened `directory`: the directories listed after it are read ahead
  /// (at most ``lookAhead`` more each time), so that the walk does not wait for each in turn.
  /// Each sibling is looked at once: a walk of a directory of thousands costs no rescans.
  private func listSiblings(after directory: Int) {
    let starting = tree.withLock { state -> [Int] in
      let parent = state.tree[directory].parent
      let (siblings, next) = state.tree.siblings(
        after: directory, from: state.readAhead[parent] ?? 0, count: Self.lookAhead
      ) { node, _ in state.tree.isUnlisted(node) && state.listing[node] == nil }
      state.readAhead[parent] = next
      for sibling in siblings { state.listing[sibling] = [] }
      return siblings
    }
    for sibling in starting { readListing(of: sibling) }
  }

  /// Learns the exact size of a listed file whose listing gave none (or a rounded one), with
  /// one request; concurrent callers share it. The version it sees is not trusted for bytes:
  /// the file's first range request confirms its own.
  /// A sweep of `stat`s (`ls -l`) learns the sizes of the next files ahead of it, at most
  /// ``lookAhead`` at a time.
  func learnSize(of node: Int, completion: @escaping @Sendable (Result<Void, BitsError>) -> Void) {
    enum Plan {
      case notAFile
      /// Learned meanwhile, by a probe that ran ahead.
      case known
      /// `completion` waits for a probe; these start now.
      case wait(starting: [(node: Int, url: String)])
    }
    let plan = tree.withLock { state -> Plan in
      guard let file = state.tree.file(node) else { return .notAFile }
      if case .exact = file.size { return .known }
      var starting: [Int] = state.probing[node] == nil ? [node] : []
      state.probing[node, default: []].append(completion)
      starting +=
        state.tree.siblings(after: node, count: Self.lookAhead) { sibling, content in
          guard case .file(let file) = content, state.probing[sibling] == nil else { return false }
          if case .exact = file.size { return false }
          return true
        }.found
      for sibling in starting where state.probing[sibling] == nil { state.probing[sibling] = [] }
      return .wait(starting: starting.compactMap { node in state.tree.url(of: node).map { (node, $0) } })
    }
    switch plan {
    case .notAFile: completion(.failure(BitsError(.invalidArgument, "not a file")))
    case .known: completion(.success(()))
    case .wait(let starting): for (node, url) in starting { probeSize(of: node, url: url) }
    }
  }

  private func probeSize(of node: Int, url: String) {
    job.probeVersion(remoteURL: url) { [self] result in
      let waiters = tree.withLock { state in
        if case .success(let version) = result {
          state.tree.learn(size: version.size, modified: version.lastModified.flatMap(HTTPDate.parse), of: node)
        }
        return state.probing.removeValue(forKey: node) ?? []
      }
      let outcome = result.map { _ in () }
      for waiter in waiters { waiter(outcome) }
    }
  }

  // MARK: Reading directories

  /// The entries of directory `inode` after `offset` (0, or the offset of an entry given
  /// before), at most `count`; with `plus`, each with its attributes where known (files' only
  /// when wanted, `ListingAttributePolicy`), which the kernel keeps as if looked up. No state is
  /// kept between the parts of a reading (there is no opendir): an offset says where it goes on.
  package func readdir(
    inode: UInt64, offset: UInt64, count: Int, plus: Bool, reply: @escaping FileSystemReplyHandler
  ) {
    guard let (directory, _) = resolve(inode), tree.withLock({ $0.tree.isDirectory(directory) }) else {
      return reply(.error(ENOTDIR))
    }
    whenListed(directory) { [self] result in
      guard case .success = result else { return reply(.error(EIO)) }
      if offset == 0 { listSiblings(after: directory) }
      let entries = directoryEntries(of: directory, inode: inode, after: offset, count: count, plus: plus)
      reply(plus ? .directoryPlus(entries) : .directory(entries))
    }
  }

  /// At most `count` entries of `directory` (`.` and `..`, then its children) after `offset`,
  /// taking each lock once for all of them; with `plus`, with the attributes the policy gives.
  private func directoryEntries(
    of directory: Int, inode: UInt64, after offset: UInt64, count: Int, plus: Bool
  ) -> [DirectoryEntry] {
    let now = ContinuousClock.now
    let (parent, children, start, generation, filesCarryAttributes) = tree.withLock { state in
      let all = state.tree.children(of: directory)
      let generation = state.tree.directory(directory)?.generation ?? 0
      let start =
        DirectoryOffset(offset)?.next(
          generation: generation, children: all, previousChildren: state.tree.previousChildren(of: directory)) ?? 0
      let first = min(max(start - 2, 0), all.count)
      let window = first..<min(max(start - 2 + count, first), all.count)
      let children = all[window].map { node in
        (node: node, name: state.tree[node].name, shown: state.tree.shown(node))
      }
      let filesCarryAttributes =
        plus && state.attributePolicy.filesCarryAttributes(offset: offset, entryCount: all.count + 2, at: now)
      return (state.tree[directory].parent, children, start, generation, filesCarryAttributes)
    }
    let opened = downloads(of: children.lazy.filter { !$0.shown.isDirectory }.map(\.node))
    var numbered = [(node: parent, isDirectory: true, download: DownloadFile?.none)]
    numbered.reserveCapacity(children.count + 1)
    for child in children {
      numbered.append((child.node, child.shown.isDirectory, child.shown.isDirectory ? nil : opened[child.node]))
    }
    let numbers = currentInodes(of: numbered)
    var entries: [DirectoryEntry] = []
    entries.reserveCapacity(children.count + 2)
    if start == 0, count > 0 {
      entries.append(
        DirectoryEntry(
          name: ".", inode: inode, mode: S_IFDIR, offset: DirectoryOffset(position: 0, generation: generation).raw))
    }
    if start <= 1, count > entries.count {
      entries.append(
        DirectoryEntry(
          name: "..", inode: numbers[0], mode: S_IFDIR, offset: DirectoryOffset(position: 1, generation: generation).raw
        ))
    }
    let firstPosition = max(start, 2)
    for (index, child) in children.prefix(max(0, count - entries.count)).enumerated() {
      let (childInode, download) = (numbers[index + 1], numbered[index + 1].download)
      // A walk opens directories: theirs always; files' as the policy says (`ListingAttributePolicy`).
      let carries = plus && (child.shown.isDirectory || filesCarryAttributes)
      entries.append(
        DirectoryEntry(
          name: child.name, inode: childInode, mode: child.shown.isDirectory ? S_IFDIR : S_IFREG,
          offset: DirectoryOffset(position: firstPosition + index, generation: generation).raw,
          attributes: carries ? attributes(of: child.shown, download: download, inode: childInode) : nil,
          timeout: carries ? timeout(of: child.shown, download: download) : 0))
    }
    return entries
  }
}
