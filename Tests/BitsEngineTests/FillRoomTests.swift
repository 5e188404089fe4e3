import BitsEngine
import XCTest

/// The rule for background fill under a cache limit: files are taken on whole while their sizes
/// fit in fill's share, and one that does not fit is refused rather than evicting fill's bytes.
final class FillRoomTests: XCTestCase {
  func testFilesAreTakenOnWhileTheyFitTogether() {
    let (a, b, c) = ("a", "b", "c")
    var room = FillRoom(room: 100)
    XCTAssertTrue(room.admit(a, size: 60))
    XCTAssertFalse(room.admit(b, size: 41), "60 + 41 is more than 100")
    XCTAssertTrue(room.admit(c, size: 40), "60 + 40 fits exactly")
    XCTAssertEqual(room.heldBytes, 100)
    XCTAssertTrue(room.admit(a, size: 60), "a file held already fits")
    XCTAssertEqual(room.heldBytes, 100, "and counts once")
    room.release(a)
    XCTAssertTrue(room.admit(b, size: 41), "a cancelled fill makes room")
  }

  func testAFileLargerThanTheShareIsRefusedEvenAlone() {
    var room = FillRoom(cacheRoom: 1 << 20)
    XCTAssertEqual(room.room, 786_432, "three quarters of the cache")
    XCTAssertFalse(room.admit("x", size: 786_433))
    XCTAssertEqual(room.heldBytes, 0)
  }

  func testWithoutALimitEverythingIsTakenOnAndSizesNeverOverflow() {
    let (a, b) = ("a", "b")
    var room = FillRoom(cacheRoom: nil)
    XCTAssertTrue(room.admit(a, size: .max))
    XCTAssertTrue(room.admit(b, size: .max))
    XCTAssertEqual(room.heldBytes, .max, "the sum saturates")
    var limited = FillRoom(room: .max)
    XCTAssertTrue(limited.admit(a, size: .max))
    XCTAssertFalse(limited.admit(b, size: 1), "an overflowing sum does not fit")
  }
}
