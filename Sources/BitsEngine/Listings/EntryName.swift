/// The rules for a listed name: it must be usable as one path component of the mount.
package enum EntryName {
  /// The longest name Linux takes as one component (`NAME_MAX`), in bytes.
  static let maximumLength = 255

  /// `name` if it is safe: not empty, not `.` or `..`, no `/` or NUL, at most `NAME_MAX` bytes.
  package static func checked(_ name: String) -> String? {
    name.utf8.withContiguousStorageIfAvailable(isSafe) ?? isSafe(name.utf8) ? name : nil
  }

  /// Whether the UTF-8 `bytes` are a safe name. As bytes, `.` and `..` are only themselves, as
  /// they are as strings: no other text is canonically equivalent to either.
  private static func isSafe(_ bytes: some Collection<UInt8>) -> Bool {
    !bytes.isEmpty && bytes.count <= maximumLength
      && !(bytes.count <= 2 && bytes.allSatisfy { $0 == UInt8(ascii: ".") })
      && !bytes.contains(UInt8(ascii: "/")) && !bytes.contains(0)
  }

  /// The percent-decoded UTF-8 `segment` if it is valid UTF-8 and safe; `nil` for a malformed
  /// escape.
  package static func decoded(_ segment: some Collection<UInt8>) -> String? {
    guard let bytes = percentDecoded(segment), isSafe(bytes) else { return nil }
    return String(validating: bytes, as: UTF8.self)
  }

  /// The bytes of `text` with each `%XX` replaced by its byte; `nil` for a `%` not followed by
  /// two hex digits.
  package static func percentDecoded(_ text: some Collection<UInt8>) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.count)
    var iterator = text.makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "%") else {
        bytes.append(byte)
        continue
      }
      guard let high = iterator.next().flatMap(MarkupText.hexValue),
        let low = iterator.next().flatMap(MarkupText.hexValue)
      else {
        return nil
      }
      bytes.append(high << 4 | low)
    }
    return bytes
  }
}
