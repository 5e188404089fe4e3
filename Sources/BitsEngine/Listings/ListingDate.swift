import FoundationEssentials

/// Dates as listings write them. HTML listings: nginx `01-Dec-2026 11:19`, Apache
/// `2026-12-01 11:19`, lighttpd `2026-Dec-01 11:19:59`, each in two tokens; machine-readable
/// ones: ISO 8601 (`2026-12-01T11:19:59Z`, with a fraction or an offset: nginx XML, Caddy, S3)
/// and HTTP dates (nginx JSON).
enum ListingDate {
  private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

  /// A date and a time token of an HTML listing, read as UTC.
  static func parse(day: Substring, time: Substring) -> Date? {
    let fields = day.split(separator: "-", omittingEmptySubsequences: false)
    guard fields.count == 3 else { return nil }
    let year: Int?
    let month: Int?
    let dayOfMonth: Int?
    if fields[0].utf8.count == 4 {
      year = number(fields[0])
      month = number(fields[1]) ?? monthNumber(fields[1])
      dayOfMonth = number(fields[2])
    } else {
      dayOfMonth = number(fields[0])
      month = monthNumber(fields[1])
      year = number(fields[2])
    }
    guard let year, let month, let dayOfMonth, let seconds = clock(time) else { return nil }
    return civil(year: year, month: month, day: dayOfMonth, seconds: seconds)
  }

  /// `2026-12-01T11:19:59Z`, `2026-12-01T11:21:30.000Z`, `2026-12-01T12:19:59.8226+01:00`.
  static func parseISO8601(_ text: Substring) -> Date? {
    let parts = text.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    let dayFields = parts[0].split(separator: "-", omittingEmptySubsequences: false)
    guard dayFields.count == 3, dayFields[0].utf8.count == 4, let year = number(dayFields[0]),
      let month = number(dayFields[1]), let day = number(dayFields[2])
    else { return nil }
    var time = parts[1]
    var offset = 0
    if time.hasSuffix("Z") || time.hasSuffix("z") {
      time = time.dropLast()
    } else if let sign = time.lastIndex(where: { $0 == "+" || $0 == "-" }) {
      let zone = time[time.index(after: sign)...].split(separator: ":", omittingEmptySubsequences: false)
      guard zone.count == 2, let hours = number(zone[0]), let minutes = number(zone[1]), hours < 24, minutes < 60
      else { return nil }
      offset = (hours * 60 + minutes) * 60 * (time[sign] == "+" ? 1 : -1)
      time = time[..<sign]
    } else {
      return nil
    }
    var fraction = 0.0
    if let dot = time.firstIndex(of: ".") {
      let digits = time[time.index(after: dot)...]
      guard (1...9).contains(digits.utf8.count), let value = number(digits) else { return nil }
      fraction = Double(value) / Double(pow10(digits.utf8.count))
      time = time[..<dot]
    }
    guard let seconds = clock(time), let date = civil(year: year, month: month, day: day, seconds: seconds) else {
      return nil
    }
    return date.addingTimeInterval(fraction - Double(offset))
  }

  /// `HH:MM` or `HH:MM:SS`, in seconds after midnight.
  private static func clock(_ text: Substring) -> Int? {
    let fields = text.split(separator: ":", omittingEmptySubsequences: false)
    guard fields.count == 2 || fields.count == 3, fields.allSatisfy({ $0.utf8.count == 2 }),
      let hour = number(fields[0]), let minute = number(fields[1]), hour < 24, minute < 60
    else { return nil }
    let second = fields.count == 3 ? number(fields[2]) : 0
    guard let second, second <= 60 else { return nil }
    return (hour * 60 + minute) * 60 + second
  }

  /// The date of a day of the proleptic Gregorian calendar and a time of it, in UTC; `nil` for a
  /// day that does not exist.
  private static func civil(year: Int, month: Int, day: Int, seconds: Int) -> Date? {
    let lengths = [
      31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
    ]
    guard (1970...9999).contains(year), (1...12).contains(month), (1...lengths[month - 1]).contains(day) else {
      return nil
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil), for years from 1970 on.
    let shifted = month <= 2 ? year - 1 : year
    let era = shifted / 400
    let yearOfEra = shifted - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    let days = era * 146_097 + dayOfEra - 719_468
    return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + seconds))
  }

  /// Decimal digits only, at most nine of them.
  private static func number(_ text: Substring) -> Int? {
    guard (1...9).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
    return Int(text)
  }

  private static func monthNumber(_ text: Substring) -> Int? {
    months.firstIndex(of: text.lowercased()).map { $0 + 1 }
  }

  private static func pow10(_ exponent: Int) -> Int {
    (0..<exponent).reduce(1) { result, _ in result * 10 }
  }
}
