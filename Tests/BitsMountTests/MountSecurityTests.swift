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
      [nginx.url("auth/s.bin")],
      options: [
        "--header", "Authorization: Bearer \(secret)", "--debug", "--log-file",
        workDirectory.appendingPathComponent("bitsfs.log").path,
      ])
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

    let log = try String(contentsOf: workDirectory.appendingPathComponent("bitsfs.log"), encoding: .utf8)
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

  /// What any user sees in `ps` of a process.
  private func commandLine(of pid: Int32) -> String {
    let data = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
    return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
  }

  /// The processes whose parent is `pid`.
  private func children(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { child in
      // Fields after the command name, which is in parentheses: state, then the parent's pid.
      guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
        let end = stat.range(of: ")", options: .backwards)
      else { return false }
      return stat[end.upperBound...].split(separator: " ").dropFirst().first == "\(pid)"
    }
  }

  func testHeaderValuesNeverShowInACommandLine() throws {
    let bytes = try serve("s.bin", count: 100_000)
    let (mountPoint, foreground) = try mountInForeground(
      [nginx.url("auth/s.bin")], options: ["--header", "Authorization: Bearer \(secret)"])
    XCTAssertEqual(try read(mountPoint + "/s.bin", offset: 0, count: 100), Array(bytes[0..<100]))
    let shown = commandLine(of: foreground.processIdentifier)
    XCTAssertTrue(shown.contains("auth/s.bin"), shown)
    XCTAssertFalse(shown.contains(secret), "a foreground mount shows the header: \(shown)")
    XCTAssertTrue(shown.contains("--header"), "only the value is blanked: \(shown)")

    // While a slow server holds up the check of the URL, both the waiting command and the
    // daemon it forked exist: neither shows the headers, in either spelling of the option.
    let root = workDirectory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try TestData.write(count: 1000, seed: 1, to: root.appendingPathComponent("slow.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    let checking = Process()
    checking.executableURL = URL(fileURLWithPath: Self.binary)
    checking.arguments = [
      "mount", server.url("stall", "slow.bin"), try makeMountPoint("slow"), "--cache-dir", cacheDirectory.path,
      "--header", "Authorization: Bearer \(secret)", "--header=X-Token: \(secret)2", "--stall-timeout", "3",
      "--retry-period", "0",
    ]
    checking.standardError = FileHandle.nullDevice
    try checking.run()
    defer { if checking.isRunning { kill(checking.processIdentifier, SIGKILL) } }
    var daemon: Int32?
    XCTAssertTrue(
      waitUntil(timeout: 10) {
        daemon = children(of: checking.processIdentifier).first
        return daemon != nil && server.requests().count > 0
      }, "the daemon did not start checking the URL")
    for pid in [checking.processIdentifier] + (daemon.map { [$0] } ?? []) {
      let shown = commandLine(of: pid)
      XCTAssertTrue(shown.contains("stall/slow.bin"), "\(pid): \(shown)")
      XCTAssertFalse(shown.contains(secret), "process \(pid) shows a header: \(shown)")
    }
    XCTAssertTrue(waitUntil(timeout: 30) { !checking.isRunning })
    XCTAssertEqual(checking.terminationStatus, 1, "a stalled check fails the mount")
  }

  func testHeadersFromAPrivateFileOrTheEnvironment() throws {
    let bytes = try serve("s.bin", count: 100_000)
    let file = workDirectory.appendingPathComponent("headers")
    try Data("# credentials for the test server\n\nAuthorization: Bearer \(secret)\r\n  X-Other: 1\n".utf8).write(
      to: file)
    XCTAssertEqual(chmod(file.path, 0o640), 0)
    let mountPoint = try makeMountPoint()
    let open = try bitsfs(
      ["mount", nginx.url("auth/s.bin"), mountPoint, "--cache-dir", cacheDirectory.path, "--header-file", file.path])
    XCTAssertEqual(open.status, 2, open.error)
    XCTAssertTrue(open.error.contains("--header-file") && open.error.contains("chmod 600"), open.error)
    XCTAssertFalse(open.error.contains(secret), open.error)
    XCTAssertFalse(MountTable.isMountPoint(mountPoint))
    XCTAssertEqual(nginx.requests().count, 0, "refused before any request")

    XCTAssertEqual(chmod(file.path, 0o600), 0)
    try mount([nginx.url("auth/s.bin")], at: mountPoint, options: ["--header-file", file.path])
    XCTAssertEqual(try read(mountPoint + "/s.bin", offset: 500, count: 100), Array(bytes[500..<600]))
    try unmount(mountPoint)

    let output = workDirectory.appendingPathComponent("out.bin")
    let fetched = try runCommand(
      Self.binary, ["fetch", nginx.url("auth/s.bin"), output.path, "--quiet"],
      environment: ["BITSFS_HEADERS": "X-Other: 1\nAuthorization: Bearer \(secret)"])
    XCTAssertEqual(fetched.status, 0, fetched.error)
    XCTAssertEqual(Array(try Data(contentsOf: output)), bytes)
  }

  /// Whether the kernel lets a process dump core and be traced by its user shows in who owns
  /// its /proc files: the process's own group if so, root's if not. So the mounts run here with
  /// another group.
  func testMountProcessesAreNotDumpableAndServeFromTheRootDirectory() throws {
    try serve("d.bin", count: 1000)
    let group: gid_t = 65534
    func groupOwning(_ pid: Int32) -> gid_t? {
      var info = stat()
      return stat("/proc/\(pid)/environ", &info) == 0 ? info.st_gid : nil
    }
    // Each mount has a cache of its own: two mounts of a URL cannot share one.
    func launch(_ arguments: [String], at mountPoint: String) throws -> Process {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
      process.arguments =
        ["--regid=\(group)", "--clear-groups", Self.binary, "mount"] + arguments
        + [nginx.url("d.bin"), mountPoint, "--cache-dir", mountPoint + "-cache", "-o", "allow_other"]
      process.currentDirectoryURL = workDirectory
      process.standardError = FileHandle.nullDevice
      try process.run()
      return process
    }
    for debug in [false, true] {
      let foregroundMount = try makeMountPoint("fg\(debug)")
      let foreground = try launch(["-f"] + (debug ? ["--debug"] : []), at: foregroundMount)
      defer {
        foreground.terminate()
        foreground.waitUntilExit()
      }
      XCTAssertTrue(waitUntil(timeout: 20) { MountTable.isMountPoint(foregroundMount) })
      let detachedMount = try makeMountPoint("bg\(debug)")
      let detaching = try launch(debug ? ["--debug"] : [], at: detachedMount)
      detaching.waitUntilExit()
      XCTAssertEqual(detaching.terminationStatus, 0)
      let daemon = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: detachedMount).flatMap(Int32.init))
      for pid in [foreground.processIdentifier, daemon] {
        XCTAssertEqual(groupOwning(pid), debug ? group : 0, "dumpable only with --debug: process \(pid)")
        let cwd = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
        XCTAssertEqual(cwd, "/", "process \(pid) holds its start directory busy")
      }
      XCTAssertEqual(try readBytes(detachedMount + "/d.bin", offset: 0, count: 10).count, 10)
      try unmount(detachedMount)
    }
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
    try FileManager.default.removeItem(at: cacheDirectory)
    let unverified = try mount([tls.url("t.bin")], at: trusted, options: ["--insecure"])
    XCTAssertEqual(try read(unverified + "/t.bin", offset: 0, count: bytes.count), bytes)
    try unmount(unverified)

    let output = workDirectory.appendingPathComponent("t.bin")
    let insecure = try bitsfs(["fetch", tls.url("t.bin"), output.path, "--insecure", "--quiet"])
    XCTAssertEqual(insecure.status, 0, insecure.error)
    XCTAssertEqual(Array(try Data(contentsOf: output)), bytes)
  }
}
