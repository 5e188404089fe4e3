import BitsEngine
import Foundation
import TestSupport
import XCTest

/// Serving the version a cache holds, over the in-memory transport: offline (no request at
/// all), and when the server cannot be reached at connection time (one probe, then the cache,
/// confirmed by a later revalidation).
final class CachedVersionEngineTests: XCTestCase {
  var directory: URL!
  var server: MemoryTransport!
  let url = "http://memory.test/f.bin"
  var bytes: [UInt8] = []

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-cached-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    server = MemoryTransport(stallTimeout: .milliseconds(200))
    bytes = TestData.bytes(count: 1 << 20, seed: 21)
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"a\""), at: url)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private func makeFile(offline: Bool = false, retryPeriod: Duration = .seconds(30)) throws -> DownloadFile {
    var configuration = JobConfiguration()
    configuration.isOnDemand = true
    configuration.isOffline = offline
    configuration.retryPeriod = retryPeriod
    configuration.initialRetryDelay = .milliseconds(20)
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: server,
      configuration: configuration)
    return try job.addFile(remoteURL: url, localName: nil)
  }

  /// A first owner caches the first 64 KiB and lets go.
  private func warm() throws {
    let file = try makeFile()
    try file.connect()
    XCTAssertNotNil(try MemoryEngineTests.read(file, 0..<65536)?.get())
    file.close()
  }

  func testOfflineServesTheCacheWithoutAnyRequestAndFailsTheRestAtOnce() throws {
    try warm()
    let before = server.requests.count
    let file = try makeFile(offline: true)
    XCTAssertEqual(try file.connect().etag, "\"a\"")
    XCTAssertTrue(file.statistics.isVersionUnconfirmed)
    XCTAssertTrue(try MemoryEngineTests.read(file, 100..<4196)?.get() == Array(bytes[100..<4196]))
    let start = ContinuousClock.now
    guard case .failure(let error) = MemoryEngineTests.read(file, 500_000..<500_100) else {
      return XCTFail("an uncached read offline")
    }
    XCTAssertEqual(error.code, .connectFailure)
    XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(500), "at once")
    XCTAssertFalse(file.needsRevalidation(ifOlderThan: .zero), "offline never asks")
    XCTAssertEqual(server.requests.count, before, "no request at all")
    file.close()
  }

  func testOfflineWithNothingCachedFails() throws {
    let file = try makeFile(offline: true)
    XCTAssertThrowsError(try file.connect()) { error in
      XCTAssertEqual((error as? BitsError)?.code, .connectFailure)
    }
    XCTAssertTrue(server.requests.isEmpty)
  }

  func testAnUnreachableServerAtConnectionServesTheCacheUntilARevalidationConfirmsIt() throws {
    try warm()
    server.inject(.status(503), at: url, target: .probe, count: 1)
    let file = try makeFile()
    let start = ContinuousClock.now
    XCTAssertEqual(try file.connect().etag, "\"a\"")
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "one probe, not the retry period")
    XCTAssertTrue(file.statistics.isVersionUnconfirmed)
    XCTAssertEqual(file.filledRanges.first?.length, 65536, "the cached bytes are kept")
    // Opens within the hold serve the cache; past it, a revalidation confirms the version.
    XCTAssertFalse(file.needsRevalidation(ifOlderThan: .seconds(1)))
    Thread.sleep(forTimeInterval: 1.1)
    let confirmed = DispatchSemaphore(value: 0)
    file.revalidate(ifOlderThan: .seconds(1)) { confirmed.signal() }
    XCTAssertEqual(confirmed.wait(timeout: .now() + 10), .success)
    XCTAssertFalse(file.statistics.isVersionUnconfirmed)
    XCTAssertEqual(file.filledRanges.first?.length, 65536, "still kept")
    file.close()
  }

  func testAPermanentAnswerAtConnectionIsNotCoveredByTheCache() throws {
    try warm()
    server.inject(.status(404), at: url, target: .probe, count: 1)
    XCTAssertThrowsError(try makeFile().connect())
  }
}
