/// One eviction unit of one file: bytes `index * unit ..< (index + 1) * unit` of the file
/// registered as `file`.
package struct CacheBlock: Hashable, Sendable {
  package var file: UInt64
  package var index: UInt64

  package init(file: UInt64, index: UInt64) {
    self.file = file
    self.index = index
  }
}

/// A cache entry on disk that no file of this process holds: evicted whole, least recently used
/// first, before any block in use here.
package struct IdleEntry: Sendable, Equatable {
  package var path: String
  package var bytes: UInt64
  package var lastUse: Int64

  package init(path: String, bytes: UInt64, lastUse: Int64) {
    self.path = path
    self.bytes = bytes
    self.lastUse = lastUse
  }
}

/// What the cache directory holds on disk and what to evict before more bytes are written: a
/// pure value with no locks and no I/O (`CacheBudget` does those).
///
/// The bytes counted: every block of a file of this process that may hold bytes on disk (from
/// the moment space for it is asked for), each entry's small files, the idle entries and
/// whatever else the directory held when it was scanned. Blocks of files that may not be
/// evicted (a download whose bytes are the file being delivered) count but are never chosen.
///
/// Eviction order: what background fill does not hold first (idle entries, then blocks, each
/// least recently used first), then, only when that is not enough, what fill holds (in the same
/// order). Fill holds no more than its share of the cache (`FillRoom`), so readers churn within
/// the rest and never evict what fill fetched, which it would fetch again.
package struct CacheAccount: Sendable {
  package struct Limits: Sendable, Equatable {
    /// Bytes the directory may hold; `nil` for no limit.
    package var maximumBytes: UInt64?
    /// Free bytes to keep on the file system.
    package var minimumFreeBytes: UInt64

    package init(maximumBytes: UInt64?, minimumFreeBytes: UInt64) {
      self.maximumBytes = maximumBytes
      self.minimumFreeBytes = minimumFreeBytes
    }
  }

  /// A block chosen for eviction, with the bytes it was counted for.
  package struct ChosenBlock: Sendable, Equatable {
    package var block: CacheBlock
    package var bytes: UInt64
  }

  /// What to evict, in this order: idle entries, then blocks.
  package struct Plan: Sendable, Equatable {
    package var entries: [IdleEntry] = []
    package var blocks: [ChosenBlock] = []

    package var isEmpty: Bool { entries.isEmpty && blocks.isEmpty }
  }

  private struct FileAccount: Sendable {
    var entryPath: String
    var evictable: Bool
    var metadataBytes: UInt64
    var blocks: Set<UInt64> = []
  }

  package let limits: Limits
  private var order = EvictionOrder<CacheBlock>()
  private var files: [UInt64: FileAccount] = [:]
  /// Idle entries, least recently used first.
  private var idle: [IdleEntry] = []
  private var idleBytes: UInt64 = 0
  private var metadataBytes: UInt64 = 0
  /// Bytes of idle entries another process holds, and of files that are not entries.
  private var otherBytes: UInt64 = 0
  /// Bytes chosen for eviction whose space is not freed yet: they still count.
  private var releasing: UInt64 = 0
  /// The entries background fill holds, by path: evicted after everything else.
  private var heldByFill: Set<String> = []

  package init(limits: Limits) {
    self.limits = limits
  }

  /// Every byte counted.
  package var usedBytes: UInt64 {
    order.totalBytes + metadataBytes + idleBytes + otherBytes + releasing
  }

  /// The blocks of `file` held, least recently used first (for tests and `bitsfs status`).
  package func blocks(of file: UInt64) -> [UInt64] {
    order.keysOldestFirst.filter { $0.file == file }.map(\.index)
  }

  /// What a scan of the directory found besides the files of this process.
  package mutating func setScanned(idle entries: [IdleEntry], otherBytes: UInt64) {
    let held = Set(files.values.map(\.entryPath))
    idle = entries.filter { !held.contains($0.path) }.sorted { ($0.lastUse, $0.path) < ($1.lastUse, $1.path) }
    idleBytes = idle.reduce(0) { $0 + $1.bytes }
    self.otherBytes = otherBytes
  }

  /// Starts counting `file`, held in the entry at `entryPath` whose small files take
  /// `metadataBytes` (no longer idle, if it was); `evictable` says whether its blocks may be
  /// chosen.
  package mutating func register(_ file: UInt64, entryPath: String, evictable: Bool, metadataBytes: UInt64) {
    if let index = idle.firstIndex(where: { $0.path == entryPath }) {
      idleBytes -= idle.remove(at: index).bytes
    }
    files[file] = FileAccount(entryPath: entryPath, evictable: evictable, metadataBytes: metadataBytes)
    self.metadataBytes += metadataBytes
  }

  package mutating func updateMetadata(of file: UInt64, bytes: UInt64) {
    guard let old = files[file]?.metadataBytes else { return }
    files[file]!.metadataBytes = bytes
    metadataBytes = metadataBytes - old + bytes
  }

  /// Stops counting `file` and its blocks (it let go of the entry). With `idleSince`, the entry
  /// stays on disk: its bytes count as an idle entry last used then.
  package mutating func unregister(_ file: UInt64, idleSince lastUse: Int64? = nil) {
    let blockBytes = files[file]?.blocks.reduce(UInt64(0)) {
      $0 + (order.bytes(of: CacheBlock(file: file, index: $1)) ?? 0)
    }
    forgetBlocks(of: file)
    guard let old = files.removeValue(forKey: file) else { return }
    metadataBytes -= old.metadataBytes
    guard let lastUse else { return }
    let entry = IdleEntry(path: old.entryPath, bytes: (blockBytes ?? 0) + old.metadataBytes, lastUse: lastUse)
    let index = idle.firstIndex { ($0.lastUse, $0.path) > (entry.lastUse, entry.path) } ?? idle.endIndex
    idle.insert(entry, at: index)
    idleBytes += entry.bytes
  }

  /// Background fill holds the entry at `entryPath` (its file open or not), or no longer does.
  package mutating func setHeldByFill(_ entryPath: String, _ held: Bool) {
    if held { heldByFill.insert(entryPath) } else { heldByFill.remove(entryPath) }
  }

  /// Forgets `indexes` of `file` (counted for a request that may not go ahead).
  package mutating func forget(_ file: UInt64, _ indexes: some Sequence<UInt64>) {
    for index in indexes where files[file]?.blocks.remove(index) != nil {
      order.remove(CacheBlock(file: file, index: index))
    }
  }

  /// Forgets every block of `file` (its data file was replaced by an empty one).
  package mutating func forgetBlocks(of file: UInt64) {
    guard let blocks = files[file]?.blocks else { return }
    for index in blocks { order.remove(CacheBlock(file: file, index: index)) }
    files[file]?.blocks = []
  }

  package func isHeld(_ block: CacheBlock) -> Bool { order.contains(block) }

  /// The bytes the blocks of `blocks` not held yet add.
  package func incoming(_ file: UInt64, _ blocks: [(index: UInt64, bytes: UInt64)]) -> UInt64 {
    blocks.reduce(0) { $0 + (order.contains(CacheBlock(file: file, index: $1.index)) ? 0 : $1.bytes) }
  }

  /// Holds `blocks` of `file` as the most recently used (new ones, and ones held already).
  package mutating func hold(_ file: UInt64, _ blocks: [(index: UInt64, bytes: UInt64)]) {
    guard files[file] != nil else { return }
    for block in blocks {
      order.insert(CacheBlock(file: file, index: block.index), bytes: block.bytes)
      files[file]!.blocks.insert(block.index)
    }
  }

  /// Makes `blocks` of `file` the most recently used, where held.
  package mutating func touch(_ file: UInt64, _ indexes: some Sequence<UInt64>) {
    for index in indexes { order.touch(CacheBlock(file: file, index: index)) }
  }

  /// Bytes counted for requests whose space is not allocated yet: the file system's free space
  /// does not show them.
  package private(set) var unallocatedBytes: UInt64 = 0

  /// A request's `bytes` were counted; its space is about to be allocated.
  package mutating func expectAllocation(_ bytes: UInt64) {
    unallocatedBytes += bytes
  }

  /// The space of a request expected before is allocated, or will not be.
  package mutating func allocationDone(_ bytes: UInt64) {
    unallocatedBytes -= min(bytes, unallocatedBytes)
  }

  /// Bytes to free before `incoming` more are written, when the file system has `freeBytes`
  /// free (`nil` if unknown), less what is still to be allocated for requests counted already.
  package func excess(incoming: UInt64, freeBytes: UInt64?) -> UInt64 {
    var excess: UInt64 = 0
    if let maximum = limits.maximumBytes {
      let (total, overflow) = usedBytes.addingReportingOverflow(incoming)
      excess = overflow ? .max : total > maximum ? total - maximum : 0
    }
    if let freeBytes {
      let (more, overflowMore) = incoming.addingReportingOverflow(unallocatedBytes)
      let (wanted, overflow) = limits.minimumFreeBytes.addingReportingOverflow(more)
      let lacking = overflow || overflowMore ? .max : wanted > freeBytes ? wanted - freeBytes : 0
      excess = max(excess, lacking)
    }
    return excess
  }

  /// Chooses what to evict so that `incoming` more bytes fit: what fill does not hold first,
  /// then what it holds; within each, idle entries least recently used first, then the least
  /// recently used blocks of evictable files. What is chosen stops being held and counts as
  /// releasing until `released` or `kept` says what became of it.
  package mutating func plan(incoming: UInt64, freeBytes: UInt64?) -> Plan {
    var needed = excess(incoming: incoming, freeBytes: freeBytes)
    var plan = Plan()
    for fillHolds in [false, true] where needed > 0 {
      var index = idle.startIndex
      while needed > 0, index < idle.endIndex {
        guard heldByFill.contains(idle[index].path) == fillHolds else {
          index += 1
          continue
        }
        let entry = idle.remove(at: index)
        idleBytes -= entry.bytes
        plan.entries.append(entry)
        releasing += entry.bytes
        needed = needed > entry.bytes ? needed - entry.bytes : 0
      }
      let taken = order.takeOldest(freeing: needed) { block in
        guard let file = files[block.file], file.evictable else { return false }
        return heldByFill.contains(file.entryPath) == fillHolds
      }
      for (block, bytes) in taken {
        plan.blocks.append(ChosenBlock(block: block, bytes: bytes))
        files[block.file]?.blocks.remove(block.index)
        releasing += bytes
        needed = needed > bytes ? needed - bytes : 0
      }
    }
    return plan
  }

  /// An idle entry chosen by `plan` is gone.
  package mutating func released(_ entry: IdleEntry) {
    releasing -= entry.bytes
  }

  /// An idle entry chosen by `plan` could not be removed (another process holds it): it counts
  /// as other bytes from now on and is not chosen again.
  package mutating func kept(_ entry: IdleEntry) {
    releasing -= entry.bytes
    otherBytes += entry.bytes
  }

  /// A block chosen by `plan` was evicted (`evicted`), or was in use and is held again as the
  /// most recently used.
  package mutating func settle(_ chosen: ChosenBlock, evicted: Bool) {
    releasing -= chosen.bytes
    guard !evicted else { return }
    hold(chosen.block.file, [(chosen.block.index, chosen.bytes)])
  }
}
