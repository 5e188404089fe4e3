import FoundationEssentials
import Logging

/// How a job transfers: limits, timing and the headers sent with every request.
public struct JobConfiguration: Sendable {
  /// BITS on-demand mode: files are fetched only where `requestFileRanges` or a read asks.
  public var isOnDemand = false
  /// No network at all: files are served at the version their cache holds, and reads of bytes
  /// not cached fail at once.
  public var isOffline = false
  /// `MaxRangesPerFile`.
  public var maximumRangesPerFile = RangeValidation.defaultMaximumRangeCount
  /// `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL`: `FileRangesTransferred` comes no more often.
  public var minimumNotificationInterval: Duration = .milliseconds(500)
  /// How long transient errors (refused or reset connections, stalls, 5xx, 429) are retried
  /// before the job goes to the error state.
  public var retryPeriod: Duration = .seconds(120)
  /// The first pause before a retry; it doubles each time up to `maximumRetryDelay`.
  public var initialRetryDelay: Duration = .milliseconds(200)
  public var maximumRetryDelay: Duration = .seconds(5)
  /// The largest range one request asks for; larger ranges are split so they can be fetched
  /// over several connections at once and retried in smaller pieces.
  public var maximumRequestSize: UInt64 = 8 << 20
  /// Requests in flight at once per file.
  public var maximumConcurrentRequests = 6
  /// Background requests (priority `normal` or `low`) in flight at once in the whole job; they
  /// start only while no reader's request is in flight.
  public var maximumBackgroundRequests = 8
  /// The most bytes a second background requests ask for, all together (requests of at most a
  /// quarter second's worth); `nil` for no cap.
  public var backgroundRate: UInt64?
  /// How often filled ranges are made durable in the cache journal while bytes arrive.
  public var commitInterval: Duration = .seconds(1)
  /// How soon after a file's transfers go quiet its filled ranges are made durable: a burst's
  /// bytes survive a crash soon after, while a reader making one request after another (each
  /// going quiet in between) costs a disk flush per interval, not per request.
  public var idleCommitDelay: Duration = .milliseconds(100)
  /// `BG_JOB_PRIORITY`: where the job's background transfers queue among other work; readers
  /// of a mount always go first.
  public var priority: TransferPriority = .normal
  /// Bounds on the cache directory's size and on the free space left on its file system; `nil`
  /// for none. Files of an on-demand job (a mount) lose their least recently used blocks to stay
  /// within them; other jobs' bytes are the files being delivered, so a range that does not fit
  /// fails.
  public var cacheLimits: CacheLimits?
  /// Request headers such as `Authorization`; kept in memory only.
  public var headers: [HTTPHeader] = []
  /// Where files tell what happened to them: warnings for version changes, requests that
  /// failed for good and revalidations that could not reach the server (each cause once per
  /// minute with a count of its repeats); revalidations at info; retries at debug. URLs appear
  /// without credentials or query strings; header values never.
  public var logger = Logger.disabled

  public init() {}
}

extension JobConfiguration {
  /// The pause before each retry, from `initialRetryDelay` and `maximumRetryDelay`.
  package var backoff: Backoff { Backoff(initial: initialRetryDelay, maximum: maximumRetryDelay) }
}
