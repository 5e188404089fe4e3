import BitsMount
import Foundation
import TestSupport
import XCTest

/// `bitsfs mount --metrics ADDRESS`: the Prometheus endpoint scraped with curl and parsed, its
/// counters checked against what nginx sent, what `bitsfs status --json` counts and the reads
/// the trace log names; errors by BITS code; a port in use refused before mounting; and nothing
/// listening unless asked, and then only on the address given.
final class MountMetricsTests: MountTestCase {
  /// A port nothing listens on now.
  private func freePort() throws -> UInt16 {
    try LoopbackListener().port
  }

  /// The samples of a scrape, by name with labels (`bitsfs_read_bytes_total{source="cache"}`).
  private func scrape(_ port: UInt16, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Double] {
    let result = try runCommand(
      "/usr/bin/curl", ["-sS", "--fail", "--max-time", "10", "http://127.0.0.1:\(port)/metrics"], timeout: 20)
    XCTAssertEqual(result.status, 0, result.error, file: file, line: line)
    var samples: [String: Double] = [:]
    for text in result.output.split(separator: "\n") where !text.hasPrefix("#") {
      let parts = text.split(separator: " ")
      guard parts.count == 2, let value = Double(parts[1]) else {
        XCTFail("not a sample of the text format: \(text)", file: file, line: line)
        continue
      }
      samples[String(parts[0])] = value
    }
    return samples
  }

  /// The sockets the process `pid` listens on, as `/proc/net/tcp` gives them (`0100007F:24B8`).
  private func listeningSockets(of pid: Int32) -> [String] {
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    let inodes = Set(
      descriptors.compactMap { descriptor -> String? in
        let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)")
        guard let target, target.hasPrefix("socket:[") else { return nil }
        return String(target.dropFirst("socket:[".count).dropLast())
      })
    var listening: [String] = []
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
      let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
      for row in text.split(separator: "\n").dropFirst() {
        let fields = row.split(separator: " ")
        // sl, local address, remote address, state (0A: listening), …, inode (the tenth).
        if fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) {
          listening.append(String(fields[1]))
        }
      }
    }
    return listening
  }

  private func daemonPID(of mountPoint: String) throws -> Int32 {
    try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
  }

  /// Reads the whole file, drops its pages from the kernel's cache and reads its first 256 KiB
  /// again, which the mount then answers from its cache.
  private func readTwice(_ path: String, count: Int) throws -> [UInt8] {
    let bytes = try read(path, offset: 0, count: count)
    let fd = open(path, O_RDONLY)
    XCTAssertGreaterThanOrEqual(fd, 0)
    XCTAssertEqual(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0)
    close(fd)
    XCTAssertEqual(try read(path, offset: 0, count: 256 << 10), Array(bytes[0..<(256 << 10)]))
    return bytes
  }

  func testTheCountersAgreeWithWhatWasSentAndRead() throws {
    // Long enough for the mount's read-ahead to run beyond the kernel's (4 MiB).
    let served = try serve("m.bin", count: 8 << 20)
    let port = try freePort()
    let log = workDirectory.appendingPathComponent("trace.log").path
    let mountPoint = try mount(
      [nginx.url("m.bin")], options: ["--metrics", "127.0.0.1:\(port)", "--log-file", log, "--log-level", "trace"])
    XCTAssertEqual(try readTwice(mountPoint + "/m.bin", count: served.count), served)

    // Requests still ending after the last byte arrived are waited for.
    var samples: [String: Double] = [:]
    XCTAssertTrue(
      waitUntil(timeout: 10, poll: 0.2) {
        samples = (try? scrape(port)) ?? [:]
        return samples["bitsfs_requests_in_flight"] == 0
      }, "\(samples)")
    let requests = nginx.requests().filter { $0.range != "bytes=0-0" }
    XCTAssertEqual(samples["bitsfs_fetched_bytes_total"], Double(fetchedBytes()), "bytes nginx sent")
    XCTAssertEqual(samples["bitsfs_fetched_bytes_total"], Double(served.count))
    XCTAssertEqual(samples["bitsfs_requests_total"], Double(requests.count), "\(requests)")
    XCTAssertEqual(samples["bitsfs_cache_filled_bytes"], Double(served.count))

    let status = try bitsfs(["status", "--json", mountPoint + "/m.bin"])
    let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
    let file = try XCTUnwrap((document["files"] as? [[String: Any]])?.first, status.output)
    let readAhead = try XCTUnwrap(file["readAhead"] as? [String: Any])
    XCTAssertEqual(samples["bitsfs_read_ahead_bytes_total"], (readAhead["fetchedBytes"] as? Int).map(Double.init))
    XCTAssertEqual(samples["bitsfs_read_ahead_used_bytes_total"], (readAhead["usedBytes"] as? Int).map(Double.init))
    try unmount(mountPoint)

    // Every read the kernel sent is in the trace log, with its range: the histogram counts
    // each, and the bytes read from the cache and after a fetch add up to theirs.
    let reads = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
      .filter { $0.contains("trace: read ") }
    let readBytes = try reads.reduce(0) { sum, line in
      let range = try XCTUnwrap(line.split(separator: " ").first { $0.hasPrefix("range=") }).dropFirst(6)
      let bounds = range.split(separator: "-").compactMap { Int($0) }
      XCTAssertEqual(bounds.count, 2, String(line))
      return sum + bounds[1] - bounds[0] + 1
    }
    XCTAssertFalse(reads.isEmpty)
    XCTAssertEqual(samples["bitsfs_read_duration_seconds_count"], Double(reads.count))
    XCTAssertEqual(samples["bitsfs_read_duration_seconds_bucket{le=\"+Inf\"}"], Double(reads.count))
    let fromCache = samples["bitsfs_read_bytes_total{source=\"cache\"}"] ?? 0
    let fromNetwork = samples["bitsfs_read_bytes_total{source=\"network\"}"] ?? 0
    XCTAssertEqual(fromCache + fromNetwork, Double(readBytes))
    XCTAssertGreaterThanOrEqual(fromCache, Double(256 << 10), "the second read of the first 256 KiB")
    XCTAssertFalse(samples.keys.contains { $0.hasPrefix("bitsfs_read_errors_total") }, "\(samples)")
  }

  func testErrorsAreCountedByTheirBITSCode() throws {
    _ = try serve("gone.bin", count: 1 << 20)
    let port = try freePort()
    let mountPoint = try mount([nginx.url("gone.bin")], options: ["--metrics", "127.0.0.1:\(port)"])
    try FileManager.default.removeItem(at: nginx.root.appendingPathComponent("gone.bin"))
    XCTAssertThrowsError(try read(mountPoint + "/gone.bin", offset: 512 << 10, count: 4096)) { error in
      XCTAssertEqual((error as? POSIXError)?.code, .EIO, "\(error)")
    }
    let samples = try scrape(port)
    XCTAssertGreaterThanOrEqual(samples["bitsfs_read_errors_total{code=\"BG_E_HTTP_ERROR_404\"}"] ?? 0, 1, "\(samples)")
    XCTAssertGreaterThanOrEqual(
      samples["bitsfs_request_failures_total{code=\"BG_E_HTTP_ERROR_404\"}"] ?? 0, 1, "\(samples)")
    XCTAssertEqual(samples["bitsfs_fetched_bytes_total"] ?? 0, 0, "\(samples)")
    try unmount(mountPoint)
  }

  /// Off by default: the mount listens on nothing. Asked (here in an -o list, as from fstab), it
  /// listens on that address alone, and answers nothing but GET /metrics.
  func testNothingListensUnlessAskedAndThenOnlyTheAddressGiven() throws {
    _ = try serve("q.bin", count: 100_000)
    let quiet = try mount([nginx.url("q.bin")], at: try makeMountPoint("quiet"))
    XCTAssertEqual(listeningSockets(of: try daemonPID(of: quiet)), [])
    try unmount(quiet)

    let port = try freePort()
    let mountPoint = try mount([nginx.url("q.bin")], options: ["-o", "ro,metrics=127.0.0.1:\(port)"])
    XCTAssertEqual(listeningSockets(of: try daemonPID(of: mountPoint)), ["0100007F:" + String(format: "%04X", port)])
    XCTAssertNotNil(try scrape(port)["bitsfs_requests_total"])
    let other = try runCommand(
      "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/other"])
    XCTAssertEqual(other.output, "404")
    let post = try runCommand(
      "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "x", "http://127.0.0.1:\(port)/metrics"])
    XCTAssertEqual(post.output, "405")
    try unmount(mountPoint)
  }

  func testAnAddressThatCannotBeHadMountsNothing() throws {
    _ = try serve("p.bin", count: 100_000)
    let taken = try LoopbackListener()
    try assertMountFails(
      [nginx.url("p.bin"), "--metrics", "127.0.0.1:\(taken.port)"],
      mentioning: "cannot listen for --metrics: Address already in use (127.0.0.1:\(taken.port))")
    for bad in ["localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:9464", "10.0.0.300:80"] {
      let mountPoint = try makeMountPoint("bad")
      let result = try bitsfs(["mount", nginx.url("p.bin"), mountPoint, "--metrics", bad])
      XCTAssertEqual(result.status, 2, "\(bad): \(result.error)")
      XCTAssertTrue(result.error.contains("--metrics must be a numeric address and a port"), result.error)
      XCTAssertFalse(MountTable.isMountPoint(mountPoint))
    }
  }
}
