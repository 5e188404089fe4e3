/// When deferred work asked for at several times next runs: only a request for an earlier time
/// than the one scheduled needs a run of its own, so asking once per read or per filled range
/// schedules once, not once per ask.
struct EarliestRun {
  private var scheduled: ContinuousClock.Instant?

  /// Whether a run at `instant` must be scheduled (nothing is, or only later); records it if so.
  mutating func claim(_ instant: ContinuousClock.Instant) -> Bool {
    guard scheduled.map({ instant < $0 }) ?? true else { return false }
    scheduled = instant
    return true
  }

  /// Called by the run scheduled for `instant`: `true` if it is the one recorded, which is then
  /// done; `false` for a run superseded by an earlier one.
  mutating func finish(_ instant: ContinuousClock.Instant) -> Bool {
    guard scheduled == instant else { return false }
    scheduled = nil
    return true
  }
}
