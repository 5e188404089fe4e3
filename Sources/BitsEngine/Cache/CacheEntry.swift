import CLinux
import FoundationEssentials
import Glibc
import Synchronization

/// One remote file's bytes on local disk: a sparse `data` file indexed by remote offset, a
/// journal of the ranges known to be on disk (`filled`), and `meta.json` naming the URL and
/// version those bytes belong to.
///
/// Every reset draws a random epoch, written both in the metadata and at the head of the
/// journal; ranges are trusted only when the two agree. So a reset needs no flush to disk (a
/// crash at any point leaves epochs that disagree, or agree on an empty journal), and a new
/// entry costs no waiting on the disk. Data is synced before its ranges are journalled, and the
/// entry's directory once before the first ranges of an epoch, so after a crash the journal
/// never claims bytes that are not on disk or that belong to another version.
package final class CacheEntry: Sendable {
  package struct Metadata: Codable, Hashable, Sendable {
    /// The layout of the entry's files; an entry of another layout is dropped, not misread.
    public var format = CacheEntry.format
    public var url: String
    public var version: RemoteVersion
    /// Ties the metadata to the journal written with it.
    public var epoch: UInt64
  }

  static let format = 3
  /// Every name an entry's files may have (scratch files of a reset or a rewrite included).
  package static let fileNames: Set<String> = [
    "lock", "data", "data.new", "filled", "filled.tmp", "meta.json", "meta.json.tmp",
  ]

  package let directory: URL
  private var dataPath: String { directory.appendingPathComponent("data").path }
  private var journalPath: String { directory.appendingPathComponent("filled").path }
  private var metadataPath: String { directory.appendingPathComponent("meta.json").path }

  /// Whether the directory must be synced before the next journal append: a reset renamed
  /// files in it.
  private let directoryNeedsSync = Mutex(true)
  /// What the journal on disk claims, kept to know its size and when to compact it. Every
  /// journal write runs on the owning file's serial queue; the lock only makes it `Sendable`.
  private let journalState = Mutex(JournalState())

  private struct JournalState {
    var epoch: UInt64?
    var contents = FilledJournal.Contents()
  }
  /// A record lock held until `release()`: one process at a time, or two would reset each
  /// other's bytes.
  private let lockDescriptor: Mutex<Int32?>
  /// The entries this process holds: record locks exclude other processes only, and two
  /// writers in one process would reset each other's bytes just the same.
  private static let heldInProcess = Mutex<Set<String>>([])

  /// Creates the directory (mode 0700) if needed and takes the entry's lock. Nothing is read yet.
  package init(directory: URL) throws(BitsError) {
    self.directory = directory
    do {
      try FileManager.default.createDirectory(
        at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw BitsError.localFile(errno: EACCES, "cannot create the cache directory", path: directory.path)
    }
    let path = directory.standardizedFileURL.path
    guard Self.heldInProcess.withLock({ $0.insert(path).inserted }) else {
      throw BitsError(
        .accessDenied, "the cache entry is in use already in this process (the same URL twice?)",
        url: directory.path)
    }
    let lockPath = directory.appendingPathComponent("lock").path
    let descriptor = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else {
      let error = BitsError.localFile(errno: errno, "cannot open the cache lock", path: lockPath)
      _ = Self.heldInProcess.withLock { $0.remove(path) }
      throw error
    }
    guard lockf(descriptor, F_TLOCK, 0) == 0 else {
      let holder = bitsfs_lock_holder(descriptor)
      close(descriptor)
      _ = Self.heldInProcess.withLock { $0.remove(path) }
      let named = holder > 0 ? " (pid \(holder))" : ""
      throw BitsError(
        .accessDenied,
        "the cache entry is in use by another bitsfs process\(named); one process at a time may use an entry",
        url: directory.path)
    }
    // The lock's modification time tells when the entry was last used.
    futimens(descriptor, nil)
    lockDescriptor = Mutex(descriptor)
  }

  deinit {
    release()
  }

  /// The process holding the entry in `directory`, if one does (this one included).
  package static func holder(of directory: URL) -> Int32? {
    let descriptor = Glibc.open(directory.appendingPathComponent("lock").path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    if heldInProcess.withLock({ $0.contains(directory.standardizedFileURL.path) }) { return getpid() }
    let holder = bitsfs_lock_holder(descriptor)
    return holder > 0 ? Int32(holder) : nil
  }

  /// Every change to the entry needs its lock: after `release()` it may have another owner.
  private func requireHeld() throws(BitsError) {
    guard lockDescriptor.withLock({ $0 != nil }) else {
      throw BitsError(.invalidState, "the cache entry was let go of and may have another owner", url: directory.path)
    }
  }

  /// Lets another owner (a process, or a job of this one) take the entry. Nothing may be
  /// written to the entry afterwards.
  package func release() {
    guard let descriptor = lockDescriptor.withLock({ $0.take() }) else { return }
    futimens(descriptor, nil)
    close(descriptor)
    _ = Self.heldInProcess.withLock { $0.remove(directory.standardizedFileURL.path) }
  }

  /// What the entry holds for `url` at `version`: the filled ranges and the data file, or an
  /// emptied entry ready for that version when it held nothing, another URL or another version,
  /// or anything damaged (unreadable metadata, a journal record failing its check or pointing
  /// past the file, a data file of the wrong size). A version without a date or an entity tag
  /// cannot be told from another of its size: its bytes are never trusted from an earlier
  /// owner, and last only as long as this one.
  package func open(url: String, version: RemoteVersion) throws(BitsError) -> (DataFile, ByteRangeSet) {
    try requireHeld()
    if version.hasValidator, let metadata = readMetadata(), metadata.format == Self.format, metadata.url == url,
      metadata.version == version,
      let data = try? DataFile(path: dataPath, create: false), data.size == version.size,
      let journal = FilledJournal.read(path: journalPath), journal.epoch == metadata.epoch,
      (journal.filled.intervals.last?.upperBound ?? 0) <= version.size
    {
      journalState.withLock { $0 = JournalState(epoch: metadata.epoch, contents: journal) }
      try compactJournalIfWorthIt()
      return (data, journal.filled)
    }
    return (try reset(url: url, version: version), ByteRangeSet())
  }

  /// The version the entry holds for `url` that a later owner may trust (metadata of this layout
  /// and URL, a validator, a journal of its epoch, a data file of its size), without changing
  /// anything: what an offline mount serves.
  package func cachedVersion(url: String) -> RemoteVersion? {
    guard (try? requireHeld()) != nil, let metadata = readMetadata(), metadata.format == Self.format,
      metadata.url == url, metadata.version.hasValidator,
      let journal = FilledJournal.read(path: journalPath), journal.epoch == metadata.epoch,
      (try? DataFile(path: dataPath, create: false))?.size == metadata.version.size
    else { return nil }
    return metadata.version
  }

  /// Drops every byte held and prepares an empty data file of `version.size` bytes. Readers of
  /// the previous data file keep their own descriptor and see the old bytes, never a mix.
  package func reset(url: String, version: RemoteVersion) throws(BitsError) -> DataFile {
    try requireHeld()
    let epoch = UInt64.random(in: 1...UInt64.max)
    try FilledJournal.start(epoch: epoch, path: journalPath)
    journalState.withLock { $0 = JournalState(epoch: epoch, contents: FilledJournal.Contents(epoch: epoch)) }
    let scratchPath = dataPath + ".new"
    let data = try DataFile(path: scratchPath, create: true)
    try data.setSize(version.size)
    guard rename(scratchPath, dataPath) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot replace the cache data file", path: dataPath)
    }
    try writeMetadata(Metadata(url: url, version: version, epoch: epoch))
    directoryNeedsSync.withLock { $0 = true }
    return data
  }

  /// Records `ranges` as filled once their bytes in `data` are durable.
  package func commit(_ ranges: [Range<UInt64>], data: DataFile) throws(BitsError) {
    try requireHeld()
    guard !ranges.isEmpty else { return }
    try data.synchronize()
    if directoryNeedsSync.withLock({ $0 }) {
      // The renames of the reset (data file, metadata) must be on disk before ranges point
      // into them.
      try synchronize(directory.path)
      directoryNeedsSync.withLock { $0 = false }
    }
    try FilledJournal.append(ranges, path: journalPath)
    journalState.withLock { state in
      for range in ranges { state.contents.filled.insert(range) }
      state.contents.recordCount += ranges.count
    }
    try compactJournalIfWorthIt()
  }

  /// Evicts `ranges`: the journal stops claiming them (durably) before their disk space is
  /// freed, so a crash at any point leaves a journal claiming only bytes still on disk.
  package func evict(_ ranges: [Range<UInt64>], data: DataFile) throws(BitsError) {
    try requireHeld()
    guard !ranges.isEmpty else { return }
    try FilledJournal.appendRemoval(ranges, path: journalPath)
    journalState.withLock { state in
      for range in ranges { state.contents.filled.remove(range) }
      state.contents.recordCount += ranges.count
    }
    for range in ranges { try data.punchHole(range) }
    try compactJournalIfWorthIt()
  }

  /// Bytes the entry's small files take on disk (its directory, metadata, lock and journal),
  /// as the file system counts them: whole 4 KiB blocks.
  package var metadataBytes: UInt64 {
    let journalBytes = UInt64(journalState.withLock { $0.contents.recordCount + 1 } * FilledJournal.recordSize)
    return 2 * Self.fileSystemBlock + (journalBytes + Self.fileSystemBlock - 1) / Self.fileSystemBlock
      * Self.fileSystemBlock
  }

  private static let fileSystemBlock: UInt64 = 4096

  /// Appends (and evictions above all) accumulate records that merged or cancelled long ago:
  /// the journal is rewritten as the set it claims when that saves most of it.
  private func compactJournalIfWorthIt() throws(BitsError) {
    let compacted = journalState.withLock { state -> (UInt64, [Range<UInt64>])? in
      guard let epoch = state.epoch, state.contents.recordCount > 2 * state.contents.filled.count + 64 else {
        return nil
      }
      return (epoch, state.contents.filled.intervals)
    }
    guard let (epoch, ranges) = compacted else { return }
    try FilledJournal.rewrite(ranges, epoch: epoch, path: journalPath)
    journalState.withLock { $0.contents.recordCount = ranges.count }
  }

  /// Moves the data file to `path` (same file system), leaving the entry empty.
  package func moveData(to path: String) throws(BitsError) {
    try requireHeld()
    try FilledJournal.start(epoch: nil, path: journalPath)
    journalState.withLock { $0 = JournalState() }
    guard rename(dataPath, path) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot move the downloaded file into place", path: path)
    }
  }

  /// Deletes the entry and everything in it.
  package func remove() {
    guard (try? requireHeld()) != nil else { return }
    try? FileManager.default.removeItem(at: directory)
  }

  private func readMetadata() -> Metadata? {
    guard let bytes = readWholeFile(metadataPath) else { return nil }
    return try? JSONDecoder().decode(Metadata.self, from: bytes)
  }

  private func writeMetadata(_ metadata: Metadata) throws(BitsError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let bytes = try? encoder.encode(metadata) else {
      throw BitsError(.invalidArgument, "cannot encode cache metadata")
    }
    try writeReplacing(bytes, to: metadataPath, durably: false)
  }
}
