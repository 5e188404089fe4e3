import Dispatch
import Synchronization
import XCTest

@testable import BitsEngine

/// The listing threads run every job given, once each, off the caller's thread, as many at once
/// as there are threads.
final class ListingThreadsTests: XCTestCase {
  func testEveryJobRunsOnceOffTheCallersThread() {
    let threads = ListingThreads(count: 2)
    let runs = Mutex<[Int: Int]>([:])
    let onCaller = Atomic<Int>(0)
    let done = DispatchGroup()
    let caller = pthread_self()
    for index in 0..<500 {
      done.enter()
      threads.run {
        if pthread_equal(pthread_self(), caller) != 0 { onCaller.add(1, ordering: .relaxed) }
        runs.withLock { $0[index, default: 0] += 1 }
        done.leave()
      }
    }
    XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(runs.withLock { $0 }, Dictionary(uniqueKeysWithValues: (0..<500).map { ($0, 1) }))
    XCTAssertEqual(onCaller.load(ordering: .relaxed), 0)
  }

  func testAJobThatWaitsDoesNotHoldUpTheNextOnes() {
    let threads = ListingThreads(count: 3)
    let release = DispatchSemaphore(value: 0)
    let blocked = DispatchGroup()
    for _ in 0..<2 {
      blocked.enter()
      threads.run {
        _ = release.wait(timeout: .now() + 10)
        blocked.leave()
      }
    }
    let later = DispatchSemaphore(value: 0)
    threads.run { later.signal() }
    XCTAssertEqual(later.wait(timeout: .now() + 5), .success, "a third thread runs the job behind two that wait")
    release.signal()
    release.signal()
    XCTAssertEqual(blocked.wait(timeout: .now() + 10), .success)
  }
}
