import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// Numeric options out of range are refused with status 2 and a message naming the option and
/// its range, before anything is contacted or mounted; none of them traps.
final class NumericOptionTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    try requireBitsfsBinary()
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-options-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("mnt"), withIntermediateDirectories: true)
  }

  override func tearDown() {
    if let directory { try? FileManager.default.removeItem(at: directory) }
  }

  private func assertRefused(
    _ command: String, _ option: String, _ value: String, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    // Port 9 (discard) has no server: a value let through would fail differently, and later.
    let url = "http://127.0.0.1:9/f.bin"
    let arguments =
      command == "mount"
      ? ["mount", url, directory.path + "/mnt", "--cache-dir", directory.path + "/cache"]
      : ["fetch", url, directory.path + "/out.bin"]
    let result = try runCommand(bitsfsBinary, arguments + [option, value], timeout: 30)
    let context = "\(command) \(option) \(value): \(result.error)"
    XCTAssertEqual(result.status, 2, context, file: file, line: line)
    XCTAssertTrue(result.error.contains("\(option) must be"), context, file: file, line: line)
    XCTAssertTrue(
      result.error.contains(" between "), "the message gives the valid range: \(context)", file: file, line: line)
    XCTAssertFalse(result.error.contains("Fatal error"), context, file: file, line: line)
  }

  func testDurationsOutOfRangeAreRefused() throws {
    for value in ["nan", "inf", "-inf", "1e30", "-1", "abc", ""] {
      for option in ["--read-timeout", "--revalidate"] {
        try assertRefused("mount", option, value)
      }
      for option in ["--stall-timeout", "--retry-period"] {
        try assertRefused("mount", option, value)
        try assertRefused("fetch", option, value)
      }
    }
    // A read timeout of zero would fail every read; a stall timeout below a second means none.
    try assertRefused("mount", "--read-timeout", "0")
    try assertRefused("mount", "--stall-timeout", "0.5")
  }

  func testCountsAndSizesOutOfRangeAreRefused() throws {
    for value in ["0", "-1", "-4096", "1e30", "18446744073709551616", "3000", "4097"] {
      try assertRefused("mount", "--block-size", value)
    }
    try assertRefused("mount", "--block-size", "\(1 << 30)")
    for value in ["0", "-1", "1e30", "99999999999999999999", "1000001"] {
      try assertRefused("mount", "--max-ranges", value)
      try assertRefused("fetch", "--max-ranges", value)
    }
  }

  func testCacheSizesOutOfRangeAreRefused() throws {
    for command in ["mount", "fetch"] {
      for value in ["-1", "0", "100K", "1e30", "abc", "", "101%", "-5%", "nan%", "%", "99999999999999999999"] {
        try assertRefused(command, "--cache-limit", value)
      }
      for value in ["-1", "abc", "200%", "inf%"] {
        try assertRefused(command, "--cache-min-free", value)
      }
    }
    // A percentage is of the cache's file system: a sliver of it is below the 1 MiB minimum.
    let url = "http://127.0.0.1:9/f.bin"
    let sliver = try runCommand(
      bitsfsBinary,
      ["mount", url, directory.path + "/mnt", "--cache-dir", directory.path + "/cache", "--cache-limit", "0.0000001%"],
      timeout: 30)
    XCTAssertEqual(sliver.status, 2, sliver.error)
    XCTAssertTrue(sliver.error.contains("--cache-limit comes to"), sliver.error)
    XCTAssertTrue(sliver.error.contains("it must be at least 1 MiB"), sliver.error)
  }
}
