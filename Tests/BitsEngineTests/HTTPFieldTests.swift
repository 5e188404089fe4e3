import XCTest

@testable import BitsEngine

/// Numbers from response heads: digits only, and never beyond the largest size a file can have,
/// so that no size or offset from a server can trap a conversion to `off_t`.
final class HTTPFieldTests: XCTestCase {
  func testNumbersAreDigitsOnly() {
    XCTAssertEqual(try decimalField("0"), 0)
    XCTAssertEqual(try decimalField("9223372036854775807"), RemoteVersion.maximumSize)
    for text in ["", "+5", "-0", " 5", "5 ", "0x10", "1e3", "٣"] {
      XCTAssertThrowsError(try decimalField(text), text.debugDescription) {
        XCTAssertEqual($0 as? HTTPFieldError, .malformed, text.debugDescription)
      }
    }
  }

  func testNumbersBeyondTheLargestFileSizeAreRefused() {
    for text in [
      "9223372036854775808", "18446744073709551615", "18446744073709551616", String(repeating: "9", count: 40),
    ] {
      XCTAssertThrowsError(try decimalField(text), text) {
        XCTAssertEqual($0 as? HTTPFieldError, .beyondMaximumSize, text)
      }
    }
  }

  func testContentRangeMustLieInsideItsCompleteLength() {
    XCTAssertEqual(ContentRange("bytes 0-0/9223372036854775807")?.completeLength, RemoteVersion.maximumSize)
    XCTAssertEqual(ContentRange("bytes 9223372036854775806-9223372036854775806/*")?.bytes?.count, 1)
    XCTAssertNil(ContentRange("bytes 0-99/50"))
    XCTAssertNil(ContentRange("bytes 0-99/99"))
    XCTAssertNil(ContentRange("bytes 0-9223372036854775807/*"), "its end, 2^63, is no offset of a file")
    XCTAssertThrowsError(try ContentRange(parsing: "bytes 0-0/18446744073709551615")) {
      XCTAssertEqual($0 as? HTTPFieldError, .beyondMaximumSize)
    }
    XCTAssertEqual(ContentRange("bytes 5-9/10")?.description, "bytes 5-9/10")
    XCTAssertEqual(ContentRange("bytes */10")?.description, "bytes */10")
  }

  func testHugeSizesAreAnInvalidServerResponse() {
    let version = RemoteVersion(size: 1000, lastModified: nil, etag: nil)
    for total in ["9223372036854775808", "18446744073709551615"] {
      let head = HTTPResponseHead(status: 206, headers: ["content-range": "bytes 0-0/\(total)"])
      XCTAssertThrowsError(try ServerRules.version(fromProbe: head, url: "u").get()) {
        XCTAssertEqual(($0 as? BitsError)?.code, .invalidServerResponse)
        XCTAssertTrue("\($0)".contains("largest size a file can have"), "\($0)")
      }
      guard case .abort(let error) = ServerRules.check(head, asked: 0..<1, version: version, url: "u") else {
        return XCTFail("a 206 of \(total) bytes accepted")
      }
      XCTAssertEqual(error.code, .invalidServerResponse, "refused as it is, not taken for another version")
    }
    let length = HTTPResponseHead(status: 200, headers: ["content-length": "18446744073709551615"])
    XCTAssertThrowsError(try ServerRules.version(fromProbe: length, url: "u").get()) {
      XCTAssertEqual(($0 as? BitsError)?.code, .invalidServerResponse)
    }
  }

  func testStatusCodesAreThreeDigits() {
    for (line, status) in [("HTTP/1.1 206 Partial", 206), ("HTTP/1.1 +206 x", 0), ("HTTP/1.1 2060 x", 0)] {
      var head = HTTPResponseHead(status: 0, headers: [:])
      Array(line.utf8).withUnsafeBytes { head.add(line: $0) }
      XCTAssertEqual(head.status, status, line)
    }
  }

  func testHeaderNamesAreCaseInsensitiveAndValuesLoseTheirOptionalWhitespace() {
    var head = HTTPResponseHead(status: 0, headers: [:])
    for line in ["HTTP/1.1 200 OK\r\n", "X-Mixed-CASE:\t value with  spaces \t\r\n", "Empty:\r\n", "no colon\r\n"] {
      Array(line.utf8).withUnsafeBytes { head.add(line: $0) }
    }
    XCTAssertEqual(head.headers, ["x-mixed-case": "value with  spaces", "empty": ""])
    XCTAssertEqual(head["X-MIXED-case"], "value with  spaces")
  }

  func testHeadLinesHandedOverTogetherAreReadOneByOne() {
    let block = "HTTP/1.1 206 Partial Content\r\nServer: nginx\r\nContent-Range: bytes 0-9/100\r\nETag: \"e\"\r\n\r\n"
    var together = HTTPResponseHead(status: 0, headers: [:])
    Array(block.utf8).withUnsafeBytes { together.add(lines: $0) }
    var oneByOne = HTTPResponseHead(status: 0, headers: [:])
    // Split on bytes: to `String`, "\r\n" is one character.
    for line in Array(block.utf8).split(separator: UInt8(ascii: "\n")) {
      (line + [UInt8(ascii: "\n")]).withUnsafeBytes { oneByOne.add(line: $0) }
    }
    XCTAssertEqual(together.status, 206)
    XCTAssertEqual(together.headers, oneByOne.headers)
    XCTAssertEqual(together["content-range"], "bytes 0-9/100")
    XCTAssertEqual(together["server"], "nginx")
  }
}
