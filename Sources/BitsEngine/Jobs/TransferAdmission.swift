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
  }

  private let state: Mutex<State>

  init(maximumBackground: Int) {
    state = Mutex(State(admission: JobAdmission(maximumBackground: maximumBackground)))
  }

  /// Whether `file` may start a request of `priority` now; a refused file is woken
  /// (`startQueuedPieces`) once there is room.
  func admit(_ priority: TransferPriority, for file: DownloadFile) -> Bool {
    state.withLock { state in
      let admitted = state.admission.admit(priority, for: ObjectIdentifier(file))
      if !admitted { state.files[ObjectIdentifier(file)] = Known(file: file) }
      return admitted
    }
  }

  /// Requests admitted before ended, of these priorities: files refused meanwhile try again.
  func ended(_ priorities: [TransferPriority]) {
    guard !priorities.isEmpty else { return }
    wake(state.withLock { state in priorities.flatMap { state.admission.ended($0) }.compactMap { take($0, &state) } })
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
