import Dispatch
import Logging
import Synchronization

/// Warnings written through a `WarningThrottle`: the first of each cause at once, with its
/// details; its repeats as one line per window with their count; what is left when closed.
package final class ThrottledWarnings: Sendable {
  /// What makes two warnings the same: their message and identifying metadata (a file, a BITS
  /// code), not their details (a range).
  package struct Cause: Hashable, Sendable {
    package var message: String
    package var metadata: [String: String]
  }

  private struct State {
    var throttle: WarningThrottle<Cause>
    var flushScheduled = false
  }

  package let logger: Logger
  // A leaf lock: nothing is logged and no other lock is taken while it is held.
  private let state: Mutex<State>

  package init(logger: Logger, window: Duration = .seconds(60)) {
    self.logger = logger
    state = Mutex(State(throttle: WarningThrottle(window: window)))
  }

  /// Writes `message` as a warning with `cause` and `details` as its metadata, unless the same
  /// message with the same `cause` was written within the window: then it is only counted.
  package func warn(_ message: String, cause: [String: String], details: [String: String] = [:]) {
    guard logger.logLevel <= .warning else { return }
    let key = Cause(message: message, metadata: cause)
    let (write, scheduleFlush) = state.withLock { state -> (Bool, Bool) in
      if state.throttle.record(key, at: .now) { return (true, false) }
      defer { state.flushScheduled = true }
      return (false, !state.flushScheduled)
    }
    if write { logger.warning("\(message)", metadata: logMetadata(cause.merging(details) { $1 })) }
    if scheduleFlush { scheduleFlushAfterWindow() }
  }

  /// Writes the repeats whose window ended.
  package func flush() {
    let (due, again) = state.withLock { state in
      let due = state.throttle.due(at: .now)
      state.flushScheduled = state.throttle.hasUnwritten
      return (due, state.flushScheduled)
    }
    write(due)
    if again { scheduleFlushAfterWindow() }
  }

  /// Writes every repeat not yet written.
  package func close() {
    write(state.withLock { $0.throttle.drain() })
  }

  private func write(_ repeats: [WarningThrottle<Cause>.Repeats]) {
    for each in repeats {
      let times = each.count == 1 ? "once more" : "\(each.count) more times"
      logger.warning("\(each.cause.message) (\(times))", metadata: logMetadata(each.cause.metadata))
    }
  }

  private func scheduleFlushAfterWindow() {
    let window = state.withLock { $0.throttle.window }
    DispatchQueue.global().asyncAfter(deadline: .now() + window.dispatchInterval) { [weak self] in self?.flush() }
  }
}

extension Logger {
  /// A logger that writes nothing: what the engine logs to unless given one.
  package static let disabled = Logger(label: "bitsfs", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// `fields` as log metadata.
package func logMetadata(_ fields: [String: String]) -> Logger.Metadata {
  fields.mapValues { .string($0) }
}
