import BitsEngine
import XCTest

final class HTTPDateTests: XCTestCase {
  private let november6 = Date(timeIntervalSince1970: 784_111_777)

  func testTheThreeFormsOfRFC9110() {
    XCTAssertEqual(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT"), november6)
    XCTAssertEqual(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT"), november6)
    XCTAssertEqual(HTTPDate.parse("Sun Nov  6 08:49:37 1994"), november6)
    XCTAssertEqual(HTTPDate.parse("Tue, 24 Nov 2026 10:00:00 GMT"), Date(timeIntervalSince1970: 1_795_514_400))
  }

  func testMalformedOrImpossibleDatesAreRefused() {
    for text in [
      "", "GMT", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 31 Feb 1994 08:49:37 GMT",
      "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
      "Sun, 06 Nov 99999999999999999999 08:49:37 GMT", "Sun, ٠٦ Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z",
      "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
    ] {
      XCTAssertNil(HTTPDate.parse(text), text)
    }
  }
}
