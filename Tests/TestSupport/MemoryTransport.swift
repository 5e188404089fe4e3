import BitsEngine
import Dispatch
import Foundation
import Synchronization

/// An in-memory HTTP server behind the engine's transport seam, for fast and deterministic
/// engine tests: it serves versions of files as a correct range server would (206 with
/// `Content-Range`, `If-Range`, 416), changes them on command, and misbehaves on command
/// (reset, stall, status codes, short or long bodies, wrong ranges, ignored ranges).
/// Transfers run on one serial queue, in the order started; a stalled transfer ends only by
/// `cancel` or when its stall timeout passes, as libcurl's stall detection would end it.
public final class MemoryTransport: HTTPTransport {
  /// One version of a file.
  public struct Version: Sendable, Equatable {
    public var bytes: [UInt8]
    public var etag: String?
    public var lastModified: String?
    public var contentType: String?

    public init(
      bytes: [UInt8], etag: String?, lastModified: String? = "Sun, 06 Nov 1994 08:49:37 GMT",
      contentType: String? = nil
    ) {
      self.bytes = bytes
      self.etag = etag
      self.lastModified = lastModified
      self.contentType = contentType
    }
  }

  /// A way to answer wrongly.
  public enum Fault: Sendable, Equatable {
    /// Sends `count` bytes of the body, then the connection is reset.
    case reset(after: Int)
    /// Sends the head and `count` bytes, then nothing more.
    case stall(after: Int)
    /// Answers with this status and no body.
    case status(Int)
    /// Sends `count` bytes of the body and ends as if complete.
    case shortBody(Int)
    /// The body runs `extra` bytes past the range it announced.
    case longBody(extra: Int)
    /// Announces and sends a range shifted by `offset`.
    case shiftedRange(offset: UInt64)
    /// Answers 200 with the whole file.
    case ignoreRange
    /// Answers with `Content-Encoding: gzip`.
    case contentEncoding
    /// The file becomes this version just before the request is answered.
    case change(to: Version)
  }

  /// Which requests a fault applies to.
  public enum Target: Sendable {
    /// Requests for bytes (every request but the one-byte version probe).
    case data
    /// The one-byte version probes.
    case probe
    case any
  }

  private struct Injection {
    var fault: Fault
    var target: Target
    /// Matching requests to let pass before the fault applies.
    var skip: Int
    var remaining: Int
  }

  private struct Stored {
    var versions: [String: Version] = [:]
    /// URLs answered as another URL would be, as after a redirect.
    var redirects: [String: String] = [:]
    var injections: [String: [Injection]] = [:]
    var log: [HTTPRequest] = []
    var nextID: UInt64 = 1
    var running: [UInt64: Running] = [:]
    /// Tests waiting for a request: signalled when one that matches starts.
    var requestWaiters: [(matches: @Sendable (HTTPRequest) -> Bool, arrived: DispatchSemaphore)] = []
  }

  private final class Running: Sendable {
    let receiver: any HTTPTransferReceiver
    let finished = Atomic<Bool>(false)

    init(receiver: any HTTPTransferReceiver) {
      self.receiver = receiver
    }

    /// Reports the outcome once; later reports (a cancel after the end) do nothing.
    func finish(_ outcome: Result<Void, BitsError>) {
      guard !finished.exchange(true, ordering: .sequentiallyConsistent) else { return }
      receiver.transferDidFinish(outcome)
    }
  }

  private let stored = Mutex(Stored())
  private let network = DispatchQueue(label: "memory-transport")
  /// How long a stalled transfer waits before it fails as libcurl's would.
  public let stallTimeout: Duration
  /// Bytes per body event.
  public let chunkSize: Int

  public init(stallTimeout: Duration = .seconds(2), chunkSize: Int = 16 << 10) {
    self.stallTimeout = stallTimeout
    self.chunkSize = chunkSize
  }

  /// Serves `version` at `url` from now on (a new file, or a change of an existing one).
  public func serve(_ version: Version, at url: String) {
    stored.withLock { $0.versions[url] = version }
  }

  /// Requests for `url` are answered as if redirected to `target`: with its version, and with
  /// `target` as the head's final URL.
  public func redirect(_ url: String, to target: String) {
    stored.withLock { $0.redirects[url] = target }
  }

  public func version(at url: String) -> Version? {
    stored.withLock { $0.versions[url] }
  }

  /// `count` requests of `target` kind for `url`, after the next `skip` of them, answer with
  /// `fault`.
  public func inject(_ fault: Fault, at url: String, target: Target = .data, skip: Int = 0, count: Int = 1) {
    stored.withLock {
      $0.injections[url, default: []].append(Injection(fault: fault, target: target, skip: skip, remaining: count))
    }
  }

  /// Every request started so far, in order.
  public var requests: [HTTPRequest] { stored.withLock { $0.log } }

  /// The ranges of the data requests (not the probes) for `url`, in order.
  public func dataRanges(of url: String) -> [Range<UInt64>] {
    requests.filter { $0.url == url && !Self.isProbe($0) }.compactMap(\.range)
  }

  public static func isProbe(_ request: HTTPRequest) -> Bool { request.range == 0..<1 }

  @discardableResult
  public func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID {
    let running = Running(receiver: receiver)
    let (id, version, fault, finalURL) = stored.withLock { stored -> (UInt64, Version?, Fault?, String?) in
      let id = stored.nextID
      stored.nextID += 1
      stored.log.append(request)
      stored.requestWaiters.removeAll { waiter in
        guard waiter.matches(request) else { return false }
        waiter.arrived.signal()
        return true
      }
      stored.running[id] = running
      let target = stored.redirects[request.url]
      let url = target ?? request.url
      let fault = Self.takeFault(for: HTTPRequest(url: url, range: request.range), &stored)
      if case .change(let version) = fault { stored.versions[url] = version }
      return (id, stored.versions[url], fault, target)
    }
    network.async { [self] in
      answer(request, version: version, fault: fault, running: running, id: id, finalURL: finalURL)
    }
    return TransferID(lane: 0, value: id)
  }

  /// Waits until a request that `matches` has started (or had, before this call); `false` if
  /// none did within `timeout`.
  public func waitForRequest(timeout: Duration, matching matches: @escaping @Sendable (HTTPRequest) -> Bool) -> Bool {
    let arrived = DispatchSemaphore(value: 0)
    let seen = stored.withLock { stored in
      if stored.log.contains(where: matches) { return true }
      stored.requestWaiters.append((matches, arrived))
      return false
    }
    return seen || arrived.wait(timeout: .now() + timeout.dispatchInterval) == .success
  }

  /// Returns once every transfer started before this call has been answered as far as it goes
  /// now (a stalled one stays stalled), with what the engine did in its callbacks.
  public func waitForAnswers() {
    network.sync {}
  }

  public func cancel(_ id: TransferID) {
    let running = stored.withLock { $0.running.removeValue(forKey: id.value) }
    network.async {
      running?.finish(.failure(BitsError(.cancelled, "the transfer was cancelled")))
    }
  }

  /// Nothing to do: transfers here never yield to one another.
  public func expedite(_ id: TransferID) {}

  private static func takeFault(for request: HTTPRequest, _ stored: inout Stored) -> Fault? {
    guard var injections = stored.injections[request.url] else { return nil }
    defer { stored.injections[request.url] = injections }
    let isProbe = isProbe(request)
    guard
      let index = injections.firstIndex(where: { injection in
        switch injection.target {
        case .any: true
        case .data: !isProbe
        case .probe: isProbe
        }
      })
    else { return nil }
    if injections[index].skip > 0 {
      injections[index].skip -= 1
      return nil
    }
    injections[index].remaining -= 1
    let fault = injections[index].fault
    if injections[index].remaining == 0 { injections.remove(at: index) }
    return fault
  }

  // MARK: Answering (on the network queue)

  private func answer(
    _ request: HTTPRequest, version: Version?, fault: Fault?, running: Running, id: UInt64, finalURL: String?
  ) {
    // A stalled transfer stays cancellable until its stall timeout ends it.
    defer {
      if running.finished.load(ordering: .sequentiallyConsistent) {
        stored.withLock { $0.running = $0.running.filter { $0.value !== running } }
      }
    }
    guard !running.finished.load(ordering: .sequentiallyConsistent) else { return }
    guard let version else {
      return respond(status: 404, headers: [:], body: [], running: running, finalURL: finalURL)
    }
    if case .status(let status) = fault {
      return respond(status: status, headers: [:], body: [], running: running, finalURL: finalURL)
    }
    let size = UInt64(version.bytes.count)
    var headers: [String: String] = ["accept-ranges": "bytes"]
    if let etag = version.etag { headers["etag"] = etag }
    if let lastModified = version.lastModified { headers["last-modified"] = lastModified }
    if let contentType = version.contentType { headers["content-type"] = contentType }
    if fault == .contentEncoding { headers["content-encoding"] = "gzip" }
    var wanted = request.range
    if let ifRange = request.ifRange, ifRange != version.etag, ifRange != version.lastModified { wanted = nil }
    if fault == .ignoreRange { wanted = nil }
    guard var range = wanted else {
      headers["content-length"] = String(size)
      return respond(
        status: 200, headers: headers, body: version.bytes[...], running: running, fault: fault, finalURL: finalURL)
    }
    guard range.lowerBound < size else {
      headers["content-range"] = "bytes */\(size)"
      headers["content-length"] = "0"
      return respond(status: 416, headers: headers, body: [], running: running, finalURL: finalURL)
    }
    range = range.clamped(to: 0..<size)
    if case .shiftedRange(let offset) = fault {
      range = min(size - 1, range.lowerBound + offset)..<min(size, range.upperBound + offset)
    }
    headers["content-range"] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"
    var body = version.bytes[Int(range.lowerBound)..<Int(range.upperBound)]
    if case .longBody(let extra) = fault {
      body = version.bytes[Int(range.lowerBound)..<min(version.bytes.count, Int(range.upperBound) + extra)]
    } else {
      headers["content-length"] = String(body.count)
    }
    respond(status: 206, headers: headers, body: body, running: running, fault: fault, finalURL: finalURL)
  }

  private func respond(
    status: Int, headers: [String: String], body: ArraySlice<UInt8>, running: Running, fault: Fault? = nil,
    finalURL: String?
  ) {
    if case .abort(let error) = running.receiver.transferDidReceiveHead(
      HTTPResponseHead(status: status, headers: headers, finalURL: finalURL))
    {
      return running.finish(.failure(error))
    }
    var limit = body.count
    switch fault {
    case .reset(let count), .stall(let count), .shortBody(let count): limit = min(count, body.count)
    default: break
    }
    var offset = 0
    while offset < limit {
      guard !running.finished.load(ordering: .sequentiallyConsistent) else { return }
      let end = min(limit, offset + chunkSize)
      let verdict = body[body.startIndex + offset..<body.startIndex + end].withUnsafeBytes {
        running.receiver.transferDidReceive($0, bodyOffset: UInt64(offset))
      }
      if case .abort(let error) = verdict { return running.finish(.failure(error)) }
      offset = end
    }
    switch fault {
    case .reset: running.finish(.failure(BitsError(.connectionClosed, "the connection was reset")))
    case .stall:
      network.asyncAfter(deadline: .now() + .milliseconds(Int(stallTimeout / .milliseconds(1)))) { [self] in
        running.finish(.failure(BitsError(.timedOut, "the server stopped answering")))
        stored.withLock { $0.running = $0.running.filter { $0.value !== running } }
      }
    default: running.finish(.success(()))
    }
  }
}
