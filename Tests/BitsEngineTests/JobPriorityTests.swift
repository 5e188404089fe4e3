import BitsEngine
import Foundation
import TestSupport
import XCTest

/// Priorities across the files of one job, over the in-memory transport: background fill yields
/// to readers anywhere in the job, is bounded across files, and the more urgent fill goes first.
final class JobPriorityTests: XCTestCase {
  var directory: URL!
  var server: MemoryTransport!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-priority-\(UUID().uuidString)")
    server = MemoryTransport(stallTimeout: .milliseconds(400))
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private func makeJob(maximumBackground: Int = 8) -> DownloadJob {
    var configuration = JobConfiguration()
    configuration.isOnDemand = true
    configuration.initialRetryDelay = .milliseconds(20)
    configuration.maximumRetryDelay = .milliseconds(40)
    configuration.maximumRequestSize = 256 << 10
    configuration.maximumBackgroundRequests = maximumBackground
    return DownloadJob(displayName: name, cacheDirectory: directory, transport: server, configuration: configuration)
  }

  private func add(_ name: String, count: Int, to job: DownloadJob) throws -> (DownloadFile, String, [UInt8]) {
    let url = "http://memory.test/\(name)"
    let bytes = TestData.bytes(count: count, seed: UInt64(count))
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"\(name)\""), at: url)
    let file = try job.addFile(remoteURL: url, localName: nil)
    return (file, url, bytes)
  }

  private func whole(_ file: DownloadFile) -> [FileRange] {
    [FileRange(offset: 0, length: file.version!.size)]
  }

  func testBackgroundFillWaitsWhileAReaderOfAnotherFileWaits() throws {
    let job = makeJob()
    let (fill, fillURL, fillBytes) = try add("fill.bin", count: 2 << 20, to: job)
    let (read, readURL, readBytes) = try add("read.bin", count: 1 << 20, to: job)
    try job.resume()
    try fill.connect()
    try read.connect()
    // The reader's request stalls: in flight until the stall timeout ends it, then retried.
    server.inject(.stall(after: 0), at: readURL)
    let reading = DispatchQueue.global()
    let answer = DispatchSemaphore(value: 0)
    reading.async {
      XCTAssertEqual(
        try? MemoryEngineTests.read(read, 0..<4096, timeout: .seconds(5))?.get(), Array(readBytes[0..<4096]))
      answer.signal()
    }
    XCTAssertTrue(waitUntil(timeout: 5) { !self.server.dataRanges(of: readURL).isEmpty })
    try fill.requestFileRanges(whole(fill), priority: .low)
    // Admission decides as the fill asks; whatever it started has been answered by now.
    job.waitForQueuedWork()
    server.waitForAnswers()
    XCTAssertEqual(server.dataRanges(of: fillURL), [], "no fill while a reader's request is in flight")
    XCTAssertEqual(answer.wait(timeout: .now() + 10), .success)
    XCTAssertTrue(waitUntil(timeout: 10) { fill.statistics.filledBytes == UInt64(fillBytes.count) })
    XCTAssertEqual(try MemoryEngineTests.read(fill, 0..<UInt64(fillBytes.count))?.get(), fillBytes)
  }

  func testTheMoreUrgentFillGoesFirstAcrossFiles() throws {
    let job = makeJob(maximumBackground: 1)
    let (low, lowURL, _) = try add("low.bin", count: 2 << 20, to: job)
    let (normal, normalURL, _) = try add("normal.bin", count: 1 << 20, to: job)
    let (read, readURL, _) = try add("read.bin", count: 1 << 20, to: job)
    try job.resume()
    for file in [low, normal, read] { try file.connect() }
    // Both fills ask while a reader's request is in flight (stalled): neither starts until it
    // ends, and then the normal one has all the room until it is done.
    server.inject(.stall(after: 0), at: readURL)
    let reading = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      _ = MemoryEngineTests.read(read, 0..<4096, timeout: .seconds(5))
      reading.signal()
    }
    XCTAssertTrue(waitUntil(timeout: 5) { !self.server.dataRanges(of: readURL).isEmpty })
    try low.requestFileRanges(whole(low), priority: .low)
    try normal.requestFileRanges(whole(normal), priority: .normal)
    XCTAssertEqual(reading.wait(timeout: .now() + 10), .success)
    XCTAssertTrue(
      waitUntil(timeout: 10) {
        low.statistics.filledBytes == 2 << 20 && normal.statistics.filledBytes == 1 << 20
      })
    let order = server.requests.filter { !MemoryTransport.isProbe($0) && $0.url != readURL }.map(\.url)
    let lastNormal = try XCTUnwrap(order.lastIndex(of: normalURL))
    XCTAssertFalse(order[..<lastNormal].contains(lowURL), "\(order)")
    XCTAssertEqual(order.count, 12, "every piece once")
  }

  func testFillAsksAsBackgroundWorkAndReadersAndReadAheadDoNot() throws {
    let job = makeJob()
    let (file, url, _) = try add("f.bin", count: 1 << 20, to: job)
    try job.resume()
    try file.connect()
    _ = try MemoryEngineTests.read(file, 0..<4096)?.get()
    file.prefetch(256 << 10..<512 << 10)
    XCTAssertTrue(waitUntil(timeout: 5) { file.statistics.filledBytes >= 256 << 10 })
    try file.requestFileRanges(whole(file), priority: .normal)
    XCTAssertTrue(waitUntil(timeout: 10) { file.statistics.filledBytes == 1 << 20 })
    let requests = server.requests.filter { $0.url == url && !MemoryTransport.isProbe($0) }
    let fill = requests.filter(\.isBackground).compactMap(\.range)
    let others = requests.filter { !$0.isBackground }.compactMap(\.range)
    XCTAssertEqual(others.first?.lowerBound, 0, "the reader's request: \(others)")
    XCTAssertTrue(others.contains { $0.lowerBound == 256 << 10 }, "the read-ahead's request: \(others)")
    XCTAssertFalse(fill.isEmpty, "no fill request was background work")
    XCTAssertTrue(fill.allSatisfy { $0.lowerBound >= 512 << 10 || $0.upperBound <= 256 << 10 }, "\(fill)")
  }

  func testAReaderOfBytesFillHasInFlightIsAnsweredByItsOwnRequestAndTheFillGoesOn() throws {
    // Stalled requests end after 5 s, well past the read's 2 s.
    server = MemoryTransport(stallTimeout: .seconds(5))
    let job = makeJob()
    let (file, url, bytes) = try add("f.bin", count: 1 << 20, to: job)
    try job.resume()
    try file.connect()
    server.inject(.stall(after: 1000), at: url)
    try file.requestFileRanges(whole(file), priority: .low)
    XCTAssertTrue(server.waitForRequest(timeout: .seconds(5)) { $0.url == url && $0.range?.lowerBound == 0 })
    XCTAssertEqual(
      try MemoryEngineTests.read(file, 100_000..<104_096, timeout: .seconds(2))?.get(), Array(bytes[100_000..<104_096]),
      "the reader waited for the stalled fill")
    XCTAssertTrue(waitUntil(timeout: 10) { file.statistics.filledBytes == 1 << 20 }, "the fill did not go on")
    XCTAssertEqual(try MemoryEngineTests.read(file, 0..<(1 << 20))?.get(), bytes)
    let ranges = server.dataRanges(of: url)
    let asked = ranges.reduce(0) { $0 + $1.count }
    XCTAssertLessThanOrEqual(asked, (1 << 20) + (256 << 10), "the preempted request's bytes, at most, twice: \(ranges)")
  }
}
