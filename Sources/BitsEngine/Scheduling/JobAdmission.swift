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

  /// Background requests in flight at once in the job.
  package var maximumBackground: Int
  package private(set) var foregroundInFlight = 0
  package private(set) var backgroundInFlight = 0
  /// Files refused, each with the most urgent priority it was refused at, in refusal order.
  package private(set) var waiting: [(requester: Requester, priority: TransferPriority)] = []

  package init(maximumBackground: Int) {
    self.maximumBackground = max(1, maximumBackground)
  }

  static func isBackground(_ priority: TransferPriority) -> Bool {
    priority == .normal || priority == .low
  }

  /// Whether `requester` may start a request of `priority` now; a refused one waits for
  /// `ended(_:)` to name it.
  package mutating func admit(_ priority: TransferPriority, for requester: Requester) -> Bool {
    guard Self.isBackground(priority) else {
      if priority == .foreground { foregroundInFlight += 1 }
      return true
    }
    guard foregroundInFlight == 0, backgroundInFlight < maximumBackground else {
      if let index = waiting.firstIndex(where: { $0.requester == requester }) {
        waiting[index].priority = min(waiting[index].priority, priority)
      } else {
        waiting.append((requester, priority))
      }
      return false
    }
    backgroundInFlight += 1
    return true
  }

  /// A request of `priority` admitted before ended (finished, failed or cancelled): the files
  /// to try again, most urgent first, if that made room; they no longer wait.
  package mutating func ended(_ priority: TransferPriority) -> [Requester] {
    switch priority {
    case .foreground: foregroundInFlight = max(0, foregroundInFlight - 1)
    case .high: return []
    case .normal, .low: backgroundInFlight = max(0, backgroundInFlight - 1)
    }
    return wakeIfRoom()
  }

  /// `requester` left the job (closed): it no longer waits; the files to try again, if its
  /// leaving made room (it waited with a more urgent priority).
  package mutating func forget(_ requester: Requester) -> [Requester] {
    waiting.removeAll { $0.requester == requester }
    return wakeIfRoom()
  }

  private mutating func wakeIfRoom() -> [Requester] {
    guard foregroundInFlight == 0, backgroundInFlight < maximumBackground, !waiting.isEmpty else { return [] }
    let woken = TransferPriority.allCases.flatMap { priority in
      waiting.filter { $0.priority == priority }.map(\.requester)
    }
    waiting.removeAll()
    return woken
  }
}
