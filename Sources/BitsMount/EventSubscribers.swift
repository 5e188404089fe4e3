import BitsEngine
import Dispatch
import Synchronization

/// The connections of `bitsfs events`: each gets every event line in order, written from a
/// queue of its own so that a slow reader holds up nothing else; one that cannot be written
/// to (closed, or not reading within the socket's timeout) is dropped.
package final class EventSubscribers: Sendable {
  private final class Subscriber: Sendable {
    let socket: UnixSocket
    let queue = DispatchQueue(label: "bitsfs.events")

    init(_ socket: consuming UnixSocket) {
      self.socket = socket
    }
  }

  private let subscribers = Mutex<[Subscriber]>([])

  package init() {}

  func add(_ socket: consuming UnixSocket) {
    let subscriber = Subscriber(socket)
    subscribers.withLock { $0.append(subscriber) }
  }

  var isEmpty: Bool { subscribers.withLock { $0.isEmpty } }

  func send(_ line: String) {
    for subscriber in subscribers.withLock({ $0 }) {
      subscriber.queue.async { [self] in
        guard !subscriber.socket.writeLine(line) else { return }
        subscribers.withLock { $0.removeAll { $0 === subscriber } }
      }
    }
  }

  /// Ends every connection (the mount is going away).
  func closeAll() {
    for subscriber in subscribers.withLock({ list in
      defer { list.removeAll() }; return list
    }) {
      subscriber.queue.async { subscriber.socket.shutDown() }
    }
  }
}
