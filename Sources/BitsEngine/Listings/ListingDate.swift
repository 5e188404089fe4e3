import FoundationEssentials

/// Dates as listings write them. HTML listings: nginx `01-Dec-2026 11:19`, Apache
/// `2026-12-01 11:19`, lighttpd `2026-Dec-01 11:19:59`, each in two tokens; machine-readable
/// ones: ISO 8601 (`2026-12-01T11:19:59Z`, with a fraction or an offset: nginx XML, Caddy, S3)
/// and HTTP dates (nginx JSON).
enum ListingDate {
  /// A date and a time token of an HTML listing, read as UTC.
  static func parse(day: Slice<UnsafeBufferPointer<UInt8>>, time: Slice<UnsafeBufferPointer<UInt8>>) -> Date? {
    guard let firstDash = day.firstIndex(of: UInt8(ascii: "-")),
      let secondDash = day[(firstDash + 1)...].firstIndex(of: UInt8(ascii: "-")),
      !day[(secondDash + 1)...].contains(UInt8(ascii: "-"))
    else { return nil }
    let fields = (day[..<firstDash], day[(firstDash + 1)..<secondDash], day[(secondDash + 1)...])
    let year: Int?
    let month: Int?
    let dayOfMonth: Int?
    if fields.0.count == 4 {
      year = DateFields.number(fields.0)
      month = DateFields.number(fields.1) ?? DateFields.month(fields.1)
      dayOfMonth = DateFields.number(fields.2)
    } else {
      dayOfMonth = DateFields.number(fields.0)
      month = DateFields.month(fields.1)
      year = DateFields.number(fields.2)
    }
    guard let year, let month, let dayOfMonth, let seconds = clock(time) else { return nil }
    return civil(year: year, month: month, day: dayOfMonth, seconds: seconds)
  }

  /// `2026-12-01T11:19:59Z`, `2026-12-01T11:21:30.000Z`, `2026-12-01T12:19:59.8226+01:00`.
  static func parseISO8601(_ text: Substring) -> Date? {
    let parts = text.utf8.split(separator: UInt8(ascii: "T"), maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    let dayFields = parts[0].split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
    guard dayFields.count == 3, dayFields[0].count == 4, let year = DateFields.number(dayFields[0]),
      let month = DateFields.number(dayFields[1]), let day = DateFields.number(dayFields[2])
    else { return nil }
    var time = parts[1]
    var offset = 0
    if time.last == UInt8(ascii: "Z") || time.last == UInt8(ascii: "z") {
      time = time.dropLast()
    } else if let sign = time.lastIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }) {
      let zone = time[time.index(after: sign)...].split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
      guard zone.count == 2, let hours = DateFields.number(zone[0]), let minutes = DateFields.number(zone[1]),
        hours < 24, minutes < 60
      else { return nil }
      offset = (hours * 60 + minutes) * 60 * (time[sign] == UInt8(ascii: "+") ? 1 : -1)
      time = time[..<sign]
    } else {
      return nil
    }
    var fraction = 0.0
    if let dot = time.firstIndex(of: UInt8(ascii: ".")) {
      let digits = time[time.index(after: dot)...]
      guard let value = DateFields.number(digits) else { return nil }
      fraction = Double(value) / Double(pow10(digits.count))
      time = time[..<dot]
    }
    guard let seconds = clock(time), let date = civil(year: year, month: month, day: day, seconds: seconds) else {
      return nil
    }
    return date.addingTimeInterval(fraction - Double(offset))
  }

  /// `HH:MM` or `HH:MM:SS`, in seconds after midnight.
  private static func clock(_ text: some Collection<UInt8>) -> Int? {
    guard text.count == 5 || text.count == 8 else { return nil }
    // Fields of two digits, a `:` after each but the last: the hour, the minute, the second.
    var seconds = 0
    var field = 0
    for (offset, byte) in zip(0..., text) {
      guard offset % 3 != 2 else {
        guard byte == UInt8(ascii: ":") else { return nil }
        continue
      }
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
      field = field * 10 + Int(byte - UInt8(ascii: "0"))
      if offset % 3 == 1 {
        guard field <= clockLimits[offset / 3] else { return nil }
        seconds = seconds * 60 + field
        field = 0
      }
    }
    return text.count == 5 ? seconds * 60 : seconds
  }

  /// The highest hour, minute and second.
  private static let clockLimits = [23, 59, 60]

  /// Listings date nothing before 1970: an earlier year is a misread.
  private static func civil(year: Int, month: Int, day: Int, seconds: Int) -> Date? {
    guard year >= 1970 else { return nil }
    return DateFields.date(year: year, month: month, day: day, seconds: seconds)
  }

  private static func pow10(_ exponent: Int) -> Int {
    (0..<exponent).reduce(1) { result, _ in result * 10 }
  }
}
