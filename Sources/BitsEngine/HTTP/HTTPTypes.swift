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
  /// Work nobody waits for (background fill): `HTTPClient` receives it on threads of its own
  /// that get the CPU and the disk only when other threads leave them idle.
  public var isBackground: Bool

  public init(
    url: String, range: Range<UInt64>?, ifRange: String? = nil, headers: [HTTPHeader] = [], isBackground: Bool = false
  ) {
    self.url = url
    self.range = range
    self.ifRange = ifRange
    self.headers = headers
    self.isBackground = isBackground
  }
}

/// Why a header field the engine relies on cannot be used.
public enum HTTPFieldError: Error, Sendable {
  case malformed
  /// A size or offset beyond ``RemoteVersion/maximumSize``: no file has it.
  case beyondMaximumSize
}

/// `Content-Range: bytes first-last/complete` (or `bytes */complete` on a 416).
public struct ContentRange: Hashable, Sendable, CustomStringConvertible {
  public var bytes: Range<UInt64>?
  public var completeLength: UInt64?

  /// Parses the field value; every number must be decimal digits only, within
  /// ``RemoteVersion/maximumSize``, and the range must lie inside the complete length
  /// (RFC 9110 §14.4).
  public init(parsing value: String) throws(HTTPFieldError) {
    let trimmed = value.trimmingHTTPWhitespace()
    guard trimmed.lowercased().hasPrefix("bytes ") else { throw .malformed }
    let spec = trimmed.dropFirst("bytes ".count).trimmingHTTPWhitespace()
    let halves = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    guard halves.count == 2 else { throw .malformed }
    completeLength = halves[1] == "*" ? nil : try decimalField(halves[1])
    if halves[0] == "*" {
      bytes = nil
    } else {
      let ends = halves[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
      guard ends.count == 2 else { throw .malformed }
      let first = try decimalField(ends[0])
      let last = try decimalField(ends[1])
      // A byte at the largest offset would end a file one byte larger than any can be.
      guard last < RemoteVersion.maximumSize else { throw .beyondMaximumSize }
      guard first <= last, completeLength.map({ last < $0 }) ?? true else { throw .malformed }
      bytes = first..<(last + 1)
    }
  }

  /// `nil` unless `value` parses.
  public init?(_ value: String) {
    guard let parsed = try? ContentRange(parsing: value) else { return nil }
    self = parsed
  }

  /// The field value, as a server would send it.
  public var description: String {
    let range = bytes.map { "\($0.lowerBound)-\($0.upperBound - 1)" } ?? "*"
    return "bytes \(range)/\(completeLength.map(String.init) ?? "*")"
  }
}

/// A number as a header gives it: ASCII digits only (no sign, no spaces, unlike `UInt64(_:)`),
/// at most ``RemoteVersion/maximumSize``.
func decimalField(_ text: some StringProtocol) throws(HTTPFieldError) -> UInt64 {
  guard !text.isEmpty else { throw .malformed }
  var value: UInt64 = 0
  for unit in text.utf8 {
    guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(unit) else { throw .malformed }
    let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
    let (sum, carried) = shifted.addingReportingOverflow(UInt64(unit - UInt8(ascii: "0")))
    guard !overflowed, !carried, sum <= RemoteVersion.maximumSize else { throw .beyondMaximumSize }
    value = sum
  }
  return value
}

/// The status and headers of the final response (after redirects).
public struct HTTPResponseHead: Sendable {
  public var status: Int
  /// Header names in lower case; a repeated header keeps its last value.
  public var headers: [String: String]
  /// The URL that gave this answer: the one asked, or the last redirect's target.
  public var finalURL: String?

  public init(status: Int, headers: [String: String], finalURL: String? = nil) {
    self.status = status
    self.headers = headers
    self.finalURL = finalURL
  }

  public subscript(name: String) -> String? { headers[name.lowercased()] }

  /// Folds raw head bytes in, line by line. libcurl hands over one line per call, but for the
  /// lines it held while a transfer was paused, which Debian's libcurl 7.88 hands over in one.
  public mutating func add(lines bytes: UnsafeRawBufferPointer) {
    var start = 0
    while start < bytes.count {
      let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.count
      add(line: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
      start = end
    }
  }

  /// Folds one raw line of a response head in: a status line starts a new response (after a
  /// redirect or a 1xx) and forgets the previous one's headers; `Name: value` sets a header;
  /// anything else is ignored.
  /// Read on its bytes: every answer has a dozen lines, and a tree walk reads a thousand
  /// answers.
  public mutating func add(line bytes: UnsafeRawBufferPointer) {
    let line = bytes[...].trimmingHTTPWhitespace()
    if line.starts(with: "HTTP/".utf8) {
      headers.removeAll()
      let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
      // A status code is three digits (RFC 9110 §15); anything else is no status.
      let code =
        parts.count >= 2 && parts[1].count == 3 ? try? decimalField(String(decoding: parts[1], as: UTF8.self)) : nil
      status = code.map(Int.init) ?? 0
      return
    }
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
    // Field names are tokens (RFC 9110 §5.1): ASCII, case-insensitive.
    let name = String(decoding: line[..<colon].map { $0 | ($0 >= 0x41 && $0 <= 0x5A ? 0x20 : 0) }, as: UTF8.self)
    headers[name] = String(decoding: line[(colon + 1)...].trimmingHTTPWhitespace(), as: UTF8.self)
  }

  /// `nil` when the answer has none; an error when it has one that cannot be used.
  public var contentRange: ContentRange? {
    get throws(HTTPFieldError) {
      guard let value = self["content-range"] else { return nil }
      return try ContentRange(parsing: value)
    }
  }

  /// `nil` when the answer has none; an error when it has one that cannot be used.
  public var contentLength: UInt64? {
    get throws(HTTPFieldError) {
      guard let value = self["content-length"] else { return nil }
      return try decimalField(value.trimmingHTTPWhitespace())
    }
  }
}

extension StringProtocol where UTF8View: BidirectionalCollection {
  /// Without leading and trailing spaces, tabs, CRs and LFs (HTTP's optional whitespace and
  /// line ends).
  package func trimmingHTTPWhitespace() -> String {
    String(decoding: utf8.trimmingHTTPWhitespace(), as: UTF8.self)
  }
}

extension BidirectionalCollection<UInt8> {
  /// Without leading and trailing spaces, tabs, CRs and LFs, as bytes.
  package func trimmingHTTPWhitespace() -> SubSequence {
    let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
      return self[startIndex..<startIndex]
    }
    return self[first...last]
  }
}
