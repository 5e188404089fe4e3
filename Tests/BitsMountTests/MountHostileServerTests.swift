import BitsMount
import Foundation
import Synchronization
import TestSupport
import XCTest

/// A server that starts lying about one file of a live mount costs that file its reads, nothing
/// more: the mount stays up and the other files keep reading.
final class MountHostileServerTests: FaultServerMountTestCase {
  func testSizesNoFileCanHaveCostOnlyTheLyingFile() throws {
    let healthy = try serve("healthy.bin", count: 1 << 20)
    let lying = try TestData.write(count: 1 << 20, seed: 5, to: faultRoot.appendingPathComponent("lying.bin"))
    try FileManager.default.copyItem(
      at: faultRoot.appendingPathComponent("lying.bin"), to: faultRoot.appendingPathComponent("wrapping.bin"))
    // Every open asks the server again, so the lie reaches both the version check and the reads.
    let mountPoint = try mount(
      [
        nginx.url("healthy.bin"), faultServer.url("total-when/lie/9223372036854775808", "lying.bin"),
        faultServer.url("total-when/lie/18446744073709551615", "wrapping.bin"),
      ], options: ["--read-timeout", "3", "--revalidate", "0", "--retry-period", "1"])
    for name in ["lying.bin", "wrapping.bin"] {
      XCTAssertEqual(try read(mountPoint + "/" + name, offset: 0, count: 4096), Array(lying[0..<4096]), name)
    }

    try Data().write(to: faultRoot.appendingPathComponent("lie"))
    for name in ["lying.bin", "wrapping.bin"] {
      let outcome = boundedRead(mountPoint + "/" + name, offset: 512 << 10, count: 4096)
      XCTAssertEqual((outcome?.error as? POSIXError)?.code, .EIO, "\(name): \(String(describing: outcome))")
      XCTAssertTrue(MountTable.isMountPoint(mountPoint), "one lying answer must not bring the mount down")
      let size = try FileManager.default.attributesOfItem(atPath: mountPoint + "/" + name)[.size] as? UInt64
      XCTAssertEqual(size, UInt64(lying.count), "\(name) keeps the size of the version it had")
      XCTAssertEqual(try read(mountPoint + "/" + name, offset: 0, count: 4096), Array(lying[0..<4096]), name)
    }
    XCTAssertEqual(try read(mountPoint + "/healthy.bin", offset: 0, count: healthy.count), healthy)
    try unmount(mountPoint)
  }

  /// Reads on another thread, so a read that never returns fails the test instead of hanging it.
  private func boundedRead(_ path: String, offset: UInt64, count: Int) -> (bytes: [UInt8]?, error: Error?)? {
    let outcome = Mutex<([UInt8]?, Error?)?>(nil)
    let finished = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      let result: ([UInt8]?, Error?)
      do {
        result = (try readBytes(path, offset: offset, count: count), nil)
      } catch {
        result = (nil, error)
      }
      outcome.withLock { $0 = result }
      finished.signal()
    }
    guard finished.wait(timeout: .now() + 20) == .success else {
      XCTFail("a read of \(path) at \(offset) did not return")
      return nil
    }
    return outcome.withLock { $0 }
  }
}
