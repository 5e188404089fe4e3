import CLinux
import FoundationEssentials
import Glibc

/// A cache directory seen from outside a mount (`bitsfs cache`): what each entry holds and
/// whether its files agree, read without trusting any of them; entries removed only under
/// their lock, and nothing removed that is not an entry.
package struct CacheInventory: Sendable {
  /// One entry as inspected.
  package struct Item: Sendable {
    package var path: String
    /// The URL its metadata names, if the metadata can be read.
    package var url: String?
    /// The size of the version cached.
    package var size: UInt64?
    /// Bytes a mount would trust (none if anything disagrees).
    package var cachedBytes: UInt64
    package var diskBytes: UInt64
    /// Seconds since 1970.
    package var lastUse: Int64
    /// The process holding the entry, if one does.
    package var holder: Int32?
    /// What disagrees; a mount would drop the entry's bytes.
    package var problems: [String]
  }

  package let directory: URL

  /// The inventory of `directory`: refused when it does not exist, is not a directory, or holds
  /// other files and no entry (not a bitsfs cache).
  package init(directory: URL) throws(BitsError) {
    self.directory = directory
    guard FileManager.default.fileExists(atPath: directory.path) else {
      throw BitsError(.invalidArgument, "there is no cache directory at \(directory.path)")
    }
    guard isDirectory(directory.path), let scan = CacheDirectory.scan(directory) else {
      throw BitsError(.invalidArgument, "\(directory.path) is not a readable directory")
    }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    if scan.entries.isEmpty, names.contains(where: { $0 != Self.logName }) {
      throw BitsError(
        .invalidArgument, "\(directory.path) holds no bitsfs cache entry, only other files: not a bitsfs cache")
    }
  }

  /// The daemon's log (`--debug`), the one file of a cache directory that is not an entry.
  static let logName = "bitsfs.log"

  /// Every entry, least recently used first.
  package func items() -> [Item] {
    (CacheDirectory.scan(directory)?.entries ?? []).map(Self.inspect).sorted {
      ($0.lastUse, $0.path) < ($1.lastUse, $1.path)
    }
  }

  /// The entry for `url`, if there is one that names it.
  package func item(for url: String) -> Item? {
    let path = directory.appendingPathComponent(CacheKey.forURL(url)).path
    guard CacheDirectory.isEntry(path) else { return nil }
    let item = Self.inspect(
      CacheDirectory.Entry(
        path: path, diskBytes: CacheDirectory.diskBytes(of: path, recursive: true), lastUse: 0))
    return item.url == url ? item : nil
  }

  /// Removes the entry at `path` under its lock: refused while a process holds it.
  package func remove(_ item: Item) throws(BitsError) {
    guard CacheDirectory.isEntry(item.path) else {
      throw BitsError(.invalidArgument, "\(item.path) is not a bitsfs cache entry")
    }
    let entry = try CacheEntry(directory: URL(fileURLWithPath: item.path))
    entry.remove()
    entry.release()
  }

  /// Removes whole entries, least recently used first, until the directory holds at most
  /// `bytes`; entries in use are kept. Returns those removed and those kept in use.
  package func prune(to bytes: UInt64) -> (removed: [Item], inUse: [Item]) {
    var total = CacheDirectory.diskBytes(of: directory.path, recursive: true)
    var removed: [Item] = []
    var inUse: [Item] = []
    for item in items() where total > bytes {
      do throws(BitsError) {
        try remove(item)
        removed.append(item)
        total = total > item.diskBytes ? total - item.diskBytes : 0
      } catch {
        inUse.append(item)
      }
    }
    return (removed, inUse)
  }

  /// Reads an entry's files and checks them against each other: metadata, journal (its records,
  /// its epoch, its ranges) and data file (its size, and that every range claimed holds data).
  static func inspect(_ found: CacheDirectory.Entry) -> Item {
    let directory = URL(fileURLWithPath: found.path)
    var item = Item(
      path: found.path, cachedBytes: 0, diskBytes: found.diskBytes, lastUse: found.lastUse,
      holder: CacheEntry.holder(of: directory), problems: [])
    guard let bytes = readWholeFile(directory.appendingPathComponent("meta.json").path),
      let metadata = try? JSONDecoder().decode(CacheEntry.Metadata.self, from: bytes)
    else {
      item.problems.append("its metadata is missing or cannot be read")
      return item
    }
    item.url = metadata.url
    item.size = metadata.version.size
    if metadata.format != CacheEntry.format {
      item.problems.append("its metadata is of layout \(metadata.format), not \(CacheEntry.format)")
    }
    if directory.lastPathComponent != CacheKey.forURL(metadata.url) {
      item.problems.append("its name is not the one its URL gets")
    }
    let dataPath = directory.appendingPathComponent("data").path
    var info = stat()
    let dataSize = stat(dataPath, &info) == 0 ? UInt64(info.st_size) : nil
    if dataSize != metadata.version.size {
      item.problems.append(
        "its data file is \(dataSize.map { "\($0) bytes" } ?? "missing"), not the version's \(metadata.version.size)")
    }
    guard let journal = FilledJournal.read(path: directory.appendingPathComponent("filled").path) else {
      item.problems.append("its journal is damaged (a record fails its check)")
      return item
    }
    if journal.epoch != metadata.epoch {
      item.problems.append("its journal is of another epoch than its metadata (nothing of it is trusted)")
    }
    if let end = journal.filled.intervals.last?.upperBound, end > metadata.version.size {
      item.problems.append("its journal claims bytes up to \(end), past the end of the file")
    }
    if dataSize == metadata.version.size, let hole = firstHole(in: journal.filled, path: dataPath) {
      item.problems.append("its journal claims bytes \(hole.lowerBound)..<\(hole.upperBound) that the data file lacks")
    }
    if item.problems.isEmpty { item.cachedBytes = journal.filled.coveredByteCount }
    return item
  }

  /// lseek(2) whences that glibc declares only under _GNU_SOURCE.
  private static let seekData: Int32 = 3
  private static let seekHole: Int32 = 4

  /// The first part of `claimed` that is a hole in the file at `path`.
  private static func firstHole(in claimed: ByteRangeSet, path: String) -> Range<UInt64>? {
    let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return claimed.intervals.first }
    defer { close(descriptor) }
    for range in claimed.intervals {
      let hole = lseek(descriptor, off_t(range.lowerBound), Self.seekHole)
      if hole >= 0, UInt64(hole) < range.upperBound {
        let data = lseek(descriptor, off_t(hole), Self.seekData)
        let end = data < 0 ? range.upperBound : min(range.upperBound, UInt64(data))
        return UInt64(hole)..<end
      }
    }
    return nil
  }
}
