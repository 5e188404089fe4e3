import FoundationEssentials
import Glibc

/// Dates in HTTP headers such as `Last-Modified` (RFC 9110 §5.6.7): the IMF-fixdate servers
/// send today, and the obsolete RFC 850 and asctime forms they must still be understood in.
public enum HTTPDate {
  private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

  /// `nil` unless `text` is one of the three forms with an existing calendar date and time.
  public static func parse(_ text: String) -> Date? {
    // Sun, 06 Nov 1994 08:49:37 GMT | Sunday, 06-Nov-94 08:49:37 GMT | Sun Nov  6 08:49:37 1994
    let tokens = text.split { $0 == " " || $0 == "," || $0 == "-" }
    guard tokens.count == 5 || tokens.count == 6, tokens[0].allSatisfy(\.isLetter) else { return nil }
    if tokens.count == 6 { guard tokens[5] == "GMT" else { return nil } }
    let isAsctime = tokens.count == 5
    let monthToken = isAsctime ? tokens[1] : tokens[2]
    guard let month = months.firstIndex(of: monthToken.lowercased()),
      let day = number(isAsctime ? tokens[2] : tokens[1], digits: 1...2),
      var year = number(isAsctime ? tokens[4] : tokens[3], digits: isAsctime ? 4...4 : 2...4)
    else { return nil }
    let clock = (isAsctime ? tokens[3] : tokens[4]).split(separator: ":", omittingEmptySubsequences: false)
    guard clock.count == 3, let hour = number(clock[0], digits: 2...2), let minute = number(clock[1], digits: 2...2),
      let second = number(clock[2], digits: 2...2)
    else { return nil }
    // RFC 850's two-digit years: RFC 9110 reads those more than 50 years ahead as past.
    if year < 100 { year += year < 70 ? 2000 : 1900 }
    guard (1...31).contains(day), hour < 24, minute < 60, second <= 60, (1900...9999).contains(year) else { return nil }
    var fields = tm()
    fields.tm_year = Int32(year - 1900)
    fields.tm_mon = Int32(month)
    fields.tm_mday = Int32(day)
    fields.tm_hour = Int32(hour)
    fields.tm_min = Int32(minute)
    fields.tm_sec = Int32(second)
    let seconds = timegm(&fields)
    // timegm normalizes 31 Feb into March: such a date does not exist.
    guard fields.tm_mday == Int32(day), fields.tm_mon == Int32(month) else { return nil }
    return Date(timeIntervalSince1970: TimeInterval(seconds))
  }

  private static func number(_ token: Substring, digits: ClosedRange<Int>) -> Int? {
    guard digits.contains(token.count), token.allSatisfy(\.isASCII), token.allSatisfy(\.isNumber) else { return nil }
    return Int(token)
  }
}
