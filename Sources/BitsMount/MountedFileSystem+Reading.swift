import BitsEngine
import Glibc

/// Reads of open files: the bytes of the version opened, from the engine, with the read-ahead
/// the reader earned; a warning for every EIO; the time of each read and its errors for metrics.
extension MountedFileSystem {
  /// What a read of an open file does.
  fileprivate enum ReadPlan {
    case unknownHandle
    /// The kernel asks again for bytes whose read just failed.
    case failedJustNow
    /// Read the bytes of the version opened (`generation`), and act on the read-ahead decided.
    case read(generation: UInt64, readAhead: ReadAheadPolicy.Decision)
  }

  package func read(inode: UInt64, size: Int, offset: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler) {
    guard let file = handles.withLock({ $0.open[handle]?.file }) else { return reply(.error(EBADF)) }
    let started = ContinuousClock.now
    // Timed up to the answer, before it is sent: the reader sees its bytes after the count.
    let reply: FileSystemReplyHandler = { answer in
      EngineMetrics.readDuration.recordSeconds((ContinuousClock.now - started).seconds)
      reply(answer)
    }
    guard let fileSize = file.version?.size else {
      EngineMetrics.readFailed(.remoteFileChanged)
      return reply(.error(EIO))
    }
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
    case .failedJustNow:
      EngineMetrics.readFailed(.timedOut)
      return reply(.error(EIO))
    case .read(let opened, let readAhead): (generation, decision) = (opened, readAhead)
    }
    let pathForLogs: @Sendable () -> String = { [self] in
      resolve(inode).map { node, _ in tree.withLock { $0.tree.path(of: node) } } ?? ""
    }
    file.read(range, alignment: decision.alignment, timeout: options.readTimeout) { [self] result in
      readFailures.logger.trace(
        "read",
        metadata: [
          "file": "\(pathForLogs())", "range": "\(range.lowerBound)-\(range.upperBound - 1)",
          "outcome": "\((try? result.get()).map { _ in "ok" } ?? "failed")",
        ])
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
        warnOfEIO(pathForLogs(), range, BitsError(.remoteFileChanged, "the file changed since it was opened"))
        reply(.error(EIO))
      case .failure(let error):
        if error.code == .timedOut { remember(range, failedFor: handle) }
        warnOfEIO(pathForLogs(), range, error)
        reply(.error(EIO))
      }
    }
    if let drop = decision.drop { file.dropReadAhead(drop) }
    if let fetch = decision.fetch { file.prefetch(fetch) }
  }

  private func warnOfEIO(_ name: String, _ range: Range<UInt64>, _ error: BitsError) {
    EngineMetrics.readFailed(error.code)
    readFailures.warn(
      "a read failed with EIO", cause: error.logFields.merging(["file": name]) { $1 },
      details: ["range": "\(range.lowerBound)-\(range.upperBound - 1)"])
  }

  /// Writes the warnings of repeated read failures not yet written (the mount is ending).
  package func closeLog() {
    readFailures.close()
  }

  /// The kernel asks again for a page whose read failed; within the read timeout that ask
  /// fails at once, so a reader waits the timeout once.
  private func remember(_ range: Range<UInt64>, failedFor handle: UInt64) {
    let until = ContinuousClock.now + options.readTimeout
    handles.withLock { $0.open[handle]?.failure = (range, until) }
  }
}
