/// A set of byte offsets kept as sorted, disjoint, non-adjacent half-open intervals: the
/// interval map of filled ranges. Inserting 0..<10 then 10..<20 leaves one interval, 0..<20.
///
/// Intervals live in a list of sorted chunks of bounded length rather than one array, so an
/// insertion in the middle of a million intervals moves at most one chunk's worth of elements:
/// updates and queries are O(log n + k) for k intervals touched.
public struct ByteRangeSet: Sendable, Equatable, CustomStringConvertible {
  /// Chunks are split above this length; a small constant keeps each memmove cheap.
  private static let maximumChunkLength = 1024

  private var chunks: [[Range<UInt64>]] = []
  public private(set) var count = 0
  public private(set) var coveredByteCount: UInt64 = 0

  public init() {}

  public init<S: Sequence>(_ intervals: S) where S.Element == Range<UInt64> {
    for interval in intervals { insert(interval) }
  }

  public var isEmpty: Bool { count == 0 }

  public var intervals: [Range<UInt64>] { Array(chunks.joined()) }

  public static func == (lhs: ByteRangeSet, rhs: ByteRangeSet) -> Bool {
    lhs.count == rhs.count && lhs.coveredByteCount == rhs.coveredByteCount
      && lhs.chunks.joined().elementsEqual(rhs.chunks.joined())
  }

  public var description: String {
    let all = intervals
    let shown = all.count > 20 ? Array(all.prefix(10)) + Array(all.suffix(10)) : all
    var parts = shown.map { "\($0.lowerBound)..<\($0.upperBound)" }
    if all.count > 20 { parts.insert("… \(all.count - 20) more …", at: 10) }
    return "[" + parts.joined(separator: ", ") + "]"
  }

  // MARK: Updates

  public mutating func insert(_ interval: Range<UInt64>) {
    guard !interval.isEmpty else { return }
    // Every interval that overlaps or touches `interval` merges with it.
    let first = firstPosition { $0.upperBound >= interval.lowerBound }
    let afterLast = firstPosition { $0.lowerBound > interval.upperBound }
    guard first < afterLast else {
      replace(from: first, upTo: first, with: [interval])
      return
    }
    let lower = Swift.min(self[first].lowerBound, interval.lowerBound)
    let upper = Swift.max(self[before(afterLast)].upperBound, interval.upperBound)
    replace(from: first, upTo: afterLast, with: [lower..<upper])
  }

  public mutating func remove(_ interval: Range<UInt64>) {
    guard !interval.isEmpty else { return }
    let first = firstPosition { $0.upperBound > interval.lowerBound }
    let afterLast = firstPosition { $0.lowerBound >= interval.upperBound }
    guard first < afterLast else { return }
    var leftovers: [Range<UInt64>] = []
    let head = self[first]
    let tail = self[before(afterLast)]
    if head.lowerBound < interval.lowerBound { leftovers.append(head.lowerBound..<interval.lowerBound) }
    if tail.upperBound > interval.upperBound { leftovers.append(interval.upperBound..<tail.upperBound) }
    replace(from: first, upTo: afterLast, with: leftovers)
  }

  // MARK: Queries

  /// Whether every byte of `interval` is in the set.
  public func contains(_ interval: Range<UInt64>) -> Bool {
    guard !interval.isEmpty else { return true }
    let position = firstPosition { $0.upperBound > interval.lowerBound }
    guard position < endPosition else { return false }
    let candidate = self[position]
    return candidate.lowerBound <= interval.lowerBound && candidate.upperBound >= interval.upperBound
  }

  /// The parts of `interval` not in the set, sorted.
  public func gaps(in interval: Range<UInt64>) -> [Range<UInt64>] {
    var gaps: [Range<UInt64>] = []
    var cursor = interval.lowerBound
    forEachOverlapping(interval) { covered in
      if covered.lowerBound > cursor { gaps.append(cursor..<covered.lowerBound) }
      cursor = Swift.max(cursor, covered.upperBound)
    }
    if cursor < interval.upperBound { gaps.append(cursor..<interval.upperBound) }
    return gaps
  }

  /// The parts of `interval` in the set, sorted.
  public func intersection(with interval: Range<UInt64>) -> [Range<UInt64>] {
    var parts: [Range<UInt64>] = []
    forEachOverlapping(interval) { covered in
      parts.append(Swift.max(covered.lowerBound, interval.lowerBound)..<Swift.min(covered.upperBound, interval.upperBound))
    }
    return parts
  }

  /// The end of the covered run containing `offset`; `offset` itself when it is not covered.
  public func coveredPrefix(from offset: UInt64) -> UInt64 {
    let position = firstPosition { $0.upperBound > offset }
    guard position < endPosition, self[position].lowerBound <= offset else { return offset }
    return self[position].upperBound
  }

  // MARK: Positions across chunks

  private struct Position: Comparable {
    var chunk: Int
    var index: Int

    static func < (lhs: Position, rhs: Position) -> Bool {
      (lhs.chunk, lhs.index) < (rhs.chunk, rhs.index)
    }
  }

  private var endPosition: Position { Position(chunk: chunks.count, index: 0) }

  private subscript(position: Position) -> Range<UInt64> { chunks[position.chunk][position.index] }

  private func before(_ position: Position) -> Position {
    position.index > 0
      ? Position(chunk: position.chunk, index: position.index - 1)
      : Position(chunk: position.chunk - 1, index: chunks[position.chunk - 1].count - 1)
  }

  /// The first position whose interval satisfies `predicate`, which must be false for a prefix
  /// of the sorted intervals and true for the rest; `endPosition` if none does.
  private func firstPosition(where predicate: (Range<UInt64>) -> Bool) -> Position {
    // Chunks by their last interval, then within the chunk.
    var low = 0
    var high = chunks.count
    while low < high {
      let middle = (low + high) / 2
      if predicate(chunks[middle][chunks[middle].count - 1]) { high = middle } else { low = middle + 1 }
    }
    guard low < chunks.count else { return endPosition }
    let chunk = chunks[low]
    var lowIndex = 0
    var highIndex = chunk.count - 1
    while lowIndex < highIndex {
      let middle = (lowIndex + highIndex) / 2
      if predicate(chunk[middle]) { highIndex = middle } else { lowIndex = middle + 1 }
    }
    return Position(chunk: low, index: lowIndex)
  }

  private func forEachOverlapping(_ interval: Range<UInt64>, _ body: (Range<UInt64>) -> Void) {
    guard !interval.isEmpty else { return }
    var position = firstPosition { $0.upperBound > interval.lowerBound }
    while position.chunk < chunks.count {
      let chunk = chunks[position.chunk]
      while position.index < chunk.count {
        let covered = chunk[position.index]
        guard covered.lowerBound < interval.upperBound else { return }
        body(covered)
        position.index += 1
      }
      position = Position(chunk: position.chunk + 1, index: 0)
    }
  }

  /// Replaces the intervals in `start..<end` with `replacement` (sorted, fitting between the
  /// neighbours), keeping every chunk non-empty and no longer than the maximum.
  private mutating func replace(from start: Position, upTo end: Position, with replacement: [Range<UInt64>]) {
    var position = start
    var end = end
    // Removal, from the front chunk onwards.
    while position < end {
      let stop = end.chunk == position.chunk ? end.index : chunks[position.chunk].count
      for removed in chunks[position.chunk][position.index..<stop] {
        count -= 1
        coveredByteCount -= UInt64(removed.count)
      }
      chunks[position.chunk].removeSubrange(position.index..<stop)
      if end.chunk == position.chunk {
        end.index = position.index
        break
      }
      position = Position(chunk: position.chunk + 1, index: 0)
    }
    // Chunks emptied in the middle go; the replacement lands at `start`.
    var target = start
    if chunks.isEmpty || target.chunk == chunks.count {
      if chunks.isEmpty || replacement.isEmpty {
        if !replacement.isEmpty { chunks.append([]) }
        target = Position(chunk: Swift.max(0, chunks.count - 1), index: chunks.last?.count ?? 0)
      } else {
        target = Position(chunk: chunks.count - 1, index: chunks[chunks.count - 1].count)
      }
    }
    if !replacement.isEmpty {
      chunks[target.chunk].insert(contentsOf: replacement, at: target.index)
      count += replacement.count
      for added in replacement { coveredByteCount += UInt64(added.count) }
    }
    // Only chunks from `start` to the old end can have been emptied.
    let lastTouched = Swift.min(Swift.max(end.chunk, target.chunk), chunks.count - 1)
    if start.chunk <= lastTouched {
      for index in stride(from: lastTouched, through: start.chunk, by: -1) where chunks[index].isEmpty {
        chunks.remove(at: index)
      }
    }
    splitOversizedChunks(near: Swift.min(target.chunk, Swift.max(0, chunks.count - 1)))
  }

  private mutating func splitOversizedChunks(near index: Int) {
    guard index < chunks.count, chunks[index].count > Self.maximumChunkLength else { return }
    let half = chunks[index].count / 2
    let upper = Array(chunks[index][half...])
    chunks[index].removeSubrange(half...)
    chunks.insert(upper, at: index + 1)
  }
}
