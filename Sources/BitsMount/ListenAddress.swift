import BitsEngine
import Glibc

/// Where `--metrics` listens: a numeric IPv4 or IPv6 address and a port, `127.0.0.1:9464` or
/// `[::1]:9464`. No name is resolved, so the socket is bound to exactly the address given.
package struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
  package enum Family: Sendable { case ipv4, ipv6 }

  package var host: String
  package var port: UInt16
  package var family: Family

  /// `nil` unless `text` is `IPV4:PORT` or `[IPV6]:PORT` with a port from 1 to 65535.
  package init?(_ text: String) {
    guard let colon = text.lastIndex(of: ":") else { return nil }
    var host = String(text[..<colon])
    let portText = text[text.index(after: colon)...]
    guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber), portText.count <= 5,
      let port = UInt16(portText), port > 0
    else { return nil }
    if host.hasPrefix("["), host.hasSuffix("]") {
      host = String(host.dropFirst().dropLast())
      guard Self.parses(host, family: AF_INET6) else { return nil }
      family = .ipv6
    } else {
      guard Self.parses(host, family: AF_INET) else { return nil }
      family = .ipv4
    }
    self.host = host
    self.port = port
  }

  package var description: String { family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

  private static func parses(_ host: String, family: Int32) -> Bool {
    var buffer = in6_addr()
    return inet_pton(family, host, &buffer) == 1
  }

  /// Calls `body` with the socket address.
  func withSocketAddress<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
    switch family {
    case .ipv4:
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = port.bigEndian
      _ = inet_pton(AF_INET, host, &address.sin_addr)
      return Self.withGeneric(address, body)
    case .ipv6:
      var address = sockaddr_in6()
      address.sin6_family = sa_family_t(AF_INET6)
      address.sin6_port = port.bigEndian
      _ = inet_pton(AF_INET6, host, &address.sin6_addr)
      return Self.withGeneric(address, body)
    }
  }

  /// `address` (a `sockaddr_in` or `sockaddr_in6`) as the `sockaddr` the socket calls take.
  private static func withGeneric<Address, Result>(
    _ address: Address, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
  ) -> Result {
    withUnsafePointer(to: address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<Address>.size)) }
    }
  }
}
