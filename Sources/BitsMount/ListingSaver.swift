import BitsEngine
import CLinux
import Dispatch
import Glibc
import Synchronization

/// Writes listings to the listing store, in the order they came, on a thread of its own, once
/// no listing has come for ``quietPeriod`` (or more than ``pendingLimit`` entries wait), and
/// only when the CPU is otherwise idle (SCHED_IDLE): the copies on disk are for the next
/// mount, and writing a file per directory while a walk over a tree reads listings took a
/// third of the walk's time, even at the lowest priority. The thread runs only while listings
/// wait; `finish()` (at unmount) writes what is left on the caller's thread, at once.
/// Locks: `state` is a leaf.
final class ListingSaver: Sendable {
  private struct Item: Sendable {
    var listing: DirectoryListing
    var location: DirectoryLocation
    var resolved: DirectoryLocation
  }

  /// What the thread does next.
  private enum Step {
    case write(Item)
    case wait(Duration)
    case end
  }

  private struct State {
    var pending = FirstInFirstOut<Item>()
    var pendingEntries = 0
    var lastArrival = ContinuousClock.now
    var isWriting = false

    mutating func take() -> Item? {
      guard let item = pending.popFirst() else { return nil }
      pendingEntries -= item.listing.entries.count
      return item
    }
  }

  /// How long no listing must have come before the thread writes.
  let quietPeriod: Duration
  /// The most entries that wait for the quiet period; past it the thread writes at once.
  let pendingLimit: Int
  private let store: ListingStore
  private let state = Mutex(State())
  /// Entered while the thread runs.
  private let writing = DispatchGroup()
  /// Ends the thread's wait for the quiet period (`finish()`).
  private let wake = DispatchSemaphore(value: 0)

  init(store: ListingStore, quietPeriod: Duration = .milliseconds(500), pendingLimit: Int = 200_000) {
    self.store = store
    self.quietPeriod = quietPeriod
    self.pendingLimit = pendingLimit
  }

  /// Keeps `listing` of `location` (read from `resolved`) in the store, soon.
  func save(_ listing: DirectoryListing, of location: DirectoryLocation, readFrom resolved: DirectoryLocation) {
    let start = state.withLock { state -> Bool in
      state.pending.append(Item(listing: listing, location: location, resolved: resolved))
      state.pendingEntries += listing.entries.count
      state.lastArrival = .now
      defer { state.isWriting = true }
      return !state.isWriting
    }
    guard start else { return }
    writing.enter()
    startThread(named: "bitsfs-store") { [self] in
      bitsfs_run_when_idle()
      while true {
        switch nextStep() {
        case .write(let item): write(item)
        case .wait(let pause): _ = wake.wait(timeout: .now() + pause.dispatchInterval)
        case .end:
          writing.leave()
          return
        }
      }
    }
  }

  private func nextStep() -> Step {
    state.withLock { state in
      guard !state.pending.isEmpty else {
        state.isWriting = false
        return .end
      }
      let quiet = ContinuousClock.now - state.lastArrival
      if quiet < quietPeriod, state.pendingEntries <= pendingLimit { return .wait(quietPeriod - quiet) }
      return state.take().map(Step.write) ?? .end
    }
  }

  private func write(_ item: Item) {
    store.save(item.listing, of: item.location, readFrom: item.resolved)
  }

  /// Writes every listing saved so far, here, and waits (at most `timeout`) for the one the
  /// thread may be writing; whether all are written.
  @discardableResult
  func finish(timeout: Duration = .seconds(10)) -> Bool {
    while let item = state.withLock({ $0.take() }) { write(item) }
    wake.signal()
    return writing.wait(timeout: .now() + timeout.dispatchInterval) == .success
  }
}
