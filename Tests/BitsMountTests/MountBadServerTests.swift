import BitsMount
import Foundation
import Synchronization
import TestSupport
import XCTest

/// One bad server must not hurt the others: a server that accepts connections and never
/// answers, mounted beside a healthy one, holds up neither the healthy server's reads nor opens
/// of its own cached file; a read of it waits the read timeout once; and an open right after a
/// version change waits for the new version instead of failing.
final class MountBadServerTests: MountTestCase {
  private var proxy: SilentProxy!

  override func setUpWithError() throws {
    try super.setUpWithError()
    proxy = try SilentProxy(upstream: nginx.baseURL)
  }

  override func tearDown() {
    proxy?.stop()
    super.tearDown()
  }

  /// The kernel's pages would hide the mount: after this, reads of cached bytes reach it.
  private func dropKernelCaches() {
    guard getuid() == 0 else { return }
    try? "1\n".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)
  }

  /// The ranges of `path` the mount has in its cache (`user.bitsfs.filled`).
  private func filledRanges(of path: String) -> [Range<Int>] {
    let text = ExtendedAttributes.value("user.bitsfs.filled", of: path) ?? ""
    return text.split(separator: " ").compactMap { pair in
      let parts = pair.split(separator: "+").compactMap { Int($0) }
      return parts.count == 2 ? parts[0]..<parts[0] + parts[1] : nil
    }
  }

  /// `--revalidate 0` makes every open of the silent server's cached file ask it for the
  /// version. Sixty opens at once, then twenty in a row, all succeed with the cached bytes; the
  /// attempts run on no thread the healthy server's reads need, so a 1 MiB read from it meanwhile
  /// takes about what it takes on an idle mount; and once an attempt has failed, opens serve the
  /// cache at once rather than each waiting for a stall timeout.
  func testSilentServerHoldsUpNeitherAnotherServerNorOpensOfItsCachedFile() throws {
    let stallTimeout: TimeInterval = 3
    let cached = try serve("silent.bin", count: 1 << 20, seed: 11)
    let healthy = try serve("healthy.bin", count: 64 << 20, seed: 12)
    let mountPoint = try mount(
      [proxy.url("silent.bin"), nginx.url("healthy.bin")],
      options: ["--revalidate", "0", "--stall-timeout", "\(Int(stallTimeout))", "--read-timeout", "5"])
    let silentPath = mountPoint + "/silent.bin"
    let healthyPath = mountPoint + "/healthy.bin"
    XCTAssertEqual(try read(silentPath, offset: 0, count: cached.count), cached)

    // Each timed read is of bytes the mount has not fetched (far from the read-ahead of the others).
    let mebibyte = 1 << 20
    func timedHealthyRead(at offset: Int) throws -> TimeInterval {
      let wanted = offset..<offset + mebibyte
      let filled = filledRanges(of: healthyPath)
      XCTAssertFalse(
        filled.contains { $0.overlaps(wanted) }, "the healthy bytes at \(offset) were fetched before: \(filled)")
      let (result, elapsed) = try PendingRead(healthyPath, offset: UInt64(offset), count: mebibyte).wait(timeout: 30)
      XCTAssertEqual(try result.get(), Array(healthy[wanted]), "healthy bytes at \(offset)")
      return elapsed
    }
    _ = try timedHealthyRead(at: 0)  // connections made, threads started
    let idle = try timedHealthyRead(at: 16 << 20)

    proxy.isSilent = true
    dropKernelCaches()
    let start = Date()
    let openers = (0..<60).map { number in
      PendingRead("open #\(number) of the cached file of the silent server") {
        try readBytes(silentPath, offset: 0, count: cached.count)
      }
    }
    Thread.sleep(forTimeInterval: 0.3)
    var loaded: [TimeInterval] = []
    for offset in [32 << 20, 48 << 20] {
      loaded.append(try timedHealthyRead(at: offset))
      XCTAssertTrue(
        openers.contains { !$0.isFinished }, "the healthy read was timed only after every open had returned")
    }
    // A blocked thread would cost at least a stall timeout (3 s).
    for elapsed in loaded {
      XCTAssertLessThan(elapsed, 2, "a healthy read waited for the silent server (idle: \(idle) s)")
      XCTAssertLessThan(elapsed, max(5 * idle, 0.5), "a healthy read slowed down (idle: \(idle) s)")
    }

    var slowest: TimeInterval = 0
    for opener in openers {
      let (result, elapsed) = try opener.wait(timeout: 30)
      XCTAssertEqual(try result.get(), cached, opener.what)
      slowest = max(slowest, elapsed)
    }
    let concurrent = Date().timeIntervalSince(start)
    XCTAssertGreaterThan(proxy.swallowedReads, 0, "the opens asked the silent server")
    XCTAssertLessThan(slowest, 2 * stallTimeout + 2, "an open waited for more than the one shared attempt")

    // Twenty opens in a row: the failure is remembered, so they do not each wait.
    let sequentialStart = Date()
    var waits: [TimeInterval] = []
    for number in 0..<20 {
      let (result, elapsed) = try PendingRead("sequential open #\(number) of the cached file") {
        try readBytes(silentPath, offset: 0, count: 4096)
      }.wait(timeout: stallTimeout + 10)
      XCTAssertEqual(try result.get(), Array(cached[0..<4096]), "sequential open #\(number)")
      waits.append(elapsed)
    }
    let sequential = Date().timeIntervalSince(sequentialStart)
    let waited = waits.filter { $0 > stallTimeout / 2 }.count
    XCTAssertLessThan(sequential, 4 * stallTimeout, "20 opens took \(sequential) s: \(waits)")
    XCTAssertLessThanOrEqual(waited, 3, "\(waited) of 20 opens waited for the silent server: \(waits)")
    print(
      "bad server: healthy 1 MiB idle \(idle) s, loaded \(loaded) s; 60 concurrent opens \(concurrent) s"
        + " (slowest \(slowest) s); 20 sequential opens \(sequential) s, \(waited) waited;"
        + " \(proxy.swallowedReads) pieces swallowed; healthy filled \(filledRanges(of: healthyPath))")
    try unmount(mountPoint)
  }

  /// A read of a block the cache lacks, from a server that never answers, fails with EIO after
  /// the read timeout, once: the kernel's second ask for the same page (after its read-ahead
  /// failed) fails at once instead of waiting the timeout again.
  func testReadFromASilentServerWaitsTheReadTimeoutOnce() throws {
    let readTimeout: TimeInterval = 4
    try serve("silent.bin", count: 8 << 20, seed: 13)
    let mountPoint = try mount(
      [proxy.url("silent.bin")], options: ["--read-timeout", "\(Int(readTimeout))", "--stall-timeout", "2"])
    let path = mountPoint + "/silent.bin"
    proxy.isSilent = true

    let start = Date()
    let dd = try runCommand(
      "/usr/bin/dd", ["if=\(path)", "of=/dev/null", "bs=4096", "count=1", "skip=1024"], timeout: 3 * readTimeout + 10)
    let ddElapsed = Date().timeIntervalSince(start)
    XCTAssertNotEqual(dd.status, 0, "dd read a block of a silent server")
    XCTAssertTrue(dd.error.contains("Input/output error"), dd.error)
    XCTAssertGreaterThan(ddElapsed, readTimeout - 0.5, "dd failed before the read timeout")
    XCTAssertLessThan(ddElapsed, readTimeout + 2, "dd waited for more than one read timeout")

    // The same with one read call of a program's own, elsewhere in the file.
    let (result, elapsed) = try PendingRead(path, offset: 6 << 20, count: 4096).wait(timeout: 3 * readTimeout + 10)
    guard case .failure(let error) = result else { return XCTFail("a read of a silent server succeeded") }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
    XCTAssertGreaterThan(elapsed, readTimeout - 0.5, "the read failed before the read timeout")
    XCTAssertLessThan(elapsed, readTimeout + 2, "the read waited for more than one read timeout")
    XCTAssertGreaterThan(proxy.swallowedReads, 0)
    print("bad server: dd EIO after \(ddElapsed) s, pread EIO after \(elapsed) s (read timeout \(readTimeout) s)")
    try unmount(mountPoint)
  }

  /// nginx gets a new version (other bytes, size and date); a read of an uncached block notices
  /// it and fails with EIO; an open right away succeeds and reads the new version, size included.
  func testOpenRightAfterAChangeReadsTheNewVersion() throws {
    try assertOpenAfterAChangeReadsTheNewVersion(throughProxy: false)
  }

  /// The same with every request reaching the server half a second late, so that the open certainly
  /// comes while the mount is still reconnecting to the new version: it waits for it.
  func testOpenWhileReconnectingAfterAChangeWaitsForTheNewVersion() throws {
    try assertOpenAfterAChangeReadsTheNewVersion(throughProxy: true)
  }

  private func assertOpenAfterAChangeReadsTheNewVersion(
    throughProxy: Bool, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let delay: TimeInterval = 0.5
    let old = try serve("f.bin", count: 4 << 20, seed: 21)
    let url = throughProxy ? proxy.url("f.bin") : nginx.url("f.bin")
    let mountPoint = try mount([url], options: ["--read-timeout", "10"])
    let path = mountPoint + "/f.bin"
    XCTAssertEqual(try read(path, offset: 0, count: 65536), Array(old[0..<65536]), file: file, line: line)

    let new = try serve("f.bin", count: (4 << 20) + 12345, seed: 22)
    try FileManager.default.setAttributes(
      [.modificationDate: Date().addingTimeInterval(3600)],
      ofItemAtPath: nginx.root.appendingPathComponent("f.bin").path)
    if throughProxy { proxy.delay = delay }

    // The change is noticed by a read of bytes not cached: its answer is the new file.
    let detection = try PendingRead(path, offset: 2 << 20, count: 4096).wait(timeout: 30)
    guard case .failure(let error) = detection.result else {
      return XCTFail("a read across the change succeeded", file: file, line: line)
    }
    XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)", file: file, line: line)

    // At once, open again.
    let opened = Mutex<(fd: Int32, status: stat)?>(nil)
    let (openResult, openElapsed) = try PendingRead("an open right after the change") {
      let fd = open(path, O_RDONLY)
      guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
      var status = stat()
      if fstat(fd, &status) != 0 { status.st_size = -1 }
      opened.withLock { $0 = (fd, status) }
      return []
    }.wait(timeout: 30)
    proxy.delay = 0
    XCTAssertNoThrow(try openResult.get(), "the open right after the change failed", file: file, line: line)
    guard let (fd, opening) = opened.withLock({ $0 }) else { return }
    var named = stat()
    XCTAssertEqual(stat(path, &named), 0)
    let inodes = "the descriptor's inode \(opening.st_ino), the name's now \(named.st_ino)"
    if throughProxy {
      XCTAssertGreaterThan(openElapsed, delay / 2, "the open did not wait for the reconnection", file: file, line: line)
    }
    XCTAssertEqual(
      Int(opening.st_size), new.count, "fstat right after the open gave the size of another version (\(inodes))",
      file: file, line: line)
    let (readResult, _) = try PendingRead("a read of the new version") {
      try readBytes(fd, offset: 0, count: new.count + 4096)
    }.wait(timeout: 30)
    if let got = try? readResult.get() {
      XCTAssertEqual(
        got.count, new.count, "the descriptor opened after the change read another size", file: file, line: line)
      XCTAssertTrue(
        got == new, "the descriptor opened after the change read other bytes than the new version", file: file,
        line: line)
    } else {
      XCTFail("reading the descriptor opened after the change failed: \(readResult)", file: file, line: line)
    }
    var status = stat()
    XCTAssertEqual(fstat(fd, &status), 0)
    XCTAssertEqual(Int(status.st_size), new.count, "fstat after the read (\(inodes))", file: file, line: line)
    close(fd)
    print(
      "bad server: open after the change (proxy: \(throughProxy)) took \(openElapsed) s;"
        + " fstat size \(opening.st_size), \(inodes)"
    )
    try unmount(mountPoint)
  }
}
