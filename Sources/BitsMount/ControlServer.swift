import BitsEngine
import FoundationEssentials
import Glibc

/// Answers `bitsfs prefetch` for a running mount: a thread accepting connections on the mount's
/// control socket (0600, its user's only), one JSON request and answer each.
final class ControlServer: Sendable {
  let path: String
  private let socket: UnixSocket

  init(path: String, fileSystem: MountedFileSystem) throws(BitsError) {
    self.path = path
    socket = try UnixSocket.listen(at: path)
    startThread(named: "bitsfs-control") { [self] in
      while let connection = socket.accept(timeout: 10) {
        guard let line = connection.readLine() else { continue }
        _ = connection.writeLine(Self.answer(line, fileSystem: fileSystem))
      }
    }
  }

  /// Stops accepting and removes the socket.
  func stop() {
    socket.shutDown()
    unlink(path)
  }

  static func answer(_ line: String, fileSystem: MountedFileSystem) -> String {
    let answer: ControlAnswer
    if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8)) {
      do throws(BitsError) {
        switch request.command {
        case .prefetch:
          let priority = request.priority?.transferPriority ?? fileSystem.options.prefetchPriority
          answer = ControlAnswer(files: try fileSystem.prefetch(request.paths, priority: priority))
        case .cancel:
          answer = ControlAnswer(files: try fileSystem.cancelPrefetch(request.paths))
        }
      } catch {
        answer = ControlAnswer(error: error.description)
      }
    } else {
      answer = ControlAnswer(error: "not a control request")
    }
    return (try? JSONEncoder().encode(answer)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }
}
