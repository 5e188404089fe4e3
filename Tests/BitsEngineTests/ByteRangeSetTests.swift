import TestSupport
import XCTest

@testable import BitsEngine

final class ByteRangeSetTests: XCTestCase {
  // MARK: Insert

  func testInsertMergesAdjacentOverlappingAndContainedIntervals() {
    var set = ByteRangeSet()
    set.insert(0..<10)
    set.insert(10..<20)
    XCTAssertEqual(set.intervals, [0..<20], "adjacent intervals merge")
    set.insert(30..<40)
    set.insert(35..<50)
    XCTAssertEqual(set.intervals, [0..<20, 30..<50], "overlapping intervals merge")
    set.insert(32..<45)
    XCTAssertEqual(set.intervals, [0..<20, 30..<50], "a contained interval changes nothing")
    set.insert(25..<26)
    set.insert(21..<22)
    XCTAssertEqual(set.intervals, [0..<20, 21..<22, 25..<26, 30..<50])
    set.insert(20..<21)
    XCTAssertEqual(set.intervals, [0..<22, 25..<26, 30..<50], "filling a one-byte hole joins both")
    set.insert(5..<31)
    XCTAssertEqual(set.intervals, [0..<50])
    set.insert(0..<60)
    XCTAssertEqual(set.intervals, [0..<60], "a containing interval swallows the rest")
    XCTAssertEqual(set.count, 1)
    XCTAssertEqual(set.coveredByteCount, 60)
  }

  func testInsertingAnEmptyIntervalDoesNothing() {
    var set = ByteRangeSet([10..<20])
    set.insert(7..<7)
    set.insert(20..<20)
    set.insert(30..<30)
    XCTAssertEqual(set.intervals, [10..<20])
    var empty = ByteRangeSet()
    empty.insert(5..<5)
    XCTAssertTrue(empty.isEmpty)
    XCTAssertEqual(empty.count, 0)
  }

  func testInsertAtBothEndsAndBetweenChunks() {
    var set = ByteRangeSet(maximumChunkLength: 4)
    for index in stride(from: UInt64(50), through: 10, by: -1) {
      set.insert(index * 10..<index * 10 + 5)
    }
    XCTAssertGreaterThan(set.chunkLengths.count, 5)
    set.insert(1000..<1001)
    set.insert(0..<1)
    XCTAssertEqual(set.intervals.first, 0..<1)
    XCTAssertEqual(set.intervals.last, 1000..<1001)
    XCTAssertEqual(set.count, 43)
    assertChunkBounds(set)
  }

  func testInsertSpanningManyIntervalsAcrossChunkBoundaries() {
    var set = ByteRangeSet(maximumChunkLength: 4)
    for index in UInt64(0)..<100 { set.insert(index * 10..<index * 10 + 5) }
    XCTAssertGreaterThan(set.chunkLengths.count, 20, "the setup must span many chunks")
    assertChunkBounds(set)
    // From inside 120..<125 to inside 870..<875: 76 intervals across many chunks become one.
    set.insert(123..<872)
    XCTAssertEqual(set.count, 100 - 76 + 1)
    XCTAssertEqual(set.coveredByteCount, 24 * 5 + 755)
    XCTAssertEqual(set.intervals[11...13], [110..<115, 120..<875, 880..<885])
    assertChunkBounds(set)
    set.insert(0..<2000)
    XCTAssertEqual(set.intervals, [0..<2000])
    XCTAssertEqual(set.chunkLengths, [1])
  }

  // MARK: Remove

  func testRemoveSplitsTrimsAndSpans() {
    var set = ByteRangeSet([0..<100, 200..<300])
    set.remove(40..<60)
    XCTAssertEqual(set.intervals, [0..<40, 60..<100, 200..<300], "split in two")
    set.remove(0..<10)
    XCTAssertEqual(set.intervals, [10..<40, 60..<100, 200..<300], "trimmed at the front")
    set.remove(290..<400)
    XCTAssertEqual(set.intervals, [10..<40, 60..<100, 200..<290], "trimmed at the back")
    set.remove(40..<60)
    XCTAssertEqual(set.intervals, [10..<40, 60..<100, 200..<290], "removing a gap does nothing")
    set.remove(90..<250)
    XCTAssertEqual(set.intervals, [10..<40, 60..<90, 250..<290], "spanning a gap")
    set.remove(60..<90)
    XCTAssertEqual(set.intervals, [10..<40, 250..<290], "an exact interval")
    set.remove(20..<20)
    XCTAssertEqual(set.count, 2, "an empty removal does nothing")
    XCTAssertEqual(set.coveredByteCount, 70)
    set.remove(0..<1000)
    XCTAssertTrue(set.isEmpty)
    XCTAssertEqual(set.coveredByteCount, 0)
    XCTAssertEqual(set.intervals, [])
  }

  func testRemoveSpanningChunkBoundaries() {
    var set = ByteRangeSet(maximumChunkLength: 4)
    for index in UInt64(0)..<100 { set.insert(index * 10..<index * 10 + 5) }
    set.remove(123..<872)
    XCTAssertEqual(set.count, 100 - 76 + 2)
    XCTAssertEqual(set.intervals[11...14], [110..<115, 120..<123, 872..<875, 880..<885])
    XCTAssertEqual(set.coveredByteCount, 24 * 5 + 3 + 3)
    assertChunkBounds(set)
    set.remove(0..<123)
    set.remove(872..<2000)
    XCTAssertTrue(set.isEmpty)
    XCTAssertEqual(set.chunkLengths, [])
  }

  // MARK: Queries

  func testContains() {
    let set = ByteRangeSet([10..<20, 30..<40])
    XCTAssertTrue(set.contains(12..<18))
    XCTAssertTrue(set.contains(10..<20))
    XCTAssertTrue(set.contains(19..<20))
    XCTAssertFalse(set.contains(9..<11))
    XCTAssertFalse(set.contains(19..<21))
    XCTAssertFalse(set.contains(15..<35), "the gap between is not covered")
    XCTAssertFalse(set.contains(0..<1))
    XCTAssertFalse(set.contains(40..<41))
    XCTAssertTrue(set.contains(5..<5), "an empty interval is always covered")
    XCTAssertTrue(ByteRangeSet().contains(0..<0))
    XCTAssertFalse(ByteRangeSet().contains(0..<1))
  }

  func testGapsAtTheEdges() {
    let set = ByteRangeSet([10..<20, 30..<40])
    XCTAssertEqual(set.gaps(in: 0..<50), [0..<10, 20..<30, 40..<50])
    XCTAssertEqual(set.gaps(in: 10..<40), [20..<30])
    XCTAssertEqual(set.gaps(in: 12..<35), [20..<30])
    XCTAssertEqual(set.gaps(in: 20..<30), [20..<30])
    XCTAssertEqual(set.gaps(in: 19..<31), [20..<30])
    XCTAssertEqual(set.gaps(in: 12..<18), [])
    XCTAssertEqual(set.gaps(in: 40..<45), [40..<45])
    XCTAssertEqual(set.gaps(in: 0..<10), [0..<10])
    XCTAssertEqual(set.gaps(in: 15..<15), [])
    XCTAssertEqual(ByteRangeSet().gaps(in: 3..<8), [3..<8])
  }

  func testIntersectionAtTheEdges() {
    let set = ByteRangeSet([10..<20, 30..<40])
    XCTAssertEqual(set.intersection(with: 15..<35), [15..<20, 30..<35])
    XCTAssertEqual(set.intersection(with: 0..<50), [10..<20, 30..<40])
    XCTAssertEqual(set.intersection(with: 20..<30), [])
    XCTAssertEqual(set.intersection(with: 19..<31), [19..<20, 30..<31])
    XCTAssertEqual(set.intersection(with: 12..<14), [12..<14])
    XCTAssertEqual(set.intersection(with: 40..<100), [])
    XCTAssertEqual(set.intersection(with: 15..<15), [])
  }

  func testCountsIncludingIntervalsLongerThanIntMax() {
    var set = ByteRangeSet()
    XCTAssertTrue(set.isEmpty)
    set.insert(0..<UInt64.max)
    XCTAssertEqual(set.coveredByteCount, UInt64.max)
    set.remove(1..<UInt64.max - 1)
    XCTAssertEqual(set.intervals, [0..<1, UInt64.max - 1..<UInt64.max])
    XCTAssertEqual(set.coveredByteCount, 2)
    set.insert(0..<UInt64.max)
    XCTAssertEqual(set.coveredByteCount, UInt64.max, "merging must not overflow the total")
    XCTAssertEqual(set.count, 1)
    XCTAssertFalse(set.isEmpty)
  }

  // MARK: Construction, equality, description

  func testInitializerSortsAndMergesItsInput() {
    let set = ByteRangeSet([30..<40, 0..<5, 5..<10, 35..<50, 60..<60, 2..<3, 20..<25])
    XCTAssertEqual(set.intervals, [0..<10, 20..<25, 30..<50])
    XCTAssertEqual(set.count, 3)
    XCTAssertEqual(set.coveredByteCount, 35)
    XCTAssertTrue(ByteRangeSet([Range<UInt64>]()).isEmpty)
  }

  func testInitializerBuildsChunksWithinBounds() {
    // Around the half-full length the initializer aims for, and around the maximum.
    let half = ByteRangeSet().maximumChunkLength / 2
    for total in [1, half - 1, half, half + 1, 2 * half, 2 * half + 1, 3000] {
      let intervals = (0..<UInt64(total)).map { $0 * 3..<$0 * 3 + 2 }
      let set = ByteRangeSet(intervals.reversed())
      XCTAssertEqual(set.intervals, intervals)
      XCTAssertEqual(set.count, total)
      XCTAssertEqual(set.coveredByteCount, UInt64(total) * 2)
      assertChunkBounds(set)
    }
  }

  func testEqualityComparesContentsNotLayout() {
    XCTAssertEqual(ByteRangeSet([0..<5, 5..<10]), ByteRangeSet([0..<10]))
    XCTAssertNotEqual(ByteRangeSet([0..<5]), ByteRangeSet([0..<6]))
    XCTAssertNotEqual(ByteRangeSet([0..<5, 6..<10]), ByteRangeSet([0..<10]))
    XCTAssertNotEqual(ByteRangeSet([0..<5, 10..<15]), ByteRangeSet([0..<5, 20..<25]))

    // The same intervals reached through different chunk layouts.
    let intervals = (0..<UInt64(3000)).map { $0 * 10..<$0 * 10 + 5 }
    var oneByOne = ByteRangeSet()
    for interval in intervals.reversed() { oneByOne.insert(interval) }
    let batch = ByteRangeSet(intervals)
    XCTAssertNotEqual(oneByOne.chunkLengths, batch.chunkLengths, "the layouts should differ")
    XCTAssertEqual(oneByOne, batch)
    oneByOne.remove(29_990..<29_991)
    XCTAssertNotEqual(oneByOne, batch)
  }

  func testDescription() {
    XCTAssertEqual(ByteRangeSet().description, "[]")
    XCTAssertEqual(ByteRangeSet([0..<10, 20..<30]).description, "[0..<10, 20..<30]")
    let many = ByteRangeSet((0..<UInt64(25)).map { $0 * 2..<$0 * 2 + 1 })
    XCTAssertEqual(
      many.description,
      "[0..<1, 2..<3, 4..<5, 6..<7, 8..<9, 10..<11, 12..<13, 14..<15, 16..<17, 18..<19, "
        + "… 5 more …, "
        + "30..<31, 32..<33, 34..<35, 36..<37, 38..<39, 40..<41, 42..<43, 44..<45, 46..<47, 48..<49]"
    )
  }

  // MARK: Randomised, against reference models

  /// Random inserts, removals and queries on a small domain, against a bitmap, with chunks of at
  /// most 8 intervals so that chunks are split, merged and dropped all the time.
  func testMatchesABitmapWithSmallChunks() {
    var generator = SplitMix64(seed: 0x5EED)
    var set = ByteRangeSet(maximumChunkLength: 8)
    var model = Bitmap(size: 4096)
    var (chunkCountRises, chunkCountFalls) = (0, 0)
    for step in 0..<3000 {
      let chunkCountBefore = set.chunkLengths.count
      // Phases that mostly add short intervals, building up a few hundred of them, alternate with
      // phases that mostly remove longer ones; now and then a long interval spans many chunks.
      let growing = step / 300 % 2 == 0
      let maximumLength = step % 50 == 0 ? 600 : growing ? 4 : 60
      let interval = randomInterval(in: 4096, maximumLength: maximumLength, &generator)
      if generator.next() % 20 < (growing ? 1 : 19) {
        set.remove(interval)
        model.set(interval, to: false)
      } else {
        set.insert(interval)
        model.set(interval, to: true)
      }
      let context = "step \(step), interval \(interval)"
      let expected = model.intervals
      XCTAssertEqual(set.intervals, expected, context)
      XCTAssertEqual(set.count, expected.count, context)
      XCTAssertEqual(set.coveredByteCount, model.coveredByteCount, context)
      assertChunkBounds(set, context)
      chunkCountRises += set.chunkLengths.count > chunkCountBefore ? 1 : 0
      chunkCountFalls += set.chunkLengths.count < chunkCountBefore ? 1 : 0
      for _ in 0..<3 {
        let probe = randomInterval(in: 4096, maximumLength: 80, &generator)
        assertQueries(set, model, probe, context)
      }
    }
    XCTAssertGreaterThan(chunkCountRises, 50, "chunks must have been split many times")
    XCTAssertGreaterThan(chunkCountFalls, 50, "chunks must have been merged or dropped many times")
  }

  /// The same with the real chunk length, on a domain large enough for several chunks.
  func testMatchesABitmapWithDefaultChunks() {
    var generator = SplitMix64(seed: 42)
    let size = 60_000
    var set = ByteRangeSet()
    var model = Bitmap(size: size)
    var largestChunkCount = 0
    for step in 0..<12_000 {
      let interval = randomInterval(
        in: size, maximumLength: step % 500 == 0 ? 5000 : 8, &generator)
      if generator.next() % 4 == 0 {
        set.remove(interval)
        model.set(interval, to: false)
      } else {
        set.insert(interval)
        model.set(interval, to: true)
      }
      let probe = randomInterval(in: size, maximumLength: 100, &generator)
      assertQueries(set, model, probe, "step \(step)")
      if step % 500 == 0 || step == 11_999 {
        XCTAssertEqual(set.intervals, model.intervals, "step \(step)")
        XCTAssertEqual(set.coveredByteCount, model.coveredByteCount, "step \(step)")
        assertChunkBounds(set, "step \(step)")
      }
      largestChunkCount = max(largestChunkCount, set.chunkLengths.count)
    }
    XCTAssertGreaterThanOrEqual(largestChunkCount, 4, "there must have been several chunks")
  }

  func testFiveThousandDisjointIntervalsInsertedThenRemoved() {
    var generator = SplitMix64(seed: 7)
    let intervals = (0..<UInt64(5000)).map { $0 * 10..<$0 * 10 + 5 }
    var set = ByteRangeSet()
    for (inserted, interval) in intervals.shuffled(using: &generator).enumerated() {
      set.insert(interval)
      XCTAssertEqual(set.count, inserted + 1)
    }
    XCTAssertEqual(set.intervals, intervals)
    XCTAssertEqual(set.coveredByteCount, 25_000)
    XCTAssertGreaterThan(set.chunkLengths.count, 4)
    assertChunkBounds(set)
    XCTAssertEqual(set.gaps(in: 0..<20), [5..<10, 15..<20])
    XCTAssertEqual(set.gaps(in: 24_998..<25_012), [24_998..<25_000, 25_005..<25_010])
    XCTAssertTrue(set.contains(49_990..<49_995))

    var remaining = Set(intervals.map(\.lowerBound))
    for (removed, interval) in intervals.shuffled(using: &generator).enumerated() {
      set.remove(interval)
      remaining.remove(interval.lowerBound)
      XCTAssertEqual(set.count, 5000 - removed - 1)
      if removed % 250 == 0 {
        XCTAssertEqual(set.intervals.map(\.lowerBound), remaining.sorted())
        assertChunkBounds(set)
      }
    }
    XCTAssertTrue(set.isEmpty)
    XCTAssertEqual(set.coveredByteCount, 0)
    XCTAssertEqual(set.chunkLengths, [])
  }

  // MARK: Helpers

  private func randomInterval(
    in size: Int, maximumLength: Int, _ generator: inout SplitMix64
  ) -> Range<UInt64> {
    let lower = generator.next() % UInt64(size)
    let length = generator.next() % UInt64(maximumLength + 1)
    return lower..<min(UInt64(size), lower + length)
  }

  private func assertQueries(
    _ set: ByteRangeSet, _ model: Bitmap, _ probe: Range<UInt64>, _ context: String,
    line: UInt = #line
  ) {
    let message = "\(context), probe \(probe)"
    let gaps = model.gaps(in: probe)
    XCTAssertEqual(set.gaps(in: probe), gaps, message, line: line)
    XCTAssertEqual(set.intersection(with: probe), model.intersection(with: probe), message, line: line)
    XCTAssertEqual(set.contains(probe), gaps.isEmpty, message, line: line)
  }

  /// Every chunk holds between a quarter of the maximum (unless it is alone) and the maximum.
  private func assertChunkBounds(_ set: ByteRangeSet, _ context: String = "", line: UInt = #line) {
    let lengths = set.chunkLengths
    XCTAssertEqual(lengths.reduce(0, +), set.count, context, line: line)
    for length in lengths {
      XCTAssertLessThanOrEqual(length, set.maximumChunkLength, "\(context) \(lengths)", line: line)
      XCTAssertGreaterThanOrEqual(
        length, lengths.count == 1 ? 1 : set.maximumChunkLength / 4, "\(context) \(lengths)",
        line: line)
    }
  }
}

/// The trivially correct reference: one flag per byte.
private struct Bitmap {
  private var bits: [Bool]

  init(size: Int) {
    bits = Array(repeating: false, count: size)
  }

  mutating func set(_ interval: Range<UInt64>, to value: Bool) {
    for offset in interval { bits[Int(offset)] = value }
  }

  var coveredByteCount: UInt64 { UInt64(bits.lazy.filter { $0 }.count) }

  var intervals: [Range<UInt64>] { runs(in: 0..<UInt64(bits.count), where: true) }

  func gaps(in interval: Range<UInt64>) -> [Range<UInt64>] { runs(in: interval, where: false) }

  func intersection(with interval: Range<UInt64>) -> [Range<UInt64>] {
    runs(in: interval, where: true)
  }

  /// The maximal runs of bytes in `interval` whose flag is `value`.
  private func runs(in interval: Range<UInt64>, where value: Bool) -> [Range<UInt64>] {
    var runs: [Range<UInt64>] = []
    var start: UInt64?
    for offset in interval {
      if bits[Int(offset)] == value {
        if start == nil { start = offset }
      } else if let begin = start {
        runs.append(begin..<offset)
        start = nil
      }
    }
    if let begin = start { runs.append(begin..<interval.upperBound) }
    return runs
  }
}
