import Dispatch
import Synchronization

/// Counters for `bitsfs status` and the tests.
public struct FileStatistics: Sendable {
  public var size: UInt64?
  public var filledBytes: UInt64
  public var filledRangeCount: Int
  /// Bytes received from the network in this process.
  public var fetchedBytes: UInt64
  /// Range requests sent in this process.
  public var requestCount: Int
  /// Range requests sent and not ended yet.
  public var requestsInFlight: Int
  /// Bytes fetched by read-ahead in this process, and how many of them readers then read.
  public var readAheadBytes: UInt64
  public var readAheadUsedBytes: UInt64
  /// The last failure of a request or of the cache (a journal that could not be written), also
  /// in an on-demand job, whose readers got the errors but whose job goes on.
  public var lastError: BitsError?
  public var activity: FileActivity
  /// The transient failure requests wait to be retried after, if any.
  public var retryingAfter: BitsError?
  /// The file is served at the version its cache held, which the server has not confirmed yet
  /// (offline, or the server could not be reached when the file was connected).
  public var isVersionUnconfirmed: Bool
}

/// What a file is doing.
public enum FileActivity: String, Sendable, Codable {
  /// Its version is being learned (at the start, or again after a change).
  case connecting
  case transferring
  /// Requests wait to be retried after a transient failure.
  case retrying
  /// Nothing queued or in flight.
  case idle
  case suspended
}

/// A file of a download job (`IBackgroundCopyFile2`): its remote URL, the ranges asked of it,
/// and the engine that fills them. Every byte range is fetched at most once per version; reads
/// wait only for their own bytes and are answered as soon as those are in the cache.
///
/// The file's concepts live in files of their own: versions and revalidation
/// (`DownloadFile+Versions`), readers and their deadlines (`DownloadFile+Reading`), requests
/// and network events (`DownloadFile+Transfers`, `PieceReceiver`), journal commits
/// (`DownloadFile+Journal`), `FileRangesTransferred` (`DownloadFile+Reports`) and `Complete()`
/// (`DownloadFile+Delivery`). The decisions are pure values in `Scheduling/`.
///
/// Locking: `state` is the file's own lock; only the job's `admission` and `readerPins` (leaves)
/// are taken while it is held, nothing is waited on, and no callback runs under it. The cache
/// budget is called with neither held. `persistQueue` is serial and runs the cache
/// I/O (open, reset, commit, delivery); work on it may take `state`; nothing holding `state`
/// waits for it (only `async` onto it). Callbacks to readers and to the job run on the network
/// threads or on `callbackQueue`, never under `state`.
public final class DownloadFile: Sendable {
  /// The URL the file is fetched from; `setRemoteName` changes it (a mirror, a renewed
  /// presigned URL).
  public var remoteURL: String { state.withLock { $0.remoteURL } }
  /// Where `complete()` puts the file; `nil` for files read only through the cache (mounts).
  public let localName: String?
  /// The ranges of `AddFileWithRanges` in the order given; `nil` for the whole file.
  public let requestedRanges: [FileRange]?

  let configuration: JobConfiguration
  let transport: any HTTPTransport
  let cache: CacheEntry
  /// The job's word on which of its files' requests start, across files.
  let admission: TransferAdmission
  let notify: @Sendable (DownloadFile, FileEvent) -> Void
  let warnings: ThrottledWarnings
  let state: Mutex<State>
  /// Counts this file's bytes against the cache's limits; `nil` without limits.
  let budget: CacheBudget?
  let budgetID: UInt64
  /// Ranges of the cache file readers are being answered from (see `CachePin`).
  let readerPins = Mutex(ReaderPins())
  let persistQueue = DispatchQueue(label: "bitsfs.cache-commit")
  let callbackQueue = DispatchQueue(label: "bitsfs.file-callbacks", attributes: .concurrent)

  typealias ReadCompletion = @Sendable (Result<FilledBytes, BitsError>) -> Void
  typealias ConnectCompletion = @Sendable (Result<RemoteVersion, BitsError>) -> Void

  struct State: Sendable {
    var remoteURL: String
    var version: RemoteVersion?
    var lastKnownVersion: RemoteVersion?
    /// When the server last confirmed `version`.
    var lastValidated: ContinuousClock.Instant?
    /// When a revalidation last failed to reach the server: opens serve the cache meanwhile.
    var lastValidationFailure: ContinuousClock.Instant?
    /// The version is the one the cache held, not yet confirmed by the server.
    var isVersionUnconfirmed = false
    /// Opens waiting for the revalidation in flight, if one is.
    var revalidationWaiters: [@Sendable () -> Void]?
    /// Callers waiting for the connection attempt in flight, if one is.
    var connectWaiters: [ConnectCompletion]?
    /// Increases each time the file is (re)connected to a version.
    var generation: UInt64 = 0
    var data: DataFile?
    /// Where range requests go: the URL a redirect of the probe ended at, remembered for the
    /// version; `nil` for `remoteURL` itself.
    var dataURL: String?
    /// Sent as `If-Range` with every range request of the version: learned with the version.
    var rangeValidator: String?
    var filled = ByteRangeSet()
    /// Bytes being evicted: no longer filled, and not asked for until their space is freed.
    var evicting = ByteRangeSet()
    var scheduler: RangeScheduler
    /// The transfer of each piece in flight.
    var transfers: [UInt64: TransferID] = [:]
    var waiters = ReadWaiters<ReadCompletion>()
    var commits = PendingCommits()
    var reports: RangeReportThrottle
    var isSuspended = false
    /// The job's run (resume or suspend) this file last followed: a resume older than the last
    /// suspend is stale and ignored.
    var run: UInt64 = 0
    /// The transient failure requests are being retried after, if any.
    var retryingAfter: BitsError?
    var fetchedBytes: UInt64 = 0
    var requestCount = 0
    /// Bytes read ahead that no reader has read yet.
    var readAheadUnread = ByteRangeSet()
    var readAheadBytes: UInt64 = 0
    var readAheadUsedBytes: UInt64 = 0
    var lastError: BitsError?
  }

  init(
    remoteURL: String, localName: String?, requestedRanges: [FileRange]?, configuration: JobConfiguration,
    transport: any HTTPTransport, cache: CacheEntry, admission: TransferAdmission, budget: CacheBudget?,
    notify: @escaping @Sendable (DownloadFile, FileEvent) -> Void
  ) {
    self.admission = admission
    self.localName = localName
    self.requestedRanges = requestedRanges
    self.configuration = configuration
    self.transport = transport
    self.cache = cache
    self.notify = notify
    warnings = ThrottledWarnings(logger: configuration.logger)
    self.budget = budget
    budgetID = budget?.makeID() ?? 0
    let limits = RangeScheduler.Limits(
      maximumRequestSize: configuration.maximumRequestSize,
      maximumBackgroundRequestSize: configuration.backgroundRate.map { max($0 / 4, 64 << 10) },
      maximumConcurrentRequests: configuration.maximumConcurrentRequests, backoff: configuration.backoff,
      retryPeriod: configuration.retryPeriod)
    state = Mutex(
      State(
        remoteURL: remoteURL, scheduler: RangeScheduler(limits: limits),
        reports: RangeReportThrottle(minimumInterval: configuration.minimumNotificationInterval)))
    budget?.register(
      budgetID, self, entryPath: cache.directory.path, evictable: configuration.isOnDemand,
      metadataBytes: cache.metadataBytes)
  }

  // MARK: IBackgroundCopyFile

  /// The version being transferred, once connected; `nil` again while a changed file reconnects.
  public var version: RemoteVersion? { state.withLock { $0.version } }

  /// The most recent version known, kept while a changed file reconnects, for file attributes.
  public var lastKnownVersion: RemoteVersion? { state.withLock { $0.version ?? $0.lastKnownVersion } }

  /// Increases each time the file is (re)connected to a version; bytes read under one
  /// generation must not be combined with bytes of another.
  package var generation: UInt64 { state.withLock { $0.generation } }

  /// `RequestFileRanges`: fetches whatever of `ranges` is not filled yet, in the background.
  public func requestFileRanges(_ ranges: [FileRange], priority: TransferPriority = .normal) throws(BitsError) {
    try RangeValidation.validate(ranges, maximumCount: configuration.maximumRangesPerFile)
    guard let version else {
      throw BitsError(.invalidState, "the file is not connected yet", url: remoteURL)
    }
    let resolved = try RangeValidation.resolve(ranges, fileSize: version.size, url: remoteURL)
    fetch(resolved, priority: priority)
  }

  /// `GetFilledFileRanges`: the filled ranges, merged and sorted by offset.
  public var filledRanges: [FileRange] {
    state.withLock { $0.filled.intervals.map(FileRange.init) }
  }

  public var statistics: FileStatistics {
    state.withLock { state in
      FileStatistics(
        size: state.version?.size, filledBytes: state.filled.coveredByteCount,
        filledRangeCount: state.filled.count, fetchedBytes: state.fetchedBytes, requestCount: state.requestCount,
        requestsInFlight: state.scheduler.active.count, readAheadBytes: state.readAheadBytes,
        readAheadUsedBytes: state.readAheadUsedBytes, lastError: state.lastError, activity: Self.activity(of: state),
        retryingAfter: state.retryingAfter, isVersionUnconfirmed: state.isVersionUnconfirmed)
    }
  }

  private static func activity(of state: State) -> FileActivity {
    if state.isSuspended { return .suspended }
    if state.version == nil { return .connecting }
    if state.retryingAfter != nil { return .retrying }
    return state.scheduler.isIdle ? .idle : .transferring
  }

  /// What the job wants of this file, resolved against the connected version: the ranges of
  /// `AddFileWithRanges` in their order, or the whole file; `nil` before connecting.
  func wantedRanges() throws(BitsError) -> [Range<UInt64>]? {
    guard let size = version?.size else { return nil }
    let ranges = requestedRanges ?? [FileRange(offset: 0, length: FileRange.lengthToEndOfFile)]
    return try RangeValidation.resolve(ranges, fileSize: size, url: remoteURL)
  }

  /// How many bytes of `ranges` are filled.
  func filledByteCount(in ranges: [Range<UInt64>]) -> UInt64 {
    state.withLock { state in
      ranges.reduce(0) { sum, range in
        sum + state.filled.intersection(with: range).reduce(0) { $0 + UInt64($1.count) }
      }
    }
  }

  var isIdle: Bool {
    state.withLock { $0.scheduler.isIdle }
  }
}
