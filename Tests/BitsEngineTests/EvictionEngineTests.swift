import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Eviction through the engine over the in-memory transport: reads of more than the limit stay
/// right, the cache stays within it, a reopen trusts only right bytes, and bytes a reader is
/// being answered from stay.
final class EvictionEngineTests: XCTestCase {
  var directory: URL!
  var server: MemoryTransport!
  let url = "http://memory.test/f.bin"
  let unit: UInt64 = 64 << 10
  let limit: UInt64 = 1 << 20

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-eviction-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    server = MemoryTransport(stallTimeout: .milliseconds(200))
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private var cache: URL { directory.appendingPathComponent("cache") }

  private func makeJob(onDemand: Bool = true, limit: UInt64? = nil) -> DownloadJob {
    var configuration = JobConfiguration()
    configuration.isOnDemand = onDemand
    configuration.retryPeriod = .seconds(10)
    configuration.cacheLimits = CacheLimits(maximumBytes: limit ?? self.limit, minimumFreeBytes: 0, evictionUnit: unit)
    return DownloadJob(displayName: name, cacheDirectory: cache, transport: server, configuration: configuration)
  }

  private func connectedFile(_ job: DownloadJob) throws -> DownloadFile {
    let file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(10)), .transferred)
    return file
  }

  /// Waits for a read and returns what it answered, bytes still in place (bounded).
  private func filledBytes(_ file: DownloadFile, _ range: Range<UInt64>) -> Result<FilledBytes, BitsError>? {
    let answer = Mutex<Result<FilledBytes, BitsError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    file.read(range, alignment: unit, timeout: .seconds(5)) { result in
      answer.withLock { $0 = result }
      done.signal()
    }
    guard done.wait(timeout: .now() + 10) == .success else { return nil }
    return answer.withLock { $0 }
  }

  func testReadsOfMoreThanTheLimitStayRightAndTheCacheWithinIt() throws {
    let bytes = TestData.bytes(count: 4 << 20, seed: 11)
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"a\""), at: url)
    var generator = SplitMix64(seed: 5)
    var largest: UInt64 = 0
    do {
      let job = makeJob()
      let file = try connectedFile(job)
      for _ in 0..<300 {
        let start = UInt64.random(in: 0..<UInt64(bytes.count - 100_000), using: &generator)
        let range = start..<start + UInt64.random(in: 1...100_000, using: &generator)
        let got = try XCTUnwrap(MemoryEngineTests.read(file, range)).get()
        XCTAssertTrue(got.elementsEqual(bytes[Int(range.lowerBound)..<Int(range.upperBound)]), "bytes at \(range)")
        largest = max(largest, CacheDirectory.diskBytes(of: cache.path, recursive: true))
      }
      XCTAssertGreaterThan(server.dataRanges(of: url).reduce(0) { $0 + $1.count }, Int(limit), "reads refetched")
      for file in job.files { file.close() }
    }
    XCTAssertLessThanOrEqual(largest, limit, "the directory stayed within the limit")
    // A new owner trusts only bytes that are right.
    let file = try connectedFile(makeJob())
    let trusted = file.filledRanges
    XCTAssertFalse(trusted.isEmpty)
    for range in trusted {
      let lower = range.offset
      let got = try XCTUnwrap(MemoryEngineTests.read(file, lower..<lower + range.length)).get()
      XCTAssertTrue(got.elementsEqual(bytes[Int(lower)..<Int(lower + range.length)]), "trusted \(range)")
    }
  }

  func testBytesAReaderIsAnsweredFromAreNotEvictedUnderIt() throws {
    let bytes = TestData.bytes(count: 4 << 20, seed: 12)
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"a\""), at: url)
    let file = try connectedFile(makeJob())
    let held = try XCTUnwrap(filledBytes(file, 0..<unit)).get()
    // Everything else is read twice over while the first answer is not yet sent.
    for start in stride(from: unit, to: UInt64(bytes.count), by: Int(unit)) {
      _ = try XCTUnwrap(MemoryEngineTests.read(file, start..<start + unit)).get()
    }
    XCTAssertTrue(try held.copiedBytes().get() == Array(bytes[0..<Int(unit)]), "the answer's bytes changed")
    XCTAssertTrue(file.filledRanges.contains { $0.offset == 0 }, "the pinned block stayed")
    withExtendedLifetime(held) {}
  }

  func testADownloadThatCannotFitFailsClearly() throws {
    server.serve(MemoryTransport.Version(bytes: TestData.bytes(count: 4 << 20, seed: 13), etag: "\"a\""), at: url)
    let job = makeJob(onDemand: false)
    try job.addFile(remoteURL: url, localName: directory.appendingPathComponent("out").path)
    try job.resume()
    XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(10)), .error)
    XCTAssertEqual(job.error?.code, .diskFull, "\(String(describing: job.error))")
    XCTAssertTrue(job.error?.message.contains("--cache-limit") == true, "\(String(describing: job.error))")
  }
}
