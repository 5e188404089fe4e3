import BitsEngine
import BitsMount
import Foundation
import TestSupport
import XCTest

/// Background fill across a crash, through real mounts of nginx: a mount killed with SIGKILL
/// mid-fill and mounted again on the same cache finishes the fill, and nginx never sends again
/// a byte the cache had journalled (only what was in flight at the kill, if anything).
final class FillPersistenceTests: MountTestCase {
  private func filledBytes(_ path: String) -> UInt64 {
    let stats = ExtendedAttributes.value("user.bitsfs.stats", of: path) ?? ""
    return stats.split(separator: " ").first { $0.hasPrefix("filled=") }.flatMap { UInt64($0.dropFirst(7)) } ?? 0
  }

  /// The bytes nginx sent of `name`, by offset (version probes left out).
  private func sentRanges(of name: String) -> [Range<Int>] {
    nginx.requests().filter { $0.path.hasSuffix(name) && $0.range != "bytes=0-0" && $0.status == 206 }.compactMap {
      request in
      guard let first = request.range?.dropFirst("bytes=".count).split(separator: "-").first,
        let offset = Int(first)
      else { return nil }
      return offset..<offset + request.bodyBytes
    }
  }

  private func overlap(_ one: [Range<Int>], _ other: [Range<Int>]) -> IndexSet {
    var first = IndexSet()
    for range in one { first.insert(integersIn: range) }
    var second = IndexSet()
    for range in other { second.insert(integersIn: range) }
    return first.intersection(second)
  }

  /// Kills the daemon of `mountPoint` once `path` is partly filled, mounts again with
  /// `remountOptions` and checks the fill ends whole without fetching a journalled byte again.
  private func killMidFillAndRemount(
    _ mountPoint: String, file path: String, name: String, bytes: [UInt8], remountOptions: [String]
  ) throws {
    let size = UInt64(bytes.count)
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.05) {
        let filled = self.filledBytes(path)
        return filled >= size / 4 && filled < size / 2
      }, "the fill is under way and not done")
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
    kill(pid, SIGKILL)
    XCTAssertTrue(waitUntil(timeout: 10) { kill(pid, 0) != 0 }, "the daemon is gone")
    XCTAssertEqual(try runCommand("/usr/bin/fusermount3", ["-u", "-z", mountPoint]).status, 0)
    XCTAssertTrue(waitUntil(timeout: 10) { !MountTable.isMountPoint(mountPoint) })
    let journalled = CacheJournal.claims(under: cacheDirectory).filter { $0.url.hasSuffix(name) }.flatMap(\.ranges)
    let before = sentRanges(of: name)
    let journalledBytes = journalled.reduce(0) { $0 + $1.count }
    XCTAssertGreaterThan(journalledBytes, 0, "the fill was journalled as it went")
    XCTAssertLessThan(journalledBytes, bytes.count)
    nginx.clearLog()

    try mount([nginx.url("tree/")], at: mountPoint, options: remountOptions)
    XCTAssertTrue(waitUntil(timeout: 60, poll: 0.1) { self.filledBytes(path) == size }, "the fill resumed and ended")
    let after = sentRanges(of: name)
    XCTAssertTrue(overlap(after, journalled).isEmpty, "no journalled byte is fetched again")
    // Bytes fetched twice can only be those of requests in flight (or not yet journalled) at the
    // kill; each fill piece is journalled as soon as it ends, so usually there are none.
    let twice = overlap(after, before)
    XCTAssertLessThanOrEqual(twice.count, 8 << 20, "at most the requests in flight")
    var covered = IndexSet()
    for range in before + after { covered.insert(integersIn: range) }
    XCTAssertEqual(covered, IndexSet(integersIn: 0..<bytes.count), "between them, the two mounts fetched the file")
    nginx.stop()
    XCTAssertEqual(try TestData.sha256(of: path), try TestData.sha256(of: bytes), "served whole with nginx gone")
  }

  /// `bitsfs prefetch` is kept in the cache: the next mount, made without asking, resumes it and
  /// forgets it once the file is whole; a cancelled request is not resumed.
  func testAPrefetchRequestSurvivesAKillAndIsResumedByTheNextMount() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/deep"), withIntermediateDirectories: true)
    let bytes = try serve("tree/deep/big.bin", count: 8 << 20, seed: 1)
    _ = try serve("tree/other.bin", count: 4 << 20, seed: 2)
    let options = ["--prefetch-rate", "2M"]
    let mountPoint = try mount([nginx.url("tree/")], options: options)
    defer { try? unmount(mountPoint) }
    var result = try bitsfs(["prefetch", mountPoint + "/deep/big.bin", mountPoint + "/other.bin"])
    XCTAssertEqual(result.status, 0, result.error)
    result = try bitsfs(["prefetch", "--cancel", mountPoint + "/other.bin"])
    XCTAssertEqual(result.status, 0, result.error)
    let kept = cacheDirectory.appendingPathComponent("fill")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: kept.path).count, 1, "one request is kept")
    let text = try FileManager.default.contentsOfDirectory(atPath: kept.path).map {
      try String(contentsOf: kept.appendingPathComponent($0), encoding: .utf8)
    }.joined()
    XCTAssertFalse(text.contains("127.0.0.1"), "no URL is written: \(text)")

    try killMidFillAndRemount(
      mountPoint, file: mountPoint + "/deep/big.bin", name: "big.bin", bytes: bytes, remountOptions: options)
    XCTAssertLessThan(filledBytes(mountPoint + "/other.bin"), 4 << 20, "the cancelled request is not resumed")
    // Forgotten when the file's FileRangesTransferred says it is whole (within the notification interval).
    XCTAssertTrue(
      waitUntil(timeout: 10, poll: 0.05) { (try? FileManager.default.contentsOfDirectory(atPath: kept.path)) == [] },
      "done: the request is gone")
  }

  /// `--prefetch` at mount time goes on where a killed mount stopped when mounted again with it.
  func testPrefetchAtMountTimeGoesOnAfterAKill() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree"), withIntermediateDirectories: true)
    let bytes = try serve("tree/big.bin", count: 8 << 20, seed: 3)
    let options = ["--prefetch", "*.bin", "--prefetch-rate", "2M"]
    let mountPoint = try mount([nginx.url("tree/")], options: options)
    defer { try? unmount(mountPoint) }
    try killMidFillAndRemount(
      mountPoint, file: mountPoint + "/big.bin", name: "big.bin", bytes: bytes, remountOptions: options)
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: cacheDirectory.appendingPathComponent("fill").path),
      "--prefetch is the mount's own: nothing is kept")
  }
}
