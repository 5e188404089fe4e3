import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

/// The engine against a server that misbehaves in the ways nginx cannot: every fault ends in
/// correct bytes or the right BITS error, within bounded time, never bytes of two versions.
final class FaultToleranceTests: EngineTestCase {
  var server: FaultServer!
  var root: URL!
  var bytes: [UInt8] = []

  override func setUpWithError() throws {
    try super.setUpWithError()
    root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    bytes = TestData.bytes(count: 3 << 20, seed: 7)
    try Data(bytes).write(to: root.appendingPathComponent("f.bin"))
    server = try FaultServer(root: root)
  }

  override func tearDown() {
    server?.stop()
    super.tearDown()
  }

  /// Fetches `fault`'s URL for f.bin (as whole file, or `ranges`) and returns the job.
  private func fetch(
    _ fault: String, ranges: [FileRange]? = nil, retryPeriod: Duration = .seconds(10), timeout: Duration = .seconds(30)
  ) throws -> DownloadJob {
    let job = makeJob(retryPeriod: retryPeriod) { $0.maximumRequestSize = 1 << 20 }
    if let ranges {
      try job.addFileWithRanges(remoteURL: server.url(fault, "f.bin"), localName: localPath("out.bin"), ranges: ranges)
    } else {
      try job.addFile(remoteURL: server.url(fault, "f.bin"), localName: localPath("out.bin"))
    }
    _ = try settle(job, timeout: timeout)
    return job
  }

  private func assertDelivered(
    _ job: DownloadJob, _ expected: [UInt8], file: StaticString = #filePath, line: UInt = #line
  ) throws {
    XCTAssertEqual(job.currentState, .transferred, "\(String(describing: job.error))", file: file, line: line)
    try job.complete()
    let delivered = Array(try Data(contentsOf: URL(fileURLWithPath: localPath("out.bin"))))
    XCTAssertTrue(delivered == expected, "delivered bytes differ", file: file, line: line)
  }

  func testServerIgnoringRangesIsInsufficientRangeSupport() throws {
    let job = try fetch("ignore-range")
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .insufficientRangeSupport)
    XCTAssertTrue(job.error?.description.contains("BG_E_INSUFFICIENT_RANGE_SUPPORT") ?? false)
  }

  func testWrongContentRangeIsAnInvalidServerResponseAndNothingIsWritten() throws {
    let job = try fetch("wrong-range", ranges: [FileRange(offset: 5000, length: 100)])
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .invalidServerResponse)
    XCTAssertEqual(job.files.first?.filledRanges, [])
  }

  func testConsolidatedRangesAreAnInvalidServerResponse() throws {
    let job = try fetch(
      "consolidate", ranges: [FileRange(offset: 0, length: 100), FileRange(offset: 200, length: 100)])
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .invalidServerResponse)
    XCTAssertEqual(job.files.first?.filledRanges, [])
  }

  func testServerErrorsAreRetriedUntilTheServerRecovers() throws {
    let states = Mutex<[JobState]>([])
    let job = makeJob(callbacks: JobCallbacks(stateChanged: { _, state in states.withLock { $0.append(state) } }))
    try job.addFile(remoteURL: server.url("fail/3", "f.bin"), localName: localPath("out.bin"))
    _ = try settle(job)
    try assertDelivered(job, bytes)
    XCTAssertTrue(states.withLock { $0 }.contains(.transientError), "\(states.withLock { $0 })")
    XCTAssertGreaterThanOrEqual(server.requests().filter { $0.status == 500 }.count, 3)
  }

  func testResetConnectionsAreRetriedFromWhereTheyStopped() throws {
    let job = try fetch("reset-once/70000")
    try assertDelivered(job, bytes)
  }

  func testStalledServerIsAbandonedAndRetried() throws {
    let start = ContinuousClock.now
    let job = try fetch("stall-once")
    try assertDelivered(job, bytes)
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(20))
  }

  func testPermanentlyStalledServerEndsInErrorWithinTheRetryPeriod() throws {
    let start = ContinuousClock.now
    let job = try fetch("stall", retryPeriod: .seconds(3), timeout: .seconds(20))
    XCTAssertEqual(job.currentState, .error)
    XCTAssertTrue(job.error.map { $0.code.isTransient } ?? false, "\(String(describing: job.error))")
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(15))
  }

  func testTooManyRequestsIsTransientThenAnError() throws {
    let job = try fetch("status/429", retryPeriod: .seconds(1))
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .httpStatus(429))
    XCTAssertGreaterThan(server.requests().count, 1, "429 is retried")
  }

  func testForbiddenIsPermanent() throws {
    let job = try fetch("status/403")
    XCTAssertEqual(job.error?.code, .httpStatus(403))
    XCTAssertEqual(server.requests().count, 1)
  }

  func testUnreachableServerIsAConnectFailure() throws {
    let job = makeJob(retryPeriod: .seconds(1))
    // A port nothing listens on: the fault server's, after it stopped.
    let url = server.url("plain", "f.bin")
    server.stop()
    try job.addFile(remoteURL: url, localName: localPath("out.bin"))
    XCTAssertEqual(try settle(job, timeout: .seconds(15)), .error)
    XCTAssertEqual(job.error?.code, .connectFailure)
  }

  func testFileChangingDuringTheTransferRestartsItWithoutMixingVersions() throws {
    // After two requests the server switches to a second version of the same size.
    let job = try fetch("change-after/2")
    let secondVersion = bytes.map { $0 ^ 0x5A }
    try assertDelivered(job, secondVersion)
  }

  func testMissingContentLengthIsMissingFileSize() throws {
    let job = try fetch("no-length")
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .missingFileSize)
  }

  // MARK: A server that lies

  func testBodyRunningPastTheContentRangeIsRefusedAndNothingOutsideIsWritten() throws {
    let job = try fetch("long-body/5000", ranges: [FileRange(offset: 1000, length: 100)])
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .invalidServerResponse)
    XCTAssertTrue(
      job.files.first?.filledRanges.allSatisfy { $0.offset >= 1000 && $0.offset + $0.length <= 1100 } ?? false)
  }

  func testHugeContentLengthIsRefusedBeforeAnyByteIsWritten() throws {
    let job = try fetch("huge-length", ranges: [FileRange(offset: 1000, length: 100)])
    XCTAssertEqual(job.error?.code, .invalidServerResponse)
    XCTAssertEqual(job.files.first?.filledRanges, [])
  }

  func testFewerBytesThanAnnouncedAreKeptAndTheRestIsAskedAgain() throws {
    // Every answer stops after 300 bytes: each retry asks only for what is still missing.
    let job = try fetch("short-body/300", ranges: [FileRange(offset: 0, length: 1000)])
    try assertDelivered(job, Array(bytes[0..<1000]))
    XCTAssertEqual(
      server.requests().filter { $0.range != nil }.map(\.range),
      [
        "bytes=0-0", "bytes=0-999", "bytes=300-999", "bytes=600-999", "bytes=900-999",
      ])
  }

  func testFileSizeBeyondWhatTheDiskCanHoldIsAClearLocalError() throws {
    let job = try fetch("huge-size", ranges: [FileRange(offset: 0, length: 100)])
    XCTAssertEqual(job.currentState, .error)
    XCTAssertTrue(
      job.error?.description.contains("cannot size the cache data file") ?? false,
      "a 1 EiB file cannot be cached: \(String(describing: job.error))")
    XCTAssertEqual(job.files.first?.filledRanges ?? [], [])
  }

  func testRedirectLoopEndsInAPermanentError() throws {
    let start = ContinuousClock.now
    let job = try fetch("redirect-loop")
    XCTAssertEqual(job.currentState, .error)
    XCTAssertFalse(job.error?.code.isTransient ?? true, "\(String(describing: job.error))")
    XCTAssertLessThan(server.requests().count, 20, "redirects are bounded")
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(10))
  }

  func testRedirectToAnotherSchemeIsRefused() throws {
    for scheme in ["file", "ftp", "gopher"] {
      let job = try fetch("redirect-to/\(scheme)")
      XCTAssertEqual(job.currentState, .error, scheme)
      XCTAssertFalse(job.error?.code.isTransient ?? true, "\(scheme): \(String(describing: job.error))")
      XCTAssertFalse(FileManager.default.fileExists(atPath: localPath("out.bin")))
    }
  }
}
