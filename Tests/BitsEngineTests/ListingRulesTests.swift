import BitsEngine
import Foundation
import TestSupport
import XCTest

/// The rules every listing follows, on pages written for them, and S3 on moto's real answers.
final class ListingRulesTests: XCTestCase {
  private let parser = ListingParser()
  private let directory = "http://127.0.0.1:8080/d/"
  private let html = HTTPResponseHead(status: 200, headers: ["content-type": "text/html"])
  private let xml = HTTPResponseHead(status: 200, headers: ["content-type": "application/xml"])

  /// An nginx page with a row per link: `(href, size)`.
  private func nginxPage(_ rows: [(String, String)]) -> [UInt8] {
    let lines = rows.map { "<a href=\"\($0.0)\">x</a>                   01-Dec-2026 11:19    \($0.1)\n" }
    return Array(
      ("<html>\n<head><title>Index of /d/</title></head>\n<body>\n<h1>Index of /d/</h1><hr><pre>"
        + lines.joined() + "</pre><hr></body>\n</html>\n").utf8)
  }

  private func entries(_ hrefs: [String]) throws -> DirectoryListing {
    try parser.parse(nginxPage(hrefs.map { ($0, "5") }), head: html, url: directory)
  }

  func testOnlyLinksDirectlyBelowTheDirectoryAreEntries() throws {
    let listing = try entries([
      "../", "/", "/d/", "", ".", "./", "?C=N;O=D", "a?x=1", "b#top", "#top", "http://other/d/c", "//other/d/c",
      "https://127.0.0.1:8080/d/c", "ftp://127.0.0.1:8080/d/c", "mailto:x@y", "javascript:void(0)", "colon:name",
      "deep/er", "/e/x", "/d/../etc/passwd", "../d/up", "http://127.0.0.1:8080/d/ok1", "//127.0.0.1:8080/d/ok2",
      "/d/ok3", "./ok4", "ok5/", "./colon:ok6", "HTTP://user:pw@127.0.0.1:8080/d/ok7", "/%64/ok8",
    ])
    XCTAssertEqual(listing.entries.map(\.name), ["ok1", "ok2", "ok3", "ok4", "ok5", "colon:ok6", "ok7", "ok8"])
    XCTAssertEqual(listing.entries.map(\.kind), [.file, .file, .file, .file, .directory, .file, .file, .file])
    XCTAssertEqual(listing.refusedNames, [])
  }

  func testTheDefaultPortIsTheSameOrigin() throws {
    let listing = try parser.parse(
      nginxPage([("http://example.org:80/d/a", "1"), ("http://example.org/d/b", "1")]), head: html,
      url: "http://EXAMPLE.org/d/")
    XCTAssertEqual(listing.entries.map(\.name), ["a", "b"])
  }

  func testNamesArePercentDecodedAndRefusedWhenUnsafe() throws {
    let long = String(repeating: "n", count: 256)
    let listing = try entries([
      "a%2Fb", "nul%00", "%2E", "%2e%2E/", "%", "%zz", "%C3", long, "sp%20ace%25%23%3F", "%C3%BC", "%c3%bc/",
      String(repeating: "m", count: 255),
    ])
    XCTAssertEqual(
      listing.entries.map(\.name), ["sp ace%#?", "ü", String(repeating: "m", count: 255)])
    XCTAssertEqual(listing.refusedNames, ["a%2Fb", "nul%00", "%2E", "%2e%2E", "%", "%zz", "%C3", long])
  }

  func testDuplicatesAreDroppedAndTheFirstWins() throws {
    // A composed and a decomposed é are two names to the file system, equal to Swift's `==`.
    let listing = try entries(["a", "a/", "./a", "%C3%A9", "e%CC%81", "%c3%a9"])
    XCTAssertEqual(listing.entries.map { Array($0.name.utf8) }, [[0x61], [0xC3, 0xA9], [0x65, 0xCC, 0x81]])
    XCTAssertEqual(listing.entries.first?.kind, .file)
  }

  func testMoreEntriesThanTheLimitIsAnError() throws {
    let limited = ListingParser(entryLimit: 3)
    XCTAssertEqual(
      try limited.parse(nginxPage([("a", "1"), ("b", "1"), ("c", "1"), ("a", "1")]), head: html, url: directory).entries
        .count, 3)
    XCTAssertThrowsError(
      try limited.parse(nginxPage([("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")]), head: html, url: directory)
    ) { XCTAssertEqual($0 as? ListingError, .tooManyEntries(limit: 3)) }
    XCTAssertEqual(
      "\(ListingError.tooManyEntries(limit: 100_000))", "a directory listing of more than 100000 entries (the limit)")
    XCTAssertEqual(ListingParser().entryLimit, 100_000)
  }

  func testRoundedSizesHoldOneUnitOfTheirLastDigitEitherSide() throws {
    let listing = try parser.parse(
      nginxPage([
        ("a", "1234"), ("b", "1.2K"), ("c", "12K"), ("d", "3.0G"), ("e", "0.0K"), ("f", "-"), ("g", "1,2K"),
        ("h", "1.25K"), ("i", "99999999E"), ("j", "18446744073709551616"), ("k", "+5"),
      ]), head: html, url: directory)
    XCTAssertEqual(
      listing.entries.map(\.size),
      [
        .exact(1234), .approximate(1126...1331), .approximate(11264...13312),
        .approximate(3_113_851_289...3_328_599_654), .approximate(0...102), .unknown, .unknown, .unknown, .unknown,
        .unknown, .unknown,
      ])
  }

  func testRowTextIsReadAsThePageWritesIt() throws {
    let listing = try parser.parse(
      nginxPage([
        // A comment is no text, a tag a space; references are decoded after both.
        ("a", "&#49;<!-- x -->K"), ("b", "&#49;<b></b>K"),
        // `+` before the digits of a reference, as `UInt32(_:radix:)` reads them.
        ("c&#+38;d", "&#x+31;&#+50;"),
        // Only the first 512 bytes after a link are kept (the row has 40 before its size).
        ("f", String(repeating: " ", count: 512 - 50) + "5"),
        ("g", String(repeating: " ", count: 512 + 50) + "5"),
      ]), head: html, url: directory)
    XCTAssertEqual(listing.entries.map(\.name), ["a", "b", "c&d", "f", "g"])
    XCTAssertEqual(
      listing.entries.map(\.size), [.approximate(0...2048), .exact(1), .exact(12), .exact(5), .unknown])
  }

  func testDatesOfEachForm() throws {
    let december = Date(timeIntervalSince1970: 1_796_123_940)  // 2026-12-01 11:19 UTC
    let listing = try parser.parse(nginxPage([("a", "1")]), head: html, url: directory)
    XCTAssertEqual(listing.entries.first?.modified, december)
    let lighttpd = """
      <html><head><title>Index of /d/</title></head><body><div class="list"><table>
      <tr><td class="n"><a href="s/">s</a>/</td><td class="m">2026-Dec-01 11:19:59</td><td class="s">- &nbsp;</td></tr>
      <tr><td class="n"><a href="f">f</a></td><td class="m">2026-Feb-30 11:19:59</td><td class="s">0.1K</td></tr>
      </table></div></body></html>
      """
    let lighttpdListing = try parser.parse(Array(lighttpd.utf8), head: html, url: directory)
    XCTAssertEqual(lighttpdListing.format, .lighttpdHTML)
    XCTAssertEqual(lighttpdListing.entries.map(\.modified), [december.addingTimeInterval(59), nil])
    XCTAssertEqual(lighttpdListing.entries.map(\.size), [.unknown, .approximate(0...204)])
    let caddy = #"[{"name":"a","size":1,"mod_time":"2026-12-01T12:19:59.5+01:00","is_dir":false}]"#
    let json = HTTPResponseHead(status: 200, headers: ["content-type": "application/json"])
    XCTAssertEqual(
      try parser.parse(Array(caddy.utf8), head: json, url: directory).entries.first?.modified,
      december.addingTimeInterval(59.5))
  }

  func testWhatIsNotAListingIsNamed() throws {
    func error(_ body: String, type: String? = "text/html", status: Int = 200) -> String {
      let head = HTTPResponseHead(status: status, headers: type.map { ["content-type": $0] } ?? [:])
      do {
        let listing = try parser.parse(Array(body.utf8), head: head, url: directory)
        return "a listing of \(listing.entries.count)"
      } catch {
        return "\(error)"
      }
    }
    XCTAssertEqual(error("Not Found", status: 404), "an answer with status 404, not a directory listing")
    XCTAssertEqual(error(" \n"), "an empty body, not a directory listing")
    XCTAssertEqual(
      error("<html><head><title>Welcome to\n nginx!</title></head><body><a href=\"x\">x</a></body></html>"),
      "an HTML page that is not a directory listing (\"Welcome to nginx!\")")
    XCTAssertEqual(
      error("\u{FEFF}{\"error\": 1}", type: "application/json"), "a JSON document that is not a directory listing")
    XCTAssertEqual(error("\u{89}PNG", type: "image/png"), "a body of type image/png, not a directory listing")
    XCTAssertEqual(error("hello", type: nil), "a body that is not a directory listing (not JSON, XML or HTML)")
    XCTAssertEqual(
      error("<?xml version=\"1.0\"?><rss/>", type: "text/xml"), "an XML document <rss>, not a directory listing")
    XCTAssertEqual(error("no element", type: "text/xml"), "an XML document that does not parse")
    XCTAssertEqual(
      error(#"[{"name":"a","type":"file"}]"#, type: "application/json"),
      "a nginxJSON listing that cannot be read: a file without a size")
    // Untyped bodies are told by their first character.
    XCTAssertEqual(error(#"[{"name":"a","type":"file","size":1}]"#, type: nil), "a listing of 1")
    XCTAssertEqual(error("<?xml version=\"1.0\"?><list><file size=\"1\">a</file></list>", type: nil), "a listing of 1")
  }

  // MARK: S3

  private func fixture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("fixtures/listings/\(name)")
    return Array(try Data(contentsOf: url))
  }

  private let bucket = "http://127.0.0.1:5000/bucket?list-type=2&delimiter=/&prefix=tree/"
  private let s3Tree: [DirectoryListing.Entry] = [
    .init(name: "amp&'quote\"<lt>.txt", kind: .file, size: .exact(5)),
    .init(name: "empty", kind: .file, size: .exact(0)),
    .init(name: "hash#tag.txt", kind: .file, size: .exact(999)),
    .init(name: "per%cent.bin", kind: .file, size: .exact(12345)),
    .init(name: "plain.txt", kind: .file, size: .exact(6)),
    .init(name: "question?.txt", kind: .file, size: .exact(10)),
    .init(name: "with space.txt", kind: .file, size: .exact(1234)),
    .init(name: "ünïcödé-日本.txt", kind: .file, size: .exact(1023)),
    .init(name: "dir with space", kind: .directory), .init(name: "sub", kind: .directory),
    .init(name: "ünï dir", kind: .directory),
  ]

  /// The entries without dates, sorted by name, and whether every file had one.
  private func undated(_ listing: DirectoryListing) -> ([DirectoryListing.Entry], Bool) {
    let dated = listing.entries.allSatisfy { $0.kind == .directory || $0.modified != nil }
    let entries = listing.entries.map { DirectoryListing.Entry(name: $0.name, kind: $0.kind, size: $0.size) }
    return (entries.sorted { $0.name < $1.name }, dated)
  }

  func testS3PagesContinueEachOtherToTheWholeDirectory() throws {
    var listing: DirectoryListing?
    for page in 1...6 {
      listing = try parser.parse(try fixture("s3-tree-page\(page).xml"), head: xml, url: bucket, continuing: listing)
      XCTAssertEqual(listing?.format, .s3ListObjectsV2)
      XCTAssertEqual(listing?.continuationToken == nil, page == 6, "page \(page)")
    }
    let (entries, dated) = undated(try XCTUnwrap(listing))
    XCTAssertEqual(entries, s3Tree.sorted { $0.name < $1.name })
    XCTAssertTrue(dated)
    XCTAssertEqual(listing?.entries.first?.modified, Date(timeIntervalSince1970: 1_796_124_090))
    // The limit counts every page.
    var limited: DirectoryListing?
    XCTAssertThrowsError(
      try (1...6).forEach { page in
        limited = try ListingParser(entryLimit: 10).parse(
          try fixture("s3-tree-page\(page).xml"), head: xml, url: bucket, continuing: limited)
      }
    ) { XCTAssertEqual($0 as? ListingError, .tooManyEntries(limit: 10)) }
  }

  func testS3URLEncodedKeysAreDecoded() throws {
    let listing = try parser.parse(try fixture("s3-tree-url-encoded.xml"), head: xml, url: bucket)
    XCTAssertEqual(undated(listing).0, s3Tree.sorted { $0.name < $1.name })
    // AWS writes a space as `+`, a `+` as `%2B`.
    let aws = """
      <ListBucketResult><Prefix>a+b/</Prefix><Delimiter>/</Delimiter><EncodingType>url</EncodingType>
      <Contents><Key>a+b/c+d%2B.txt</Key><Size>3</Size></Contents></ListBucketResult>
      """
    XCTAssertEqual(try parser.parse(Array(aws.utf8), head: xml, url: bucket).entries.map(\.name), ["c d+.txt"])
  }

  func testS3DirectoryMarkerIsNotAnEntry() throws {
    let listing = try parser.parse(try fixture("s3-tree-sub.xml"), head: xml, url: bucket)
    XCTAssertEqual(
      undated(listing).0,
      [.init(name: "a b.txt", kind: .file, size: .exact(2)), .init(name: "inner", kind: .directory)])
  }

  func testS3AnswersThatAreNotOneDirectoryAreErrors() throws {
    XCTAssertEqual(
      try? parser.parse(try fixture("s3-no-such-bucket.xml"), head: xml, url: bucket).format, nil)
    XCTAssertThrowsError(try parser.parse(try fixture("s3-no-such-bucket.xml"), head: xml, url: bucket)) {
      XCTAssertEqual("\($0)", "an S3 error NoSuchBucket: The specified bucket does not exist")
    }
    let cases = [
      "<ListBucketResult><Prefix>tree</Prefix><Delimiter>/</Delimiter></ListBucketResult>":
        "the prefix tree does not end in /",
      "<ListBucketResult><Prefix>tree/</Prefix></ListBucketResult>":
        "a listing without delimiter=/, of all keys below and not one directory",
      "<ListBucketResult><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated></ListBucketResult>":
        "a truncated listing without a NextContinuationToken",
      "<ListBucketResult><Delimiter>/</Delimiter><Contents><Key>a</Key></Contents></ListBucketResult>":
        "an object without a size",
    ]
    for (body, detail) in cases {
      XCTAssertThrowsError(try parser.parse(Array(body.utf8), head: xml, url: bucket)) {
        XCTAssertEqual($0 as? ListingError, .malformed(.s3ListObjectsV2, detail))
      }
    }
    // Keys outside the prefix, and names unsafe after it, are not entries.
    let odd = """
      <ListBucketResult><Prefix>t/</Prefix><Delimiter>/</Delimiter><Contents><Key>u/x</Key><Size>1</Size></Contents>
      <Contents><Key>t/..</Key><Size>1</Size></Contents><CommonPrefixes><Prefix>t//</Prefix></CommonPrefixes>
      <Contents><Key>t/ok</Key><Size>1</Size></Contents></ListBucketResult>
      """
    let listing = try parser.parse(Array(odd.utf8), head: xml, url: bucket)
    XCTAssertEqual(listing.entries.map(\.name), ["ok"])
    XCTAssertEqual(listing.refusedNames, ["..", ""])
  }

  func testParentRowsOfRealPagesAreNotEntries() throws {
    // lighttpd's `../` row, Apache's absolute `/` parent, Caddy's HTML page (not read).
    let lighttpd = try parser.parse(try fixture("lighttpd-sub.html"), head: html, url: "http://127.0.0.1:1/sub/")
    XCTAssertEqual(lighttpd.entries.map(\.name), ["inner", "a b.txt"])
    XCTAssertEqual(lighttpd.entries.map(\.size), [.unknown, .approximate(0...204)])
    let apache = try parser.parse(try fixture("apache-fancy.html"), head: html, url: "http://127.0.0.1:1/fancy")
    XCTAssertFalse(apache.entries.contains { $0.name == "Parent Directory" || $0.name.isEmpty })
    XCTAssertEqual(apache.entries.count, 16)
    XCTAssertThrowsError(try parser.parse(try fixture("caddy-sub.html"), head: html, url: "http://127.0.0.1:1/sub/"))
  }

  // MARK: Never a trap

  /// Random bytes, and every truncation and some mutations of each real listing, under every
  /// content type: an answer or an error, never a trap.
  func testNoInputTraps() throws {
    let directoryURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("fixtures/listings")
    let names = try FileManager.default.contentsOfDirectory(atPath: directoryURL.path).filter { $0 != "README.md" }
    XCTAssertGreaterThan(names.count, 15)
    let types = ["text/html", "application/json", "application/xml", ""]
    var generator = SplitMix64(seed: 14)
    var inputs: [[UInt8]] = (0..<300).map { count in
      (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }
    for name in names {
      let body = try fixture(name)
      // Fifty cuts of each, from the empty body to the whole.
      let step = max(1, body.count / 50)
      inputs += stride(from: 0, through: body.count, by: step).map { Array(body.prefix($0)) }
      for _ in 0..<50 {
        var mutated = body
        let position = Int(generator.next() % UInt64(max(1, mutated.count)))
        if !mutated.isEmpty { mutated[position] = UInt8(truncatingIfNeeded: generator.next()) }
        inputs.append(mutated)
      }
    }
    var parsed = 0
    for input in inputs {
      for type in types {
        let head = HTTPResponseHead(status: 200, headers: type.isEmpty ? [:] : ["content-type": type])
        if (try? parser.parse(input, head: head, url: bucket)) != nil { parsed += 1 }
      }
    }
    // Many cuts of real listings remain readable ones.
    XCTAssertGreaterThan(parsed, 100)
  }

  func testPercentDecoding() {
    func percentDecoded(_ text: String) -> String? {
      EntryName.percentDecoded(text.utf8).flatMap { String(validating: $0, as: UTF8.self) }
    }
    XCTAssertEqual(percentDecoded("a%20b%2Fc"), "a b/c")
    XCTAssertEqual(percentDecoded("%C3%A9t%c3%a9"), "été")
    XCTAssertEqual(percentDecoded("plain"), "plain")
    for malformed in ["%", "%2", "%zz", "a%g1", "%FF"] {
      XCTAssertNil(percentDecoded(malformed), malformed)
    }
  }
}
