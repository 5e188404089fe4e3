/// What HTML and XML listings share: character references and byte scanning, all linear.
enum MarkupText {
  /// A start or end tag of HTML or XML.
  struct Tag {
    var name: ArraySlice<UInt8>
    var closing: Bool
    /// `<name … />`.
    var selfClosing: Bool
    var attributes: [(name: ArraySlice<UInt8>, value: ArraySlice<UInt8>)]
    /// The index after its `>`.
    var end: Int

    /// Whether the tag is named `wanted` (lower-case ASCII), in any case.
    func isNamed(_ wanted: StaticString) -> Bool {
      name.count == wanted.utf8CodeUnitCount
        && wanted.withUTF8Buffer { zip(name, $0).allSatisfy { MarkupText.lowercased($0) == $1 } }
    }

    /// The raw value of the first attribute of that name (ASCII, any case).
    func attribute(_ name: String) -> [UInt8]? {
      let wanted = Array(name.utf8)
      return attributes.first { $0.name.map(MarkupText.lowercased).elementsEqual(wanted) }.map { Array($0.value) }
    }
  }

  /// The tag starting at `start` (a `<`), or `nil` when none starts there.
  static func tag(in body: [UInt8], at start: Int) -> Tag? {
    var index = start + 1
    let closing = index < body.count && body[index] == UInt8(ascii: "/")
    if closing { index += 1 }
    let nameStart = index
    while index < body.count, isNameByte(body[index]) { index += 1 }
    guard index > nameStart, isLetter(body[nameStart]) else { return nil }
    var tag = Tag(name: body[nameStart..<index], closing: closing, selfClosing: false, attributes: [], end: 0)
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
      let attribute = body[attributeStart..<index]
      while index < body.count, isSpace(body[index]) { index += 1 }
      guard index < body.count, body[index] == UInt8(ascii: "=") else { continue }
      index += 1
      while index < body.count, isSpace(body[index]) { index += 1 }
      let value: ArraySlice<UInt8>
      if index < body.count, body[index] == UInt8(ascii: "\"") || body[index] == UInt8(ascii: "'") {
        let quote = body[index]
        let valueStart = index + 1
        index = valueStart
        while index < body.count, body[index] != quote { index += 1 }
        value = body[valueStart..<index]
        if index < body.count { index += 1 }
      } else {
        let valueStart = index
        while index < body.count, !isSpace(body[index]), body[index] != UInt8(ascii: ">") { index += 1 }
        value = body[valueStart..<index]
      }
      tag.attributes.append((attribute, value))
    }
    tag.end = min(index + 1, body.count)
    return tag
  }

  /// Text with the character references listings write (`&amp;`, `&#x26;`, `&nbsp;`…) replaced.
  static func decoded(_ text: [UInt8]) -> String {
    String(decoding: decodedBytes(text), as: UTF8.self)
  }

  static func decodedBytes(_ text: [UInt8]) -> [UInt8] {
    guard text.contains(UInt8(ascii: "&")) else { return text }
    var result: [UInt8] = []
    result.reserveCapacity(text.count)
    var index = 0
    while index < text.count {
      guard text[index] == UInt8(ascii: "&"),
        let semicolon = text[index..<min(text.count, index + 12)].firstIndex(of: UInt8(ascii: ";")),
        let scalar = reference(text[(index + 1)..<semicolon])
      else {
        result.append(text[index])
        index += 1
        continue
      }
      result.append(contentsOf: Array(String(Character(scalar)).utf8))
      index = semicolon + 1
    }
    return result
  }

  private static let named: [String: Unicode.Scalar] = [
    "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}",
  ]

  /// The character of a reference's inside (`amp`, `#38`, `#x26`); `nil` for others.
  private static func reference(_ inside: ArraySlice<UInt8>) -> Unicode.Scalar? {
    let text = String(decoding: inside, as: UTF8.self)
    guard text.hasPrefix("#") else { return named[text] }
    let hex = text.hasPrefix("#x") || text.hasPrefix("#X")
    let digits = text.dropFirst(hex ? 2 : 1)
    guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: hex ? 16 : 10), value != 0 else {
      return nil
    }
    return Unicode.Scalar(value)
  }

  static func hasPrefix(_ prefix: String, in body: [UInt8], at index: Int) -> Bool {
    let bytes = Array(prefix.utf8)
    return index + bytes.count <= body.count && body[index..<(index + bytes.count)].elementsEqual(bytes)
  }

  /// The index of the first `needle` in `body` at or after `start`. Listing markers and end tags
  /// are short, so the naive search stays linear in practice and never backtracks far.
  static func find(_ needle: [UInt8], in body: [UInt8], from start: Int, ignoringCase: Bool) -> Int? {
    guard let first = needle.first, body.count >= needle.count else { return nil }
    var index = start
    while index <= body.count - needle.count {
      if matches(body[index], first, ignoringCase),
        zip(body[index..<(index + needle.count)], needle).allSatisfy({ matches($0, $1, ignoringCase) })
      {
        return index
      }
      index += 1
    }
    return nil
  }

  private static func matches(_ byte: UInt8, _ other: UInt8, _ ignoringCase: Bool) -> Bool {
    ignoringCase ? lowercased(byte) == lowercased(other) : byte == other
  }

  static func lowercased(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
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
