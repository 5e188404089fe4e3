import BitsEngine

/// The files a mount fills in the background, by URL, and what became of each: a pure value,
/// held under the file system's `fills` lock.
///
/// Fill works on at most `maximumStarted` files at once; the others wait unopened, the most
/// urgent priority first and, within one, in the order they were asked for, so that a tree of
/// any size costs descriptors for those few only. A file whose fill ended (wholly filled, or
/// stopped) keeps its record, with its figures as they were when it was closed, so that status
/// still shows it.
struct FillTable: Sendable {
  typealias File = String

  /// What the fill of a file is at.
  enum Stage: Sendable, Equatable {
    /// Waiting for its turn; its file is not opened for it.
    case queued
    /// Its file is open and being filled.
    case started
    /// Wholly filled, or stopped for `failure`.
    case ended
  }

  /// A file's figures when it was closed, for status while it is not open.
  struct Figures: Sendable, Equatable {
    var size: UInt64?
    var filledRanges: [FileRange]
    var fetchedBytes: UInt64
    var requests: Int
    var lastModified: String?
    var etag: String?
  }

  struct Fill: Sendable {
    /// The node it was asked for at, and its path in the mount.
    var node: Int
    var path: String
    var priority: TransferPriority
    var stage = Stage.queued
    /// Its completion was told (once).
    var isComplete = false
    /// Why it stopped: a request failed for good, or the cache limit could not hold it.
    var failure: BitsError?
    /// As the file was when last closed; `nil` if it never was.
    var figures: Figures?
    /// Times it asked again for bytes it had fetched and lost (`askAgain`).
    var fetchedAgain = 0
    /// Its place in its priority's queue.
    fileprivate var ticket: UInt64 = 0
  }

  /// Times a fill asks again for bytes it lost before it stops: eviction takes what fill holds
  /// only when nothing else can give room, and fill must not fetch the same bytes in a loop.
  static let maximumFetchesAgain = 2

  /// How many fills are counted by state, and how many records a bounded listing left out.
  struct Counts: Sendable, Equatable {
    var queued = 0
    var started = 0
    var transferred = 0
    var stopped = 0
  }

  /// Files opened for fill at once: enough to keep the background requests of the job busy.
  static let defaultMaximumStarted = 8

  private(set) var fills: [File: Fill] = [:]
  private(set) var room: FillRoom
  let maximumStarted: Int
  private(set) var startedCount = 0
  /// Per priority, files in the order asked, with their ticket then; a file whose ticket
  /// changed since (asked again, more urgently) is skipped.
  private var queues: [TransferPriority: (entries: [(file: File, ticket: UInt64)], head: Int)] = [:]
  private var nextTicket: UInt64 = 1

  init(room: FillRoom, maximumStarted: Int = defaultMaximumStarted) {
    self.room = room
    self.maximumStarted = max(1, maximumStarted)
  }

  subscript(file: File) -> Fill? { fills[file] }

  /// Fill of `file` (the file node `node`, at `path`) was asked for, again maybe at another
  /// priority; an ended fill is queued again. Returns the files whose fill starts now.
  mutating func ask(_ file: File, node: Int, path: String, priority: TransferPriority) -> [File] {
    var fill = fills[file] ?? Fill(node: node, path: path, priority: priority)
    let moreUrgent = priority < fill.priority
    fill.priority = min(fill.priority, priority)
    fill.failure = nil
    let isNew = fills[file] == nil
    if isNew || fill.stage == .ended || (fill.stage == .queued && moreUrgent) {
      fill.stage = .queued
      fill.ticket = nextTicket
      nextTicket += 1
      queues[fill.priority, default: ([], 0)].entries.append((file, fill.ticket))
    }
    fills[file] = fill
    return startWhileRoom()
  }

  /// The fill of `file` ended (filled, or stopped): its file may be closed. Returns the files
  /// whose fill starts now, `nil` if it had not started.
  mutating func end(_ file: File) -> [File]? {
    guard fills[file]?.stage == .started else { return nil }
    fills[file]!.stage = .ended
    startedCount -= 1
    return startWhileRoom()
  }

  /// The fill of `file` is under way, but its file has nothing left to fetch and is not whole
  /// (what it fetched was evicted): whether it asks again for what is missing; when not, it
  /// stops with `ERROR_DISK_FULL`.
  mutating func askAgain(_ file: File) -> Bool {
    guard fills[file]?.stage == .started else { return false }
    guard fills[file]!.fetchedAgain < Self.maximumFetchesAgain else {
      fills[file]!.failure = BitsError(
        .diskFull,
        "background fill stopped: the cache limit evicted what fill fetched of this file "
          + "\(Self.maximumFetchesAgain + 1) times")
      return false
    }
    fills[file]!.fetchedAgain += 1
    return true
  }

  /// `file` was closed with `figures`.
  mutating func closed(_ file: File, figures: Figures) {
    fills[file]?.figures = figures
  }

  /// Whether the cache can hold `file` of `size` bytes beside the other fills; when not, its
  /// fill stops with `failure`.
  mutating func admit(_ file: File, size: UInt64) -> Bool {
    guard fills[file] != nil else { return false }
    guard room.admit(file, size: size) else {
      let room = room.room ?? 0
      fills[file]!.failure = BitsError(
        .diskFull,
        "background fill stopped: the cache limit cannot hold this file (\(size) bytes) beside the "
          + "\(self.room.heldBytes) bytes fill holds, of the \(room) bytes it may")
      return false
    }
    return true
  }

  /// `file` is wholly filled: its path, the first time this is said.
  mutating func completed(_ file: File) -> String? {
    guard let fill = fills[file], !fill.isComplete else { return nil }
    fills[file]!.isComplete = true
    return fill.path
  }

  /// A request of `file` failed for good: its path, if it is filled in the background.
  mutating func failed(_ file: File, error: BitsError) -> String? {
    guard fills[file] != nil else { return nil }
    fills[file]!.failure = error
    return fills[file]!.path
  }

  /// Fill of `file` was cancelled: it is no longer filled, and its bytes no longer count.
  /// Returns the stage it was at (`nil`: it was not filled), and the files whose fill starts now.
  mutating func cancel(_ file: File) -> (stage: Stage?, starting: [File]) {
    guard let fill = fills.removeValue(forKey: file) else { return (nil, []) }
    room.release(file)
    guard fill.stage == .started else { return (fill.stage, []) }
    startedCount -= 1
    return (.started, startWhileRoom())
  }

  var counts: Counts {
    var counts = Counts()
    for fill in fills.values {
      switch fill.stage {
      case .queued: counts.queued += 1
      case .started: counts.started += 1
      case .ended: if fill.failure == nil { counts.transferred += 1 } else { counts.stopped += 1 }
      }
    }
    return counts
  }

  /// At most `limit` records, those a user watches first: fills under way, then stopped ones,
  /// then queued ones in the order they will start, then transferred ones by path.
  func listed(limit: Int) -> [(file: File, fill: Fill)] {
    var listed: [(file: File, fill: Fill)] = []
    let ended = fills.filter { $0.value.stage == .ended }
    let groups: [[(key: File, value: Fill)]] = [
      fills.filter { $0.value.stage == .started }.sorted { $0.value.path < $1.value.path },
      ended.filter { $0.value.failure != nil }.sorted { $0.value.path < $1.value.path },
    ]
    for group in groups {
      for (file, fill) in group where listed.count < limit { listed.append((file, fill)) }
    }
    for priority in TransferPriority.allCases where listed.count < limit {
      guard let queue = queues[priority] else { continue }
      for (file, ticket) in queue.entries[queue.head...] where listed.count < limit {
        if let fill = fills[file], fill.stage == .queued, fill.ticket == ticket { listed.append((file, fill)) }
      }
    }
    guard listed.count < limit else { return listed }
    let transferred = ended.filter { $0.value.failure == nil }.sorted { $0.value.path < $1.value.path }
    for (file, fill) in transferred.prefix(limit - listed.count) { listed.append((file, fill)) }
    return listed
  }

  /// Starts queued fills, most urgent first, while fewer than `maximumStarted` are started.
  private mutating func startWhileRoom() -> [File] {
    var starting: [File] = []
    for priority in TransferPriority.allCases {
      while startedCount < maximumStarted, var queue = queues[priority], queue.head < queue.entries.count {
        let (file, ticket) = queue.entries[queue.head]
        queue.head += 1
        // Drop what was taken once it is most of the queue, so that the queue stays small.
        if queue.head > 64, queue.head * 2 > queue.entries.count {
          queue.entries.removeFirst(queue.head)
          queue.head = 0
        }
        queues[priority] = queue
        guard let fill = fills[file], fill.stage == .queued, fill.ticket == ticket else { continue }
        // A failure told before it started (a reader's request) is not this fill's.
        fills[file]!.stage = .started
        fills[file]!.failure = nil
        startedCount += 1
        starting.append(file)
      }
    }
    return starting
  }
}
