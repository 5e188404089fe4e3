import BitsEngine
import XCTest

final class SupportTests: XCTestCase {
  func testRunQuietlyReportsTheExitStatus() {
    XCTAssertEqual(runQuietly("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]), 3)
    XCTAssertEqual(runQuietly("/bin/true", []), 0)
    XCTAssertNil(runQuietly("/bin/sh", ["-c", "kill -9 $$"]), "killed by a signal")
    XCTAssertNil(runQuietly("/nonexistent/program", []))
  }

  func testThreadsRunWithTheirName() {
    let done = expectation(description: "the thread ran")
    startThread(named: "bitsfs-test-thread-name") {
      let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
      XCTAssertEqual(name, "bitsfs-test-thr\n", "truncated to 15 bytes")
      done.fulfill()
    }
    wait(for: [done], timeout: 10)
  }

  func testDirectories() {
    XCTAssertTrue(isDirectory("/tmp"))
    XCTAssertFalse(isDirectory("/etc/hostname"))
    XCTAssertFalse(isDirectory("/nonexistent"))
  }
}
