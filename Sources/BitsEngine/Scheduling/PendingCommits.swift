/// Filled ranges not yet made durable in the cache journal, and when the next commit runs: a
/// pure value. Commits are batched: asking for one within a delay schedules a run only when no
/// run is due sooner, and a run superseded by an earlier one finds nothing to do.
package struct PendingCommits: Sendable {
  package private(set) var ranges: [Range<UInt64>] = []
  private var run = EarliestRun()

  package init() {}

  /// Adds filled bytes, merged with the last range when they continue it.
  package mutating func add(_ range: Range<UInt64>) {
    if let last = ranges.last, last.upperBound == range.lowerBound {
      ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
    } else {
      ranges.append(range)
    }
  }

  /// Whether a run at `due` must be scheduled (none is, or only a later one).
  package mutating func schedule(at due: ContinuousClock.Instant) -> Bool {
    run.claim(due)
  }

  /// The ranges to commit now: for a run scheduled at `due`, or a commit asked for at once
  /// (`due` is `nil`); `nil` for a run superseded by an earlier one.
  package mutating func take(scheduledFor due: ContinuousClock.Instant?) -> [Range<UInt64>]? {
    if let due, !run.finish(due) { return nil }
    defer { ranges.removeAll() }
    return ranges
  }

  /// Drops `range` from what is to be committed (its bytes were evicted).
  package mutating func remove(_ range: Range<UInt64>) {
    ranges = ranges.flatMap { pending -> [Range<UInt64>] in
      guard pending.overlaps(range) else { return [pending] }
      let before = pending.lowerBound..<max(pending.lowerBound, range.lowerBound)
      let after = min(pending.upperBound, range.upperBound)..<pending.upperBound
      return [before, after].filter { !$0.isEmpty }
    }
  }

  /// Drops what was not committed (the bytes belong to a version that is gone).
  package mutating func discard() {
    ranges.removeAll()
  }
}
