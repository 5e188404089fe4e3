import BitsMount
import Foundation
import Synchronization
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
        XCTAssertTrue(got.elementsEqual(bytes[range]), "round \(round): cached \(range) differs from the original")
      }
      recovered = filled.reduce(0) { $0 + $1.count }

      let pid = try daemonPID(mountPoint)
      let reader = Process()
      reader.executableURL = URL(fileURLWithPath: "/bin/dd")
      reader.arguments = ["if=\(path)", "of=/dev/null", "bs=1M"]
      reader.standardError = FileHandle.nullDevice
      try reader.run()
      Thread.sleep(forTimeInterval: delay)
      kill(pid, SIGKILL)
      XCTAssertTrue(waitUntil(timeout: 20) { !reader.isRunning }, "a reader of a dead mount returns")
      XCTAssertEqual(try runCommand("/usr/bin/fusermount3", ["-u", "-z", mountPoint]).status, 0)
      XCTAssertTrue(waitUntil(timeout: 10) { !MountTable.isMountPoint(mountPoint) })
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
    let mountPoint = try mount([nginx.url("f.bin")])
    let path = mountPoint + "/f.bin"
    XCTAssertEqual(try read(path, offset: 0, count: 256 << 10), Array(bytes[0..<(256 << 10)]))

    // Reading everything cannot be cached in 2 MiB: what arrives is right, the rest is EIO.
    var offset = 0
    var sawError = false
    while offset < bytes.count {
      do {
        let got = try read(path, offset: UInt64(offset), count: 1 << 20)
        XCTAssertTrue(got.elementsEqual(bytes[offset..<offset + got.count]), "wrong bytes at \(offset)")
        offset += got.count
      } catch {
        XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
        sawError = true
        break
      }
    }
    XCTAssertTrue(sawError, "8 MiB did not fit in a 2 MiB cache, yet every read succeeded")
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
      XCTAssertTrue(got.elementsEqual(bytes[range]), "cached \(range) differs from the original")
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
    let files = try (0..<4).map { index in
      try serve("c\(index).bin", count: (6 + index) << 20, seed: UInt64(40 + index))
    }
    let mountPoint = try mount((0..<4).map { nginx.url("c\($0).bin") })
    let mismatches = Mutex<[String]>([])
    let failures = Mutex<[String]>([])
    let group = DispatchGroup()
    for thread in 0..<16 {
      DispatchQueue.global().async(group: group) {
        var generator = SplitMix64(seed: UInt64(thread))
        let index = thread % 4
        let bytes = files[index]
        let path = mountPoint + "/c\(index).bin"
        // Half the threads read sequentially in varied sizes, half jump around.
        var position = Int(generator.next() % UInt64(bytes.count))
        for _ in 0..<200 {
          let count = 1 + Int(generator.next() % (192 << 10))
          if thread % 2 == 1 || position >= bytes.count { position = Int(generator.next() % UInt64(bytes.count)) }
          do {
            let got = try readBytes(path, offset: UInt64(position), count: count)
            let expected = bytes[position..<min(bytes.count, position + count)]
            if !got.elementsEqual(expected) { mismatches.withLock { $0.append("\(path)@\(position)+\(count)") } }
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
    XCTAssertLessThan(peakKiB, 160 << 10, "the daemon's memory stays bounded under load")
    try unmount(mountPoint)
  }
}
