import FoundationEssentials

/// A request header set per job, such as `Authorization`. Its value is never logged or stored.
public struct HTTPHeader: Hashable, Sendable, CustomStringConvertible {
  public var name: String
  public var value: String

  public init(name: String, value: String) {
    self.name = name
    self.value = value
  }

  /// Parses `Name: value`; `nil` unless the name is an HTTP token and the value holds no control
  /// characters: a CR or LF would let one header smuggle in others.
  public init?(line: String) {
    guard let colon = line.firstIndex(of: ":") else { return nil }
    let name = line[..<colon].trimmingHTTPWhitespace()
    let value = line[line.index(after: colon)...].trimmingHTTPWhitespace()
    let tokenSymbols = Set("!#$%&'*+-.^_`|~".unicodeScalars)
    guard !name.isEmpty,
      name.unicodeScalars.allSatisfy({
        $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || tokenSymbols.contains($0))
      }),
      value.unicodeScalars.allSatisfy({ $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) })
    else { return nil }
    self.init(name: name, value: value)
  }

  /// Shows the name only: values are often credentials.
  public var description: String { "\(name): <redacted>" }
}

/// One HTTP GET, optionally for a single byte range and conditional on the version (`If-Range`).
public struct HTTPRequest: Sendable {
  public var url: String
  public var range: Range<UInt64>?
  public var ifRange: String?
  public var headers: [HTTPHeader]

  public init(url: String, range: Range<UInt64>?, ifRange: String? = nil, headers: [HTTPHeader] = []) {
    self.url = url
    self.range = range
    self.ifRange = ifRange
    self.headers = headers
  }
}

/// `Content-Range: bytes first-last/complete` (or `bytes */complete` on a 416).
public struct ContentRange: Hashable, Sendable {
  public var bytes: Range<UInt64>?
  public var completeLength: UInt64?

  public init?(_ value: String) {
    let trimmed = value.trimmingHTTPWhitespace()
    guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
    let spec = trimmed.dropFirst("bytes ".count).trimmingHTTPWhitespace()
    let halves = spec.split(separator: "/", maxSplits: 1).map(String.init)
    guard halves.count == 2 else { return nil }
    if halves[1] == "*" {
      completeLength = nil
    } else {
      guard let complete = UInt64(halves[1]) else { return nil }
      completeLength = complete
    }
    if halves[0] == "*" {
      bytes = nil
    } else {
      let ends = halves[0].split(separator: "-", maxSplits: 1)
      guard ends.count == 2, let first = UInt64(ends[0]), let last = UInt64(ends[1]), first <= last,
        last < UInt64.max
      else { return nil }
      bytes = first..<(last + 1)
    }
  }
}

/// The status and headers of the final response (after redirects).
public struct HTTPResponseHead: Sendable {
  public var status: Int
  /// Header names in lower case; a repeated header keeps its last value.
  public var headers: [String: String]

  public init(status: Int, headers: [String: String]) {
    self.status = status
    self.headers = headers
  }

  public subscript(name: String) -> String? { headers[name.lowercased()] }

  /// Folds one raw line of a response head in: a status line starts a new response (after a
  /// redirect or a 1xx) and forgets the previous one's headers; `Name: value` sets a header;
  /// anything else is ignored.
  public mutating func add(line bytes: UnsafeRawBufferPointer) {
    let line = String(decoding: bytes, as: UTF8.self).trimmingHTTPWhitespace()
    if line.hasPrefix("HTTP/") {
      headers.removeAll()
      let parts = line.split(separator: " ", maxSplits: 2)
      status = parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
      return
    }
    guard let colon = line.firstIndex(of: ":") else { return }
    let name = line[..<colon].lowercased()
    headers[name] = line[line.index(after: colon)...].trimmingHTTPWhitespace()
  }

  public var contentRange: ContentRange? { self["content-range"].flatMap(ContentRange.init) }
  public var contentLength: UInt64? {
    self["content-length"].flatMap { UInt64($0.trimmingHTTPWhitespace()) }
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces, tabs, CRs and LFs (HTTP's optional whitespace and
  /// line ends).
  func trimmingHTTPWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
      return ""
    }
    return String(self[first...last])
  }
}
