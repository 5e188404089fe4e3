/// Reads a JSON listing (RFC 8259, strictly) straight into ``JSONListingItem``s, one pass over
/// the bytes. `JSONDecoder` took two thirds of the time of reading a listing, most of it in
/// generic decoding machinery; listings are the only JSON bitsfs reads. Values of fields other
/// than the listing's are checked and skipped, nested at most ``maximumDepth`` deep.
struct JSONScanner {
  private let bytes: [UInt8]
  private var offset = 0

  static let maximumDepth = 64

  init(_ bytes: [UInt8]) {
    self.bytes = bytes
  }

  /// The whole document as an array of objects, or `nil`.
  mutating func listingItems() -> [JSONListingItem]? {
    skipSpace()
    guard take(UInt8(ascii: "[")) else { return nil }
    var items: [JSONListingItem] = []
    skipSpace()
    if !take(UInt8(ascii: "]")) {
      repeat {
        skipSpace()
        guard let item = item() else { return nil }
        items.append(item)
        skipSpace()
      } while take(UInt8(ascii: ","))
      guard take(UInt8(ascii: "]")) else { return nil }
    }
    skipSpace()
    return offset == bytes.count ? items : nil
  }

  private mutating func item() -> JSONListingItem? {
    guard take(UInt8(ascii: "{")) else { return nil }
    var item = JSONListingItem()
    skipSpace()
    if take(UInt8(ascii: "}")) { return item }
    repeat {
      skipSpace()
      guard let key = string() else { return nil }
      skipSpace()
      guard take(UInt8(ascii: ":")) else { return nil }
      skipSpace()
      switch key {
      case "name": guard optionalString(into: &item.name) else { return nil }
      case "type": guard optionalString(into: &item.type) else { return nil }
      case "mtime": guard optionalString(into: &item.mtime) else { return nil }
      case "mod_time": guard optionalString(into: &item.modifiedTime) else { return nil }
      case "size":
        if takeNull() {
          item.size = nil
        } else {
          guard let size = unsignedInteger() else { return nil }
          item.size = size
        }
      case "is_dir":
        if takeNull() {
          item.isDirectory = nil
        } else if takeWord("true") {
          item.isDirectory = true
        } else if takeWord("false") {
          item.isDirectory = false
        } else {
          return nil
        }
      default: guard skipValue(depth: 1) else { return nil }
      }
      skipSpace()
    } while take(UInt8(ascii: ","))
    return take(UInt8(ascii: "}")) ? item : nil
  }

  // MARK: Values

  private mutating func optionalString(into field: inout String?) -> Bool {
    if takeNull() {
      field = nil
      return true
    }
    guard let text = string() else { return false }
    field = text
    return true
  }

  /// A string, escapes decoded; `nil` for a malformed one or one that is not UTF-8.
  private mutating func string() -> String? {
    guard take(UInt8(ascii: "\"")) else { return nil }
    let start = offset
    // Most strings have no escape: their bytes are the text.
    while offset < bytes.count, bytes[offset] != UInt8(ascii: "\""), bytes[offset] != UInt8(ascii: "\\"),
      bytes[offset] >= 0x20
    {
      offset += 1
    }
    guard offset < bytes.count else { return nil }
    if bytes[offset] == UInt8(ascii: "\"") {
      offset += 1
      return Self.text(bytes, start..<offset - 1)
    }
    var text = Array(bytes[start..<offset])
    while offset < bytes.count {
      let byte = bytes[offset]
      offset += 1
      switch byte {
      case UInt8(ascii: "\""): return String(validating: text, as: UTF8.self)
      case 0..<0x20: return nil
      case UInt8(ascii: "\\"):
        guard offset < bytes.count else { return nil }
        let escape = bytes[offset]
        offset += 1
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "u"):
          guard let scalar = escapedScalar() else { return nil }
          text.append(contentsOf: String(Character(scalar)).utf8)
        default: return nil
        }
      default: text.append(byte)
      }
    }
    return nil
  }

  /// The bytes of `range` as text, `nil` if they are not UTF-8. ASCII, as most names and every
  /// date are, needs no validating; `String(validating:)` on an array slice is generic code that
  /// looked up type metadata for every string.
  private static func text(_ bytes: [UInt8], _ range: Range<Int>) -> String? {
    bytes.withUnsafeBufferPointer { buffer in
      let part = UnsafeBufferPointer(rebasing: buffer[range])
      guard part.contains(where: { $0 >= 0x80 }) else { return String(decoding: part, as: UTF8.self) }
      return String(validating: part, as: UTF8.self)
    }
  }

  /// The character of `\uXXXX` (the `\u` taken), a surrogate pair as one; `nil` for a lone
  /// surrogate, which is no character.
  private mutating func escapedScalar() -> Unicode.Scalar? {
    guard let first = hexQuad() else { return nil }
    switch first {
    case 0xD800...0xDBFF:
      guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let second = hexQuad(),
        (0xDC00...0xDFFF).contains(second)
      else { return nil }
      return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    case 0xDC00...0xDFFF: return nil
    default: return Unicode.Scalar(first)
    }
  }

  private mutating func hexQuad() -> UInt32? {
    guard bytes.count - offset >= 4 else { return nil }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[offset]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt32(digit)
      offset += 1
    }
    return value
  }

  /// A number that is a whole count of bytes: digits only (no sign, fraction or exponent, and
  /// no leading zero), and no more than `UInt64` holds.
  private mutating func unsignedInteger() -> UInt64? {
    let start = offset
    var value: UInt64 = 0
    while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) {
      let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
      let (sum, carry) = times10.addingReportingOverflow(UInt64(bytes[offset] - UInt8(ascii: "0")))
      guard !overflow, !carry else { return nil }
      value = sum
      offset += 1
    }
    let length = offset - start
    guard length > 0, length == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
    // A fraction or an exponent makes it another number, which no size is.
    guard offset == bytes.count || !".eE".utf8.contains(bytes[offset]) else { return nil }
    return value
  }

  /// Checks and passes over one value of any kind.
  private mutating func skipValue(depth: Int) -> Bool {
    guard depth <= Self.maximumDepth, offset < bytes.count else { return false }
    switch bytes[offset] {
    case UInt8(ascii: "\""): return string() != nil
    case UInt8(ascii: "t"): return takeWord("true")
    case UInt8(ascii: "f"): return takeWord("false")
    case UInt8(ascii: "n"): return takeNull()
    case UInt8(ascii: "["):
      offset += 1
      skipSpace()
      if take(UInt8(ascii: "]")) { return true }
      repeat {
        skipSpace()
        guard skipValue(depth: depth + 1) else { return false }
        skipSpace()
      } while take(UInt8(ascii: ","))
      return take(UInt8(ascii: "]"))
    case UInt8(ascii: "{"):
      offset += 1
      skipSpace()
      if take(UInt8(ascii: "}")) { return true }
      repeat {
        skipSpace()
        guard string() != nil else { return false }
        skipSpace()
        guard take(UInt8(ascii: ":")) else { return false }
        skipSpace()
        guard skipValue(depth: depth + 1) else { return false }
        skipSpace()
      } while take(UInt8(ascii: ","))
      return take(UInt8(ascii: "}"))
    default: return skipNumber()
    }
  }

  /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
  private mutating func skipNumber() -> Bool {
    _ = take(UInt8(ascii: "-"))
    if take(UInt8(ascii: "0")) {
      // No digit may follow a leading zero.
    } else if skipDigits() == 0 {
      return false
    }
    if take(UInt8(ascii: ".")), skipDigits() == 0 { return false }
    if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
      if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
      if skipDigits() == 0 { return false }
    }
    return offset == bytes.count || !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset])
  }

  private mutating func skipDigits() -> Int {
    let start = offset
    while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
    return offset - start
  }

  // MARK: Tokens

  private mutating func skipSpace() {
    while offset < bytes.count {
      switch bytes[offset] {
      case 0x20, 0x09, 0x0A, 0x0D: offset += 1
      default: return
      }
    }
  }

  private mutating func take(_ byte: UInt8) -> Bool {
    guard offset < bytes.count, bytes[offset] == byte else { return false }
    offset += 1
    return true
  }

  private mutating func takeNull() -> Bool { takeWord("null") }

  private mutating func takeWord(_ word: StaticString) -> Bool {
    let count = word.utf8CodeUnitCount
    guard bytes.count - offset >= count else { return false }
    let matches = word.withUTF8Buffer { bytes[offset..<offset + count].elementsEqual($0) }
    if matches { offset += count }
    return matches
  }
}
