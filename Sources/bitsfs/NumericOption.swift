import ArgumentParser

/// Parsers for numeric options. A value outside the option's range (NaN, infinite, negative,
/// zero where it means nothing, too large) is refused while parsing, with a message naming the
/// option and its range, rather than trapping later in a conversion to `Duration` or an integer.
/// Declare such options with `parsing: .unconditional`, so that `-1` is read as a value.
enum NumericOption {
  static func seconds(_ option: String, in range: ClosedRange<Double>) -> @Sendable (String) throws -> Double {
    { text in
      // NaN lies in no range.
      guard let value = Double(text), range.contains(value) else {
        throw ValidationError(
          "\(option) must be a number of seconds between \(decimal(range.lowerBound)) and \(decimal(range.upperBound))")
      }
      return value
    }
  }

  static func count(_ option: String, in range: ClosedRange<Int>) -> @Sendable (String) throws -> Int {
    { text in
      guard let value = Int(text), range.contains(value) else {
        throw ValidationError("\(option) must be a whole number between \(range.lowerBound) and \(range.upperBound)")
      }
      return value
    }
  }

  static func powerOfTwo(_ option: String, in range: ClosedRange<UInt64>) -> @Sendable (String) throws -> UInt64 {
    { text in
      guard let value = UInt64(text), range.contains(value), value.nonzeroBitCount == 1 else {
        throw ValidationError(
          "\(option) must be a power of two between \(range.lowerBound) and \(range.upperBound)")
      }
      return value
    }
  }

  /// A size in bytes, with an optional binary suffix: `0`, `4096`, `512K`, `64M`, `1G`.
  static func size(_ option: String, in range: ClosedRange<UInt64>) -> @Sendable (String) throws -> UInt64 {
    { text in
      let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
      var digits = Substring(text)
      var unit: UInt64 = 1
      if let last = digits.last?.uppercased().first, let multiplier = units[last] {
        unit = multiplier
        digits = digits.dropLast()
      }
      guard let number = UInt64(digits), case let (value, overflow) = number.multipliedReportingOverflow(by: unit),
        !overflow, range.contains(value)
      else {
        throw ValidationError(
          "\(option) must be a size between \(range.lowerBound) and \(range.upperBound) bytes (suffixes K, M, G, T)")
      }
      return value
    }
  }

  /// `86400` rather than `86400.0`.
  private static func decimal(_ value: Double) -> String {
    value == value.rounded() ? String(Int64(value)) : String(value)
  }
}
