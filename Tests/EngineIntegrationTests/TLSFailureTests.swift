import BitsEngine
import Foundation
import TestSupport
import XCTest

/// A refused certificate is explained by what is wrong with it: an unknown authority (trust it
/// with --ca-cert), an expired certificate, or one made out to another host name (where trusting
/// an authority would not help).
final class TLSFailureTests: EngineTestCase {
  var authority: TestCertificateAuthority!
  var root: URL!

  override func setUpWithError() throws {
    try super.setUpWithError()
    authority = try TestCertificateAuthority(directory: directory.appendingPathComponent("ca"))
    root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try TestData.write(count: 1000, seed: 2, to: root.appendingPathComponent("f.bin"))
  }

  /// The error of fetching f.bin from a server with `certificate`, trusting the test authority
  /// unless `trusting` is false.
  private func error(
    serving certificate: (certificate: String, key: String), trusting: Bool = true
  ) throws -> BitsError? {
    let server = try HeaderServer(root: root, certificate: certificate)
    defer { server.stop() }
    var configuration = HTTPConfiguration()
    configuration.certificateAuthorityPath = trusting ? authority.certificatePath : nil
    let verifying = HTTPClient(configuration: configuration)
    defer { verifying.shutdown() }
    let job = DownloadJob(
      displayName: name, cacheDirectory: directory.appendingPathComponent("cache"), transport: verifying)
    try job.addFile(remoteURL: server.url("f.bin"), localName: localPath("out.bin"))
    _ = try settle(job, timeout: .seconds(20))
    return job.error
  }

  func testAValidCertificateOfTheTrustedAuthorityIsAccepted() throws {
    XCTAssertNil(try error(serving: authority.issue("valid", subjectAltName: "IP:127.0.0.1")))
  }

  func testAnUnknownAuthorityIsToldToBeTrustedWithCACert() throws {
    let failure = try error(serving: authority.issue("valid", subjectAltName: "IP:127.0.0.1"), trusting: false)
    XCTAssertEqual(failure?.code, .certificateInvalid)
    XCTAssertTrue(failure?.message.contains("not signed by a trusted certificate authority") ?? false, "\(failure!)")
    XCTAssertTrue(failure?.message.contains("--ca-cert") ?? false, "\(failure!)")
  }

  func testAnExpiredCertificateIsCalledExpired() throws {
    let expired = try authority.issue(
      "expired", subjectAltName: "IP:127.0.0.1", start: "20200101000000Z", end: "20200201000000Z")
    let failure = try error(serving: expired)
    XCTAssertEqual(failure?.code, .certificateInvalid)
    XCTAssertTrue(failure?.message.contains("has expired") ?? false, "\(String(describing: failure))")
    XCTAssertFalse(failure?.message.contains("--ca-cert") ?? true, "trusting it would not help: \(failure!)")
  }

  func testACertificateNotValidYetSaysSo() throws {
    let future = try authority.issue(
      "future", subjectAltName: "IP:127.0.0.1", start: "20990101000000Z", end: "20990201000000Z")
    let failure = try error(serving: future)
    XCTAssertTrue(failure?.message.contains("not valid yet") ?? false, "\(String(describing: failure))")
  }

  func testACertificateForAnotherHostNameIsCalledThat() throws {
    let failure = try error(serving: authority.issue("other", subjectAltName: "DNS:elsewhere.example"))
    XCTAssertEqual(failure?.code, .certificateInvalid)
    XCTAssertTrue(failure?.message.contains("another host name") ?? false, "\(String(describing: failure))")
    XCTAssertFalse(failure?.message.contains("--ca-cert") ?? true, "trusting it would not help: \(failure!)")
  }
}
