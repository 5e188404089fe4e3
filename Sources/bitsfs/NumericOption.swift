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

  /// A size as `size` reads it, or a percentage of something (`25%`, up to 100).
  static func sizeOrPercent(_ option: String, in range: ClosedRange<UInt64>) -> @Sendable (String) throws -> Amount {
    { text in
      guard text.hasSuffix("%") else { return .bytes(try size(option, in: range)(text)) }
      guard let percent = Double(text.dropLast()), (0...100).contains(percent) else {
        throw ValidationError("\(option) must be a percentage between 0% and 100%, or a size (suffixes K, M, G, T)")
      }
      return .percent(percent)
    }
  }

  /// A size given in bytes or as a percentage of a whole.
  enum Amount: Sendable, Equatable {
    case bytes(UInt64)
    case percent(Double)

    /// The bytes this amount is of `whole`.
    func bytes(of whole: UInt64) -> UInt64 {
      switch self {
      case .bytes(let bytes): bytes
      case .percent(let percent): UInt64(Double(whole) * percent / 100)
      }
    }
  }

  /// `86400` rather than `86400.0`.
  private static func decimal(_ value: Double) -> String {
    value == value.rounded() ? String(Int64(value)) : String(value)
  }
}
