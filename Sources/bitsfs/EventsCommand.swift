import ArgumentParser
import BitsEngine
import BitsMount
import FoundationEssentials
import Glibc

struct EventsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events",
    abstract: "Print a mount's FileRangesTransferred events as JSON lines, until it is unmounted.",
    discussion: """
      Each line names the file (its path in the mount), its URL without credentials, the ranges \\
      filled as [offset, length] pairs and their bytes, no more often per file than the mount's \\
      --min-notification-interval.
      """)

  @Argument(help: ArgumentHelp("A bitsfs mount point or a path in one.", valueName: "mountpoint"))
  var path: String

  func run() {
    do throws(BitsError) {
      let (mountPoint, _) = try PrefetchCommand.locate(path)
      guard let socketPath = ExtendedAttributes.value("user.bitsfs.control", of: mountPoint) else {
        throw BitsError(.invalidState, "the mount at \(mountPoint) takes no control requests")
      }
      // No timeout: events come when bytes do.
      let socket = try UnixSocket.connect(to: socketPath, timeout: 0)
      guard let request = try? JSONEncoder().encode(ControlRequest(command: .events, paths: [])),
        socket.writeLine(String(decoding: request, as: UTF8.self)), socket.readLine() != nil
      else { throw BitsError(.unexpected, "the mount at \(mountPoint) did not answer") }
      // Each line as it comes, unbuffered, for a reader at the other end of a pipe.
      while let line = socket.readLine() {
        let bytes = Array((line + "\n").utf8)
        guard write(STDOUT_FILENO, bytes, bytes.count) == bytes.count else { return }
      }
    } catch {
      fail(with: error)
    }
  }
}
