import BitsEngine
import Glibc

/// The `user.bitsfs.*` attributes of the mount's files and root, and the file system's totals.
extension MountedFileSystem {
  package func getxattr(inode: UInt64, name: String, reply: @escaping FileSystemReplyHandler) {
    if inode == Self.rootInode, name == "user.bitsfs.pid" {
      // Which process serves the mount, for scripts and `bitsfs status`.
      return reply(.attributeValue(Array(String(getpid()).utf8)))
    }
    if inode == Self.rootInode, name == "user.bitsfs.job" {
      return reply(.attributeValue(Array(JobStatus(job).json().utf8)))
    }
    if inode == Self.rootInode, name == "user.bitsfs.control", let controlSocketPath {
      return reply(.attributeValue(Array(controlSocketPath.utf8)))
    }
    // Only the `user` namespace exists here. Other names (`ls -l` asks every file for its
    // SELinux label and ACL) get what the kernel answers for a namespace a file system has no
    // handler for: EOPNOTSUPP, after which GNU ls stops asking for the rest of the mount.
    guard name.utf8.starts(with: "user.".utf8) else { return reply(.error(EOPNOTSUPP)) }
    guard let (node, _) = resolve(inode) else { return reply(.error(ENOENT)) }
    guard
      let (listed, url) = tree.withLock({ state in state.tree.file(node).map { ($0, state.tree.url(of: node) ?? "") } })
    else { return reply(.error(ENODATA)) }
    let value: String?
    if let file = download(of: node) {
      value = FileExtendedAttributes.value(name, of: file, fill: fillStatus(of: file))
    } else {
      let size: UInt64? = if case .exact(let size) = listed.size { size } else { nil }
      let fill = fills.withLock { $0[url] }
      value = FileExtendedAttributes.value(
        name, ofClosed: closedStatus(url: url, size: size, fill: fill), filled: fill?.figures?.filledRanges ?? [],
        fill: fill.map(fillStatus))
    }
    guard let value else { return reply(.error(ENODATA)) }
    reply(.attributeValue(Array(value.utf8)))
  }

  package func listxattr(inode: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let (node, _) = resolve(inode) else { return reply(.error(ENOENT)) }
    let names: [String]
    if node == MountTree.root {
      names = ["user.bitsfs.pid"]
    } else if tree.withLock({ $0.tree.file(node) }) == nil {
      names = []
    } else {
      names = download(of: node).map(FileExtendedAttributes.names) ?? ["user.bitsfs.url"]
    }
    reply(.attributeValue(names.flatMap { Array($0.utf8) + [0] }))
  }

  package func statfs(reply: @escaping FileSystemReplyHandler) {
    let (sizes, count) = tree.withLock { state in
      var sizes: [Int: UInt64] = [:]
      for (node, entry) in state.tree.nodes.enumerated() {
        if case .file(let file) = entry.content, case .exact(let size) = file.size { sizes[node] = size }
      }
      return (sizes, state.tree.nodes.count)
    }
    let opened = openedFiles.compactMapValues { $0.version?.size }
    let total = sizes.merging(opened) { $1 }.values.reduce(UInt64(0)) { $0 &+ $1 }
    reply(
      .fileSystemStatistics(blockSize: 4096, blocks: total / 4096 + (total % 4096 == 0 ? 0 : 1), files: UInt64(count)))
  }
}

extension MountedFileSystem {
  /// Files of background fill that the status of the mount lists at most (besides the other
  /// files open): `status --watch` asks for it each second, and a file takes half a KiB of it
  /// at the watch's width, 4 KiB with full pictures. A user watches the first few; the rest are
  /// counted (`FillCounts`).
  static let listedFills = 1000

  /// The status of the job, of every file open (each under each of its paths) and of the files
  /// of background fill (at most `listedFills` of those not open), for `bitsfs status --watch`,
  /// each file's picture in `mapSlots` slots; the mount point is the caller's to fill in.
  package func status(mapSlots: Int = FilledMap.slotCount) -> MountStatus {
    let opened = openedFiles
    let paths = tree.withLock { state in opened.keys.map { ($0, state.tree.path(of: $0)) } }
    var files = paths.compactMap { node, path -> FileStatus? in
      guard let file = opened[node] else { return nil }
      var status = FileStatus(file, mapSlots: mapSlots)
      status.name = path
      status.fill = fillStatus(of: file)
      return status
    }
    let openURLs = Set(opened.values.map(\.remoteURL))
    let (listed, counts, total) = fills.withLock { ($0.listed(limit: Self.listedFills), $0.counts, $0.fills.count) }
    var unlisted = total - listed.count
    for (url, fill) in listed where !openURLs.contains(url) {
      let size = tree.withLock { state -> UInt64? in
        guard case .exact(let size) = state.tree.file(fill.node)?.size else { return nil }
        return size
      }
      var status = closedStatus(url: url, size: size, fill: fill, mapSlots: mapSlots)
      status.name = fill.path
      status.fill = fillStatus(of: fill)
      files.append(status)
    }
    // A fill whose file is open is listed with it, wherever the bound fell.
    unlisted -= openURLs.count { url in fills.withLock { $0[url] } != nil && !listed.contains { $0.file == url } }
    return MountStatus(
      mountPoint: "", pid: getpid(), job: JobStatus(job), files: files.sorted { ($0.name ?? "") < ($1.name ?? "") },
      fill: total == 0
        ? nil
        : FillCounts(
          queued: counts.queued, transferring: counts.started, transferred: counts.transferred, error: counts.stopped,
          unlisted: max(0, unlisted)))
  }

  /// A file that is not open: what it held when its fill closed it, or nothing.
  func closedStatus(
    url: String, size: UInt64?, fill: FillTable.Fill?, mapSlots: Int = FilledMap.slotCount
  ) -> FileStatus {
    let figures = fill?.figures
    return FileStatus(
      closed: url, size: figures?.size ?? size, filled: figures?.filledRanges ?? [],
      fetchedBytes: figures?.fetchedBytes ?? 0, requests: figures?.requests ?? 0, lastModified: figures?.lastModified,
      etag: figures?.etag, mapSlots: mapSlots)
  }

  /// The fill of a file that is not open: queued, or ended (transferred, or stopped).
  func fillStatus(of fill: FillTable.Fill) -> FillStatus {
    let state =
      fill.stage == .queued ? "queued" : fill.isComplete ? "transferred" : fill.failure != nil ? "error" : "queued"
    return FillStatus(
      priority: "\(fill.priority)", state: state, error: state == "error" ? fill.failure.map(ErrorStatus.init) : nil)
  }
}
