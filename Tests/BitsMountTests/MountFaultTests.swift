import BitsMount
import Foundation
import Synchronization
import TestSupport
import XCTest

/// A server that dies or stalls makes reads fail with EIO in bounded time, other files keep
/// working, and reads work again once the server is back.
final class MountFaultTests: MountTestCase {
  private var faultServer: FaultServer!
  private var faultRoot: URL!

  override func setUpWithError() throws {
    try super.setUpWithError()
    faultRoot = workDirectory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: faultRoot, withIntermediateDirectories: true)
    faultServer = try FaultServer(root: faultRoot)
  }

  override func tearDown() {
    faultServer?.stop()
    super.tearDown()
  }

  /// Reads 4 KiB of `path` at `offset` on another thread, so that a read that never returns
  /// fails the test (and the mount is unmounted lazily) instead of hanging it. Returns the error
  /// the read met, if any, and how long it took; `nil` once it failed the test.
  private func boundedRead(
    _ path: String, offset: UInt64, file: StaticString = #filePath, line: UInt = #line
  ) -> (error: Error?, elapsed: TimeInterval)? {
    let outcome = Mutex<(Error?, TimeInterval)?>(nil)
    let finished = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      let start = Date()
      let error: Error?
      do {
        _ = try readBytes(path, offset: offset, count: 4096)
        error = nil
      } catch let failure {
        error = failure
      }
      outcome.withLock { $0 = (error, Date().timeIntervalSince(start)) }
      finished.signal()
    }
    guard finished.wait(timeout: .now() + 20) == .success, let result = outcome.withLock({ $0 }) else {
      let mountPoint = URL(fileURLWithPath: path).deletingLastPathComponent().path
      _ = try? runCommand("/usr/bin/fusermount3", ["-u", "-z", mountPoint])
      XCTFail("a read of \(path) at \(offset) did not return", file: file, line: line)
      return nil
    }
    return result
  }

  func testDeadServerGivesEIOOtherFilesWorkAndTheMountRecovers() throws {
    let bytes = try serve("f.bin", count: 8 << 20)
    let healthy = try TestData.write(count: 1 << 20, seed: 9, to: faultRoot.appendingPathComponent("healthy.bin"))
    let mountPoint = try mount(
      [nginx.url("f.bin"), faultServer.url("plain", "healthy.bin")], options: ["--read-timeout", "2"])
    nginx.kill()

    guard let (error, elapsed) = boundedRead(mountPoint + "/f.bin", offset: 4 << 20) else { return }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(String(describing: error))")
    XCTAssertLessThan(elapsed, 10, "a read on a dead server fails in bounded time")
    XCTAssertEqual(try read(mountPoint + "/healthy.bin", offset: 0, count: 1 << 20), healthy)

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
    guard let (error, _) = boundedRead(mountPoint + "/f.bin", offset: 512 << 10) else { return }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(String(describing: error))")
    try unmount(mountPoint)
  }

  func testTricklingServerGivesEIOInBoundedTimeAndOtherFilesKeepWorking() throws {
    // 200 bytes a second: never silent long enough to count as a stall, far too slow for a read.
    try TestData.write(count: 4 << 20, seed: 5, to: faultRoot.appendingPathComponent("trickle.bin"))
    let healthy = try TestData.write(count: 1 << 20, seed: 9, to: faultRoot.appendingPathComponent("healthy.bin"))
    let mountPoint = try mount(
      [faultServer.url("slow/200", "trickle.bin"), faultServer.url("plain", "healthy.bin")],
      options: ["--read-timeout", "2"])
    guard let (error, elapsed) = boundedRead(mountPoint + "/trickle.bin", offset: 2 << 20) else { return }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(String(describing: error))")
    XCTAssertLessThan(elapsed, 8)
    XCTAssertEqual(try read(mountPoint + "/healthy.bin", offset: 0, count: 1 << 20), healthy)
    try unmount(mountPoint)
  }

  func testStalledServerGivesEIOInBoundedTime() throws {
    try TestData.write(count: 4 << 20, seed: 5, to: faultRoot.appendingPathComponent("slow.bin"))
    // A server that stalls even the version check cannot be mounted: a clear, bounded failure.
    let url = faultServer.url("stall", "slow.bin")
    let mountPoint = try makeMountPoint()
    let result = try bitsfs([
      "mount", url, mountPoint, "--cache-dir", cacheDirectory.path, "--retry-period", "1", "--stall-timeout", "2",
    ])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.error.contains("ERROR_INTERNET_TIMEOUT"), result.error)
    XCTAssertFalse(MountTable.isMountPoint(mountPoint))

    // Once mounted, a stall in the middle of the file: EIO within the read timeout (the kernel
    // may retry a failed read-ahead once, so allow more). stall-once stalls the first request
    // for the file: it is spent before mounting, so the version check passes, then re-armed.
    _ = try runCommand(
      "/usr/bin/curl", ["-s", "-o", "/dev/null", "--max-time", "0.5", faultServer.url("stall-once", "slow.bin")])
    let mounted = try mount(
      [faultServer.url("stall-once", "slow.bin")], at: mountPoint,
      options: ["--read-timeout", "1", "--stall-timeout", "8"])
    faultServer.reset()
    guard let (error, elapsed) = boundedRead(mounted + "/slow.bin", offset: 2 << 20) else { return }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(String(describing: error))")
    XCTAssertLessThan(elapsed, 5)
    try unmount(mounted)
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
    var offset = 0
    var sawError = false
    var buffer = [UInt8](repeating: 0, count: 128 << 10)
    while offset < original.count {
      let count = pread(fd, &buffer, buffer.count, off_t(offset))
      if count < 0 {
        XCTAssertEqual(errno, EIO)
        sawError = true
        break
      }
      guard count > 0 else { break }
      XCTAssertTrue(
        buffer[0..<count].elementsEqual(original[offset..<offset + count]),
        "an old-version reader got other bytes at \(offset)")
      offset += count
    }
    close(fd)
    XCTAssertTrue(sawError, "the change was noticed before the end (read \(offset) bytes)")

    // A new open sees the new version, all of it.
    XCTAssertTrue(
      waitUntil(timeout: 10) {
        (try? readBytes(path, offset: 0, count: 4096)) == Array(changed[0..<4096])
      })
    XCTAssertEqual(try TestData.sha256(of: path), try TestData.sha256(of: changed))
    try unmount(mountPoint)
  }
}
