import BitsEngine
import Glibc

/// Background fill of a mount (`--prefetch`): the files whose path in the mount matches a
/// pattern are filled whole at the prefetch priority, below every reader, found by walking
/// the tree (listing its directories). What a file has cached already is not fetched again.
extension MountedFileSystem {
  /// Starts filling the files that match `options.prefetch`; returns at once.
  package func startPrefetch() {
    let patterns = options.prefetch
    guard !patterns.isEmpty else { return }
    walk(MountTree.root, priority: options.prefetchPriority) { path in
      patterns.contains { fnmatch($0, path, 0) == 0 }
    }
  }

  /// Fills the files below `directory` whose path in the mount `matches`, listing what the
  /// walk reaches.
  func walk(_ directory: Int, priority: TransferPriority, matching matches: @escaping @Sendable (String) -> Bool) {
    whenListed(directory) { [self] result in
      guard case .success = result else { return }
      let children = tree.withLock { state in
        state.tree.children(of: directory).map { node in
          (node: node, path: state.tree.path(of: node), url: state.tree.url(of: node))
        }
      }
      for child in children {
        guard let url = child.url else {
          walk(child.node, priority: priority, matching: matches)
          continue
        }
        if matches(child.path) { fill(child.node, url: url, priority: priority) }
      }
    }
  }

  func fill(_ node: Int, url: String, priority: TransferPriority) {
    guard let file = try? openDownload(of: node, url: url) else { return }
    let path = tree.withLock { $0.tree.path(of: node) }
    prefetched.withLock { $0[ObjectIdentifier(file)] = path }
    file.connect { [self] result in
      switch result {
      case .failure(let error): hooks?.failed(file, error: error, fileSystem: self)
      case .success(let version) where version.size == 0: hooks?.rangesTransferred(file, fileSystem: self)
      case .success(let version):
        try? file.requestFileRanges([FileRange(offset: 0, length: version.size)], priority: priority)
      }
    }
  }
}

extension MountedFileSystem {
  /// Bytes of `file` arrived (`FileRangesTransferred`): `bitsfs events` hears of them under each
  /// path the file has in the mount.
  package func rangesTransferred(_ file: DownloadFile, ranges: [FileRange]) {
    hooks?.rangesTransferred(file, fileSystem: self)
    guard !events.isEmpty else { return }
    let url = shownURL(file.remoteURL)
    for path in paths(of: file) {
      events.send(ControlServer.encoded(RangesEvent(file: path, url: url, ranges: ranges)))
    }
  }

  /// The path in the mount of `file`, if background fill was asked for it.
  package func prefetchedPath(of file: DownloadFile) -> String? {
    prefetched.withLock { $0[ObjectIdentifier(file)] }
  }
}

/// `bitsfs prefetch` on a running mount.
extension MountedFileSystem {
  /// Fills the files at `paths` (below the mount point; a directory: every file below it) in the
  /// background at `priority`; returns how many files were named directly, or fails naming the
  /// first path that is not in the mount.
  package func prefetch(_ paths: [String], priority: TransferPriority) throws(BitsError) -> Int {
    let nodes = try paths.map { path throws(BitsError) in try node(at: path) }
    var files = 0
    for node in nodes {
      if let url = tree.withLock({ $0.tree.url(of: node) }) {
        fill(node, url: url, priority: priority)
        files += 1
      } else {
        walk(node, priority: priority) { _ in true }
      }
    }
    return files
  }

  /// Stops filling the files at `paths` (a directory: every file below it that was opened);
  /// requests in flight finish.
  package func cancelPrefetch(_ paths: [String]) throws(BitsError) -> Int {
    let nodes = try paths.map { path throws(BitsError) in try node(at: path) }
    let below = tree.withLock { state in
      var found: [Int] = []
      var pending = nodes
      while let node = pending.popLast() {
        if state.tree.file(node) != nil { found.append(node) } else { pending += state.tree.children(of: node) }
      }
      return found
    }
    let files = below.compactMap(download(of:))
    for file in files { file.dropBackgroundFill() }
    return files.count
  }

  /// The node at `path`, listing the directories on the way (each within the listing's time).
  private func node(at path: String) throws(BitsError) -> Int {
    var node = MountTree.root
    for name in path.split(separator: "/").map(String.init) where name != "." {
      let listed = waitForResult { whenListed(node, completion: $0) }
      guard case .success = listed, let child = tree.withLock({ $0.tree.child(named: name, in: node) }) else {
        throw BitsError(.invalidArgument, "\(path) is not in the mount")
      }
      node = child
    }
    return node
  }
}
