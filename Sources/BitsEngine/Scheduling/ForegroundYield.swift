/// Whether background transfers yield to foreground ones: while any foreground transfer is in
/// flight, and for `grace` after the last one ended. A reader that asks again as soon as its
/// last answer came (`sqlite3`, `fio`, a tool walking a file's structure) so keeps the link,
/// the server and the cores for its whole run, not only while each of its requests is in
/// flight; fill resumes once readers have paused. A pure value.
package struct ForegroundYield: Sendable, Equatable {
  package let grace: Duration
  package private(set) var inFlight = 0
  private var lastEnded: ContinuousClock.Instant?

  package init(grace: Duration) {
    self.grace = max(.zero, grace)
  }

  package mutating func transferBegan() {
    inFlight += 1
  }

  package mutating func transferEnded(at now: ContinuousClock.Instant) {
    inFlight = max(0, inFlight - 1)
    if inFlight == 0 { lastEnded = now }
  }

  /// Whether background transfers yield at `now`.
  package func yields(at now: ContinuousClock.Instant) -> Bool {
    inFlight > 0 || resumes(after: now) != nil
  }

  /// When yielding ends unless a foreground transfer begins: `nil` while a foreground
  /// transfer is in flight (no end in sight) or once yielding is over.
  package func resumes(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
    guard inFlight == 0, let lastEnded else { return nil }
    let end = lastEnded + grace
    return end > now ? end : nil
  }
}
