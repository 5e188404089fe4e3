import Dispatch

/// Making filled ranges durable in the cache journal, batched (`PendingCommits`), on the
/// serial `persistQueue` so that a commit of one version can never land after the reset for
/// the next.
extension DownloadFile {
  /// Makes sure a commit runs within `delay`; commits already due sooner cover it.
  func scheduleCommit(within delay: Duration, _ state: inout State) {
    let due = ContinuousClock.now + delay
    guard state.commits.schedule(at: due) else { return }
    persistQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
      self?.commitOnPersistQueue(scheduledFor: due)
    }
  }

  /// Makes every filled range durable in the journal now.
  func commitNow() {
    persistQueue.sync { commitOnPersistQueue(scheduledFor: nil) }
  }

  /// Commits what is filled so far: now (`due` is `nil`), or as the run scheduled for `due`.
  private func commitOnPersistQueue(scheduledFor due: ContinuousClock.Instant?) {
    let taken = state.withLock { state -> ([Range<UInt64>], DataFile)? in
      guard let ranges = state.commits.take(scheduledFor: due), let data = state.data else { return nil }
      return (ranges, data)
    }
    guard let (ranges, data) = taken, !ranges.isEmpty else { return }
    do {
      try cache.commit(ranges, data: data)
    } catch {
      // The ranges stay unjournalled (fetched again after a restart); the failure is kept for
      // `bitsfs status`, and told to the job off this queue: it reacts by suspending, which
      // commits on this very queue.
      state.withLock { $0.lastError = error }
      callbackQueue.async { self.notify(self, .failed(error)) }
    }
  }
}
