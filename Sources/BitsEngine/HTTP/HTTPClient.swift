import CCurl
import Dispatch
import FoundationEssentials
import Synchronization

/// Settings shared by every transfer of one client.
public struct HTTPConfiguration: Sendable {
  /// How long a TCP/TLS connect may take.
  public var connectTimeout: Duration = .seconds(10)
  /// A transfer that receives no byte for this long is abandoned (a stalled server).
  public var stallTimeout: Duration = .seconds(15)
  /// Connections kept open to one host by each network thread; requests beyond this queue
  /// inside libcurl.
  public var maxConnectionsPerHost = 16
  /// Threads receiving transfers; each new transfer goes to the least busy one.
  public var networkThreads = 2
  /// Verify TLS certificates and host names. Off only for explicit testing against self-signed hosts.
  public var verifiesTLS = true
  /// A PEM file of certificate authorities to trust instead of the system's.
  public var certificateAuthorityPath: String?
  public var userAgent = "bitsfs/0.1"
  /// Receives one line per finished request (URL, range, status, bytes, time, outcome) for
  /// debugging. Header values, which may be credentials, are never part of it.
  public var trace: (@Sendable (String) -> Void)?

  public init() {}
}

/// What a transfer's receiver tells the client after each event.
public enum TransferVerdict: Sendable {
  case proceed
  case abort(BitsError)
}

/// Receives the events of one transfer, all on one of the client's network threads, in order:
/// the final response head once, body bytes in order, then the outcome. Implementations must
/// return quickly: other transfers share that thread. Events of different transfers may come
/// at the same time, from different threads.
public protocol HTTPTransferReceiver: Sendable {
  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict
  /// `bodyOffset` is the position of `bytes` within the response body.
  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict
  func transferDidFinish(_ outcome: Result<Void, BitsError>)
}

/// Identifies a started transfer, for cancelling it.
public struct TransferID: Hashable, Sendable {
  fileprivate let lane: Int
  fileprivate let value: UInt64
}

/// An HTTP client driving transfers with libcurl's multi interface from a few network threads
/// ("lanes"), each with its own multi handle and connection pool: connections are reused
/// (HTTP/2 multiplexing where offered), any number of transfers run concurrently without a
/// thread each, and the receive work of concurrent transfers (socket reads, cache writes)
/// spreads over more than one core.
public final class HTTPClient: Sendable {
  private let lanes: [Lane]
  public let configuration: HTTPConfiguration

  public init(configuration: HTTPConfiguration = HTTPConfiguration()) {
    Self.initializeLibcurl
    self.configuration = configuration
    lanes = (0..<max(1, configuration.networkThreads)).map { Lane(index: $0, configuration: configuration) }
  }

  /// `curl_global_init` must run once, before any other libcurl call and before threads use it.
  private static let initializeLibcurl: Void = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
  }()

  deinit {
    shutdown()
  }

  /// Starts `request`; `receiver` hears about it on one of the network threads.
  @discardableResult
  public func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID {
    // The least busy lane, the first on a tie: one request at a time keeps to the first lane
    // and its open connections, while concurrent ones spread out.
    let lane = lanes.min { $0.transferCount < $1.transferCount } ?? lanes[0]
    return lane.start(request, receiver: receiver)
  }

  /// Stops a transfer; its receiver then finishes with `.cancelled` unless it already finished.
  public func cancel(_ id: TransferID) {
    lanes[id.lane].cancel(id)
  }

  /// Cancels every transfer and stops the network threads; waits until they have stopped.
  public func shutdown() {
    for lane in lanes { lane.shutdown() }
  }
}

/// One network thread and its multi handle.
private final class Lane: Sendable {
  private struct Inbox: ~Copyable {
    var nextID: UInt64 = 1
    var starts: [(TransferID, HTTPRequest, any HTTPTransferReceiver)] = []
    var cancellations: [TransferID] = []
    var isShuttingDown = false
  }

  /// The multi handle, touched from other threads only through `curl_multi_wakeup`, which
  /// libcurl documents as callable from any thread.
  private struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
  }

  private let index: Int
  private let activeTransfers = Atomic<Int>(0)
  private let inbox = Mutex(Inbox())
  private let multi: MultiHandle
  private let finished = DispatchSemaphore(value: 0)

  init(index: Int, configuration: HTTPConfiguration) {
    self.index = index
    guard let pointer = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
    multi = MultiHandle(pointer: pointer)
    _ = bitsfs_multi_set_long(pointer, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
    _ = bitsfs_multi_set_long(pointer, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
    startThread(named: "bitsfs-http") { [self] in
      var loop = TransferLoop(lane: self, multi: multi.pointer, configuration: configuration)
      loop.run()
      finished.signal()
    }
  }

  /// Transfers started on this lane and not yet finished.
  var transferCount: Int { activeTransfers.load(ordering: .relaxed) }

  func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID {
    activeTransfers.add(1, ordering: .relaxed)
    let id = inbox.withLock { inbox -> TransferID? in
      guard !inbox.isShuttingDown else { return nil }
      let id = TransferID(lane: index, value: inbox.nextID)
      inbox.nextID += 1
      inbox.starts.append((id, request, receiver))
      return id
    }
    guard let id else {
      activeTransfers.subtract(1, ordering: .relaxed)
      receiver.transferDidFinish(.failure(BitsError(.cancelled, "the HTTP client is shut down")))
      return TransferID(lane: index, value: 0)
    }
    curl_multi_wakeup(multi.pointer)
    return id
  }

  func cancel(_ id: TransferID) {
    inbox.withLock { $0.cancellations.append(id) }
    curl_multi_wakeup(multi.pointer)
  }

  func shutdown() {
    let first = inbox.withLock { inbox in
      defer { inbox.isShuttingDown = true }
      return !inbox.isShuttingDown
    }
    guard first else { return }
    curl_multi_wakeup(multi.pointer)
    finished.wait()
    curl_multi_cleanup(multi.pointer)
  }

  fileprivate func transferEnded() {
    activeTransfers.subtract(1, ordering: .relaxed)
  }

  fileprivate func takeInbox() -> (
    starts: [(TransferID, HTTPRequest, any HTTPTransferReceiver)], cancellations: [TransferID],
    isShuttingDown: Bool
  ) {
    inbox.withLock { inbox in
      defer {
        inbox.starts.removeAll()
        inbox.cancellations.removeAll()
      }
      return (inbox.starts, inbox.cancellations, inbox.isShuttingDown)
    }
  }
}

/// The state of one network thread; never leaves it.
private struct TransferLoop {
  let lane: Lane
  let multi: UnsafeMutableRawPointer
  let configuration: HTTPConfiguration
  var active: [TransferID: Transfer] = [:]

  init(lane: Lane, multi: UnsafeMutableRawPointer, configuration: HTTPConfiguration) {
    self.lane = lane
    self.multi = multi
    self.configuration = configuration
  }

  mutating func run() {
    while true {
      let inbox = lane.takeInbox()
      for (id, request, receiver) in inbox.starts {
        add(Transfer(id: id, request: request, receiver: receiver))
      }
      for id in inbox.cancellations {
        finish(id, outcome: .failure(BitsError(.cancelled, "the transfer was cancelled")))
      }
      if inbox.isShuttingDown {
        for id in Array(active.keys) {
          finish(id, outcome: .failure(BitsError(.cancelled, "the HTTP client is shut down")))
        }
        return
      }
      var running: Int32 = 0
      curl_multi_perform(multi, &running)
      collectFinished()
      deliverReceivedBodies()
      curl_multi_poll(multi, nil, 0, 1000, nil)
    }
  }

  private mutating func add(_ transfer: Transfer) {
    guard let easy = transfer.makeEasyHandle(configuration: configuration) else {
      lane.transferEnded()
      transfer.report(
        .failure(BitsError(.invalidArgument, "libcurl refused the request", url: transfer.request.url)),
        trace: configuration.trace)
      return
    }
    active[transfer.id] = transfer
    curl_multi_add_handle(multi, easy)
  }

  private mutating func collectFinished() {
    var pending: Int32 = 0
    while let message = curl_multi_info_read(multi, &pending) {
      guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
      let code = message.pointee.data.result
      var context: UnsafeMutableRawPointer?
      _ = withUnsafeMutablePointer(to: &context) {
        $0.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 1) {
          bitsfs_easy_get_pointer(easy, CURLINFO_PRIVATE, $0)
        }
      }
      guard let context else { continue }
      let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
      // Bytes that arrived before a failure are as good as any: the receiver keeps them.
      _ = transfer.deliverReceivedBody()
      finish(transfer.id, outcome: transfer.outcome(for: code))
    }
  }

  /// Hands each transfer's batched body bytes to its receiver once per pass, so no byte waits
  /// longer than one pass of the loop.
  private mutating func deliverReceivedBodies() {
    let refused = active.values.filter { !$0.deliverReceivedBody() }
    for transfer in refused {
      finish(transfer.id, outcome: transfer.outcome(for: CURLE_WRITE_ERROR))
    }
  }

  private mutating func finish(_ id: TransferID, outcome: Result<Void, BitsError>) {
    guard let transfer = active.removeValue(forKey: id) else { return }
    if let easy = transfer.easy {
      curl_multi_remove_handle(multi, easy)
    }
    lane.transferEnded()
    transfer.report(outcome, trace: configuration.trace)
  }
}

/// One easy handle and what its callbacks have seen. Lives on its network thread only.
private final class Transfer {
  let id: TransferID
  let request: HTTPRequest
  let receiver: any HTTPTransferReceiver
  private(set) var easy: UnsafeMutableRawPointer?
  private var headerList: UnsafeMutablePointer<curl_slist>?
  private var head = HTTPResponseHead(status: 0, headers: [:])
  private let started = ContinuousClock.now
  private var headDelivered = false
  /// Body bytes delivered to the receiver so far.
  private var bodyOffset: UInt64 = 0
  /// libcurl hands over the body in pieces of at most 16 KiB (`CURL_MAX_WRITE_SIZE`); they are
  /// batched here up to one receive buffer, so a receiver writing them to disk makes one system
  /// call per socket read, not one per 16 KiB.
  private var batch: UnsafeMutableRawBufferPointer?
  private var batchCount = 0
  private var abortReason: BitsError?
  private var reported = false

  init(id: TransferID, request: HTTPRequest, receiver: any HTTPTransferReceiver) {
    self.id = id
    self.request = request
    self.receiver = receiver
  }

  deinit {
    if let easy { curl_easy_cleanup(easy) }
    curl_slist_free_all(headerList)
    batch?.deallocate()
  }

  func makeEasyHandle(configuration: HTTPConfiguration) -> UnsafeMutableRawPointer? {
    guard let easy = curl_easy_init() else { return nil }
    self.easy = easy
    let context = Unmanaged.passUnretained(self).toOpaque()
    var ok = bitsfs_easy_set_string(easy, CURLOPT_URL, request.url) == CURLE_OK
    ok = ok && bitsfs_easy_set_string(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
    ok = ok && bitsfs_easy_set_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK
    guard ok else { return nil }
    _ = bitsfs_easy_set_long(easy, CURLOPT_FOLLOWLOCATION, 1)
    _ = bitsfs_easy_set_long(easy, CURLOPT_MAXREDIRS, 10)
    _ = bitsfs_easy_set_long(easy, CURLOPT_NOSIGNAL, 1)
    _ = bitsfs_easy_set_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
    _ = bitsfs_easy_set_long(easy, CURLOPT_BUFFERSIZE, Self.receiveBufferSize)
    _ = bitsfs_easy_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))
    // libcurl's stall detection: fewer than 1 byte/s for the whole stall window aborts.
    _ = bitsfs_easy_set_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
    _ = bitsfs_easy_set_long(easy, CURLOPT_LOW_SPEED_TIME, max(1, Int(configuration.stallTimeout.milliseconds / 1000)))
    _ = bitsfs_easy_set_long(easy, CURLOPT_SSL_VERIFYPEER, configuration.verifiesTLS ? 1 : 0)
    _ = bitsfs_easy_set_long(easy, CURLOPT_SSL_VERIFYHOST, configuration.verifiesTLS ? 2 : 0)
    if let path = configuration.certificateAuthorityPath { _ = bitsfs_easy_set_string(easy, CURLOPT_CAINFO, path) }
    _ = bitsfs_easy_set_string(easy, CURLOPT_USERAGENT, configuration.userAgent)
    _ = bitsfs_easy_set_pointer(easy, CURLOPT_PRIVATE, context)
    if let range = request.range {
      _ = bitsfs_easy_set_string(easy, CURLOPT_RANGE, "\(range.lowerBound)-\(range.upperBound - 1)")
    }
    var lines = request.headers.map { "\($0.name): \($0.value)" }
    if let ifRange = request.ifRange { lines.append("If-Range: \(ifRange)") }
    for line in lines { headerList = curl_slist_append(headerList, line) }
    if let headerList { _ = bitsfs_easy_set_slist(easy, CURLOPT_HTTPHEADER, headerList) }
    _ = bitsfs_easy_set_pointer(easy, CURLOPT_HEADERDATA, context)
    _ = bitsfs_easy_set_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
      guard let data, let context else { return 0 }
      let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
      transfer.head.add(line: UnsafeRawBufferPointer(start: data, count: size * count))
      return size * count
    }
    _ = bitsfs_easy_set_pointer(easy, CURLOPT_WRITEDATA, context)
    _ = bitsfs_easy_set_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
      guard let data, let context else { return 0 }
      let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
      let accepted = transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
      // Any count other than the one given makes libcurl stop with CURLE_WRITE_ERROR.
      return accepted ? size * count : 0
    }
    return easy
  }

  private func deliverHeadIfNeeded() -> Bool {
    guard !headDelivered else { return abortReason == nil }
    headDelivered = true
    if case .abort(let error) = receiver.transferDidReceiveHead(head) {
      abortReason = error
      return false
    }
    return true
  }

  private static let receiveBufferSize = 512 * 1024

  private func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard deliverHeadIfNeeded() else { return false }
    if batchCount + bytes.count > Self.receiveBufferSize {
      guard deliverReceivedBody() else { return false }
    }
    if bytes.count >= Self.receiveBufferSize { return deliver(bytes) }
    let batch = batch ?? .allocate(byteCount: Self.receiveBufferSize, alignment: 16)
    self.batch = batch
    UnsafeMutableRawBufferPointer(rebasing: batch[batchCount...]).copyMemory(from: bytes)
    batchCount += bytes.count
    return true
  }

  /// Hands the batched body bytes to the receiver; `false` once the receiver refused bytes.
  func deliverReceivedBody() -> Bool {
    guard abortReason == nil else { return false }
    guard let batch, batchCount > 0 else { return true }
    let count = batchCount
    batchCount = 0
    return deliver(UnsafeRawBufferPointer(rebasing: batch[..<count]))
  }

  private func deliver(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if case .abort(let error) = receiver.transferDidReceive(bytes, bodyOffset: bodyOffset) {
      abortReason = error
      return false
    }
    bodyOffset += UInt64(bytes.count)
    return true
  }

  func outcome(for code: CURLcode) -> Result<Void, BitsError> {
    if let abortReason { return .failure(abortReason) }
    if code == CURLE_OK {
      // A response without a body (a 416, an empty file) reaches the receiver only here.
      if !deliverHeadIfNeeded(), let abortReason { return .failure(abortReason) }
      return .success(())
    }
    return .failure(Self.error(for: code, url: request.url))
  }

  func report(_ outcome: Result<Void, BitsError>, trace: (@Sendable (String) -> Void)?) {
    guard !reported else { return }
    reported = true
    if let trace {
      let range = request.range.map { "\($0.lowerBound)-\($0.upperBound - 1)" } ?? "all"
      let milliseconds = (ContinuousClock.now - started).milliseconds
      let result: String
      switch outcome {
      case .success: result = "ok"
      case .failure(let error): result = error.code.name
      }
      trace(
        "GET \(request.url) bytes=\(range) status=\(head.status) received=\(bodyOffset) \(milliseconds)ms \(result)")
    }
    receiver.transferDidFinish(outcome)
  }

  private static func error(for code: CURLcode, url: String) -> BitsError {
    let reason = String(cString: curl_easy_strerror(code))
    switch code {
    case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
      return BitsError(.connectFailure, "cannot connect to the server: \(reason)", url: url)
    case CURLE_OPERATION_TIMEDOUT:
      return BitsError(.timedOut, "the server stopped answering: \(reason)", url: url)
    case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
      return BitsError(.invalidArgument, "unsupported or malformed URL: \(reason)", url: url)
    case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR:
      return BitsError(
        .certificateInvalid,
        "TLS verification failed: \(reason) (trust its certificate authority with --ca-cert FILE)", url: url)
    case CURLE_TOO_MANY_REDIRECTS:
      return BitsError(.invalidServerResponse, "too many redirects", url: url)
    default:
      return BitsError(.connectionClosed, "the connection failed: \(reason)", url: url)
    }
  }
}
