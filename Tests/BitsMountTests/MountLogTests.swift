import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// What a mount logs, and where: warnings in syslog with their BITS code, each cause once with
/// a count of its repeats; the log file, standard error in the foreground, and the levels;
/// never a credential.
final class MountLogTests: FaultServerMountTestCase {
  private func serveFaulty(_ name: String, count: Int = 1 << 20) throws -> [UInt8] {
    try TestData.write(count: count, seed: 5, to: faultRoot.appendingPathComponent(name))
  }

  private func assertEIO(_ path: String, offset: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertThrowsError(try read(path, offset: offset, count: 4096), file: file, line: line) { error in
      XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)", file: file, line: line)
    }
  }

  private func logText(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
  }

  func testWarningsReachSyslogWithTheirBITSCodeOncePerCause() throws {
    try requireRoot(for: "receiving syslog at /dev/log")
    let syslog = try SyslogReceiver()
    defer { syslog.stop() }
    _ = try serveFaulty("error.bin")
    let original = try serveFaulty("change.bin", count: 2 << 20)
    let mountPoint = try mount(
      [faultServer.url("fail/1000/500", "error.bin"), faultServer.url("change-after/1", "change.bin")],
      options: ["--retry-period", "1"])
    for _ in 0..<4 { try assertEIO(mountPoint + "/error.bin", offset: 0) }
    // The first data request gets the old version, the next one the new.
    XCTAssertEqual(try read(mountPoint + "/change.bin", offset: 0, count: 4096), Array(original[0..<4096]))
    try assertEIO(mountPoint + "/change.bin", offset: 1 << 20)
    try unmount(mountPoint)
    XCTAssertTrue(
      waitUntil(timeout: 10) { syslog.messages.contains { $0.contains("unmounted") } }, "\(syslog.messages)")

    let messages = syslog.messages
    // <28> is the daemon facility (3) at warning (4); <30> at info (6).
    let serverErrors = messages.filter { $0.contains("a read failed with EIO") && $0.contains("BG_E_HTTP_ERROR_500") }
    XCTAssertEqual(serverErrors.count, 2, "the first, then its repeats in one line: \(messages)")
    XCTAssertTrue(serverErrors.first?.hasPrefix("<28>") ?? false, "\(serverErrors)")
    XCTAssertTrue(serverErrors.first?.contains(" bitsfs[") ?? false, "\(serverErrors)")
    XCTAssertTrue(serverErrors.first?.contains("file=error.bin range=0-") ?? false, "\(serverErrors)")
    XCTAssertTrue(serverErrors.last?.contains("more times") ?? false, "\(serverErrors)")
    let gaveUp = messages.filter { $0.contains("a request failed after retrying for the retry period") }
    XCTAssertTrue(gaveUp.first?.contains("BG_E_HTTP_ERROR_500") ?? false, "\(messages)")
    XCTAssertLessThanOrEqual(gaveUp.count, 2, "the first, then its repeats in one line: \(gaveUp)")
    let changes = messages.filter { $0.contains("the remote file changed:") }
    XCTAssertEqual(changes.count, 1, "\(changes)")
    XCTAssertTrue(changes.first?.contains("BG_E_REMOTE_FILE_CHANGED") ?? false, "\(changes)")
    let changedReads = messages.filter { $0.contains("a read failed with EIO") && $0.contains("file=change.bin") }
    XCTAssertEqual(changedReads.count, 1, "\(messages)")
    XCTAssertTrue(changedReads.first?.contains("BG_E_REMOTE_FILE_CHANGED") ?? false, "\(changedReads)")
    XCTAssertTrue(messages.contains { $0.hasPrefix("<30>") && $0.contains("info: mounted") }, "\(messages)")
  }

  func testTheLogFileHoldsTheLevelsAsked() throws {
    _ = try serve("a.bin", count: 1 << 20)
    let warnings = workDirectory.appendingPathComponent("warning.log").path
    let mountPoint = try mount([nginx.url("a.bin")], options: ["--log-file", warnings, "--log-level", "warning"])
    XCTAssertEqual(try read(mountPoint + "/a.bin", offset: 0, count: 4096).count, 4096)
    try FileManager.default.removeItem(at: nginx.root.appendingPathComponent("a.bin"))
    try assertEIO(mountPoint + "/a.bin", offset: 512 << 10)
    try unmount(mountPoint)
    let warningLog = logText(warnings)
    XCTAssertTrue(warningLog.contains("warning: a read failed with EIO"), warningLog)
    XCTAssertTrue(warningLog.contains("BG_E_HTTP_ERROR_404"), warningLog)
    XCTAssertFalse(warningLog.contains("info:") || warningLog.contains("debug:"), warningLog)

    _ = try serve("b.bin", count: 1 << 20)
    for level in ["debug", "trace"] {
      let path = workDirectory.appendingPathComponent("\(level).log").path
      let again = try mount([nginx.url("b.bin")], at: mountPoint, options: ["--log-file", path, "--log-level", level])
      XCTAssertEqual(try read(again + "/b.bin", offset: 0, count: 4096).count, 4096)
      try unmount(again)
      let log = logText(path)
      XCTAssertTrue(log.contains("info: mounted") && log.contains("info: unmounted"), log)
      XCTAssertTrue(log.contains("debug: GET http://127.0.0.1"), log)
      XCTAssertEqual(log.contains("trace: read"), level == "trace", log)
    }
  }

  func testAForegroundMountLogsToStandardError() throws {
    _ = try serve("f.bin", count: 100_000)
    let mountPoint = try makeMountPoint("foreground")
    let errors = workDirectory.appendingPathComponent("stderr.txt")
    _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.binary)
    process.arguments = ["mount", "-f", nginx.url("f.bin"), mountPoint, "--cache-dir", cacheDirectory.path]
    process.standardError = try FileHandle(forWritingTo: errors)
    try process.run()
    defer {
      if process.isRunning { process.terminate() }
      process.waitUntilExit()
    }
    XCTAssertTrue(waitUntil(timeout: 20) { logText(errors.path).contains("info: mounted") }, logText(errors.path))
    process.terminate()  // SIGTERM unmounts
    XCTAssertTrue(waitUntil(timeout: 20) { !process.isRunning })
    XCTAssertTrue(logText(errors.path).contains("info: unmounted"), logText(errors.path))
  }

  /// Neither a header given with --header nor a URL's query string (a presigned URL's
  /// signature) nor its password reaches any line, at the most verbose level, through
  /// requests, a version change and failures.
  func testNoCredentialReachesTheLog() throws {
    _ = try serve("secret.bin", count: 1 << 20)
    let path = workDirectory.appendingPathComponent("trace.log").path
    let url =
      nginx.url("secret.bin").replacingOccurrences(of: "http://", with: "http://user:PASSWORDSECRET@")
      + "?X-Amz-Signature=QUERYSECRET"
    let mountPoint = try mount(
      [url], options: ["--header", "Authorization: Bearer HEADERSECRET", "--log-file", path, "--log-level", "trace"])
    XCTAssertEqual(try read(mountPoint + "/secret.bin", offset: 0, count: 4096).count, 4096)
    try TestData.write(count: 2 << 20, seed: 9, to: nginx.root.appendingPathComponent("secret.bin"))
    try assertEIO(mountPoint + "/secret.bin", offset: 512 << 10)
    try FileManager.default.removeItem(at: nginx.root.appendingPathComponent("secret.bin"))
    _ = try? read(mountPoint + "/secret.bin", offset: 1 << 20, count: 4096)  // a 404, unless already cached
    try unmount(mountPoint)
    let log = logText(path)
    XCTAssertTrue(log.contains("debug: GET http://127.0.0.1"), log)
    XCTAssertTrue(log.contains("the remote file changed"), log)
    XCTAssertFalse(log.contains("SECRET"), log)
  }
}
