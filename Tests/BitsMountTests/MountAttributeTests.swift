import BitsMount
import Foundation
import TestSupport
import XCTest

/// The `user.bitsfs.*` attributes: what copies of a file carry, and `bitsfs status` for files
/// of any number of filled ranges.
final class MountAttributeTests: MountTestCase {
  /// `cp -a` and `rsync -aX` copy the listed attributes: only the URL, without its credentials
  /// (userinfo, a presigned query string), and the ETag; no statistics, stale in a copy.
  func testCopiesCarryTheURLWithoutCredentialsAndNoStatistics() throws {
    let bytes = try serve("p.bin", count: 100_000)
    let plain = nginx.url("p.bin")
    let presigned =
      plain.replacingOccurrences(of: "http://", with: "http://user:passw0rd@")
      + "?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=sekrit"
    let mountPoint = try mount([presigned])
    let file = mountPoint + "/p.bin"
    XCTAssertEqual(try read(file, offset: 0, count: 1000), Array(bytes[0..<1000]))

    let copy = workDirectory.appendingPathComponent("copy.bin").path
    let copied = try runCommand("/bin/cp", ["-a", file, copy])
    XCTAssertEqual(copied.status, 0, copied.error)
    for path in [file, copy] {
      let dump = try runCommand("/usr/bin/getfattr", ["-d", "-m", "-", "--absolute-names", path])
      XCTAssertEqual(dump.status, 0, dump.error)
      let names = dump.output.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap {
        $0.split(separator: "=").first.map(String.init)
      }
      XCTAssertEqual(names, ["user.bitsfs.etag", "user.bitsfs.url"], "\(path): \(dump.output)")
      XCTAssertTrue(dump.output.contains("user.bitsfs.url=\"\(plain)\""), dump.output)
      for secret in ["sekrit", "AKIDEXAMPLE", "passw0rd", "user:"] {
        XCTAssertFalse(dump.output.contains(secret), "\(path): \(dump.output)")
      }
    }
    // Statistics stay readable by name, for `bitsfs status`.
    XCTAssertNotNil(ExtendedAttributes.value("user.bitsfs.stats", of: file))
    XCTAssertNotNil(ExtendedAttributes.value("user.bitsfs.filled", of: file))
    let status = try bitsfs(["status", mountPoint])
    XCTAssertEqual(status.status, 0, status.error)
    XCTAssertFalse(status.output.contains("sekrit"), status.output)
    try unmount(mountPoint)
  }

  /// The list of filled ranges passes the 64 KiB limit of an attribute at 3,500 to 5,000 ranges
  /// (here 5,201 of 14 characters or so); `bitsfs status` pictures the file from the fixed-size
  /// map whatever their number.
  func testStatusOfAFileWithThousandsOfRanges() throws {
    let block = 4096
    let gapped = 5200
    let tail = 8 << 20
    try serve("many.bin", count: gapped * 2 * block + tail)
    let mountPoint = try mount([nginx.url("many.bin")], options: ["--block-size", "\(block)"])
    let file = mountPoint + "/many.bin"
    // The tail whole, then every other block before it in a random order, one request each:
    // no read-ahead of the kernel (POSIX_FADV_RANDOM) or of the mount (not sequential).
    XCTAssertEqual(try read(file, offset: UInt64(gapped * 2 * block), count: tail).count, tail)
    let descriptor = open(file, O_RDONLY)
    XCTAssertGreaterThanOrEqual(descriptor, 0)
    XCTAssertEqual(posix_fadvise(descriptor, 0, 0, POSIX_FADV_RANDOM), 0)
    var generator = SplitMix64(seed: 7)
    var buffer = [UInt8](repeating: 0, count: block)
    for index in (0..<gapped).shuffled(using: &generator) {
      let offset = off_t(index * 2 * block)
      XCTAssertEqual(buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, block, offset) }, block)
    }
    close(descriptor)

    let stats = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.stats", of: file))
    XCTAssertTrue(stats.contains("ranges=\(gapped + 1)"), stats)
    XCTAssertNil(ExtendedAttributes.value("user.bitsfs.filled", of: file), "the list is too long for an attribute")
    let status = try bitsfs(["status", file])
    XCTAssertEqual(status.status, 0, status.error)
    XCTAssertTrue(status.output.contains("in \(gapped + 1) ranges"), status.output)
    let picture = try XCTUnwrap(status.output.split(separator: "\n").last).trimmingCharacters(in: .whitespaces)
    // 64 columns: the gapped part (five sixths) partly filled, the tail whole.
    XCTAssertTrue(picture.hasPrefix("[" + String(repeating: "+", count: 52)), picture)
    XCTAssertTrue(picture.hasSuffix(String(repeating: "#", count: 10) + "]"), picture)
    let map = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.filled-map", of: file))
    XCTAssertEqual(map.count, FilledMap.slotCount)
    try unmount(mountPoint)
  }
}
