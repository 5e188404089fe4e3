/// Inode numbers for the nodes of a mount's tree, one per directory and one per file and remote
/// version: the kernel keeps a file's pages per inode, so pages of one version can never answer
/// a reader of another. The first generation of a node (a directory's only one, a file's until
/// its remote version changes) is numbered by the node itself, node + 1, so the root (node 0) is
/// inode 1 as FUSE wants and listing a directory of thousands fills no table; later generations
/// are numbered from ``firstLater`` up, in order. A pure value.
struct InodeTable: Sendable {
  /// A node of the tree at one generation of its version (1, the first, for a directory).
  struct Key: Hashable, Sendable {
    var entry: Int
    var generation: UInt64
  }

  static let root: UInt64 = 1
  /// Above the number of any node's first generation: 2^48 nodes are more than memory holds.
  static let firstLater: UInt64 = 1 << 48
  /// The highest node whose first generation was numbered: no number past it resolves (the
  /// nodes up to it exist, as nodes are never removed).
  private var highestFirst = 0
  private var laterKeys: [UInt64: Key] = [:]
  private var laterNumbers: [Key: UInt64] = [:]
  private var next = firstLater

  /// The inode of `key`, numbered when first asked for.
  mutating func number(for key: Key) -> UInt64 {
    guard key.generation > 1 else {
      highestFirst = max(highestFirst, key.entry)
      return UInt64(key.entry) + 1
    }
    if let number = laterNumbers[key] { return number }
    defer { next += 1 }
    laterKeys[next] = key
    laterNumbers[key] = next
    return next
  }

  func key(of number: UInt64) -> Key? {
    guard number >= Self.firstLater else {
      guard number >= 1, number - 1 <= UInt64(highestFirst) else { return nil }
      return Key(entry: Int(number - 1), generation: 1)
    }
    return laterKeys[number]
  }

  /// Every inode `entry` may have been given: its first generation's (if numbered up to it),
  /// and each later one's.
  func numbers(ofEntry entry: Int) -> [UInt64] {
    let first: [UInt64] = entry <= highestFirst ? [UInt64(entry) + 1] : []
    return first + laterNumbers.filter { $0.key.entry == entry }.map(\.value).sorted()
  }
}
