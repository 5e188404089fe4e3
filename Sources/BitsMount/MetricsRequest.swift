/// The metrics endpoint's answer to one HTTP request, decided from its head alone: `GET
/// /metrics` gets the exposition, anything else an error status. A value, apart from the socket.
package enum MetricsRequest {
  /// The most bytes a request head may take; the endpoint reads no more.
  package static let maximumHeadBytes = 8192

  package enum Answer: Equatable, Sendable {
    case metrics
    case badRequest
    case notFound
    case methodNotAllowed
    case headTooLarge

    package var status: (code: Int, reason: String) {
      switch self {
      case .metrics: (200, "OK")
      case .badRequest: (400, "Bad Request")
      case .notFound: (404, "Not Found")
      case .methodNotAllowed: (405, "Method Not Allowed")
      case .headTooLarge: (431, "Request Header Fields Too Large")
      }
    }
  }

  /// Where the head of a request ends in `bytes` (after its blank line), if it does yet.
  package static func headEnd(in bytes: [UInt8]) -> Int? {
    let blankLine: [UInt8] = [13, 10, 13, 10]
    guard bytes.count >= blankLine.count else { return nil }
    for start in 0...(bytes.count - blankLine.count) where bytes[start..<start + 4].elementsEqual(blankLine) {
      return start + 4
    }
    return nil
  }

  /// The answer to a request whose head is `head` (the request line, then header lines).
  package static func answer(toHead head: [UInt8]) -> Answer {
    guard head.count <= maximumHeadBytes else { return .headTooLarge }
    guard let lineEnd = head.firstIndex(of: 13) else { return .badRequest }
    let parts = head[..<lineEnd].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
    guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)), !parts[0].isEmpty,
      parts[0].allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }), parts[1].first == UInt8(ascii: "/")
    else { return .badRequest }
    let path = parts[1].split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)[0]
    guard path.elementsEqual(Array("/metrics".utf8)) else { return .notFound }
    return parts[0].elementsEqual(Array("GET".utf8)) ? .metrics : .methodNotAllowed
  }

  /// The whole answer as sent: status line, headers, `body`; the connection then closes.
  package static func response(_ answer: Answer, body: [UInt8]) -> [UInt8] {
    let (code, reason) = answer.status
    let content = answer == .metrics ? body : Array("\(reason)\n".utf8)
    let type = answer == .metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
    var head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(content.count)\r\n"
    if answer == .methodNotAllowed { head += "Allow: GET\r\n" }
    head += "Connection: close\r\n\r\n"
    return Array(head.utf8) + content
  }
}
