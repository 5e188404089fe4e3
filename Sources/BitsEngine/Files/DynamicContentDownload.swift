import Dispatch
import Glibc
import Synchronization

/// A file of dynamic content (`BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): its server gives no size or
/// ignores ranges, so it is fetched whole in one GET, written aside and put in place once
/// complete. Without a size and a version nothing can be resumed: an interrupted download
/// starts over, and bytes of two answers are never put together.
public final class DynamicContentDownload: Sendable {
  public let remoteURL: String
  public let localName: String
  private let transport: any HTTPTransport
  private let headers: [HTTPHeader]
  private let progress = Mutex(Progress())
  private let done = DispatchSemaphore(value: 0)

  private struct Progress {
    var received: UInt64 = 0
    /// From `Content-Length`, when the server gives one.
    var expected: UInt64?
    var transfer: TransferID?
    var outcome: Result<Void, BitsError>?
  }

  public init(remoteURL: String, localName: String, transport: any HTTPTransport, headers: [HTTPHeader] = [])
    throws(BitsError)
  {
    try DownloadJob.validate(remoteURL: remoteURL)
    try DownloadJob.validate(localName: localName)
    self.remoteURL = remoteURL
    self.localName = localName
    self.transport = transport
    self.headers = headers
  }

  /// Bytes received so far, and the size the server announced, if it did.
  public var bytesReceived: UInt64 { progress.withLock { $0.received } }
  public var bytesExpected: UInt64? { progress.withLock { $0.expected } }

  /// Fetches the file and puts it at `localName`; returns once that is done or has failed (a
  /// stalled server fails it after the client's stall timeout), calling `report` every
  /// `interval` meanwhile.
  public func run(progressEvery interval: Duration, _ report: (DynamicContentDownload) -> Void) throws(BitsError) {
    let scratch = localName + ".bitsfs-part"
    let data = try DataFile(path: scratch, create: true)
    let receiver = DynamicContentReceiver(download: self, data: data)
    let transfer = transport.start(HTTPRequest(url: remoteURL, range: nil, headers: headers), receiver: receiver)
    progress.withLock { $0.transfer = transfer }
    while done.wait(timeout: .now() + interval.dispatchInterval) == .timedOut { report(self) }
    report(self)
    let outcome = progress.withLock { $0.outcome } ?? .failure(BitsError(.cancelled, "the download was cancelled"))
    do throws(BitsError) {
      try outcome.get()
      try data.synchronize()
      try publish(scratch, as: localName)
    } catch {
      unlink(scratch)
      throw error
    }
  }

  /// Stops the transfer; `run` then fails with `E_ABORT` and leaves nothing behind.
  public func cancel() {
    guard let transfer = progress.withLock({ $0.transfer }) else { return }
    transport.cancel(transfer)
  }

  fileprivate func received(head: HTTPResponseHead) -> TransferVerdict {
    guard head.status == 200 else { return .abort(ServerRules.statusError(head.status, url: remoteURL)) }
    do throws(HTTPFieldError) {
      let length = try head.contentLength
      progress.withLock { $0.expected = length }
    } catch {
      return .abort(BitsError(.invalidServerResponse, "the server sent an unusable Content-Length", url: remoteURL))
    }
    return .proceed
  }

  fileprivate func received(_ count: Int) {
    progress.withLock { $0.received += UInt64(count) }
  }

  fileprivate func finished(_ outcome: Result<Void, BitsError>) {
    let restart = "dynamic content cannot be resumed: run again to start over"
    progress.withLock { progress in
      switch outcome {
      case .success:
        if let expected = progress.expected, expected != progress.received {
          progress.outcome = .failure(
            BitsError(
              .connectionClosed,
              "the server sent \(progress.received) of the \(expected) bytes it announced; \(restart)",
              url: remoteURL))
        } else {
          progress.outcome = outcome
        }
      case .failure(let error) where error.code == .cancelled:
        progress.outcome = outcome
      case .failure(let error):
        progress.outcome = .failure(BitsError(error.code, "\(error.message); \(restart)", url: error.url))
      }
    }
    done.signal()
  }
}

/// Writes the one answer's body in order.
private struct DynamicContentReceiver: HTTPTransferReceiver {
  let download: DynamicContentDownload
  let data: DataFile

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    download.received(head: head)
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    do {
      try data.write(bytes, at: bodyOffset)
    } catch {
      return .abort(error)
    }
    download.received(bytes.count)
    return .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    download.finished(outcome)
  }
}
