/// Which requests the files of one job may start, across files: a pure value with no locks and
/// no I/O, owned by the job. Each file's `RangeScheduler` orders its own pieces; this decides
/// between files.
///
/// Rules: a reader's request (`foreground`) and read-ahead (`high`) always start, as they did
/// without it. Background fill (`normal`, `low`) yields to readers: it starts only while no
/// reader's request is in flight anywhere in the job, at most `maximumBackground` at once in
/// the job, the more urgent priority first. A file refused waits; when a request ends, the
/// waiting files are told to try again, the most urgent first, in the order they were refused.
package struct JobAdmission: Sendable {
  /// Who asks: a file of the job, however the job names it.
  package typealias Requester = ObjectIdentifier

  /// What `admit` says.
  package enum Verdict: Sendable, Equatable {
    case start
    /// Refused until a request ends.
    case wait
    /// Refused until the byte budget holds the request's bytes, at this instant (or a request
    /// ends).
    case waitUntil(ContinuousClock.Instant)
  }

  /// Background requests in flight at once in the job.
  package var maximumBackground: Int
  /// The bytes background requests may ask for over time; `nil` for no cap.
  package private(set) var budget: RateBudget?
  package private(set) var foregroundInFlight = 0
  package private(set) var backgroundInFlight = 0
  /// Files refused, each with the most urgent priority it was refused at, in refusal order.
  package private(set) var waiting: [(requester: Requester, priority: TransferPriority)] = []

  package init(maximumBackground: Int, budget: RateBudget? = nil) {
    self.maximumBackground = max(1, maximumBackground)
    self.budget = budget
  }

  static func isBackground(_ priority: TransferPriority) -> Bool {
    priority == .normal || priority == .low
  }

  /// Whether `requester` may start a request of `priority` for `bytes` now; a refused one waits
  /// for `ended(_:)` or `wake()` to name it.
  package mutating func admit(
    _ priority: TransferPriority, bytes: UInt64, for requester: Requester, at now: ContinuousClock.Instant
  ) -> Verdict {
    guard Self.isBackground(priority) else {
      if priority == .foreground { foregroundInFlight += 1 }
      return .start
    }
    var verdict = Verdict.wait
    if foregroundInFlight == 0, backgroundInFlight < maximumBackground {
      guard let later = budget?.take(bytes, at: now) else {
        backgroundInFlight += 1
        return .start
      }
      verdict = .waitUntil(later)
    }
    wait(requester, at: priority)
    return verdict
  }

  /// `requester` waits to start a request of `priority`: a file whose request ends and that has
  /// more to ask waits with the others, so the room its request leaves goes to the most urgent.
  package mutating func wait(_ requester: Requester, at priority: TransferPriority) {
    if let index = waiting.firstIndex(where: { $0.requester == requester }) {
      waiting[index].priority = min(waiting[index].priority, priority)
    } else {
      waiting.append((requester, priority))
    }
  }

  /// A request of `priority` admitted before ended (finished, failed or cancelled): the files
  /// to try again, most urgent first, if that made room; they no longer wait.
  package mutating func ended(_ priority: TransferPriority) -> [Requester] {
    switch priority {
    case .foreground: foregroundInFlight = max(0, foregroundInFlight - 1)
    case .high: return []
    case .normal, .low: backgroundInFlight = max(0, backgroundInFlight - 1)
    }
    return wake()
  }

  /// `requester` left the job (closed): it no longer waits; the files to try again, if its
  /// leaving made room (it waited with a more urgent priority).
  package mutating func forget(_ requester: Requester) -> [Requester] {
    waiting.removeAll { $0.requester == requester }
    return wake()
  }

  /// The waiting files to try again if there is room (the budget may still refuse them), most
  /// urgent first; they no longer wait.
  package mutating func wake() -> [Requester] {
    guard foregroundInFlight == 0, backgroundInFlight < maximumBackground, !waiting.isEmpty else { return [] }
    let woken = TransferPriority.allCases.flatMap { priority in
      waiting.filter { $0.priority == priority }.map(\.requester)
    }
    waiting.removeAll()
    return woken
  }
}
