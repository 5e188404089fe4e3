/// The readers of one file waiting for bytes, each with its deadline: a pure value with no locks
/// and no I/O. `Completion` is whatever answers a reader (a closure in the engine, a number in
/// the tests).
///
/// Deadlines are checked by one timer per file, not one per read: `add` says when a check must
/// be scheduled (only when no earlier one is), and the check that runs asks for the next.
package struct ReadWaiters<Completion: Sendable>: Sendable {
  package struct Waiter: Sendable {
    /// The bytes the reader wants.
    package let range: Range<UInt64>
    package let deadline: ContinuousClock.Instant
    package let completion: Completion
  }

  private var waiting: [UInt64: Waiter] = [:]
  private var nextID: UInt64 = 1
  private var deadlineCheck = EarliestRun()

  package init() {}

  package var isEmpty: Bool { waiting.isEmpty }
  package var count: Int { waiting.count }

  /// The ranges readers wait for, for asking again after a suspend.
  package var ranges: [Range<UInt64>] { waiting.values.map(\.range) }

  /// Adds a reader; returns whether a deadline check must be scheduled at `deadline`.
  package mutating func add(_ range: Range<UInt64>, deadline: ContinuousClock.Instant, completion: Completion) -> Bool {
    waiting[nextID] = Waiter(range: range, deadline: deadline, completion: completion)
    nextID += 1
    return deadlineCheck.claim(deadline)
  }

  /// Takes the readers whose bytes all lie in `filled`, of those whose range overlaps `changed`
  /// (the bytes just filled: no other reader can have become ready).
  package mutating func takeReady(after changed: Range<UInt64>, filled: ByteRangeSet) -> [Waiter] {
    take { $0.range.overlaps(changed) && filled.contains($0.range) }
  }

  /// Takes the readers of at most `maximumCount` bytes whose range lies wholly inside `range`.
  package mutating func takeContained(in range: Range<UInt64>, maximumCount: Int) -> [Waiter] {
    take { $0.range.count <= maximumCount && $0.range.clamped(to: range) == $0.range }
  }

  package mutating func takeOverlapping(_ range: Range<UInt64>) -> [Waiter] {
    take { $0.range.overlaps(range) }
  }

  package mutating func takeAll() -> [Waiter] {
    take { _ in true }
  }

  /// The check scheduled for `instant` runs at `now`: takes the readers past their deadline, and
  /// returns the next check to schedule, if this check is the current one (not one superseded by
  /// an earlier deadline) and readers are left.
  package mutating func checkDeadlines(scheduledAt instant: ContinuousClock.Instant, now: ContinuousClock.Instant)
    -> (expired: [Waiter], nextCheck: ContinuousClock.Instant?)
  {
    let expired = take { $0.deadline <= now }
    guard deadlineCheck.finish(instant), let next = waiting.values.map(\.deadline).min(), deadlineCheck.claim(next)
    else { return (expired, nil) }
    return (expired, next)
  }

  private mutating func take(where matches: (Waiter) -> Bool) -> [Waiter] {
    let ids = waiting.filter { matches($0.value) }.keys.sorted()
    return ids.compactMap { waiting.removeValue(forKey: $0) }
  }
}
