import FoundationEssentials

/// Dates in HTTP headers such as `Last-Modified` (RFC 9110 §5.6.7): the IMF-fixdate servers
/// send today, and the obsolete RFC 850 and asctime forms they must still be understood in.
public enum HTTPDate {
  /// `nil` unless `text` is one of the three forms with an existing calendar date and time.
  public static func parse(_ text: String) -> Date? {
    var text = text
    if let date = text.withUTF8(fixdate) { return date }
    // Sun, 06 Nov 1994 08:49:37 GMT | Sunday, 06-Nov-94 08:49:37 GMT | Sun Nov  6 08:49:37 1994
    let tokens = Substring(text).utf8.split {
      $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "-")
    }
    guard tokens.count == 5 || tokens.count == 6, tokens[0].allSatisfy(isASCIILetter) else { return nil }
    if tokens.count == 6 { guard tokens[5].elementsEqual("GMT".utf8) else { return nil } }
    let isAsctime = tokens.count == 5
    guard let month = DateFields.month(isAsctime ? tokens[1] : tokens[2]),
      let day = DateFields.number(isAsctime ? tokens[2] : tokens[1], digits: 1...2),
      var year = DateFields.number(isAsctime ? tokens[4] : tokens[3], digits: isAsctime ? 4...4 : 2...4)
    else { return nil }
    let clock = (isAsctime ? tokens[3] : tokens[4]).split(
      separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    guard clock.count == 3, let hour = DateFields.number(clock[0], digits: 2...2),
      let minute = DateFields.number(clock[1], digits: 2...2), let second = DateFields.number(clock[2], digits: 2...2)
    else { return nil }
    // RFC 850's two-digit years: RFC 9110 reads those more than 50 years ahead as past.
    if year < 100 { year += year < 70 ? 2000 : 1900 }
    guard year >= 1900, hour < 24, minute < 60, second <= 60 else { return nil }
    return DateFields.date(year: year, month: month, day: day, seconds: (hour * 60 + minute) * 60 + second)
  }

  /// `Sun, 06 Nov 1994 08:49:37 GMT` read by the places of its fields, with no token made: a
  /// listing gives one per entry. `nil` for anything else, which the token reading then judges.
  private static func fixdate(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
    guard bytes.count == 29, bytes[0..<3].allSatisfy(isASCIILetter), bytes[3] == UInt8(ascii: ","),
      [4, 7, 11, 16, 25].allSatisfy({ bytes[$0] == UInt8(ascii: " ") }), bytes[19] == UInt8(ascii: ":"),
      bytes[22] == UInt8(ascii: ":"), bytes[26] == UInt8(ascii: "G"), bytes[27] == UInt8(ascii: "M"),
      bytes[28] == UInt8(ascii: "T"), let month = DateFields.month(bytes[8], bytes[9], bytes[10])
    else { return nil }
    func number(_ range: Range<Int>) -> Int? {
      var value = 0
      for byte in bytes[range] {
        guard (0x30...0x39).contains(byte) else { return nil }
        value = value * 10 + Int(byte - 0x30)
      }
      return value
    }
    guard let day = number(5..<7), let year = number(12..<16), let hour = number(17..<19),
      let minute = number(20..<22), let second = number(23..<25),
      year >= 1900, hour < 24, minute < 60, second <= 60
    else { return nil }
    return DateFields.date(year: year, month: month, day: day, seconds: (hour * 60 + minute) * 60 + second)
  }

  private static func isASCIILetter(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
  }
}
