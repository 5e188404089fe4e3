import XCTest

@testable import BitsMount

/// Inode numbers: a node's first generation by the node itself, later versions of a file each
/// a number of its own above them; only numbers handed out resolve.
final class InodeTableTests: XCTestCase {
  func testTheFirstGenerationIsTheNodeAndLaterOnesAreNumberedAboveEveryNode() {
    var table = InodeTable()
    XCTAssertEqual(table.number(for: .init(entry: 0, generation: 1)), InodeTable.root)
    XCTAssertEqual(table.number(for: .init(entry: 41, generation: 1)), 42)
    let second = table.number(for: .init(entry: 41, generation: 2))
    let third = table.number(for: .init(entry: 41, generation: 3))
    let other = table.number(for: .init(entry: 7, generation: 2))
    XCTAssertEqual([second, third, other], (0..<3).map { InodeTable.firstLater + $0 })
    XCTAssertEqual(table.number(for: .init(entry: 41, generation: 2)), second, "a version keeps its number")
    XCTAssertEqual(table.key(of: 42), .init(entry: 41, generation: 1))
    XCTAssertEqual(table.key(of: third), .init(entry: 41, generation: 3))
    XCTAssertEqual(table.key(of: InodeTable.root), .init(entry: 0, generation: 1))
    XCTAssertEqual(table.numbers(ofEntry: 41), [42, second, third])
    XCTAssertEqual(table.numbers(ofEntry: 7), [8, other])
  }

  func testNumbersNeverHandedOutResolveToNothing() {
    var table = InodeTable()
    _ = table.number(for: .init(entry: 10, generation: 1))
    _ = table.number(for: .init(entry: 3, generation: 2))
    for number: UInt64 in [0, 12, 12_345, InodeTable.firstLater - 1, InodeTable.firstLater + 1, .max] {
      XCTAssertNil(table.key(of: number), "\(number)")
    }
    XCTAssertEqual(table.numbers(ofEntry: 11), [])
  }
}
