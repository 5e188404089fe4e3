/// A token bucket of bytes: `rate` bytes a second, at most `burst` saved up. A pure value.
package struct RateBudget: Sendable, Equatable {
  package let rate: UInt64
  package let burst: UInt64
  private var available: Double
  private var updated: ContinuousClock.Instant

  package init(rate: UInt64, burst: UInt64, now: ContinuousClock.Instant) {
    self.rate = max(1, rate)
    self.burst = max(1, burst)
    available = Double(self.burst)
    updated = now
  }

  /// Takes `bytes` if the bucket holds them now (a request larger than the burst needs a full
  /// bucket); otherwise takes nothing and says when it will hold them.
  package mutating func take(_ bytes: UInt64, at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
    refill(at: now)
    let needed = Double(min(bytes, burst))
    guard available < needed else {
      available -= Double(bytes)
      return nil
    }
    let seconds = (needed - available) / Double(rate)
    return now + .nanoseconds(Int64((seconds * 1e9).rounded(.up)))
  }

  private mutating func refill(at now: ContinuousClock.Instant) {
    guard now > updated else { return }
    let elapsed = (now - updated) / .nanoseconds(1) / 1e9
    available = min(Double(burst), available + elapsed * Double(rate))
    updated = now
  }
}
