import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// `bitsfs fetch` against servers that lie on the wire: sizes no file can have, compressed
/// answers. The process never dies of what it is told, and never stores bytes it did not ask for.
final class HostileServerFetchTests: XCTestCase {
  var directory: URL!
  var root: URL!
  var server: FaultServer!
  /// Compressible, so that a gzipped answer is shorter than the range and could pass for part of it.
  let text = Array(String(repeating: "the quick brown fox jumps over the lazy dog\n", count: 1500).utf8)

  override func setUpWithError() throws {
    try requireBitsfsBinary()
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-hostile-\(UUID().uuidString)")
    root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try Data(text).write(to: root.appendingPathComponent("t.txt"))
    server = try FaultServer(root: root)
  }

  override func tearDown() {
    server?.stop()
    if let directory { try? FileManager.default.removeItem(at: directory) }
  }

  private func fetch(_ arguments: [String]) throws -> CommandResult {
    try runCommand(bitsfsBinary, ["fetch"] + arguments + ["--retry-period", "2"], timeout: 60)
  }

  private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func testSizesBeyondWhatAFileCanHaveAreRefusedWithoutACrash() throws {
    for total in ["9223372036854775808", "18446744073709551615", "18446744073709551616"] {
      for ranges in [[], ["--range", "0:100"]] {
        let result = try fetch([server.url("total/\(total)", "t.txt"), path("out.bin")] + ranges)
        XCTAssertEqual(result.status, 1, "\(total) \(ranges): the process must exit, not trap: \(result.error)")
        XCTAssertTrue(result.error.contains("BG_E_INVALID_SERVER_RESPONSE"), "\(total): \(result.error)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.bin")))
      }
    }
    let largest = try fetch([server.url("total/9223372036854775807", "t.txt"), path("out.bin"), "--range", "0:100"])
    // 2^63-1 is a size a file may have: the disk may not take it, the process does not trap.
    XCTAssertFalse(largest.error.contains("Fatal error"), largest.error)
  }

  func testAnUncompressedAnswerIsAskedForAndAGzippedOneRefused() throws {
    let polite = try fetch([server.url("gzip", "t.txt"), path("polite.txt")])
    XCTAssertEqual(polite.status, 0, "a server offering gzip sends identity when asked to: \(polite.error)")
    XCTAssertTrue(
      (try? Data(contentsOf: URL(fileURLWithPath: path("polite.txt")))).map(Array.init) == text,
      "the file's bytes, not a gzip stream")

    let stubborn = try fetch([server.url("gzip-always", "t.txt"), path("stubborn.txt")])
    XCTAssertEqual(stubborn.status, 1, stubborn.error)
    XCTAssertTrue(stubborn.error.contains("BG_E_INVALID_SERVER_RESPONSE"), stubborn.error)
    XCTAssertTrue(stubborn.error.contains("gzip"), stubborn.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("stubborn.txt")))
    let dataRequests = server.requests().filter { $0.path.hasPrefix("/gzip-always/") && $0.range != "bytes=0-0" }
    XCTAssertEqual(dataRequests.count, 0, "the probe's answer already ends it: \(dataRequests)")

    let asked = try fetch([server.url("gzip", "t.txt"), path("asked.txt"), "--header", "Accept-Encoding: gzip"])
    XCTAssertEqual(asked.status, 1, asked.error)
    XCTAssertTrue(asked.error.contains("BG_E_INVALID_SERVER_RESPONSE"), asked.error)
    XCTAssertTrue(asked.error.contains("--header"), "the user's own header caused it: \(asked.error)")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("asked.txt")))
  }

  func testHeadersGivenForOneHostDoNotFollowARedirectToAnother() throws {
    let origin = try HeaderServer(root: root)
    let elsewhere = try HeaderServer(root: root)
    defer {
      origin.stop()
      elsewhere.stop()
    }
    let result = try fetch([
      origin.redirectURL(to: elsewhere.url("t.txt")), path("out.txt"), "--header", "X-Api-Key: key-sekrit",
    ])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertFalse(elsewhere.requests().isEmpty)
    XCTAssertEqual(elsewhere.requests().compactMap { $0.headers["x-api-key"] }, [], "the key stayed with its host")
    XCTAssertTrue(origin.requests().allSatisfy { $0.headers["x-api-key"] == "key-sekrit" })
  }
}
