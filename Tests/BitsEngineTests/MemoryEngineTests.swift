import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import BitsEngine

/// The engine over the in-memory transport: scheduling, retries, versions, suspend and resume,
/// decided without sockets or sleeps. Waits are on job states and read completions, bounded.
final class MemoryEngineTests: XCTestCase {
  var directory: URL!
  var server: MemoryTransport!
  let url = "http://memory.test/f.bin"

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-memory-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    server = MemoryTransport(stallTimeout: .milliseconds(200))
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private func makeJob(onDemand: Bool = false, configure: (inout JobConfiguration) -> Void = { _ in }) -> DownloadJob {
    var configuration = JobConfiguration()
    configuration.isOnDemand = onDemand
    configuration.retryPeriod = .seconds(10)
    configuration.initialRetryDelay = .milliseconds(20)
    configuration.maximumRetryDelay = .milliseconds(80)
    configuration.maximumRequestSize = 256 << 10
    configure(&configuration)
    return DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: server,
      configuration: configuration)
  }

  @discardableResult
  private func serve(count: Int, seed: UInt64, etag: String) -> [UInt8] {
    let bytes = TestData.bytes(count: count, seed: seed)
    server.serve(MemoryTransport.Version(bytes: bytes, etag: etag), at: url)
    return bytes
  }

  private func fetchWhole(_ job: DownloadJob) throws -> [UInt8] {
    let output = directory.appendingPathComponent("out-\(UUID().uuidString).bin")
    try job.addFile(remoteURL: url, localName: output.path)
    try job.resume()
    XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(20)), .transferred, "\(String(describing: job.error))")
    try job.complete()
    return Array(try Data(contentsOf: output))
  }

  /// Reads `range` through `file` and waits for the answer (bounded).
  static func read(
    _ file: DownloadFile, _ range: Range<UInt64>, timeout: Duration = .seconds(5)
  ) -> Result<[UInt8], BitsError>? {
    let answer = Mutex<Result<[UInt8], BitsError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    file.read(range, alignment: 4096, timeout: timeout) { result in
      answer.withLock { answer in
        answer = result.flatMap { $0.copiedBytes() }
      }
      done.signal()
    }
    guard done.wait(timeout: .now() + .seconds(Int((timeout / .seconds(1)).rounded(.up)) + 5)) == .success else {
      return nil
    }
    return answer.withLock { $0 }
  }

  func testAWholeFileArrivesIdenticallyWithEachByteAskedOnce() throws {
    let bytes = serve(count: 1 << 20 + 123, seed: 1, etag: "\"a\"")
    XCTAssertEqual(try fetchWhole(makeJob()), bytes)
    let asked = server.dataRanges(of: url)
    XCTAssertEqual(asked.reduce(0) { $0 + $1.count }, bytes.count)
    XCTAssertEqual(ByteRangeSet(asked).intervals, [0..<UInt64(bytes.count)])
    XCTAssertTrue(server.requests.filter { !MemoryTransport.isProbe($0) }.allSatisfy { $0.ifRange == "\"a\"" })
  }

  func testAResetTransferIsRetriedFromTheFirstMissingByte() throws {
    let bytes = serve(count: 100_000, seed: 2, etag: "\"a\"")
    server.inject(.reset(after: 40_000), at: url)
    XCTAssertEqual(try fetchWhole(makeJob()), bytes)
    XCTAssertEqual(server.dataRanges(of: url), [0..<100_000, 40_000..<100_000])
  }

  func testAStalledTransferIsAbandonedAndRetried() throws {
    let bytes = serve(count: 100_000, seed: 3, etag: "\"a\"")
    server.inject(.stall(after: 16_384), at: url)
    XCTAssertEqual(try fetchWhole(makeJob()), bytes)
    XCTAssertEqual(server.dataRanges(of: url), [0..<100_000, 16_384..<100_000])
  }

  func testServerErrorsOnDataAreRetriedWithBackoffThenSucceed() throws {
    let bytes = serve(count: 50_000, seed: 4, etag: "\"a\"")
    server.inject(.status(503), at: url, count: 3)
    let states = Mutex<[JobState]>([])
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: server,
      configuration: {
        var configuration = JobConfiguration()
        configuration.initialRetryDelay = .milliseconds(20)
        configuration.maximumRetryDelay = .milliseconds(80)
        return configuration
      }(), callbacks: JobCallbacks(stateChanged: { _, state in states.withLock { $0.append(state) } }))
    let start = ContinuousClock.now
    XCTAssertEqual(try fetchWhole(job), bytes)
    // 20 + 40 + 80 ms of backoff at least, and far less than the retry period.
    let elapsed = ContinuousClock.now - start
    XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(140))
    XCTAssertLessThan(elapsed, .seconds(5))
    XCTAssertEqual(server.dataRanges(of: url), Array(repeating: 0..<50_000, count: 4))
    XCTAssertTrue(states.withLock { $0 }.contains(.transientError))
  }

  func testAPermanentStatusFailsTheJobWithoutRetrying() throws {
    serve(count: 50_000, seed: 4, etag: "\"a\"")
    server.inject(.status(410), at: url)
    let job = makeJob()
    try job.addFile(remoteURL: url, localName: directory.appendingPathComponent("o").path)
    try job.resume()
    XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(10)), .error)
    XCTAssertEqual(job.error?.code, .httpStatus(410))
    XCTAssertEqual(server.dataRanges(of: url).count, 1)
  }

  func testLiesAreRefusedAndWriteNothingOutsideTheAskedRange() throws {
    for fault in [MemoryTransport.Fault.shiftedRange(offset: 1000), .ignoreRange, .longBody(extra: 5000)] {
      serve(count: 50_000, seed: 5, etag: "\"a\"")
      server.inject(fault, at: url, count: 100)
      let job = makeJob()
      let file = try job.addFileWithRanges(
        remoteURL: url, localName: directory.appendingPathComponent("o").path,
        ranges: [FileRange(offset: 1000, length: 100)])
      try job.resume()
      XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(10)), .error, "\(fault)")
      XCTAssertTrue(
        [.invalidServerResponse, .insufficientRangeSupport].contains(job.error?.code),
        "\(fault): \(String(describing: job.error))")
      XCTAssertTrue(
        file.filledRanges.allSatisfy { $0.offset >= 1000 && $0.offset + $0.length <= 1100 }, "\(fault)")
      try job.cancel()
    }
  }

  func testAChangeDuringTheTransferRestartsOnTheNewVersionOnly() throws {
    serve(count: 600_000, seed: 6, etag: "\"v1\"")
    let job = makeJob { $0.maximumConcurrentRequests = 1 }
    let output = directory.appendingPathComponent("out.bin")
    try job.addFile(remoteURL: url, localName: output.path)
    let second = TestData.bytes(count: 600_000, seed: 7)
    // The second of three pieces is answered by a second version.
    server.inject(.change(to: MemoryTransport.Version(bytes: second, etag: "\"v2\"")), at: url, skip: 1)
    try job.resume()
    XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(20)), .transferred, "\(String(describing: job.error))")
    try job.complete()
    XCTAssertTrue(Array(try Data(contentsOf: output)) == second, "only the second version, whole")
    let asked = server.dataRanges(of: url)
    XCTAssertEqual(asked.prefix(2), [0..<262_144, 262_144..<524_288])
    XCTAssertEqual(ByteRangeSet(asked.dropFirst(2)).intervals, [0..<600_000], "restarted from the start")
  }

  func testASuspendRightAfterResumeStartsNoTransfer() throws {
    serve(count: 1 << 20, seed: 8, etag: "\"a\"")
    let job = makeJob()
    let file = try job.addFile(remoteURL: url, localName: directory.appendingPathComponent("o").path)
    try job.resume()
    try job.suspend()
    XCTAssertEqual(job.currentState, .suspended)
    // The resume's queued work runs after the suspend, and the suspend wins: no data request
    // goes out. Waited for as events: the job's queued work, then every answer it led to, and
    // again for what those answers queued.
    for _ in 0..<3 {
      job.waitForQueuedWork()
      server.waitForAnswers()
    }
    XCTAssertEqual(server.dataRanges(of: url), [], "a transfer started after the suspend")
    XCTAssertEqual(file.filledRanges, [])
    XCTAssertEqual(job.currentState, .suspended)
  }

  func testReadersWaitingAcrossASuspendAreServedAfterTheResume() throws {
    let bytes = serve(count: 200_000, seed: 9, etag: "\"a\"")
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    _ = try file.connect()
    // The reader's first request stalls; the suspend drops it; the resume must ask again.
    server.inject(.stall(after: 0), at: url)
    let answer = Mutex<Result<[UInt8], BitsError>??>(nil)
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      let result = Self.read(file, 100_000..<104_096, timeout: .seconds(5))
      answer.withLock { $0 = result }
      done.signal()
    }
    let url = url
    XCTAssertTrue(
      server.waitForRequest(timeout: .seconds(5)) { !MemoryTransport.isProbe($0) && $0.url == url },
      "the read's request")
    try job.suspend()
    try job.resume()
    XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
    guard case .success(let read)?? = answer.withLock({ $0 }) else {
      return XCTFail("the reader was not served: \(String(describing: answer.withLock { $0 }))")
    }
    XCTAssertTrue(read == Array(bytes[100_000..<104_096]))
  }

  func testAReadTimesOutWithinItsDeadline() throws {
    serve(count: 200_000, seed: 10, etag: "\"a\"")
    let slow = MemoryTransport(stallTimeout: .seconds(30))
    slow.serve(server.version(at: url)!, at: url)
    slow.inject(.stall(after: 0), at: url, count: 100)
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: slow,
      configuration: {
        var configuration = JobConfiguration()
        configuration.isOnDemand = true
        return configuration
      }())
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    _ = try file.connect()
    let start = ContinuousClock.now
    guard case .failure(let error)? = Self.read(file, 0..<4096, timeout: .milliseconds(300)) else {
      return XCTFail("the read should have timed out")
    }
    XCTAssertEqual(error.code, .timedOut)
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
    try job.cancel()
  }

  func testConcurrentRevalidationsFollowOneChangeOnce() throws {
    serve(count: 10_000, seed: 11, etag: "\"v1\"")
    let changes = Atomic<Int>(0)
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: server,
      configuration: {
        var configuration = JobConfiguration()
        configuration.isOnDemand = true
        return configuration
      }(), callbacks: JobCallbacks(fileChanged: { _, _ in changes.add(1, ordering: .relaxed) }))
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    _ = try file.connect()
    serve(count: 10_000, seed: 12, etag: "\"v2\"")
    let group = DispatchGroup()
    for _ in 0..<8 {
      group.enter()
      DispatchQueue.global().async { file.revalidate(ifOlderThan: .zero) { group.leave() } }
    }
    XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(file.version?.etag, "\"v2\"")
    XCTAssertEqual(changes.load(ordering: .relaxed), 1, "one change, followed once")
  }

  func testARevalidationThatCannotReachTheServerIsNotRetriedAtOnce() throws {
    serve(count: 10_000, seed: 13, etag: "\"v1\"")
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    _ = try file.connect()
    server.inject(.status(503), at: url, target: .probe, count: 100)
    let probesBefore = server.requests.filter(MemoryTransport.isProbe).count
    let done = DispatchSemaphore(value: 0)
    file.revalidate(ifOlderThan: .zero) { done.signal() }
    XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
    XCTAssertFalse(file.needsRevalidation(ifOlderThan: .zero), "the failure is remembered for a while")
    file.revalidate(ifOlderThan: .zero) { done.signal() }
    XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
    XCTAssertEqual(server.requests.filter(MemoryTransport.isProbe).count, probesBefore + 1)
    XCTAssertEqual(file.version?.etag, "\"v1\"", "the known version stays")
  }

  func testRangeRequestsGoWhereTheProbeWasRedirectedAndBackWhenThatFails() throws {
    let target = "http://mirror.test/f.bin"
    let bytes = TestData.bytes(count: 600_000, seed: 15)
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"a\""), at: target)
    server.redirect(url, to: target)
    // The mirror refuses the second piece once (an expired signature, say).
    server.inject(.status(403), at: target, skip: 1)
    XCTAssertEqual(try fetchWhole(makeJob()), bytes)
    let requests = server.requests.filter { !MemoryTransport.isProbe($0) }
    // Three pieces at once to the mirror, then the refused one again at the original URL.
    XCTAssertEqual(requests.map(\.url), [target, target, target, url], "no redirect per request")
    XCTAssertEqual(ByteRangeSet(requests.compactMap(\.range)).intervals, [0..<600_000])
  }

  func testAJournalThatCannotBeWrittenIsReportedInAnOnDemandJob() throws {
    let bytes = serve(count: 200_000, seed: 16, etag: "\"a\"")
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    try file.connect()
    // The journal's place taken by a directory: its next append fails.
    let cache = directory.appendingPathComponent("cache")
    let entry = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: cache.path).first)
    let journal = cache.appendingPathComponent(entry).appendingPathComponent("filled")
    try FileManager.default.removeItem(at: journal)
    try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: false)
    XCTAssertEqual(try Self.read(file, 0..<4096)?.get(), Array(bytes[0..<4096]), "the read itself is served")
    // A small read is answered from the bytes received, before they are recorded as filled:
    // once the transfer is done, the commit the read scheduled is made now, not waited for.
    server.waitForAnswers()
    file.commitNow()
    XCTAssertNotNil(file.statistics.lastError, "the failed commit is reported")
    XCTAssertTrue(
      file.statistics.lastError?.message.contains("journal") ?? false,
      "\(String(describing: file.statistics.lastError))")
  }

  func testWithoutADateOrAnETagNothingCachedIsTrustedByTheNextJob() throws {
    let first = TestData.bytes(count: 100_000, seed: 17)
    server.serve(MemoryTransport.Version(bytes: first, etag: nil, lastModified: nil), at: url)
    let earlier = makeJob(onDemand: true)
    let file = try earlier.addFile(remoteURL: url, localName: nil)
    try earlier.resume()
    try file.connect()
    XCTAssertEqual(try Self.read(file, 0..<4096)?.get(), Array(first[0..<4096]))
    file.close()
    // The same size, other bytes: nothing in a response can tell the two apart.
    let second = TestData.bytes(count: 100_000, seed: 18)
    server.serve(MemoryTransport.Version(bytes: second, etag: nil, lastModified: nil), at: url)
    let later = makeJob(onDemand: true)
    let reopened = try later.addFile(remoteURL: url, localName: nil)
    try later.resume()
    try reopened.connect()
    XCTAssertEqual(reopened.filledRanges, [], "no range of the earlier job is trusted")
    XCTAssertEqual(try Self.read(reopened, 0..<8192)?.get(), Array(second[0..<8192]), "never a block of each")
  }

  func testSetRemoteNameKeepsFilledRangesOnlyForTheSameVersion() throws {
    let bytes = serve(count: 300_000, seed: 19, etag: "\"a\"")
    let mirror = "http://mirror.test/f.bin"
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"a\""), at: mirror)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    try file.connect()
    XCTAssertEqual(try Self.read(file, 0..<4096)?.get(), Array(bytes[0..<4096]))
    try file.setRemoteName(mirror)
    XCTAssertEqual(file.remoteURL, mirror)
    XCTAssertEqual(file.filledRanges, [FileRange(offset: 0, length: 4096)], "the same version keeps its bytes")
    XCTAssertEqual(try Self.read(file, 100_000..<104_096)?.get(), Array(bytes[100_000..<104_096]))
    XCTAssertEqual(server.requests.filter { !MemoryTransport.isProbe($0) }.last?.url, mirror)

    let other = "http://other.test/f.bin"
    let changed = TestData.bytes(count: 200_000, seed: 20)
    server.serve(MemoryTransport.Version(bytes: changed, etag: "\"b\""), at: other)
    try file.setRemoteName(other)
    XCTAssertEqual(file.filledRanges, [], "another version drops what was filled")
    XCTAssertEqual(file.version?.size, 200_000)
    XCTAssertEqual(try Self.read(file, 0..<4096)?.get(), Array(changed[0..<4096]))
    XCTAssertThrowsError(try file.setRemoteName("ftp://other.test/f.bin"))
  }

  func testTheSameURLTwiceInOneProcessIsRefused() throws {
    serve(count: 1000, seed: 14, etag: "\"a\"")
    let job = makeJob()
    try job.addFile(remoteURL: url, localName: directory.appendingPathComponent("a").path)
    XCTAssertThrowsError(try makeJob().addFile(remoteURL: url, localName: directory.appendingPathComponent("b").path)) {
      XCTAssertEqual(($0 as? BitsError)?.code, .accessDenied)
    }
  }
}
