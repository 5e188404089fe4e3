import BitsEngine
import XCTest

@testable import BitsMount

/// Which files background fill works on at once, which wait, and what status lists of them.
final class FillTableTests: XCTestCase {
  private func table(_ maximumStarted: Int = 2, room: UInt64? = nil) -> FillTable {
    FillTable(room: FillRoom(room: room), maximumStarted: maximumStarted)
  }

  func testAFewStartAtOnceTheRestWaitMostUrgentFirstThenInTheOrderAsked() {
    var table = table()
    XCTAssertEqual(table.ask("a", node: 1, path: "a", priority: .low), ["a"])
    XCTAssertEqual(table.ask("b", node: 2, path: "b", priority: .low), ["b"])
    XCTAssertEqual(table.ask("c", node: 3, path: "c", priority: .low), [], "two at once")
    XCTAssertEqual(table.ask("d", node: 4, path: "d", priority: .low), [])
    XCTAssertEqual(table.ask("e", node: 5, path: "e", priority: .normal), [])
    XCTAssertEqual(table["c"]?.stage, .queued)
    XCTAssertEqual(table.end("a"), ["e"], "the more urgent first")
    XCTAssertNil(table.end("a"), "an end is told once")
    XCTAssertEqual(table.ask("d", node: 4, path: "d", priority: .high), [], "asked again, more urgently")
    XCTAssertEqual(table.end("b"), ["d"])
    XCTAssertEqual(table.end("e"), ["c"])
    XCTAssertEqual(table.end("d"), [])
    XCTAssertEqual(table.end("c"), [])
    XCTAssertEqual(table.startedCount, 0)
    XCTAssertEqual(table.counts, FillTable.Counts(queued: 0, started: 0, transferred: 5, stopped: 0))
    XCTAssertEqual(table.ask("a", node: 1, path: "a", priority: .low), ["a"], "an ended fill asked again starts again")
  }

  func testACancelledFillLeavesItsPlaceAndItsRoom() {
    var table = table(1, room: 100)
    XCTAssertEqual(table.ask("a", node: 1, path: "a", priority: .low), ["a"])
    XCTAssertTrue(table.admit("a", size: 80))
    XCTAssertEqual(table.ask("b", node: 2, path: "b", priority: .low), [])
    XCTAssertEqual(table.ask("c", node: 3, path: "c", priority: .low), [])
    XCTAssertEqual(table.cancel("b").stage, .queued)
    XCTAssertNil(table.cancel("b").stage, "gone")
    let (stage, starting) = table.cancel("a")
    XCTAssertEqual(stage, .started)
    XCTAssertEqual(starting, ["c"], "the cancelled one never starts")
    XCTAssertTrue(table.admit("c", size: 100), "and its bytes no longer count")
    XCTAssertEqual(table.end("c"), [])
  }

  func testARefusedFileStopsWithDiskFull() {
    var table = table(2, room: 100)
    _ = table.ask("a", node: 1, path: "a", priority: .low)
    _ = table.ask("b", node: 2, path: "b", priority: .low)
    XCTAssertTrue(table.admit("a", size: 60))
    XCTAssertFalse(table.admit("b", size: 41))
    XCTAssertEqual(table["b"]?.failure?.code, .diskFull)
    _ = table.end("b")
    XCTAssertEqual(table.counts, FillTable.Counts(queued: 0, started: 1, transferred: 0, stopped: 1))
  }

  /// A fill that lost what it fetched asks again a few times, then stops with ERROR_DISK_FULL
  /// rather than fetch the same bytes in a loop.
  func testAFillAsksAgainForWhatItLostAFewTimesThenStops() {
    var table = table()
    XCTAssertFalse(table.askAgain("a"), "not filled")
    _ = table.ask("a", node: 1, path: "a", priority: .low)
    for _ in 0..<FillTable.maximumFetchesAgain { XCTAssertTrue(table.askAgain("a")) }
    XCTAssertFalse(table.askAgain("a"))
    XCTAssertEqual(table["a"]?.failure?.code, .diskFull)
    XCTAssertEqual(table.end("a"), [])
    XCTAssertFalse(table.askAgain("a"), "an ended fill asks nothing")
  }

  /// A prefetch of 100,000 files: status lists a bounded number, those under way and stopped
  /// first, then the next to start in their order, and counts the rest.
  func testTheListingOfAHugeFillIsBoundedAndInTheOrderAUserWatches() {
    var table = table(8)
    for index in 0..<100_000 {
      let name = "f\(index)"
      _ = table.ask(name, node: index, path: name, priority: .low)
    }
    for index in 0..<4 {
      _ = table.failed("f\(index)", error: BitsError(.httpStatus(404), "gone"))
      XCTAssertNotNil(table.end("f\(index)"))
    }
    for index in 4..<6 {
      _ = table.completed("f\(index)")
      XCTAssertNotNil(table.end("f\(index)"))
    }
    let listed = table.listed(limit: 1000)
    XCTAssertEqual(listed.count, 1000)
    let paths = listed.map(\.fill.path)
    XCTAssertEqual(Set(paths.prefix(8)), Set((6..<14).map { "f\($0)" }), "those under way first")
    XCTAssertEqual(Array(paths[8..<12]), (0..<4).map { "f\($0)" }, "then the stopped ones")
    XCTAssertEqual(Array(paths[12..<1000]), (14..<1002).map { "f\($0)" }, "then the next to start, in order")
    XCTAssertEqual(table.counts, FillTable.Counts(queued: 99_986, started: 8, transferred: 2, stopped: 4))
    let few = table.listed(limit: 20_000).filter { $0.fill.stage == .ended && $0.fill.failure == nil }
    XCTAssertTrue(few.isEmpty, "transferred ones come after every queued one")
  }
}
