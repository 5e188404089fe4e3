import BitsEngine
import BitsMount
import FoundationEssentials
import Glibc

/// Shows a job's progress: a redrawn bar on a terminal, a plain line every few seconds otherwise.
final class ProgressReporter {
  private let quiet: Bool
  private let isTerminal = isatty(STDERR_FILENO) == 1
  private let started = ContinuousClock.now
  private var lastLine = ContinuousClock.now
  private var samples: [(ContinuousClock.Instant, UInt64)] = []
  private var drewBar = false

  init(quiet: Bool) {
    self.quiet = quiet
  }

  func show(_ progress: JobProgress, state: JobState) {
    guard !quiet, state != .error else { return }
    let now = ContinuousClock.now
    samples.append((now, progress.bytesTransferred))
    samples.removeAll { now - $0.0 > .seconds(5) }
    let rate = currentRate()
    let total = progress.bytesTotal
    let percent = total.map { $0 == 0 ? 100 : Double(progress.bytesTransferred) * 100 / Double($0) }
    let eta = total.flatMap { total -> String? in
      guard rate > 0 else { return nil }
      return Self.duration(Double(total - min(total, progress.bytesTransferred)) / rate)
    }
    let amounts =
      "\(TextFormat.bytes(progress.bytesTransferred)) / \(total.map(TextFormat.bytes) ?? "?")  \(TextFormat.bytes(UInt64(rate)))/s"
    if isTerminal {
      let width = 30
      let filled = Int((percent ?? 0) / 100 * Double(width))
      let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
      let line = "[\(bar)] \(Self.percent(percent ?? 0))  \(amounts)  ETA \(eta ?? "--")  \(state.rawValue)"
      writeToStandardError("\r\(line)\u{1B}[K")
      drewBar = true
    } else if now - lastLine >= .seconds(2) || state.isSettled {
      lastLine = now
      let line = "\(Self.percent(percent ?? 0))  \(amounts)  ETA \(eta ?? "--")  \(state.rawValue)"
      writeToStandardError(line + "\n")
    }
  }

  func finish() {
    if drewBar { writeToStandardError("\n") }
  }

  private func currentRate() -> Double {
    guard let first = samples.first, let last = samples.last, last.0 > first.0 else { return 0 }
    return Double(last.1 - min(last.1, first.1)) / (last.0 - first.0).seconds
  }

  static func duration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    let seconds = total % 60
    return "\(total / 60):\(seconds < 10 ? "0" : "")\(seconds)"
  }

  /// A percentage right-aligned in 6 columns, e.g. ` 42.0%`.
  static func percent(_ value: Double) -> String {
    let text = TextFormat.oneDecimal(value) + "%"
    return String(repeating: " ", count: max(0, 6 - text.count)) + text
  }
}
