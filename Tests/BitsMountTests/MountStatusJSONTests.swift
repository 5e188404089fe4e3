import BitsMount
import Foundation
import TestSupport
import XCTest

/// `bitsfs status --json`, parsed as a script would (JSONSerialization, not the program's own
/// types), for a fresh mount, a partly filled one and one whose server fails.
final class MountStatusJSONTests: FaultServerMountTestCase {
  private func status(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let result = try bitsfs(["status", "--json", path])
    XCTAssertEqual(result.status, 0, result.error, file: file, line: line)
    let parsed = try JSONSerialization.jsonObject(with: Data(result.output.utf8))
    return try XCTUnwrap(parsed as? [String: Any], result.output, file: file, line: line)
  }

  private func files(of status: [String: Any]) throws -> [[String: Any]] {
    try XCTUnwrap(status["files"] as? [[String: Any]], "\(status)")
  }

  func testAFreshMount() throws {
    _ = try serve("fresh.bin", count: 300_000)
    let mountPoint = try mount([nginx.url("fresh.bin")])
    let document = try status(mountPoint)
    XCTAssertEqual(document["schemaVersion"] as? Int, 1)
    XCTAssertEqual(document["mountPoint"] as? String, mountPoint)
    XCTAssertEqual(
      (document["pid"] as? Int).map(String.init), ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint))
    let job = try XCTUnwrap(document["job"] as? [String: Any])
    XCTAssertNotNil(job["state"] as? String)
    XCTAssertNil(job["lastError"])
    let file = try XCTUnwrap(try files(of: document).first)
    XCTAssertEqual(file["name"] as? String, "fresh.bin")
    XCTAssertEqual(file["url"] as? String, nginx.url("fresh.bin"))
    XCTAssertEqual(file["size"] as? Int, 300_000)
    XCTAssertNotNil(file["etag"] as? String)
    XCTAssertNotNil(file["lastModified"] as? String)
    XCTAssertEqual(file["activity"] as? String, "idle")
    XCTAssertEqual(file["filledBytes"] as? Int, 0)
    XCTAssertEqual(file["filledRanges"] as? Int, 0)
    XCTAssertEqual(file["filledPercent"] as? Double, 0)
    XCTAssertEqual(file["filledMap"] as? String, String(repeating: ".", count: 4096))
    XCTAssertEqual(file["fetchedBytes"] as? Int, 0)
    XCTAssertEqual(file["requests"] as? Int, 0, "range requests: the version probe is not one")
    XCTAssertEqual(
      file["readAhead"] as? [String: Int], ["fetchedBytes": 0, "usedBytes": 0, "unusedBytes": 0])
    XCTAssertNil(file["lastError"])
    try unmount(mountPoint)
  }

  func testAPartlyFilledMountAndOneOfItsFiles() throws {
    let size = 32 << 20
    _ = try serve("part.bin", count: size)
    _ = try serve("other.bin", count: 1000)
    let mountPoint = try mount([nginx.url("part.bin"), nginx.url("other.bin")], options: ["--read-ahead-max", "0"])
    // The first eighth, read sequentially: the kernel's own read-ahead (256 KiB) may fetch more.
    XCTAssertEqual(try read(mountPoint + "/part.bin", offset: 0, count: size / 8).count, size / 8)
    let document = try status(mountPoint)
    let all = try files(of: document)
    XCTAssertEqual(all.map { $0["name"] as? String }, ["other.bin", "part.bin"])
    let file = try XCTUnwrap(all.last)
    let filled = try XCTUnwrap(file["filledBytes"] as? Int)
    XCTAssertGreaterThanOrEqual(filled, size / 8)
    XCTAssertLessThan(filled, size / 2)
    XCTAssertEqual(file["filledRanges"] as? Int, 1)
    XCTAssertEqual(try XCTUnwrap(file["filledPercent"] as? Double), Double(filled) * 100 / Double(size), accuracy: 1e-9)
    let map = try XCTUnwrap(file["filledMap"] as? String)
    XCTAssertTrue(map.hasPrefix(String(repeating: "#", count: 512)), map)
    XCTAssertTrue(map.hasSuffix(String(repeating: ".", count: 2048)), map)
    XCTAssertEqual(file["fetchedBytes"] as? Int, filled)
    XCTAssertGreaterThan(try XCTUnwrap(file["requests"] as? Int), 1)
    XCTAssertEqual((file["readAhead"] as? [String: Int])?["fetchedBytes"], 0, "read-ahead is off")

    let single = try status(mountPoint + "/part.bin")
    XCTAssertEqual(single["mountPoint"] as? String, mountPoint)
    XCTAssertEqual(try files(of: single).map { $0["name"] as? String }, ["part.bin"])
    try unmount(mountPoint)
  }

  func testAMountWhoseServerFails() throws {
    try TestData.write(count: 1 << 20, seed: 4, to: faultRoot.appendingPathComponent("e.bin"))
    let mountPoint = try mount([faultServer.url("fail/1000/500", "e.bin")], options: ["--retry-period", "1"])
    XCTAssertThrowsError(try read(mountPoint + "/e.bin", offset: 0, count: 4096))
    let document = try status(mountPoint)
    let file = try XCTUnwrap(try files(of: document).first)
    let error = try XCTUnwrap(file["lastError"] as? [String: String], "\(file)")
    XCTAssertEqual(error["code"], "BG_E_HTTP_ERROR_500")
    XCTAssertEqual(error["hresult"], "0x801901F4")
    XCTAssertEqual(error["message"], "HTTP 500 (server error)")
    XCTAssertEqual(file["filledBytes"] as? Int, 0)
    let job = try XCTUnwrap(document["job"] as? [String: Any])
    XCTAssertEqual((job["lastError"] as? [String: String])?["code"], "BG_E_HTTP_ERROR_500", "\(job)")
    // The on-demand job goes on: the reader got the error, the job keeps it.
    XCTAssertNotNil(job["state"] as? String, "\(job)")
    try unmount(mountPoint)
  }

  /// In a directory tree, files are named by their path in the mount; a listed file no one
  /// opened yet is `unopened`, with nothing cached.
  func testADirectoryTreeNamesFilesByTheirPath() throws {
    let tree = try ListingTree()
    defer { tree.remove() }
    let server = try ListingServer(.nginx, serving: tree.root)
    defer { server.stop() }
    let mountPoint = try mount([server.baseURL + "/json/"])
    XCTAssertEqual(try read(mountPoint + "/sub/a b.txt", offset: 0, count: 2).count, 2)
    let document = try status(mountPoint + "/sub")
    XCTAssertEqual(document["mountPoint"] as? String, mountPoint)
    let file = try XCTUnwrap(try files(of: document).first)
    XCTAssertEqual(file["name"] as? String, "sub/a b.txt")
    XCTAssertEqual(file["filledBytes"] as? Int, 2)
    XCTAssertEqual(file["activity"] as? String, "idle")
    let unopened = try XCTUnwrap(try files(of: try status(mountPoint + "/plain.txt")).first)
    XCTAssertEqual(unopened["name"] as? String, "plain.txt")
    XCTAssertEqual(unopened["activity"] as? String, "unopened")
    XCTAssertEqual(unopened["size"] as? Int, 6)
    XCTAssertEqual(unopened["filledBytes"] as? Int, 0)
    try unmount(mountPoint)
  }

  func testAPathOutsideAMountIsRefused() throws {
    let result = try bitsfs(["status", "--json", workDirectory.path])
    XCTAssertEqual(result.status, 2, result.error)
    XCTAssertTrue(result.error.contains("not a file of a bitsfs mount"), result.error)
    XCTAssertEqual(result.output, "", "no half document")
  }
}
