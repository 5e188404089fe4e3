import Dispatch

/// The conversions of `Duration` that the clock-less APIs around it take.
extension Duration {
  /// The duration in seconds, as a floating-point number.
  package var seconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) * 1e-18
  }

  /// Whole milliseconds, rounded down (libcurl's timeouts).
  package var milliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }

  /// Rounded up to the microsecond, so that work scheduled for a deadline never runs before it.
  package var dispatchInterval: DispatchTimeInterval {
    let (seconds, attoseconds) = components
    return .microseconds(Int(seconds) * 1_000_000 + Int((attoseconds + 999_999_999_999) / 1_000_000_000_000))
  }
}
