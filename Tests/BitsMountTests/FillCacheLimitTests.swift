import BitsEngine
import BitsMount
import Foundation
import TestSupport
import XCTest

/// Background fill under `--cache-limit`: a file the limit cannot hold beside what fill holds
/// stops with `ERROR_DISK_FULL`, told by `bitsfs status`, `bitsfs events` and `--on-error`, and
/// nothing fill fetched is evicted for it.
final class FillCacheLimitTests: MountTestCase {
  /// The file's background fill as `user.bitsfs.status` tells it, if there is one.
  private func fill(of path: String) -> [String: Any]? {
    guard let text = ExtendedAttributes.value("user.bitsfs.status", of: path),
      let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    else { return nil }
    return object["fill"] as? [String: Any]
  }

  private func fillState(of path: String) -> String? {
    fill(of: path)?["state"] as? String
  }

  func testAFillTheCacheLimitCannotHoldStopsWithAClearStatus() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree"), withIntermediateDirectories: true)
    let first = try serve("tree/first.bin", count: 4 << 20, seed: 1)
    let second = try serve("tree/second.bin", count: 3 << 20, seed: 2)
    let log = workDirectory.appendingPathComponent("errors.log").path
    // Fill may hold three quarters of 8 MiB: 4 MiB and 3 MiB do not fit together.
    let mountPoint = try mount(
      [nginx.url("tree/")],
      options: [
        "--cache-limit", "8M", "--cache-min-free", "0", "--on-error",
        "printf '%s %s\\n' \"$BITSFS_PATH\" \"$BITSFS_ERROR\" >> \(log)",
      ])
    defer { try? unmount(mountPoint) }
    XCTAssertEqual(try bitsfs(["prefetch", mountPoint + "/first.bin"]).status, 0)
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.1) { self.fillState(of: mountPoint + "/first.bin") == "transferred" })

    let (events, output) = try startBitsfs(["events", mountPoint])
    defer {
      if events.isRunning { events.terminate() }
      events.waitUntilExit()
    }
    usleep(300_000)
    nginx.clearLog()
    XCTAssertEqual(try bitsfs(["prefetch", mountPoint + "/second.bin"]).status, 0)
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.1) { self.fillState(of: mountPoint + "/second.bin") == "error" })
    let stopped = try XCTUnwrap(fill(of: mountPoint + "/second.bin"))
    XCTAssertEqual((stopped["error"] as? [String: Any])?["code"] as? String, "ERROR_DISK_FULL")
    XCTAssertEqual((stopped["error"] as? [String: Any])?["hresult"] as? String, "0x80070070")
    let plain = try bitsfs(["status", mountPoint + "/second.bin"])
    XCTAssertTrue(plain.output.contains("background fill (low): error, ERROR_DISK_FULL"), plain.output)
    let lines = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    XCTAssertTrue(waitUntil(timeout: 10, poll: 0.1) { !lines().isEmpty })
    XCTAssertEqual(lines(), "\(mountPoint)/second.bin ERROR_DISK_FULL\n")
    XCTAssertFalse(
      nginx.requests().contains { $0.path.hasSuffix("second.bin") && $0.range != "bytes=0-0" },
      "nothing of the file that does not fit is fetched")
    XCTAssertEqual(
      ExtendedAttributes.value("user.bitsfs.stats", of: mountPoint + "/first.bin")?.contains("filled=\(first.count) "),
      true, "nothing fill fetched was evicted")
    usleep(700_000)
    events.terminate()
    events.waitUntilExit()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertTrue(
      text.split(separator: "\n").contains {
        $0.contains("\"file\":\"second.bin\"") && $0.contains("\"code\":\"ERROR_DISK_FULL\"")
      }, text)

    // A cancelled fill makes room.
    XCTAssertEqual(try bitsfs(["prefetch", "--cancel", mountPoint + "/first.bin"]).status, 0)
    XCTAssertEqual(try bitsfs(["prefetch", mountPoint + "/second.bin"]).status, 0)
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.1) { self.fillState(of: mountPoint + "/second.bin") == "transferred" })
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/second.bin"), try TestData.sha256(of: second))
  }
}
