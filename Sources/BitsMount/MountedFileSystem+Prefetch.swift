import BitsEngine
import Dispatch
import Glibc

/// Background fill of a mount (`--prefetch`, `bitsfs prefetch`): files are filled whole at the
/// priority asked, below every reader, found by walking the tree (listing its directories).
/// What a file has cached already is not fetched again. Requests of `bitsfs prefetch` are kept
/// in the cache (`FillRequestStore`) and resumed by the next mount that shows the same URLs at
/// the same paths; `--prefetch` is the mount's own and is not kept.
extension MountedFileSystem {
  /// Starts filling the files that match `options.prefetch`, and resumes the requests kept in
  /// the cache; returns at once.
  package func startPrefetch() {
    let patterns = options.prefetch
    if !patterns.isEmpty {
      walk(MountTree.root, priority: options.prefetchPriority) { path in
        patterns.contains { fnmatch($0, path, 0) == 0 }
      }
    }
    resumeFillRequests()
  }

  /// Resumes each kept request whose path names, in this mount, the URL it was made for.
  private func resumeFillRequests() {
    guard let fillStore else { return }
    let requests = fillStore.all()
    guard !requests.isEmpty else { return }
    // Finding a path may list directories: not on the mount's own thread.
    DispatchQueue.global().async { [self] in
      for request in requests {
        guard let node = try? node(at: request.path), let url = requestURL(of: node),
          fillStore.request(for: url) == request,
          let priority = ControlRequest.Priority(rawValue: request.priority)?.transferPriority
        else { continue }
        start(node, priority: priority)
      }
    }
  }

  /// Fills the file `node`, or every file below the directory `node`.
  private func start(_ node: Int, priority: TransferPriority) {
    if let url = tree.withLock({ $0.tree.url(of: node) }) {
      fill(node, url: url, priority: priority)
    } else {
      walk(node, priority: priority) { _ in true }
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

  /// Queues the fill of the file `node` of `url`; it starts once fewer than the most files fill
  /// works on at once are started (`FillTable`).
  func fill(_ node: Int, url: String, priority: TransferPriority) {
    let path = tree.withLock { $0.tree.path(of: node) }
    begin(fills.withLock { $0.ask(url, node: node, path: path, priority: priority) })
  }

  /// Opens the files of `urls` for their fill, and asks for what they do not hold.
  private func begin(_ urls: [String]) {
    for url in urls {
      guard let (node, priority) = fills.withLock({ $0[url].map { ($0.node, $0.priority) } }) else { continue }
      let file: DownloadFile
      do throws(BitsError) {
        file = try use(node, url: url)
      } catch {
        if let path = fills.withLock({ $0.failed(url, error: error) }) { tellFailure(path: path, url: url, error) }
        begin(fills.withLock { $0.end(url) } ?? [])
        continue
      }
      connectAndRequest(file, priority: priority)
    }
  }

  /// Connects `file`, whose fill started, and asks for what it does not hold, if the cache can
  /// hold it beside the other fills.
  private func connectAndRequest(_ file: DownloadFile, priority: TransferPriority) {
    let url = file.remoteURL
    file.connect { [self] result in
      switch result {
      case .failure(let error): fillFailed(file, error: error)
      case .success(let version):
        guard fills.withLock({ $0.admit(url, size: version.size) }) else {
          if let failure = fills.withLock({ $0[url]?.failure }) { tellFailure(file, failure) }
          return end(file)
        }
        job.setHeldByFill(url, true)
        try? file.requestFileRanges([FileRange(offset: 0, length: version.size)], priority: priority)
        // Filled already (or empty): nothing will arrive to say so.
        checkFillComplete(file)
      }
    }
  }

  /// The remote version of `file` changed, which drops what it held and asked for: a fill under
  /// way asks again for the new version.
  func refill(_ file: DownloadFile) {
    guard let fill = fills.withLock({ $0[file.remoteURL] }), fill.stage == .started else { return }
    connectAndRequest(file, priority: fill.priority)
  }

  /// The fill of `file` ended (whole, or stopped): the next ones start, and the file closes
  /// unless a reader uses it.
  private func end(_ file: DownloadFile) {
    guard let starting = fills.withLock({ $0.end(file.remoteURL) }) else { return }
    // Not on the engine's thread that told of the end: closing waits for it.
    DispatchQueue.global().async { [self] in
      stopUsing(file)
      begin(starting)
    }
  }

  /// The URL a request for `node` is kept under: a file's, or a listed directory's.
  private func requestURL(of node: Int) -> String? {
    tree.withLock { state in
      state.tree.url(of: node) ?? state.tree.directory(node)?.location?.listingURL()
    }
  }

  /// The nodes a request for `node` is kept as: a file or a listed directory itself; for a
  /// directory made by the mount's placement (no URL of its own), what it holds.
  private func keptTargets(of node: Int) -> [(node: Int, url: String)] {
    if let url = requestURL(of: node) { return [(node, url)] }
    return tree.withLock { $0.tree.children(of: node) }.flatMap(keptTargets)
  }
}

extension MountedFileSystem {
  /// Bytes of `file` arrived (`FileRangesTransferred`): `bitsfs events` hears of them under each
  /// path the file has in the mount, and a fill that is now whole is told of.
  package func rangesTransferred(_ file: DownloadFile, ranges: [FileRange]) {
    checkFillComplete(file)
    guard !events.isEmpty else { return }
    let url = shownURL(file.remoteURL)
    for path in paths(of: file) {
      events.send(ControlServer.encoded(RangesEvent(file: path, url: url, ranges: ranges)))
    }
  }

  /// A background fill of `file` that is wholly filled is done: its kept request goes, and
  /// `--on-complete` runs, once.
  private func checkFillComplete(_ file: DownloadFile) {
    let statistics = file.statistics
    guard let size = statistics.size, statistics.filledBytes == size,
      let fill = fills.withLock({ $0[file.remoteURL] })
    else { return }
    if let path = fills.withLock({ $0.completed(file.remoteURL) }) { hooks?.completed(url: file.remoteURL, path: path) }
    guard fill.stage == .started else { return }
    // Its kept request is done, also when it was asked for again once whole.
    fillStore?.remove(for: file.remoteURL)
    end(file)
  }

  /// `file` has nothing in flight or queued. A fill under way whose file is not whole lost bytes
  /// to eviction (the cache had nothing else to give): it asks again for what is missing, a
  /// few times at most (`FillTable.askAgain`), then stops.
  package func fileIdle(_ file: DownloadFile) {
    let statistics = file.statistics
    guard let size = statistics.size, statistics.filledBytes < size,
      let fill = fills.withLock({ $0[file.remoteURL] }), fill.stage == .started, fill.failure == nil
    else { return }
    guard fills.withLock({ $0.askAgain(file.remoteURL) }) else {
      if let failure = fills.withLock({ $0[file.remoteURL]?.failure }) { tellFailure(file, failure) }
      return end(file)
    }
    try? file.requestFileRanges([FileRange(offset: 0, length: size)], priority: fill.priority)
  }

  /// A request of `file` failed for good: if it is filled in the background, its fill says so.
  package func fillFailed(_ file: DownloadFile, error: BitsError) {
    guard fills.withLock({ $0.failed(file.remoteURL, error: error) }) != nil else { return }
    tellFailure(file, error)
    end(file)
  }

  /// `--on-error` and `bitsfs events` hear that the fill of `file` stopped for `error`.
  private func tellFailure(_ file: DownloadFile, _ error: BitsError) {
    guard let path = fills.withLock({ $0[file.remoteURL]?.path }) else { return }
    tellFailure(path: path, url: file.remoteURL, error)
  }

  private func tellFailure(path: String, url: String, _ error: BitsError) {
    hooks?.failed(url: url, path: path, error: error)
    readFailures.logger.warning(
      "background fill of a file stopped", metadata: logMetadata(error.logFields.merging(["file": path]) { $1 }))
    guard !events.isEmpty else { return }
    events.send(ControlServer.encoded(FillErrorEvent(file: path, url: shownURL(url), error: error)))
  }

  /// The background fill of `file` as `bitsfs status` shows it, if it was asked for.
  func fillStatus(of file: DownloadFile) -> FillStatus? {
    guard let fill = fills.withLock({ $0[file.remoteURL] }) else { return nil }
    return FillStatus(priority: fill.priority, failure: fill.failure, statistics: file.statistics)
  }
}

/// `bitsfs prefetch` on a running mount.
extension MountedFileSystem {
  /// Fills the files at `paths` (below the mount point; a directory: every file below it) in the
  /// background at `priority`, keeping the request in the cache until done or cancelled; returns
  /// how many files were named directly, or fails naming the first path that is not in the mount.
  package func prefetch(_ paths: [String], priority: TransferPriority) throws(BitsError) -> Int {
    let nodes = try paths.map { path throws(BitsError) in try node(at: path) }
    if let fillStore, let name = ControlRequest.Priority(priority)?.rawValue {
      for (node, url) in nodes.flatMap(keptTargets) {
        let path = tree.withLock { $0.tree.path(of: node) }
        try fillStore.save(FillRequestStore.Request(path: path, priority: name), for: url)
      }
    }
    for node in nodes { start(node, priority: priority) }
    return nodes.count { node in tree.withLock { $0.tree.url(of: node) } != nil }
  }

  /// Stops filling the files at `paths` (a directory: every file below it) and forgets their
  /// kept requests; requests in flight finish. Returns how many fills were cancelled.
  package func cancelPrefetch(_ paths: [String]) throws(BitsError) -> Int {
    let nodes = try paths.map { path throws(BitsError) in try node(at: path) }
    let below = tree.withLock { state in
      var found: [Int] = []
      var pending = nodes
      while let node = pending.popLast() {
        found.append(node)
        pending += state.tree.children(of: node)
      }
      return found
    }
    for node in below {
      if let url = requestURL(of: node) { fillStore?.remove(for: url) }
    }
    let urls = Set(tree.withLock { state in below.compactMap { state.tree.url(of: $0) } })
    var cancelled = 0
    for url in urls {
      let (stage, starting) = fills.withLock { $0.cancel(url) }
      guard let stage else { continue }
      cancelled += 1
      job.setHeldByFill(url, false)
      if let file = download(ofURL: url) {
        file.dropBackgroundFill()
        if stage == .started { stopUsing(file) }
      }
      begin(starting)
    }
    return cancelled
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
