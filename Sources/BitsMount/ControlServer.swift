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
        let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8))
        guard request?.command == .events else {
          _ = connection.writeLine(Self.answer(request, fileSystem: fileSystem))
          continue
        }
        // The connection stays, and gets the mount's events from now on.
        _ = connection.writeLine(Self.encoded(ControlAnswer(files: 0)))
        fileSystem.events.add(connection)
      }
    }
  }

  /// Stops accepting, ends the event connections and removes the socket.
  func stop() {
    socket.shutDown()
    unlink(path)
  }

  static func answer(_ request: ControlRequest?, fileSystem: MountedFileSystem) -> String {
    let answer: ControlAnswer
    if let request {
      do throws(BitsError) {
        switch request.command {
        case .prefetch:
          let priority = request.priority?.transferPriority ?? fileSystem.options.prefetchPriority
          answer = ControlAnswer(files: try fileSystem.prefetch(request.paths, priority: priority))
        case .cancel:
          answer = ControlAnswer(files: try fileSystem.cancelPrefetch(request.paths))
        case .events:
          answer = ControlAnswer(error: "events are sent on a connection of their own")
        case .status:
          let status = fileSystem.status(mapSlots: request.mapSlots ?? FilledMap.slotCount)
          answer = ControlAnswer(files: status.files.count, status: status)
        }
      } catch {
        answer = ControlAnswer(error: error.description)
      }
    } else {
      answer = ControlAnswer(error: "not a control request")
    }
    return encoded(answer)
  }

  static func encoded(_ value: some Encodable) -> String {
    (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }
}
