import BitsEngine
import CLinux
import FoundationEssentials
import Glibc

/// Detaches the mount into a background process that returns the user's prompt only once the
/// mount answers, or with the reason it failed. The process forks before it has started any
/// thread, so the daemon is this very program, without a second start-up; parent and daemon
/// talk through a pipe.
struct Daemon {
  private static let readyLine = "ready"
  private static let failurePrefix = "failed "

  /// The daemon's end of the pipe to the waiting parent.
  private let channel: Int32

  /// Forks. In the parent, waits for the daemon's word and exits with the status it reports;
  /// only the daemon returns.
  static func detach() throws(BitsError) -> Daemon {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot create a pipe to the mount daemon", path: "pipe")
    }
    let child = fork()
    guard child >= 0 else {
      throw BitsError.localFile(errno: errno, "cannot start the mount daemon", path: "fork")
    }
    if child == 0 {
      // The daemon outlives its caller: it keeps none of the caller's descriptors besides the
      // standard ones (until it is ready), or a caller waiting for them to close would wait
      // as long as the mount lives.
      let channel = dup2(ends[1], 3)
      _ = fcntl(channel, F_SETFD, FD_CLOEXEC)
      let inherited = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
      for descriptor in inherited.compactMap(Int32.init) where descriptor > channel {
        close(descriptor)
      }
      return Daemon(channel: channel)
    }
    close(ends[1])
    waitForWord(from: ends[0])
  }

  private static func waitForWord(from descriptor: Int32) -> Never {
    var message: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64)
    while true {
      let count = read(descriptor, &buffer, buffer.count)
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { break }
      message += buffer[0..<count]
    }
    let text = String(decoding: message, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    if text == readyLine { exit(0) }
    // The daemon already printed its error on the shared standard error.
    if text.hasPrefix(failurePrefix) { exit(Int32(text.dropFirst(failurePrefix.count)) ?? ExitStatus.failed) }
    fail(with: BitsError(.unexpected, "the mount daemon exited before mounting"))
  }

  /// Keeps what the mount holds in memory (header values among it) out of core files and out
  /// of reach of `ptrace` by the same user, unless debugging; and holds no directory busy, so
  /// the file system the command was started from can be unmounted. Paths must be absolute by
  /// now.
  static func protectProcess(debugging: Bool) {
    _ = chdir("/")
    if !debugging { _ = bitsfs_set_dumpable(0) }
  }

  /// Once mounted: tell the parent, leave its session and terminal (the log goes to syslog or
  /// the log file from now on).
  func reportReady() {
    setsid()
    let null = open("/dev/null", O_RDWR)
    dup2(null, STDIN_FILENO)
    dup2(null, STDOUT_FILENO)
    dup2(null, STDERR_FILENO)
    tell(Self.readyLine)
  }

  func reportFailure(_ error: BitsError) {
    tell("\(Self.failurePrefix)\(ExitStatus.for(error))")
  }

  private func tell(_ line: String) {
    let bytes = Array("\(line)\n".utf8)
    _ = bytes.withUnsafeBytes { write(channel, $0.baseAddress, $0.count) }
    close(channel)
  }
}
