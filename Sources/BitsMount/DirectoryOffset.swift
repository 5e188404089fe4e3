/// The offset of an entry in a reading of a directory, which the kernel hands back to go on
/// after it (FUSE readdir offsets; 0 is the start). It holds the entry's position among the
/// directory's entries (`.` and `..`, then its children) and the node it was, so a reading goes
/// on after the same entry even when a listing read between two parts moved it. A pure value.
struct DirectoryOffset: Equatable {
  let position: Int
  /// The low 32 bits of the node: a tree of more nodes than that does not fit in memory.
  let node: UInt32

  init(position: Int, node: Int) {
    self.position = position
    self.node = UInt32(truncatingIfNeeded: node)
  }

  /// `nil` for the start, and for an offset this file system never gave (`seekdir` to one
  /// reads from the start).
  init?(_ raw: UInt64) {
    let position = raw >> 32
    guard position > 0, position <= UInt64(Int32.max) else { return nil }
    self.position = Int(position) - 1
    node = UInt32(truncatingIfNeeded: raw)
  }

  /// As the kernel keeps it: positive and below 2^63, as an `off_t` must be.
  var raw: UInt64 {
    UInt64(min(position, Int(Int32.max) - 1) + 1) << 32 | UInt64(node)
  }

  /// The position to go on from, given the directory's `children` now: after this entry where
  /// it is now, or the next position if it is gone.
  func next(among children: [Int]) -> Int {
    guard position >= 2 else { return position + 1 }
    let index = position - 2
    if children.indices.contains(index), UInt32(truncatingIfNeeded: children[index]) == node { return position + 1 }
    if let moved = children.firstIndex(where: { UInt32(truncatingIfNeeded: $0) == node }) { return moved + 3 }
    return position + 1
  }
}
