import BitsEngine
import XCTest

/// The read-ahead policy on recorded access patterns: what each costs in bytes fetched ahead.
final class ReadAheadPolicyTests: XCTestCase {
  private let limits = ReadAheadPolicy.Limits(maximum: 64 << 20)
  private let fileSize: UInt64 = 1 << 30

  /// Replays `reads` and returns every fetch and drop decided.
  private func replay(_ reads: [Range<UInt64>], limits: ReadAheadPolicy.Limits? = nil) -> (
    fetched: [Range<UInt64>], dropped: [Range<UInt64>]
  ) {
    var policy = ReadAheadPolicy(limits: limits ?? self.limits)
    var fetched: [Range<UInt64>] = []
    var dropped: [Range<UInt64>] = []
    for read in reads {
      let decision = policy.read(read, fileSize: fileSize)
      if let fetch = decision.fetch { fetched.append(fetch) }
      if let drop = decision.drop { dropped.append(drop) }
    }
    return (fetched, dropped)
  }

  private func total(_ ranges: [Range<UInt64>]) -> UInt64 { ranges.reduce(0) { $0 + UInt64($1.count) } }

  /// Bytes fetched ahead that the reader never read.
  private func wasted(_ fetched: [Range<UInt64>], reads: [Range<UInt64>]) -> UInt64 {
    let read = ByteRangeSet(reads)
    return fetched.reduce(0) { sum, range in
      sum + UInt64(range.count) - read.intersection(with: range).reduce(0) { $0 + UInt64($1.count) }
    }
  }

  private func sequential(from start: UInt64, count: Int, size: UInt64) -> [Range<UInt64>] {
    (0..<UInt64(count)).map { start + $0 * size..<start + ($0 + 1) * size }
  }

  func testAPagePairEarnsNothing() {
    XCTAssertEqual(replay([4096..<8192, 8192..<12288]).fetched, [])
  }

  func testMmapFaultsOutOfOrderEarnNothingWhileShort() {
    // Kernel fault-around delivers adjacent pages, sometimes the later one first.
    let faults: [Range<UInt64>] = [
      40960..<45056, 36864..<40960, 45056..<49152, 1_000_000..<1_004_096, 996_000..<1_000_000,
    ]
    XCTAssertEqual(replay(faults).fetched, [])
  }

  func testAOneMebibyteDdEarnsNothing() {
    let dd = sequential(from: 128 << 20, count: 8, size: 128 << 10)
    XCTAssertEqual(replay(dd).fetched, [])
  }

  /// Replays `reads` and returns the alignment decided for each.
  private func alignments(_ reads: [Range<UInt64>]) -> [UInt64] {
    var policy = ReadAheadPolicy(limits: limits)
    return reads.map { policy.read($0, fileSize: fileSize).alignment }
  }

  func testIsolatedReadsFetchTheirPagesAndStreamsWholeBlocks() {
    // SQLite's header and the kernel's read-ahead after it, then two B-tree pages.
    let sqlite: [Range<UInt64>] = [0..<16384, 16384..<49152, 27_103_232..<27_107_328, 27_725_824..<27_729_920]
    XCTAssertEqual(alignments(sqlite), [4096, 4096, 4096, 4096])
    // tar's 10 KiB header records, a member apart.
    let tar = (0..<UInt64(20)).map { (member: UInt64) in member * 204_800 + 4096..<member * 204_800 + 16384 }
    XCTAssertEqual(Set(alignments(tar)), [4096])
    // A stream: its pages until it is `minimumRun` long, whole blocks from then on.
    let stream = alignments(sequential(from: 0, count: 32, size: 128 << 10))
    let block: UInt64 = 64 << 10
    XCTAssertEqual(stream, Array(repeating: 4096, count: 15) + Array(repeating: block, count: 17))
  }

  func testMmapReadAroundOfScatteredFaultsEarnsNothing() {
    // Each fault of a mapping brings the kernel's read-around of 128 KiB around it.
    let faults: [UInt64] = [199_983_104, 31_457_280, 120_586_240, 4_194_304, 250_609_664, 66_584_576]
    let reads = faults.map { (fault: UInt64) in fault - (64 << 10)..<fault + (64 << 10) }
    XCTAssertEqual(replay(reads).fetched, [])
    XCTAssertEqual(Set(alignments(reads)), [4096])
  }

  func testTileReadsOfAWindowEarnNothing() {
    // gdal_translate of a 512x512 window of a COG, as recorded through the mount: the header,
    // then one pread of the tiles of each row of the window (1.8 MiB), which the kernel
    // delivers as a 4 KiB read and 128 KiB reads, a few of them out of order.
    var reads: [Range<UInt64>] = [0..<16384, 38_162_432..<38_166_528]
    reads += sequential(from: 38_166_528, count: 14, size: 128 << 10)
    reads += [44_064_768..<44_068_864]
    var second = sequential(from: 44_068_864, count: 14, size: 128 << 10)
    second.swapAt(3, 4)
    reads += second
    XCTAssertEqual(replay(reads).fetched, [])
  }

  func testColumnChunksOfOneColumnEarnNothing() {
    // DuckDB summing one column: a chunk of about 1.5 MiB in each of 8 row groups, 8 MiB apart.
    let chunks = (0..<UInt64(8)).flatMap { (group: UInt64) in
      sequential(from: 1_572_864 + group * (8 << 20), count: 12, size: 128 << 10)
    }
    XCTAssertEqual(replay(chunks).fetched, [])
  }

  func testAFileProbeOfSevenMebibytesWastesAtMostItsOwnSize() {
    let probe = sequential(from: 0, count: 56, size: 128 << 10)
    XCTAssertLessThanOrEqual(wasted(replay(probe).fetched, reads: probe), 7 << 20)
  }

  func testALongStreamReachesTheMaximumWindowAndStaysAhead() {
    let stream = sequential(from: 0, count: 4096, size: 128 << 10)  // 512 MiB
    let fetched = replay(stream).fetched
    // Fetches follow each other without a gap or an overlap.
    for (earlier, later) in zip(fetched, fetched.dropFirst()) { XCTAssertEqual(earlier.upperBound, later.lowerBound) }
    // The reader is never more than one window behind what was asked ahead.
    XCTAssertGreaterThanOrEqual(fetched.last!.upperBound, 512 << 20)
    XCTAssertLessThanOrEqual(fetched.last!.upperBound, (512 << 20) + (64 << 20))
    // Asked about half a window at a time once the window is the maximum.
    let largest = UInt64(fetched.map(\.count).max()!)
    XCTAssertGreaterThanOrEqual(largest, 32 << 20, "the window reaches the maximum")
    XCTAssertLessThanOrEqual(largest, 64 << 20)
  }

  func testBTreeDescentEarnsNothing() {
    // SQLite pages of 4 KiB read at scattered offsets.
    let pages: [UInt64] = [0, 1 << 20, 37 << 20, 12 << 20, 90 << 20, 91 << 20 + 8192]
    XCTAssertEqual(replay(pages.map { $0..<$0 + 4096 }).fetched, [])
  }

  func testAColumnChunkEarnsAtMostASmallMultipleOfItself() {
    // One 2 MiB column chunk read in 256 KiB reads, then a jump to the next row group's chunk.
    let chunk = sequential(from: 10 << 20, count: 8, size: 256 << 10)
    let next = sequential(from: 40 << 20, count: 8, size: 256 << 10)
    let (fetched, dropped) = replay(chunk + next)
    XCTAssertLessThanOrEqual(wasted(fetched, reads: chunk + next), 2 * (2 << 20))
    XCTAssertEqual(dropped.count, 1, "the jump drops what was asked ahead of the first chunk")
    XCTAssertEqual(dropped.first?.lowerBound, 12 << 20)
  }

  func testTwoInterleavedStreamsOnOneHandleDropAndEarnLittle() {
    let a = sequential(from: 0, count: 32, size: 128 << 10)
    let b = sequential(from: 500 << 20, count: 32, size: 128 << 10)
    let interleaved = zip(a, b).flatMap { [$0, $1] }
    XCTAssertEqual(replay(interleaved).fetched, [], "neither stream continues from the other")
  }

  func testRandomReadsThatLandNearEachOtherEarnNothing() {
    // 4 KiB reads hopping forward by a few hundred KiB: the span grows, the bytes read do not.
    let hops = (0..<UInt64(200)).map { $0 * (300 << 10)..<$0 * (300 << 10) + 4096 }
    XCTAssertEqual(replay(hops).fetched, [])
  }

  func testKernelReadAheadArrivingOutOfOrderStillCounts() {
    // 512 KiB reads of a stream, each pair swapped, as concurrent kernel read-ahead delivers them.
    let reads = sequential(from: 0, count: 64, size: 512 << 10)
    let swapped = stride(from: 0, to: reads.count, by: 2).flatMap { [reads[$0 + 1], reads[$0]] }
    XCTAssertGreaterThan(total(replay(swapped).fetched), 8 << 20)
  }

  func testReadAheadOffFetchesNothing() {
    let stream = sequential(from: 0, count: 256, size: 128 << 10)
    XCTAssertEqual(replay(stream, limits: ReadAheadPolicy.Limits(maximum: 0)).fetched, [])
  }

  func testTheWindowNeverRunsPastTheEndOfTheFile() {
    var policy = ReadAheadPolicy(limits: limits)
    var fetched: [Range<UInt64>] = []
    for read in sequential(from: 0, count: 40, size: 128 << 10) {
      if let fetch = policy.read(read, fileSize: 5 << 20).fetch { fetched.append(fetch) }
    }
    XCTAssertTrue(fetched.allSatisfy { $0.upperBound <= 5 << 20 })
    XCTAssertEqual(fetched.last?.upperBound, 5 << 20)
  }
}
