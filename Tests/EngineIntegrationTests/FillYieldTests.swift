import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Background fill yielding to readers, over libcurl against a server that sends slowly: a
/// reader of another file pauses the fill, a reader of the fill's own bytes does not wait for
/// that pause.
final class FillYieldTests: EngineTestCase {
  func testAReaderOfBytesAPausedFillRequestHoldsIsNotKeptWaitingByAnotherReader() throws {
    let root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let fillBytes = TestData.bytes(count: 400_000, seed: 21)
    try Data(fillBytes).write(to: root.appendingPathComponent("fill.bin"))
    try Data(TestData.bytes(count: 4096, seed: 22)).write(to: root.appendingPathComponent("other.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    let job = makeJob(onDemand: true)
    // The fill: one request of 400,000 bytes sent at 400,000 a second. The other reader's
    // request: 4096 bytes at 1000 a second, in flight for 4 s.
    let fill = try job.addFile(remoteURL: server.url("slow/400000", "fill.bin"), localName: nil)
    let other = try job.addFile(remoteURL: server.url("slow/1000", "other.bin"), localName: nil)
    try job.resume()
    try fill.connect()
    try other.connect()
    try fill.requestFileRanges([FileRange(offset: 0, length: 400_000)], priority: .low)
    XCTAssertTrue(waitUntil(timeout: 5) { fill.statistics.filledBytes > 0 }, "the fill never started")
    let otherRead = DispatchSemaphore(value: 0)
    other.read(0..<4096, alignment: 4096, timeout: .seconds(20)) { _ in otherRead.signal() }
    Thread.sleep(forTimeInterval: 0.3)
    let pausedAt = fill.statistics.filledBytes
    XCTAssertLessThan(pausedAt, 300_000, "the fill did not pause for the other reader")

    // The other reader's request goes on for seconds: the fill's bytes come sooner.
    let answer = Mutex<Result<[UInt8], BitsError>?>(nil)
    let answered = DispatchSemaphore(value: 0)
    fill.read(300_000..<304_096, alignment: 4096, timeout: .seconds(2)) { result in
      answer.withLock { $0 = result.flatMap { $0.copiedBytes() } }
      answered.signal()
    }
    XCTAssertEqual(answered.wait(timeout: .now() + 5), .success)
    XCTAssertEqual(try answer.withLock { $0 }?.get(), Array(fillBytes[300_000..<304_096]))
    XCTAssertEqual(otherRead.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(
      server.dataRequests().filter { $0.path.hasSuffix("fill.bin") }.count, 1, "the fill's one request did it all")
  }
}
