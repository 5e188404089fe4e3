import BitsEngine
import BitsMount
import FoundationEssentials
import Glibc

/// `bitsfs status --watch`: asks the mount for its status each interval over its control socket
/// and shows it (`StatusWatch`), redrawn on a terminal, as lines otherwise; ends, with status 0,
/// when the mount goes away.
struct StatusWatchLoop {
  var path: String
  var width: Int
  var interval: Double

  func run() {
    let mountPoint: String
    let prefix: String
    let socketPath: String
    do throws(BitsError) {
      (mountPoint, prefix) = try PrefetchCommand.locate(path)
      guard let control = ExtendedAttributes.value("user.bitsfs.control", of: mountPoint) else {
        throw BitsError(.invalidState, "the mount at \(mountPoint) takes no control requests")
      }
      socketPath = control
    } catch {
      fail(with: error)
    }
    let terminal = isatty(STDOUT_FILENO) == 1
    var previous: (status: MountStatus, at: ContinuousClock.Instant)?
    while true {
      let now = ContinuousClock.now
      guard var status = Self.status(at: socketPath, mapSlots: width) else {
        guard MountTable.isMountPoint(mountPoint), !MountTable.isDeadMount(mountPoint) else {
          Self.write("the mount at \(mountPoint) is gone\n")
          return
        }
        fail(with: BitsError(.unexpected, "the mount at \(mountPoint) did not answer"))
      }
      status.mountPoint = mountPoint
      status.files = status.files.filter { file in
        let name = file.name ?? ""
        return prefix.isEmpty || name == prefix || name.hasPrefix(prefix + "/")
      }
      let seconds = previous.map { (now - $0.at) / .nanoseconds(1) / 1e9 } ?? 0
      let rows = StatusWatch.rows(of: status, previous: previous?.status, seconds: seconds)
      if terminal {
        // Home, clear, then the screen.
        let screen = StatusWatch.screen(of: status, rows: rows, width: width)
        Self.write("\u{1B}[H\u{1B}[J" + screen.joined(separator: "\n") + "\n")
      } else {
        Self.write(StatusWatch.plainLines(of: rows, fill: status.fill).map { $0 + "\n" }.joined())
      }
      previous = (status, now)
      usleep(useconds_t(interval * 1_000_000))
    }
  }

  /// The mount's status, or `nil` when it does not answer.
  private static func status(at socketPath: String, mapSlots: Int) -> MountStatus? {
    guard let socket = try? UnixSocket.connect(to: socketPath, timeout: 10),
      let request = try? JSONEncoder().encode(ControlRequest(command: .status, paths: [], mapSlots: mapSlots)),
      socket.writeLine(String(decoding: request, as: UTF8.self)), let line = socket.readLine(limit: 64 << 20),
      let answer = try? JSONDecoder().decode(ControlAnswer.self, from: Data(line.utf8))
    else { return nil }
    return answer.status
  }

  /// Unbuffered, for a reader at the other end of a pipe.
  private static func write(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
  }
}
