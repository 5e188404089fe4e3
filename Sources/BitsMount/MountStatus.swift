import BitsEngine
import FoundationEssentials

/// What `bitsfs status --json` prints: a versioned document (README, "Status as JSON"). A
/// mount publishes its parts in extended attributes, as JSON: `user.bitsfs.job` on the mount
/// point, `user.bitsfs.status` on each file. Fields are added within a version; a field's
/// meaning never changes without a new `schemaVersion`.
public struct MountStatus: Codable, Sendable, Equatable {
  public static let currentSchemaVersion = 1

  public var schemaVersion = Self.currentSchemaVersion
  public var mountPoint: String
  /// The process serving the mount.
  public var pid: Int32?
  public var job: JobStatus
  public var files: [FileStatus]
  /// Background fill's files by state, when any was asked for.
  public var fill: FillCounts?

  public init(mountPoint: String, pid: Int32?, job: JobStatus, files: [FileStatus], fill: FillCounts? = nil) {
    self.mountPoint = mountPoint
    self.pid = pid
    self.job = job
    self.files = files
    self.fill = fill
  }
}

/// How many files background fill was asked for, by state, and how many of them `files` leaves
/// out: the status of a mount lists every file fill works on or stopped, then queued ones in
/// the order they start and transferred ones, up to a bound (`MountedFileSystem.listedFills`).
public struct FillCounts: Codable, Sendable, Equatable {
  public var queued: Int
  public var transferring: Int
  public var transferred: Int
  public var error: Int
  /// Files of background fill not in `files`.
  public var unlisted: Int

  package init(queued: Int, transferring: Int, transferred: Int, error: Int, unlisted: Int) {
    self.queued = queued
    self.transferring = transferring
    self.transferred = transferred
    self.error = error
    self.unlisted = unlisted
  }
}

/// The mount's job: its BITS state and error.
public struct JobStatus: Codable, Sendable, Equatable {
  /// `BG_JOB_STATE`, e.g. `transferring`, `transient-error`, `transferred`.
  public var state: String
  public var lastError: ErrorStatus?

  package init(state: String, lastError: ErrorStatus? = nil) {
    self.state = state
    self.lastError = lastError
  }

  public init(_ job: DownloadJob) {
    state = job.currentState.rawValue
    lastError = job.error.map(ErrorStatus.init)
  }
}

/// A BITS error: its code's name, HRESULT and description.
public struct ErrorStatus: Codable, Sendable, Equatable {
  public var code: String
  public var hresult: String
  public var message: String

  public init(_ error: BitsError) {
    code = error.code.name
    hresult = "0x" + String(error.code.hresult, radix: 16, uppercase: true)
    message = error.message
  }
}

/// One file of a mount: every figure `bitsfs status` shows, and more.
public struct FileStatus: Codable, Sendable, Equatable {
  /// Bytes read ahead, and how many of them readers then read (`unusedBytes` are the rest).
  public struct ReadAhead: Codable, Sendable, Equatable {
    public var fetchedBytes: UInt64
    public var usedBytes: UInt64
    public var unusedBytes: UInt64
  }

  /// The path in the mount (set by `bitsfs status`, which knows it).
  public var name: String?
  /// Without user name, password or query string.
  public var url: String
  /// `nil` while the version is being learned.
  public var size: UInt64?
  public var lastModified: String?
  public var etag: String?
  /// What the file does (`FileActivity`), or `unopened`: a listed file that is not open (no one
  /// opened it yet, or its background fill ended and it was closed).
  public var activity: String
  public var filledBytes: UInt64
  public var filledRanges: Int
  /// Filled bytes per hundred of the size, 100 for an empty file.
  public var filledPercent: Double
  /// `user.bitsfs.filled-map`: one character per slot, `#` filled, `+` partly, `.` not at all.
  public var filledMap: String
  /// Since the mount started.
  public var fetchedBytes: UInt64
  public var requests: Int
  public var readAhead: ReadAhead
  /// The last failure of a request or of the cache, with its BITS code.
  public var lastError: ErrorStatus?
  /// Its background fill, if it was asked for.
  public var fill: FillStatus?

  /// `mapSlots`: the slots of `filledMap` (`FilledMap.slotCount` unless fewer are wanted).
  public init(_ file: DownloadFile, mapSlots: Int = FilledMap.slotCount) {
    let statistics = file.statistics
    let version = file.version
    url = shownURL(file.remoteURL)
    size = statistics.size
    lastModified = version?.lastModified
    etag = version?.etag
    activity = statistics.activity.rawValue
    filledBytes = statistics.filledBytes
    filledRanges = statistics.filledRangeCount
    let total = statistics.size ?? 0
    filledPercent = total == 0 ? 100 : Double(statistics.filledBytes) * 100 / Double(total)
    filledMap = FilledMap.encode(file.filledRanges, size: total, slots: mapSlots)
    fetchedBytes = statistics.fetchedBytes
    requests = statistics.requestCount
    readAhead = ReadAhead(
      fetchedBytes: statistics.readAheadBytes, usedBytes: statistics.readAheadUsedBytes,
      unusedBytes: statistics.readAheadBytes - min(statistics.readAheadBytes, statistics.readAheadUsedBytes))
    lastError = statistics.lastError.map(ErrorStatus.init)
  }

  /// A file of a listing that no one opened yet: nothing cached, nothing fetched.
  public init(unopened url: String, size: UInt64?) {
    self.init(closed: url, size: size, filled: [], fetchedBytes: 0, requests: 0)
  }

  /// A file not open now (`unopened`), which holds `filled` of its `size` bytes in the cache.
  package init(
    closed url: String, size: UInt64?, filled: [FileRange], fetchedBytes: UInt64, requests: Int,
    lastModified: String? = nil, etag: String? = nil, mapSlots: Int = FilledMap.slotCount
  ) {
    self.url = shownURL(url)
    self.size = size
    self.lastModified = lastModified
    self.etag = etag
    activity = "unopened"
    filledBytes = filled.reduce(0) { $0 + $1.length }
    filledRanges = filled.count
    let total = size ?? 0
    filledPercent = total == 0 ? 100 : Double(filledBytes) * 100 / Double(total)
    filledMap = FilledMap.encode(filled, size: total, slots: mapSlots)
    self.fetchedBytes = fetchedBytes
    self.requests = requests
    readAhead = ReadAhead(fetchedBytes: 0, usedBytes: 0, unusedBytes: 0)
  }
}

/// A file's background fill, for `bitsfs status`.
public struct FillStatus: Codable, Sendable, Equatable {
  /// `high`, `normal` or `low`.
  public var priority: String
  /// As BITS names a job's states: `queued` (no request in flight), `transferring`, `suspended`,
  /// `transient-error` (requests wait to be retried after `error`), `error` (stopped, for `error`)
  /// or `transferred` (wholly filled).
  public var state: String
  public var error: ErrorStatus?

  package init(priority: String, state: String, error: ErrorStatus?) {
    self.priority = priority
    self.state = state
    self.error = error
  }

  /// The state of a fill at `priority` of a file with `statistics`, stopped for `failure` if any.
  package init(priority: TransferPriority, failure: BitsError?, statistics: FileStatistics) {
    self.priority = "\(priority)"
    let filled = statistics.size.map { statistics.filledBytes >= $0 } ?? false
    let failure = filled ? nil : failure
    switch statistics.activity {
    case _ where filled: state = "transferred"
    case _ where failure != nil: state = "error"
    case .suspended: state = "suspended"
    case _ where statistics.retryingAfter != nil: state = "transient-error"
    case _ where statistics.requestsInFlight > 0: state = "transferring"
    default: state = "queued"
    }
    error = (failure ?? (state == "transient-error" ? statistics.retryingAfter : nil)).map(ErrorStatus.init)
  }
}

extension Encodable {
  /// The value as JSON, keys sorted.
  package func json(pretty: Bool = false) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting =
      pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }
}
