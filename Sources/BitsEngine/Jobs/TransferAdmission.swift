import Dispatch
import Synchronization

/// The job's `JobAdmission` and the files it may wake. Lock: `state` is a leaf, taken under a
/// file's state lock (file, then admission) and never the other way; files are woken with no
/// lock held.
final class TransferAdmission: Sendable {
  private struct Known {
    weak var file: DownloadFile?
  }

  private struct State {
    var admission: JobAdmission
    var files: [ObjectIdentifier: Known] = [:]
    /// When the wake for a refill of the budget is due, if one is.
    var wakeDue: ContinuousClock.Instant?
  }

  private let state: Mutex<State>

  /// `rate`: the bytes a second background requests may ask for, with a quarter second's
  /// worth saved up at most.
  init(maximumBackground: Int, rate: UInt64?) {
    let budget = rate.map { RateBudget(rate: $0, burst: max($0 / 4, 1), now: .now) }
    state = Mutex(State(admission: JobAdmission(maximumBackground: maximumBackground, budget: budget)))
  }

  /// Whether `file` may start a request of `priority` for `bytes` now; a refused file is woken
  /// (`startQueuedPieces`) once there is room.
  func admit(_ priority: TransferPriority, bytes: UInt64, for file: DownloadFile) -> Bool {
    let now = ContinuousClock.now
    let (verdict, scheduleWake) = state.withLock { state -> (JobAdmission.Verdict, Bool) in
      let verdict = state.admission.admit(priority, bytes: bytes, for: ObjectIdentifier(file), at: now)
      guard verdict != .start else { return (verdict, false) }
      state.files[ObjectIdentifier(file)] = Known(file: file)
      guard case .waitUntil(let due) = verdict, state.wakeDue.map({ due < $0 }) ?? true else {
        return (verdict, false)
      }
      state.wakeDue = due
      return (verdict, true)
    }
    if scheduleWake, case .waitUntil(let due) = verdict {
      DispatchQueue.global().asyncAfter(deadline: .now() + (due - now).dispatchInterval) { [weak self] in
        self?.budgetRefilled(due)
      }
    }
    return verdict == .start
  }

  private func budgetRefilled(_ due: ContinuousClock.Instant) {
    wake(
      state.withLock { state in
        if state.wakeDue == due { state.wakeDue = nil }
        return state.admission.wake().compactMap { take($0, &state) }
      })
  }

  /// Requests of `file` admitted before ended, of these priorities: files refused meanwhile
  /// try again, and `file` with them when it has background work queued (`next`, its most
  /// urgent), the most urgent first.
  func ended(_ priorities: [TransferPriority], by file: DownloadFile, next: TransferPriority? = nil) {
    guard !priorities.isEmpty else { return }
    wake(
      state.withLock { state in
        if let next, JobAdmission.isBackground(next) {
          state.admission.wait(ObjectIdentifier(file), at: next)
          state.files[ObjectIdentifier(file)] = Known(file: file)
        }
        return priorities.flatMap { state.admission.ended($0) }.compactMap { take($0, &state) }
      })
  }

  /// `file` left the job.
  func forget(_ file: DownloadFile) {
    wake(
      state.withLock { state in
        state.files[ObjectIdentifier(file)] = nil
        return state.admission.forget(ObjectIdentifier(file)).compactMap { take($0, &state) }
      })
  }

  private func take(_ requester: ObjectIdentifier, _ state: inout State) -> DownloadFile? {
    state.files.removeValue(forKey: requester)?.file
  }

  private func wake(_ files: [DownloadFile]) {
    for file in files { file.startQueuedPieces() }
  }
}
