/// Names cache entries after the URL they hold, so the same URL finds the same entry in every
/// process and every mount.
package enum CacheKey {
  /// FNV-1a of the URL, in hex. The entry's metadata records the full URL, and a mismatch
  /// resets the entry, so a collision costs a refetch, never wrong bytes.
  package static func forURL(_ url: String) -> String {
    let hex = String(FNV1a.hash(url.utf8), radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }

  /// Whether `name` is a key and `suffix` (`.json`, `.listing`): the files the stores kept
  /// beside the entries write.
  package static func isRecordName(_ name: String, suffix: String = ".json") -> Bool {
    guard name.hasSuffix(suffix) else { return false }
    let stem = name.dropLast(suffix.count)
    return stem.count == 16 && stem.allSatisfy(\.isHexDigit)
  }
}

/// 64-bit FNV-1a: cheap, and good enough to name entries and to catch damaged journal records
/// (it guards against accidents, not against someone forging cache files).
package enum FNV1a {
  package static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
  }
}
