import Foundation
import Glibc
import XCTest

@testable import BitsEngine

/// Evicting ranges of a cache entry: the journal stops claiming them before their space is
/// freed, and is replayed in order.
final class CacheEvictionTests: XCTestCase {
  var directory: URL!
  let url = "http://127.0.0.1/file.bin"
  let version = RemoteVersion(size: 1 << 20, lastModified: "Tue, 24 Nov 2026 10:00:00 GMT", etag: "\"v1\"")

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-evict-\(UUID().uuidString)")
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private var journal: URL { directory.appendingPathComponent("filled") }

  private func allocatedBytes(_ data: DataFile) -> Int {
    var info = stat()
    XCTAssertEqual(fstat(data.descriptor, &info), 0)
    return Int(info.st_blocks) * 512
  }

  /// An entry with `count` bytes of `fill` written and committed from 0.
  private func filledEntry(_ count: UInt64, fill: UInt8 = 7) throws -> (CacheEntry, DataFile) {
    let entry = try CacheEntry(directory: directory)
    let (data, _) = try entry.open(url: url, version: version)
    try data.reserve(0..<count)
    let bytes = [UInt8](repeating: fill, count: Int(count))
    try bytes.withUnsafeBytes { try data.write($0, at: 0) }
    try entry.commit([0..<count], data: data)
    return (entry, data)
  }

  func testEvictedRangesAreNoLongerClaimedAndTheirSpaceIsFreed() throws {
    do {
      let (entry, data) = try filledEntry(256 << 10)
      let before = allocatedBytes(data)
      try entry.evict([64 << 10..<128 << 10, 192 << 10..<256 << 10], data: data)
      XCTAssertEqual(before - allocatedBytes(data), 128 << 10, "the evicted space is freed")
      var read = [UInt8](repeating: 1, count: 64 << 10)
      try read.withUnsafeMutableBytes { try data.read(into: $0, at: 64 << 10) }
      XCTAssertTrue(read == [UInt8](repeating: 0, count: 64 << 10), "a hole reads as zeros")
    }
    let (data, filled) = try CacheEntry(directory: directory).open(url: url, version: version)
    XCTAssertEqual(filled.intervals, [0..<64 << 10, 128 << 10..<192 << 10])
    var read = [UInt8](repeating: 0, count: 64 << 10)
    try read.withUnsafeMutableBytes { try data.read(into: $0, at: 128 << 10) }
    XCTAssertTrue(read == [UInt8](repeating: 7, count: 64 << 10), "bytes kept are intact")
  }

  func testTheJournalIsReplayedInOrder() throws {
    do {
      let (entry, data) = try filledEntry(64 << 10)
      try entry.evict([0..<64 << 10], data: data)
      try entry.commit([0..<4096], data: data)
      try entry.evict([1000..<2000], data: data)
    }
    XCTAssertEqual(
      try CacheEntry(directory: directory).open(url: url, version: version).1.intervals, [0..<1000, 2000..<4096])
  }

  func testNoSpaceIsFreedUnlessTheJournalFirstRecordedTheRemoval() throws {
    let (entry, data) = try filledEntry(128 << 10)
    // A journal that cannot be written: the eviction fails, and the bytes stay.
    try FileManager.default.removeItem(at: journal)
    try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: false)
    XCTAssertThrowsError(try entry.evict([0..<64 << 10], data: data))
    var read = [UInt8](repeating: 0, count: 64 << 10)
    try read.withUnsafeMutableBytes { try data.read(into: $0, at: 0) }
    XCTAssertTrue(read == [UInt8](repeating: 7, count: 64 << 10), "bytes were freed before the journal said so")
  }

  func testACrashAfterTheRemovalRecordLeavesNothingClaimedThatMayBeGone() throws {
    do {
      let (_, _) = try filledEntry(128 << 10)
    }
    // What a crash between the record and the hole leaves: the record alone.
    try FilledJournal.appendRemoval([0..<64 << 10], path: journal.path)
    XCTAssertEqual(
      try CacheEntry(directory: directory).open(url: url, version: version).1.intervals, [64 << 10..<128 << 10])
  }

  func testEvictionsDoNotGrowTheJournalWithoutBound() throws {
    let (entry, data) = try filledEntry(1 << 20)
    for index in UInt64(0)..<1000 {
      let start = (index % 16) * (64 << 10)
      try entry.evict([start..<start + 4096], data: data)
      try entry.commit([start..<start + 4096], data: data)
    }
    let size = try FileManager.default.attributesOfItem(atPath: journal.path)[.size] as! Int
    XCTAssertLessThan(size, 200 * FilledJournal.recordSize, "compacted as it goes")
    XCTAssertEqual(entry.metadataBytes, 3 * 4096)
    entry.release()
    XCTAssertEqual(try CacheEntry(directory: directory).open(url: url, version: version).1.intervals, [0..<1 << 20])
  }

  func testDirectoryScanTellsEntriesFromOtherFiles() throws {
    let cache = directory.appendingPathComponent("cache")
    let entryDirectory = cache.appendingPathComponent(CacheKey.forURL(url))
    do {
      let entry = try CacheEntry(directory: entryDirectory)
      let (data, _) = try entry.open(url: url, version: version)
      try data.reserve(0..<65536)
      try entry.commit([0..<65536], data: data)
    }
    try Data(count: 10000).write(to: cache.appendingPathComponent("notes.txt"))
    try FileManager.default.createDirectory(
      at: cache.appendingPathComponent("0123456789abcdef"), withIntermediateDirectories: true)
    try Data("x".utf8).write(to: cache.appendingPathComponent("0123456789abcdef/photo.jpg"))
    let scan = try XCTUnwrap(CacheDirectory.scan(cache))
    XCTAssertEqual(
      scan.entries.map(\.path), [entryDirectory.path],
      "a directory named like an entry but holding other files is not one")
    XCTAssertGreaterThanOrEqual(scan.entries[0].diskBytes, 65536)
    XCTAssertGreaterThanOrEqual(scan.otherBytes, 12288)
  }
}
