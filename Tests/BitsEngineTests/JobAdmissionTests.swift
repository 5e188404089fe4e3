import XCTest

@testable import BitsEngine

final class JobAdmissionTests: XCTestCase {
  private final class Requester {}
  private let a = Requester()
  private let b = Requester()
  private let c = Requester()
  private let start = ContinuousClock.now
  private func id(_ requester: Requester) -> ObjectIdentifier { ObjectIdentifier(requester) }

  func testReadersAndReadAheadAlwaysStart() {
    var admission = JobAdmission(maximumBackground: 1)
    XCTAssertEqual(admission.admit(.low, bytes: 1, for: id(a), at: start), .start)
    for _ in 0..<5 {
      XCTAssertEqual(admission.admit(.foreground, bytes: 1, for: id(b), at: start), .start)
      XCTAssertEqual(admission.admit(.high, bytes: 1, for: id(b), at: start), .start)
    }
    XCTAssertEqual(admission.foregroundInFlight, 5)
    XCTAssertEqual(admission.backgroundInFlight, 1)
  }

  func testBackgroundYieldsToReadersAndResumesWhenTheyAreDone() {
    var admission = JobAdmission(maximumBackground: 4)
    XCTAssertEqual(admission.admit(.foreground, bytes: 1, for: id(a), at: start), .start)
    XCTAssertNotEqual(admission.admit(.low, bytes: 1, for: id(b), at: start), .start, "a reader's request is in flight")
    XCTAssertEqual(admission.admit(.foreground, bytes: 1, for: id(a), at: start), .start)
    XCTAssertEqual(admission.ended(.foreground), [], "another reader's request is still in flight")
    XCTAssertEqual(admission.ended(.foreground), [id(b)])
    XCTAssertTrue(admission.waiting.isEmpty)
    XCTAssertEqual(admission.admit(.low, bytes: 1, for: id(b), at: start), .start)
    XCTAssertEqual(admission.ended(.high), [], "read-ahead is not counted")
  }

  func testBackgroundIsBoundedAcrossFilesAndTheMoreUrgentAreWokenFirst() {
    var admission = JobAdmission(maximumBackground: 2)
    XCTAssertEqual(admission.admit(.low, bytes: 1, for: id(a), at: start), .start)
    XCTAssertEqual(admission.admit(.low, bytes: 1, for: id(a), at: start), .start)
    XCTAssertNotEqual(admission.admit(.low, bytes: 1, for: id(b), at: start), .start)
    XCTAssertNotEqual(admission.admit(.low, bytes: 1, for: id(c), at: start), .start)
    XCTAssertNotEqual(
      admission.admit(.normal, bytes: 1, for: id(c), at: start), .start, "waits once, at its most urgent priority")
    XCTAssertEqual(admission.waiting.map(\.priority), [.low, .normal])
    XCTAssertEqual(admission.ended(.low), [id(c), id(b)], "normal before low")
    XCTAssertEqual(admission.admit(.normal, bytes: 1, for: id(c), at: start), .start)
    XCTAssertNotEqual(
      admission.admit(.low, bytes: 1, for: id(b), at: start), .start, "the room went to the more urgent")
    XCTAssertEqual(admission.backgroundInFlight, 2)
  }

  func testAFileThatLeavesNoLongerWaits() {
    var admission = JobAdmission(maximumBackground: 1)
    XCTAssertEqual(admission.admit(.normal, bytes: 1, for: id(a), at: start), .start)
    XCTAssertNotEqual(admission.admit(.normal, bytes: 1, for: id(b), at: start), .start)
    XCTAssertNotEqual(admission.admit(.low, bytes: 1, for: id(c), at: start), .start)
    XCTAssertEqual(admission.forget(id(c)), [], "no room yet")
    XCTAssertEqual(admission.waiting.map(\.priority), [.normal])
    XCTAssertEqual(admission.ended(.normal), [id(b)])
    XCTAssertEqual(admission.backgroundInFlight, 0)
  }

  func testABudgetKeepsBackgroundToItsRateAndSaysWhenToTryAgain() {
    var admission = JobAdmission(maximumBackground: 8, budget: RateBudget(rate: 1000, burst: 250, now: start))
    XCTAssertEqual(admission.admit(.low, bytes: 250, for: id(a), at: start), .start)
    XCTAssertEqual(admission.admit(.low, bytes: 250, for: id(b), at: start), .waitUntil(start + .milliseconds(250)))
    XCTAssertEqual(
      admission.admit(.foreground, bytes: 1 << 20, for: id(c), at: start), .start, "readers are not counted")
    XCTAssertEqual(admission.ended(.foreground), [id(b)])
    XCTAssertEqual(admission.admit(.low, bytes: 250, for: id(b), at: start + .milliseconds(250)), .start)
    XCTAssertEqual(admission.backgroundInFlight, 2)
  }
}
