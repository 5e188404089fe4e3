import BitsEngine
import Foundation
import TestSupport
import XCTest

/// HTTPS: certificates are verified unless verification is turned off, and HTTP/2 is used where
/// the server offers it.
final class TLSTests: EngineTestCase {
  var nginx: NginxServer!

  override func setUpWithError() throws {
    try super.setUpWithError()
    nginx = try NginxServer(tls: true)
  }

  override func tearDown() {
    nginx?.stop()
    super.tearDown()
  }

  func testUntrustedCertificateIsRefusedByDefault() throws {
    try TestData.write(count: 1000, seed: 1, to: nginx.root.appendingPathComponent("tls.bin"))
    let job = makeJob()
    try job.addFile(remoteURL: nginx.url("tls.bin"), localName: localPath("tls.bin"))
    XCTAssertEqual(try settle(job), .error)
    XCTAssertEqual(job.error?.code, .certificateInvalid, "\(String(describing: job.error))")
    XCTAssertEqual(nginx.requests().count, 0, "no request went out over an unverified connection")
  }

  func testHTTP2IsUsedWhenOffered() throws {
    let bytes = try TestData.write(count: 5 << 20, seed: 1, to: nginx.root.appendingPathComponent("tls.bin"))
    var configuration = HTTPConfiguration()
    configuration.verifiesTLS = false
    let insecure = HTTPClient(configuration: configuration)
    defer { insecure.shutdown() }
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: insecure,
      configuration: {
        var job = JobConfiguration()
        job.maximumRequestSize = 1 << 20
        return job
      }())
    try job.addFile(remoteURL: nginx.url("tls.bin"), localName: localPath("tls.bin"))
    XCTAssertEqual(try settle(job), .transferred)
    try job.complete()
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: localPath("tls.bin")))), bytes)
    let protocols = Set(nginx.requests().map(\.protocolVersion))
    XCTAssertEqual(protocols, ["HTTP/2.0"])
  }
}
