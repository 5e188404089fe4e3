import BitsEngine
import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// Directory listings as real servers write them, each started privately on the generated tree
/// and asked with curl (S3's, captured from moto, are in `ListingRulesTests`).
final class ListingParserTests: XCTestCase {
  private let parser = ListingParser()

  /// What a listing format carries of sizes.
  private enum Sizes {
    /// Every file's size, exactly.
    case exact
    /// Exact in bytes for small files, rounded (and holding the real size) for the others.
    case rounded
    /// Rounded for every file.
    case allRounded
    case none
  }

  // MARK: Real servers

  func testNginxHTMLGivesExactSizesByDefault() throws {
    try checkServer(.nginx, path: "html/", format: .nginxHTML, sizes: .exact, datesTo: 60, hidesDotFiles: true)
  }

  func testNginxHTMLRoundsSizesWithoutExactSize() throws {
    try checkServer(.nginx, path: "rounded/", format: .nginxHTML, sizes: .rounded, datesTo: 60, hidesDotFiles: true)
  }

  func testNginxJSON() throws {
    try checkServer(.nginx, path: "json/", format: .nginxJSON, sizes: .exact, datesTo: 1, hidesDotFiles: true)
  }

  func testNginxXML() throws {
    try checkServer(.nginx, path: "xml/", format: .nginxXML, sizes: .exact, datesTo: 1, hidesDotFiles: true)
  }

  func testApacheFancyTable() throws {
    try checkServer(.apache, path: "fancy/", format: .apacheHTML, sizes: .rounded, datesTo: 60, hidesDotFiles: false)
  }

  func testApacheFancyPreformatted() throws {
    try checkServer(.apache, path: "pre/", format: .apacheHTML, sizes: .rounded, datesTo: 60, hidesDotFiles: false)
  }

  func testApachePlainGivesNamesOnly() throws {
    try checkServer(.apache, path: "plain/", format: .apacheHTML, sizes: .none, datesTo: nil, hidesDotFiles: false)
  }

  func testLighttpd() throws {
    try checkServer(.lighttpd, path: "", format: .lighttpdHTML, sizes: .allRounded, datesTo: 1, hidesDotFiles: true)
  }

  func testCaddyJSON() throws {
    try checkServer(.caddy, path: "", format: .caddyJSON, sizes: .exact, datesTo: 1, hidesDotFiles: false)
  }

  func testPythonHTTPServerGivesNamesOnly() throws {
    try checkServer(.python, path: "", format: .pythonHTML, sizes: .none, datesTo: nil, hidesDotFiles: false)
  }

  func testCaddyHTMLIsNamedAsSuch() throws {
    try withServer(.caddy) { server, _ in
      let result = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", server.baseURL + "/"], timeout: 15)
      let head = HTTPResponseHead(status: 200, headers: ["content-type": "text/html; charset=utf-8"])
      XCTAssertThrowsError(try parser.parse(Array(result.output.utf8), head: head, url: server.baseURL + "/")) {
        XCTAssertTrue("\($0)".contains("Accept: application/json"), "\($0)")
      }
    }
  }

  /// Lists every directory of the tree from `server` at `path` and compares with the disk.
  private func checkServer(
    _ software: ListingServer.Software, path: String, format: DirectoryListing.Format, sizes: Sizes,
    datesTo precision: TimeInterval?, hidesDotFiles: Bool, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    try withServer(software) { server, tree in
      for directory in ListingTree.directories {
        let encoded =
          directory.isEmpty ? "" : directory.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)! + "/"
        let url = "\(server.baseURL)/\(path)\(encoded)"
        let (head, body) = try fetchListing(url)
        let listing = try parser.parse(body, head: head, url: url)
        XCTAssertEqual(listing.format, format, url, file: file, line: line)
        XCTAssertEqual(listing.refusedNames, [], url, file: file, line: line)
        XCTAssertNil(listing.continuationToken, file: file, line: line)
        let expected = try tree.items(in: directory).filter { !hidesDotFiles || !$0.name.hasPrefix(".") }
        XCTAssertEqual(
          Set(listing.entries.map(\.name)), Set(expected.map(\.name)), url, file: file, line: line)
        if directory.isEmpty, sizes == .rounded || sizes == .allRounded {
          let rounded = listing.entries.filter { if case .approximate = $0.size { true } else { false } }
          XCTAssertTrue(rounded.contains { $0.name == "big.bin" }, "no rounded size in \(url)", file: file, line: line)
        }
        for item in expected {
          guard let entry = listing.entries.first(where: { $0.name == item.name }) else { continue }
          let what = "\(item.name) in \(url)"
          XCTAssertEqual(entry.kind, item.isDirectory ? .directory : .file, what, file: file, line: line)
          if item.isDirectory {
            XCTAssertEqual(entry.size, .unknown, what, file: file, line: line)
          } else {
            check(entry.size, of: item.size, sizes, what, file: file, line: line)
          }
          if let precision {
            let modified = try XCTUnwrap(entry.modified, what, file: file, line: line)
            // Shown to the minute or second, cut rather than rounded.
            let lag = item.modified.timeIntervalSince(modified)
            XCTAssertTrue(
              lag > -0.001 && lag < precision, "\(what): \(modified) for \(item.modified)", file: file, line: line)
          } else {
            XCTAssertNil(entry.modified, what, file: file, line: line)
          }
        }
      }
    }
  }

  private func check(
    _ size: DirectoryListing.Size, of real: UInt64, _ sizes: Sizes, _ what: String, file: StaticString, line: UInt
  ) {
    switch (size, sizes) {
    case (.exact(let listed), .exact), (.exact(let listed), .rounded):
      XCTAssertEqual(listed, real, what, file: file, line: line)
    case (.approximate(let bounds), .rounded), (.approximate(let bounds), .allRounded):
      XCTAssertTrue(bounds.contains(real), "\(what): \(bounds) for \(real)", file: file, line: line)
      // One unit of the last digit either side: never wider than the size is large.
      XCTAssertLessThanOrEqual(bounds.upperBound - bounds.lowerBound, max(real, 1024) * 2, what, file: file, line: line)
    case (.unknown, .none): break
    default: XCTFail("\(what): \(size) for \(real) with \(sizes) sizes", file: file, line: line)
    }
  }

  private func withServer(
    _ software: ListingServer.Software, _ body: (ListingServer, ListingTree) throws -> Void
  ) throws {
    try requireInstalled(software.missing)
    let tree = try ListingTree()
    defer { tree.remove() }
    let server = try ListingServer(software, serving: tree.root)
    defer { server.stop() }
    try body(server, tree)
  }
}
