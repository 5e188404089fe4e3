import XCTest

@testable import BitsEngine

final class JobAdmissionTests: XCTestCase {
  private final class Requester {}
  private let a = Requester()
  private let b = Requester()
  private let c = Requester()
  private func id(_ requester: Requester) -> ObjectIdentifier { ObjectIdentifier(requester) }

  func testReadersAndReadAheadAlwaysStart() {
    var admission = JobAdmission(maximumBackground: 1)
    XCTAssertTrue(admission.admit(.low, for: id(a)))
    for _ in 0..<5 {
      XCTAssertTrue(admission.admit(.foreground, for: id(b)))
      XCTAssertTrue(admission.admit(.high, for: id(b)))
    }
    XCTAssertEqual(admission.foregroundInFlight, 5)
    XCTAssertEqual(admission.backgroundInFlight, 1)
  }

  func testBackgroundYieldsToReadersAndResumesWhenTheyAreDone() {
    var admission = JobAdmission(maximumBackground: 4)
    XCTAssertTrue(admission.admit(.foreground, for: id(a)))
    XCTAssertFalse(admission.admit(.low, for: id(b)), "a reader's request is in flight")
    XCTAssertTrue(admission.admit(.foreground, for: id(a)))
    XCTAssertEqual(admission.ended(.foreground), [], "another reader's request is still in flight")
    XCTAssertEqual(admission.ended(.foreground), [id(b)])
    XCTAssertTrue(admission.waiting.isEmpty)
    XCTAssertTrue(admission.admit(.low, for: id(b)))
    XCTAssertEqual(admission.ended(.high), [], "read-ahead is not counted")
  }

  func testBackgroundIsBoundedAcrossFilesAndTheMoreUrgentAreWokenFirst() {
    var admission = JobAdmission(maximumBackground: 2)
    XCTAssertTrue(admission.admit(.low, for: id(a)))
    XCTAssertTrue(admission.admit(.low, for: id(a)))
    XCTAssertFalse(admission.admit(.low, for: id(b)))
    XCTAssertFalse(admission.admit(.low, for: id(c)))
    XCTAssertFalse(admission.admit(.normal, for: id(c)), "waits once, at its most urgent priority")
    XCTAssertEqual(admission.waiting.map(\.priority), [.low, .normal])
    XCTAssertEqual(admission.ended(.low), [id(c), id(b)], "normal before low")
    XCTAssertTrue(admission.admit(.normal, for: id(c)))
    XCTAssertFalse(admission.admit(.low, for: id(b)), "the room went to the more urgent")
    XCTAssertEqual(admission.backgroundInFlight, 2)
  }

  func testAFileThatLeavesNoLongerWaits() {
    var admission = JobAdmission(maximumBackground: 1)
    XCTAssertTrue(admission.admit(.normal, for: id(a)))
    XCTAssertFalse(admission.admit(.normal, for: id(b)))
    XCTAssertFalse(admission.admit(.low, for: id(c)))
    XCTAssertEqual(admission.forget(id(c)), [], "no room yet")
    XCTAssertEqual(admission.waiting.map(\.priority), [.normal])
    XCTAssertEqual(admission.ended(.normal), [id(b)])
    XCTAssertEqual(admission.backgroundInFlight, 0)
  }
}
