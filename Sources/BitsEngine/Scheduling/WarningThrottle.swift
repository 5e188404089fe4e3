/// Which warnings reach the log: the first of each cause at once, and its repeats as one line
/// with their count per window, so a cause that recurs for every read (a server answering 500,
/// a file that changed) never floods the log. A pure value; time is passed in.
package struct WarningThrottle<Cause: Hashable & Sendable>: Sendable {
  /// Repeats of `cause` since it was last written, to be written now as one line.
  package struct Repeats: Sendable, Equatable {
    package var cause: Cause
    package var count: Int

    package init(cause: Cause, count: Int) {
      self.cause = cause
      self.count = count
    }
  }

  package let window: Duration
  /// When each cause was last written; kept for one window.
  private var written: [Cause: ContinuousClock.Instant] = [:]
  /// Repeats not yet written, by cause.
  private var unwritten: [Cause: Int] = [:]

  package init(window: Duration) {
    self.window = window
  }

  /// Whether a cause has repeats waiting for their window to end.
  package var hasUnwritten: Bool { !unwritten.isEmpty }

  /// Counts one occurrence of `cause` at `now`: `true` when it is to be written now (the first
  /// of its window), `false` when it is only counted as a repeat.
  package mutating func record(_ cause: Cause, at now: ContinuousClock.Instant) -> Bool {
    if let last = written[cause], now - last < window {
      unwritten[cause, default: 0] += 1
      return false
    }
    written[cause] = now
    return true
  }

  /// The repeats whose window ended by `now`, to be written as one line each; forgets causes
  /// quiet for a window.
  package mutating func due(at now: ContinuousClock.Instant) -> [Repeats] {
    var due: [Repeats] = []
    for (cause, count) in unwritten where written[cause].map({ now - $0 >= window }) ?? true {
      due.append(Repeats(cause: cause, count: count))
      unwritten[cause] = nil
      // The line of repeats opens a window of its own: a flood stays one line per window.
      written[cause] = now
    }
    written = written.filter { cause, last in unwritten[cause] != nil || now - last < window }
    return due
  }

  /// Every repeat not yet written, whatever its window (the log is closing).
  package mutating func drain() -> [Repeats] {
    defer { unwritten = [:] }
    return unwritten.map { Repeats(cause: $0.key, count: $0.value) }
  }
}
