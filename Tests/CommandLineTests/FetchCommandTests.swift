import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// `bitsfs fetch` as a user runs it: exit statuses, messages, resuming after kill -9 and Ctrl-C,
/// and never a half-written destination.
final class FetchCommandTests: XCTestCase {
  var nginx: NginxServer!
  var directory: URL!

  override func setUpWithError() throws {
    try requireBitsfsBinary()
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    nginx = try NginxServer()
  }

  override func tearDown() {
    nginx?.stop()
    if let directory {
      _ = try? runCommand("/bin/umount", [directory.appendingPathComponent("tiny").path], timeout: 10)
      try? FileManager.default.removeItem(at: directory)
    }
  }

  private func fetch(_ arguments: [String]) throws -> CommandResult {
    try runCommand(bitsfsBinary, ["fetch"] + arguments, timeout: 60)
  }

  private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func testAFileLargerThanTheCacheLimitFailsClearlyAndOneWithinItArrives() throws {
    let bytes = try TestData.write(count: 3 << 20, seed: 9, to: nginx.root.appendingPathComponent("f.bin"))
    let refused = try fetch([nginx.url("f.bin"), path("big.bin"), "--cache-limit", "1M", "--quiet"])
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(refused.error.contains("ERROR_DISK_FULL"), refused.error)
    XCTAssertTrue(refused.error.contains("--cache-limit 1048576 bytes"), refused.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("big.bin")), "nothing delivered")
    let fetched = try fetch([nginx.url("f.bin"), path("fits.bin"), "--cache-limit", "8M", "--quiet"])
    XCTAssertEqual(fetched.status, 0, fetched.error)
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path("fits.bin")))), bytes)
  }

  func testWholeFileAndRanges() throws {
    let bytes = try TestData.write(count: 3 << 20, seed: 4, to: nginx.root.appendingPathComponent("f.bin"))
    let whole = try fetch([nginx.url("f.bin"), path("whole.bin")])
    XCTAssertEqual(whole.status, 0, whole.error)
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path("whole.bin")))), bytes)
    XCTAssertTrue(whole.error.contains("transferred"), "plain progress lines when not a terminal: \(whole.error)")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["whole.bin"], "no leftovers")

    let ranged = try fetch([
      nginx.url("f.bin"), path("ranged.bin"), "--range", "100:100", "--range", "900:100", "--range", "400:100",
      "--range", "\(bytes.count - 5):eof", "--quiet",
    ])
    XCTAssertEqual(ranged.status, 0, ranged.error)
    XCTAssertEqual(ranged.error, "", "--quiet prints nothing")
    let expected = Array(bytes[100..<200] + bytes[900..<1000] + bytes[400..<500] + bytes[(bytes.count - 5)...])
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path("ranged.bin")))), expected)
  }

  func testBadArgumentsExitWithStatusTwo() throws {
    try TestData.write(count: 1000, seed: 4, to: nginx.root.appendingPathComponent("f.bin"))
    let cases: [([String], String)] = [
      (["--range", "0:100", "--range", "50:10"], "BG_E_OVERLAPPING_RANGES"),
      (["--range", "100:5", "--range", "100:0"], "BG_E_OVERLAPPING_RANGES"),
      (["--range", "nonsense"], "E_INVALIDARG"),
      (["--range", "18446744073709551615:5"], "BG_E_INVALID_RANGE"),
      // BG_LENGTH_TO_EOF as an offset is a range AddFileWithRanges refuses, not a parse error.
      (["--range", "eof:10"], "BG_E_INVALID_RANGE"),
      (["--range", "EOF:eof"], "BG_E_INVALID_RANGE"),
      (["--range", "990:20"], "BG_E_INVALID_RANGE"),
      (["--range", "0:1", "--range", "5:1", "--max-ranges", "1"], "BG_E_TOO_MANY_RANGES_IN_FILE"),
    ]
    for (arguments, code) in cases {
      let result = try fetch([nginx.url("f.bin"), path("out.bin")] + arguments)
      XCTAssertEqual(result.status, 2, "\(arguments): \(result.error)")
      XCTAssertTrue(result.error.contains(code), "\(arguments): \(result.error)")
    }
    let scheme = try fetch(["ftp://127.0.0.1/f.bin", path("out.bin")])
    XCTAssertEqual(scheme.status, 2)
    XCTAssertTrue(scheme.error.contains("E_INVALIDARG"), scheme.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.bin")))
  }

  func testTransferFailuresExitWithStatusOneAndLeaveTheDestinationAlone() throws {
    try Data("old contents".utf8).write(to: URL(fileURLWithPath: path("keep.bin")))
    let missing = try fetch([nginx.url("missing.bin"), path("keep.bin")])
    XCTAssertEqual(missing.status, 1)
    XCTAssertTrue(missing.error.contains("BG_E_HTTP_ERROR_404"), missing.error)
    XCTAssertEqual(try String(contentsOfFile: path("keep.bin"), encoding: .utf8), "old contents")

    let unreachable = try fetch(["http://127.0.0.1:9/f.bin", path("keep.bin"), "--retry-period", "1"])
    XCTAssertEqual(unreachable.status, 1)
    XCTAssertTrue(unreachable.error.contains("BG_E_CONNECT_FAILURE"), unreachable.error)
    XCTAssertEqual(try String(contentsOfFile: path("keep.bin"), encoding: .utf8), "old contents")
  }

  /// A server that gives no size, or ignores ranges, is refused for a resumable job and served
  /// as dynamic content with --dynamic: whole, in one request, nothing left behind.
  func testDynamicContentIsFetchedWholeOnlyWhenAskedFor() throws {
    let root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let bytes = try TestData.write(count: 2 << 20, seed: 9, to: root.appendingPathComponent("d.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    for (fault, code) in [("no-length", "BG_E_MISSING_FILE_SIZE"), ("ignore-range", "BG_E_INSUFFICIENT_RANGE_SUPPORT")]
    {
      let refused = try fetch([server.url(fault, "d.bin"), path("\(fault).bin"), "--quiet"])
      XCTAssertEqual(refused.status, 1, "\(fault): \(refused.error)")
      XCTAssertTrue(refused.error.contains(code), "\(fault): \(refused.error)")
      let before = server.requests().count
      let dynamic = try fetch([server.url(fault, "d.bin"), path("\(fault).bin"), "--dynamic"])
      XCTAssertEqual(dynamic.status, 0, "\(fault): \(dynamic.error)")
      XCTAssertTrue(dynamic.error.contains("without resume"), dynamic.error)
      XCTAssertTrue(Array(try Data(contentsOf: URL(fileURLWithPath: path("\(fault).bin")))) == bytes, fault)
      let asked = server.requests().dropFirst(before)
      XCTAssertEqual(asked.count, 1, "\(fault): one request")
      XCTAssertNil(asked.first?.range, "\(fault): no Range asked")
    }
    // A short answer is an error, and nothing stays behind.
    let short = try fetch([server.url("short-body/1000", "d.bin"), path("short.bin"), "--dynamic", "--quiet"])
    XCTAssertEqual(short.status, 1, short.error)
    XCTAssertTrue(short.error.contains("run again to start over"), short.error)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(),
      ["ignore-range.bin", "no-length.bin", "www"], "no partial file")
    let ranged = try fetch([server.url("plain", "d.bin"), path("r.bin"), "--dynamic", "--range", "0:10"])
    XCTAssertEqual(ranged.status, 2, ranged.error)
  }

  /// An errno the engine has no BITS code for, here EFBIG for a file larger than the local file
  /// system holds, is a local failure (status 1), not a bad argument.
  func testUnexpectedLocalErrorsExitWithStatusOne() throws {
    let root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try TestData.write(count: 1000, seed: 4, to: root.appendingPathComponent("f.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    for ranges in [[], ["--range", "0:100"]] {
      let result = try fetch([server.url("huge-size", "f.bin"), path("huge.bin"), "--quiet"] + ranges)
      XCTAssertEqual(result.status, 1, "\(ranges): \(result.error)")
      XCTAssertTrue(result.error.contains("E_FAIL") && result.error.contains("File too large"), result.error)
      XCTAssertFalse(FileManager.default.fileExists(atPath: path("huge.bin")))
    }
  }

  /// A fetch killed with SIGKILL, or interrupted with SIGINT or SIGTERM, resumes: the second run
  /// asks only for what the first did not get, and the result is byte-identical.
  func testInterruptedFetchResumes() throws {
    let root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let bytes = try TestData.write(count: 6 << 20, seed: 8, to: root.appendingPathComponent("slow.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    let url = server.url("slow/1000000", "slow.bin")
    let journal = directory.appendingPathComponent(".resumed.bin.bitsfs")

    for signal in [SIGKILL, SIGINT, SIGTERM] {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: bitsfsBinary)
      process.arguments = ["fetch", url, path("resumed.bin"), "--quiet"]
      process.standardError = FileHandle.nullDevice
      try process.run()
      // Wait until this run has journalled more filled ranges, then interrupt.
      let before = CacheJournal.journalledBytes(under: journal)
      XCTAssertTrue(waitUntil(timeout: 20) { CacheJournal.journalledBytes(under: journal) > before })
      kill(process.processIdentifier, signal)
      process.waitUntilExit()
      XCTAssertEqual(process.terminationStatus, signal == SIGKILL ? SIGKILL : 128 + signal)
      XCTAssertFalse(FileManager.default.fileExists(atPath: path("resumed.bin")), "no partial destination")
    }
    let kept = CacheJournal.journalledBytes(under: journal)
    XCTAssertGreaterThan(kept, 0)
    server.reset()
    let earlierRequests = server.requests().count
    let resumed = try fetch([url, path("resumed.bin"), "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.error)
    XCTAssertTrue(Array(try Data(contentsOf: URL(fileURLWithPath: path("resumed.bin")))) == bytes)
    let asked = server.requests().dropFirst(earlierRequests).compactMap(\.range).filter { $0 != "bytes=0-0" }.reduce(0)
    { sum, range in
      let ends = range.dropFirst("bytes=".count).split(separator: "-").compactMap { Int($0) }
      return sum + (ends.count == 2 ? ends[1] - ends[0] + 1 : 0)
    }
    XCTAssertLessThanOrEqual(asked, bytes.count - kept, "the resumed run asked only for missing bytes")
  }

  func testHeaderIsSentWithEveryRequest() throws {
    let bytes = try TestData.write(count: 3 << 20, seed: 4, to: nginx.root.appendingPathComponent("f.bin"))
    let refused = try fetch([nginx.url("auth/f.bin"), path("out.bin")])
    XCTAssertEqual(refused.status, 1)
    XCTAssertTrue(refused.error.contains("BG_E_HTTP_ERROR_401"), refused.error)
    let fetched = try fetch([nginx.url("auth/f.bin"), path("out.bin"), "--header", "Authorization: Bearer sekrit"])
    XCTAssertEqual(fetched.status, 0, fetched.error)
    XCTAssertTrue(Array(try Data(contentsOf: URL(fileURLWithPath: path("out.bin")))) == bytes)
  }

  func testSecondFetchToTheSameFileIsAccessDenied() throws {
    let root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try TestData.write(count: 4 << 20, seed: 8, to: root.appendingPathComponent("slow.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    let url = server.url("slow/500000", "slow.bin")
    let first = Process()
    first.executableURL = URL(fileURLWithPath: bitsfsBinary)
    first.arguments = ["fetch", url, path("busy.bin"), "--quiet"]
    try first.run()
    defer {
      kill(first.processIdentifier, SIGKILL)
      first.waitUntilExit()
    }
    // Once the first run holds its job's cache entry, a second one on it is refused.
    let journal = directory.appendingPathComponent(".busy.bin.bitsfs")
    XCTAssertTrue(waitUntil(timeout: 20) { CacheJournal.journalledBytes(under: journal) > 0 })
    let second = try fetch([url, path("busy.bin"), "--quiet"])
    XCTAssertEqual(second.status, 1, second.error)
    XCTAssertTrue(second.error.contains("E_ACCESSDENIED"), second.error)
    XCTAssertTrue(first.isRunning, "the first fetch goes on")
  }

  /// A directory of files for the project's other servers, with `name` in it.
  private func serverRoot(serving name: String, count: Int) throws -> (URL, [UInt8]) {
    let root = directory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    return (root, try TestData.write(count: count, seed: 6, to: root.appendingPathComponent(name)))
  }

  /// A request that stalls after its head is given up after `--stall-timeout` (1 s here, not
  /// the default 15 s) and asked again; the fetch completes.
  func testStallTimeoutGivesUpAStalledRequestAndRetriesIt() throws {
    let (root, bytes) = try serverRoot(serving: "stall.bin", count: 1 << 20)
    let server = try FaultServer(root: root)
    defer { server.stop() }
    let result = try fetch([server.url("stall-once", "stall.bin"), path("out.bin"), "--stall-timeout", "1", "--quiet"])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(Array(try Data(contentsOf: URL(fileURLWithPath: path("out.bin")))) == bytes)
    let requests = server.dataRequests()
    XCTAssertEqual(requests.count, 2, "the stalled request and its retry: \(requests)")
    XCTAssertEqual(requests.first?.range, requests.last?.range, "nothing arrived, so the retry asks for it all")
    let pause = (requests.last?.time ?? 0) - (requests.first?.time ?? 0)
    XCTAssertTrue(pause >= 0.9 && pause < 10, "retried \(pause) s later: the stall timeout is 1 s, not 15")
  }

  /// A server whose certificate a private authority signed is refused, then trusted with
  /// `--ca-cert` naming that authority.
  func testCACertTrustsAPrivateAuthority() throws {
    let (root, bytes) = try serverRoot(serving: "tls.bin", count: 200_000)
    let authority = try TestCertificateAuthority(directory: directory.appendingPathComponent("ca"))
    let server = try HeaderServer(root: root, certificate: authority.issue("valid", subjectAltName: "IP:127.0.0.1"))
    defer { server.stop() }
    let refused = try fetch([server.url("tls.bin"), path("out.bin"), "--quiet"])
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(refused.error.contains("ERROR_INTERNET_INVALID_CA"), refused.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.bin")))

    let trusted = try fetch([server.url("tls.bin"), path("out.bin"), "--ca-cert", authority.certificatePath, "--quiet"])
    XCTAssertEqual(trusted.status, 0, trusted.error)
    XCTAssertTrue(Array(try Data(contentsOf: URL(fileURLWithPath: path("out.bin")))) == bytes)
  }

  func testFullDiskIsReportedAndLosesNothing() throws {
    try requireRoot(for: "mounting a small tmpfs")
    let tiny = path("tiny")
    try FileManager.default.createDirectory(atPath: tiny, withIntermediateDirectories: true)
    XCTAssertEqual(try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny]).status, 0)
    try TestData.write(count: 4 << 20, seed: 2, to: nginx.root.appendingPathComponent("big.bin"))
    let result = try fetch([nginx.url("big.bin"), tiny + "/big.bin", "--quiet"])
    XCTAssertEqual(result.status, 1)
    XCTAssertTrue(result.error.contains("ERROR_DISK_FULL"), result.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: tiny + "/big.bin"))
  }
}
