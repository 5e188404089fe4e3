/// How the engine reaches servers: it starts requests and hears about them through a receiver.
/// `HTTPClient` (libcurl) is the real one; tests put an in-memory server behind the same seam.
public protocol HTTPTransport: Sendable {
  /// Starts `request`; `receiver` hears about it later, on a thread of the transport's.
  @discardableResult
  func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID
  /// Stops a transfer; its receiver then finishes with `E_ABORT` unless it already finished.
  func cancel(_ id: TransferID)
  /// A reader now waits for a background transfer's bytes: it no longer yields to foreground
  /// transfers (`HTTPRequest.isBackground`).
  func expedite(_ id: TransferID)
}

/// What a transfer's receiver tells the transport after each event.
public enum TransferVerdict: Sendable {
  case proceed
  case abort(BitsError)
}

/// Receives the events of one transfer, all on one thread, in order: the final response head
/// once, body bytes in order, then the outcome. Implementations must return quickly: other
/// transfers share that thread. Events of different transfers may come at the same time, from
/// different threads.
public protocol HTTPTransferReceiver: Sendable {
  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict
  /// `bodyOffset` is the position of `bytes` within the response body.
  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict
  func transferDidFinish(_ outcome: Result<Void, BitsError>)
}

/// Identifies a started transfer, for cancelling it.
public struct TransferID: Hashable, Sendable {
  /// Which of the transport's threads (or queues) runs the transfer.
  package let lane: Int
  package let value: UInt64

  package init(lane: Int, value: UInt64) {
    self.lane = lane
    self.value = value
  }
}
