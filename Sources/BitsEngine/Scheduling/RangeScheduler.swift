/// Which bytes of one file to ask the server for, and when: a pure value with no locks and no
/// I/O, owned by the file's state. The file tells it what was asked for (`request`), what
/// finished (`finish`) and when a retry is due (`retryIsDue`); it answers with the pieces to
/// start and what to do about a failure.
///
/// Rules: a byte is claimed (queued, in flight or waiting for a retry) at most once, so however
/// many readers want it, it is asked for once; pieces start in priority order, a reader's
/// (`foreground`) never waiting behind the limit on requests in flight; a reader never waits
/// for background fill: the bytes it asks for are taken out of fill's pieces, queued or in
/// flight (those are preempted: cancelled, the rest of their bytes queued again); a transient
/// failure is retried for the missing bytes only, after the backoff, until the retry period
/// passes with no progress.
package struct RangeScheduler: Sendable {
  package struct Piece: Sendable, Equatable {
    package let id: UInt64
    package var range: Range<UInt64>
    package var priority: TransferPriority
    /// When the piece's bytes first failed with no progress since.
    package var firstFailure: ContinuousClock.Instant?
    /// Retries made so far for these bytes.
    package var attempt = 0
    /// In flight, but its bytes were given to a reader and the rest queued again: its transfer
    /// is being cancelled, and its end settles nothing.
    package var isPreempted = false
  }

  /// What `request` did.
  package struct Requested: Sendable, Equatable {
    /// Whether anything new was queued.
    package var queuedAny = false
    /// Pieces of background fill in flight that held bytes a reader asked for: their transfers
    /// are to be cancelled.
    package var preempted: [UInt64] = []
  }

  /// What to do once a piece's request ended.
  package enum Decision: Sendable, Equatable {
    /// Nothing to do: the bytes are all there, or the piece no longer counts (cancelled, reset).
    case settled
    /// The missing bytes wait for `retryIsDue(token)`, to be called after `delay`.
    case retry(BitsError, delay: Duration, token: UInt64)
    /// Give up: readers of `range` fail with the error.
    case fail(BitsError, range: Range<UInt64>)
    /// The server answered with another version of the file.
    case versionChanged
  }

  package struct Limits: Sendable, Equatable {
    /// The largest range one request asks for.
    package var maximumRequestSize: UInt64
    /// The largest range one request of background fill (`normal`, `low`) asks for: smaller
    /// under a rate cap, so the fill keeps to the rate in small steps.
    package var maximumBackgroundRequestSize: UInt64
    /// Requests in flight at once for pieces other than foreground ones.
    package var maximumConcurrentRequests: Int
    package var backoff: Backoff
    /// How long bytes may fail without progress before their readers are failed.
    package var retryPeriod: Duration

    package init(
      maximumRequestSize: UInt64, maximumBackgroundRequestSize: UInt64? = nil, maximumConcurrentRequests: Int,
      backoff: Backoff, retryPeriod: Duration
    ) {
      self.maximumRequestSize = max(1, maximumRequestSize)
      self.maximumBackgroundRequestSize = max(
        1, min(maximumBackgroundRequestSize ?? maximumRequestSize, maximumRequestSize))
      self.maximumConcurrentRequests = max(1, maximumConcurrentRequests)
      self.backoff = backoff
      self.retryPeriod = retryPeriod
    }
  }

  package let limits: Limits
  /// Bytes queued, in flight or waiting for a retry.
  package private(set) var claimed = ByteRangeSet()
  package private(set) var queue: [Piece] = []
  package private(set) var active: [UInt64: Piece] = [:]
  private var retrying: [UInt64: [Piece]] = [:]
  /// Never reset, so an id or token from before a `reset` matches nothing after it.
  private var nextID: UInt64 = 1

  package init(limits: Limits) {
    self.limits = limits
  }

  /// Nothing is queued, in flight or waiting for a retry.
  package var isIdle: Bool { active.isEmpty && queue.isEmpty && retrying.isEmpty }

  /// The pieces of failed requests waiting for their retry.
  package var waitingForRetry: [Piece] { retrying.values.flatMap { $0 } }

  /// Claims the bytes of `ranges` that are neither `filled` nor claimed, queued in pieces of at
  /// most the request size; queued pieces overlapping `ranges` move up to `priority` if that is
  /// more urgent. A reader's bytes (`foreground`) are first taken out of background pieces.
  package mutating func request(
    _ ranges: [Range<UInt64>], priority: TransferPriority, filled: ByteRangeSet
  ) -> Requested {
    var requested = Requested()
    if priority == .foreground {
      for range in ranges where !range.isEmpty {
        requested.preempted += takeFromBackground(range, filled: filled)
      }
    }
    let queuedBefore = queue.count
    var raised = false
    for range in ranges where !range.isEmpty {
      for index in queue.indices where queue[index].range.overlaps(range) && priority < queue[index].priority {
        queue[index].priority = priority
        raised = true
      }
      for gap in filled.gaps(in: range) {
        for unclaimed in claimed.gaps(in: gap) {
          claimed.insert(unclaimed)
          var lower = unclaimed.lowerBound
          let pieceLimit =
            JobAdmission.isBackground(priority) ? limits.maximumBackgroundRequestSize : limits.maximumRequestSize
          while lower < unclaimed.upperBound {
            let upper = lower + min(unclaimed.upperBound - lower, pieceLimit)
            queue.append(Piece(id: makeID(), range: lower..<upper, priority: priority))
            lower = upper
          }
        }
      }
    }
    requested.queuedAny = queue.count > queuedBefore
    if requested.queuedAny || raised || !requested.preempted.isEmpty { sortQueue() }
    return requested
  }

  /// Frees the bytes of `range` from background pieces: a queued one, or one waiting for its
  /// retry, keeps the rest of its bytes; one in flight is preempted, and the rest of its
  /// unfilled bytes are queued again, ahead of the fill queued after it. Returns the preempted
  /// pieces.
  private mutating func takeFromBackground(_ range: Range<UInt64>, filled: ByteRangeSet) -> [UInt64] {
    let asked = ByteRangeSet([range])
    let isTaken = { (piece: Piece) in JobAdmission.isBackground(piece.priority) && piece.range.overlaps(range) }
    // In place: each keeps its turn.
    func split(_ pieces: [Piece]) -> [Piece] {
      pieces.flatMap { piece in
        guard isTaken(piece) else { return [piece] }
        claimed.remove(piece.range)
        let kept = asked.gaps(in: piece.range).map { remainder(of: piece, range: $0) }
        for part in kept { claimed.insert(part.range) }
        return kept
      }
    }
    if queue.contains(where: isTaken) { queue = split(queue) }
    for (token, pieces) in retrying where pieces.contains(where: isTaken) { retrying[token] = split(pieces) }
    var remainders: [Piece] = []
    var preempted: [UInt64] = []
    for (id, piece) in active
    where JobAdmission.isBackground(piece.priority) && !piece.isPreempted && piece.range.overlaps(range) {
      active[id]?.isPreempted = true
      preempted.append(id)
      claimed.remove(piece.range)
      var kept = filled
      kept.insert(range)
      remainders += kept.gaps(in: piece.range).map { remainder(of: piece, range: $0) }
    }
    for piece in remainders { claimed.insert(piece.range) }
    queue = remainders.sorted { $0.range.lowerBound < $1.range.lowerBound } + queue
    return preempted
  }

  /// A new piece for part of `piece`'s bytes, with its priority and its failures so far.
  private mutating func remainder(of piece: Piece, range: Range<UInt64>) -> Piece {
    Piece(
      id: makeID(), range: range, priority: piece.priority, firstFailure: piece.firstFailure,
      attempt: piece.attempt)
  }

  /// The pieces to start now, moved from the queue to in flight: the most urgent first;
  /// foreground pieces whatever is in flight, others while fewer than the limit are, each only
  /// if `admitted` (the job's word across its files) says so.
  package mutating func takeStartable(admitted: (TransferPriority, UInt64) -> Bool = { _, _ in true }) -> [Piece] {
    var starting: [Piece] = []
    while let next = queue.first,
      next.priority == .foreground || active.count < limits.maximumConcurrentRequests,
      admitted(next.priority, UInt64(next.range.count))
    {
      queue.removeFirst()
      active[next.id] = next
      starting.append(next)
    }
    return starting
  }

  /// The request for piece `id` ended with `outcome`; `missing` are the bytes of its range
  /// still not filled. Unknown ids (a piece dropped by `reset`) are settled.
  package mutating func finish(
    _ id: UInt64, outcome: Result<Void, BitsError>, missing: [Range<UInt64>], now: ContinuousClock.Instant
  ) -> Decision {
    guard var piece = active.removeValue(forKey: id) else { return .settled }
    guard !piece.isPreempted else {
      // Bytes that came before the cancellation took are not asked again.
      trimQueued(within: piece.range, to: missing)
      return .settled
    }
    claimed.remove(piece.range)
    let error: BitsError
    switch outcome {
    case .success:
      guard !missing.isEmpty else { return .settled }
      error = BitsError(.connectionClosed, "the server sent fewer bytes than asked")
    case .failure(let failure):
      guard failure.code != .cancelled else { return .settled }
      error = failure
    }
    if error.code == .remoteFileChanged { return .versionChanged }
    guard !missing.isEmpty else {
      // A failure after the last byte (a connection closed as the body ended) lost nothing.
      return error.code == .connectionClosed ? .settled : .fail(error, range: piece.range)
    }
    guard error.code.isTransient else { return .fail(error, range: piece.range) }
    // The retry period counts from the first failure without progress, as BITS's no-progress
    // timeout does: a request that got bytes before failing starts afresh.
    let missingBytes = missing.reduce(UInt64(0)) { $0 + UInt64($1.count) }
    let madeProgress = missingBytes < UInt64(piece.range.count)
    let firstFailure = madeProgress ? now : piece.firstFailure ?? now
    // Past the retry period the last error is the job's, as BITS reports it.
    guard now - firstFailure < limits.retryPeriod else { return .fail(error, range: piece.range) }
    piece.firstFailure = firstFailure
    piece.attempt = madeProgress ? 1 : piece.attempt + 1
    for gap in missing { claimed.insert(gap) }
    let token = makeID()
    var retries: [Piece] = []
    for range in missing {
      retries.append(
        Piece(id: makeID(), range: range, priority: piece.priority, firstFailure: firstFailure, attempt: piece.attempt))
    }
    retrying[token] = retries
    return .retry(error, delay: limits.backoff.delay(beforeAttempt: piece.attempt), token: token)
  }

  /// The pause of a `.retry` decision is over: its pieces go back to the queue. A token from
  /// before a `reset` does nothing.
  package mutating func retryIsDue(_ token: UInt64) {
    guard let pieces = retrying.removeValue(forKey: token) else { return }
    queue += pieces
    sortQueue()
  }

  /// Drops the queued pieces of `priority` that lie within `range` (read-ahead for a reader that
  /// went elsewhere); their bytes are no longer claimed. Pieces in flight go on.
  package mutating func dropQueued(within range: Range<UInt64>, priority: TransferPriority) {
    let dropped = queue.filter { $0.priority == priority && $0.range.clamped(to: range) == $0.range }
    guard !dropped.isEmpty else { return }
    queue.removeAll { $0.priority == priority && $0.range.clamped(to: range) == $0.range }
    for piece in dropped { claimed.remove(piece.range) }
  }

  /// Narrows the queued pieces within `range` to the bytes of `missing`.
  private mutating func trimQueued(within range: Range<UInt64>, to missing: [Range<UInt64>]) {
    let stillMissing = ByteRangeSet(missing)
    var index = queue.startIndex
    while index < queue.endIndex {
      let piece = queue[index]
      guard piece.range.clamped(to: range) == piece.range else {
        index += 1
        continue
      }
      claimed.remove(piece.range)
      let parts = stillMissing.intersection(with: piece.range).map { remainder(of: piece, range: $0) }
      for part in parts { claimed.insert(part.range) }
      queue.replaceSubrange(index...index, with: parts)
      index += parts.count
    }
  }

  /// Forgets everything queued, in flight or waiting for a retry, and returns the pieces that
  /// were in flight (their transfers are to be cancelled). Filled bytes are not its business.
  package mutating func reset() -> [Piece] {
    let inFlight = Array(active.values)
    active.removeAll()
    queue.removeAll()
    retrying.removeAll()
    claimed = ByteRangeSet()
    return inFlight
  }

  private mutating func makeID() -> UInt64 {
    defer { nextID += 1 }
    return nextID
  }

  /// Most urgent first; within a priority, first come first served (the sort is stable).
  private mutating func sortQueue() {
    queue = TransferPriority.allCases.flatMap { priority in queue.filter { $0.priority == priority } }
  }
}
