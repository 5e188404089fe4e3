import Foundation
import Synchronization

/// A TCP proxy on 127.0.0.1 in front of another local server (nginx), which can turn into a
/// server that hangs: while `isSilent`, it still accepts connections and reads what it is sent,
/// but forwards nothing and answers nothing, on new and kept-alive connections alike (no refusal,
/// no reset, no byte). Set `isSilent` back to false and it forwards again. With `delay`, what a
/// client sends reaches the server that much later: a slow server, not a silent one.
public final class SilentProxy: Sendable {
  public let baseURL: String
  public let port: UInt16
  private let upstreamPort: UInt16
  private let listener: Int32
  private let state = Mutex(State())
  private let acceptLoopEnded = DispatchSemaphore(value: 0)

  private struct State {
    var isSilent = false
    var delay: TimeInterval = 0
    var isStopped = false
    var connectionThreads = 0
    var accepted = 0
    var silentReads = 0
  }

  /// Listens on a free port of 127.0.0.1 and forwards each connection to `upstreamPort`.
  public init(upstreamPort: UInt16) throws {
    self.upstreamPort = upstreamPort
    let (fd, port) = try listenOnLoopback(backlog: 256, purpose: "silent proxy")
    listener = fd
    self.port = port
    baseURL = "http://127.0.0.1:\(port)"
    Thread.detachNewThread { [self] in acceptLoop() }
  }

  /// A proxy for the server of `baseURL` (`http://127.0.0.1:PORT`).
  public convenience init(upstream baseURL: String) throws {
    guard let port = URLComponents(string: baseURL)?.port, let upstream = UInt16(exactly: port) else {
      throw TestServerError.notListening("silent proxy (no port in \(baseURL))")
    }
    try self.init(upstreamPort: upstream)
  }

  deinit {
    stop()
  }

  public func url(_ name: String) -> String { "\(baseURL)/\(name)" }

  /// Whether the proxy swallows what it gets and answers nothing.
  public var isSilent: Bool {
    get { state.withLock { $0.isSilent } }
    set { state.withLock { $0.isSilent = newValue } }
  }

  /// Seconds each piece a client sends waits before it is forwarded.
  public var delay: TimeInterval {
    get { state.withLock { $0.delay } }
    set { state.withLock { $0.delay = newValue } }
  }

  /// Connections accepted so far.
  public var acceptedConnections: Int { state.withLock { $0.accepted } }

  /// Pieces of client data swallowed while silent (each request is at least one).
  public var swallowedReads: Int { state.withLock { $0.silentReads } }

  /// Stops accepting and closes every connection (clients see them closed).
  public func stop() {
    let first = state.withLock { state -> Bool in
      defer { state.isStopped = true }
      return !state.isStopped
    }
    guard first else { return }
    _ = acceptLoopEnded.wait(timeout: .now() + 5)
    close(listener)
    let deadline = Date().addingTimeInterval(5)
    while state.withLock({ $0.connectionThreads }) > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
  }

  private var isStopped: Bool { state.withLock { $0.isStopped } }

  private func acceptLoop() {
    defer { acceptLoopEnded.signal() }
    while !isStopped {
      var watched = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
      guard poll(&watched, 1, 50) > 0 else { continue }
      let client = accept(listener, nil, nil)
      guard client >= 0 else { continue }
      guard let upstream = connectUpstream() else {
        close(client)
        continue
      }
      state.withLock {
        $0.accepted += 1
        $0.connectionThreads += 1
      }
      Thread.detachNewThread { [self] in
        relay(client: client, upstream: upstream)
        close(client)
        close(upstream)
        state.withLock { $0.connectionThreads -= 1 }
      }
    }
  }

  private func connectUpstream() -> Int32? {
    connectToLoopback(port: upstreamPort)
  }

  /// Copies both ways until either side closes or the proxy stops; while silent, reads from
  /// both sides and drops what it read.
  private func relay(client: Int32, upstream: Int32) {
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    while !isStopped {
      var watched = [
        pollfd(fd: client, events: Int16(POLLIN), revents: 0),
        pollfd(fd: upstream, events: Int16(POLLIN), revents: 0),
      ]
      let ready = poll(&watched, 2, 50)
      if ready < 0 && errno != EINTR { return }
      guard ready > 0 else { continue }
      for (index, (from, to)) in [(client, upstream), (upstream, client)].enumerated()
      where watched[index].revents != 0 {
        let got = read(from, &buffer, buffer.count)
        if got <= 0 { return }
        let (silent, delay) = state.withLock { state in
          if state.isSilent && from == client { state.silentReads += 1 }
          return (state.isSilent, state.delay)
        }
        if silent { continue }
        if from == client && delay > 0 { Thread.sleep(forTimeInterval: delay) }
        guard send(all: buffer, count: got, to: to) else { return }
      }
    }
  }

  private func send(all buffer: [UInt8], count: Int, to fd: Int32) -> Bool {
    var sent = 0
    while sent < count {
      let wrote = buffer.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
      if wrote < 0 && errno == EINTR { continue }
      if wrote <= 0 { return false }
      sent += wrote
    }
    return true
  }
}
