/// What a file tells its job.
enum FileEvent: Sendable {
  /// Bytes arrived (`FileRangesTransferred`, already rate-limited).
  case rangesTransferred([FileRange])
  /// A request failed transiently and will be retried.
  case retrying(BitsError)
  /// A request failed for good.
  case failed(BitsError)
  /// New requests were queued, or bytes flow again after a transient error.
  case transferring
  /// Nothing is queued or in flight.
  case idle
  /// The remote file changed: every filled range was dropped.
  case versionChanged
}
