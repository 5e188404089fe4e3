/// Inode numbers for the nodes of a mount's tree, one per directory and one per file and remote
/// version: the kernel keeps a file's pages per inode, so pages of one version can never answer
/// a reader of another. The root directory (node 0) is inode 1, as FUSE wants. A pure value.
struct InodeTable: Sendable {
  /// A node of the tree at one generation of its version (0 for a directory).
  struct Key: Hashable, Sendable {
    var entry: Int
    var generation: UInt64
  }

  static let root: UInt64 = 1
  private var keys: [UInt64: Key] = [root: Key(entry: 0, generation: 0)]
  private var numbers: [Key: UInt64] = [Key(entry: 0, generation: 0): root]
  private var next: UInt64 = root + 1

  /// The inode of `key`, numbered when first asked for.
  mutating func number(for key: Key) -> UInt64 {
    if let number = numbers[key] { return number }
    defer { next += 1 }
    keys[next] = key
    numbers[key] = next
    return next
  }

  func key(of number: UInt64) -> Key? {
    keys[number]
  }

  /// Every inode numbered for `entry`, of any generation.
  func numbers(ofEntry entry: Int) -> [UInt64] {
    numbers.filter { $0.key.entry == entry }.map(\.value).sorted()
  }
}
