import CCurl
import Glibc
import Synchronization

/// One network thread and its libcurl multi handle. Other threads hand it work through the
/// inbox and wake it with `curl_multi_wakeup`, which libcurl allows from any thread; the
/// thread itself frees the multi handle when it stops, under the inbox lock, so no wakeup can
/// reach a freed handle.
final class CurlLane: Sendable {
  private struct Inbox: ~Copyable {
    var nextID: UInt64 = 1
    var starts: [(TransferID, HTTPRequest, any HTTPTransferReceiver)] = []
    var cancellations: [TransferID] = []
    var isShuttingDown = false
    /// The multi handle, until the network thread freed it.
    var multi: MultiHandle?
  }

  /// The multi handle's address, shared only under the inbox lock or on the network thread.
  struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
  }

  /// Background lanes yield to foreground ones (`ForegroundActivity`).
  enum Role {
    case foreground
    case background
  }

  private let index: Int
  private let role: Role
  /// What a foreground lane reports its transfers to, and a background lane yields to.
  fileprivate let activity: ForegroundActivity
  private let activeTransfers = Atomic<Int>(0)
  private let inbox: Mutex<Inbox>
  private let finished = Condition()
  private let hasFinished = Atomic<Bool>(false)
  /// The network thread's id, so a shutdown from that very thread does not wait for itself.
  private let threadID = Atomic<UInt>(0)

  init(index: Int, role: Role, activity: ForegroundActivity, configuration: HTTPConfiguration) {
    self.index = index
    self.role = role
    self.activity = activity
    let multi = curl_multi_init().map(MultiHandle.init)
    inbox = Mutex(Inbox(multi: multi))
    guard let multi else {
      hasFinished.store(true, ordering: .sequentiallyConsistent)
      return
    }
    // Both are tuning, not correctness: a libcurl refusing them still transfers.
    _ = bitsfs_multi_set_long(multi.pointer, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
    _ = bitsfs_multi_set_long(multi.pointer, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
    startThread(named: role == .background ? "bitsfs-http-bg" : "bitsfs-http") { [self] in
      threadID.store(UInt(pthread_self()), ordering: .sequentiallyConsistent)
      var loop = CurlTransferLoop(lane: self, multi: multi.pointer, configuration: configuration)
      loop.run()
      inbox.withLock { inbox in
        curl_multi_cleanup(multi.pointer)
        inbox.multi = nil
      }
      hasFinished.store(true, ordering: .sequentiallyConsistent)
      finished.broadcast()
    }
  }

  /// Transfers started on this lane and not yet finished.
  var transferCount: Int { activeTransfers.load(ordering: .relaxed) }

  func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID {
    activeTransfers.add(1, ordering: .relaxed)
    if role == .foreground { activity.transferBegan() }
    let id = inbox.withLock { inbox -> TransferID? in
      guard !inbox.isShuttingDown, let multi = inbox.multi else { return nil }
      let id = TransferID(lane: index, value: inbox.nextID)
      inbox.nextID += 1
      inbox.starts.append((id, request, receiver))
      curl_multi_wakeup(multi.pointer)
      return id
    }
    guard let id else {
      transferEnded()
      receiver.transferDidFinish(.failure(BitsError(.cancelled, "the HTTP client is shut down", url: request.url)))
      return TransferID(lane: index, value: 0)
    }
    return id
  }

  func cancel(_ id: TransferID) {
    inbox.withLock { inbox in
      guard let multi = inbox.multi else { return }
      inbox.cancellations.append(id)
      curl_multi_wakeup(multi.pointer)
    }
  }

  /// Makes the network thread look again at what it yields to.
  func wake() {
    inbox.withLock { inbox in
      if let multi = inbox.multi { curl_multi_wakeup(multi.pointer) }
    }
  }

  func shutdown() {
    inbox.withLock { inbox in
      inbox.isShuttingDown = true
      if let multi = inbox.multi { curl_multi_wakeup(multi.pointer) }
    }
    guard threadID.load(ordering: .sequentiallyConsistent) != UInt(pthread_self()) else { return }
    _ = finished.wait(until: .now + .seconds(3600)) { hasFinished.load(ordering: .sequentiallyConsistent) }
  }

  fileprivate func transferEnded() {
    activeTransfers.subtract(1, ordering: .relaxed)
    if role == .foreground { activity.transferEnded() }
  }

  /// Whether this lane's transfers should not receive now, and until when if that is known.
  fileprivate func yields(at now: ContinuousClock.Instant) -> ForegroundActivity.Answer {
    role == .background ? activity.answer(at: now) : ForegroundActivity.Answer(yields: false)
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
private struct CurlTransferLoop {
  let lane: CurlLane
  let multi: UnsafeMutableRawPointer
  let configuration: HTTPConfiguration
  var active: [TransferID: CurlTransfer] = [:]

  init(lane: CurlLane, multi: UnsafeMutableRawPointer, configuration: HTTPConfiguration) {
    self.lane = lane
    self.multi = multi
    self.configuration = configuration
  }

  mutating func run() {
    while true {
      let inbox = lane.takeInbox()
      for (id, request, receiver) in inbox.starts {
        add(CurlTransfer(id: id, request: request, receiver: receiver))
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
      let resume = yieldIfAsked()
      var running: Int32 = 0
      let performed = curl_multi_perform(multi, &running)
      guard performed == CURLM_OK else {
        failEveryTransfer(performed)
        continue
      }
      collectFinished()
      deliverReceivedBodies()
      abandonStalledTransfers()
      let timeout = resume.map { min(pollTimeout, Int32(clamping: ($0 - .now).milliseconds + 1)) } ?? pollTimeout
      let polled = curl_multi_poll(multi, nil, 0, timeout, nil)
      if polled != CURLM_OK { failEveryTransfer(polled) }
    }
  }

  /// Pauses the transfers while the lane yields, resumes them when it no longer does; a
  /// transfer added meanwhile starts paused. Returns when to look again, if before the next
  /// event.
  private func yieldIfAsked() -> ContinuousClock.Instant? {
    let answer = lane.yields(at: .now)
    for transfer in active.values where transfer.isPaused != answer.yields {
      transfer.setPaused(answer.yields)
    }
    return answer.until
  }

  /// How long one wait for sockets may take: short enough to notice a stall soon after the
  /// stall timeout.
  private var pollTimeout: Int32 {
    Int32(clamping: max(50, min(1000, configuration.stallTimeout.milliseconds / 4)))
  }

  /// Ends the transfers that received nothing (no head line, no body byte) for the stall
  /// timeout since they last did, or since their connection was made (a request waiting for
  /// a free connection is not stalled). libcurl's own low-speed limit averages over seconds, so a burst followed by
  /// silence would be noticed many seconds late.
  private mutating func abandonStalledTransfers() {
    let now = ContinuousClock.now
    let stalled = active.values.filter { transfer in
      !transfer.isPaused && transfer.lastActivity.map { now - $0 >= configuration.stallTimeout } ?? false
    }
    for transfer in stalled {
      let seconds = configuration.stallTimeout.seconds
      finish(
        transfer.id,
        outcome: .failure(
          BitsError(.timedOut, "the server sent nothing for \(seconds) s", url: transfer.request.url)))
    }
  }

  private mutating func add(_ transfer: CurlTransfer) {
    let easy: UnsafeMutableRawPointer
    do throws(BitsError) {
      easy = try transfer.makeEasyHandle(configuration: configuration)
    } catch {
      lane.transferEnded()
      transfer.report(.failure(error), trace: configuration.trace)
      return
    }
    let added = curl_multi_add_handle(multi, easy)
    guard added == CURLM_OK else {
      lane.transferEnded()
      transfer.report(.failure(Self.multiError(added, url: transfer.request.url)), trace: configuration.trace)
      return
    }
    active[transfer.id] = transfer
  }

  /// The multi handle itself failed (out of memory, a bad socket): every transfer on it fails
  /// with a transient error, so their owners retry.
  private mutating func failEveryTransfer(_ code: CURLMcode) {
    for (id, transfer) in active {
      finish(id, outcome: .failure(Self.multiError(code, url: transfer.request.url)))
    }
  }

  private static func multiError(_ code: CURLMcode, url: String) -> BitsError {
    BitsError(.connectionClosed, "libcurl failed: \(String(cString: curl_multi_strerror(code)))", url: url)
  }

  private mutating func collectFinished() {
    var pending: Int32 = 0
    while let message = curl_multi_info_read(multi, &pending) {
      guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
      let code = message.pointee.data.result
      var context: UnsafeMutableRawPointer?
      let found = withUnsafeMutablePointer(to: &context) {
        $0.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 1) {
          bitsfs_easy_get_pointer(easy, CURLINFO_PRIVATE, $0)
        }
      }
      guard found == CURLE_OK, let context else { continue }
      let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
      if code == CURLE_OK, transfer.receivedRedirect {
        follow(transfer, easy: easy)
        continue
      }
      // Bytes that arrived before a failure are as good as any: the receiver keeps them.
      _ = transfer.deliverReceivedBody()
      finish(transfer.id, outcome: transfer.outcome(for: code))
    }
  }

  /// Sends `transfer` on to where its redirect points, on the same easy handle and connections.
  private mutating func follow(_ transfer: CurlTransfer, easy: UnsafeMutableRawPointer) {
    _ = curl_multi_remove_handle(multi, easy)
    do throws(BitsError) {
      try transfer.followRedirect(configuration: configuration)
    } catch {
      return finish(transfer.id, outcome: .failure(error))
    }
    let added = curl_multi_add_handle(multi, easy)
    guard added == CURLM_OK else {
      return finish(transfer.id, outcome: .failure(Self.multiError(added, url: transfer.request.url)))
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
      // Removing a handle the multi holds cannot fail but for a bad handle, which this is not.
      _ = curl_multi_remove_handle(multi, easy)
    }
    lane.transferEnded()
    transfer.report(outcome, trace: configuration.trace)
  }
}
