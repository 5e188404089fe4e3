import Dispatch
import Synchronization

/// Keeps bytes of the cache file in place while a reader is answered from them: they are not
/// evicted until the pin is let go of (it goes with the `FilledBytes` that holds it).
package final class CachePin: Sendable {
  private let release: @Sendable () -> Void

  init(release: @escaping @Sendable () -> Void) {
    self.release = release
  }

  deinit {
    release()
  }
}

/// The ranges readers are being answered from, each as often as pinned: a pure value.
struct ReaderPins: Sendable {
  private var ranges: [UInt64: Range<UInt64>] = [:]
  private var nextID: UInt64 = 1

  mutating func add(_ range: Range<UInt64>) -> UInt64 {
    defer { nextID += 1 }
    ranges[nextID] = range
    return nextID
  }

  mutating func remove(_ id: UInt64) {
    ranges[id] = nil
  }

  func overlaps(_ range: Range<UInt64>) -> Bool {
    ranges.values.contains { $0.overlaps(range) }
  }
}

/// The cache's limits as seen by one file: space is admitted before it is allocated, reads
/// mark their blocks as used, and the budget evicts blocks through `evictBlocks`.
extension DownloadFile: EvictableFile {
  /// A pin for `range` of the cache file, answered to a reader; `nil` when nothing is evicted.
  func pin(_ range: Range<UInt64>) -> CachePin? {
    guard budget != nil else { return nil }
    let id = readerPins.withLock { $0.add(range) }
    return CachePin { [weak self] in self?.readerPins.withLock { $0.remove(id) } }
  }

  /// Allocates space for `range` of a file of `size` bytes in `data`, the budget making room
  /// first. A download's own bytes cannot be evicted, so it fails when they do not fit.
  func reserveInCache(_ range: Range<UInt64>, size: UInt64, data: DataFile) throws(BitsError) {
    guard let budget else { return try data.reserve(range) }
    let admitted = try budget.admit(
      budgetID, range, size: size, metadataBytes: cache.metadataBytes, mustFit: !configuration.isOnDemand)
    defer { budget.allocated(admitted) }
    try data.reserve(range)
  }

  /// Readers used `range`.
  func markUsed(_ range: Range<UInt64>) {
    budget?.touch(budgetID, range)
  }

  /// The entry was opened with `filled` of `size` bytes in `data`: whatever else the data file
  /// holds (requests cut short, a crash) is freed, the rest counted. Runs on `persistQueue`,
  /// so eviction it calls for runs elsewhere.
  func accountOpenedEntry(data: DataFile, filled: ByteRangeSet, size: UInt64) {
    guard let budget else { return }
    for gap in filled.gaps(in: 0..<size) { try? data.punchHole(gap) }
    budget.forgetBlocks(of: budgetID)
    budget.hold(budgetID, filled: filled, size: size, metadataBytes: cache.metadataBytes)
  }

  /// Evicts the blocks of `indexes` that no reader waits for or is answered from and that no
  /// request is filling: they stop being filled (and are not asked for meanwhile), the journal
  /// stops claiming them, then their space is freed. Returns those evicted.
  package func evictBlocks(_ indexes: [UInt64]) -> Set<UInt64> {
    dispatchPrecondition(condition: .notOnQueue(persistQueue))
    guard let unit = budget?.limits.evictionUnit else { return [] }
    // Blocks past the end hold nothing: they count as evicted.
    let chosen = state.withLock { state -> (DataFile, UInt64, vacant: Set<UInt64>, Set<UInt64>, ByteRangeSet)? in
      guard let size = state.version?.size, let data = state.data else { return nil }
      let waiting = state.waiters.ranges
      var vacant = Set<UInt64>()
      var accepted = Set<UInt64>()
      var ranges = ByteRangeSet()
      for index in indexes {
        let (start, overflow) = index.multipliedReportingOverflow(by: unit)
        guard !overflow, start < size else {
          vacant.insert(index)
          continue
        }
        let range = start..<min(size, start + unit)
        guard state.scheduler.claimed.intersection(with: range).isEmpty,
          state.evicting.intersection(with: range).isEmpty,
          !waiting.contains(where: { $0.overlaps(range) }), !readerPins.withLock({ $0.overlaps(range) })
        else { continue }
        state.filled.remove(range)
        state.commits.remove(range)
        state.readAheadUnread.remove(range)
        state.evicting.insert(range)
        ranges.insert(range)
        accepted.insert(index)
      }
      return (data, state.generation, vacant, accepted, ranges)
    }
    // Disconnected: the data file these blocks were in is gone already.
    guard let (data, generation, vacant, accepted, ranges) = chosen else { return Set(indexes) }
    guard !ranges.isEmpty else { return vacant }
    let evicted = persistQueue.sync { () -> Bool in
      guard state.withLock({ $0.generation == generation }) else { return true }
      do throws(BitsError) {
        try cache.evict(ranges.intervals, data: data)
        return true
      } catch {
        // The bytes stay on disk unclaimed: they still count, and are fetched again when read.
        state.withLock { $0.lastError = error }
        return false
      }
    }
    state.withLock { state in
      guard state.generation == generation else { return }
      for range in ranges.intervals { state.evicting.remove(range) }
    }
    // Readers that came for these bytes meanwhile ask for them again.
    fetchForWaitingReaders()
    return evicted ? vacant.union(accepted) : vacant
  }

  /// What counts as present for deciding what to fetch: filled bytes, and bytes being evicted
  /// (asked for again once they are gone).
  func presentForScheduling(_ state: State) -> ByteRangeSet {
    guard !state.evicting.isEmpty else { return state.filled }
    var present = state.filled
    for range in state.evicting.intervals { present.insert(range) }
    return present
  }
}
