import BitsEngine
import FoundationEssentials
import Glibc

/// Directories: listings read when a directory is first looked at and again in the background
/// once their time to live has passed, sizes a listing does not give learned on first look,
/// and directory handles with the entries as they were when opened.
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
    let (waiters, gone) = tree.withLock { state -> ([@Sendable (Result<Void, BitsError>) -> Void], [String]) in
      let waiters = more ? (state.listing[directory] ?? []) : (state.listing.removeValue(forKey: directory) ?? [])
      if more { state.listing[directory] = [] }
      switch result {
      case .success(let (listing, location)):
        state.readAhead[directory] = nil  // positions of the old listing
        return (waiters, state.tree.apply(listing, from: location, to: directory, at: listedAt))
      case .failure:
        state.tree.listingFailed(directory, at: now)
        return (waiters, [])
      }
    }
    // Names gone from the listing are gone from the mount, also from the kernel's cache.
    if !gone.isEmpty, let kernel = kernelCache {
      let inode = currentInode(of: directory, isDirectory: true)
      forgetNames(gone.map { ($0, inode) }, in: kernel)
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

  // MARK: Directory handles

  package func opendir(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let (directory, _) = resolve(inode), tree.withLock({ $0.tree.directory(directory) }) != nil else {
      return reply(.error(ENOTDIR))
    }
    whenListed(directory) { [self] result in
      guard case .success = result else { return reply(.error(EIO)) }
      listSiblings(after: directory)
      let entries = directoryEntries(of: directory, inode: inode)
      let handle = handles.withLock { table in
        let handle = table.nextNumber()
        table.directories[handle] = entries
        return handle
      }
      reply(.opened(handle: handle, keepCache: false))
    }
  }

  /// The entries of `directory` with their attributes, taking each lock once for all of them.
  private func directoryEntries(of directory: Int, inode: UInt64) -> [DirectoryEntry] {
    let (parent, children) = tree.withLock { state in
      let children = state.tree.children(of: directory).map { node in
        (node: node, name: state.tree[node].name, shown: state.tree.shown(node))
      }
      return (state.tree[directory].parent, children)
    }
    let opened = downloads(of: children.map(\.node))
    let nodes = children.map { child -> (node: Int, isDirectory: Bool, download: DownloadFile?) in
      (child.node, child.shown.isDirectory, child.shown.isDirectory ? nil : opened[child.node])
    }
    let numbers = currentInodes(of: [(parent, true, nil)] + nodes)
    var entries = [
      DirectoryEntry(name: ".", inode: inode, mode: S_IFDIR),
      DirectoryEntry(name: "..", inode: numbers[0], mode: S_IFDIR),
    ]
    entries.reserveCapacity(children.count + 2)
    for (index, child) in children.enumerated() {
      let (childInode, download, isDirectory) = (numbers[index + 1], nodes[index].download, nodes[index].isDirectory)
      entries.append(
        DirectoryEntry(
          name: child.name, inode: childInode, mode: isDirectory ? S_IFDIR : S_IFREG,
          attributes: attributes(of: child.shown, download: download, inode: childInode),
          timeout: timeout(download: download)))
    }
    return entries
  }

  package func readdir(inode: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let entries = handles.withLock({ $0.directories[handle] }) else { return reply(.error(EBADF)) }
    reply(.directory(entries))
  }

  /// `readdir` from entry `offset` with the entries' attributes, which the kernel keeps as if
  /// looked up; files' only when wanted (`ListingAttributePolicy`).
  package func readdirplus(inode: UInt64, handle: UInt64, offset: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let entries = handles.withLock({ $0.directories[handle] }) else { return reply(.error(EBADF)) }
    let now = ContinuousClock.now
    let filesCarryAttributes = tree.withLock { state in
      state.attributePolicy.filesCarryAttributes(offset: offset, entryCount: entries.count, at: now)
    }
    guard !filesCarryAttributes else { return reply(.directoryPlus(entries)) }
    reply(.directoryPlus(entries.map { entry in entry.mode == S_IFREG ? entry.withoutAttributes : entry }))
  }

  package func releasedir(inode: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    handles.withLock { _ = $0.directories.removeValue(forKey: handle) }
    reply(.error(0))
  }
}
