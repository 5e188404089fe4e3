import BitsEngine
import XCTest

final class HTTPHeaderTests: XCTestCase {
  func testWellFormedHeadersParse() {
    XCTAssertEqual(
      HTTPHeader(line: "Authorization: Bearer a.b/c=="), HTTPHeader(name: "Authorization", value: "Bearer a.b/c=="))
    XCTAssertEqual(HTTPHeader(line: "X-Token:v\tw "), HTTPHeader(name: "X-Token", value: "v\tw"))
    XCTAssertEqual(HTTPHeader(line: "X-Empty:"), HTTPHeader(name: "X-Empty", value: ""))
  }

  func testLineBreaksAndControlCharactersAreRefused() {
    for line in ["A: b\r\nEvil: c", "A: b\nEvil: c", "A: b\rc", "A: b\0c", "A: b\u{7F}", "A\r\nB: c"] {
      XCTAssertNil(HTTPHeader(line: line), line.debugDescription)
    }
  }

  func testNamesMustBeTokens() {
    for line in ["Bad Name: x", ": x", "no colon", "Näme: x", "(x): y"] {
      XCTAssertNil(HTTPHeader(line: line), line)
    }
  }

  func testDescriptionHidesTheValue() {
    let header = HTTPHeader(line: "Authorization: Bearer sekrit")
    XCTAssertEqual(header?.description, "Authorization: <redacted>")
  }
}
