/// Numbers as the command line shows them to people.
package enum TextFormat {
  /// A byte count in binary units with one decimal, e.g. `12.5 MiB`; bytes below 1 KiB as is.
  package static func bytes(_ count: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(count) B" : "\(oneDecimal(value)) \(units[unit])"
  }

  /// A non-negative `value` rounded to one decimal, e.g. `12.5`.
  package static func oneDecimal(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }
}
