import BitsEngine
import Foundation
import TestSupport
import XCTest

/// Shared set-up for engine tests: a temporary directory, one HTTP client, and jobs over them.
class EngineTestCase: XCTestCase {
  var directory: URL!
  var client: HTTPClient!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var configuration = HTTPConfiguration()
    configuration.stallTimeout = .seconds(2)
    configuration.connectTimeout = .seconds(2)
    client = HTTPClient(configuration: configuration)
  }

  override func tearDown() {
    client?.shutdown()
    try? FileManager.default.removeItem(at: directory)
  }

  func makeJob(
    onDemand: Bool = false, retryPeriod: Duration = .seconds(10),
    configure: (inout JobConfiguration) -> Void = { _ in },
    callbacks: JobCallbacks = JobCallbacks()
  ) -> DownloadJob {
    var configuration = JobConfiguration()
    configuration.isOnDemand = onDemand
    configuration.retryPeriod = retryPeriod
    configuration.initialRetryDelay = .milliseconds(50)
    configuration.maximumRetryDelay = .milliseconds(400)
    configure(&configuration)
    return DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: client,
      configuration: configuration, callbacks: callbacks)
  }

  func localPath(_ name: String) -> String {
    directory.appendingPathComponent(name).path
  }

  /// Runs `job` to a settled state within `timeout` and returns that state.
  func settle(_ job: DownloadJob, timeout: Duration = .seconds(30)) throws -> JobState {
    try job.resume()
    return job.waitUntilSettled(timeout: timeout)
  }

  func assertThrows(
    _ code: BitsErrorCode, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
  ) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
      XCTAssertEqual((error as? BitsError)?.code, code, "\(error)", file: file, line: line)
    }
  }
}
