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

extension CacheJournal {
  /// What one entry claims, as a restarted process would trust it: the ranges of its journal
  /// when the journal's epoch is the metadata's.
  public struct Claim: Sendable {
    public var url: String
    public var dataPath: String
    public var ranges: [Range<Int>]
  }

  /// The claims of every entry under `cache` (one level of entry directories).
  public static func claims(under cache: URL) -> [Claim] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []
    return names.sorted().compactMap { name in
      let entry = cache.appendingPathComponent(name)
      guard let metadata = try? Data(contentsOf: entry.appendingPathComponent("meta.json")),
        let object = try? JSONSerialization.jsonObject(with: metadata) as? [String: Any],
        let url = object["url"] as? String, let epoch = epoch(in: metadata),
        let journal = try? Data(contentsOf: entry.appendingPathComponent("filled")), journal.count >= 24,
        journal[8..<16].withUnsafeBytes({ $0.loadUnaligned(as: UInt64.self) }) == epoch
      else { return nil }
      return Claim(url: url, dataPath: entry.appendingPathComponent("data").path, ranges: journalledRanges(journal))
    }
  }

  /// The epoch of an entry's metadata, read as digits (a JSON number past 2^53 may not survive
  /// a conversion to `Double`).
  private static func epoch(in metadata: Data) -> UInt64? {
    let text = String(decoding: metadata, as: UTF8.self)
    guard let key = text.range(of: "\"epoch\":") else { return nil }
    return UInt64(text[key.upperBound...].prefix { $0.isNumber })
  }

  /// Bytes allocated on disk under `path`, as `du` counts them (not following links).
  public static func diskBytes(under path: String) -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { return 0 }
    var total = Int(info.st_blocks) * 512
    if info.st_mode & S_IFMT == S_IFDIR {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
        total += diskBytes(under: path + "/" + name)
      }
    }
    return total
  }
}
