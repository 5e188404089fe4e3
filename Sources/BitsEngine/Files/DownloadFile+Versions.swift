import Dispatch
import Logging
import Synchronization

/// Connecting to a version, revalidating it, following a change, suspending and resuming.
extension DownloadFile {
  /// Learns the remote size and version (retrying transient failures within the retry period),
  /// then keeps the cached bytes if they belong to that version and drops them otherwise.
  /// Concurrent callers share one attempt.
  public func connect(completion: @escaping @Sendable (Result<RemoteVersion, BitsError>) -> Void) {
    let start = state.withLock { state -> SharedAttempt<RemoteVersion, Void> in
      if let version = state.version { return .known(version) }
      if state.connectWaiters != nil {
        state.connectWaiters!.append(completion)
        return .joined
      }
      state.connectWaiters = [completion]
      return .start(())
    }
    switch start {
    case .known(let version): return completion(.success(version))
    case .joined: return
    case .start: break
    }
    // A first connection may fall back on the version the cache holds (offline, or a server
    // that cannot be reached); a reconnection follows a change, so the cached version is gone.
    let cached = state.withLock { $0.lastKnownVersion == nil } ? cache.cachedVersion(url: remoteURL) : nil
    if configuration.isOffline {
      guard let cached else {
        return finishConnecting(
          .failure(BitsError(.connectFailure, "offline, and the cache holds no version of the file", url: remoteURL)))
      }
      return open(cached, dataURL: nil, rangeValidator: nil, confirmed: false)
    }
    // With a cached version to serve, one attempt: the mount comes up at once on the cache.
    probe(retryPeriod: cached == nil ? configuration.retryPeriod : .zero).run { [self] result in
      switch result {
      case .failure(let error):
        guard let cached, error.code.isTransient else { return finishConnecting(.failure(error)) }
        state.withLock { $0.lastError = BitsError(error.code, error.message, url: $0.remoteURL) }
        open(cached, dataURL: nil, rangeValidator: nil, confirmed: false)
      case .success(let probed):
        open(
          probed.version, dataURL: rememberedURL(probed.finalURL, for: remoteURL),
          rangeValidator: probed.rangeValidator, confirmed: true)
      }
    }
  }

  /// Opens the cache entry at `version`, which the server just confirmed or which the cache
  /// holds (`confirmed` false: revalidated by the next open the server answers; no `If-Range`
  /// until then, as only a probe tells whether a validator is strong).
  private func open(_ version: RemoteVersion, dataURL: String?, rangeValidator: String?, confirmed: Bool) {
    persistQueue.async { [self] in
      do throws(BitsError) {
        let (data, filled) = try cache.open(url: remoteURL, version: version)
        accountOpenedEntry(data: data, filled: filled, size: version.size)
        state.withLock { state in
          state.version = version
          state.lastKnownVersion = version
          state.lastValidated = confirmed ? .now : nil
          // Opens serve the cache for a while before asking the server again.
          state.lastValidationFailure = confirmed ? nil : .now
          state.isVersionUnconfirmed = !confirmed
          state.data = data
          state.filled = filled
          state.dataURL = dataURL
          state.rangeValidator = rangeValidator
          state.generation += 1
        }
        finishConnecting(.success(version))
      } catch {
        finishConnecting(.failure(error))
      }
    }
  }

  private func finishConnecting(_ result: Result<RemoteVersion, BitsError>) {
    let waiters = state.withLock { state in
      defer { state.connectWaiters = nil }
      return state.connectWaiters ?? []
    }
    for waiter in waiters { waiter(result) }
    // Readers that asked while the file was reconnecting ask again now.
    if case .success = result { fetchForWaitingReaders() }
  }

  /// `connect(completion:)`, waiting for the outcome.
  @discardableResult
  public func connect() throws(BitsError) -> RemoteVersion {
    try waitForResult { connect(completion: $0) }.get()
  }

  /// Where range requests go once a probe was redirected to `finalURL`: there, so each request
  /// is not redirected again, when the job sends no headers of its own. With headers, every
  /// request follows the redirects afresh, so the HTTP client decides at each hop which of them
  /// may go on (a chain through another origin or through http keeps them back, whatever
  /// origin it ends at).
  private func rememberedURL(_ finalURL: String?, for url: String) -> String? {
    guard configuration.headers.isEmpty, let finalURL, finalURL != url, URLOrigin(finalURL)?.isHTTP == true
    else { return nil }
    return finalURL
  }

  func probe(retryPeriod: Duration, url: String? = nil) -> VersionProbe {
    VersionProbe(
      url: url ?? remoteURL, headers: configuration.headers, transport: transport, backoff: configuration.backoff,
      retryPeriod: retryPeriod
    ) { [weak self] error in
      guard let self else { return }
      notify(self, .retrying(error))
    }
  }

  /// How long after a revalidation failed to reach the server opens serve the cache without
  /// trying again: the revalidation interval, within 1 to 30 seconds.
  static func revalidationFailureHold(interval: Duration) -> Duration {
    min(max(interval, .seconds(1)), .seconds(30))
  }

  /// Whether `revalidate(ifOlderThan: interval)` would ask the server.
  package func needsRevalidation(ifOlderThan interval: Duration) -> Bool {
    let now = ContinuousClock.now
    return state.withLock { state in
      guard state.version != nil, !configuration.isOffline else { return false }
      if let failure = state.lastValidationFailure, now - failure < Self.revalidationFailureHold(interval: interval) {
        return false
      }
      return state.lastValidated.map { now - $0 >= interval } ?? true
    }
  }

  /// Confirms the version with the server if that was last done more than `interval` ago, then
  /// calls `completion`: a changed file drops its filled ranges and moves to the new version
  /// first. One attempt only, which no thread waits for; a server that cannot be reached leaves
  /// the known version in place (cached bytes keep being served) and is not asked again for a
  /// while. Concurrent callers share one attempt.
  package func revalidate(ifOlderThan interval: Duration, completion: @escaping @Sendable () -> Void) {
    guard needsRevalidation(ifOlderThan: interval) else { return completion() }
    let start = state.withLock { state -> SharedAttempt<Void, RemoteVersion> in
      // Disconnected since the check (a change was seen): nothing to confirm.
      guard let version = state.version else { return .known(()) }
      guard state.revalidationWaiters == nil else {
        state.revalidationWaiters!.append(completion)
        return .joined
      }
      state.revalidationWaiters = [completion]
      return .start(version)
    }
    let current: RemoteVersion
    switch start {
    case .known: return completion()
    case .joined: return
    case .start(let version): current = version
    }
    probe(retryPeriod: .zero).run { [self] result in
      switch result {
      case .failure(let error):
        state.withLock { $0.lastValidationFailure = .now }
        warnings.warn(
          "cannot revalidate the file; serving the cached version",
          cause: error.logFields.merging(["url": shownURL(remoteURL)]) { $1 })
        finishRevalidating()
      case .success(let probed):
        state.withLock { state in
          state.lastValidated = .now
          state.lastValidationFailure = nil
          if probed.version == current { state.isVersionUnconfirmed = false }
          // A date too fresh to be a validator at the first probe may have become one.
          if state.version == probed.version { state.rangeValidator = probed.rangeValidator }
        }
        let changed = probed.version != current
        configuration.logger.info(
          "revalidated", metadata: logMetadata(["url": shownURL(remoteURL), "changed": "\(changed)"]))
        guard changed else { return finishRevalidating() }
        versionDidChange(from: current)
        connect { [self] _ in finishRevalidating() }
      }
    }
  }

  private func finishRevalidating() {
    let waiters = state.withLock { state in
      defer { state.revalidationWaiters = nil }
      return state.revalidationWaiters ?? []
    }
    for waiter in waiters { waiter() }
  }

  /// The remote file changed from `expected`: drop every filled byte and in-flight request,
  /// fail every reader, then connect to the new version. Bytes of the old version are never
  /// served as the new one. Nothing happens if the file is no longer at `expected` (another
  /// caller saw the change first and may have connected to the new version already).
  func versionDidChange(from expected: RemoteVersion) {
    let dropped = state.withLock {
      state -> ([TransferID], [TransferPriority], [ReadWaiters<ReadCompletion>.Waiter])? in
      guard state.version == expected else { return nil }
      state.generation += 1
      state.version = nil
      state.data = nil
      state.filled = ByteRangeSet()
      state.evicting = ByteRangeSet()
      state.dataURL = nil
      state.readAheadUnread = ByteRangeSet()
      state.commits.discard()
      state.reports.discard()
      let inFlight = state.scheduler.reset()
      let transfers = inFlight.compactMap { state.transfers.removeValue(forKey: $0.id) }
      state.transfers.removeAll()
      return (transfers, inFlight.map(\.priority), state.waiters.takeAll())
    }
    guard let (transfers, ended, waiters) = dropped else { return }
    admission.ended(ended, by: self)
    budget?.forgetBlocks(of: budgetID)
    for transfer in transfers { transport.cancel(transfer) }
    let error = BitsError(.remoteFileChanged, "the remote file changed while it was read", url: remoteURL)
    configuration.logger.warning(
      "the remote file changed: its cached bytes are dropped and readers of the old version get EIO",
      metadata: logMetadata(
        error.logFields.merging(["url": shownURL(remoteURL), "old-version": expected.logDescription]) { $1 }))
    callbackQueue.async {
      for waiter in waiters { waiter.completion(.failure(error)) }
    }
    notify(self, .versionChanged)
  }

  // MARK: SetRemoteName

  /// `IBackgroundCopyFile2::SetRemoteName`: the file is fetched from `url` from now on (a mirror,
  /// a renewed presigned URL). Its filled ranges stay if `url` serves the same version (size,
  /// date and ETag), and are dropped otherwise, as for any change of the remote file. Waits for
  /// the one probe of `url` this takes.
  public func setRemoteName(_ url: String) throws(BitsError) {
    try DownloadJob.validate(remoteURL: url)
    let probed = try waitForResult { probe(retryPeriod: configuration.retryPeriod, url: url).run(completion: $0) }.get()
    let dataURL = rememberedURL(probed.finalURL, for: url)
    let previous = state.withLock { state -> RemoteVersion? in
      state.remoteURL = url
      state.dataURL = dataURL
      if state.version == probed.version {
        state.lastValidated = .now
        state.rangeValidator = probed.rangeValidator
      }
      return state.version
    }
    guard let previous, previous != probed.version else { return }
    versionDidChange(from: previous)
    _ = try connect()
  }

  // MARK: Suspend and resume

  /// Stops every request, unless a later `resume` came first; filled bytes stay. `run` orders
  /// the job's resumes and suspends.
  func suspend(run: UInt64) {
    let stopped = state.withLock { state -> ([TransferID], [TransferPriority])? in
      guard run >= state.run else { return nil }
      state.run = run
      state.isSuspended = true
      let inFlight = state.scheduler.reset()
      let transfers = inFlight.compactMap { state.transfers.removeValue(forKey: $0.id) }
      state.transfers.removeAll()
      return (transfers, inFlight.map(\.priority))
    }
    guard let (transfers, ended) = stopped else { return }
    admission.ended(ended, by: self)
    for transfer in transfers { transport.cancel(transfer) }
    commitNow()
  }

  /// Lets requests start again, unless a later `suspend` came first, and asks again for what
  /// waiting readers need (a suspend dropped their requests).
  func resume(run: UInt64) {
    let resumed = state.withLock { state -> Bool in
      guard run > state.run else { return false }
      state.run = run
      state.isSuspended = false
      return true
    }
    if resumed { fetchForWaitingReaders() }
  }

  /// Fails every waiting reader, stops every request and makes the filled ranges durable, then
  /// lets go of the cache entry (the job ended, or the mount is going away); filled bytes stay
  /// on disk for the next owner unless `removingCache`. Events of transfers still under way,
  /// and a connection attempt still under way, are ignored from now on.
  public func close(removingCache: Bool = false) {
    suspend(run: .max)
    admission.forget(self)
    let waiters = state.withLock { state in
      state.generation += 1
      state.data = nil
      state.commits.discard()
      return state.waiters.takeAll()
    }
    persistQueue.sync {
      if removingCache { cache.remove() }
      cache.release()
    }
    warnings.close()
    budget?.unregister(budgetID, keepingEntry: !removingCache)
    let error = BitsError(.cancelled, "the job was cancelled", url: remoteURL)
    for waiter in waiters { waiter.completion(.failure(error)) }
  }
}

/// How a caller meets an attempt (a connection, a revalidation) that concurrent callers share.
private enum SharedAttempt<Known, Basis> {
  /// Nothing to wait for: the outcome is known.
  case known(Known)
  /// Another caller's attempt is under way; this caller's completion waits with it.
  case joined
  /// This caller makes the attempt, from `Basis`.
  case start(Basis)
}
