import Foundation
import TestSupport
import XCTest

@testable import BitsEngine

/// Files a job delivers get the mode the process's mask gives (as `curl -o` would), found
/// without changing the mask: a file another thread creates meanwhile keeps its own mode.
final class DeliveryModeTests: XCTestCase {
  func testDeliveredFilesFollowTheMaskAndLeaveItAlone() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("delivery-mode-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let mask = umask(0o027)
    defer { umask(mask) }
    let watch = try FileModeWatch(in: directory.appendingPathComponent("others"), expecting: 0o640)
    for round in 0..<10_000 {
      let scratch = directory.appendingPathComponent("scratch").path
      let fd = open(scratch, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
      XCTAssertGreaterThanOrEqual(fd, 0)
      close(fd)
      let path = directory.appendingPathComponent("out\(round % 4)").path
      try publish(scratch, as: path)
      var info = stat()
      XCTAssertEqual(stat(path, &info), 0)
      XCTAssertEqual(info.st_mode & 0o777, 0o640, "round \(round)")
    }
    XCTAssertEqual(watch.stop().prefix(5), [], "files made while files were delivered")
  }
}
