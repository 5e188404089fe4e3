import XCTest

@testable import BitsEngine

final class ForegroundYieldTests: XCTestCase {
  private let start = ContinuousClock.now

  func testNothingYieldsBeforeAnyForegroundTransfer() {
    let yield = ForegroundYield(grace: .milliseconds(20))
    XCTAssertFalse(yield.yields(at: start))
    XCTAssertNil(yield.resumes(after: start))
  }

  func testBackgroundYieldsWhileAnyForegroundTransferIsInFlightWithNoEndInSight() {
    var yield = ForegroundYield(grace: .milliseconds(20))
    yield.transferBegan()
    yield.transferBegan()
    yield.transferEnded(at: start)
    XCTAssertTrue(yield.yields(at: start + .seconds(60)), "one of the two is still in flight")
    XCTAssertNil(yield.resumes(after: start + .seconds(60)))
  }

  func testBackgroundYieldsForTheGraceAfterTheLastEndedAndThenResumes() {
    var yield = ForegroundYield(grace: .milliseconds(20))
    yield.transferBegan()
    yield.transferEnded(at: start)
    XCTAssertTrue(yield.yields(at: start + .milliseconds(19)))
    XCTAssertEqual(yield.resumes(after: start + .milliseconds(19)), start + .milliseconds(20))
    XCTAssertFalse(yield.yields(at: start + .milliseconds(20)))
    XCTAssertNil(yield.resumes(after: start + .milliseconds(20)))
  }

  func testAReaderAskingAgainWithinTheGraceKeepsBackgroundPaused() {
    var yield = ForegroundYield(grace: .milliseconds(20))
    for step in 0..<10 {
      let now = start + .milliseconds(15 * step)
      XCTAssertEqual(yield.yields(at: now), step > 0, "step \(step)")
      yield.transferBegan()
      yield.transferEnded(at: now + .milliseconds(1))
    }
    XCTAssertFalse(yield.yields(at: start + .milliseconds(15 * 9 + 21)))
  }

  func testMoreEndsThanBeginningsDoNotGoBelowZero() {
    var yield = ForegroundYield(grace: .zero)
    yield.transferEnded(at: start)
    yield.transferBegan()
    XCTAssertTrue(yield.yields(at: start + .seconds(1)))
  }
}
