import BitsEngine
import Dispatch

/// The files of the mount's nodes: one `DownloadFile` per URL, made when first used (by an open
/// handle or a fill) and, for a file of background fill, closed again once no one uses it.
extension MountedFileSystem {
  func download(of node: Int) -> DownloadFile? {
    downloads.withLock { $0.byNode[node] }
  }

  func download(ofURL url: String) -> DownloadFile? {
    downloads.withLock { $0.byURL[url] }
  }

  /// The file of each node opened so far.
  var openedFiles: [Int: DownloadFile] { downloads.withLock { $0.byNode } }

  /// The opened files among `nodes`, with one lock for all.
  func downloads(of nodes: some Sequence<Int>) -> [Int: DownloadFile] {
    downloads.withLock { files in
      guard !files.byNode.isEmpty else { return [:] }
      var found: [Int: DownloadFile] = [:]
      for node in nodes { found[node] = files.byNode[node] }
      return found
    }
  }

  /// The file of `node`, added to the job when first asked for, used (by an open handle or a
  /// fill) until `stopUsing` says so.
  func use(_ node: Int, url: String) throws(BitsError) -> DownloadFile {
    while true {
      let (file, closing) = try downloads.withLock { files throws(BitsError) -> (DownloadFile?, DispatchGroup?) in
        if let closing = files.closing[url] { return (nil, closing) }
        let file: DownloadFile
        if let known = files.byNode[node] ?? files.byURL[url] {
          file = known
        } else {
          file = try job.addFile(remoteURL: url, localName: nil)
        }
        files.byNode[node] = file
        files.byURL[url] = file
        files.users[url, default: 0] += 1
        return (file, nil)
      }
      if let file { return file }
      closing?.wait()
    }
  }

  /// An open handle or a fill no longer uses `file`. A file no one uses whose fill ended (it
  /// has a record in `fills` and is not placed by name) is taken out of the job and closed, so
  /// that a tree of any size does not keep two descriptors a file: status shows it from its
  /// record, and the next open adds it again from its cache entry.
  func stopUsing(_ file: DownloadFile) {
    let url = file.remoteURL
    let unused = downloads.withLock { files in
      files.users[url, default: 1] -= 1
      return files.users[url] == 0 && !files.placed.contains(url)
    }
    guard unused, fills.withLock({ $0[url].map { $0.stage != .started } ?? false }) else { return }
    let closing = DispatchGroup()
    closing.enter()
    let nodes = downloads.withLock { files -> [Int]? in
      guard files.users[url] == 0, files.byURL[url] === file else { return nil }
      files.users[url] = nil
      files.byURL[url] = nil
      files.closing[url] = closing
      let nodes = files.byNode.filter { $0.value === file }.map(\.key)
      for node in nodes { files.byNode[node] = nil }
      return nodes
    }
    guard let nodes else {
      closing.leave()
      return
    }
    let statistics = file.statistics
    let version = file.lastKnownVersion
    let figures = FillTable.Figures(
      size: statistics.size ?? version?.size, filledRanges: file.filledRanges, fetchedBytes: statistics.fetchedBytes,
      requests: statistics.requestCount, lastModified: version?.lastModified, etag: version?.etag)
    fills.withLock { $0.closed(url, figures: figures) }
    // Closing waits for the file's queue, which may be the caller's.
    DispatchQueue.global().async { [self] in
      job.remove(file)
      downloads.withLock { _ = $0.closing.removeValue(forKey: url) }
      closing.leave()
      // The next file of this URL may find another version: the kernel's pages of this one go.
      guard let kernel = kernelCache else { return }
      for inode in inodes.withLock({ table in nodes.flatMap { table.numbers(ofEntry: $0) } }) {
        kernel.invalidate(inode: inode)
      }
    }
  }
}
