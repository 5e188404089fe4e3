import BitsMount
import Foundation
import TestSupport
import XCTest

/// Background fill through real mounts of nginx: `--prefetch` fills the files it names whole,
/// finds them by walking a tree, and fetches no byte twice.
final class PrefetchMountTests: MountTestCase {
  private func filledBytes(_ path: String) -> UInt64 {
    let stats = ExtendedAttributes.value("user.bitsfs.stats", of: path) ?? ""
    return stats.split(separator: " ").first { $0.hasPrefix("filled=") }.flatMap { UInt64($0.dropFirst(7)) } ?? 0
  }

  func testPrefetchFillsTheMatchingFilesOfATreeWholeAndTheyServeWithTheServerGone() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/deep"), withIntermediateDirectories: true)
    let one = try serve("tree/one.bin", count: 3 << 20, seed: 1)
    let two = try serve("tree/deep/two.bin", count: 5 << 20 + 123, seed: 2)
    _ = try serve("tree/deep/skip.txt", count: 1 << 20, seed: 3)
    let mountPoint = try mount([nginx.url("tree/")], options: ["--prefetch", "*.bin"])
    defer { try? unmount(mountPoint) }
    let filled = waitUntil(timeout: 60, poll: 0.1) {
      self.filledBytes(mountPoint + "/one.bin") == UInt64(one.count)
        && self.filledBytes(mountPoint + "/deep/two.bin") == UInt64(two.count)
    }
    XCTAssertTrue(filled, "prefetch filled both files")
    XCTAssertEqual(filledBytes(mountPoint + "/deep/skip.txt"), 0, "a file no pattern names is left alone")
    let sent = nginx.requests().filter { $0.path.hasSuffix(".bin") && $0.range != "bytes=0-0" }.reduce(0) {
      $0 + $1.bodyBytes
    }
    XCTAssertEqual(sent, one.count + two.count, "every byte once")
    XCTAssertFalse(nginx.requests().contains { $0.path.hasSuffix("skip.txt") }, "not even probed")
    nginx.stop()
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/one.bin"), try TestData.sha256(of: one))
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/deep/two.bin"), try TestData.sha256(of: two))
  }

  func testBadPrefetchOptionsAreRefused() throws {
    _ = try serve("a.bin", count: 10)
    for (options, message) in [(["--prefetch-priority", "urgent"], "must be high, normal or low")] {
      let result = try bitsfs(
        ["mount", nginx.url("a.bin"), try makeMountPoint(), "--cache-dir", cacheDirectory.path] + options)
      XCTAssertEqual(result.status, 2, result.error)
      XCTAssertTrue(result.error.contains(message), result.error)
    }
  }
}
