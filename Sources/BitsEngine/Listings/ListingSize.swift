/// Sizes as HTML listings show them: `1234` (exact bytes), `-` (none, a directory), or rounded
/// to a binary unit: `12K`, `1.2M`, `3.0G`. Each server rounds its own way (nginx and Apache to
/// the nearest, lighttpd down, and lighttpd shows 1 to 99 bytes as `0.1K`), so a rounded size
/// is read as the interval of one unit of its last digit either side, which holds all of them.
enum ListingSize {
  private static let units: [(unit: UInt8, bytes: UInt64)] = [
    (UInt8(ascii: "K"), 1 << 10), (UInt8(ascii: "M"), 1 << 20), (UInt8(ascii: "G"), 1 << 30),
    (UInt8(ascii: "T"), 1 << 40), (UInt8(ascii: "P"), 1 << 50), (UInt8(ascii: "E"), 1 << 60),
  ]

  /// `nil` when `token` is not a size.
  static func parse(_ token: Slice<UnsafeBufferPointer<UInt8>>) -> DirectoryListing.Size? {
    if token.elementsEqual("-".utf8) { return .unknown }
    if let bytes = decimal(token) { return .exact(bytes) }
    guard let last = token.last, let unit = units.first(where: { $0.unit == last })?.bytes else { return nil }
    let number = token.dropLast()
    let dot = number.firstIndex(of: UInt8(ascii: "."))
    // In tenths of the unit, with the step of the last digit shown.
    let whole = number[..<(dot ?? number.endIndex)]
    guard whole.count <= 6, let integer = decimal(whole) else { return nil }
    var tenths = integer * 10
    var step: UInt64 = 10
    if let dot {
      guard number.endIndex - dot == 2, let digit = decimal(number[(dot + 1)...]) else { return nil }
      tenths += digit
      step = 1
    }
    let low = tenths >= step ? tenths - step : 0
    let (high, overflow) = (tenths + step).multipliedReportingOverflow(by: unit)
    // Past 2^64 bytes is no file's size.
    guard !overflow else { return .unknown }
    return .approximate(low * unit / 10...high / 10)
  }

  /// Decimal digits, as ``decimalField(_:)`` reads them; `nil` for anything else.
  private static func decimal(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> UInt64? {
    guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
      return nil
    }
    return try? decimalField(String(decoding: digits, as: UTF8.self))
  }
}
