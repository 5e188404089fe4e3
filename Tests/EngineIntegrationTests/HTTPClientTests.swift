import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

/// How the HTTP client shares transfers among its network threads, against a real nginx.
final class HTTPClientTests: EngineTestCase {
  var nginx: NginxServer!

  override func setUpWithError() throws {
    try super.setUpWithError()
    nginx = try NginxServer()
    try Data(TestData.bytes(count: 4 << 20, seed: 3)).write(to: nginx.root.appendingPathComponent("f.bin"))
  }

  override func tearDown() {
    nginx?.stop()
    super.tearDown()
  }

  func testConcurrentTransfersSpreadOverTheNetworkThreads() throws {
    let receivers = (0..<4).map { _ in ThreadRecorder() }
    for (index, receiver) in receivers.enumerated() {
      let range = UInt64(index) << 20..<UInt64(index + 1) << 20
      client.start(HTTPRequest(url: nginx.url("f.bin"), range: range), receiver: receiver)
    }
    for receiver in receivers { XCTAssertTrue(receiver.waitUntilFinished(), "a transfer did not finish") }
    let threads = Set(receivers.flatMap(\.threads))
    XCTAssertEqual(threads.count, client.configuration.networkThreads, "threads seen: \(threads)")
  }

  func testOneRequestAtATimeStaysOnOneConnection() throws {
    for index in 0..<5 {
      let receiver = ThreadRecorder()
      let offset = UInt64(index) << 16
      client.start(HTTPRequest(url: nginx.url("f.bin"), range: offset..<offset + 4096), receiver: receiver)
      XCTAssertTrue(receiver.waitUntilFinished(), "a transfer did not finish")
    }
    let connections = nginx.requests().map(\.connection)
    XCTAssertEqual(connections.count, 5)
    XCTAssertEqual(Set(connections).count, 1, "connections: \(connections)")
  }
}

final class HTTPClientLifetimeTests: XCTestCase {
  /// A receiver may drop the last reference to the client from the client's own network thread:
  /// the client then shuts down without waiting for that thread, which is busy with the call.
  func testTheLastReferenceDroppedOnANetworkThreadDoesNotDeadlock() throws {
    let nginx = try NginxServer()
    defer { nginx.stop() }
    try Data(TestData.bytes(count: 1000, seed: 3)).write(to: nginx.root.appendingPathComponent("f.bin"))
    let holder = Mutex<HTTPClient?>(HTTPClient())
    let done = DispatchSemaphore(value: 0)
    let receiver = FinishAction {
      holder.withLock { $0 = nil }  // the client's deinit runs here, on its network thread
      done.signal()
    }
    holder.withLock { $0 }!.start(HTTPRequest(url: nginx.url("f.bin"), range: 0..<100), receiver: receiver)
    XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "the client's shutdown waited for its own thread")
  }

  func testCancelAndStartAfterShutdownDoNothingHarmful() throws {
    let client = HTTPClient()
    let finished = DispatchSemaphore(value: 0)
    let early = client.start(HTTPRequest(url: "http://127.0.0.1:9/never", range: 0..<1), receiver: FinishAction {})
    client.shutdown()
    client.cancel(early)
    client.start(
      HTTPRequest(url: "http://127.0.0.1:9/never", range: 0..<1), receiver: FinishAction { finished.signal() })
    XCTAssertEqual(finished.wait(timeout: .now() + 5), .success, "a start after shutdown finishes at once")
  }
}

/// Runs `action` when the transfer finishes.
private final class FinishAction: HTTPTransferReceiver {
  private let action: @Sendable () -> Void

  init(_ action: @escaping @Sendable () -> Void) {
    self.action = action
  }

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict { .proceed }
  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict { .proceed }
  func transferDidFinish(_ outcome: Result<Void, BitsError>) { action() }
}

/// Records the threads a transfer's events arrive on.
private final class ThreadRecorder: HTTPTransferReceiver {
  private let seen = Mutex<[UInt]>([])
  private let finished = DispatchSemaphore(value: 0)

  var threads: [UInt] { seen.withLock { $0 } }

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    record()
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    record()
    return .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    record()
    finished.signal()
  }

  func waitUntilFinished() -> Bool {
    finished.wait(timeout: .now() + 10) == .success
  }

  private func record() {
    let thread = UInt(pthread_self())
    seen.withLock { $0.append(thread) }
  }
}
