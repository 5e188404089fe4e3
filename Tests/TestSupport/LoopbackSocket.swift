import Foundation

/// A TCP socket bound to a free port of 127.0.0.1, listening with `backlog` (none for 0): the
/// descriptor and the port.
func listenOnLoopback(backlog: Int32, purpose: String) throws -> (descriptor: Int32, port: UInt16) {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw TestServerError.notListening("\(purpose) (no socket)") }
  var on: Int32 = 1
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
      bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
    }
  }
  guard bound, backlog == 0 || listen(fd, backlog) == 0 else {
    close(fd)
    throw TestServerError.notListening(purpose)
  }
  return (fd, UInt16(bigEndian: address.sin_port))
}

/// A TCP connection to 127.0.0.1:`port`, or `nil` when nothing accepts it.
public func connectToLoopback(port: UInt16) -> Int32? {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return nil }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = port.bigEndian
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
    }
  }
  if connected { return fd }
  close(fd)
  return nil
}

/// A TCP socket listening on 127.0.0.1 that is never accepted from: it tells whether anyone
/// connected.
public final class LoopbackListener {
  public let port: UInt16
  private let descriptor: Int32

  public init() throws {
    (descriptor, port) = try listenOnLoopback(backlog: 16, purpose: "a loopback listener")
  }

  deinit {
    close(descriptor)
  }

  /// Whether a connection waits to be accepted.
  public var hasPendingConnection: Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, 0) > 0
  }
}
