import BitsEngine
import BitsMount
import Foundation
import TestSupport
import XCTest

/// Background fill of many files through real mounts of nginx: every file asked for is listed
/// by `bitsfs status` from the moment it is queued, a filled file lets go of its descriptors,
/// and under a cache limit readers do not evict what fill holds.
final class FillQueueMountTests: MountTestCase {
  private func statsField(_ name: String, of path: String) -> String? {
    let stats = ExtendedAttributes.value("user.bitsfs.stats", of: path) ?? ""
    return stats.split(separator: " ").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
  }

  /// The first status of `bitsfs status --watch` as lines, by file name.
  private func watchedOnce(_ mountPoint: String) throws -> [String: String] {
    let result = try runCommand(
      "/usr/bin/timeout", ["-s", "INT", "4", Self.binary, "status", "--watch", mountPoint, "--interval", "30"],
      timeout: 20)
    var rows: [String: String] = [:]
    for line in result.output.split(separator: "\n") {
      guard let name = line.split(separator: " ").first else { continue }
      rows[String(name)] = String(line)
    }
    return rows
  }

  /// A directory prefetch of more files than fill works on at once, under a cache limit that
  /// holds only some: every file is listed from the start with its state and priority, in
  /// `status --json` and `status --watch`; at the end those that fit are transferred and the
  /// rest stopped with ERROR_DISK_FULL.
  func testStatusListsEveryFileOfADirectoryPrefetchWithItsFillState() throws {
    let count = 30
    for part in ["a", "b"] {
      try FileManager.default.createDirectory(
        at: nginx.root.appendingPathComponent("tree/many/\(part)"), withIntermediateDirectories: true)
    }
    let names = (0..<count).map { "many/\($0 % 2 == 0 ? "a" : "b")/f\(String(format: "%02d", $0)).bin" }
    for (index, name) in names.enumerated() { _ = try serve("tree/" + name, count: 512 << 10, seed: UInt64(index)) }
    // Fill may hold three quarters of 16 MiB: 24 of the 30 files of 512 KiB.
    let mountPoint = try mount(
      [nginx.url("tree/")], options: ["--cache-limit", "16M", "--cache-min-free", "0", "--prefetch-rate", "2M"])
    defer { try? unmount(mountPoint) }
    XCTAssertEqual(try bitsfs(["prefetch", mountPoint + "/many", "--priority", "normal"]).status, 0)

    // The walk lists the subdirectories in the background: once it reached many/a.
    var answer: MountStatus?
    _ = waitUntil(timeout: 10, poll: 0.05) {
      let json = try? self.bitsfs(["status", "--json", mountPoint + "/many/a"])
      answer = json.flatMap { try? JSONDecoder().decode(MountStatus.self, from: Data($0.output.utf8)) }
      return answer?.files.contains { $0.fill != nil } == true
    }
    let document = try XCTUnwrap(answer)
    XCTAssertEqual(document.files.map { $0.name ?? "" }, names.filter { $0.hasPrefix("many/a/") })
    for file in document.files {
      XCTAssertEqual(file.fill?.priority, "normal", "\(file.name ?? "")")
      XCTAssertTrue(["queued", "transferring", "transferred"].contains(file.fill?.state ?? "none"), "\(file)")
    }
    let early = try watchedOnce(mountPoint)
    for name in names {
      let row = try XCTUnwrap(early[name], "\(name) is listed while queued: \(early)")
      XCTAssertTrue(row.contains(" priority=normal "), row)
    }
    XCTAssertTrue(early.values.contains { $0.contains(" state=queued ") }, "some wait their turn: \(early)")

    let settled = waitUntil(timeout: 60, poll: 0.2) {
      names.allSatisfy { ["transferred", "error"].contains(self.statsField("fill", of: mountPoint + "/" + $0)) }
    }
    XCTAssertTrue(settled, "every fill ends")
    let late = try watchedOnce(mountPoint)
    let transferred = names.filter { late[$0]?.contains(" state=transferred priority=normal filled=524288 ") == true }
    let refused = names.filter { late[$0]?.contains(" state=error code=ERROR_DISK_FULL priority=normal ") == true }
    XCTAssertEqual(transferred.count, 24, "\(late)")
    XCTAssertEqual(refused.count, 6, "\(late)")
    let plain = try bitsfs(["status", mountPoint + "/" + refused.first!])
    XCTAssertTrue(plain.output.contains("background fill (normal): error, ERROR_DISK_FULL"), plain.output)
  }

  /// A prefetch of 1,200 files: the status `--watch` shows lists 1,000 of them besides the open
  /// ones, those under way first, and counts the rest.
  func testTheStatusOfAFillOfManyFilesIsBounded() throws {
    let count = 1200
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/many"), withIntermediateDirectories: true)
    for index in 0..<count {
      _ = try serve("tree/many/f\(String(format: "%04d", index)).bin", count: 64 << 10, seed: UInt64(index))
    }
    let mountPoint = try mount(
      [nginx.url("tree/")], options: ["--prefetch", "many/*", "--prefetch-rate", "64K"])
    defer { try? unmount(mountPoint) }
    var rows: [String: String] = [:]
    var summary: String? { rows.first { $0.key.hasPrefix("unlisted=") }?.value }
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.2) {
        rows = (try? self.watchedOnce(mountPoint)) ?? [:]
        return summary != nil
      }, "\(rows.count) rows")
    let files = rows.filter { $0.key.hasPrefix("many/") }
    XCTAssertGreaterThanOrEqual(files.count, 1000)
    XCTAssertLessThanOrEqual(files.count, 1000 + 8, "1,000 besides those open")
    let unlisted = try XCTUnwrap(summary).split(separator: " ").first { $0.hasPrefix("unlisted=") }
    XCTAssertEqual(unlisted.flatMap { Int($0.dropFirst(9)) }, count - files.count, summary ?? "")
    XCTAssertTrue(summary?.contains(" transferring=") == true, summary ?? "")
    // Those under way, then the next to start in the order asked (the listing's): what is left
    // out is the last asked, and the transferred ones (listed last).
    let transferred = try XCTUnwrap(
      summary?.split(separator: " ").first { $0.hasPrefix("transferred=") }.flatMap { Int($0.dropFirst(12)) })
    let numbers = files.keys.map { Int($0.dropFirst("many/f".count).prefix(4)) ?? -1 }.sorted()
    let last = try XCTUnwrap(numbers.last)
    XCTAssertLessThan(last, count - 1, "the last asked is left out")
    XCTAssertLessThanOrEqual(last + 1 - numbers.count, transferred, "no gap but the transferred ones: \(numbers)")
  }

  /// A mount whose daemon may open 400 descriptors fills a tree of 300 files (two descriptors
  /// each if kept), then serves every one of them; few descriptors stay open.
  func testFillOfMoreFilesThanTheDescriptorLimitAllowsKeptOpen() throws {
    let count = 300
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/many"), withIntermediateDirectories: true)
    var originals: [String: [UInt8]] = [:]
    for index in 0..<count {
      let name = "many/f\(String(format: "%03d", index)).bin"
      originals[name] = try serve("tree/" + name, count: 16 << 10, seed: UInt64(index))
    }
    let mountPoint = try makeMountPoint()
    let mounted = try runCommand(
      "/usr/bin/prlimit",
      [
        "--nofile=400:400", Self.binary, "mount", nginx.url("tree/"), mountPoint, "--cache-dir", cacheDirectory.path,
        "--prefetch", "many/*",
      ], timeout: 60)
    XCTAssertEqual(mounted.status, 0, mounted.error)
    defer { try? unmount(mountPoint) }
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
    let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0 }
    let filled = waitUntil(timeout: 120, poll: 0.2) {
      originals.keys.allSatisfy { self.statsField("fill", of: mountPoint + "/" + $0) == "transferred" }
    }
    let unfilled = originals.keys.sorted().filter { statsField("fill", of: mountPoint + "/" + $0) != "transferred" }
    XCTAssertTrue(filled, "every file filled: \(unfilled.prefix(5)), \(descriptors()) descriptors open")
    // Reads of what is not filled would each wait for a server that is gone.
    guard filled else { return }
    XCTAssertLessThan(descriptors(), 200, "filled files let go of their descriptors")
    let sent = nginx.requests().filter { $0.path.hasSuffix(".bin") && $0.range != "bytes=0-0" }.reduce(0) {
      $0 + $1.bodyBytes
    }
    XCTAssertEqual(sent, count * 16 << 10, "every byte once")
    nginx.stop()
    for (name, bytes) in originals {
      XCTAssertEqual(try TestData.sha256(of: mountPoint + "/" + name), try TestData.sha256(of: bytes), name)
      XCTAssertEqual(statsField("filled", of: mountPoint + "/" + name), "\(16 << 10)", name)
    }
    XCTAssertLessThan(descriptors(), 200, "read files let go of theirs too")
  }

  /// Readers that go through more than the readers' share of a cache limit while fill runs
  /// evict their own blocks, not fill's: the filled file is fetched once and stays whole.
  func testReadersDoNotEvictWhatFillHolds() throws {
    let fill = try serve("fill.bin", count: 4 << 20, seed: 1)
    let readers = (0..<16).map { "r\(String(format: "%02d", $0)).bin" }
    var originals: [String: [UInt8]] = [:]
    for (index, name) in readers.enumerated() {
      originals[name] = try serve(name, count: 1 << 20, seed: 10 + UInt64(index))
    }
    let mountPoint = try mount(
      ([nginx.url("fill.bin")] + readers.map { nginx.url($0) }),
      options: ["--cache-limit", "8M", "--cache-min-free", "0", "--prefetch", "fill.bin", "--prefetch-rate", "1M"])
    defer { try? unmount(mountPoint) }
    // Half of the readers while fill runs, the other half once it is done.
    for (index, name) in readers.enumerated() {
      if index == readers.count / 2 {
        XCTAssertTrue(
          waitUntil(timeout: 60, poll: 0.1) { self.statsField("fill", of: mountPoint + "/fill.bin") == "transferred" })
      } else if index < readers.count / 2 {
        usleep(400_000)
      }
      let got = try read(mountPoint + "/" + name, offset: 0, count: 1 << 20)
      XCTAssertTrue(got == originals[name]!, name)
    }
    let sent = nginx.requests().filter { $0.path.hasSuffix("fill.bin") && $0.range != "bytes=0-0" }.reduce(0) {
      $0 + $1.bodyBytes
    }
    XCTAssertEqual(sent, fill.count, "fill fetched every byte once")
    XCTAssertEqual(statsField("filled", of: mountPoint + "/fill.bin"), "\(fill.count)", "and it stays whole")
    nginx.stop()
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/fill.bin"), try TestData.sha256(of: fill))
  }
}
