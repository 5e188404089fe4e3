import BitsMount
import Foundation
import Synchronization
import TestSupport
import XCTest

/// A server that dies or stalls makes reads fail with EIO in bounded time, other files keep
/// working, and reads work again once the server is back.
final class MountFaultTests: FaultServerMountTestCase {
  /// Asserts that `pending` fails with EIO within `seconds`.
  private func assertEIO(
    _ pending: PendingRead, within seconds: TimeInterval, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let (result, elapsed) = try pending.wait(timeout: seconds + 10)
    guard case .failure(let error) = result else { return XCTFail("\(pending.what) succeeded", file: file, line: line) }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)", file: file, line: line)
    XCTAssertLessThan(elapsed, seconds, "\(pending.what) failed, but late", file: file, line: line)
  }

  /// Reads all of `healthy` (to be `bytes`) while `blocked` waits, and checks that this took
  /// well under `blocked`'s read timeout and ended before it: one file's wait holds up no other.
  private func assertReadable(
    _ healthy: String, as bytes: [UInt8], while blocked: PendingRead, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    Thread.sleep(forTimeInterval: 0.3)
    XCTAssertFalse(blocked.isFinished, "\(blocked.what) returned at once", file: file, line: line)
    let (result, elapsed) = try PendingRead(healthy, offset: 0, count: bytes.count).wait(timeout: 10)
    XCTAssertEqual(try result.get(), bytes, file: file, line: line)
    XCTAssertLessThan(elapsed, 1.5, "reading another file waited", file: file, line: line)
    XCTAssertFalse(
      blocked.isFinished, "another file was read only after \(blocked.what) returned", file: file, line: line)
  }

  func testDeadServerGivesEIOOtherFilesWorkAndTheMountRecovers() throws {
    let bytes = try serve("f.bin", count: 8 << 20)
    let healthy = try TestData.write(count: 1 << 20, seed: 9, to: faultRoot.appendingPathComponent("healthy.bin"))
    let mountPoint = try mount(
      [nginx.url("f.bin"), faultServer.url("plain", "healthy.bin")], options: ["--read-timeout", "4"])
    nginx.kill()

    let failing = PendingRead(mountPoint + "/f.bin", offset: 4 << 20, count: 4096)
    try assertReadable(mountPoint + "/healthy.bin", as: healthy, while: failing)
    try assertEIO(failing, within: 10)

    try nginx.restart()
    XCTAssertEqual(
      try read(mountPoint + "/f.bin", offset: 4 << 20, count: 4096), Array(bytes[(4 << 20)..<(4 << 20) + 4096]))
    try unmount(mountPoint)
  }

  /// A cache data file cut short behind the mount's back (the cache lock keeps other bitsfs
  /// processes out, not other programs) makes reads of the lost part fail, never hang.
  func testCacheFileCutShortGivesEIONotAHang() throws {
    let bytes = try serve("f.bin", count: 1 << 20)
    let mountPoint = try mount([nginx.url("f.bin")])
    XCTAssertEqual(try read(mountPoint + "/f.bin", offset: 0, count: bytes.count), bytes)
    let entries = try FileManager.default.contentsOfDirectory(atPath: cacheDirectory.path).filter {
      FileManager.default.fileExists(atPath: cacheDirectory.appendingPathComponent("\($0)/data").path)
    }
    XCTAssertEqual(entries.count, 1)
    XCTAssertEqual(truncate(cacheDirectory.appendingPathComponent("\(entries[0])/data").path, 4096), 0)
    // The kernel's own copy of the pages would hide the cache file.
    try "1\n".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)

    XCTAssertEqual(try read(mountPoint + "/f.bin", offset: 0, count: 4096), Array(bytes[0..<4096]))
    try assertEIO(PendingRead(mountPoint + "/f.bin", offset: 512 << 10, count: 4096), within: 20)
    try unmount(mountPoint)
  }

  func testTricklingServerGivesEIOInBoundedTimeAndOtherFilesKeepWorking() throws {
    // 200 bytes a second: never silent long enough to count as a stall, far too slow for a read.
    try TestData.write(count: 4 << 20, seed: 5, to: faultRoot.appendingPathComponent("trickle.bin"))
    let healthy = try TestData.write(count: 1 << 20, seed: 9, to: faultRoot.appendingPathComponent("healthy.bin"))
    let mountPoint = try mount(
      [faultServer.url("slow/200", "trickle.bin"), faultServer.url("plain", "healthy.bin")],
      options: ["--read-timeout", "3"])
    let trickling = PendingRead(mountPoint + "/trickle.bin", offset: 2 << 20, count: 4096)
    try assertReadable(mountPoint + "/healthy.bin", as: healthy, while: trickling)
    try assertEIO(trickling, within: 8)
    try unmount(mountPoint)
  }

  func testStalledServerGivesEIOInBoundedTime() throws {
    try TestData.write(count: 4 << 20, seed: 5, to: faultRoot.appendingPathComponent("slow.bin"))
    // A server that stalls even the version check cannot be mounted: a clear, bounded failure.
    let mountPoint = try makeMountPoint()
    let result = try bitsfs([
      "mount", faultServer.url("stall", "slow.bin"), mountPoint, "--cache-dir", cacheDirectory.path,
      "--retry-period", "1", "--stall-timeout", "2",
    ])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.error.contains("ERROR_INTERNET_TIMEOUT"), result.error)
    XCTAssertFalse(MountTable.isMountPoint(mountPoint))

    // Once mounted, a data transfer that stalls longer than the read may wait: EIO within the
    // read timeout (the kernel may retry a failed read-ahead once, so allow more).
    let mounted = try mount(
      [faultServer.url("stall-once", "slow.bin")], at: mountPoint,
      options: ["--read-timeout", "1", "--stall-timeout", "8"])
    try assertEIO(PendingRead(mounted + "/slow.bin", offset: 2 << 20, count: 4096), within: 5)
    try unmount(mounted)
  }

  func testStalledTransferIsRetriedWithinTheReadTimeoutAndTheReadSucceeds() throws {
    let bytes = try TestData.write(count: 4 << 20, seed: 5, to: faultRoot.appendingPathComponent("stall.bin"))
    // The first data transfer sends its head, then nothing: abandoned after the 1 s stall
    // timeout and asked again, well within the read's 10 s.
    let mountPoint = try mount(
      [faultServer.url("stall-once", "stall.bin")], options: ["--read-timeout", "10", "--stall-timeout", "1"])
    let (result, elapsed) = try PendingRead(mountPoint + "/stall.bin", offset: 2 << 20, count: 4096).wait()
    XCTAssertEqual(try result.get(), Array(bytes[(2 << 20)..<(2 << 20) + 4096]))
    XCTAssertGreaterThan(elapsed, 0.9, "the read waited for the stalled transfer")
    XCTAssertLessThan(elapsed, 6, "the stall was noticed after the stall timeout, not the read timeout")
    let ranges = faultServer.dataRequests().map(\.range)
    XCTAssertEqual(ranges.prefix(2).count, 2)
    XCTAssertEqual(ranges.first, ranges.dropFirst().first, "the stalled request was asked again: \(ranges)")
    try unmount(mountPoint)
  }
}

/// A file that changes on the server while mounted: a reader of the old version gets old bytes
/// then EIO, never bytes of the new one; a new open reads the new version whole. The same with a
/// change of size, and with a server that validates by date only (no ETag).
final class MountVersionChangeTests: MountTestCase {
  func testChangeOfContentDuringASequentialRead() throws {
    try assertSequentialReaderNeverMixesVersions(fault: "change-after/3")
  }

  func testChangeOfSizeDuringASequentialRead() throws {
    try assertSequentialReaderNeverMixesVersions(fault: "change-after/3/grow")
  }

  func testChangeSeenByDateOnlyDuringASequentialRead() throws {
    try assertSequentialReaderNeverMixesVersions(fault: "change-after/3/no-etag")
  }

  private func assertSequentialReaderNeverMixesVersions(fault: String) throws {
    let root = workDirectory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let original = try TestData.write(count: 8 << 20, seed: 6, to: root.appendingPathComponent("f.bin"))
    var changed = original.map { $0 ^ 0x5A }
    if fault.contains("grow") { changed += changed[0..<65536] }
    let server = try FaultServer(root: root)
    defer { server.stop() }
    let mountPoint = try mount([server.url(fault, "f.bin")], options: ["--block-size", "65536"])
    let path = mountPoint + "/f.bin"

    // One open, read front to back: every byte it gets is of the old version, until an EIO.
    let fd = open(path, O_RDONLY)
    XCTAssertGreaterThanOrEqual(fd, 0)
    func readOldDescriptor(at offset: Int) throws -> Result<[UInt8], any Error> {
      try PendingRead("a read of the old descriptor at \(offset)") {
        try readBytes(fd, offset: UInt64(offset), count: 128 << 10)
      }.wait().result
    }
    var offset = 0
    var failedAt: Int?
    reading: while offset < original.count {
      switch try readOldDescriptor(at: offset) {
      case .failure(let error):
        XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
        failedAt = offset
        break reading
      case .success(let got):
        guard !got.isEmpty else { break reading }
        XCTAssertTrue(
          got.elementsEqual(original[offset..<offset + got.count]), "an old-version reader got other bytes at \(offset)"
        )
        offset += got.count
      }
    }
    let failure = try XCTUnwrap(failedAt, "the change was noticed before the end (read \(offset) bytes)")
    XCTAssertGreaterThan(failure, 0, "old bytes were read before the change")

    // A new open sees the new version, all of it.
    XCTAssertTrue(
      waitUntil(timeout: 10) {
        (try? read(path, offset: 0, count: 4096, timeout: 10)) == Array(changed[0..<4096])
      })
    XCTAssertEqual(try TestData.sha256(of: path), try TestData.sha256(of: changed))

    // Now that the new version is cached, the old descriptor still fails for bytes it was not
    // given, and what it reads again of bytes it was given is old.
    for later in [failure, failure, min(failure + (1 << 20), original.count - 1), original.count - 4096] {
      if case .success(let got) = try readOldDescriptor(at: later) {
        let new = got.elementsEqual(changed[later..<min(changed.count, later + got.count)])
        XCTFail("the old descriptor got \(got.count) bytes at \(later) after the change (of the new version: \(new))")
      }
    }
    if case .success(let got) = try readOldDescriptor(at: 0) {
      XCTAssertTrue(got.elementsEqual(original[0..<got.count]), "the old descriptor got new bytes at 0")
    }
    close(fd)
    try unmount(mountPoint)
  }
}
