import XCTest

@testable import BitsEngine

final class ReadWaitersTests: XCTestCase {
  private let start = ContinuousClock.now

  func testReadersAreReadyOnlyOnceAllTheirBytesAreFilled() {
    var waiters = ReadWaiters<Int>()
    _ = waiters.add(0..<100, deadline: start + .seconds(1), completion: 1)
    _ = waiters.add(50..<150, deadline: start + .seconds(1), completion: 2)
    _ = waiters.add(500..<600, deadline: start + .seconds(1), completion: 3)
    var filled = ByteRangeSet([0..<100])
    XCTAssertEqual(waiters.takeReady(after: 0..<100, filled: filled).map(\.completion), [1])
    filled.insert(100..<150)
    XCTAssertEqual(waiters.takeReady(after: 100..<150, filled: filled).map(\.completion), [2])
    filled.insert(500..<600)
    XCTAssertEqual(waiters.takeReady(after: 0..<10, filled: filled).map(\.completion), [], "only readers of the change")
    XCTAssertEqual(waiters.count, 1)
  }

  func testSmallReadersInsideReceivedBytesAreTakenAndLargeOnesWait() {
    var waiters = ReadWaiters<Int>()
    _ = waiters.add(10..<20, deadline: start, completion: 1)
    _ = waiters.add(0..<1000, deadline: start, completion: 2)
    _ = waiters.add(90..<110, deadline: start, completion: 3)
    XCTAssertEqual(waiters.takeContained(in: 0..<100, maximumCount: 500).map(\.completion), [1])
    XCTAssertEqual(waiters.takeContained(in: 0..<1000, maximumCount: 500).map(\.completion), [3])
    XCTAssertEqual(waiters.ranges, [0..<1000])
  }

  func testOneDeadlineCheckAtATimeForTheEarliestDeadline() {
    var waiters = ReadWaiters<Int>()
    let (early, late) = (start + .seconds(1), start + .seconds(5))
    XCTAssertTrue(waiters.add(0..<1, deadline: late, completion: 1))
    XCTAssertFalse(waiters.add(1..<2, deadline: late + .seconds(1), completion: 2), "covered by the check at 5 s")
    XCTAssertTrue(waiters.add(2..<3, deadline: early, completion: 3), "an earlier deadline needs its own check")
    let first = waiters.checkDeadlines(scheduledAt: early, now: early)
    XCTAssertEqual(first.expired.map(\.completion), [3])
    XCTAssertEqual(first.nextCheck, late)
    let last = waiters.checkDeadlines(scheduledAt: late, now: late + .seconds(1))
    XCTAssertEqual(last.expired.map(\.completion), [1, 2])
    XCTAssertNil(last.nextCheck)
    // The first check at 5 s (scheduled with the first reader) runs too, and finds it done.
    let duplicate = waiters.checkDeadlines(scheduledAt: late, now: late + .seconds(1))
    XCTAssertEqual(duplicate.expired.map(\.completion), [])
    XCTAssertNil(duplicate.nextCheck)
    XCTAssertTrue(waiters.isEmpty)
  }
}

final class PendingCommitsTests: XCTestCase {
  func testAdjacentRangesMergeAndOnlyTheEarliestRunCommits() {
    let start = ContinuousClock.now
    var commits = PendingCommits()
    commits.add(0..<10)
    commits.add(10..<20)
    commits.add(30..<40)
    XCTAssertEqual(commits.ranges, [0..<20, 30..<40])
    XCTAssertTrue(commits.schedule(at: start + .seconds(1)))
    XCTAssertFalse(commits.schedule(at: start + .seconds(2)))
    XCTAssertTrue(commits.schedule(at: start + .milliseconds(100)))
    XCTAssertNil(commits.take(scheduledFor: start + .seconds(1)), "superseded by the run at 100 ms")
    XCTAssertEqual(commits.take(scheduledFor: start + .milliseconds(100)), [0..<20, 30..<40])
    XCTAssertEqual(commits.take(scheduledFor: nil), [], "a commit at once takes whatever is left")
    commits.add(0..<5)
    commits.discard()
    XCTAssertEqual(commits.ranges, [])
  }

  func testEvictedBytesAreNoLongerToBeCommitted() {
    var commits = PendingCommits()
    commits.add(0..<100)
    commits.add(200..<300)
    commits.remove(50..<60)
    XCTAssertEqual(commits.ranges, [0..<50, 60..<100, 200..<300])
    commits.remove(0..<50)
    commits.remove(90..<250)
    XCTAssertEqual(commits.ranges, [60..<90, 250..<300])
    commits.remove(300..<400)
    commits.remove(0..<1000)
    XCTAssertEqual(commits.ranges, [])
  }
}

final class RangeReportThrottleTests: XCTestCase {
  func testReportsComeNoMoreOftenThanTheInterval() {
    let start = ContinuousClock.now
    var throttle = RangeReportThrottle(minimumInterval: .milliseconds(500))
    XCTAssertEqual(throttle.next(now: start), .nothing)
    throttle.add(0..<10)
    XCTAssertEqual(throttle.next(now: start), .report([FileRange(offset: 0, length: 10)]))
    throttle.add(10..<20)
    XCTAssertEqual(throttle.next(now: start + .milliseconds(100)), .flush(after: .milliseconds(400)))
    throttle.add(30..<40)
    XCTAssertEqual(throttle.next(now: start + .milliseconds(200)), .nothing, "one flush is scheduled already")
    XCTAssertEqual(
      throttle.flush(now: start + .milliseconds(500)),
      .report([FileRange(offset: 10, length: 10), FileRange(offset: 30, length: 10)]))
  }
}
