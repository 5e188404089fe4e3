import FoundationEssentials

/// The pieces of the textual dates the engine reads (HTTP headers, listings), on UTF-8 bytes:
/// a `Character` walk over them cost more than the rest of parsing a listing.
enum DateFields {
  private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

  /// Decimal digits only, as many as `digits` allows (at most nine).
  static func number(_ text: some Collection<UInt8>, digits: ClosedRange<Int> = 1...9) -> Int? {
    guard digits.contains(text.count), text.count <= 9 else { return nil }
    var value = 0
    for byte in text {
      guard (0x30...0x39).contains(byte) else { return nil }
      value = value * 10 + Int(byte - 0x30)
    }
    return value
  }

  /// 1 to 12 for an English month abbreviation in any case (`Dec`, `dec`).
  static func month(_ text: some Collection<UInt8>) -> Int? {
    guard text.count == 3 else { return nil }
    var bytes = text.makeIterator()
    return month(bytes.next()!, bytes.next()!, bytes.next()!)
  }

  /// The three letters of a month abbreviation in any case, as 1 to 12.
  static func month(_ first: UInt8, _ second: UInt8, _ third: UInt8) -> Int? {
    // ASCII letters in lower case by their 0x20 bit; no other byte becomes a letter that way.
    let key = UInt32(first | 0x20) << 16 | UInt32(second | 0x20) << 8 | UInt32(third | 0x20)
    return monthKeys.firstIndex(of: key).map { $0 + 1 }
  }

  private static let monthKeys: [UInt32] = months.map { name in
    name.utf8.reduce(0) { $0 << 8 | UInt32($1) }
  }

  /// A day of the proleptic Gregorian calendar (years 1 to 9999) and seconds after its midnight,
  /// in UTC; `nil` for a day that does not exist.
  static func date(year: Int, month: Int, day: Int, seconds: Int) -> Date? {
    let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    guard (1...9999).contains(year), (1...12).contains(month) else { return nil }
    let length =
      switch month {
      case 2: isLeap ? 29 : 28
      case 4, 6, 9, 11: 30
      default: 31
      }
    guard (1...length).contains(day) else { return nil }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil); every term is positive from year 1.
    let shifted = month <= 2 ? year - 1 : year
    let era = shifted / 400
    let yearOfEra = shifted - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    let days = era * 146_097 + dayOfEra - 719_468
    return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + seconds))
  }
}
