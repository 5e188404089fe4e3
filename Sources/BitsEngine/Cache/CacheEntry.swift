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
public final class CacheEntry: Sendable {
  public struct Metadata: Codable, Hashable, Sendable {
    /// The layout of the entry's files; an entry of another layout is dropped, not misread.
    public var format = CacheEntry.format
    public var url: String
    public var version: RemoteVersion
    /// Ties the metadata to the journal written with it.
    public var epoch: UInt64
  }

  static let format = 3

  public let directory: URL
  private var dataPath: String { directory.appendingPathComponent("data").path }
  private var journalPath: String { directory.appendingPathComponent("filled").path }
  private var metadataPath: String { directory.appendingPathComponent("meta.json").path }

  /// Whether the directory must be synced before the next journal append: a reset renamed
  /// files in it.
  private let directoryNeedsSync = Mutex(true)
  /// A record lock held for the entry's life: one process at a time, or two would reset each
  /// other's bytes. (Record locks are per process; within one, jobs share entries knowingly.)
  private let lockDescriptor: Int32

  /// Creates the directory (mode 0700) if needed and takes the entry's lock. Nothing is read yet.
  public init(directory: URL) throws(BitsError) {
    self.directory = directory
    do {
      try FileManager.default.createDirectory(
        at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw BitsError.localFile(errno: EACCES, "cannot create the cache directory", path: directory.path)
    }
    let lockPath = directory.appendingPathComponent("lock").path
    lockDescriptor = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard lockDescriptor >= 0 else {
      throw BitsError.localFile(errno: errno, "cannot open the cache lock", path: lockPath)
    }
    guard lockf(lockDescriptor, F_TLOCK, 0) == 0 else {
      close(lockDescriptor)
      throw BitsError(
        .accessDenied, "the cache entry is in use by another bitsfs process", url: directory.path)
    }
  }

  deinit {
    close(lockDescriptor)
  }

  /// What the entry holds for `url` at `version`: the filled ranges and the data file, or an
  /// emptied entry ready for that version when it held nothing, another URL or another version,
  /// or anything damaged (unreadable metadata, a journal record failing its check or pointing
  /// past the file, a data file of the wrong size).
  public func open(url: String, version: RemoteVersion) throws(BitsError) -> (DataFile, ByteRangeSet) {
    if let metadata = readMetadata(), metadata.format == Self.format, metadata.url == url,
      metadata.version == version,
      let data = try? DataFile(path: dataPath, create: false), data.size == version.size,
      let journal = FilledJournal.read(path: journalPath), journal.epoch == metadata.epoch,
      journal.ranges.allSatisfy({ $0.upperBound <= version.size })
    {
      let filled = ByteRangeSet(journal.ranges)
      // Appends accumulate records that merged long ago: rewrite the journal as the merged set
      // when that saves most of it.
      if journal.ranges.count > 2 * filled.count + 64 {
        try FilledJournal.rewrite(filled.intervals, epoch: metadata.epoch, path: journalPath)
      }
      return (data, filled)
    }
    return (try reset(url: url, version: version), ByteRangeSet())
  }

  /// Drops every byte held and prepares an empty data file of `version.size` bytes. Readers of
  /// the previous data file keep their own descriptor and see the old bytes, never a mix.
  public func reset(url: String, version: RemoteVersion) throws(BitsError) -> DataFile {
    let epoch = UInt64.random(in: 1...UInt64.max)
    try FilledJournal.start(epoch: epoch, path: journalPath)
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
  public func commit(_ ranges: [Range<UInt64>], data: DataFile) throws(BitsError) {
    guard !ranges.isEmpty else { return }
    try data.synchronize()
    if directoryNeedsSync.withLock({ $0 }) {
      // The renames of the reset (data file, metadata) must be on disk before ranges point
      // into them.
      try synchronize(directory.path)
      directoryNeedsSync.withLock { $0 = false }
    }
    try FilledJournal.append(ranges, path: journalPath)
  }

  /// Moves the data file to `path` (same file system), leaving the entry empty.
  public func moveData(to path: String) throws(BitsError) {
    try FilledJournal.start(epoch: nil, path: journalPath)
    guard rename(dataPath, path) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot move the downloaded file into place", path: path)
    }
  }

  /// Deletes the entry and everything in it.
  public func remove() {
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

/// Makes the directory entries of `path` (a directory) durable.
func synchronize(_ path: String) throws(BitsError) {
  let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot open", path: path) }
  defer { close(fd) }
  guard fsync(fd) == 0 else { throw BitsError.localFile(errno: errno, "cannot flush", path: path) }
}

/// The contents of a small file, or `nil` if it cannot be read. (Plain system calls: Foundation's
/// `FileManager.contents(atPath:)` leaks a buffer for every empty file it reads.)
func readWholeFile(_ path: String) -> Data? {
  let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var bytes = Data()
  var chunk = [UInt8](repeating: 0, count: 64 << 10)
  while true {
    let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    if count < 0, errno == EINTR { continue }
    guard count >= 0 else { return nil }
    if count == 0 { return bytes }
    bytes.append(contentsOf: chunk[0..<count])
  }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old or
/// the new content, never a torn one; `durably` syncs the content before the rename.
func writeReplacing(_ bytes: Data, to path: String, durably: Bool) throws(BitsError) {
  let scratch = path + ".tmp"
  let fd = Glibc.open(scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
  guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot write", path: scratch) }
  defer { close(fd) }
  let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
  guard written == bytes.count, !durably || fsync(fd) == 0 else {
    throw BitsError.localFile(errno: errno, "cannot write", path: scratch)
  }
  guard rename(scratch, path) == 0 else {
    throw BitsError.localFile(errno: errno, "cannot replace", path: path)
  }
}

/// The data file's descriptor. Each version of a cached file gets its own `DataFile`; the
/// descriptor closes when the last reader lets go of it.
public final class DataFile: Sendable {
  public let descriptor: Int32
  public let path: String

  init(path: String, create: Bool) throws(BitsError) {
    let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0)
    let fd = Glibc.open(path, flags, 0o600)
    guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot open the cache data file", path: path) }
    descriptor = fd
    self.path = path
  }

  deinit {
    close(descriptor)
  }

  /// The file's size on disk, or `nil` if it cannot be read.
  var size: UInt64? {
    var info = stat()
    return fstat(descriptor, &info) == 0 ? UInt64(info.st_size) : nil
  }

  func setSize(_ size: UInt64) throws(BitsError) {
    guard ftruncate(descriptor, off_t(size)) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot size the cache data file", path: path)
    }
  }

  /// Allocates disk space for `range` before its bytes arrive. A full disk then fails a request
  /// before it transfers anything, and writing into allocated space costs the file system less
  /// CPU than allocating as it goes. Where `fallocate` is not supported, space is allocated as
  /// bytes are written.
  func reserve(_ range: Range<UInt64>) throws(BitsError) {
    while bitsfs_fallocate(descriptor, Int64(range.lowerBound), Int64(range.count)) != 0 {
      switch errno {
      case EINTR: continue
      case EOPNOTSUPP: return
      default: throw BitsError.localFile(errno: errno, "cannot allocate space in the cache", path: path)
      }
    }
  }

  /// Writes all of `bytes` at `offset`.
  public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(BitsError) {
    try repeatUntilDone(bytes.count, failure: "cannot write to the cache") { done in
      pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
    }
  }

  /// Reads exactly `buffer.count` bytes at `offset`.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BitsError) {
    try repeatUntilDone(buffer.count, failure: "cannot read from the cache") { done in
      pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
    }
  }

  /// Calls `operation` with the count done so far until `count` bytes are through: system calls
  /// may move fewer bytes than asked, or be interrupted.
  private func repeatUntilDone(_ count: Int, failure: String, _ operation: (Int) -> Int) throws(BitsError) {
    var done = 0
    while done < count {
      let result = operation(done)
      if result < 0 {
        if errno == EINTR { continue }
        throw BitsError.localFile(errno: errno, failure, path: path)
      }
      guard result > 0 else {
        throw BitsError(.fileChanged, "the cache data file is shorter than expected", url: path)
      }
      done += result
    }
  }

  func synchronize() throws(BitsError) {
    guard fdatasync(descriptor) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot flush the cache", path: path)
    }
  }
}

/// The append-only journal of filled ranges: 24-byte little-endian records of offset, length
/// and a check (FNV-1a of the first 16 bytes). The first record is a header holding the
/// entry's epoch (offset `UInt64.max`). A torn last record from a crash is ignored; a complete
/// record failing its check means the journal was damaged.
enum FilledJournal {
  static let recordSize = 24
  private static let headerOffset = UInt64.max

  /// The epoch and recorded ranges, or `nil` when a record is damaged (then none of them can
  /// be trusted). The epoch is `nil` for a journal without a header.
  static func read(path: String) -> (epoch: UInt64?, ranges: [Range<UInt64>])? {
    guard let bytes = readWholeFile(path) else { return (nil, []) }
    var epoch: UInt64?
    var ranges: [Range<UInt64>] = []
    ranges.reserveCapacity(bytes.count / recordSize)
    let intact = bytes.withUnsafeBytes { raw in
      var position = 0
      while position + recordSize <= raw.count {
        let offset = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        let length = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self))
        let check = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position + 16, as: UInt64.self))
        guard check == FNV1a.hash(raw[position..<position + 16]) else { return false }
        if position == 0, offset == headerOffset {
          epoch = length
        } else {
          let (end, overflow) = offset.addingReportingOverflow(length)
          guard !overflow, offset != headerOffset else { return false }
          if length > 0 { ranges.append(offset..<end) }
        }
        position += recordSize
      }
      return true
    }
    return intact ? (epoch, ranges) : nil
  }

  /// Empties the journal and heads it with `epoch` (none: an empty journal, trusted by no one).
  /// Not synced: until the entry's first commit, a journal that did not reach the disk holds
  /// an epoch no metadata agrees with, or none.
  static func start(epoch: UInt64?, path: String) throws(BitsError) {
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot reset the cache journal", path: path) }
    defer { close(fd) }
    guard let epoch else { return }
    let header = encode(offset: headerOffset, length: epoch)
    guard header.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == header.count else {
      throw BitsError.localFile(errno: errno, "cannot write the cache journal", path: path)
    }
  }

  static func append(_ ranges: [Range<UInt64>], path: String) throws(BitsError) {
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot open the cache journal", path: path) }
    defer { close(fd) }
    let bytes = encode(ranges)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count, fdatasync(fd) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot write the cache journal", path: path)
    }
  }

  static func rewrite(_ ranges: [Range<UInt64>], epoch: UInt64, path: String) throws(BitsError) {
    var bytes = encode(offset: headerOffset, length: epoch)
    bytes.append(encode(ranges))
    try writeReplacing(bytes, to: path, durably: true)
  }

  private static func encode(_ ranges: [Range<UInt64>]) -> Data {
    var bytes = Data(capacity: ranges.count * recordSize)
    for range in ranges {
      bytes.append(encode(offset: range.lowerBound, length: UInt64(range.count)))
    }
    return bytes
  }

  private static func encode(offset: UInt64, length: UInt64) -> Data {
    var record = Data(capacity: recordSize)
    withUnsafeBytes(of: offset.littleEndian) { record.append(contentsOf: $0) }
    withUnsafeBytes(of: length.littleEndian) { record.append(contentsOf: $0) }
    withUnsafeBytes(of: FNV1a.hash(record).littleEndian) { record.append(contentsOf: $0) }
    return record
  }
}
