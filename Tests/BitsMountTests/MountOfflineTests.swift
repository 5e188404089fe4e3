import BitsMount
import Foundation
import TestSupport
import XCTest

/// `--offline`, and mounting on a warm cache while the server is down: what is cached serves,
/// what is not fails with EIO (at once offline), cached bytes are never dropped for an outage,
/// and the version is confirmed once the server answers again.
final class MountOfflineTests: MountTestCase {
  /// Mounts `name`, reads its first MiB into the cache, and unmounts.
  private func warm(_ name: String, count: Int) throws -> [UInt8] {
    let bytes = try serve(name, count: count, seed: 91)
    let mountPoint = try mount([nginx.url(name)])
    XCTAssertEqual(try read(mountPoint + "/" + name, offset: 0, count: 1 << 20), Array(bytes[0..<(1 << 20)]))
    try unmount(mountPoint)
    return bytes
  }

  private func assertEIO(_ path: String, offset: UInt64, within seconds: TimeInterval) throws {
    let outcome = try PendingRead(path, offset: offset, count: 4096).wait(timeout: 30)
    XCTAssertThrowsError(try outcome.result.get()) { error in
      XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
    }
    XCTAssertLessThan(outcome.elapsed, seconds, "the read failed in time")
  }

  func testOfflineServesTheCacheAndFailsTheRestAtOnce() throws {
    let bytes = try warm("o.bin", count: 8 << 20)
    nginx.kill()
    let mountPoint = try mount([nginx.url("o.bin")], options: ["--offline"])
    let path = mountPoint + "/o.bin"
    let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
    XCTAssertEqual(size, bytes.count, "the size comes from the cache")
    XCTAssertEqual(try read(path, offset: 4096, count: 512 << 10), Array(bytes[4096..<4096 + (512 << 10)]))
    try assertEIO(path, offset: 7 << 20, within: 1)
    XCTAssertTrue(
      ExtendedAttributes.value("user.bitsfs.stats", of: path)?.contains("unconfirmed=1") == true,
      "status says the version is the cache's")
    try unmount(mountPoint)

    // Offline, a URL the cache does not hold cannot be mounted, and nothing is left mounted.
    let other = try makeMountPoint("other")
    let refused = try bitsfs(["mount", nginx.url("none.bin"), other, "--cache-dir", cacheDirectory.path, "--offline"])
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(refused.error.contains("offline, and the cache holds no version of the file"), refused.error)
    XCTAssertFalse(MountTable.isMountPoint(other))
  }

  func testAWarmCacheMountsWhileTheServerIsDownAndIsConfirmedWhenItReturns() throws {
    let bytes = try warm("w.bin", count: 8 << 20)
    nginx.kill()
    let mountPoint = try makeMountPoint()
    let started = Date()
    let mounted = try bitsfs(
      [
        "mount", nginx.url("w.bin"), mountPoint, "--cache-dir", cacheDirectory.path, "--read-timeout", "2",
        "--revalidate", "1",
      ])
    XCTAssertEqual(mounted.status, 0, mounted.error)
    XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the mount did not wait out the retry period")
    XCTAssertTrue(mounted.error.contains("the server cannot be reached"), mounted.error)
    let path = mountPoint + "/w.bin"
    XCTAssertEqual(try read(path, offset: 0, count: 1 << 20), Array(bytes[0..<(1 << 20)]), "cached bytes serve")
    try assertEIO(path, offset: 7 << 20, within: 10)
    let status = try bitsfs(["status", mountPoint])
    XCTAssertTrue(status.output.contains("the server has not confirmed it yet"), status.output)

    // The server returns: the next open past the hold confirms the version and reads the rest,
    // and the bytes cached before the outage were kept.
    try nginx.restart()
    nginx.clearLog()
    Thread.sleep(forTimeInterval: 1.5)
    XCTAssertEqual(try read(path, offset: 0, count: bytes.count), bytes)
    XCTAssertLessThanOrEqual(fetchedBytes(), bytes.count - (1 << 20), "the first MiB was not fetched again")
    XCTAssertFalse(
      ExtendedAttributes.value("user.bitsfs.stats", of: path)?.contains("unconfirmed=1") ?? true,
      "the version is confirmed")
    try unmount(mountPoint)
  }

  func testAFileThatChangedDuringTheOutageIsSeenWhenTheServerReturns() throws {
    _ = try warm("c.bin", count: 2 << 20)
    nginx.kill()
    let mountPoint = try mount([nginx.url("c.bin")], options: ["--revalidate", "1"])
    let changed = try serve("c.bin", count: 2 << 20, seed: 92)
    // Another date, so the version differs even within the second the first was written in.
    try FileManager.default.setAttributes(
      [.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: nginx.root.appendingPathComponent("c.bin").path)
    try nginx.restart()
    Thread.sleep(forTimeInterval: 1.5)
    // An open past the hold asks the server, which has another version: never a mix.
    XCTAssertTrue(try read(mountPoint + "/c.bin", offset: 0, count: changed.count) == changed, "the new version")
    try unmount(mountPoint)
  }
}
