import Dispatch
import Glibc

/// Readers: each waits for its own bytes, until they are filled or its deadline passes.
extension DownloadFile {
  /// Calls `completion` once all of `range` is in the cache, or with an error (the remote file
  /// changed, a permanent failure, or `timeout` passed). Missing bytes are fetched at once in
  /// `alignment`-sized blocks, ahead of background work; bytes already asked for are not asked
  /// again, however many readers wait for them.
  package func read(
    _ range: Range<UInt64>, alignment: UInt64, timeout: Duration,
    completion: @escaping @Sendable (Result<FilledBytes, BitsError>) -> Void
  ) {
    // Bytes of the read, those the cache held when it came, and read-ahead bytes it reads first.
    var (askedBytes, cachedBytes, readAheadUsed) = (0, 0, 0)
    // Fill requests in flight with bytes the read waits for.
    var awaitedFill: [TransferID] = []
    let outcome = state.withLock { state -> Result<FilledBytes, BitsError>? in
      guard let version = state.version, let data = state.data else {
        return .failure(
          BitsError(.remoteFileChanged, "the remote file changed and is not reconnected yet", url: state.remoteURL))
      }
      let range = range.clamped(to: 0..<version.size)
      askedBytes = range.count
      if !state.readAheadUnread.isEmpty {
        let used = state.readAheadUnread.intersection(with: range)
        for part in used {
          readAheadUsed += part.count
          state.readAheadUnread.remove(part)
        }
        state.readAheadUsedBytes += UInt64(readAheadUsed)
      }
      if state.filled.contains(range) {
        cachedBytes = range.count
        return .success(
          FilledBytes(location: .cache(data), range: range, generation: state.generation, pin: pin(range)))
      }
      cachedBytes = state.filled.intersection(with: range).reduce(0) { $0 + $1.count }
      if configuration.isOffline {
        return .failure(
          BitsError(.connectFailure, "offline, and these bytes are not in the cache", url: state.remoteURL))
      }
      let deadline = ContinuousClock.now + timeout
      if state.waiters.add(range, deadline: deadline, completion: completion) {
        scheduleDeadlineCheck(at: deadline)
      }
      awaitedFill = state.scheduler.active.values.filter {
        JobAdmission.isBackground($0.priority) && $0.range.overlaps(range)
      }.compactMap { state.transfers[$0.id] }
      return nil
    }
    // A fill request a reader waits for does the reader's work: it no longer yields to readers.
    for transfer in awaitedFill { transport.expedite(transfer) }
    markUsed(range)
    if readAheadUsed > 0 { EngineMetrics.readAheadUsedBytes.increment(by: readAheadUsed) }
    if cachedBytes > 0 { EngineMetrics.bytesReadFromCache.increment(by: cachedBytes) }
    if askedBytes > cachedBytes { EngineMetrics.bytesReadFromNetwork.increment(by: askedBytes - cachedBytes) }
    if let outcome {
      // A reconnect after a change may have failed (server down): try again, so that later
      // reads find the new version.
      if case .failure = outcome { connect { _ in } }
      return completion(outcome)
    }
    guard let size = version?.size else { return }
    let alignment = max(1, alignment)
    let lower = range.lowerBound / alignment * alignment
    let (rounded, overflow) = range.upperBound.addingReportingOverflow(alignment - 1)
    let upper = overflow ? size : min(size, rounded / alignment * alignment)
    fetch([lower..<upper], priority: .foreground)
  }

  /// Read-ahead: fetches what `range` lacks in the background, unless already asked for.
  package func prefetch(_ range: Range<UInt64>) {
    guard let size = version?.size else { return }
    let range = range.clamped(to: 0..<size)
    fetch([range], priority: .high)
    // What is cached already is read ahead from disk, so a sequential reader of a warm cache
    // does not wait for the disk block by block.
    let (cached, data) = state.withLock { ($0.filled.intersection(with: range), $0.data) }
    guard let data else { return }
    for part in cached {
      // Both fit: a file's size is below `off_t`'s limit (ServerRules refuses larger ones).
      _ = posix_fadvise(data.descriptor, off_t(part.lowerBound), off_t(part.count), POSIX_FADV_WILLNEED)
    }
  }

  /// A reader left the run it was reading: read-ahead for it within `range` that has not
  /// started is dropped.
  package func dropReadAhead(_ range: Range<UInt64>) {
    state.withLock { $0.scheduler.dropQueued(within: range, priority: .high) }
  }

  /// Background fill of the file stops: what is queued at `normal` or `low` is dropped, what is
  /// in flight finishes.
  package func dropBackgroundFill() {
    state.withLock { state in
      guard let size = state.version?.size else { return }
      state.scheduler.dropQueued(within: 0..<size, priority: .normal)
      state.scheduler.dropQueued(within: 0..<size, priority: .low)
    }
  }

  /// Asks again for the bytes of every waiting reader (after a suspend or a reconnect).
  func fetchForWaitingReaders() {
    let ranges = state.withLock { $0.waiters.ranges }
    if !ranges.isEmpty { fetch(ranges, priority: .foreground) }
  }

  private func scheduleDeadlineCheck(at instant: ContinuousClock.Instant) {
    let delay = max(.zero, instant - .now)
    callbackQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
      self?.failReadersPastDeadline(checkScheduledAt: instant)
    }
  }

  private func failReadersPastDeadline(checkScheduledAt instant: ContinuousClock.Instant) {
    let (expired, next, retryingAfter) = state.withLock { state in
      let (expired, next) = state.waiters.checkDeadlines(scheduledAt: instant, now: .now)
      return (expired, next, state.retryingAfter)
    }
    if let next { scheduleDeadlineCheck(at: next) }
    // What the requests are retrying after, if anything, is the likelier explanation.
    let reason = retryingAfter.map { "; retrying after \($0.codeDescription): \($0.message)" } ?? ""
    let error = BitsError(.timedOut, "no answer from the server in time\(reason)", url: remoteURL)
    for waiter in expired { waiter.completion(.failure(error)) }
  }
}
