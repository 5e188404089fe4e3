import Foundation
import XCTest

@testable import BitsEngine

final class CacheEntryTests: XCTestCase {
  var directory: URL!
  let url = "http://127.0.0.1/file.bin"
  let version = RemoteVersion(size: 1 << 20, lastModified: "Tue, 24 Nov 2026 10:00:00 GMT", etag: "\"v1\"")

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-cache-\(UUID().uuidString)")
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private var journal: URL { directory.appendingPathComponent("filled") }

  func testFilledRangesSurviveReopeningForTheSameVersionOnly() throws {
    do {
      let entry = try CacheEntry(directory: directory)
      let (data, filled) = try entry.open(url: url, version: version)
      XCTAssertTrue(filled.isEmpty)
      let bytes = [UInt8](repeating: 7, count: 4096)
      try bytes.withUnsafeBytes { try data.write($0, at: 8192) }
      try entry.commit([8192..<12288], data: data)
    }
    do {
      let entry = try CacheEntry(directory: directory)
      let (data, filled) = try entry.open(url: url, version: version)
      XCTAssertEqual(filled.intervals, [8192..<12288])
      var read = [UInt8](repeating: 0, count: 4096)
      try read.withUnsafeMutableBytes { try data.read(into: $0, at: 8192) }
      XCTAssertEqual(read, [UInt8](repeating: 7, count: 4096))
    }
    var changed = version
    changed.etag = "\"v2\""
    let entry = try CacheEntry(directory: directory)
    XCTAssertTrue(try entry.open(url: url, version: changed).1.isEmpty, "another version starts empty")
    XCTAssertTrue(try entry.open(url: url, version: version).1.isEmpty, "and the old bytes are gone")
    XCTAssertTrue(try entry.open(url: url + "?other", version: changed).1.isEmpty, "another URL starts empty")
  }

  func testTornLastRecordIsIgnored() throws {
    do {
      let entry = try CacheEntry(directory: directory)
      let (data, _) = try entry.open(url: url, version: version)
      try entry.commit([0..<100, 200..<300], data: data)
    }
    // A crash in the middle of an append leaves part of a record.
    let handle = try FileHandle(forWritingTo: journal)
    try handle.seekToEnd()
    try handle.write(contentsOf: Data([1, 2, 3, 4, 5]))
    try handle.close()
    let (_, filled) = try CacheEntry(directory: directory).open(url: url, version: version)
    XCTAssertEqual(filled.intervals, [0..<100, 200..<300])
  }

  func testJournalIsCompactedOnOpen() throws {
    do {
      let entry = try CacheEntry(directory: directory)
      let (data, _) = try entry.open(url: url, version: version)
      try entry.commit([0..<1000], data: data)
    }
    // Records appended by an earlier run (which compacts as it goes only past a threshold).
    for start in stride(from: UInt64(1000), to: 200 * 1000, by: 1000) {
      try FilledJournal.append([start..<start + 1000], path: journal.path)
    }
    let before = try FileManager.default.attributesOfItem(atPath: journal.path)[.size] as! Int
    XCTAssertEqual(before, 201 * FilledJournal.recordSize, "a header and 200 records")
    let (_, filled) = try CacheEntry(directory: directory).open(url: url, version: version)
    XCTAssertEqual(filled.intervals, [0..<200_000])
    let after = try FileManager.default.attributesOfItem(atPath: journal.path)[.size] as! Int
    XCTAssertEqual(after, 2 * FilledJournal.recordSize)
    XCTAssertEqual(try CacheEntry(directory: directory).open(url: url, version: version).1.intervals, [0..<200_000])
  }

  func testJournalIsCompactedAsItGrows() throws {
    let entry = try CacheEntry(directory: directory)
    let (data, _) = try entry.open(url: url, version: version)
    for start in stride(from: UInt64(0), to: 200 * 1000, by: 1000) {
      try entry.commit([start..<start + 1000], data: data)
    }
    let size = try FileManager.default.attributesOfItem(atPath: journal.path)[.size] as! Int
    XCTAssertLessThanOrEqual(size, 66 * FilledJournal.recordSize)
    entry.release()
    XCTAssertEqual(try CacheEntry(directory: directory).open(url: url, version: version).1.intervals, [0..<200_000])
  }

  func testRangesBeyondTheFileAreNotTrusted() throws {
    do {
      let entry = try CacheEntry(directory: directory)
      let (data, _) = try entry.open(url: url, version: version)
      try entry.commit([(1 << 20) - 10..<(1 << 20) + 10], data: data)
    }
    XCTAssertTrue(try CacheEntry(directory: directory).open(url: url, version: version).1.isEmpty)
  }

  // MARK: Damage

  /// Commits two ranges, damages the entry with `damage`, and returns what a reopen trusts.
  private func reopenAfter(_ damage: () throws -> Void) throws -> ByteRangeSet {
    do {
      let entry = try CacheEntry(directory: directory)
      let (data, _) = try entry.open(url: url, version: version)
      try entry.commit([0..<100, 200..<300], data: data)
    }
    try damage()
    return try CacheEntry(directory: directory).open(url: url, version: version).1
  }

  func testUndamagedEntryIsTrusted() throws {
    XCTAssertEqual(try reopenAfter {}.intervals, [0..<100, 200..<300])
  }

  func testAnyFlippedBitInTheJournalDropsTheWholeEntry() throws {
    // Every bit of the header and of both records, the last one included: only a torn last
    // record is a crash; a complete one failing its check means the journal was damaged.
    XCTAssertEqual(try reopenAfter {}.intervals, [0..<100, 200..<300])
    let metadata = directory.appendingPathComponent("meta.json")
    let intact = (journal: try Data(contentsOf: journal), metadata: try Data(contentsOf: metadata))
    XCTAssertEqual(intact.journal.count, 3 * FilledJournal.recordSize)
    func reopen(journal bytes: Data) throws -> ByteRangeSet {
      // A reopen that refuses the journal resets the entry: put back what it replaced.
      try bytes.write(to: journal)
      try intact.metadata.write(to: metadata)
      return try CacheEntry(directory: directory).open(url: url, version: version).1
    }
    var trusted: [String] = []
    for bit in 0..<intact.journal.count * 8 {
      var damaged = intact.journal
      damaged[bit / 8] ^= UInt8(1 << (bit % 8))
      let filled = try reopen(journal: damaged)
      if !filled.isEmpty { trusted.append("byte \(bit / 8) bit \(bit % 8): \(filled.intervals)") }
    }
    XCTAssertEqual(trusted, [], "damaged journals were trusted")
    XCTAssertEqual(try reopen(journal: intact.journal).intervals, [0..<100, 200..<300], "the intact one still is")
  }

  func testJournalOfAnotherEpochIsNotTrusted() throws {
    // A crash after a reset can leave the previous journal beside the new metadata (nothing
    // of a reset is flushed): its epoch differs, so none of its ranges are trusted.
    let filled = try reopenAfter {
      let previous = try Data(contentsOf: journal)
      _ = try CacheEntry(directory: directory).reset(url: url, version: version)
      try previous.write(to: journal)
    }
    XCTAssertTrue(filled.isEmpty)
  }

  func testJournalWithoutItsHeaderIsNotTrusted() throws {
    let filled = try reopenAfter {
      let records = try Data(contentsOf: journal).dropFirst(FilledJournal.recordSize)
      try Data(records).write(to: journal)
    }
    XCTAssertTrue(filled.isEmpty)
  }

  func testJournalOfAnEarlierLayoutIsNotMisread() throws {
    // 16-byte records without a check, as an earlier layout wrote them.
    let filled = try reopenAfter {
      var old = Data()
      for value: UInt64 in [0, 100, 200, 100] { withUnsafeBytes(of: value.littleEndian) { old.append(contentsOf: $0) } }
      try old.write(to: journal)
    }
    XCTAssertTrue(filled.isEmpty)
  }

  func testDamagedOrForeignMetadataDropsTheEntry() throws {
    let metadata = directory.appendingPathComponent("meta.json")
    let truncated = try reopenAfter {
      let bytes = try Data(contentsOf: metadata)
      try bytes.prefix(bytes.count / 2).write(to: metadata)
    }
    XCTAssertTrue(truncated.isEmpty)
    try FileManager.default.removeItem(at: directory)
    let otherFormat = try reopenAfter {
      let text = try String(contentsOf: metadata, encoding: .utf8)
      try text.replacingOccurrences(of: "\"format\":\(CacheEntry.format)", with: "\"format\":1")
        .write(to: metadata, atomically: true, encoding: .utf8)
    }
    XCTAssertTrue(otherFormat.isEmpty)
  }

  func testTruncatedDataFileDropsTheEntry() throws {
    let filled = try reopenAfter { XCTAssertEqual(truncate(directory.appendingPathComponent("data").path, 150), 0) }
    XCTAssertTrue(filled.isEmpty)
    let data = try CacheEntry(directory: directory).open(url: url, version: version).0
    XCTAssertEqual(data.size, version.size, "the reset entry is sized for the version again")
  }
}
