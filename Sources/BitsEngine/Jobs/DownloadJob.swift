import Dispatch
import FoundationEssentials
import Synchronization

/// `BG_JOB_STATE`.
public enum JobState: String, Sendable {
  case queued
  case connecting
  case transferring
  case suspended
  case transientError = "transient-error"
  case error
  case transferred
  case acknowledged
  case cancelled

  /// The job will not move on by itself.
  public var isSettled: Bool {
    switch self {
    case .error, .transferred, .acknowledged, .cancelled, .suspended: true
    default: false
    }
  }
}

/// `BG_JOB_PROGRESS`; `bytesTotal` is `nil` until every file's size is known (`BG_SIZE_UNKNOWN`).
public struct JobProgress: Sendable, Equatable {
  public var bytesTotal: UInt64?
  public var bytesTransferred: UInt64
  public var filesTotal: Int
  public var filesTransferred: Int

  public init(bytesTotal: UInt64?, bytesTransferred: UInt64, filesTotal: Int, filesTransferred: Int) {
    self.bytesTotal = bytesTotal
    self.bytesTransferred = bytesTransferred
    self.filesTotal = filesTotal
    self.filesTransferred = filesTransferred
  }
}

/// The notifications of `IBackgroundCopyCallback` and `IBackgroundCopyCallback3`.
public struct JobCallbacks: Sendable {
  public var stateChanged: (@Sendable (DownloadJob, JobState) -> Void)?
  /// `FileRangesTransferred`: ranges filled since the last call or the last `requestFileRanges`,
  /// possibly parts of what was asked, no more often than the minimum notification interval.
  public var fileRangesTransferred: (@Sendable (DownloadJob, DownloadFile, [FileRange]) -> Void)?
  /// The remote file changed: its filled ranges were dropped and its download restarts.
  public var fileChanged: (@Sendable (DownloadJob, DownloadFile) -> Void)?
  /// A request of the file failed for good (in an on-demand job the job goes on).
  public var fileFailed: (@Sendable (DownloadJob, DownloadFile, BitsError) -> Void)?
  /// The file has no request in flight or queued any more (its ranges arrived, were dropped,
  /// or failed).
  public var fileIdle: (@Sendable (DownloadJob, DownloadFile) -> Void)?

  public init(
    stateChanged: (@Sendable (DownloadJob, JobState) -> Void)? = nil,
    fileRangesTransferred: (@Sendable (DownloadJob, DownloadFile, [FileRange]) -> Void)? = nil,
    fileChanged: (@Sendable (DownloadJob, DownloadFile) -> Void)? = nil,
    fileFailed: (@Sendable (DownloadJob, DownloadFile, BitsError) -> Void)? = nil,
    fileIdle: (@Sendable (DownloadJob, DownloadFile) -> Void)? = nil
  ) {
    self.stateChanged = stateChanged
    self.fileRangesTransferred = fileRangesTransferred
    self.fileChanged = fileChanged
    self.fileFailed = fileFailed
    self.fileIdle = fileIdle
  }
}

/// A download job (`IBackgroundCopyJob`): a set of files fetched with HTTP range requests into a
/// persistent cache, with the BITS life cycle. A job that is interrupted and created again over
/// the same cache directory resumes: only bytes not yet on disk are fetched.
public final class DownloadJob: Sendable {
  public let displayName: String
  public let configuration: JobConfiguration
  private let cacheDirectory: URL
  let transport: any HTTPTransport
  private let callbacks: JobCallbacks
  private let budget: CacheBudget?
  private let worker = DispatchQueue(label: "bitsfs.job")
  /// Which of the files' requests start, across files: readers first, then by priority.
  let admission: TransferAdmission
  private let changed = Condition()

  private struct State {
    var state: JobState = .queued
    var files: [DownloadFile] = []
    var error: BitsError?
    /// Numbers each resume and suspend, so that a file follows the latest of them whatever
    /// order the worker reaches it in.
    var run: UInt64 = 0

    mutating func nextRun() -> UInt64 {
      run += 1
      return run
    }
  }
  private let state = Mutex(State())

  public init(
    displayName: String, cacheDirectory: URL, transport: any HTTPTransport,
    configuration: JobConfiguration = JobConfiguration(), callbacks: JobCallbacks = JobCallbacks()
  ) {
    self.displayName = displayName
    self.cacheDirectory = cacheDirectory
    self.transport = transport
    var configuration = configuration
    if let maximum = configuration.cacheLimits?.maximumBytes {
      // A request's space is taken whole before its bytes arrive: one request is a small
      // part of the limit, so eviction frees little at a time.
      configuration.maximumRequestSize = min(
        configuration.maximumRequestSize, max(configuration.cacheLimits!.evictionUnit, maximum / 16))
    }
    self.configuration = configuration
    self.callbacks = callbacks
    admission = TransferAdmission(
      maximumBackground: configuration.maximumBackgroundRequests, rate: configuration.backgroundRate)
    budget = configuration.cacheLimits.map { CacheBudget(directory: cacheDirectory, limits: $0) }
  }

  public var currentState: JobState { state.withLock { $0.state } }
  /// The error that put the job in the error state (`IBackgroundCopyJob::GetError`).
  public var error: BitsError? { state.withLock { $0.error } }
  public var files: [DownloadFile] { state.withLock { $0.files } }

  public var progress: JobProgress {
    let files = self.files
    var total: UInt64? = 0
    var transferred: UInt64 = 0
    var filesTransferred = 0
    for file in files {
      guard let wanted = try? file.wantedRanges() else {
        total = nil
        continue
      }
      let done = file.filledByteCount(in: wanted)
      let size = wanted.reduce(UInt64(0)) { $0 + UInt64($1.count) }
      total = total.map { $0 + size }
      transferred += done
      if done == size { filesTransferred += 1 }
    }
    return JobProgress(
      bytesTotal: total, bytesTransferred: transferred, filesTotal: files.count, filesTransferred: filesTransferred)
  }

  // MARK: Adding files

  /// `AddFile`: the whole remote file, or nothing until asked for in an on-demand job.
  @discardableResult
  public func addFile(remoteURL: String, localName: String?) throws(BitsError) -> DownloadFile {
    try add(remoteURL: remoteURL, localName: localName, ranges: nil)
  }

  /// `AddFileWithRanges`: only `ranges` of the remote file, written to `localName` back to back
  /// in the order given.
  @discardableResult
  public func addFileWithRanges(remoteURL: String, localName: String, ranges: [FileRange]) throws(BitsError)
    -> DownloadFile
  {
    try RangeValidation.validate(ranges, maximumCount: configuration.maximumRangesPerFile)
    return try add(remoteURL: remoteURL, localName: localName, ranges: ranges)
  }

  private func add(remoteURL: String, localName: String?, ranges: [FileRange]?) throws(BitsError) -> DownloadFile {
    try Self.validate(remoteURL: remoteURL)
    if let localName { try Self.validate(localName: localName) }
    try requireModifiable()
    let cache = try CacheEntry(directory: cacheDirectory.appendingPathComponent(CacheKey.forURL(remoteURL)))
    let file = DownloadFile(
      remoteURL: remoteURL, localName: localName, requestedRanges: ranges, configuration: configuration,
      transport: transport, cache: cache, admission: admission, budget: budget
    ) { [weak self] file, event in
      self?.handle(event, from: file)
    }
    try state.withLock { state throws(BitsError) in
      guard state.state != .cancelled, state.state != .acknowledged else { throw Self.stateError(state.state) }
      if state.state == .transferred { state.state = .queued }
      state.files.append(file)
    }
    return file
  }

  /// Takes `file` out of the job and closes it, its cache entry kept: the owner of an on-demand
  /// job lets go of a file it no longer serves (its descriptors and memory), and adds it again
  /// to serve it anew.
  package func remove(_ file: DownloadFile) {
    state.withLock { state in state.files.removeAll { $0 === file } }
    file.close()
  }

  /// Background fill holds the cache entry of `remoteURL`, or no longer does: under a cache
  /// limit, what fill holds is evicted only after everything else.
  package func setHeldByFill(_ remoteURL: String, _ held: Bool) {
    budget?.setHeldByFill(cacheDirectory.appendingPathComponent(CacheKey.forURL(remoteURL)).path, held)
  }

  // MARK: Life cycle

  /// Starts or continues the transfer: connects every file (learning sizes and versions, keeping
  /// cached bytes of unchanged files), then fetches what is missing.
  public func resume() throws(BitsError) {
    let (files, run) = try state.withLock { state throws(BitsError) -> ([DownloadFile], UInt64) in
      guard state.state != .cancelled, state.state != .acknowledged else { throw Self.stateError(state.state) }
      guard !state.files.isEmpty else {
        throw BitsError(.empty, "the job has no files; add a file, then resume")
      }
      return (state.files, state.nextRun())
    }
    transition(to: .connecting, error: nil)
    worker.async { [self] in
      for file in files {
        file.resume(run: run)
        do throws(BitsError) {
          try start(file)
        } catch {
          fail(error)
          return
        }
      }
      transition(to: .transferring, error: nil)
      checkTransferred()
    }
  }

  /// Connects `file` and, unless the job is on demand, asks for every range still missing.
  private func start(_ file: DownloadFile) throws(BitsError) {
    try file.connect()
    guard !configuration.isOnDemand, let wanted = try file.wantedRanges() else { return }
    file.fetch(wanted, priority: configuration.priority)
  }

  /// Stops transferring; filled ranges stay and `resume` continues from them.
  public func suspend() throws(BitsError) {
    try requireModifiable()
    let run = state.withLock { $0.nextRun() }
    for file in files { file.suspend(run: run) }
    transition(to: .suspended, error: nil)
  }

  /// Returns once the work that `resume` and `setRemoteName` queued before this call has run:
  /// for tests that must know a resume's work met a later suspend, without waiting on a clock.
  package func waitForQueuedWork() {
    worker.sync {}
  }

  /// Stops, deletes the job's partial data, and ends the job.
  public func cancel() throws(BitsError) {
    try requireModifiable()
    transition(to: .cancelled, error: nil)
    for file in files { file.close(removingCache: true) }
  }

  /// Ends a transferred job: every file appears at its local name (written aside, then renamed),
  /// and the job's cache is deleted.
  public func complete() throws(BitsError) {
    let current = currentState
    guard current == .transferred else {
      throw BitsError(.invalidState, "the job is \(current.rawValue), not transferred; it cannot be completed")
    }
    for file in files {
      try file.deliver()
      file.close(removingCache: true)
    }
    transition(to: .acknowledged, error: nil)
  }

  /// Blocks until the job settles (transferred, error, suspended, cancelled, acknowledged) or
  /// `timeout` passes; returns the state then.
  @discardableResult
  public func waitUntilSettled(timeout: Duration) -> JobState {
    let deadline = ContinuousClock.now + timeout
    return changed.wait(until: deadline) { self.currentState.isSettled } ? currentState : currentState
  }

  // MARK: Events

  private func handle(_ event: FileEvent, from file: DownloadFile) {
    switch event {
    case .rangesTransferred(let ranges):
      callbacks.fileRangesTransferred?(self, file, ranges)
    case .retrying(let error):
      if [.transferring, .connecting].contains(currentState) { transition(to: .transientError, error: error) }
    case .transferring:
      if [.transientError, .transferred].contains(currentState) { transition(to: .transferring, error: nil) }
    case .failed(let error):
      callbacks.fileFailed?(self, file, error)
      // An on-demand job serves readers; their reads fail, the job goes on.
      guard !configuration.isOnDemand else { return }
      fail(error)
    case .idle:
      callbacks.fileIdle?(self, file)
      checkTransferred()
    case .versionChanged:
      callbacks.fileChanged?(self, file)
      // BITS restarts the download of a file that changed; other files are kept.
      worker.async { [self] in
        guard !currentState.isSettled || currentState == .transferred else { return }
        do throws(BitsError) {
          try start(file)
          checkTransferred()
        } catch {
          if !configuration.isOnDemand { fail(error) }
        }
      }
    }
  }

  private func checkTransferred() {
    let current = currentState
    guard current == .transferring || current == .transientError else { return }
    let done = files.allSatisfy { file in
      guard file.version != nil, file.isIdle else { return false }
      if configuration.isOnDemand { return true }
      guard let wanted = try? file.wantedRanges() else { return false }
      return file.filledByteCount(in: wanted) == wanted.reduce(0) { $0 + UInt64($1.count) }
    }
    if done { transition(to: .transferred, error: nil) }
  }

  private func fail(_ error: BitsError) {
    let run = state.withLock { $0.nextRun() }
    for file in files { file.suspend(run: run) }
    transition(to: .error, error: error)
  }

  private func transition(to next: JobState, error: BitsError?) {
    let changed = state.withLock { state -> Bool in
      // Ended jobs stay ended; a job in error waits for `resume`.
      if [.cancelled, .acknowledged].contains(state.state) { return false }
      if state.state == .error, next != .connecting, next != .cancelled { return false }
      if state.state == .suspended, next != .connecting, next != .cancelled { return false }
      guard state.state != next || error != nil else { return false }
      state.state = next
      if let error { state.error = error } else if next == .connecting { state.error = nil }
      return true
    }
    guard changed else { return }
    self.changed.broadcast()
    callbacks.stateChanged?(self, next)
  }

  private func requireModifiable() throws(BitsError) {
    let current = currentState
    if current == .cancelled || current == .acknowledged { throw Self.stateError(current) }
  }

  private static func stateError(_ state: JobState) -> BitsError {
    BitsError(.invalidState, "the job is \(state.rawValue); it can no longer be changed")
  }

  // MARK: Validation

  static func validate(remoteURL: String) throws(BitsError) {
    guard let components = URLComponents(string: remoteURL), let scheme = components.scheme?.lowercased() else {
      throw BitsError(.invalidArgument, "not a valid URL", url: remoteURL)
    }
    guard scheme == "http" || scheme == "https" else {
      throw BitsError(
        .invalidArgument, "unsupported protocol '\(scheme)'; only http and https are supported", url: remoteURL)
    }
    guard let host = components.host, !host.isEmpty else {
      throw BitsError(.invalidArgument, "the URL has no host", url: remoteURL)
    }
  }

  static func validate(localName: String) throws(BitsError) {
    guard localName.hasPrefix("/"), !localName.hasSuffix("/"), !localName.contains("\0") else {
      throw BitsError(.invalidArgument, "the local name must be an absolute path to a file", url: localName)
    }
    if isDirectory(localName) {
      throw BitsError(.invalidArgument, "the local name is a directory", url: localName)
    }
    let parent = String(localName[..<localName.lastIndex(of: "/")!])
    guard isDirectory(parent.isEmpty ? "/" : parent) else {
      throw BitsError(.invalidArgument, "the directory of the local name does not exist", url: localName)
    }
  }
}
