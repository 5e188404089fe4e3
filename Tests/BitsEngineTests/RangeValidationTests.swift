import XCTest

@testable import BitsEngine

final class RangeValidationTests: XCTestCase {
  private func code(_ ranges: [FileRange], limit: Int = 500) -> BitsErrorCode? {
    do {
      try RangeValidation.validate(ranges, maximumCount: limit)
      return nil
    } catch {
      return error.code
    }
  }

  private let eof = FileRange.lengthToEndOfFile

  func testAcceptsDisjointRangesInAnyOrder() {
    XCTAssertNil(
      code([
        FileRange(offset: 100, length: 100), FileRange(offset: 900, length: 100), FileRange(offset: 400, length: 100),
      ]))
    XCTAssertNil(
      code([FileRange(offset: 111, length: eof), FileRange(offset: 24, length: 17), FileRange(offset: 83, length: 7)]))
    XCTAssertNil(
      code([FileRange(offset: 0, length: 10), FileRange(offset: 10, length: 10)]), "adjacent is not overlapping")
  }

  func testNoRangesIsInvalidArgument() {
    XCTAssertEqual(code([]), .invalidArgument)
  }

  func testOffsetToEndOfFileIsInvalidRange() {
    XCTAssertEqual(code([FileRange(offset: eof, length: 10)]), .invalidRange)
  }

  func testZeroLengthIsInvalidRange() {
    XCTAssertEqual(code([FileRange(offset: 5, length: 0)]), .invalidRange)
  }

  func testOverlapsAndDuplicatesAreRefused() {
    XCTAssertEqual(code([FileRange(offset: 100, length: 50), FileRange(offset: 120, length: 10)]), .overlappingRanges)
    XCTAssertEqual(code([FileRange(offset: 100, length: 50), FileRange(offset: 100, length: 50)]), .overlappingRanges)
    XCTAssertEqual(code([FileRange(offset: 300, length: 10), FileRange(offset: 0, length: 301)]), .overlappingRanges)
    XCTAssertEqual(code([FileRange(offset: 10, length: eof), FileRange(offset: 5000, length: 1)]), .overlappingRanges)
  }

  func testSameOffsetInReverseOrderOverlaps() {
    // The BITS note: 100.5 then 100.0 cannot be added.
    XCTAssertEqual(code([FileRange(offset: 100, length: 5), FileRange(offset: 100, length: 0)]), .overlappingRanges)
    XCTAssertEqual(code([FileRange(offset: 100, length: 0), FileRange(offset: 100, length: 5)]), .overlappingRanges)
  }

  func testRangeLimitIsEnforcedAndConfigurable() {
    let ranges = (0..<501).map { FileRange(offset: UInt64($0) * 10, length: 5) }
    XCTAssertEqual(code(ranges), .tooManyRangesInFile)
    XCTAssertNil(code(Array(ranges.prefix(500))))
    XCTAssertEqual(code(Array(ranges.prefix(4)), limit: 3), .tooManyRangesInFile)
  }

  func testResolvingAgainstTheFileSize() throws {
    let resolved = try RangeValidation.resolve(
      [FileRange(offset: 900, length: 100), FileRange(offset: 10, length: eof)], fileSize: 1000, url: "u")
    XCTAssertEqual(resolved, [900..<1000, 10..<1000])
    XCTAssertThrowsError(try RangeValidation.resolve([FileRange(offset: 990, length: 11)], fileSize: 1000, url: "u")) {
      XCTAssertEqual(($0 as? BitsError)?.code, .invalidRange)
    }
    XCTAssertThrowsError(try RangeValidation.resolve([FileRange(offset: 1000, length: eof)], fileSize: 1000, url: "u"))
    {
      XCTAssertEqual(($0 as? BitsError)?.code, .invalidRange)
    }
  }
}
