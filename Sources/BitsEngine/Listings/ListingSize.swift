/// Sizes as HTML listings show them: `1234` (exact bytes), `-` (none, a directory), or rounded
/// to a binary unit: `12K`, `1.2M`, `3.0G`. Each server rounds its own way (nginx and Apache to
/// the nearest, lighttpd down, and lighttpd shows 1 to 99 bytes as `0.1K`), so a rounded size
/// is read as the interval of one unit of its last digit either side, which holds all of them.
enum ListingSize {
  private static let units: [Character: UInt64] = [
    "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60,
  ]

  /// `nil` when `token` is not a size.
  static func parse(_ token: Substring) -> DirectoryListing.Size? {
    if token == "-" { return .unknown }
    if let bytes = try? decimalField(token) { return .exact(bytes) }
    guard let last = token.last, let unit = units[last] else { return nil }
    let number = token.dropLast()
    let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    // In tenths of the unit, with the step of the last digit shown.
    guard let whole = parts.first, whole.utf8.count <= 6, let integer = try? decimalField(whole) else { return nil }
    var tenths = integer * 10
    var step: UInt64 = 10
    if parts.count == 2 {
      guard parts[1].utf8.count == 1, let digit = try? decimalField(parts[1]) else { return nil }
      tenths += digit
      step = 1
    }
    let low = tenths >= step ? tenths - step : 0
    let (high, overflow) = (tenths + step).multipliedReportingOverflow(by: unit)
    // Past 2^64 bytes is no file's size.
    guard !overflow else { return .unknown }
    return .approximate(low * unit / 10...high / 10)
  }
}
