/// Names cache entries after the URL they hold, so the same URL finds the same entry in every
/// process and every mount.
enum CacheKey {
  /// 64-bit FNV-1a of the URL, in hex. The entry's metadata records the full URL, and a
  /// mismatch resets the entry, so a collision costs a refetch, never wrong bytes.
  static func forURL(_ url: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in url.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}
