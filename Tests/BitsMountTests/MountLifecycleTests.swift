import BitsMount
import Foundation
import TestSupport
import XCTest

/// The end of a mount: `bitsfs unmount` returns once the mount's process is gone, and a mount
/// whose process died is named as such and cleared by `bitsfs unmount`.
final class MountLifecycleTests: MountTestCase {
  /// Whether `pid` runs; a zombie, exited but not yet reaped, does not.
  private func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let end = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(after: end)...].split(separator: " ").first != "Z"
  }

  /// The process saves what it filled after the unmount (here the last of 32 MiB just read);
  /// `bitsfs unmount` waits for it, so the next mount finds the cache free.
  /// Runs `bitsfs` and waits for it with waitpid, which returns at once, where `Process`
  /// notices an exit only some milliseconds later: long enough to hide a daemon still exiting.
  private func runPromptly(_ arguments: [String]) -> Int32 {
    let argv = ([Self.binary] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, Self.binary, nil, nil, argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    return status
  }

  func testMountingAgainRightAfterAnUnmountFindsTheCacheFree() throws {
    let slice = 32 << 20
    let bytes = try serve("again.bin", count: 4 * slice)
    let mountPoint = try makeMountPoint()
    var reads: [[UInt8]] = []
    for round in 0..<4 {
      try mount([nginx.url("again.bin")], at: mountPoint)
      let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
      let read = try read(mountPoint + "/again.bin", offset: UInt64(round * slice), count: slice)
      // Unmounted at once, while the last bytes read are still to be saved.
      XCTAssertEqual(runPromptly(["unmount", mountPoint]), 0, "round \(round)")
      XCTAssertFalse(isRunning(pid), "round \(round): unmount returned while the daemon still runs")
      XCTAssertFalse(MountTable.isMountPoint(mountPoint))
      reads.append(read)
    }
    // Compared only now: comparing takes long enough to let a slow daemon finish unnoticed.
    for (round, read) in reads.enumerated() {
      XCTAssertTrue(sameBytes(read, bytes[round * slice..<(round + 1) * slice]), "round \(round)")
    }
  }

  func testADeadMountIsNamedAndClearedByUnmount() throws {
    try serve("dead.bin", count: 100_000)
    let mountPoint = try mount([nginx.url("dead.bin")])
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
    XCTAssertEqual(kill(pid, SIGKILL), 0)
    XCTAssertTrue(waitUntil(timeout: 10) { !isRunning(pid) })
    XCTAssertTrue(MountTable.isMountPoint(mountPoint), "a killed daemon leaves its mount behind")

    let advice = "clear it with `bitsfs unmount \(mountPoint)`"
    let again = try bitsfs(["mount", nginx.url("dead.bin"), mountPoint, "--cache-dir", cacheDirectory.path])
    XCTAssertNotEqual(again.status, 0)
    XCTAssertTrue(again.error.contains("\(mountPoint) is a dead mount") && again.error.contains(advice), again.error)
    for path in [mountPoint, mountPoint + "/dead.bin"] {
      let status = try bitsfs(["status", path])
      XCTAssertNotEqual(status.status, 0)
      XCTAssertTrue(
        status.error.contains("\(mountPoint) is a dead mount") && status.error.contains(advice), status.error)
    }

    try unmount(mountPoint)
    try mount([nginx.url("dead.bin")], at: mountPoint)
    XCTAssertEqual(try read(mountPoint + "/dead.bin", offset: 0, count: 100).count, 100)
    try unmount(mountPoint)
  }

  /// A mount with files open on it is refused, with the reason, and stays mounted and serving.
  func testUnmountOfABusyMountIsRefusedAndTheMountGoesOn() throws {
    let bytes = try serve("busy.bin", count: 100_000)
    let mountPoint = try mount([nginx.url("busy.bin")])
    let descriptor = open(mountPoint + "/busy.bin", O_RDONLY)
    XCTAssertGreaterThanOrEqual(descriptor, 0)
    let refused = try bitsfs(["unmount", mountPoint])
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(refused.error.contains("E_ACCESSDENIED") && refused.error.contains("open"), refused.error)
    XCTAssertTrue(MountTable.isMountPoint(mountPoint))
    var buffer = [UInt8](repeating: 0, count: 100)
    XCTAssertEqual(buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 100, 5000) }, 100)
    XCTAssertEqual(buffer, Array(bytes[5000..<5100]))
    close(descriptor)
    try unmount(mountPoint)
  }

  /// Without --cache-dir the cache is $XDG_CACHE_HOME/bitsfs, made private.
  func testTheDefaultCacheDirectoryIsUnderXDGCacheHome() throws {
    _ = try serve("xdg.bin", count: 100_000)
    let home = workDirectory.appendingPathComponent("xdg")
    let mountPoint = try makeMountPoint("xdg-mnt")
    let result = try runCommand(
      Self.binary, ["mount", nginx.url("xdg.bin"), mountPoint], environment: ["XDG_CACHE_HOME": home.path], timeout: 60)
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertEqual(try read(mountPoint + "/xdg.bin", offset: 0, count: 100).count, 100)
    let cache = home.appendingPathComponent("bitsfs")
    let attributes = try FileManager.default.attributesOfItem(atPath: cache.path)
    XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
    // One cache entry (beside it, the mount's control socket).
    let entries = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { !$0.hasSuffix(".sock") }
    XCTAssertEqual(entries.count, 1, "one entry: \(entries)")
    try unmount(mountPoint)
  }
}
