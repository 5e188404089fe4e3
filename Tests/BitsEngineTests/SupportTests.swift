import BitsEngine
import TestSupport
import XCTest

final class SupportTests: XCTestCase {
  /// The tests' fast byte comparison, which many checks of read bytes rest on.
  func testSameBytesTellsEveryDifference() {
    let bytes = TestData.bytes(count: 10_000, seed: 1)
    XCTAssertTrue(sameBytes(bytes, bytes[...]))
    XCTAssertTrue(sameBytes([UInt8](), [UInt8]()))
    XCTAssertFalse(sameBytes(bytes, bytes.dropLast()), "another length")
    for index in [0, 4_999, 9_999] {
      var changed = bytes
      changed[index] ^= 1
      XCTAssertFalse(sameBytes(bytes, changed), "a byte at \(index)")
    }
  }

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

final class FirstInFirstOutTests: XCTestCase {
  func testItemsComeOutInTheOrderGivenAcrossRunningEmpty() {
    var queue = FirstInFirstOut<Int>()
    XCTAssertTrue(queue.isEmpty)
    XCTAssertNil(queue.popFirst())
    for item in 1...3 { queue.append(item) }
    XCTAssertEqual(queue.popFirst(), 1)
    queue.append(4)
    XCTAssertEqual([queue.popFirst(), queue.popFirst(), queue.popFirst()], [2, 3, 4])
    XCTAssertTrue(queue.isEmpty)
    XCTAssertNil(queue.popFirst())
    queue.append(5)
    XCTAssertFalse(queue.isEmpty)
    XCTAssertEqual(queue.popFirst(), 5)
  }
}
