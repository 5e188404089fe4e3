/// The rules for a listed name: it must be usable as one path component of the mount.
package enum EntryName {
  /// The longest name Linux takes as one component (`NAME_MAX`), in bytes.
  static let maximumLength = 255

  /// `name` if it is safe: not empty, not `.` or `..`, no `/` or NUL, at most `NAME_MAX` bytes.
  package static func checked(_ name: String) -> String? {
    let bytes = name.utf8
    guard !bytes.isEmpty, bytes.count <= maximumLength, name != ".", name != "..",
      !bytes.contains(UInt8(ascii: "/")), !bytes.contains(0)
    else { return nil }
    return name
  }

  /// The percent-decoded `segment` if it is valid UTF-8 and safe; `nil` for a malformed escape.
  package static func decoded(_ segment: some StringProtocol) -> String? {
    guard let bytes = percentDecoded(segment) else { return nil }
    guard let name = String(validating: bytes, as: UTF8.self) else { return nil }
    return checked(name)
  }

  /// The bytes of `text` with each `%XX` replaced by its byte; `nil` for a `%` not followed by
  /// two hex digits.
  package static func percentDecoded(_ text: some StringProtocol) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "%") else {
        bytes.append(byte)
        continue
      }
      guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
        return nil
      }
      bytes.append(high << 4 | low)
    }
    return bytes
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
