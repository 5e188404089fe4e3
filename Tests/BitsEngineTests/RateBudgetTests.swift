import XCTest

@testable import BitsEngine

final class RateBudgetTests: XCTestCase {
  let start = ContinuousClock.now

  func testTakesWhatItHoldsAndSaysWhenItWillHoldMore() {
    var budget = RateBudget(rate: 1000, burst: 500, now: start)
    XCTAssertNil(budget.take(500, at: start), "starts full")
    XCTAssertEqual(budget.take(250, at: start), start + .milliseconds(250))
    XCTAssertNil(budget.take(250, at: start + .milliseconds(250)))
    XCTAssertNil(budget.take(500, at: start + .seconds(10)), "never more than the burst saved")
    XCTAssertNotNil(budget.take(1, at: start + .seconds(10)))
  }

  func testARequestLargerThanTheBurstWaitsForAFullBucketAndOwesTheRest() {
    var budget = RateBudget(rate: 1000, burst: 100, now: start)
    XCTAssertNil(budget.take(400, at: start), "a full bucket lets it start")
    // 300 owed: the bucket holds 100 again only after 0.4 s.
    XCTAssertEqual(budget.take(100, at: start), start + .milliseconds(400))
    XCTAssertNil(budget.take(100, at: start + .milliseconds(400)))
  }

  func testOverAnyLongRunTheBytesTakenKeepToTheRate() {
    var budget = RateBudget(rate: 10_000, burst: 2_000, now: start)
    var now = start
    var taken: UInt64 = 0
    while now < start + .seconds(10) {
      if let later = budget.take(1_500, at: now) { now = later } else { taken += 1_500 }
    }
    XCTAssertLessThanOrEqual(taken, 10_000 * 10 + 2_000 + 1_500)
    XCTAssertGreaterThanOrEqual(taken, 10_000 * 10 - 1_500)
  }
}
