import Foundation
import Synchronization

/// A syslog receiver: a Unix datagram socket bound at /dev/log, where syslog(3) sends its
/// messages (`<priority>timestamp ident[pid]: text`), as journald or rsyslog would receive
/// them. Only where no syslog daemon owns /dev/log (none runs on the test machines); binding
/// there needs root.
public final class SyslogReceiver: Sendable {
  public static let path = "/dev/log"

  private let descriptor: Int32
  private let received = Mutex<[String]>([])
  private let stopping = Atomic<Bool>(false)
  private let stopped = DispatchSemaphore(value: 0)

  public init() throws {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (index, byte) in Self.path.utf8.enumerated() { buffer[index] = byte }
    }
    if FileManager.default.fileExists(atPath: Self.path) {
      // A socket no one receives on is left over from an earlier run: it goes.
      guard Self.connect(to: &address) == ECONNREFUSED else {
        throw TestServerError.notListening("a syslog receiver: \(Self.path) is in use (a syslog daemon owns it)")
      }
      unlink(Self.path)
    }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw TestServerError.notListening("a syslog receiver (no socket)") }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
      }
    }
    guard bound else {
      close(fd)
      throw TestServerError.notListening("a syslog receiver at \(Self.path): \(String(cString: strerror(errno)))")
    }
    chmod(Self.path, 0o666)
    // Wakes the receiving thread every 100 ms to see whether it is to stop.
    var wake = timeval(tv_sec: 0, tv_usec: 100_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wake, socklen_t(MemoryLayout<timeval>.size))
    descriptor = fd
    Thread.detachNewThread { [self] in receive() }
  }

  deinit {
    stop()
  }

  /// Every message received so far, in order.
  public var messages: [String] { received.withLock { $0 } }

  /// Stops receiving and removes the socket from /dev/log.
  public func stop() {
    guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
    stopped.wait()
    close(descriptor)
    unlink(Self.path)
  }

  /// The errno of connecting a datagram socket to `address`, 0 if it connected.
  private static func connect(to address: inout sockaddr_un) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
      }
    }
    return connected ? 0 : errno
  }

  private func receive() {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !stopping.load(ordering: .acquiring) {
      let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
      guard count > 0 else { continue }
      let message = String(decoding: buffer[0..<count], as: UTF8.self)
      received.withLock { $0.append(message) }
    }
    stopped.signal()
  }
}
