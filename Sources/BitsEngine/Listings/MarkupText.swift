import Glibc

/// What HTML and XML listings share: character references and byte scanning, all linear, on
/// the bytes (unsafe buffers where per entry, without reference counting): a listing has a tag
/// or two and a reference or two per entry, and `Character` and `String` work on each, with an
/// array per tag, was most of the time of reading one.
enum MarkupText {
  /// A start or end tag of HTML or XML: where its parts are in the bytes it was read from.
  struct Tag {
    var name: Range<Int>
    var closing: Bool
    /// `<name … />`.
    var selfClosing: Bool
    /// The index after its `>`.
    var end: Int

    /// Whether the tag is named `wanted` (lower-case ASCII), in any case.
    func isNamed(_ wanted: StaticString, in body: UnsafeBufferPointer<UInt8>) -> Bool {
      MarkupText.equalsIgnoringCase(body[name], wanted)
    }
  }

  /// The tag starting at `start` (a `<`), or `nil` when none starts there. `attribute` is given
  /// each `name=value` of it in order, as ranges of `body` (the value raw, without its quotes).
  static func tag(
    in body: [UInt8], at start: Int, attribute: (_ name: Range<Int>, _ value: Range<Int>) -> Void = { _, _ in }
  ) -> Tag? {
    body.withUnsafeBufferPointer { tag(in: $0, at: start, attribute: attribute) }
  }

  static func tag(
    in body: UnsafeBufferPointer<UInt8>, at start: Int,
    attribute: (_ name: Range<Int>, _ value: Range<Int>) -> Void = { _, _ in }
  ) -> Tag? {
    var index = start + 1
    let closing = index < body.count && body[index] == UInt8(ascii: "/")
    if closing { index += 1 }
    let nameStart = index
    while index < body.count, isNameByte(body[index]) { index += 1 }
    guard index > nameStart, isLetter(body[nameStart]) else { return nil }
    var tag = Tag(name: nameStart..<index, closing: closing, selfClosing: false, end: 0)
    while index < body.count, body[index] != UInt8(ascii: ">") {
      if isSpace(body[index]) || body[index] == UInt8(ascii: "/") {
        tag.selfClosing = body[index] == UInt8(ascii: "/")
        index += 1
        continue
      }
      tag.selfClosing = false
      let attributeStart = index
      while index < body.count, !isSpace(body[index]), body[index] != UInt8(ascii: "="),
        body[index] != UInt8(ascii: ">")
      {
        index += 1
      }
      let name = attributeStart..<index
      while index < body.count, isSpace(body[index]) { index += 1 }
      guard index < body.count, body[index] == UInt8(ascii: "=") else { continue }
      index += 1
      while index < body.count, isSpace(body[index]) { index += 1 }
      let value: Range<Int>
      if index < body.count, body[index] == UInt8(ascii: "\"") || body[index] == UInt8(ascii: "'") {
        let quote = body[index]
        let valueStart = index + 1
        index = valueStart
        while index < body.count, body[index] != quote { index += 1 }
        value = valueStart..<index
        if index < body.count { index += 1 }
      } else {
        let valueStart = index
        while index < body.count, !isSpace(body[index]), body[index] != UInt8(ascii: ">") { index += 1 }
        value = valueStart..<index
      }
      attribute(name, value)
    }
    tag.end = min(index + 1, body.count)
    return tag
  }

  /// Text with the character references listings write (`&amp;`, `&#x26;`, `&nbsp;`…) replaced.
  static func decoded(_ text: [UInt8]) -> String {
    String(decoding: decodedBytes(text), as: UTF8.self)
  }

  static func decodedBytes(_ text: some Collection<UInt8>) -> [UInt8] {
    var bytes = Array(text)
    decode(&bytes, from: 0)
    return bytes
  }

  /// Replaces the references in `text[start...]` in place: each is longer than its character
  /// in UTF-8 (`&lt;` is four bytes for one, `&#65536;` eight for four), so the decoded bytes
  /// never overtake those still to read.
  static func decode(_ text: inout [UInt8], from start: Int) {
    guard var index = text[start...].firstIndex(of: UInt8(ascii: "&")) else { return }
    var written = index
    while index < text.count {
      guard text[index] == UInt8(ascii: "&"),
        let semicolon = text[index..<min(text.count, index + 12)].firstIndex(of: UInt8(ascii: ";")),
        let scalar = reference(text[(index + 1)..<semicolon])
      else {
        text[written] = text[index]
        written += 1
        index += 1
        continue
      }
      for byte in scalar.utf8 {
        text[written] = byte
        written += 1
      }
      index = semicolon + 1
    }
    text.removeSubrange(written...)
  }

  /// The character of a reference's inside (`amp`, `#38`, `#x26`); `nil` for others. As
  /// `UInt32(_:radix:)` reads them, the digits may have a `+` before them, and count it.
  private static func reference(_ inside: ArraySlice<UInt8>) -> Unicode.Scalar? {
    guard inside.first == UInt8(ascii: "#") else {
      return named.first { name, _ in name.withUTF8Buffer { inside.elementsEqual($0) } }?.1
    }
    let hex = inside.count > 1 && inside[inside.startIndex + 1] | 0x20 == UInt8(ascii: "x")
    let digits = inside.dropFirst(hex ? 2 : 1)
    guard (1...8).contains(digits.count) else { return nil }
    let unsigned = digits.first == UInt8(ascii: "+") ? digits.dropFirst() : digits
    guard !unsigned.isEmpty else { return nil }
    // Eight digits, even hexadecimal ones, fit in 32 bits.
    var value: UInt32 = 0
    for byte in unsigned {
      guard let digit = hex ? hexValue(byte) : decimalValue(byte) else { return nil }
      value = value * (hex ? 16 : 10) + UInt32(digit)
    }
    return value == 0 ? nil : Unicode.Scalar(value)
  }

  private static let named: [(StaticString, Unicode.Scalar)] = [
    ("amp", "&"), ("lt", "<"), ("gt", ">"), ("quot", "\""), ("apos", "'"), ("nbsp", "\u{A0}"),
  ]

  private static func decimalValue(_ byte: UInt8) -> UInt8? {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? byte - UInt8(ascii: "0") : nil
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  static func hasPrefix(_ prefix: StaticString, in body: [UInt8], at index: Int) -> Bool {
    body.withUnsafeBufferPointer { hasPrefix(prefix, in: $0, at: index) }
  }

  static func hasPrefix(_ prefix: StaticString, in body: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
    prefix.withUTF8Buffer { index + $0.count <= body.count && body[index..<(index + $0.count)].elementsEqual($0) }
  }

  static func find(_ needle: some Collection<UInt8>, in body: [UInt8], from start: Int, ignoringCase: Bool) -> Int? {
    body.withUnsafeBufferPointer { find(needle, in: $0, from: start, ignoringCase: ignoringCase) }
  }

  /// The index of the first `needle` in `body` at or after `start`. Listing markers and end tags
  /// are short, so the naive search stays linear in practice and never backtracks far.
  static func find(
    _ needle: some Collection<UInt8>, in body: UnsafeBufferPointer<UInt8>, from start: Int, ignoringCase: Bool
  ) -> Int? {
    guard let first = needle.first, body.count >= needle.count, start <= body.count - needle.count else { return nil }
    let last = body.count - needle.count
    let firstInAnyCase = ignoringCase && lowercased(first) != uppercased(first)
    var index = start
    while index <= last {
      guard
        let candidate = firstInAnyCase
          ? body[index...last].firstIndex(where: { lowercased($0) == lowercased(first) })
          : firstIndex(of: first, in: body, from: index, to: last + 1)
      else { return nil }
      let window = body[candidate..<(candidate + needle.count)]
      if ignoringCase ? equalsIgnoringCase(window, needle) : window.elementsEqual(needle) { return candidate }
      index = candidate + 1
    }
    return nil
  }

  /// The index of the first `byte` in `body[start..<end]`: `memchr`'s, many times a byte loop.
  static func firstIndex(of byte: UInt8, in body: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
    guard start < end, let base = body.baseAddress,
      let found = memchr(base + start, Int32(byte), end - start)
    else { return nil }
    return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
  }

  /// Whether `bytes` and `other` are the same ASCII text, in any case.
  static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ other: some Collection<UInt8>) -> Bool {
    bytes.count == other.count && zip(bytes, other).allSatisfy { lowercased($0) == lowercased($1) }
  }

  static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ other: StaticString) -> Bool {
    other.withUTF8Buffer { equalsIgnoringCase(bytes, $0) }
  }

  static func lowercased(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
  }

  private static func uppercased(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
  }

  static func isLetter(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(lowercased(byte))
  }

  static func isNameByte(_ byte: UInt8) -> Bool {
    isLetter(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
      || byte == UInt8(ascii: ":")
  }

  static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C
  }
}
