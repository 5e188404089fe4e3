import BitsMount
import Foundation
import Synchronization
import TestPrerequisites
import TestSupport
import XCTest

/// The daemon killed mid-read, a full cache disk, a file gone from the server, and many readers
/// at once: reads return the original bytes or EIO, and the cache never claims bytes it lacks.
final class MountStressTests: MountTestCase {
  private func daemonPID(_ mountPoint: String) throws -> Int32 {
    try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
  }

  /// The filled ranges a fresh mount recovered from its cache, as `user.bitsfs.filled` shows them.
  private func filledRanges(_ path: String) -> [Range<Int>] {
    let text = ExtendedAttributes.value("user.bitsfs.filled", of: path) ?? ""
    return text.split(separator: " ").compactMap { pair in
      let parts = pair.split(separator: "+").compactMap { Int($0) }
      return parts.count == 2 ? parts[0]..<parts[0] + parts[1] : nil
    }
  }

  func testKillDuringASequentialReadNeverRecordsBytesItDoesNotHave() throws {
    let bytes = try serve("big.bin", count: 96 << 20)
    let mountPoint = try makeMountPoint()
    let path = mountPoint + "/big.bin"
    var recovered = 0
    for (round, delay) in [0.15, 0.4, 0.8, 1.2].enumerated() {
      try mount([nginx.url("big.bin")], at: mountPoint)
      // What an earlier round left in the cache is either absent or exactly the original.
      let filled = filledRanges(path)
      for range in filled {
        let got = try read(path, offset: UInt64(range.lowerBound), count: range.count)
        XCTAssertTrue(sameBytes(got, bytes[range]), "round \(round): cached \(range) differs from the original")
      }
      recovered = filled.reduce(0) { $0 + $1.count }

      try killDaemon(of: mountPoint, after: delay, reading: path, blockSize: "1M")
    }
    try mount([nginx.url("big.bin")], at: mountPoint)
    XCTAssertGreaterThan(recovered, 0, "some progress survived the kills")
    nginx.clearLog()
    XCTAssertEqual(try TestData.sha256(of: path), try TestData.sha256(of: bytes))
    XCTAssertLessThanOrEqual(
      fetchedBytes(), bytes.count - recovered + (1 << 20), "recovered bytes are not fetched again")
    try unmount(mountPoint)
  }

  func testFullCacheDiskGivesEIOAndNeverWrongBytes() throws {
    try requireRoot(for: "mounting a small tmpfs")
    try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
    XCTAssertEqual(
      try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", cacheDirectory.path]).status, 0)
    defer { _ = try? runCommand("/bin/umount", ["-l", cacheDirectory.path]) }
    let bytes = try serve("f.bin", count: 8 << 20)
    let log = workDirectory.appendingPathComponent("full.log").path
    // No free space kept: the disk fills.
    let mountPoint = try mount([nginx.url("f.bin")], options: ["--log-file", log, "--cache-min-free", "0"])
    let path = mountPoint + "/f.bin"
    XCTAssertEqual(try read(path, offset: 0, count: 256 << 10), Array(bytes[0..<(256 << 10)]))

    // Reading everything cannot be cached in 2 MiB: what arrives is right, the rest is EIO.
    var offset = 0
    var sawError = false
    while offset < bytes.count {
      do {
        let got = try read(path, offset: UInt64(offset), count: 1 << 20)
        XCTAssertTrue(sameBytes(got, bytes[offset..<offset + got.count]), "wrong bytes at \(offset)")
        offset += got.count
      } catch {
        XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
        sawError = true
        break
      }
    }
    XCTAssertTrue(sawError, "8 MiB did not fit in a 2 MiB cache, yet every read succeeded")
    let warnings = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    XCTAssertTrue(
      warnings.contains("warning: a read failed with EIO") && warnings.contains("ERROR_DISK_FULL"),
      "the EIO is explained in the log: \(warnings)")
    XCTAssertEqual(
      try read(path, offset: 0, count: 256 << 10), Array(bytes[0..<(256 << 10)]), "cached bytes still serve")

    // Once the disk has room, the same mount reads the whole file.
    XCTAssertEqual(try runCommand("/bin/mount", ["-o", "remount,size=16m", cacheDirectory.path]).status, 0)
    XCTAssertEqual(try read(path, offset: 0, count: bytes.count), bytes)
    try unmount(mountPoint)

    // The cache is consistent afterwards: a new mount trusts only bytes that are right.
    let again = try mount([nginx.url("f.bin")], at: mountPoint)
    for range in filledRanges(again + "/f.bin") {
      let got = try read(again + "/f.bin", offset: UInt64(range.lowerBound), count: range.count)
      XCTAssertTrue(sameBytes(got, bytes[range]), "cached \(range) differs from the original")
    }
    try unmount(again)
  }

  func testFileGoneFromTheServerGivesEIOWhileCachedPartsStillServe() throws {
    let bytes = try serve("gone.bin", count: 4 << 20)
    let mountPoint = try mount([nginx.url("gone.bin")], options: ["--read-timeout", "5"])
    let path = mountPoint + "/gone.bin"
    XCTAssertEqual(try read(path, offset: 0, count: 4096), Array(bytes[0..<4096]))
    try FileManager.default.removeItem(at: nginx.root.appendingPathComponent("gone.bin"))
    let start = Date()
    XCTAssertThrowsError(try read(path, offset: 3 << 20, count: 4096)) { error in
      XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
    }
    XCTAssertLessThan(Date().timeIntervalSince(start), 5, "a 404 is permanent: no retrying until the timeout")
    XCTAssertEqual(try read(path, offset: 0, count: 4096), Array(bytes[0..<4096]))
    try unmount(mountPoint)
  }

  func testManyConcurrentReadersGetTheOriginalBytes() throws {
    // Each file is larger than the daemon's memory bound below: 1 MiB and a bit of random bytes,
    // over and over, so a read's expected bytes need no copy of the file.
    let cap = 160 << 20
    let files = try (0..<4).map { index in
      try PeriodicData(
        count: cap + (index + 1) << 20, period: (1 << 20) + 4099 + index, seed: UInt64(40 + index),
        to: nginx.root.appendingPathComponent("c\(index).bin"))
    }
    let mountPoint = try mount((0..<4).map { nginx.url("c\($0).bin") })
    let mismatches = Mutex<[String]>([])
    let failures = Mutex<[String]>([])
    let group = DispatchGroup()
    for thread in 0..<16 {
      DispatchQueue.global().async(group: group) {
        var generator = SplitMix64(seed: UInt64(thread))
        let index = thread % 4
        let data = files[index]
        let path = mountPoint + "/c\(index).bin"
        // Half the threads read sequentially in varied sizes, half jump around.
        var position = Int(generator.next() % UInt64(data.count))
        for _ in 0..<200 {
          let count = 1 + Int(generator.next() % (192 << 10))
          if thread % 2 == 1 || position >= data.count { position = Int(generator.next() % UInt64(data.count)) }
          do {
            let got = try readBytes(path, offset: UInt64(position), count: count)
            if !data.matches(got, at: position, asked: count) {
              mismatches.withLock { $0.append("\(path)@\(position)+\(count)") }
            }
            position += got.count
          } catch {
            failures.withLock { $0.append("\(path)@\(position): \(error)") }
          }
        }
      }
    }
    XCTAssertEqual(group.wait(timeout: .now() + 180), .success, "3200 reads did not finish: a deadlock?")
    XCTAssertEqual(mismatches.withLock { $0 }, [])
    XCTAssertEqual(failures.withLock { $0 }, [])
    let status = try String(contentsOfFile: "/proc/\(try daemonPID(mountPoint))/status", encoding: .utf8)
    let peakKiB =
      status.split(separator: "\n").first { $0.hasPrefix("VmHWM") }
      .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
    XCTAssertGreaterThan(peakKiB, 0)
    XCTAssertGreaterThan(fetchedBytes(), cap, "more bytes went through the daemon than its memory bound")
    XCTAssertLessThan(peakKiB, cap >> 10, "the daemon's memory stays bounded under load")
    try unmount(mountPoint)
  }
}

/// A file of `count` bytes repeating `period` pseudo-random bytes, checked without a copy of it.
private struct PeriodicData: Sendable {
  let count: Int
  private let block: [UInt8]

  init(count: Int, period: Int, seed: UInt64, to url: URL) throws {
    self.count = count
    block = TestData.bytes(count: period, seed: seed)
    FileManager.default.createFile(atPath: url.path, contents: nil)
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    let whole = Data(block)
    for _ in 0..<count / period { try handle.write(contentsOf: whole) }
    try handle.write(contentsOf: whole.prefix(count % period))
  }

  /// Whether `got`, read for `asked` bytes at `position`, is what the file holds there.
  func matches(_ got: [UInt8], at position: Int, asked: Int) -> Bool {
    guard got.count == min(asked, count - position) else { return false }
    // Piece by piece along the repeating block, with memcmp: a byte loop is slow in debug builds.
    var index = 0
    while index < got.count {
      let start = (position + index) % block.count
      let length = min(block.count - start, got.count - index)
      let equal = got.withUnsafeBytes { read in
        block.withUnsafeBytes { memcmp(read.baseAddress! + index, $0.baseAddress! + start, length) == 0 }
      }
      guard equal else { return false }
      index += length
    }
    return true
  }
}
