import Foundation

/// A certificate authority of one test, and server certificates it signs, made with openssl in
/// `directory`: valid ones, expired ones, ones for another host name.
public struct TestCertificateAuthority {
  public let directory: URL
  /// The authority's own certificate, for clients told to trust it.
  public var certificatePath: String { directory.appendingPathComponent("ca.pem").path }

  public init(directory: URL) throws {
    self.directory = directory
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Self.openssl(
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bitsfs test authority",
        "-keyout", directory.appendingPathComponent("ca.key").path, "-out", certificatePath,
      ])
    try Data().write(to: directory.appendingPathComponent("index.txt"))
    let configuration = """
      [ ca ]
      default_ca = test
      [ test ]
      database = \(directory.appendingPathComponent("index.txt").path)
      new_certs_dir = \(directory.path)
      serial = \(directory.appendingPathComponent("serial").path)
      default_md = sha256
      policy = anything
      copy_extensions = copy
      unique_subject = no
      [ anything ]
      commonName = supplied
      """
    try configuration.write(to: directory.appendingPathComponent("ca.cnf"), atomically: true, encoding: .utf8)
  }

  /// A key and a certificate named `name` for `subjectAltName` (`IP:127.0.0.1`, `DNS:host`),
  /// valid from `start` to `end` (openssl's `YYYYMMDDHHMMSSZ`), by default from now for a day.
  public func issue(
    _ name: String, subjectAltName: String, start: String? = nil, end: String? = nil
  ) throws -> (certificate: String, key: String) {
    let key = directory.appendingPathComponent("\(name).key").path
    let request = directory.appendingPathComponent("\(name).csr").path
    let certificate = directory.appendingPathComponent("\(name).pem").path
    try Self.openssl(
      [
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(subjectAltName.split(separator: ":").last ?? "")",
        "-addext", "subjectAltName=\(subjectAltName)", "-keyout", key, "-out", request,
      ])
    let validity = start.map { ["-startdate", $0, "-enddate", end ?? $0] } ?? ["-days", "1"]
    try Self.openssl(
      [
        "ca", "-batch", "-notext", "-rand_serial", "-config", directory.appendingPathComponent("ca.cnf").path,
        "-cert", certificatePath, "-keyfile", directory.appendingPathComponent("ca.key").path, "-in", request,
        "-out", certificate,
      ] + validity)
    return (certificate, key)
  }

  private static func openssl(_ arguments: [String]) throws {
    let result = try runCommand("/usr/bin/openssl", arguments)
    guard result.status == 0 else { throw OpenSSLFailure(description: "openssl \(arguments[0]): \(result.error)") }
  }
}

struct OpenSSLFailure: Error, CustomStringConvertible {
  var description: String
}
