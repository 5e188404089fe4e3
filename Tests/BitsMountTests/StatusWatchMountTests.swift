import BitsEngine
import BitsMount
import Foundation
import Synchronization
import TestPrerequisites
import TestSupport
import XCTest

/// `bitsfs status --watch` on a real mount: lines while a background fill goes on, and a clean
/// end when the mount goes away; on a terminal (through `script`), a redrawn screen.
final class StatusWatchMountTests: MountTestCase {
  func testWatchPrintsLinesUntilTheMountGoesAway() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/deep"), withIntermediateDirectories: true)
    _ = try serve("tree/deep/fill.bin", count: 3 << 20, seed: 1)
    _ = try serve("tree/read.bin", count: 1 << 20, seed: 2)
    let mountPoint = try mount([nginx.url("tree/")], options: ["--prefetch", "deep/*", "--prefetch-rate", "2M"])
    var unmounted = false
    defer { if !unmounted { try? unmount(mountPoint) } }
    _ = try read(mountPoint + "/read.bin", offset: 0, count: 4096)
    let (watch, output) = try startBitsfs(["status", "--watch", mountPoint, "--interval", "0.2"])
    defer {
      if watch.isRunning { watch.terminate() }
      watch.waitUntilExit()
    }
    let text = Mutex("")
    let reader = Thread {
      while case let data = output.fileHandleForReading.availableData, !data.isEmpty {
        text.withLock { $0 += String(decoding: data, as: UTF8.self) }
      }
    }
    reader.start()
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.1) {
        text.withLock { $0 }.contains("deep/fill.bin state=transferred priority=low filled=3145728 size=3145728")
      }, text.withLock { $0 })
    try unmount(mountPoint)
    unmounted = true
    XCTAssertTrue(waitUntil(timeout: 10) { !watch.isRunning }, "the watch ends with the mount")
    XCTAssertEqual(watch.terminationStatus, 0)
    XCTAssertTrue(waitUntil(timeout: 5) { text.withLock { $0 }.hasSuffix("is gone\n") })
    let lines = text.withLock { $0 }.split(separator: "\n")
    XCTAssertTrue(
      lines.contains { $0.hasPrefix("deep/fill.bin state=transferring priority=low ") && $0.contains(" eta=") },
      "the fill is seen under way, with its time left")
    XCTAssertTrue(
      lines.contains {
        $0.hasPrefix("read.bin state=idle priority=none filled=") && $0.hasSuffix(" size=1048576 rate=0")
      })
    XCTAssertFalse(text.withLock { $0 }.contains("\u{1B}["), "no terminal control codes in lines")
  }

  func testOnATerminalTheScreenIsRedrawn() throws {
    try requireInstalled(FileManager.default.isExecutableFile(atPath: "/usr/bin/script") ? nil : "no script(1)")
    _ = try serve("a.bin", count: 1 << 20)
    let mountPoint = try mount([nginx.url("a.bin")], options: ["--prefetch", "*"])
    defer { try? unmount(mountPoint) }
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.1) {
        ExtendedAttributes.value("user.bitsfs.stats", of: mountPoint + "/a.bin")?.contains("fill=transferred") == true
      })
    let result = try runCommand(
      "/usr/bin/script",
      ["-qc", "timeout -s INT 1 \(Self.binary) status --watch \(mountPoint) --interval 0.2 --width 16", "/dev/null"],
      timeout: 20)
    let screens = result.output.components(separatedBy: "\u{1B}[H\u{1B}[J").dropFirst()
    XCTAssertGreaterThan(screens.count, 1, "redrawn: \(result.output)")
    let last = try XCTUnwrap(screens.last).replacingOccurrences(of: "\r", with: "")
    XCTAssertTrue(last.hasPrefix("\(mountPoint)  job "), last)
    XCTAssertTrue(last.contains("\na.bin  transferred  low  1.0 MiB of 1.0 MiB (100.0%)  0 B/s\n"), last)
    XCTAssertTrue(last.contains("\n  [################]"), last)
  }
}
