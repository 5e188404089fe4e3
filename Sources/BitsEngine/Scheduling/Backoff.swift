/// The pause before each retry of a transient failure: `initial`, doubling with each attempt,
/// never more than `maximum`. Every retry of the engine (version probes, range requests) uses it.
package struct Backoff: Sendable, Equatable {
  package var initial: Duration
  package var maximum: Duration

  package init(initial: Duration, maximum: Duration) {
    self.initial = initial
    self.maximum = maximum
  }

  /// The pause before retry number `attempt` (1 for the first retry).
  package func delay(beforeAttempt attempt: Int) -> Duration {
    // 2^20 times any sensible initial delay is past any maximum; the cap keeps the shift defined.
    let exponent = min(max(attempt, 1) - 1, 20)
    return min(initial * (1 << exponent), maximum)
  }
}
