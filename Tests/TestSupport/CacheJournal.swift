import Foundation

/// Reads a cache's journals the way a restarted process would find them.
public enum CacheJournal {
  /// Bytes recorded in the cache journal(s) under `directory`: 24-byte records of offset,
  /// length and check, after a header record.
  public static func journalledBytes(under directory: URL) -> Int {
    guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
      return 0
    }
    var total = 0
    for case let url as URL in enumerator where url.lastPathComponent == "filled" {
      guard let data = try? Data(contentsOf: url) else { continue }
      var offset = 24
      while offset + 24 <= data.count {
        total += Int(data[offset + 8..<offset + 16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        offset += 24
      }
    }
    return total
  }
}
