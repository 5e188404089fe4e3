import XCTest

@testable import BitsEngine

final class EarliestRunTests: XCTestCase {
  func testOnlyAnEarlierTimeNeedsARunAndOnlyTheRecordedRunFinishes() {
    let start = ContinuousClock.now
    let (early, middle, late) = (start + .seconds(5), start + .seconds(10), start + .seconds(20))
    var run = EarliestRun()
    XCTAssertTrue(run.claim(middle), "nothing is scheduled yet")
    XCTAssertFalse(run.claim(late), "the run at 10 s covers a request for 20 s")
    XCTAssertFalse(run.claim(middle))
    XCTAssertTrue(run.claim(early), "a request for 5 s needs its own run")
    XCTAssertFalse(run.finish(middle), "the run at 10 s was superseded")
    XCTAssertTrue(run.finish(early))
    XCTAssertTrue(run.claim(late), "after the recorded run, a new one is needed")
  }
}
