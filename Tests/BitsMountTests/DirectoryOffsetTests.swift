import XCTest

@testable import BitsMount

final class DirectoryOffsetTests: XCTestCase {
  func testAnOffsetKeepsItsPositionAndGenerationBelowWhatA32BitProgramTakes() {
    for (position, generation) in [(0, 0), (1, 7), (2, 63), (10_000_001, 12), (DirectoryOffset.maximumPosition, 5)] {
      let offset = DirectoryOffset(position: position, generation: UInt32(generation))
      XCTAssertGreaterThan(offset.raw, 0, "0 is the start")
      XCTAssertLessThan(offset.raw, 1 << 30, "a 32-bit telldir takes it")
      XCTAssertEqual(DirectoryOffset(offset.raw), offset)
    }
    XCTAssertEqual(DirectoryOffset(position: 1, generation: 64 + 3).generation, 3, "the low bits of the generation")
  }

  func testOffsetsNeverGivenReadFromTheStart() {
    XCTAssertNil(DirectoryOffset(0))
    XCTAssertNil(DirectoryOffset(1 << 24), "no position")
    XCTAssertNil(DirectoryOffset(UInt64.max))
    XCTAssertNil(DirectoryOffset(1 << 40))
  }

  func testWithinOneListingAReadingGoesOnAtTheNextPosition() {
    let children = [10, 11, 12, 13]
    let next = { (position: Int) in
      DirectoryOffset(position: position, generation: 4).next(generation: 4, children: children, previousChildren: [])
    }
    XCTAssertEqual(next(0), 1, "after .")
    XCTAssertEqual(next(1), 2, "after ..")
    XCTAssertEqual(next(3), 4)
    XCTAssertEqual(next(9), 10, "past the end: nothing more")
  }

  func testAcrossARefreshAReadingGoesOnAfterTheSameEntryAndMissesNoneThatStayed() {
    let before = [10, 11, 12, 13]
    let next = { (position: Int, children: [Int]) in
      DirectoryOffset(position: position, generation: 4).next(
        generation: 5, children: children, previousChildren: before)
    }
    // Entry 11 (position 3) was read last.
    XCTAssertEqual(next(3, [20, 21, 10, 11, 12, 13]), 6, "names listed before it: after it where it is now")
    XCTAssertEqual(next(3, [11, 12, 13]), 3, "names gone before it")
    XCTAssertEqual(next(3, [10, 12, 13]), 3, "it left: at the next entry that stayed, 12")
    XCTAssertEqual(next(3, [10, 13]), 3, "it and the next left: at 13")
    XCTAssertEqual(next(3, [10]), 3, "none after it stayed: the end")
    XCTAssertEqual(next(1, [20, 10]), 2, "after .. a listing's order does not matter")
    XCTAssertEqual(
      DirectoryOffset(position: 3, generation: 2).next(generation: 5, children: [11, 12], previousChildren: before), 4,
      "more than one refresh between: the next position")
  }
}
