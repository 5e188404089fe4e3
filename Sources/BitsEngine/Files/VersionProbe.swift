import Dispatch
import Synchronization

/// What a probe learned: the version, the URL that answered after any redirects, and the
/// `If-Range` validator for range requests of that version.
struct ProbeResult: Sendable {
  var version: RemoteVersion
  var finalURL: String?
  var rangeValidator: String?
}

/// Learns a file's version with one-byte range requests, retrying transient failures with the
/// backoff until `retryPeriod` has passed. Nothing blocks while it waits: each attempt is a
/// transfer, each pause a timer.
struct VersionProbe: Sendable {
  let url: String
  let headers: [HTTPHeader]
  let transport: any HTTPTransport
  let backoff: Backoff
  let retryPeriod: Duration
  /// Told of each transient failure that will be retried.
  let retrying: @Sendable (BitsError) -> Void

  func run(completion: @escaping @Sendable (Result<ProbeResult, BitsError>) -> Void) {
    attempt(1, startedAt: .now, completion: completion)
  }

  private func attempt(
    _ number: Int, startedAt start: ContinuousClock.Instant,
    completion: @escaping @Sendable (Result<ProbeResult, BitsError>) -> Void
  ) {
    let receiver = ProbeReceiver(url: url) { result in
      guard case .failure(let error) = result, error.code.isTransient else { return completion(result) }
      let delay = backoff.delay(beforeAttempt: number)
      guard ContinuousClock.now - start + delay < retryPeriod else { return completion(result) }
      retrying(error)
      DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) {
        attempt(number + 1, startedAt: start, completion: completion)
      }
    }
    transport.start(HTTPRequest(url: url, range: 0..<1, headers: headers), receiver: receiver)
  }
}

/// Learns a file's version from the head of a one-byte range request.
private final class ProbeReceiver: HTTPTransferReceiver {
  let url: String
  private let result = Mutex<Result<ProbeResult, BitsError>?>(nil)
  private let completion: @Sendable (Result<ProbeResult, BitsError>) -> Void

  init(url: String, completion: @escaping @Sendable (Result<ProbeResult, BitsError>) -> Void) {
    self.url = url
    self.completion = completion
  }

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    let version = ServerRules.version(fromProbe: head, url: url).map {
      ProbeResult(version: $0, finalURL: head.finalURL, rangeValidator: ServerRules.rangeValidator(for: $0, from: head))
    }
    result.withLock { $0 = version }
    // The head says all a probe needs; a server ignoring ranges would send the whole file.
    if case .failure(let error) = version { return .abort(error) }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    let final = result.withLock { result -> Result<ProbeResult, BitsError> in
      switch (outcome, result) {
      // Once the head gave the version, a connection lost during the one-byte body changes nothing.
      case (.failure(let error), .success?) where error.code.isTransient: break
      case (.failure(let error), _): result = .failure(error)
      case (.success, nil): result = .failure(BitsError(.invalidServerResponse, "no answer", url: url))
      case (.success, _): break
      }
      return result!
    }
    completion(final)
  }
}
