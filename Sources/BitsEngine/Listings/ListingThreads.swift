import Dispatch
import Synchronization

/// The threads that parse listings: started when first needed and kept, each taking the next
/// job in the order given. A thread made for each listing cost more than parsing a small one
/// (a walk over a tree reads one a directory). Not the dispatch pool, whose threads callers may
/// be holding while they wait for a listing. Locks: `jobs` is a leaf.
final class ListingThreads: Sendable {
  static let shared = ListingThreads(count: 4)

  private struct Jobs {
    var waiting = FirstInFirstOut<@Sendable () -> Void>()
    var isStarted = false
  }

  private let count: Int
  private let jobs = Mutex(Jobs())
  /// Signalled once per job given.
  private let given = DispatchSemaphore(value: 0)

  init(count: Int) {
    self.count = count
  }

  /// Runs `job` on one of the threads, soon.
  func run(_ job: @escaping @Sendable () -> Void) {
    let start = jobs.withLock { jobs -> Bool in
      jobs.waiting.append(job)
      defer { jobs.isStarted = true }
      return !jobs.isStarted
    }
    if start {
      for _ in 0..<count {
        startThread(named: "bitsfs-listing") { [self] in
          while true {
            given.wait()
            jobs.withLock { $0.waiting.popFirst() }?()
          }
        }
      }
    }
    given.signal()
  }
}
