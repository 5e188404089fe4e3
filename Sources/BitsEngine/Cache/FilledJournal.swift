import FoundationEssentials
import Glibc

/// The append-only journal of filled ranges: 24-byte little-endian records of offset, length
/// and a check (FNV-1a of the first 16 bytes). The first record is a header holding the
/// entry's epoch (offset `UInt64.max`). A record whose offset has the top bit set removes its
/// range (evicted bytes; offsets of real files stay below 2^63): the journal is replayed in
/// order. A torn last record from a crash is ignored; a complete record failing its check
/// means the journal was damaged.
enum FilledJournal {
  static let recordSize = 24
  private static let headerOffset = UInt64.max
  private static let removalFlag: UInt64 = 1 << 63

  /// What a journal says: its epoch (`nil` for a journal without a header), the ranges it
  /// claims after replaying every record, and how many range records it holds.
  struct Contents {
    var epoch: UInt64?
    var filled = ByteRangeSet()
    var recordCount = 0
  }

  /// The journal's contents, or `nil` when a record is damaged (then none of it can be trusted).
  static func read(path: String) -> Contents? {
    guard let bytes = readWholeFile(path) else { return Contents() }
    var contents = Contents()
    let intact = bytes.withUnsafeBytes { raw in
      var position = 0
      while position + recordSize <= raw.count {
        let offset = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        let length = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self))
        let check = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position + 16, as: UInt64.self))
        guard check == FNV1a.hash(raw[position..<position + 16]) else { return false }
        if position == 0, offset == headerOffset {
          contents.epoch = length
        } else {
          guard offset != headerOffset else { return false }
          let start = offset & ~removalFlag
          let (end, overflow) = start.addingReportingOverflow(length)
          guard !overflow else { return false }
          if length > 0 {
            if offset & removalFlag == 0 {
              contents.filled.insert(start..<end)
            } else {
              contents.filled.remove(start..<end)
            }
          }
          contents.recordCount += 1
        }
        position += recordSize
      }
      return true
    }
    return intact ? contents : nil
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

  /// Records `ranges` as filled, durably.
  static func append(_ ranges: [Range<UInt64>], path: String) throws(BitsError) {
    try appendDurably(encode(ranges, flag: 0), path: path)
  }

  /// Records `ranges` as no longer filled, durably: done before their bytes are freed, so that
  /// the journal never claims bytes that are gone.
  static func appendRemoval(_ ranges: [Range<UInt64>], path: String) throws(BitsError) {
    try appendDurably(encode(ranges, flag: removalFlag), path: path)
  }

  private static func appendDurably(_ bytes: Data, path: String) throws(BitsError) {
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot open the cache journal", path: path) }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count, fdatasync(fd) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot write the cache journal", path: path)
    }
  }

  static func rewrite(_ ranges: [Range<UInt64>], epoch: UInt64, path: String) throws(BitsError) {
    var bytes = encode(offset: headerOffset, length: epoch)
    bytes.append(encode(ranges, flag: 0))
    try writeReplacing(bytes, to: path, durably: true)
  }

  private static func encode(_ ranges: [Range<UInt64>], flag: UInt64) -> Data {
    var bytes = Data(capacity: ranges.count * recordSize)
    for range in ranges {
      bytes.append(encode(offset: range.lowerBound | flag, length: UInt64(range.count)))
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
