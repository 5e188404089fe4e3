import Foundation

/// Reads a cache's journals the way a restarted process would find them.
public enum CacheJournal {
  /// Bytes recorded as filled in the cache journal(s) under `directory`: 24-byte records of
  /// offset, length and check after a header record, replayed in order (a record whose offset
  /// has the top bit set removes its range).
  public static func journalledBytes(under directory: URL) -> Int {
    guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
      return 0
    }
    var total = 0
    for case let url as URL in enumerator where url.lastPathComponent == "filled" {
      guard let data = try? Data(contentsOf: url) else { continue }
      total += journalledRanges(data).reduce(0) { $0 + $1.count }
    }
    return total
  }

  /// The ranges a journal's records claim after replaying them, merged and sorted.
  public static func journalledRanges(_ data: Data) -> [Range<Int>] {
    var claimed = IndexSet()
    var offset = 24
    while offset + 24 <= data.count {
      let start = data[offset..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
      let length = Int(data[offset + 8..<offset + 16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
      let lower = Int(start & ~(1 << 63))
      if start & (1 << 63) == 0 {
        claimed.insert(integersIn: lower..<lower + length)
      } else {
        claimed.remove(integersIn: lower..<lower + length)
      }
      offset += 24
    }
    return claimed.rangeView.map { $0 }
  }
}
