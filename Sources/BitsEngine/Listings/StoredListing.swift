import FoundationEssentials

/// A listing as ``ListingStore`` keeps it on disk: a compact binary record, written and read
/// field by field. JSON through `Codable` cost more than fetching and parsing the listing
/// itself (a third of a tree walk's CPU), and kept the listing URL, which may carry a user
/// name and password, in the file. No URL is written here: where the listing was read from is
/// one flag (as asked, or as S3 in path style), and the URL is known again from the request.
///
/// Layout, little-endian: the magic `BITSLST` and a format byte, the check (u64), the time
/// saved (the f64 bits of `Date`'s own seconds since 2001, which read back exactly), the flag
/// (u8), the listing's format (string), the continuation token (optional string), the refused
/// names (count, strings), the entries (count, then kind u8, size tag u8 with one or two u64,
/// date flag u8 with its f64 bits, name).
/// A string is a u32 length and UTF-8 bytes. Anything that does not read back exactly (a short
/// file, a bad tag, a count past the bytes left, an unsafe name) is no stored listing.
package struct StoredListing: Equatable {
  package var check: UInt64
  package var savedAt: Date
  /// The listing was read from the asked location as an S3 bucket in path style.
  package var readAsS3PathStyle: Bool
  package var listing: DirectoryListing

  private static let magic = Array("BITSLST".utf8) + [2]

  package func encoded() -> [UInt8] {
    var writer = ByteWriter()
    writer.bytes.append(contentsOf: Self.magic)
    writer.write(check)
    writer.write(savedAt.timeIntervalSinceReferenceDate.bitPattern)
    writer.write(readAsS3PathStyle ? 1 : 0 as UInt8)
    writer.write(listing.format.rawValue)
    writer.write(optional: listing.continuationToken)
    writer.write(UInt32(listing.refusedNames.count))
    for name in listing.refusedNames { writer.write(name) }
    writer.write(UInt32(listing.entries.count))
    for entry in listing.entries {
      writer.write(entry.kind == .directory ? 1 : 0 as UInt8)
      switch entry.size {
      case .unknown: writer.write(0 as UInt8)
      case .exact(let size):
        writer.write(1 as UInt8)
        writer.write(size)
      case .approximate(let bounds):
        writer.write(2 as UInt8)
        writer.write(bounds.lowerBound)
        writer.write(bounds.upperBound)
      }
      if let modified = entry.modified {
        writer.write(1 as UInt8)
        writer.write(modified.timeIntervalSinceReferenceDate.bitPattern)
      } else {
        writer.write(0 as UInt8)
      }
      writer.write(entry.name)
    }
    return writer.bytes
  }

  package init(check: UInt64, savedAt: Date, readAsS3PathStyle: Bool, listing: DirectoryListing) {
    self.check = check
    self.savedAt = savedAt
    self.readAsS3PathStyle = readAsS3PathStyle
    self.listing = listing
  }

  package init?(decoding bytes: [UInt8]) {
    var reader = ByteReader(bytes)
    guard reader.readBytes(Self.magic.count) == Self.magic[...],
      let check = reader.readUInt64(), let savedAt = reader.readUInt64(), let flag = reader.readUInt8(), flag <= 1,
      let formatName = reader.readString(), let format = DirectoryListing.Format(rawValue: formatName),
      let hasToken = reader.readUInt8(), hasToken <= 1
    else { return nil }
    var token: String?
    if hasToken == 1 {
      guard let text = reader.readString() else { return nil }
      token = text
    }
    guard let refusedCount = reader.readCount(eachAtLeast: 4) else { return nil }
    var refused: [String] = []
    for _ in 0..<refusedCount {
      guard let name = reader.readString() else { return nil }
      refused.append(name)
    }
    // The smallest entry: kind, size tag, date flag and an empty name's length.
    guard let entryCount = reader.readCount(eachAtLeast: 7) else { return nil }
    var entries: [DirectoryListing.Entry] = []
    entries.reserveCapacity(entryCount)
    for _ in 0..<entryCount {
      guard let kindByte = reader.readUInt8(), kindByte <= 1, let sizeTag = reader.readUInt8() else { return nil }
      let size: DirectoryListing.Size
      switch sizeTag {
      case 0: size = .unknown
      case 1:
        guard let exact = reader.readUInt64() else { return nil }
        size = .exact(exact)
      case 2:
        guard let low = reader.readUInt64(), let high = reader.readUInt64(), low <= high else { return nil }
        size = .approximate(low...high)
      default: return nil
      }
      guard let dateFlag = reader.readUInt8(), dateFlag <= 1 else { return nil }
      var modified: Date?
      if dateFlag == 1 {
        guard let bits = reader.readUInt64() else { return nil }
        let seconds = Double(bitPattern: bits)
        guard seconds.isFinite else { return nil }
        modified = Date(timeIntervalSinceReferenceDate: seconds)
      }
      guard let text = reader.readString(), let name = EntryName.checked(text) else { return nil }
      entries.append(
        DirectoryListing.Entry(name: name, kind: kindByte == 1 ? .directory : .file, size: size, modified: modified))
    }
    let saved = Double(bitPattern: savedAt)
    guard reader.isAtEnd, saved.isFinite else { return nil }
    self.init(
      check: check, savedAt: Date(timeIntervalSinceReferenceDate: saved), readAsS3PathStyle: flag == 1,
      listing: DirectoryListing(format: format, entries: entries, refusedNames: refused, continuationToken: token))
  }
}

/// Appends little-endian fields to a byte array.
private struct ByteWriter {
  var bytes: [UInt8] = []

  mutating func write(_ value: UInt8) { bytes.append(value) }

  mutating func write(_ value: UInt32) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func write(_ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func write(_ text: String) {
    write(UInt32(text.utf8.count))
    bytes.append(contentsOf: text.utf8)
  }

  mutating func write(optional text: String?) {
    write(text == nil ? 0 : 1 as UInt8)
    if let text { write(text) }
  }
}

/// Reads what ``ByteWriter`` wrote, every read checked against the bytes left.
private struct ByteReader {
  private let bytes: [UInt8]
  private var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var isAtEnd: Bool { offset == bytes.count }

  mutating func readBytes(_ count: Int) -> ArraySlice<UInt8>? {
    guard count >= 0, count <= bytes.count - offset else { return nil }
    defer { offset += count }
    return bytes[offset..<offset + count]
  }

  mutating func readUInt8() -> UInt8? { readBytes(1)?.first }

  mutating func readUInt32() -> UInt32? {
    readBytes(4).map { $0.reversed().reduce(0) { $0 << 8 | UInt32($1) } }
  }

  mutating func readUInt64() -> UInt64? {
    readBytes(8).map { $0.reversed().reduce(0) { $0 << 8 | UInt64($1) } }
  }

  mutating func readString() -> String? {
    guard let length = readUInt32(), let text = readBytes(Int(length)) else { return nil }
    return String(validating: text, as: UTF8.self)
  }

  /// A count of items of at least `size` bytes each, refused when the bytes left cannot hold it.
  mutating func readCount(eachAtLeast size: Int) -> Int? {
    guard let count = readUInt32().map(Int.init), count <= (bytes.count - offset) / size else { return nil }
    return count
  }
}
