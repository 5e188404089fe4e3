/// `FileRangesTransferred` no more often than the minimum notification interval: filled ranges
/// gather here and come out as one report per interval. A pure value.
package struct RangeReportThrottle: Sendable {
  package enum Next: Sendable, Equatable {
    case report([FileRange])
    /// Too soon after the last report: a flush is to run after the delay.
    case flush(after: Duration)
    case nothing
  }

  package let minimumInterval: Duration
  private var unreported = ByteRangeSet()
  private var lastReport: ContinuousClock.Instant?
  private var flushScheduled = false

  package init(minimumInterval: Duration) {
    self.minimumInterval = minimumInterval
  }

  package mutating func add(_ range: Range<UInt64>) {
    unreported.insert(range)
  }

  /// What to do now about the ranges gathered.
  package mutating func next(now: ContinuousClock.Instant) -> Next {
    guard !unreported.isEmpty else { return .nothing }
    if let last = lastReport, now - last < minimumInterval {
      guard !flushScheduled else { return .nothing }
      flushScheduled = true
      return .flush(after: minimumInterval - (now - last))
    }
    lastReport = now
    defer { unreported = ByteRangeSet() }
    return .report(unreported.intervals.map(FileRange.init))
  }

  /// The scheduled flush runs: what is gathered is reported if the interval allows.
  package mutating func flush(now: ContinuousClock.Instant) -> Next {
    flushScheduled = false
    return next(now: now)
  }

  /// Forgets what was gathered (the version it belonged to is gone).
  package mutating func discard() {
    unreported = ByteRangeSet()
  }
}
