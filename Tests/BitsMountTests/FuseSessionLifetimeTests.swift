import BitsEngine
import Foundation
import Synchronization
import TestPrerequisites
import TestSupport
import XCTest

@testable import BitsMount

/// A real FUSE session ended while other threads keep calling it (cache invalidations, `stop()`
/// from a signal handler's thread): every call before, during and after the session is freed
/// returns, and none reaches libfuse after it is gone (the process would crash).
final class FuseSessionLifetimeTests: XCTestCase {
  func testCallsFromOtherThreadsAcrossTheEndOfTheSessionAreSafe() throws {
    try requireFUSE(for: "a FUSE session")
    try requireRoot(for: "a FUSE mount")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-lifetime-\(UUID().uuidString)")
    let mountPoint = directory.appendingPathComponent("mnt").path
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    defer {
      _ = runQuietly("/usr/bin/fusermount3", ["-u", "-z", mountPoint])
      try? FileManager.default.removeItem(at: directory)
    }
    let server = MemoryTransport()
    let job = DownloadJob(
      displayName: "lifetime", cacheDirectory: directory.appendingPathComponent("cache"), transport: server,
      configuration: JobConfiguration())
    let fileSystem = MountedFileSystem.flat(job: job, files: [], options: MountOptions())
    for round in 0..<20 {
      let session = try FuseSession(mountPoint: mountPoint, options: ["ro"], operations: fileSystem)
      let ended = DispatchSemaphore(value: 0)
      startThread(named: "fuse-loop") {
        session.run()
        ended.signal()
      }
      // Threads of their own: the dispatch pool is as wide as the cores, and callers that never
      // yield it would keep the `stop()` queued behind them.
      let calling = Atomic<Bool>(true)
      let returned = DispatchSemaphore(value: 0)
      for caller in 0..<3 {
        startThread(named: "invalidating") {
          var calls = 0
          while calling.load(ordering: .relaxed) {
            if caller == 0 {
              session.invalidate(inode: 1)
            } else {
              session.invalidate(name: "n\(calls % 7)", in: 1)
            }
            calls += 1
          }
          returned.signal()
        }
      }
      // The end comes from another thread while the calls go on, and they go on after it.
      usleep(UInt32(1_000 * (round % 5)))
      startThread(named: "stopping") { session.stop() }
      XCTAssertEqual(ended.wait(timeout: .now() + 20), .success, "round \(round): the loop ended")
      usleep(20_000)
      calling.store(false, ordering: .relaxed)
      for _ in 0..<3 {
        XCTAssertEqual(returned.wait(timeout: .now() + 10), .success, "round \(round): the callers returned")
      }
      session.invalidate(inode: 1)
      session.stop()
      XCTAssertTrue(waitUntil(timeout: 10) { !MountTable.isMountPoint(mountPoint) }, "round \(round): unmounted")
    }
  }
}
