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

  /// Dates from 1900 to 9999, as Foundation writes them in each form, read back to the second.
  func testDatesAcrossTheCalendarReadBackInEachForm() {
    let forms = ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"]
    let formatters = forms.map { form in
      let formatter = DateFormatter()
      formatter.locale = Locale(identifier: "en_US_POSIX")
      formatter.timeZone = TimeZone(identifier: "GMT")
      formatter.dateFormat = form
      return formatter
    }
    let first = -2_208_988_800  // 1900-01-01
    let span = 253_402_300_799 - first  // to 9999-12-31 23:59:59
    for index in 0..<4000 {
      let date = Date(timeIntervalSince1970: TimeInterval(first + (index * 2_654_435_761 + index * index) % span))
      let fixdate = formatters[0].string(from: date)
      XCTAssertEqual(HTTPDate.parse(fixdate), date, fixdate)
      XCTAssertEqual(HTTPDate.parse(fixdate.lowercased().replacingOccurrences(of: "gmt", with: "GMT")), date)
      let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "GMT")!, from: date).year!
      if (1970..<2070).contains(year) {
        XCTAssertEqual(HTTPDate.parse(formatters[1].string(from: date)), date, formatters[1].string(from: date))
      }
      let asctime = formatters[2].string(from: date)
      XCTAssertEqual(HTTPDate.parse(asctime), date, asctime)
    }
  }
}
