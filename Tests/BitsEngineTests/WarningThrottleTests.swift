import BitsEngine
import XCTest

/// The first warning of a cause is written at once; its repeats are counted and written as one
/// line per window; causes are counted apart.
final class WarningThrottleTests: XCTestCase {
  private let start = ContinuousClock.now

  private func at(_ seconds: Double) -> ContinuousClock.Instant {
    start + .milliseconds(Int64(seconds * 1000))
  }

  func testTheFirstOfACauseIsWrittenAndItsRepeatsCounted() {
    var throttle = WarningThrottle<String>(window: .seconds(60))
    XCTAssertTrue(throttle.record("500", at: at(0)))
    for second in 1...999 {
      XCTAssertFalse(throttle.record("500", at: at(Double(second) / 100)), "a repeat within the window")
    }
    XCTAssertTrue(throttle.record("changed", at: at(5)), "another cause is written at once")
    XCTAssertEqual(throttle.due(at: at(30)), [], "nothing is due before the window ends")
    XCTAssertEqual(throttle.due(at: at(60)), [.init(cause: "500", count: 999)])
    XCTAssertFalse(throttle.hasUnwritten)
  }

  func testAFloodIsOneLinePerWindow() {
    var throttle = WarningThrottle<String>(window: .seconds(10))
    var lines = 0
    // A repeat every 10 ms for 100 s, with the flushes a timer would run each second.
    for tick in 0..<10_000 {
      let now = at(Double(tick) / 100)
      if throttle.record("500", at: now) { lines += 1 }
      if tick % 100 == 0 { lines += throttle.due(at: now).count }
    }
    lines += throttle.drain().count
    XCTAssertGreaterThanOrEqual(lines, 10)
    XCTAssertLessThanOrEqual(lines, 12, "about one line per 10 s window over 100 s")
  }

  func testACauseQuietForAWindowIsWrittenAgainAtOnce() {
    var throttle = WarningThrottle<String>(window: .seconds(60))
    XCTAssertTrue(throttle.record("500", at: at(0)))
    XCTAssertEqual(throttle.due(at: at(61)), [], "no repeats, nothing to write")
    XCTAssertTrue(throttle.record("500", at: at(62)), "a window later it is news again")
  }

  func testTheRepeatsLineOpensAWindowOfItsOwn() {
    var throttle = WarningThrottle<String>(window: .seconds(60))
    XCTAssertTrue(throttle.record("500", at: at(0)))
    XCTAssertFalse(throttle.record("500", at: at(1)))
    XCTAssertEqual(throttle.due(at: at(60)), [.init(cause: "500", count: 1)])
    XCTAssertFalse(throttle.record("500", at: at(61)), "counted: the repeats line was written at 60 s")
    XCTAssertEqual(throttle.drain(), [.init(cause: "500", count: 1)])
    XCTAssertEqual(throttle.drain(), [])
  }
}
