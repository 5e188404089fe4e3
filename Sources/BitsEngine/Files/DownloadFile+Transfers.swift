import Dispatch
import Logging

/// Range requests: asking for bytes, starting what the scheduler allows, and the network's
/// events (bytes in, requests ended).
extension DownloadFile {
  /// Small answers go out from the network thread at once, which saves a thread hop on the
  /// latency of random reads; larger ones would hold up that thread, so another thread sends them.
  private static let inlineAnswerLimit: UInt64 = 256 << 10
  /// Readers of at most this many bytes may be answered from received bytes (a copy each).
  private static let receivedAnswerLimit = 128 << 10

  /// Queues the parts of `ranges` nobody has filled or asked for, and starts what may start;
  /// the fill requests a reader's bytes were taken from are cancelled.
  func fetch(_ ranges: [Range<UInt64>], priority: TransferPriority) {
    guard !configuration.isOffline else { return }
    let (queuedAny, preempted) = state.withLock { state in
      let requested = state.scheduler.request(ranges, priority: priority, filled: presentForScheduling(state))
      return (requested.queuedAny, requested.preempted.compactMap { state.transfers.removeValue(forKey: $0) })
    }
    for transfer in preempted { transport.cancel(transfer) }
    if queuedAny { notify(self, .transferring) }
    startQueuedPieces()
  }

  /// Starts what the scheduler and the job's admission let start.
  func startQueuedPieces() {
    let starting = state.withLock {
      state -> [(RangeScheduler.Piece, RemoteVersion, DataFile, UInt64, String?, String?)] in
      guard !state.isSuspended, let version = state.version, let data = state.data else { return [] }
      let pieces = state.scheduler.takeStartable { admission.admit($0, bytes: $1, for: self) }
      state.requestCount += pieces.count
      return pieces.map { ($0, version, data, state.generation, state.dataURL, state.rangeValidator) }
    }
    if !starting.isEmpty { EngineMetrics.requests.increment(by: starting.count) }
    for (piece, version, data, generation, dataURL, rangeValidator) in starting {
      let receiver = PieceReceiver(
        file: self, pieceID: piece.id, range: piece.range, priority: piece.priority, version: version, data: data,
        generation: generation, redirectedURL: dataURL)
      let request = HTTPRequest(
        url: dataURL ?? remoteURL, range: piece.range, ifRange: rangeValidator,
        headers: configuration.headers, isBackground: JobAdmission.isBackground(piece.priority))
      let transfer = transport.start(request, receiver: receiver)
      let preempted = state.withLock { state in
        // The transfer may have ended already, or the file been reset meanwhile, or a reader
        // taken its bytes (preempted before it could be cancelled).
        guard generation == state.generation, let active = state.scheduler.active[piece.id] else { return false }
        if !active.isPreempted { state.transfers[piece.id] = transfer }
        return active.isPreempted
      }
      if preempted { transport.cancel(transfer) }
    }
  }

  /// Answers the small readers waiting for nothing but part of `bytes`, just received for
  /// `range`, before the bytes go to disk: a random reader's latency then holds no cache write.
  func answerReaders(from bytes: UnsafeRawBufferPointer, at range: Range<UInt64>, generation: UInt64) {
    let answerable = state.withLock { state -> [ReadWaiters<ReadCompletion>.Waiter] in
      guard generation == state.generation else { return [] }
      return state.waiters.takeContained(in: range, maximumCount: Self.receivedAnswerLimit)
    }
    for waiter in answerable {
      let start = Int(waiter.range.lowerBound - range.lowerBound)
      let copy = Array(bytes[start..<start + waiter.range.count])
      waiter.completion(.success(FilledBytes(location: .received(copy), range: waiter.range, generation: generation)))
    }
  }

  /// `range` of the version of `generation` is in the cache file, fetched by read-ahead or not.
  func didFill(_ range: Range<UInt64>, generation: UInt64, readAhead: Bool) {
    let (ready, report) = state.withLock {
      state -> ([(ReadWaiters<ReadCompletion>.Waiter, FilledBytes)], RangeReportThrottle.Next) in
      guard generation == state.generation, let data = state.data else { return ([], .nothing) }
      state.filled.insert(range)
      state.fetchedBytes += UInt64(range.count)
      if readAhead {
        state.readAheadUnread.insert(range)
        state.readAheadBytes += UInt64(range.count)
      }
      state.commits.add(range)
      scheduleCommit(within: configuration.commitInterval, &state)
      let ready = state.waiters.takeReady(after: range, filled: state.filled).map { waiter in
        (
          waiter,
          FilledBytes(location: .cache(data), range: waiter.range, generation: generation, pin: pin(waiter.range))
        )
      }
      state.reports.add(range)
      return (ready, state.reports.next(now: .now))
    }
    EngineMetrics.fetchedBytes.increment(by: range.count)
    if readAhead { EngineMetrics.readAheadBytes.increment(by: range.count) }
    let readyBytes = ready.reduce(0) { $0 + $1.1.range.count }
    if readyBytes <= Self.inlineAnswerLimit {
      for (waiter, bytes) in ready { waiter.completion(.success(bytes)) }
    } else {
      callbackQueue.async {
        for (waiter, bytes) in ready { waiter.completion(.success(bytes)) }
      }
    }
    deliver(report)
  }

  /// The request for piece `pieceID` of the version of `generation` ended; it went to
  /// `redirectedURL` if not to `remoteURL`.
  func pieceFinished(
    _ pieceID: UInt64, outcome: Result<Void, BitsError>, version: RemoteVersion, generation: UInt64,
    redirectedURL: String?
  ) {
    let (decision, failed, becameIdle, resumed, ended, next) = state.withLock {
      state -> (
        RangeScheduler.Decision, [ReadWaiters<ReadCompletion>.Waiter], Bool, Bool, TransferPriority?, TransferPriority?
      ) in
      guard generation == state.generation, let piece = state.scheduler.active[pieceID] else {
        return (.settled, [], false, false, nil, nil)
      }
      state.transfers[pieceID] = nil
      var outcome = outcome
      // The URL a redirect led to failed (an expired presigned URL, a mirror gone): requests
      // go back to the original URL, and this one is retried there.
      if let redirectedURL, case .failure(let error) = outcome, error.code != .cancelled,
        error.code != .remoteFileChanged
      {
        if state.dataURL == redirectedURL { state.dataURL = nil }
        outcome = .failure(
          BitsError(.connectionClosed, "the redirect target failed (\(error.code.name)); asking the original URL"))
      }
      let missing = state.filled.gaps(in: piece.range)
      let decision = state.scheduler.finish(pieceID, outcome: outcome, missing: missing, now: .now)
      var failed: [ReadWaiters<ReadCompletion>.Waiter] = []
      var resumed = false
      switch decision {
      case .retry(let error, _, _): state.retryingAfter = error
      case .fail(let error, let range):
        failed = state.waiters.takeOverlapping(range)
        state.lastError = BitsError(error.code, error.message, url: state.remoteURL)
      case .settled:
        if state.retryingAfter != nil, case .success = outcome {
          state.retryingAfter = nil
          resumed = true
        }
      case .versionChanged: break
      }
      let idle = state.scheduler.isIdle
      // Background fill is durable piece by piece: after a crash it fetches again only what was
      // in flight.
      if JobAdmission.isBackground(piece.priority) {
        scheduleCommit(within: .zero, &state)
      } else if idle {
        scheduleCommit(within: configuration.idleCommitDelay, &state)
      }
      let next = state.scheduler.queue.first { JobAdmission.isBackground($0.priority) }?.priority
      return (decision, failed, idle, resumed, piece.priority, next)
    }
    admission.ended(ended.map { [$0] } ?? [], by: self, next: next)
    switch decision {
    case .settled: break
    case .retry(let error, let delay, let token):
      EngineMetrics.requestRetried(error.code)
      callbackQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
        self?.retryIsDue(token)
      }
      configuration.logger.debug(
        "retrying a request", metadata: logMetadata(error.logFields.merging(["after": "\(delay)"]) { $1 }))
      notify(self, .retrying(error))
    case .fail(let error, let range):
      let error = BitsError(error.code, error.message, url: remoteURL)
      EngineMetrics.requestFailed(error.code)
      callbackQueue.async {
        for waiter in failed { waiter.completion(.failure(error)) }
      }
      warnings.warn(
        error.code.isTransient ? "a request failed after retrying for the retry period" : "a request failed",
        cause: error.logFields.merging(["url": shownURL(remoteURL)]) { $1 },
        details: ["range": "\(range.lowerBound)-\(range.upperBound - 1)"])
      notify(self, .failed(error))
    case .versionChanged:
      versionDidChange(from: version)
      connect { _ in }
      return
    }
    if resumed { notify(self, .transferring) }
    startQueuedPieces()
    if becameIdle {
      flushReport()
      notify(self, .idle)
    }
  }

  private func retryIsDue(_ token: UInt64) {
    state.withLock { $0.scheduler.retryIsDue(token) }
    startQueuedPieces()
  }
}
