import CCurl

/// An HTTP client driving transfers with libcurl's multi interface from a few network threads
/// ("lanes"), each with its own multi handle and connection pool: connections are reused
/// (HTTP/2 multiplexing where offered), any number of transfers run concurrently without a
/// thread each, and the receive work of concurrent transfers (socket reads, cache writes)
/// spreads over more than one core. Background requests (`HTTPRequest.isBackground`) have
/// lanes of their own, which pause receiving while any foreground transfer is in flight
/// (`ForegroundActivity`): a reader's request then has the link and the server to itself.
public final class HTTPClient: HTTPTransport {
  /// The foreground lanes, then the background ones; a transfer's id names its lane's index.
  private let lanes: [CurlLane]
  private let foregroundLanes: Range<Int>
  public let configuration: HTTPConfiguration

  public init(configuration: HTTPConfiguration = HTTPConfiguration()) {
    Self.initializeLibcurl
    self.configuration = configuration
    let count = max(1, configuration.networkThreads)
    let activity = ForegroundActivity(grace: configuration.backgroundYieldGrace)
    foregroundLanes = 0..<count
    lanes = (0..<2 * count).map { index in
      CurlLane(
        index: index, role: index < count ? .foreground : .background, activity: activity,
        configuration: configuration)
    }
    activity.yield(Array(lanes[count...]))
  }

  /// `curl_global_init` must run once, before any other libcurl call and before threads use it.
  private static let initializeLibcurl: Void = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
  }()

  deinit {
    shutdown()
  }

  @discardableResult
  public func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID {
    // The least busy lane, the first on a tie: one request at a time keeps to the first lane
    // and its open connections, while concurrent ones spread out.
    let candidates = request.isBackground ? lanes[foregroundLanes.upperBound...] : lanes[foregroundLanes]
    let lane = candidates.min { $0.transferCount < $1.transferCount } ?? lanes[0]
    return lane.start(request, receiver: receiver)
  }

  public func cancel(_ id: TransferID) {
    guard lanes.indices.contains(id.lane) else { return }
    lanes[id.lane].cancel(id)
  }

  /// Cancels every transfer and stops the network threads; waits until they have stopped,
  /// unless called from one of them (the last reference dropped by a receiver), which stops
  /// once the event it is handling returns.
  public func shutdown() {
    for lane in lanes { lane.shutdown() }
  }
}
