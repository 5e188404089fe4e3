import BitsEngine
import Glibc

/// A Unix stream socket carrying one line of text each way: how `bitsfs prefetch` talks to a
/// running mount. Plain system calls; every read and write is bounded by a timeout.
package struct UnixSocket: ~Copyable, Sendable {
  package let descriptor: Int32

  private init(descriptor: Int32) {
    self.descriptor = descriptor
  }

  deinit {
    close(descriptor)
  }

  /// The longest path a Unix socket takes (`sun_path`, with its NUL).
  package static let maximumPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

  /// A socket listening at `path` (replacing a stale one), readable and writable by its owner
  /// only. `path` must be in a directory of the owner's that nobody else can enter: the socket
  /// is bound with the mode the process's mask gives, then made 0600, and the directory keeps
  /// others out in between. (Setting the mask around `bind` would change the mode of every
  /// file the other threads create meanwhile: the mask is the process's, not the thread's.)
  package static func listen(at path: String) throws(BitsError) -> UnixSocket {
    let directory = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[..<$0]) } ?? "."
    guard isPrivateDirectory(directory.isEmpty ? "/" : directory) else {
      throw BitsError(.accessDenied, "the control socket's directory \(directory) is not private to its owner")
    }
    let socket = try make(path)
    unlink(path)
    guard withAddress(path, { bind(socket.descriptor, $0, $1) }) == 0, chmod(path, 0o600) == 0,
      Glibc.listen(socket.descriptor, 8) == 0
    else {
      throw BitsError.localFile(errno: errno, "cannot listen for control requests", path: path)
    }
    return socket
  }

  /// Whether `path` is a directory (not a link to one) of this user's that nobody else can enter.
  package static func isPrivateDirectory(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_uid == getuid()
      && info.st_mode & 0o077 == 0
  }

  /// A connection to the socket at `path`, answering within `timeout` seconds.
  package static func connect(to path: String, timeout seconds: Int) throws(BitsError) -> UnixSocket {
    let socket = try make(path)
    socket.setTimeout(seconds)
    guard withAddress(path, { Glibc.connect(socket.descriptor, $0, $1) }) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot reach the mount's control socket", path: path)
    }
    return socket
  }

  /// The next connection, or `nil` once the socket is shut down.
  package func accept(timeout seconds: Int) -> UnixSocket? {
    while true {
      let fd = Glibc.accept(descriptor, nil, nil)
      if fd >= 0 {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let connection = UnixSocket(descriptor: fd)
        connection.setTimeout(seconds)
        return connection
      }
      guard errno == EINTR || errno == ECONNABORTED else { return nil }
    }
  }

  /// Stops `accept` from waiting (in another thread).
  package func shutDown() {
    _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR))
  }

  /// One line, without its newline; `nil` at the end, a timeout or a line over `limit` bytes.
  package func readLine(limit: Int = 1 << 20) -> String? {
    var line: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while line.count <= limit {
      // Looks first, then takes up to the newline only: a later line stays for the next call.
      let peeked = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
      if peeked < 0, errno == EINTR { continue }
      guard peeked > 0 else { return nil }
      let newline = chunk[..<peeked].firstIndex(of: UInt8(ascii: "\n"))
      let wanted = newline.map { $0 + 1 } ?? peeked
      let taken = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, wanted, 0) }
      guard taken == wanted else { return nil }
      if let newline {
        line += chunk[..<newline]
        return line.count <= limit ? String(decoding: line, as: UTF8.self) : nil
      }
      line += chunk[..<taken]
    }
    return nil
  }

  package func writeLine(_ text: String) -> Bool {
    let bytes = Array((text + "\n").utf8)
    var sent = 0
    while sent < bytes.count {
      // MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE that ends the mount.
      let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return false }
      sent += count
    }
    return true
  }

  private func setTimeout(_ seconds: Int) {
    var timeout = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  private static func make(_ path: String) throws(BitsError) -> UnixSocket {
    guard path.utf8.count <= maximumPathLength else {
      throw BitsError(.invalidArgument, "the control socket's path is longer than \(maximumPathLength) bytes: \(path)")
    }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot make a socket", path: path) }
    return UnixSocket(descriptor: fd)
  }

  private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8) + [0]
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
  }
}
