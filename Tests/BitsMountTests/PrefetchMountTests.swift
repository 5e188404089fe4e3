import BitsEngine
import BitsMount
import Foundation
import TestSupport
import XCTest

/// Background fill through real mounts of nginx: `--prefetch` fills the files it names whole,
/// finds them by walking a tree, fetches no byte twice, and keeps within `--prefetch-rate`.
final class PrefetchMountTests: MountTestCase {
  private func filledBytes(_ path: String) -> UInt64 {
    let stats = ExtendedAttributes.value("user.bitsfs.stats", of: path) ?? ""
    return stats.split(separator: " ").first { $0.hasPrefix("filled=") }.flatMap { UInt64($0.dropFirst(7)) } ?? 0
  }

  func testPrefetchFillsTheMatchingFilesOfATreeWholeAndTheyServeWithTheServerGone() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/deep"), withIntermediateDirectories: true)
    let one = try serve("tree/one.bin", count: 3 << 20, seed: 1)
    let two = try serve("tree/deep/two.bin", count: 5 << 20 + 123, seed: 2)
    _ = try serve("tree/deep/skip.txt", count: 1 << 20, seed: 3)
    let mountPoint = try mount([nginx.url("tree/")], options: ["--prefetch", "*.bin"])
    defer { try? unmount(mountPoint) }
    let filled = waitUntil(timeout: 60, poll: 0.1) {
      self.filledBytes(mountPoint + "/one.bin") == UInt64(one.count)
        && self.filledBytes(mountPoint + "/deep/two.bin") == UInt64(two.count)
    }
    XCTAssertTrue(filled, "prefetch filled both files")
    XCTAssertEqual(filledBytes(mountPoint + "/deep/skip.txt"), 0, "a file no pattern names is left alone")
    let sent = nginx.requests().filter { $0.path.hasSuffix(".bin") && $0.range != "bytes=0-0" }.reduce(0) {
      $0 + $1.bodyBytes
    }
    XCTAssertEqual(sent, one.count + two.count, "every byte once")
    XCTAssertFalse(nginx.requests().contains { $0.path.hasSuffix("skip.txt") }, "not even probed")
    nginx.stop()
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/one.bin"), try TestData.sha256(of: one))
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/deep/two.bin"), try TestData.sha256(of: two))
  }

  func testPrefetchKeepsWithinItsRate() throws {
    let bytes = try serve("slow.bin", count: 6 << 20)
    let rate = 2 << 20
    let start = Date()
    let mountPoint = try mount([nginx.url("slow.bin")], options: ["--prefetch", "*", "--prefetch-rate", "\(rate)"])
    defer { try? unmount(mountPoint) }
    var samples: [(seconds: Double, bytes: UInt64)] = []
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.25) {
        let filled = self.filledBytes(mountPoint + "/slow.bin")
        samples.append((Date().timeIntervalSince(start), filled))
        return filled == UInt64(bytes.count)
      })
    // Never ahead of the rate by more than a quarter second's saved budget and one request.
    for sample in samples {
      XCTAssertLessThanOrEqual(
        Double(sample.bytes), Double(rate) * (sample.seconds + 0.5), "\(sample.bytes) bytes after \(sample.seconds) s")
    }
    XCTAssertGreaterThan(samples.last?.seconds ?? 0, 2, "6 MiB at 2 MiB/s take more than 2 s")
  }

  func testPrefetchAndCancelOnARunningMount() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree/deep"), withIntermediateDirectories: true)
    let one = try serve("tree/one.bin", count: 2 << 20, seed: 1)
    let two = try serve("tree/deep/two.bin", count: 3 << 20, seed: 2)
    let slow = try serve("tree/slow.bin", count: 8 << 20, seed: 3)
    let mountPoint = try mount([nginx.url("tree/")], options: ["--prefetch-rate", "1M"])
    defer { try? unmount(mountPoint) }
    let socket = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.control", of: mountPoint))
    let mode = try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int
    XCTAssertEqual(mode, 0o600, "the control socket is its user's only")
    XCTAssertEqual(filledBytes(mountPoint + "/one.bin"), 0, "nothing is filled unasked")
    var result = try bitsfs(["prefetch", mountPoint + "/one.bin", mountPoint + "/deep", "--priority", "normal"])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(
      waitUntil(timeout: 30, poll: 0.1) {
        self.filledBytes(mountPoint + "/one.bin") == UInt64(one.count)
          && self.filledBytes(mountPoint + "/deep/two.bin") == UInt64(two.count)
      })
    result = try bitsfs(["prefetch", mountPoint + "/slow.bin"])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(waitUntil(timeout: 10, poll: 0.05) { self.filledBytes(mountPoint + "/slow.bin") > 0 })
    result = try bitsfs(["prefetch", "--cancel", mountPoint + "/slow.bin"])
    XCTAssertEqual(result.status, 0, result.error)
    usleep(500_000)
    let stopped = filledBytes(mountPoint + "/slow.bin")
    usleep(1_500_000)
    XCTAssertEqual(filledBytes(mountPoint + "/slow.bin"), stopped, "nothing more after the cancel")
    XCTAssertLessThan(stopped, UInt64(slow.count))
    // What it filled is served; the rest comes when read.
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/slow.bin"), try TestData.sha256(of: slow))
  }

  func testPrefetchOfWhatIsNoMountOrNoPathIsAClearError() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree"), withIntermediateDirectories: true)
    _ = try serve("tree/a.bin", count: 10)
    let mountPoint = try mount([nginx.url("tree/")])
    defer { try? unmount(mountPoint) }
    for (arguments, status, message) in [
      (["prefetch", mountPoint + "/nope.bin"], Int32(2), "nope.bin is not in the mount"),
      (["prefetch", workDirectory.path], 2, "is not in a bitsfs mount"),
      (["prefetch", mountPoint + "/a.bin", "--priority", "urgent"], 2, "must be high, normal or low"),
    ] {
      let result = try bitsfs(arguments)
      XCTAssertEqual(result.status, status, "\(arguments): \(result.error)")
      XCTAssertTrue(result.error.contains(message), result.error)
    }
  }

  /// `--on-complete` runs once per filled file and `--on-error` for one that cannot be filled,
  /// each with the file's path and URL and never the mount's credentials.
  func testFillCommandsRunOncePerFileWithItsPathAndNoCredential() throws {
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("tree"), withIntermediateDirectories: true)
    _ = try serve("tree/a.bin", count: 1 << 20, seed: 1)
    _ = try serve("tree/b.bin", count: 3 << 20, seed: 2)
    _ = try serve("tree/gone.bin", count: 100, seed: 3)
    let log = workDirectory.appendingPathComponent("hooks.log").path
    let mountPoint = try makeMountPoint()
    let record =
      "printf '%s %s %s %s\\n' \"$BITSFS_PATH\" \"$BITSFS_URL\" \"${BITSFS_ERROR:-ok}\" \"${BITSFS_HEADERS:-none}\" >> \(log)"
    var environment = ProcessInfo.processInfo.environment
    environment["BITSFS_HEADERS"] = "X-Secret: sekrit"
    let mounted = try runCommand(
      Self.binary,
      [
        "mount", nginx.url("tree/"), mountPoint, "--cache-dir", cacheDirectory.path, "--on-complete", record,
        "--on-error", record, "--retry-period", "1",
      ], environment: environment, timeout: 60)
    XCTAssertEqual(mounted.status, 0, mounted.error)
    defer { try? unmount(mountPoint) }
    // Listed at the mount, gone from the server before its fill.
    try FileManager.default.removeItem(at: nginx.root.appendingPathComponent("tree/gone.bin"))
    let asked = try bitsfs(["prefetch", mountPoint + "/a.bin", mountPoint + "/b.bin", mountPoint + "/gone.bin"])
    XCTAssertEqual(asked.status, 0, asked.error)
    let lines = { (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? [] }
    XCTAssertTrue(waitUntil(timeout: 30, poll: 0.1) { lines().count >= 3 }, "\(lines())")
    // Bytes that arrive later must not tell again.
    _ = try TestData.sha256(of: mountPoint + "/b.bin")
    usleep(1_000_000)
    XCTAssertEqual(
      lines().sorted(),
      [
        "\(mountPoint)/a.bin \(nginx.url("tree/a.bin")) ok none",
        "\(mountPoint)/b.bin \(nginx.url("tree/b.bin")) ok none",
        "\(mountPoint)/gone.bin \(nginx.url("tree/gone.bin")) BG_E_HTTP_ERROR_404 none",
      ])
  }

  /// `bitsfs events` prints FileRangesTransferred as JSON lines whose ranges add up to what
  /// was filled.
  func testEventsAreJSONLinesOfTheFilledRanges() throws {
    let bytes = try serve("e.bin", count: 3 << 20)
    let mountPoint = try mount([nginx.url("e.bin")], options: ["--min-notification-interval", "0.05"])
    defer { try? unmount(mountPoint) }
    let (events, output) = try startBitsfs(["events", mountPoint])
    defer {
      if events.isRunning { events.terminate() }
      events.waitUntilExit()
    }
    // The subscription is in place once the mount answered it; give it a moment.
    usleep(300_000)
    XCTAssertEqual(try TestData.sha256(of: mountPoint + "/e.bin"), try TestData.sha256(of: bytes))
    usleep(1_000_000)
    events.terminate()
    events.waitUntilExit()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    struct Event: Decodable {
      var file: String
      var url: String
      var ranges: [[UInt64]]
      var bytes: UInt64
    }
    let parsed = try text.split(separator: "\n").map { try JSONDecoder().decode(Event.self, from: Data($0.utf8)) }
    XCTAssertFalse(parsed.isEmpty, text)
    var covered = ByteRangeSet()
    for event in parsed {
      XCTAssertEqual(event.file, "e.bin")
      XCTAssertEqual(event.url, nginx.url("e.bin"))
      XCTAssertEqual(event.bytes, event.ranges.reduce(0) { $0 + $1[1] })
      for range in event.ranges { covered.insert(range[0]..<range[0] + range[1]) }
    }
    XCTAssertEqual(covered.intervals, [0..<UInt64(bytes.count)], "the events cover what was filled")
  }

  func testBadPrefetchOptionsAreRefused() throws {
    _ = try serve("a.bin", count: 10)
    for (options, message) in [
      (["--prefetch-priority", "urgent"], "must be high, normal or low"),
      (["--prefetch-rate", "12"], "--prefetch-rate"),
    ] {
      let result = try bitsfs(
        ["mount", nginx.url("a.bin"), try makeMountPoint(), "--cache-dir", cacheDirectory.path] + options)
      XCTAssertEqual(result.status, 2, result.error)
      XCTAssertTrue(result.error.contains(message), result.error)
    }
  }
}
