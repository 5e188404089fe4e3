import FoundationEssentials
import Glibc

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
