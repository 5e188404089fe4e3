import BitsEngine
import Glibc

/// The `--metrics` endpoint: a thread answering HTTP on the one address given, one connection
/// at a time, `GET /metrics` with `exposition()` and anything else with an error status
/// (`MetricsRequest`). Each connection gets `timeout` to send its request head (at most
/// `MetricsRequest.maximumHeadBytes`) and take its answer, then is closed: a client that stalls
/// holds the endpoint that long at most, and nothing it sends is kept.
package final class MetricsEndpoint: Sendable {
  package let address: ListenAddress
  private let descriptor: Int32

  /// Listens on `address` at once: a port in use, or an address not of this machine, fails
  /// here. Connections wait until `start`.
  package init(address: ListenAddress) throws(BitsError) {
    self.address = address
    let domain = address.family == .ipv6 ? AF_INET6 : AF_INET
    let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw BitsError.localFile(errno: errno, "cannot make a socket for --metrics", path: "\(address)")
    }
    var on: Int32 = 1
    // A restarted mount can listen again at once; a port another socket listens on stays refused.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    if domain == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size)) }
    guard address.withSocketAddress({ bind(fd, $0, $1) }) == 0, listen(fd, 8) == 0 else {
      let error = errno
      close(fd)
      throw BitsError.localFile(errno: error, "cannot listen for --metrics", path: "\(address)")
    }
    descriptor = fd
  }

  /// Answers from a thread of its own from now on, until `stop`.
  package func start(timeout: Duration = .seconds(5), exposition: @escaping @Sendable () -> [UInt8]) {
    startThread(named: "bitsfs-metrics") { [self] in
      while let connection = nextConnection() {
        answer(connection, deadline: .now + timeout, exposition: exposition)
        close(connection)
      }
      close(descriptor)
    }
  }

  /// Stops answering (the thread ends and closes the socket).
  package func stop() {
    _ = shutdown(descriptor, Int32(SHUT_RDWR))
  }

  private func nextConnection() -> Int32? {
    while true {
      let fd = accept(descriptor, nil, nil)
      if fd >= 0 {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
      }
      guard errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE else { return nil }
      // Out of descriptors for a moment: the mount's own files come first.
      if errno == EMFILE || errno == ENFILE { usleep(100_000) }
    }
  }

  private func answer(_ connection: Int32, deadline: ContinuousClock.Instant, exposition: () -> [UInt8]) {
    var head: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 2048)
    while MetricsRequest.headEnd(in: head) == nil, head.count <= MetricsRequest.maximumHeadBytes {
      guard wait(for: connection, events: Int16(POLLIN), until: deadline) else { return }
      let count = recv(connection, &buffer, buffer.count, 0)
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return }
      head += buffer[0..<count]
    }
    let answer = MetricsRequest.answer(toHead: Array(head.prefix(MetricsRequest.headEnd(in: head) ?? head.count)))
    let response = MetricsRequest.response(answer, body: answer == .metrics ? exposition() : [])
    var sent = 0
    while sent < response.count {
      guard wait(for: connection, events: Int16(POLLOUT), until: deadline) else { return }
      let count = response[sent...].withUnsafeBytes {
        send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
      }
      if count < 0, errno == EINTR || errno == EAGAIN { continue }
      guard count > 0 else { return }
      sent += count
    }
  }

  /// Whether `connection` is ready for `events` before `deadline`.
  private func wait(for connection: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
    while true {
      let left = deadline - .now
      guard left > .zero else { return false }
      var entry = pollfd(fd: connection, events: events, revents: 0)
      let ready = poll(&entry, 1, Int32(max(1, left.milliseconds)))
      if ready < 0, errno == EINTR { continue }
      return ready > 0
    }
  }
}
