import BitsMount
import Foundation
import TestSupport
import XCTest

/// Credentials stay in memory, the cache stays private, and TLS is verified unless told otherwise.
final class MountSecurityTests: MountTestCase {
  private let secret = "sekrit"

  /// Every file and directory under `directory`.
  private func contents(of directory: URL) -> [URL] {
    let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
    var found: [URL] = []
    while let url = enumerator?.nextObject() as? URL { found.append(url) }
    return found
  }

  private func filesContaining(_ text: String, under directory: URL) -> [String] {
    contents(of: directory).filter { url in
      (try? Data(contentsOf: url)).map { $0.range(of: Data(text.utf8)) != nil } ?? false
    }.map(\.path)
  }

  func testCredentialsNeverReachLogsStatusAttributesCommandLinesOrTheCache() throws {
    let bytes = try serve("s.bin", count: 3 << 20)
    let mountPoint = try mount(
      [nginx.url("auth/s.bin")], options: ["--header", "Authorization: Bearer \(secret)", "--debug"])
    XCTAssertEqual(
      try read(mountPoint + "/s.bin", offset: 1 << 20, count: 4096), Array(bytes[(1 << 20)..<(1 << 20) + 4096]))

    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint))
    let commandLine = try String(
      decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), as: UTF8.self)
    XCTAssertTrue(commandLine.contains("auth/s.bin"))
    XCTAssertFalse(commandLine.contains(secret), "the daemon's command line shows the header: \(commandLine)")
    let status = try bitsfs(["status", mountPoint])
    XCTAssertEqual(status.status, 0, status.error)
    let attributes = try runCommand("/usr/bin/getfattr", ["-d", "-m", "-", mountPoint + "/s.bin"])
    XCTAssertTrue(attributes.output.contains("user.bitsfs.url"), attributes.output + attributes.error)
    for text in [status.output, status.error, attributes.output] {
      XCTAssertFalse(text.contains(secret), text)
    }
    try unmount(mountPoint)

    let log = try String(contentsOf: cacheDirectory.appendingPathComponent("bitsfs.log"), encoding: .utf8)
    XCTAssertTrue(log.contains("auth/s.bin"), "the debug log records requests: \(log)")
    XCTAssertEqual(filesContaining(secret, under: cacheDirectory), [])

    // A fetch that fails leaves its job directory behind for a resume: no credential in it either.
    let failed = try bitsfs([
      "fetch", nginx.url("auth/missing.bin"), workDirectory.appendingPathComponent("out.bin").path,
      "--header", "Authorization: Bearer \(secret)",
    ])
    XCTAssertEqual(failed.status, 1)
    XCTAssertTrue(failed.error.contains("BG_E_HTTP_ERROR_404"), failed.error)
    XCTAssertFalse(failed.error.contains(secret) || failed.output.contains(secret))
    XCTAssertEqual(filesContaining(secret, under: workDirectory), [])
  }

  func testCacheDirectoryAndFilesArePrivate() throws {
    try serve("p.bin", count: 1 << 20)
    let mountPoint = try mount([nginx.url("p.bin")])
    _ = try read(mountPoint + "/p.bin", offset: 0, count: 4096)
    let table = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
    let line = try XCTUnwrap(table.split(separator: "\n").first { $0.contains(" \(mountPoint) ") })
    XCTAssertFalse(line.contains("allow_other"), "other users are kept out unless asked: \(line)")
    try unmount(mountPoint)
    let entries = contents(of: cacheDirectory)
    for url in entries {
      var info = stat()
      XCTAssertEqual(lstat(url.path, &info), 0)
      XCTAssertEqual(info.st_mode & 0o077, 0, "\(url.path) is open to others: \(String(info.st_mode, radix: 8))")
    }
    var top = stat()
    XCTAssertEqual(stat(cacheDirectory.path, &top), 0)
    XCTAssertEqual(top.st_mode & 0o777, 0o700)
    XCTAssertGreaterThan(entries.count, 3, "the cache holds a data file, a journal and metadata")
  }

  func testHeadersWithLineBreaksAreRefusedBeforeAnyRequest() throws {
    try serve("h.bin", count: 100)
    for header in ["X-A: b\r\nX-Evil: c", "X-A: b\nX-Evil: c", "X-A: b\rc", "Bad Name: x", ": x"] {
      let mountPoint = try makeMountPoint("h\(header.count)")
      let result = try bitsfs(["mount", nginx.url("h.bin"), mountPoint, "--header", header])
      XCTAssertEqual(result.status, 2, "\(header.debugDescription): \(result.error)")
      XCTAssertTrue(result.error.contains("E_INVALIDARG"), result.error)
      XCTAssertFalse(MountTable.isMountPoint(mountPoint))
    }
    XCTAssertEqual(nginx.requests().count, 0)
  }

  func testSelfSignedServerIsRefusedUnlessItsCertificateIsGivenOrVerificationIsOff() throws {
    let tls = try NginxServer(tls: true)
    defer { tls.stop() }
    let bytes = try TestData.write(count: 1 << 20, seed: 9, to: tls.root.appendingPathComponent("t.bin"))

    let refused = try makeMountPoint("refused")
    let result = try bitsfs(["mount", tls.url("t.bin"), refused, "--cache-dir", cacheDirectory.path])
    XCTAssertEqual(result.status, 1)
    XCTAssertTrue(result.error.contains("ERROR_INTERNET_INVALID_CA"), result.error)
    XCTAssertTrue(result.error.contains("--ca-cert"), "the message names the way out: \(result.error)")
    XCTAssertFalse(MountTable.isMountPoint(refused))

    let missing = try bitsfs(["mount", tls.url("t.bin"), refused, "--ca-cert", "/nonexistent.pem"])
    XCTAssertEqual(missing.status, 2, missing.error)
    XCTAssertTrue(missing.error.contains("--ca-cert"), missing.error)

    let trusted = try mount([tls.url("t.bin")], options: ["--ca-cert", tls.certificatePath])
    XCTAssertEqual(try read(trusted + "/t.bin", offset: 0, count: bytes.count), bytes)
    try unmount(trusted)

    let output = workDirectory.appendingPathComponent("t.bin")
    let insecure = try bitsfs(["fetch", tls.url("t.bin"), output.path, "--insecure", "--quiet"])
    XCTAssertEqual(insecure.status, 0, insecure.error)
    XCTAssertEqual(Array(try Data(contentsOf: output)), bytes)
  }
}
