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

/// Background transfers yield to foreground ones, against a server that sends slowly.
final class BackgroundYieldTests: XCTestCase {
  private var root: URL!
  private var bytes: [UInt8]!
  private var server: FaultServer!
  private var client: HTTPClient!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-yield-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    bytes = TestData.bytes(count: 400_000, seed: 11)
    try Data(bytes).write(to: root.appendingPathComponent("f.bin"))
    server = try FaultServer(root: root)
    var configuration = HTTPConfiguration()
    configuration.stallTimeout = .seconds(1)
    client = HTTPClient(configuration: configuration)
  }

  override func tearDown() {
    client?.shutdown()
    server?.stop()
    try? FileManager.default.removeItem(at: root)
  }

  func testABackgroundTransferPausesWhileAForegroundOneIsInFlightAndIsNotTakenForStalled() throws {
    // 20,000 bytes every 100 ms: 2 s for the whole file.
    let background = BodyRecorder()
    client.start(
      HTTPRequest(url: server.url("slow/200000", "f.bin"), range: 0..<400_000, isBackground: true),
      receiver: background)
    XCTAssertTrue(background.waitForBytes(atLeast: 20_000), "the background transfer never started")
    let foreground = BodyRecorder()
    // 100 bytes every 100 ms: in flight for 4 s, and never stalled.
    let slow = client.start(HTTPRequest(url: server.url("slow/1000", "f.bin"), range: 0..<4096), receiver: foreground)
    // What libcurl had read before the pause may still come; then nothing, for longer than the
    // stall timeout, although the server goes on sending.
    Thread.sleep(forTimeInterval: 0.3)
    let pausedAt = background.count
    Thread.sleep(forTimeInterval: 1.5)
    XCTAssertEqual(background.count, pausedAt, "the background transfer received while a foreground one was in flight")
    XCTAssertLessThan(pausedAt, 400_000)
    XCTAssertNil(background.outcome, "a paused transfer was ended")

    client.cancel(slow)
    XCTAssertTrue(foreground.waitUntilFinished())
    XCTAssertTrue(background.waitUntilFinished(), "the background transfer did not resume")
    XCTAssertNil(background.failure)
    XCTAssertTrue(background.received == bytes, "the resumed transfer's bytes differ")
  }

  /// Paused while its head comes in, a transfer gets the held head lines in one piece from
  /// Debian's libcurl: with lines read one per call, half of these failed (a 206 without its
  /// `Content-Range`).
  func testBackgroundTransfersPausedAsTheirHeadsArriveGetTheirWholeHeadsAndBodies() throws {
    let nginx = try NginxServer()
    defer { nginx.stop() }
    try Data(bytes).write(to: nginx.root.appendingPathComponent("f.bin"))
    for round in 0..<20 {
      let foreground = BodyRecorder()
      let background = BodyRecorder()
      let backgroundRequest = HTTPRequest(url: nginx.url("f.bin"), range: 1000..<400_000, isBackground: true)
      if round.isMultiple(of: 2) { client.start(backgroundRequest, receiver: background) }
      client.start(HTTPRequest(url: nginx.url("f.bin"), range: 0..<100), receiver: foreground)
      if !round.isMultiple(of: 2) { client.start(backgroundRequest, receiver: background) }
      XCTAssertTrue(foreground.waitUntilFinished(), "round \(round)")
      XCTAssertTrue(background.waitUntilFinished(), "round \(round)")
      XCTAssertNil(foreground.failure, "round \(round)")
      XCTAssertNil(background.failure, "round \(round)")
      XCTAssertEqual(background.head?["content-range"], "bytes 1000-399999/400000", "round \(round)")
      XCTAssertEqual(background.head?["server"]?.hasPrefix("nginx"), true, "round \(round)")
      XCTAssertTrue(background.received == Array(bytes[1000..<400_000]), "round \(round): the bytes differ")
    }
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

/// Keeps a transfer's body bytes, in order, and its outcome.
private final class BodyRecorder: HTTPTransferReceiver {
  private struct State {
    var head: HTTPResponseHead?
    var received: [UInt8] = []
    var outcome: Result<Void, BitsError>?
  }

  private let state = Mutex(State())
  private let finished = DispatchSemaphore(value: 0)

  var received: [UInt8] { state.withLock { $0.received } }
  var count: Int { state.withLock { $0.received.count } }
  var outcome: Result<Void, BitsError>? { state.withLock { $0.outcome } }
  var failure: BitsError? {
    guard case .failure(let error) = outcome else { return nil }
    return error
  }

  var head: HTTPResponseHead? { state.withLock { $0.head } }

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    state.withLock { $0.head = head }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    state.withLock { $0.received += bytes }
    return .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    state.withLock { $0.outcome = outcome }
    finished.signal()
  }

  func waitUntilFinished() -> Bool {
    finished.wait(timeout: .now() + 10) == .success
  }

  /// Whether `count` bytes came within 5 s.
  func waitForBytes(atLeast count: Int) -> Bool {
    for _ in 0..<500 {
      if self.count >= count { return true }
      Thread.sleep(forTimeInterval: 0.01)
    }
    return false
  }
}
