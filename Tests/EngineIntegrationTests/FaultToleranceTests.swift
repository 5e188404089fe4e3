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

  /// The data requests (not version probes) for `fault`'s URL of f.bin, in the order served.
  private func dataRequests(_ fault: String) -> [ServedRequest] {
    server.dataRequests().filter { $0.path == "/\(fault)/f.bin" }
  }

  /// Asserts that the pauses between successive `requests` are at least `pauses` (in seconds)
  /// and not much more: a retry waits its backoff, and no longer than a busy machine explains.
  private func assertPauses(
    _ requests: [ServedRequest], _ pauses: [Double], slack: Double = 0.75, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    let times = requests.map(\.time)
    let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
    XCTAssertEqual(gaps.count, pauses.count, "requests at \(times)", file: file, line: line)
    for (gap, pause) in zip(gaps, pauses) {
      XCTAssertTrue(
        gap >= pause * 0.9 && gap <= pause + slack, "a pause of \(gap) s where \(pause) s was due; all: \(gaps)",
        file: file, line: line)
    }
  }

  private let firstMebibyte = [FileRange(offset: 0, length: 1 << 20)]

  func testServerErrorsAreRetriedWithBackoffUntilTheServerRecovers() throws {
    let states = Mutex<[JobState]>([])
    let job = makeJob(
      configure: { $0.maximumRequestSize = 1 << 20 },
      callbacks: JobCallbacks(stateChanged: { _, state in states.withLock { $0.append(state) } }))
    try job.addFileWithRanges(
      remoteURL: server.url("fail/6", "f.bin"), localName: localPath("out.bin"), ranges: firstMebibyte)
    _ = try settle(job)
    try assertDelivered(job, Array(bytes[0..<(1 << 20)]))
    XCTAssertTrue(states.withLock { $0 }.contains(.transientError), "\(states.withLock { $0 })")
    let requests = dataRequests("fail/6")
    XCTAssertEqual(requests.map(\.status), [500, 500, 500, 500, 500, 500, 206])
    XCTAssertEqual(Set(requests.map(\.range)), ["bytes=0-1048575"], "each retry asks again for the whole range")
    // 50 ms doubling to 400 ms (EngineTestCase's job configuration).
    assertPauses(requests, [0.05, 0.1, 0.2, 0.4, 0.4, 0.4])
  }

  func testRequestTimeoutIsTransient() throws {
    let job = try fetch("fail/2/408", ranges: firstMebibyte)
    try assertDelivered(job, Array(bytes[0..<(1 << 20)]))
    XCTAssertEqual(dataRequests("fail/2/408").map(\.status), [408, 408, 206])
  }

  func testResetConnectionsAreRetriedFromTheFirstMissingByte() throws {
    let job = try fetch("reset-once/70000", ranges: firstMebibyte)
    try assertDelivered(job, Array(bytes[0..<(1 << 20)]))
    let requests = dataRequests("reset-once/70000")
    XCTAssertEqual(requests.map(\.range), ["bytes=0-1048575", "bytes=70000-1048575"])
    assertPauses(requests, [0.05 + 0.2], slack: 1)  // the server waits 200 ms before the reset
  }

  func testStalledTransferIsAbandonedAfterTheStallTimeoutAndRetried() throws {
    // The head, then silence: after the stall timeout (2 s here) the request is given up.
    let job = try fetch("stall-once", ranges: firstMebibyte)
    try assertDelivered(job, Array(bytes[0..<(1 << 20)]))
    let requests = dataRequests("stall-once")
    XCTAssertEqual(requests.map(\.range), ["bytes=0-1048575", "bytes=0-1048575"])
    assertPauses(requests, [2.05], slack: 1.5)
  }

  func testTransferStallingAfterSomeBytesIsAbandonedAfterTheStallTimeoutAndResumed() throws {
    // 70,000 bytes, then silence: no byte for the stall timeout (2 s here) gives the request up,
    // however many bytes came before, and the retry asks for the rest.
    let job = try fetch("stall-once/70000", ranges: firstMebibyte)
    try assertDelivered(job, Array(bytes[0..<(1 << 20)]))
    let requests = dataRequests("stall-once/70000")
    XCTAssertEqual(requests.map(\.range), ["bytes=0-1048575", "bytes=70000-1048575"])
    assertPauses(requests, [2.05], slack: 1.5)
  }

  func testPermanentlyStalledServerEndsInErrorWithinTheRetryPeriod() throws {
    let start = ContinuousClock.now
    let job = try fetch("stall", retryPeriod: .seconds(3), timeout: .seconds(20))
    XCTAssertEqual(job.currentState, .error)
    XCTAssertTrue(job.error.map { $0.code.isTransient } ?? false, "\(String(describing: job.error))")
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(15))
  }

  func testConnectionsResetEveryTimeEndInConnectionClosedWithinTheRetryPeriod() throws {
    // The head, then a reset before any byte of the body: no progress, ever.
    let start = ContinuousClock.now
    let job = try fetch("reset-after/0", ranges: firstMebibyte, retryPeriod: .seconds(2))
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .connectionClosed, "\(String(describing: job.error))")
    XCTAssertTrue(job.error?.description.contains("BG_E_CONNECTION_CLOSED") ?? false)
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(15))
    let requests = dataRequests("reset-after/0")
    XCTAssertGreaterThan(requests.count, 1, "a reset is retried")
    XCTAssertEqual(Set(requests.map(\.range)), ["bytes=0-1048575"])
  }

  func testTooManyRequestsIsTransientThenAnError() throws {
    let job = try fetch("fail/1000/429", ranges: firstMebibyte, retryPeriod: .seconds(1))
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .httpStatus(429))
    let requests = dataRequests("fail/1000/429")
    XCTAssertGreaterThan(requests.count, 2, "429 is retried")
    XCTAssertEqual(Set(requests.map(\.status)), [429])
  }

  func testPermanentStatusesAreNotRetried() throws {
    for status in [403, 404, 410] {
      let job = try fetch("fail/1000/\(status)", ranges: firstMebibyte)
      XCTAssertEqual(job.currentState, .error, "\(status)")
      XCTAssertEqual(job.error?.code, .httpStatus(status))
      XCTAssertEqual(dataRequests("fail/1000/\(status)").count, 1, "\(status) is not retried")
    }
  }

  func testProbeWithoutTheFileSizeIsMissingFileSize() throws {
    // `Content-Range: bytes 0-0/*`: a partial answer that does not say how large the file is.
    let job = try fetch("no-total")
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .missingFileSize)
    XCTAssertEqual(dataRequests("no-total"), [])
  }

  func testEveryRangeRequestCarriesIfRange() throws {
    // With a strong ETag, If-Range is the ETag; without one, the date, once it is old enough to
    // be a validator (a file changed this second may change again within it). Retries too.
    try FileManager.default.setAttributes(
      [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: root.appendingPathComponent("f.bin").path)
    for fault in ["fail/2", "fail/2/500/no-etag"] {
      let head = try runCommand("/usr/bin/curl", ["-sI", "--max-time", "5", server.url(fault, "f.bin")]).output
      func header(_ name: String) -> String? {
        head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name + ":") }
          .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
      }
      let validator = try XCTUnwrap(fault.hasSuffix("no-etag") ? header("last-modified") : header("etag"), head)
      let job = try fetch(fault)
      try assertDelivered(job, bytes)
      let requests = dataRequests(fault)
      XCTAssertGreaterThanOrEqual(requests.count, 5, "three pieces, two of them retried at least")
      XCTAssertEqual(
        requests.filter { $0.ifRange != validator }.map(\.range), [], "\(fault): without If-Range \(validator)")
    }
  }

  func testADateOfThisVeryMomentIsNoIfRange() throws {
    try FileManager.default.setAttributes(
      [.modificationDate: Date()], ofItemAtPath: root.appendingPathComponent("f.bin").path)
    let job = try fetch("fail/1/500/no-etag")
    try assertDelivered(job, bytes)
    let requests = dataRequests("fail/1/500/no-etag")
    XCTAssertFalse(requests.isEmpty)
    XCTAssertEqual(requests.compactMap(\.ifRange), [], "a date that is no validator yet is not sent")
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
    // 206 with the right Content-Range and no Content-Length: the body ends when the server
    // closes, 5000 bytes after the range.
    let job = try fetch("long-body/5000", ranges: [FileRange(offset: 1000, length: 100)])
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .invalidServerResponse)
    XCTAssertEqual(job.files.first?.filledRanges, [FileRange(offset: 1000, length: 100)])
    let data = try cacheDataFile()
    XCTAssertTrue(
      data[0..<1000].allSatisfy { $0 == 0 } && data[1100..<6100].allSatisfy { $0 == 0 },
      "bytes outside the range were written")
    XCTAssertTrue(data[1000..<1100].elementsEqual(bytes[1000..<1100]))
  }

  /// The one cache entry's data file, as bytes.
  private func cacheDataFile() throws -> Data {
    let cache = directory.appendingPathComponent("cache")
    let entries = try FileManager.default.contentsOfDirectory(atPath: cache.path)
    XCTAssertEqual(entries.count, 1)
    return try Data(contentsOf: cache.appendingPathComponent("\(try XCTUnwrap(entries.first))/data"))
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
    // Redirects to a port the test listens on, in schemes libcurl could speak (it follows ftp
    // and ftps by default): none may be followed, not even as far as a connection.
    let listener = try LoopbackListener()
    for scheme in ["ftp", "ftps", "gopher", "scp"] {
      let fault = "redirect-to/\(scheme)/\(listener.port)"
      let job = try fetch(fault)
      XCTAssertEqual(job.currentState, .error, scheme)
      // The server's answer is what is wrong: a redirect bitsfs never follows.
      XCTAssertEqual(job.error?.code, .invalidServerResponse, "\(scheme): \(String(describing: job.error))")
      XCTAssertEqual(server.requests().filter { $0.path == "/\(fault)/f.bin" }.count, 1, "\(scheme): not retried")
      XCTAssertFalse(listener.hasPendingConnection, "a \(scheme):// redirect was followed")
    }
  }
}
