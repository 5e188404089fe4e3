/// The offset of an entry in a reading of a directory, which the kernel hands back to go on
/// after it (FUSE readdir offsets; 0 is the start). It holds the entry's position among the
/// directory's entries (`.` and `..`, then its children) and the low bits of the directory's
/// listing generation, so that a reading a refresh falls between goes on after the same entry
/// in the new listing. It stays below 2^30: a 32-bit program's `telldir` and `getdents` take
/// no larger offset. A pure value.
struct DirectoryOffset: Equatable {
  static let positionBits = 24
  static let generationBits = 6
  /// Positions up to this fit: more than the largest directory allowed (10,000,000 entries).
  static let maximumPosition = (1 << positionBits) - 2

  let position: Int
  let generation: UInt32

  init(position: Int, generation: UInt32) {
    self.position = min(position, Self.maximumPosition)
    self.generation = generation & ((1 << Self.generationBits) - 1)
  }

  /// `nil` for the start, and for an offset this file system never gave (`seekdir` to one
  /// reads from the start).
  init?(_ raw: UInt64) {
    let position = raw & ((1 << Self.positionBits) - 1)
    guard position > 0, raw >> (Self.positionBits + Self.generationBits) == 0 else { return nil }
    self.position = Int(position) - 1
    generation = UInt32(raw >> Self.positionBits)
  }

  var raw: UInt64 {
    UInt64(generation) << Self.positionBits | UInt64(position + 1)
  }

  /// The position to go on from in a directory whose listing is now of `generation`, with
  /// `children`; `previousChildren` are those of the listing before. Where a refresh came
  /// between, a reading goes on after this entry where it is now, or if it left, at the next
  /// entry of the old listing that stayed: where the listing keeps its order, no entry that
  /// stayed is given twice or missed.
  func next(generation current: UInt32, children: [Int], previousChildren: [Int]) -> Int {
    let mask: UInt32 = (1 << Self.generationBits) - 1
    guard position >= 2, generation != current & mask, generation == (current &- 1) & mask else {
      return position + 1
    }
    let now = Dictionary(children.enumerated().map { ($1, $0) }) { first, _ in first }
    let stayed = previousChildren.dropFirst(position - 2).lazy.compactMap { now[$0] }
    guard let after = stayed.first else { return children.count + 2 }
    // `after` is where the entry read last is now, or the next one that stayed.
    return now[previousChildren[position - 2]] == nil ? after + 2 : after + 3
  }
}
