import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// What a file tells its job.
enum FileEvent: Sendable {
  /// Bytes arrived (`FileRangesTransferred`, already rate-limited).
  case rangesTransferred([FileRange])
  /// A request failed transiently and will be retried.
  case retrying(BitsError)
  /// A request failed for good.
  case failed(BitsError)
  /// New requests were queued, or bytes flow again after a transient error.
  case transferring
  /// Nothing is queued or in flight.
  case idle
  /// The remote file changed: every filled range was dropped.
  case versionChanged
}

/// Bytes of one version of a file, ready to be read.
public struct FilledBytes: Sendable {
  public enum Location: Sendable {
    /// In the cache's data file, at the offsets of `range`.
    case cache(DataFile)
    /// A copy of bytes just received, not yet in the cache: a small read waiting for nothing
    /// else is answered without waiting for the disk.
    case received([UInt8])
  }

  public let location: Location
  public let range: Range<UInt64>
  public let generation: UInt64

  /// Copies the bytes into `buffer`, which holds `range.count` bytes.
  public func copy(into buffer: UnsafeMutableRawBufferPointer) throws(BitsError) {
    switch location {
    case .cache(let data): try data.read(into: buffer, at: range.lowerBound)
    case .received(let bytes): bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
  }
}

/// Counters for `bitsfs status` and the tests.
public struct FileStatistics: Sendable {
  public var size: UInt64?
  public var filledBytes: UInt64
  public var filledRangeCount: Int
  /// Bytes received from the network in this process.
  public var fetchedBytes: UInt64
  /// Range requests sent in this process.
  public var requestCount: Int
}

/// A file of a download job (`IBackgroundCopyFile`): its remote URL, the ranges asked of it, and
/// the engine that fills them. Every byte range is fetched at most once per version; reads wait
/// only for their own bytes and are answered as soon as those are in the cache.
public final class DownloadFile: Sendable {
  public let remoteURL: String
  /// Where `complete()` puts the file; `nil` for files read only through the cache (mounts).
  public let localName: String?
  /// The ranges of `AddFileWithRanges` in the order given; `nil` for the whole file.
  public let requestedRanges: [FileRange]?

  let configuration: JobConfiguration
  private let client: HTTPClient
  private let cache: CacheEntry
  private let notify: @Sendable (DownloadFile, FileEvent) -> Void
  private let state = Mutex(State())
  private let connecting = Mutex(())
  /// Serializes everything that touches the cache journal and metadata, so a commit of one
  /// version can never land after the reset for the next.
  private let persistQueue = DispatchQueue(label: "bitsfs.cache-commit")
  private let callbackQueue = DispatchQueue(label: "bitsfs.file-callbacks", attributes: .concurrent)

  private struct Piece {
    var id: UInt64
    var range: Range<UInt64>
    var priority: TransferPriority
    var firstFailure: ContinuousClock.Instant?
    var attempt = 0
    var transfer: TransferID?
  }

  private struct Waiter {
    var range: Range<UInt64>
    var deadline: ContinuousClock.Instant
    var completion: @Sendable (Result<FilledBytes, BitsError>) -> Void
  }

  private struct State {
    var version: RemoteVersion?
    var lastKnownVersion: RemoteVersion?
    /// When the server last confirmed `version`.
    var lastValidated: ContinuousClock.Instant?
    var isReconnecting = false
    var generation: UInt64 = 0
    var data: DataFile?
    var filled = ByteRangeSet()
    /// Bytes queued, in flight or waiting for a retry: never asked for a second time.
    var claimed = ByteRangeSet()
    var queue: [Piece] = []
    var active: [UInt64: Piece] = [:]
    var retriesPending = 0
    var waiters: [UInt64: Waiter] = [:]
    /// The next check for waiters past their deadline: one per file, not a timer per read.
    var deadlineCheck = EarliestRun()
    var nextID: UInt64 = 1
    var uncommitted: [Range<UInt64>] = []
    /// The next scheduled journal commit.
    var commit = EarliestRun()
    var unreported = ByteRangeSet()
    var lastReport: ContinuousClock.Instant?
    var reportScheduled = false
    var isSuspended = false
    var fetchedBytes: UInt64 = 0
    var requestCount = 0
    var isRetrying = false
    /// Increases on suspend, so retries scheduled before it are dropped.
    var epoch: UInt64 = 0

    mutating func makeID() -> UInt64 {
      defer { nextID += 1 }
      return nextID
    }
  }

  init(
    remoteURL: String, localName: String?, requestedRanges: [FileRange]?, configuration: JobConfiguration,
    client: HTTPClient, cache: CacheEntry, notify: @escaping @Sendable (DownloadFile, FileEvent) -> Void
  ) {
    self.remoteURL = remoteURL
    self.localName = localName
    self.requestedRanges = requestedRanges
    self.configuration = configuration
    self.client = client
    self.cache = cache
    self.notify = notify
  }

  // MARK: Version

  /// The version being transferred, once connected; `nil` again while a changed file reconnects.
  public var version: RemoteVersion? { state.withLock { $0.version } }

  /// The most recent version known, kept while a changed file reconnects, for file attributes.
  public var lastKnownVersion: RemoteVersion? { state.withLock { $0.version ?? $0.lastKnownVersion } }

  /// Increases each time the file is (re)connected to a version; bytes read under one
  /// generation must not be combined with bytes of another.
  public var generation: UInt64 { state.withLock { $0.generation } }

  /// Learns the remote size and version (retrying transient failures within the retry period),
  /// then keeps the cached bytes if they belong to that version and drops them otherwise.
  @discardableResult
  public func connect() throws(BitsError) -> RemoteVersion {
    // One connection attempt at a time: two would each reset the cache entry.
    try connecting.withLock { _ throws(BitsError) -> RemoteVersion in
      if let version = self.version { return version }
      let version = try probe(retryPeriod: configuration.retryPeriod)
      let opened = persistQueue.sync { () -> Result<(DataFile, ByteRangeSet), BitsError> in
        Result { () throws(BitsError) in try cache.open(url: remoteURL, version: version) }
      }
      let (data, filled) = try opened.get()
      state.withLock { state in
        state.version = version
        state.lastKnownVersion = version
        state.lastValidated = .now
        state.data = data
        state.filled = filled
        state.generation += 1
      }
      return version
    }
  }

  /// Asks the server for the current version with a one-byte range request, retrying transient
  /// failures within `retryPeriod`.
  private func probe(retryPeriod: Duration) throws(BitsError) -> RemoteVersion {
    let clock = ContinuousClock()
    let start = clock.now
    var delay = configuration.initialRetryDelay
    while true {
      let receiver = ProbeReceiver(url: remoteURL)
      client.start(
        HTTPRequest(url: remoteURL, range: 0..<1, headers: configuration.headers), receiver: receiver)
      let result = receiver.wait()
      guard case .failure(let error) = result else { return try result.get() }
      guard error.code.isTransient, clock.now - start + delay < retryPeriod else { throw error }
      notify(self, .retrying(error))
      sleep(for: delay)
      delay = min(delay * 2, configuration.maximumRetryDelay)
    }
  }

  /// Whether `revalidate(ifOlderThan: interval)` would ask the server.
  public func needsRevalidation(ifOlderThan interval: Duration) -> Bool {
    state.withLock { state in
      state.version != nil && state.lastValidated.map { ContinuousClock.now - $0 >= interval } ?? true
    }
  }

  /// Confirms the version with the server if that was last done more than `interval` ago: a
  /// changed file drops its filled ranges and moves to the new version. One attempt only; a
  /// server that cannot be reached leaves the known version in place, so cached bytes keep
  /// being served offline.
  public func revalidate(ifOlderThan interval: Duration) {
    guard needsRevalidation(ifOlderThan: interval), let current = version,
      let probed = try? probe(retryPeriod: .zero)
    else { return }
    state.withLock { $0.lastValidated = .now }
    guard probed != current else { return }
    versionDidChange()
    _ = try? connect()
  }

  // MARK: Asking for bytes

  /// `RequestFileRanges`: fetches whatever of `ranges` is not filled yet, in the background.
  public func requestFileRanges(_ ranges: [FileRange]) throws(BitsError) {
    try RangeValidation.validate(ranges, maximumCount: configuration.maximumRangesPerFile)
    guard let version else {
      throw BitsError(.invalidState, "the file is not connected yet", url: remoteURL)
    }
    let resolved = try RangeValidation.resolve(ranges, fileSize: version.size, url: remoteURL)
    fetch(resolved, priority: .background)
  }

  /// `GetFilledFileRanges`: the filled ranges, merged and sorted by offset.
  public var filledRanges: [FileRange] {
    state.withLock { $0.filled.intervals.map(FileRange.init) }
  }

  public var statistics: FileStatistics {
    state.withLock { state in
      FileStatistics(
        size: state.version?.size, filledBytes: state.filled.coveredByteCount,
        filledRangeCount: state.filled.count, fetchedBytes: state.fetchedBytes, requestCount: state.requestCount)
    }
  }

  /// What the job wants of this file, resolved against the connected version: the ranges of
  /// `AddFileWithRanges` in their order, or the whole file; `nil` before connecting.
  func wantedRanges() throws(BitsError) -> [Range<UInt64>]? {
    guard let size = version?.size else { return nil }
    let ranges = requestedRanges ?? [FileRange(offset: 0, length: FileRange.lengthToEndOfFile)]
    return try RangeValidation.resolve(ranges, fileSize: size, url: remoteURL)
  }

  /// How many bytes of `ranges` are filled.
  func filledByteCount(in ranges: [Range<UInt64>]) -> UInt64 {
    state.withLock { state in
      ranges.reduce(0) { sum, range in
        sum + state.filled.intersection(with: range).reduce(0) { $0 + UInt64($1.count) }
      }
    }
  }

  /// Calls `completion` once all of `range` is in the cache, or with an error (the remote file
  /// changed, a permanent failure, or `timeout` passed). Missing bytes are fetched at once in
  /// `alignment`-sized blocks, ahead of background work; bytes already asked for are not asked
  /// again, however many readers wait for them.
  public func read(
    _ range: Range<UInt64>, alignment: UInt64, timeout: Duration,
    completion: @escaping @Sendable (Result<FilledBytes, BitsError>) -> Void
  ) {
    let outcome = state.withLock { state -> Result<FilledBytes, BitsError>? in
      guard let version = state.version, let data = state.data else {
        return .failure(BitsError(.fileChanged, "the remote file changed and is not reconnected yet", url: remoteURL))
      }
      let range = range.clamped(to: 0..<version.size)
      if state.filled.contains(range) {
        return .success(FilledBytes(location: .cache(data), range: range, generation: state.generation))
      }
      let deadline = ContinuousClock.now + timeout
      state.waiters[state.makeID()] = Waiter(range: range, deadline: deadline, completion: completion)
      if state.deadlineCheck.claim(deadline) { scheduleDeadlineCheck(at: deadline) }
      return nil
    }
    if let outcome {
      if case .failure(let error) = outcome, error.code == .fileChanged {
        reconnectInBackground()
      }
      completion(outcome)
      return
    }
    guard let size = version?.size else { return }
    let lower = range.lowerBound / alignment * alignment
    let upper = min(size, (range.upperBound + alignment - 1) / alignment * alignment)
    fetch([lower..<upper], priority: .foreground)
  }

  /// A reconnect after a change may have failed (server down): try again, once at a time, so
  /// that later reads find the new version.
  private func reconnectInBackground() {
    let start = state.withLock { state -> Bool in
      guard !state.isReconnecting, state.version == nil else { return false }
      state.isReconnecting = true
      return true
    }
    guard start else { return }
    callbackQueue.async { [weak self] in
      _ = try? self?.connect()
      self?.state.withLock { $0.isReconnecting = false }
    }
  }

  /// Read-ahead: fetches what `range` lacks in the background, unless already asked for.
  public func prefetch(_ range: Range<UInt64>) {
    guard let size = version?.size else { return }
    let range = range.clamped(to: 0..<size)
    fetch([range], priority: .background)
    // What is cached already is read ahead from disk, so a sequential reader of a warm cache
    // does not wait for the disk block by block.
    let (cached, data) = state.withLock { ($0.filled.intersection(with: range), $0.data) }
    guard let data else { return }
    for part in cached {
      _ = posix_fadvise(data.descriptor, off_t(part.lowerBound), off_t(part.count), POSIX_FADV_WILLNEED)
    }
  }

  private func scheduleDeadlineCheck(at instant: ContinuousClock.Instant) {
    let delay = max(.zero, instant - .now)
    callbackQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
      self?.failWaitersPastDeadline(checkScheduledAt: instant)
    }
  }

  /// Fails the readers whose deadline passed. The current check (not one superseded by an
  /// earlier deadline) schedules the next, for the earliest deadline left.
  private func failWaitersPastDeadline(checkScheduledAt instant: ContinuousClock.Instant) {
    let now = ContinuousClock.now
    let expired = state.withLock { state -> [Waiter] in
      let ids = state.waiters.filter { $0.value.deadline <= now }.map(\.key)
      let expired = ids.compactMap { state.waiters.removeValue(forKey: $0) }
      if state.deadlineCheck.finish(instant), let next = state.waiters.values.map(\.deadline).min(),
        state.deadlineCheck.claim(next)
      {
        scheduleDeadlineCheck(at: next)
      }
      return expired
    }
    let error = BitsError(.timedOut, "no answer from the server in time", url: remoteURL)
    for waiter in expired { waiter.completion(.failure(error)) }
  }

  // MARK: Scheduling

  /// Queues the parts of `ranges` nobody has filled or asked for, split into request-sized
  /// pieces; a foreground request also moves queued pieces it needs to the front.
  func fetch(_ ranges: [Range<UInt64>], priority: TransferPriority) {
    let queuedAny = state.withLock { state -> Bool in
      let queuedBefore = state.queue.count
      for range in ranges where !range.isEmpty {
        if priority == .foreground {
          for index in state.queue.indices where state.queue[index].range.overlaps(range) {
            state.queue[index].priority = .foreground
          }
        }
        for gap in state.filled.gaps(in: range) {
          for unclaimed in state.claimed.gaps(in: gap) {
            state.claimed.insert(unclaimed)
            var lower = unclaimed.lowerBound
            while lower < unclaimed.upperBound {
              let upper = min(unclaimed.upperBound, lower + configuration.maximumRequestSize)
              state.queue.append(Piece(id: state.makeID(), range: lower..<upper, priority: priority))
              lower = upper
            }
          }
        }
      }
      // Foreground pieces first; otherwise first come, first served.
      if priority == .foreground {
        let foreground = state.queue.filter { $0.priority == .foreground }
        state.queue = foreground + state.queue.filter { $0.priority == .background }
      }
      return state.queue.count > queuedBefore
    }
    if queuedAny { notify(self, .transferring) }
    startQueuedPieces()
  }

  private func startQueuedPieces() {
    let starting = state.withLock { state -> [(Piece, RemoteVersion, DataFile, UInt64)] in
      guard !state.isSuspended, let version = state.version, let data = state.data else { return [] }
      var starting: [(Piece, RemoteVersion, DataFile, UInt64)] = []
      // A reader never waits behind the background limit: foreground pieces may exceed it.
      while let next = state.queue.first,
        state.active.count < configuration.maximumConcurrentRequests || next.priority == .foreground
      {
        state.queue.removeFirst()
        state.active[next.id] = next
        state.requestCount += 1
        starting.append((next, version, data, state.generation))
      }
      return starting
    }
    for (piece, version, data, generation) in starting {
      let receiver = PieceReceiver(
        file: self, pieceID: piece.id, range: piece.range, version: version, data: data, generation: generation)
      let request = HTTPRequest(
        url: remoteURL, range: piece.range, ifRange: version.ifRangeValidator, headers: configuration.headers)
      let transfer = client.start(request, receiver: receiver)
      state.withLock { $0.active[piece.id]?.transfer = transfer }
    }
  }

  // MARK: Transfer events (network threads)

  private static let inlineAnswerLimit: UInt64 = 256 << 10
  /// Readers of at most this many bytes may be answered from received bytes (a copy each).
  private static let receivedAnswerLimit = 128 << 10

  /// Answers the small readers waiting for nothing but part of `bytes`, just received for
  /// `range`, before the bytes go to disk: a random reader's latency then holds no cache write.
  fileprivate func answerReaders(from bytes: UnsafeRawBufferPointer, at range: Range<UInt64>, generation: UInt64) {
    let answerable = state.withLock { state -> [Waiter] in
      guard generation == state.generation else { return [] }
      var answerable: [Waiter] = []
      for (id, waiter) in state.waiters
      where waiter.range.count <= Self.receivedAnswerLimit && waiter.range.clamped(to: range) == waiter.range {
        state.waiters[id] = nil
        answerable.append(waiter)
      }
      return answerable
    }
    for waiter in answerable {
      let start = Int(waiter.range.lowerBound - range.lowerBound)
      let copy = Array(bytes[start..<start + waiter.range.count])
      waiter.completion(.success(FilledBytes(location: .received(copy), range: waiter.range, generation: generation)))
    }
  }

  fileprivate func didFill(_ range: Range<UInt64>, generation: UInt64) {
    let (ready, report) = state.withLock { state -> ([(Waiter, FilledBytes)], [FileRange]?) in
      guard generation == state.generation, let data = state.data else { return ([], nil) }
      state.filled.insert(range)
      state.fetchedBytes += UInt64(range.count)
      if let last = state.uncommitted.last, last.upperBound == range.lowerBound {
        state.uncommitted[state.uncommitted.count - 1] = last.lowerBound..<range.upperBound
      } else {
        state.uncommitted.append(range)
      }
      scheduleCommit(within: configuration.commitInterval, &state)
      var ready: [(Waiter, FilledBytes)] = []
      for (id, waiter) in state.waiters
      where waiter.range.overlaps(range) && state.filled.contains(waiter.range) {
        state.waiters[id] = nil
        ready.append((waiter, FilledBytes(location: .cache(data), range: waiter.range, generation: generation)))
      }
      state.unreported.insert(range)
      return (ready, takeReport(&state))
    }
    // Small answers go out from this thread at once, which saves a thread hop on the latency of
    // random reads; large ones would hold up the network thread, so another thread sends them.
    let readyBytes = ready.reduce(0) { $0 + $1.1.range.count }
    if readyBytes <= Self.inlineAnswerLimit {
      for (waiter, bytes) in ready { waiter.completion(.success(bytes)) }
    } else {
      callbackQueue.async {
        for (waiter, bytes) in ready { waiter.completion(.success(bytes)) }
      }
    }
    if let report { notify(self, .rangesTransferred(report)) }
  }

  fileprivate func pieceFinished(_ pieceID: UInt64, outcome: Result<Void, BitsError>, generation: UInt64) {
    enum Next {
      case nothing
      case retry(BitsError)
      case fail(BitsError, [Waiter])
      case versionChanged
    }
    let (next, becameIdle, resumed) = state.withLock { state -> (Next, Bool, Bool) in
      guard var piece = state.active.removeValue(forKey: pieceID), generation == state.generation else {
        return (.nothing, false, false)
      }
      state.claimed.remove(piece.range)
      let missing = state.filled.gaps(in: piece.range)
      var error: BitsError?
      switch outcome {
      case .success:
        if !missing.isEmpty {
          error = BitsError(.connectionClosed, "the server sent fewer bytes than asked", url: remoteURL)
        }
      case .failure(let failure):
        if failure.code != .cancelled { error = failure }
      }
      var next = Next.nothing
      var resumed = false
      if let error {
        if error.code == .fileChanged {
          next = .versionChanged
        } else if error.code.isTransient, !missing.isEmpty {
          // The retry period counts from the first failure without progress, as BITS's
          // no-progress timeout does: a request that got bytes before failing starts afresh.
          let now = ContinuousClock.now
          let missingBytes = missing.reduce(UInt64(0)) { $0 + UInt64($1.count) }
          let madeProgress = missingBytes < UInt64(piece.range.count)
          let firstFailure = madeProgress ? now : piece.firstFailure ?? now
          if now - firstFailure < configuration.retryPeriod {
            piece.firstFailure = firstFailure
            piece.attempt += 1
            let exponent = min(piece.attempt - 1, 20)
            let delay = min(configuration.initialRetryDelay * (1 << exponent), configuration.maximumRetryDelay)
            for gap in missing {
              state.claimed.insert(gap)
            }
            state.retriesPending += 1
            state.isRetrying = true
            let retried = missing.map { range in
              var retry = piece
              retry.id = state.makeID()
              retry.range = range
              retry.transfer = nil
              return retry
            }
            let epoch = state.epoch
            callbackQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
              self?.requeue(retried, generation: generation, epoch: epoch)
            }
            next = .retry(error)
          } else {
            next = .fail(error, takeWaiters(overlapping: piece.range, &state))
          }
        } else if !missing.isEmpty || error.code != .connectionClosed {
          next = .fail(error, takeWaiters(overlapping: piece.range, &state))
        }
      } else if state.isRetrying {
        state.isRetrying = false
        resumed = true
      }
      let idle = state.active.isEmpty && state.queue.isEmpty && state.retriesPending == 0
      if idle { scheduleCommit(within: configuration.idleCommitDelay, &state) }
      return (next, idle, resumed)
    }
    switch next {
    case .nothing: break
    case .retry(let error): notify(self, .retrying(error))
    case .fail(let error, let waiters):
      callbackQueue.async {
        for waiter in waiters { waiter.completion(.failure(error)) }
      }
      notify(self, .failed(error))
    case .versionChanged:
      versionDidChange()
      return
    }
    if resumed { notify(self, .transferring) }
    startQueuedPieces()
    if becameIdle {
      flushReport()
      notify(self, .idle)
    }
  }

  private func requeue(_ pieces: [Piece], generation: UInt64, epoch: UInt64) {
    state.withLock { state in
      guard generation == state.generation, epoch == state.epoch else { return }
      state.retriesPending -= 1
      let foreground = pieces.filter { $0.priority == .foreground }
      state.queue = foreground + state.queue + pieces.filter { $0.priority == .background }
    }
    startQueuedPieces()
  }

  private func takeWaiters(overlapping range: Range<UInt64>, _ state: inout State) -> [Waiter] {
    let ids = state.waiters.filter { $0.value.range.overlaps(range) }.map(\.key)
    return ids.compactMap { state.waiters.removeValue(forKey: $0) }
  }

  /// The remote file changed: drop every filled byte and in-flight request, fail every reader,
  /// then connect to the new version. Bytes of the old version are never served as the new one.
  private func versionDidChange() {
    let (transfers, waiters) = state.withLock { state -> ([TransferID], [Waiter]) in
      guard state.version != nil else { return ([], []) }
      state.generation += 1
      state.version = nil
      state.data = nil
      state.filled = ByteRangeSet()
      state.claimed = ByteRangeSet()
      state.queue.removeAll()
      state.uncommitted.removeAll()
      state.unreported = ByteRangeSet()
      state.retriesPending = 0
      state.epoch += 1
      let transfers = state.active.values.compactMap(\.transfer)
      state.active.removeAll()
      let waiters = Array(state.waiters.values)
      state.waiters.removeAll()
      return (transfers, waiters)
    }
    for transfer in transfers { client.cancel(transfer) }
    let error = BitsError(.fileChanged, "the remote file changed while it was read", url: remoteURL)
    callbackQueue.async {
      for waiter in waiters { waiter.completion(.failure(error)) }
    }
    notify(self, .versionChanged)
  }

  // MARK: Suspend and stop

  /// Stops every request; filled bytes stay.
  func suspend() {
    let transfers = state.withLock { state -> [TransferID] in
      state.isSuspended = true
      // Nothing stays asked for, so `resume` asks again for whatever is still missing.
      state.epoch += 1
      let transfers = state.active.values.compactMap(\.transfer)
      state.active.removeAll()
      state.queue.removeAll()
      state.claimed = ByteRangeSet()
      state.retriesPending = 0
      return transfers
    }
    for transfer in transfers { client.cancel(transfer) }
    commitNow()
  }

  func resume() {
    state.withLock { $0.isSuspended = false }
  }

  /// Fails every waiting reader and stops every request (the job is cancelled or the mount is
  /// going away); filled bytes stay.
  public func close() {
    suspend()
    let waiters = state.withLock { state -> [Waiter] in
      defer { state.waiters.removeAll() }
      return Array(state.waiters.values)
    }
    let error = BitsError(.cancelled, "the job was cancelled", url: remoteURL)
    for waiter in waiters { waiter.completion(.failure(error)) }
  }

  // MARK: Durability and notifications

  /// Makes sure a commit runs within `delay`; commits already due sooner cover it.
  private func scheduleCommit(within delay: Duration, _ state: inout State) {
    let due = ContinuousClock.now + delay
    guard state.commit.claim(due) else { return }
    persistQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
      self?.commitOnPersistQueue(scheduledFor: due)
    }
  }

  /// Makes every filled range durable in the journal now.
  func commitNow() {
    persistQueue.sync { commitOnPersistQueue(scheduledFor: nil) }
  }

  /// Commits what is filled so far: now (`due` is `nil`), or as the run scheduled for `due`.
  private func commitOnPersistQueue(scheduledFor due: ContinuousClock.Instant?) {
    let taken = state.withLock { state -> ([Range<UInt64>], DataFile?)? in
      // A run superseded by an earlier one has nothing to do: that one took what had filled
      // before it ran, and whatever filled since has a run of its own scheduled.
      if let due, !state.commit.finish(due) { return nil }
      defer { state.uncommitted.removeAll() }
      return (state.uncommitted, state.data)
    }
    guard let (ranges, data) = taken, let data, !ranges.isEmpty else { return }
    do {
      try cache.commit(ranges, data: data)
    } catch {
      // Not from here: the job reacts by suspending, which commits on this very queue.
      callbackQueue.async { self.notify(self, .failed(error)) }
    }
  }

  private func takeReport(_ state: inout State) -> [FileRange]? {
    guard !state.unreported.isEmpty else { return nil }
    let now = ContinuousClock.now
    if let last = state.lastReport, now - last < configuration.minimumNotificationInterval {
      if !state.reportScheduled {
        state.reportScheduled = true
        let wait = configuration.minimumNotificationInterval - (now - last)
        callbackQueue.asyncAfter(deadline: .now() + wait.dispatchInterval) { [weak self] in
          self?.flushReport()
        }
      }
      return nil
    }
    state.lastReport = now
    defer { state.unreported = ByteRangeSet() }
    return state.unreported.intervals.map(FileRange.init)
  }

  private func flushReport() {
    let report = state.withLock { state -> [FileRange]? in
      state.reportScheduled = false
      return takeReport(&state)
    }
    if let report { notify(self, .rangesTransferred(report)) }
  }

  var isIdle: Bool {
    state.withLock { $0.active.isEmpty && $0.queue.isEmpty && $0.retriesPending == 0 }
  }

  /// Puts the finished file at `localName`: the cache data file itself when the whole file was
  /// asked for, else the asked ranges back to back in the order given (AddFileWithRanges).
  func deliver() throws(BitsError) {
    guard let localName, version != nil else { return }
    commitNow()
    let scratch = localName + ".bitsfs-part"
    guard requestedRanges != nil else {
      try cache.moveData(to: scratch)
      try rename(scratch, to: localName)
      return
    }
    guard let ranges = try wantedRanges(), let data = state.withLock({ $0.data }) else { return }
    let output = try DataFile(path: scratch, create: true)
    var position: UInt64 = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    for range in ranges {
      var offset = range.lowerBound
      while offset < range.upperBound {
        let count = Int(min(UInt64(buffer.count), range.upperBound - offset))
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
        try data.read(into: chunk, at: offset)
        try output.write(UnsafeRawBufferPointer(chunk), at: position)
        offset += UInt64(count)
        position += UInt64(count)
      }
    }
    try output.synchronize()
    try rename(scratch, to: localName)
  }

  /// Publishes `from` as `to` with the permissions a newly created file gets (the cache keeps
  /// its own files private).
  private func rename(_ from: String, to: String) throws(BitsError) {
    let mask = umask(0)
    umask(mask)
    chmod(from, 0o666 & ~mask)
    guard Glibc.rename(from, to) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot put the file in place", path: to)
    }
  }

  func removeCache() {
    persistQueue.sync { cache.remove() }
  }
}

/// Feeds one range request's bytes into the cache.
private struct PieceReceiver: HTTPTransferReceiver {
  let file: DownloadFile
  let pieceID: UInt64
  let range: Range<UInt64>
  let version: RemoteVersion
  let data: DataFile
  let generation: UInt64

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    let verdict = ServerRules.check(head, asked: range, version: version, url: file.remoteURL)
    guard case .proceed = verdict else { return verdict }
    // Space first: a request the disk cannot take fails before it answers anyone.
    do {
      try data.reserve(range)
    } catch {
      return .abort(error)
    }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    let start = range.lowerBound + bodyOffset
    // Never write a byte outside the asked range, whatever the server sends.
    guard start + UInt64(bytes.count) <= range.upperBound else {
      return .abort(BitsError(.invalidServerResponse, "the server sent more bytes than asked", url: file.remoteURL))
    }
    file.answerReaders(from: bytes, at: start..<start + UInt64(bytes.count), generation: generation)
    do {
      try data.write(bytes, at: start)
    } catch {
      return .abort(error)
    }
    file.didFill(start..<start + UInt64(bytes.count), generation: generation)
    return .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    file.pieceFinished(pieceID, outcome: outcome, generation: generation)
  }
}

/// Learns a file's version from a one-byte range request.
private final class ProbeReceiver: HTTPTransferReceiver {
  let url: String
  private let result = Mutex<Result<RemoteVersion, BitsError>?>(nil)
  private let done = DispatchSemaphore(value: 0)

  init(url: String) {
    self.url = url
  }

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    let version = ServerRules.version(fromProbe: head, url: url)
    result.withLock { $0 = version }
    // The head says all a probe needs; a server ignoring ranges would send the whole file.
    if case .failure(let error) = version { return .abort(error) }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    result.withLock { result in
      guard case .failure(let error) = outcome else { return }
      // Once the head gave the version, a connection lost during the one-byte body changes nothing.
      if case .success = result, error.code.isTransient { return }
      result = .failure(error)
    }
    done.signal()
  }

  func wait() -> Result<RemoteVersion, BitsError> {
    done.wait()
    return result.withLock { $0 } ?? .failure(BitsError(.invalidServerResponse, "no answer", url: url))
  }
}
