import Dispatch
import Synchronization

/// Reads one directory: GETs its listing (every page of an S3 listing), within a deadline and
/// with bounded bodies, and parses it. A page URL that an S3 server answers is read again as a
/// bucket prefix (path style). Transient failures are retried with the backoff until the
/// deadline. Nothing blocks: each attempt is a transfer, each pause a timer.
package struct DirectoryReader: Sendable {
  package struct Limits: Sendable {
    /// The most entries of one directory, all pages together.
    package var entries: Int = 100_000
    /// The largest body of one listing page: 100,000 rows of an HTML listing are about 20 MB.
    package var bodyBytes: Int = 64 << 20
    /// The whole reading of one directory, every page and retry.
    package var time: Duration = .seconds(30)

    package init() {}
  }

  let transport: any HTTPTransport
  let headers: [HTTPHeader]
  let backoff: Backoff
  /// Transient failures are retried until this has passed (and within the time limit).
  let retryPeriod: Duration
  let limits: Limits

  package init(
    transport: any HTTPTransport, headers: [HTTPHeader], backoff: Backoff, retryPeriod: Duration, limits: Limits
  ) {
    self.transport = transport
    self.headers = headers
    self.backoff = backoff
    self.retryPeriod = retryPeriod
    self.limits = limits
  }

  /// The listing of `location`, and the location it was read from (an S3 prefix for a page URL
  /// that S3 answered).
  package typealias Completion = @Sendable (Result<(DirectoryListing, DirectoryLocation), BitsError>) -> Void

  package func read(_ location: DirectoryLocation, completion: @escaping Completion) {
    let start = ContinuousClock.now
    let reading = Reading(
      reader: self, deadline: start + limits.time, retryDeadline: start + min(retryPeriod, limits.time),
      parser: ListingParser(entryLimit: limits.entries), completion: completion)
    reading.page(location, previous: nil, token: nil, attempt: 1)
  }

  /// `read(_:completion:)`, waiting for the outcome.
  package func read(_ location: DirectoryLocation) throws(BitsError) -> (DirectoryListing, DirectoryLocation) {
    try waitForResult { read(location, completion: $0) }.get()
  }
}

/// One directory being read: its pages in turn, each with retries, until the deadline.
private struct Reading: Sendable {
  let reader: DirectoryReader
  let deadline: ContinuousClock.Instant
  let retryDeadline: ContinuousClock.Instant
  let parser: ListingParser
  let completion: DirectoryReader.Completion

  func page(_ location: DirectoryLocation, previous: DirectoryListing?, token: String?, attempt: Int) {
    let url = location.listingURL(continuationToken: token)
    let remaining = deadline - .now
    guard remaining > .zero else { return completion(.failure(timedOut(url))) }
    var request = HTTPRequest(url: url, range: nil, headers: reader.headers)
    request.headers.append(HTTPHeader(name: "Accept", value: ListingParser.accept))
    let receiver = BodyReceiver(url: url, limit: reader.limits.bodyBytes) { answer in
      switch answer {
      case .failure(let error) where error.code.isTransient:
        let delay = reader.backoff.delay(beforeAttempt: attempt)
        guard ContinuousClock.now + delay < retryDeadline else { return completion(.failure(error)) }
        DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) {
          page(location, previous: previous, token: token, attempt: attempt + 1)
        }
      case .failure(let error):
        completion(.failure(error))
      case .success(let (head, body)):
        // Off the network thread, which other transfers share: a page of 100,000 entries takes
        // a while to read.
        ListingThreads.shared.run {
          parsed(head: head, body: body, location: location, previous: previous, url: url)
        }
      }
    }
    let transfer = reader.transport.start(request, receiver: receiver)
    // A server that trickles a listing is bounded too: the transfer ends at the deadline.
    DispatchQueue.global().asyncAfter(deadline: .now() + remaining.dispatchInterval) { [transport = reader.transport] in
      if receiver.expire() { transport.cancel(transfer) }
    }
  }

  private func parsed(
    head: HTTPResponseHead, body: [UInt8], location: DirectoryLocation, previous: DirectoryListing?, url: String
  ) {
    if previous == nil, case .page = location, Self.isS3(head, body), let bucket = location.asS3PathStyle {
      return page(bucket, previous: nil, token: nil, attempt: 1)
    }
    let listing: DirectoryListing
    do throws(ListingError) {
      listing = try parser.parse(body, head: head, url: url, continuing: previous)
    } catch {
      if case .status(let status) = error { return completion(.failure(ServerRules.statusError(status, url: url))) }
      return completion(.failure(BitsError(.invalidServerResponse, "not a directory listing: \(error)", url: url)))
    }
    guard let token = listing.continuationToken else { return completion(.success((listing, location))) }
    guard token != previous?.continuationToken else {
      return completion(.failure(BitsError(.invalidServerResponse, "an S3 listing that repeats its page", url: url)))
    }
    page(location, previous: listing, token: token, attempt: 1)
  }

  /// Whether an answer to a page URL came from an S3 server: an S3 error (such as `NoSuchKey`
  /// for a prefix, which is no object) or a listing of a bucket's keys. Told by the body, as
  /// S3-compatible servers name themselves differently in their headers.
  private static func isS3(_ head: HTTPResponseHead, _ body: [UInt8]) -> Bool {
    let text = String(decoding: body.prefix(512), as: UTF8.self)
    return text.hasPrefix("<?xml") && (text.contains("<Error><Code>") || text.contains("<ListBucketResult"))
  }

  private func timedOut(_ url: String) -> BitsError {
    BitsError(.timedOut, "the directory listing did not arrive within \(reader.limits.time)", url: url)
  }
}

/// Collects a body up to a limit; tells its completion the head and the body, or the failure.
private final class BodyReceiver: HTTPTransferReceiver {
  private struct State {
    var head: HTTPResponseHead?
    var body: [UInt8] = []
    var failure: BitsError?
    var finished = false
  }

  let url: String
  let limit: Int
  private let state = Mutex(State())
  private let completion: @Sendable (Result<(HTTPResponseHead, [UInt8]), BitsError>) -> Void

  init(
    url: String, limit: Int, completion: @escaping @Sendable (Result<(HTTPResponseHead, [UInt8]), BitsError>) -> Void
  ) {
    self.url = url
    self.limit = limit
    self.completion = completion
  }

  /// Marks the transfer as out of time; whether it was still running (and should be cancelled).
  func expire() -> Bool {
    state.withLock { state in
      guard !state.finished else { return false }
      state.failure = BitsError(.timedOut, "the directory listing did not arrive in time", url: url)
      return true
    }
  }

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    state.withLock { $0.head = head }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    state.withLock { state -> TransferVerdict in
      guard state.body.count + bytes.count <= limit else {
        let error = BitsError(.invalidServerResponse, "a directory listing larger than \(limit) bytes", url: url)
        state.failure = error
        return .abort(error)
      }
      state.body.append(contentsOf: bytes)
      return .proceed
    }
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    let result = state.withLock { state -> Result<(HTTPResponseHead, [UInt8]), BitsError> in
      state.finished = true
      if let failure = state.failure { return .failure(failure) }
      if case .failure(let error) = outcome { return .failure(error) }
      guard let head = state.head else { return .failure(BitsError(.invalidServerResponse, "no answer", url: url)) }
      return .success((head, state.body))
    }
    completion(result)
  }
}
