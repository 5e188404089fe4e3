import XCTest

@testable import BitsMount

final class DirectoryOffsetTests: XCTestCase {
  func testAnOffsetKeepsItsPositionAndNodeAndNeverIsTheStart() {
    for (position, node) in [(0, 0), (1, 7), (2, 12), (99_999, 1 << 31), (Int(Int32.max) - 2, 5)] {
      let raw = DirectoryOffset(position: position, node: node).raw
      XCTAssertGreaterThan(raw, 0, "0 is the start")
      XCTAssertLessThan(raw, 1 << 63, "an off_t")
      XCTAssertEqual(DirectoryOffset(raw), DirectoryOffset(position: position, node: node))
    }
  }

  func testOffsetsNeverGivenReadFromTheStart() {
    XCTAssertNil(DirectoryOffset(0))
    XCTAssertNil(DirectoryOffset(12), "no position: a seekdir to a made-up offset")
    XCTAssertNil(DirectoryOffset(UInt64.max))
  }

  func testAReadingGoesOnAfterTheSameEntryWhereverAListingMovedIt() {
    let children = [10, 11, 12, 13]
    XCTAssertEqual(DirectoryOffset(position: 0, node: 1).next(among: children), 1, "after .")
    XCTAssertEqual(DirectoryOffset(position: 1, node: 0).next(among: children), 2, "after ..")
    XCTAssertEqual(DirectoryOffset(position: 3, node: 11).next(among: children), 4, "nothing moved")
    XCTAssertEqual(
      DirectoryOffset(position: 3, node: 11).next(among: [20, 21, 10, 11, 12]), 6,
      "names listed before it since: after it where it is now")
    XCTAssertEqual(DirectoryOffset(position: 4, node: 12).next(among: [12, 13]), 3, "names gone before it")
    XCTAssertEqual(DirectoryOffset(position: 3, node: 11).next(among: [10, 12, 13]), 4, "gone: the next position")
    XCTAssertEqual(DirectoryOffset(position: 9, node: 99).next(among: children), 10, "past the end")
  }
}
