import XCTest

@testable import BitsEngine

final class ByteRangeSetTests: XCTestCase {
  func testInsertMergesAdjacentAndOverlapping() {
    var set = ByteRangeSet()
    set.insert(0..<10)
    set.insert(10..<20)
    XCTAssertEqual(set.intervals, [0..<20])
    set.insert(30..<40)
    set.insert(35..<50)
    set.insert(25..<26)
    XCTAssertEqual(set.intervals, [0..<20, 25..<26, 30..<50])
    set.insert(5..<31)
    XCTAssertEqual(set.intervals, [0..<50])
    XCTAssertEqual(set.count, 1)
    XCTAssertEqual(set.coveredByteCount, 50)
    set.insert(7..<7)
    XCTAssertEqual(set.count, 1)
  }

  func testRemoveSplitsAndTrims() {
    var set = ByteRangeSet([0..<100, 200..<300])
    set.remove(40..<60)
    XCTAssertEqual(set.intervals, [0..<40, 60..<100, 200..<300])
    set.remove(90..<250)
    XCTAssertEqual(set.intervals, [0..<40, 60..<90, 250..<300])
    set.remove(0..<1000)
    XCTAssertTrue(set.isEmpty)
    XCTAssertEqual(set.coveredByteCount, 0)
  }

  func testQueries() {
    let set = ByteRangeSet([10..<20, 30..<40])
    XCTAssertTrue(set.contains(12..<18))
    XCTAssertTrue(set.contains(10..<20))
    XCTAssertFalse(set.contains(15..<35))
    XCTAssertFalse(set.contains(0..<1))
    XCTAssertTrue(set.contains(5..<5))
    XCTAssertEqual(set.gaps(in: 0..<50), [0..<10, 20..<30, 40..<50])
    XCTAssertEqual(set.gaps(in: 12..<35), [20..<30])
    XCTAssertEqual(set.gaps(in: 12..<18), [])
    XCTAssertEqual(set.intersection(with: 15..<35), [15..<20, 30..<35])
    XCTAssertEqual(set.coveredPrefix(from: 12), 20)
    XCTAssertEqual(set.coveredPrefix(from: 20), 20)
    XCTAssertEqual(set.coveredPrefix(from: 25), 25)
  }

  func testEqualityComparesContents() {
    XCTAssertEqual(ByteRangeSet([0..<5, 5..<10]), ByteRangeSet([0..<10]))
    XCTAssertNotEqual(ByteRangeSet([0..<5]), ByteRangeSet([0..<6]))
  }

  /// Random operations against a bitmap, with enough small intervals to split and drop chunks.
  func testMatchesABitmapUnderRandomOperations() {
    var generator = SplitMix64(seed: 42)
    let domain = 40_000
    var bitmap = [Bool](repeating: false, count: domain)
    var set = ByteRangeSet()
    for step in 0..<20_000 {
      let lower = Int(generator.next() % UInt64(domain))
      let length = Int(generator.next() % 12)
      let upper = min(domain, lower + length)
      let interval = UInt64(lower)..<UInt64(upper)
      if generator.next() % 3 == 0 {
        set.remove(interval)
        for index in lower..<upper { bitmap[index] = false }
      } else {
        set.insert(interval)
        for index in lower..<upper { bitmap[index] = true }
      }
      if step % 997 == 0 || step == 19_999 {
        XCTAssertEqual(set.intervals, Self.intervals(of: bitmap), "after step \(step)")
        XCTAssertEqual(set.coveredByteCount, UInt64(bitmap.filter { $0 }.count))
      }
      let probeLower = Int(generator.next() % UInt64(domain))
      let probe = UInt64(probeLower)..<UInt64(min(domain, probeLower + Int(generator.next() % 50)))
      let expectedGaps = Self.intervals(of: (Int(probe.lowerBound)..<Int(probe.upperBound)).map { !bitmap[$0] })
        .map { ($0.lowerBound + probe.lowerBound)..<($0.upperBound + probe.lowerBound) }
      XCTAssertEqual(set.gaps(in: probe), expectedGaps)
      XCTAssertEqual(set.contains(probe), expectedGaps.isEmpty)
    }
    XCTAssertGreaterThan(set.count, 2048, "enough intervals for several chunks")
  }

  func testManyDisjointIntervalsInsertedAndRemoved() {
    var set = ByteRangeSet()
    var generator = SplitMix64(seed: 7)
    let order = (0..<5000).map { UInt64($0) }.shuffled(using: &generator)
    for index in order { set.insert(index * 10..<index * 10 + 5) }
    XCTAssertEqual(set.count, 5000)
    XCTAssertEqual(set.intervals.first, 0..<5)
    XCTAssertEqual(set.intervals.last, 49_990..<49_995)
    XCTAssertEqual(set.gaps(in: 0..<20), [5..<10, 15..<20])
    for index in order.prefix(2500) { set.remove(index * 10..<index * 10 + 5) }
    XCTAssertEqual(set.count, 2500)
    set.insert(0..<50_000)
    XCTAssertEqual(set.intervals, [0..<50_000])
  }

  private static func intervals(of bitmap: [Bool]) -> [Range<UInt64>] {
    var result: [Range<UInt64>] = []
    var start: Int?
    for (index, bit) in bitmap.enumerated() {
      if bit, start == nil { start = index }
      if !bit, let begin = start {
        result.append(UInt64(begin)..<UInt64(index))
        start = nil
      }
    }
    if let begin = start { result.append(UInt64(begin)..<UInt64(bitmap.count)) }
    return result
  }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) {
    state = seed
  }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
