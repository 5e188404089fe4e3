import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Redirects: a request's own headers (credentials, often) go to the origin asked and nowhere
/// else unless configured, never in clear after https; a redirect from https to http is refused
/// unless configured.
final class RedirectTests: EngineTestCase {
  var root: URL!
  var bytes: [UInt8] = []
  /// Where redirects lead: another port, so another origin.
  var elsewhere: HeaderServer!
  private let credentials = [
    HTTPHeader(name: "X-Api-Key", value: "key-sekrit"), HTTPHeader(name: "Authorization", value: "Bearer sekrit"),
    HTTPHeader(name: "Cookie", value: "session=sekrit"),
  ]

  override func setUpWithError() throws {
    try super.setUpWithError()
    root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    bytes = try TestData.write(count: 300_000, seed: 11, to: root.appendingPathComponent("f.bin"))
    elsewhere = try HeaderServer(root: root)
  }

  override func tearDown() {
    elsewhere?.stop()
    super.tearDown()
  }

  /// Fetches `url` whole with the credentials and returns the settled job.
  private func fetch(_ url: String, client: HTTPClient? = nil) throws -> DownloadJob {
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: client ?? self.client,
      configuration: {
        var configuration = JobConfiguration()
        configuration.headers = credentials
        configuration.retryPeriod = .seconds(2)
        configuration.maximumRequestSize = 100_000
        return configuration
      }())
    try job.addFile(remoteURL: url, localName: localPath("out.bin"))
    _ = try settle(job, timeout: .seconds(20))
    return job
  }

  private func assertDelivered(_ job: DownloadJob, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(job.currentState, .transferred, "\(String(describing: job.error))", file: file, line: line)
    try job.complete()
    let delivered = Array(try Data(contentsOf: URL(fileURLWithPath: localPath("out.bin"))))
    XCTAssertTrue(delivered == bytes, "delivered bytes differ", file: file, line: line)
  }

  private func leaked(to server: HeaderServer) -> [String] {
    server.requests().flatMap { request in
      ["x-api-key", "authorization", "cookie"].filter { request.headers[$0] != nil }.map { "\(request.path): \($0)" }
    }
  }

  func testHeadersGoOnlyToTheOriginAsked() throws {
    let origin = try HeaderServer(root: root)
    defer { origin.stop() }
    try assertDelivered(try fetch(origin.redirectURL(to: elsewhere.url("f.bin"))))
    XCTAssertGreaterThan(elsewhere.requests().count, 1, "the probe and the ranges went to the redirect's target")
    XCTAssertEqual(leaked(to: elsewhere), [], "no credential reached another port")
    XCTAssertTrue(origin.requests().allSatisfy { $0.headers["x-api-key"] == "key-sekrit" }, "the origin got them")
  }

  func testHeadersFollowARedirectWithinTheOrigin() throws {
    let nginx = try NginxServer()
    defer { nginx.stop() }
    try FileManager.default.copyItem(
      at: root.appendingPathComponent("f.bin"), to: nginx.root.appendingPathComponent("f.bin"))
    // /moved/auth/f.bin redirects to /auth/f.bin, which wants the Authorization header.
    try assertDelivered(try fetch(nginx.url("moved/auth/f.bin")))
    XCTAssertTrue(nginx.requests().contains { $0.path == "/auth/f.bin" && $0.status == 206 })
  }

  func testHeadersGoAcrossOriginsWhenConfigured() throws {
    let origin = try HeaderServer(root: root)
    defer { origin.stop() }
    var configuration = HTTPConfiguration()
    configuration.sendsHeadersAcrossOrigins = true
    let trusting = HTTPClient(configuration: configuration)
    defer { trusting.shutdown() }
    try assertDelivered(try fetch(origin.redirectURL(to: elsewhere.url("f.bin")), client: trusting))
    XCTAssertFalse(elsewhere.requests().isEmpty)
    XCTAssertTrue(elsewhere.requests().allSatisfy { $0.headers["x-api-key"] == "key-sekrit" })
  }

  func testRedirectFromHTTPSToHTTPIsRefused() throws {
    let authority = try TestCertificateAuthority(directory: directory.appendingPathComponent("ca"))
    let secure = try HeaderServer(root: root, certificate: authority.issue("server", subjectAltName: "IP:127.0.0.1"))
    defer { secure.stop() }
    var configuration = HTTPConfiguration()
    configuration.certificateAuthorityPath = authority.certificatePath
    let verifying = HTTPClient(configuration: configuration)
    defer { verifying.shutdown() }

    let job = try fetch(secure.redirectURL(to: elsewhere.url("f.bin")), client: verifying)
    XCTAssertEqual(job.currentState, .error)
    XCTAssertEqual(job.error?.code, .invalidServerResponse, "\(String(describing: job.error))")
    XCTAssertTrue(job.error?.message.contains("from https to http") ?? false, "\(String(describing: job.error))")
    XCTAssertEqual(elsewhere.requests().count, 0, "nothing went out in clear")
    XCTAssertEqual(secure.requests().count, 1, "a refusal is not retried")
  }

  func testNoHeaderGoesOutInClearEvenWhenTheDowngradeIsAllowed() throws {
    let authority = try TestCertificateAuthority(directory: directory.appendingPathComponent("ca"))
    let secure = try HeaderServer(root: root, certificate: authority.issue("server", subjectAltName: "IP:127.0.0.1"))
    defer { secure.stop() }
    var configuration = HTTPConfiguration()
    configuration.certificateAuthorityPath = authority.certificatePath
    configuration.followsRedirectsToHTTP = true
    configuration.sendsHeadersAcrossOrigins = true
    let permissive = HTTPClient(configuration: configuration)
    defer { permissive.shutdown() }
    // Back to the https server after the downgrade: still without the headers.
    let back = secure.redirectURL(to: elsewhere.redirectURL(to: secure.url("f.bin")))
    try assertDelivered(try fetch(back, client: permissive))
    XCTAssertFalse(elsewhere.requests().isEmpty)
    XCTAssertEqual(leaked(to: elsewhere), [])
    XCTAssertEqual(leaked(to: secure).filter { $0.hasPrefix("/files/") }, [], "not even back on https")
  }

  func testTheFinalURLReachesTheReceiver() throws {
    let origin = try HeaderServer(root: root)
    defer { origin.stop() }
    let receiver = HeadRecorder()
    client.start(HTTPRequest(url: origin.redirectURL(to: elsewhere.url("f.bin")), range: 0..<1), receiver: receiver)
    XCTAssertEqual(receiver.waitForHead()?.finalURL, elsewhere.url("f.bin"))
  }
}

/// Keeps the head a transfer received.
private final class HeadRecorder: HTTPTransferReceiver {
  private let head = Mutex<HTTPResponseHead?>(nil)
  private let finished = DispatchSemaphore(value: 0)

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    self.head.withLock { $0 = head }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict { .proceed }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    finished.signal()
  }

  func waitForHead() -> HTTPResponseHead? {
    _ = finished.wait(timeout: .now() + 10)
    return head.withLock { $0 }
  }
}
