/// A set of byte offsets, kept as sorted, disjoint, non-adjacent half-open intervals: the map of
/// which bytes of a file are filled.
///
/// Touching or overlapping intervals merge, so inserting `0..<10` and then `10..<20` leaves the
/// single interval `0..<20`; `count` is therefore the number of separate runs, and two sets
/// holding the same bytes are equal however they were built.
///
/// One sorted array would make every insertion in the middle of a million intervals an O(n)
/// memmove. The intervals are instead cut into consecutive sorted chunks of bounded length: a
/// binary search over the chunks (by their last interval), then within one chunk, finds a
/// position in O(log n), and an update shifts the elements of at most two chunks plus the short
/// list of chunks. Updates and queries are O(log n + k) amortised, for k intervals touched.
public struct ByteRangeSet: Sendable, Equatable, CustomStringConvertible {
  /// Big enough that a million intervals need only a few thousand chunks, small enough that
  /// shifting the elements of one chunk is a cheap memmove (8 KiB at most). In the benchmark,
  /// inserts were about a quarter faster than with 1,024 and queries no slower.
  private static let defaultMaximumChunkLength = 512

  /// The intervals, in order, cut into runs. Every chunk is non-empty and at most
  /// `maximumChunkLength` long, and all but a lone chunk hold at least `minimumChunkLength`, so
  /// removals cannot leave behind a long list of nearly empty chunks.
  private var chunks: [[Range<UInt64>]] = []

  /// Only tests choose a different value, to reach splits and merges with few intervals.
  let maximumChunkLength: Int

  public private(set) var count = 0

  public private(set) var coveredByteCount: UInt64 = 0

  public init() {
    self.init(maximumChunkLength: Self.defaultMaximumChunkLength)
  }

  init(maximumChunkLength: Int) {
    // Merging and splitting keep chunks within a factor of four; below that the bounds collapse.
    precondition(maximumChunkLength >= 4, "chunks must be able to hold at least four intervals")
    self.maximumChunkLength = maximumChunkLength
  }

  public init<S: Sequence>(_ intervals: S) where S.Element == Range<UInt64> {
    self.init()
    // Sorting once and coalescing in one pass is cheaper than inserting the intervals one by one.
    let sorted = intervals.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
    var merged: [Range<UInt64>] = []
    for interval in sorted {
      if let last = merged.last, interval.lowerBound <= last.upperBound {
        merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, interval.upperBound)
      } else {
        merged.append(interval)
      }
    }
    count = merged.count
    coveredByteCount = merged.reduce(0) { $0 + $1.length }
    // Half-full chunks of equal length leave room to grow and respect the minimum length.
    let chunkCount = (merged.count + maximumChunkLength / 2 - 1) / (maximumChunkLength / 2)
    chunks = (0..<chunkCount).map { chunk in
      Array(merged[chunk * merged.count / chunkCount..<(chunk + 1) * merged.count / chunkCount])
    }
  }

  public var isEmpty: Bool { count == 0 }

  public var intervals: [Range<UInt64>] { chunks.flatMap { $0 } }

  public static func == (lhs: ByteRangeSet, rhs: ByteRangeSet) -> Bool {
    // Chunk boundaries depend on the history of updates, so compare the intervals themselves.
    lhs.count == rhs.count && lhs.coveredByteCount == rhs.coveredByteCount
      && lhs.chunks.joined().elementsEqual(rhs.chunks.joined())
  }

  public var description: String {
    let all = chunks.joined()
    let shown =
      count > 20
      ? all.prefix(10).map(\.description) + ["… \(count - 20) more …"]
        + all.suffix(10).map(\.description)
      : all.map(\.description)
    return "[" + shown.joined(separator: ", ") + "]"
  }

  // MARK: Updates

  /// Adds the bytes of `interval`, merging it with every interval it overlaps or touches.
  public mutating func insert(_ interval: Range<UInt64>) {
    guard !interval.isEmpty else { return }
    let start = firstPosition { $0.upperBound >= interval.lowerBound }
    let end = firstPosition { $0.lowerBound > interval.upperBound }
    var merged = interval
    if start < end {
      let lower = min(interval.lowerBound, self[start].lowerBound)
      let upper = max(interval.upperBound, self[position(before: end)].upperBound)
      merged = lower..<upper
    }
    replaceIntervals(from: start, upTo: end, with: CollectionOfOne(merged))
  }

  /// Takes the bytes of `interval` out of the set, which may split one interval in two.
  public mutating func remove(_ interval: Range<UInt64>) {
    guard !interval.isEmpty else { return }
    let start = firstPosition { $0.upperBound > interval.lowerBound }
    let end = firstPosition { $0.lowerBound >= interval.upperBound }
    guard start < end else { return }
    // The first and last intervals hit may stick out on either side; those parts stay.
    let first = self[start]
    let last = self[position(before: end)]
    var leftovers: [Range<UInt64>] = []
    if first.lowerBound < interval.lowerBound {
      leftovers.append(first.lowerBound..<interval.lowerBound)
    }
    if interval.upperBound < last.upperBound {
      leftovers.append(interval.upperBound..<last.upperBound)
    }
    replaceIntervals(from: start, upTo: end, with: leftovers)
  }

  // MARK: Queries

  /// Whether every byte of `interval` is in the set; true for an empty interval.
  public func contains(_ interval: Range<UInt64>) -> Bool {
    guard !interval.isEmpty else { return true }
    // Stored intervals never touch, so a covered interval lies within a single one of them.
    guard let stored = storedInterval(at: firstPosition { $0.upperBound > interval.lowerBound })
    else { return false }
    return stored.lowerBound <= interval.lowerBound && interval.upperBound <= stored.upperBound
  }

  /// The parts of `interval` not in the set, sorted.
  public func gaps(in interval: Range<UInt64>) -> [Range<UInt64>] {
    var gaps: [Range<UInt64>] = []
    var cursor = interval.lowerBound
    forEachInterval(overlapping: interval) { stored in
      if cursor < stored.lowerBound { gaps.append(cursor..<stored.lowerBound) }
      cursor = stored.upperBound
    }
    if cursor < interval.upperBound { gaps.append(cursor..<interval.upperBound) }
    return gaps
  }

  /// The parts of `interval` in the set, sorted.
  public func intersection(with interval: Range<UInt64>) -> [Range<UInt64>] {
    var parts: [Range<UInt64>] = []
    forEachInterval(overlapping: interval) { stored in
      parts.append(interval.clamped(to: stored))
    }
    return parts
  }

  /// The number of intervals in each chunk, for tests of the chunk-length bounds.
  var chunkLengths: [Int] { chunks.map(\.count) }

  // MARK: Positions

  /// Where an interval is stored. Searches only return positions of stored intervals, or
  /// `(chunks.count, 0)` for the end, so each place has one position and ordering them works.
  private struct Position: Comparable {
    var chunk: Int
    var index: Int

    static func < (lhs: Position, rhs: Position) -> Bool {
      (lhs.chunk, lhs.index) < (rhs.chunk, rhs.index)
    }
  }

  private var minimumChunkLength: Int { maximumChunkLength / 4 }

  private subscript(position: Position) -> Range<UInt64> {
    chunks[position.chunk][position.index]
  }

  private func storedInterval(at position: Position) -> Range<UInt64>? {
    position.chunk < chunks.count ? self[position] : nil
  }

  private func position(before position: Position) -> Position {
    position.index > 0
      ? Position(chunk: position.chunk, index: position.index - 1)
      : Position(chunk: position.chunk - 1, index: chunks[position.chunk - 1].count - 1)
  }

  /// The first interval satisfying `predicate`, which must be false for some prefix of the sorted
  /// intervals and true for the rest; the end position if none does.
  private func firstPosition(where predicate: (Range<UInt64>) -> Bool) -> Position {
    // The answer is in the first chunk whose last interval satisfies the predicate.
    let chunk = chunks.partitioningIndex { predicate($0[$0.count - 1]) }
    guard chunk < chunks.count else { return Position(chunk: chunks.count, index: 0) }
    return Position(chunk: chunk, index: chunks[chunk].partitioningIndex(where: predicate))
  }

  /// Calls `body` with each stored interval overlapping `interval`, in order.
  private func forEachInterval(
    overlapping interval: Range<UInt64>, _ body: (Range<UInt64>) -> Void
  ) {
    guard !interval.isEmpty else { return }
    let start = firstPosition { $0.upperBound > interval.lowerBound }
    var startIndex = start.index
    for chunk in chunks[start.chunk...] {
      for stored in chunk[startIndex...] {
        guard stored.lowerBound < interval.upperBound else { return }
        body(stored)
      }
      startIndex = 0
    }
  }

  /// Replaces the intervals from `start` up to `end` with `replacement`, which must be sorted and
  /// neither overlap nor touch the intervals on either side, keeping the chunk-length bounds.
  private mutating func replaceIntervals(
    from start: Position, upTo end: Position, with replacement: some Collection<Range<UInt64>>
  ) {
    guard !chunks.isEmpty else {
      if !replacement.isEmpty { chunks = [Array(replacement)] }
      count = replacement.count
      coveredByteCount = replacement.reduce(0) { $0 + $1.length }
      return
    }
    // Make both ends point into real chunks: past the end means the back of the last chunk, and
    // the front of a later chunk is the back of the one before, so the edit spans fewer chunks.
    var start = start
    var end = end
    if start.chunk == chunks.count {
      start = Position(chunk: start.chunk - 1, index: chunks[start.chunk - 1].count)
    }
    if end.chunk > start.chunk, end.index == 0 {
      end = Position(chunk: end.chunk - 1, index: chunks[end.chunk - 1].count)
    }

    // Subtract before adding: the total always fits in 64 bits, the intermediate sum might not.
    for chunk in start.chunk...end.chunk {
      let lower = chunk == start.chunk ? start.index : 0
      let upper = chunk == end.chunk ? end.index : chunks[chunk].count
      for removed in chunks[chunk][lower..<upper] { coveredByteCount -= removed.length }
      count -= upper - lower
    }
    for added in replacement { coveredByteCount += added.length }
    count += replacement.count

    if start.chunk == end.chunk {
      chunks[start.chunk].replaceSubrange(start.index..<end.index, with: replacement)
      rebalanceChunk(at: start.chunk)
    } else {
      // Keep the head of the first chunk and the tail of the last; the ones between go whole.
      chunks[end.chunk].removeSubrange(..<end.index)
      chunks[start.chunk].replaceSubrange(start.index..., with: replacement)
      chunks.removeSubrange(start.chunk + 1..<end.chunk)
      // The later chunk first, so that whatever it does leaves the earlier one's index valid.
      rebalanceChunk(at: start.chunk + 1)
      rebalanceChunk(at: start.chunk)
    }
  }

  /// Brings the chunk at `index`, whose length just changed, back within the bounds, assuming
  /// every other chunk is within them.
  private mutating func rebalanceChunk(at index: Int) {
    if chunks[index].isEmpty {
      chunks.remove(at: index)
    } else if chunks[index].count > maximumChunkLength {
      splitChunk(at: index)
    } else if chunks[index].count < minimumChunkLength, chunks.count > 1 {
      // Fold it into its predecessor (or successor, for the first chunk) and split the result if
      // that made it too long. The neighbour is within the bounds, except after an edit across
      // two chunks: then it is the other edited chunk, which the caller rebalances next.
      let left = index > 0 ? index - 1 : index
      let right = chunks.remove(at: left + 1)
      chunks[left].append(contentsOf: right)
      if chunks[left].count > maximumChunkLength { splitChunk(at: left) }
    }
  }

  private mutating func splitChunk(at index: Int) {
    let half = chunks[index].count / 2
    let upperHalf = Array(chunks[index][half...])
    chunks[index].removeSubrange(half...)
    chunks.insert(upperHalf, at: index + 1)
  }
}

extension Range<UInt64> {
  /// The number of bytes, as a `UInt64`: `count` is an `Int` and traps beyond `Int.max`.
  fileprivate var length: UInt64 { upperBound - lowerBound }
}

extension RandomAccessCollection {
  /// The index of the first element satisfying `predicate`, which must be false for some prefix
  /// of the collection and true for the rest; `endIndex` if none does. A binary search.
  fileprivate func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
    var low = startIndex
    var remaining = count
    while remaining > 0 {
      let half = remaining / 2
      let middle = index(low, offsetBy: half)
      if predicate(self[middle]) {
        remaining = half
      } else {
        low = index(after: middle)
        remaining -= half + 1
      }
    }
    return low
  }
}
