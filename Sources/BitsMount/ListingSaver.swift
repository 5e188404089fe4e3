import BitsEngine
import CLinux
import Dispatch
import Glibc
import Synchronization

/// Writes listings to the listing store, in the order they came, on a thread of its own that
/// runs only when the CPU is otherwise idle (SCHED_IDLE): the copies on disk are for the next mount, and writing one
/// file per directory as it arrived took a sixth of the CPU of a walk over a tree, which waited
/// for it. The thread runs only while listings wait; `finish()` (at unmount) writes what is
/// left on the caller's thread, at the caller's priority. Locks: `state` is a leaf.
final class ListingSaver: Sendable {
  private struct Item: Sendable {
    var listing: DirectoryListing
    var location: DirectoryLocation
    var resolved: DirectoryLocation
  }

  private struct State {
    var pending: [Item] = []
    /// The first of `pending` not taken yet.
    var next = 0
    var isWriting = false

    mutating func take() -> Item? {
      guard next < pending.count else {
        pending = []
        next = 0
        return nil
      }
      defer { next += 1 }
      return pending[next]
    }
  }

  private let store: ListingStore
  private let state = Mutex(State())
  /// Entered while the thread runs.
  private let writing = DispatchGroup()

  init(store: ListingStore) {
    self.store = store
  }

  /// Keeps `listing` of `location` (read from `resolved`) in the store, soon.
  func save(_ listing: DirectoryListing, of location: DirectoryLocation, readFrom resolved: DirectoryLocation) {
    let start = state.withLock { state -> Bool in
      state.pending.append(Item(listing: listing, location: location, resolved: resolved))
      defer { state.isWriting = true }
      return !state.isWriting
    }
    guard start else { return }
    writing.enter()
    startThread(named: "bitsfs-store") { [self] in
      bitsfs_run_when_idle()
      while let item = take(endingTheThread: true) { write(item) }
      writing.leave()
    }
  }

  /// The next listing to write; `nil` when none waits, which ends the thread if `endingTheThread`.
  private func take(endingTheThread: Bool) -> Item? {
    state.withLock { state in
      let item = state.take()
      if item == nil, endingTheThread { state.isWriting = false }
      return item
    }
  }

  private func write(_ item: Item) {
    store.save(item.listing, of: item.location, readFrom: item.resolved)
  }

  /// Writes every listing saved so far, here, and waits (at most `timeout`) for the one the
  /// thread may be writing; whether all are written.
  @discardableResult
  func finish(timeout: Duration = .seconds(10)) -> Bool {
    while let item = take(endingTheThread: false) { write(item) }
    return writing.wait(timeout: .now() + timeout.dispatchInterval) == .success
  }
}
