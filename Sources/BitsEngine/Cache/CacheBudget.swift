import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// `--cache-limit` and `--cache-min-free`: how many bytes a cache directory may hold on disk,
/// and how much free space to keep on its file system.
public struct CacheLimits: Sendable, Equatable {
  /// Bytes the directory may hold, metadata included; `nil` for no limit.
  public var maximumBytes: UInt64?
  /// Free bytes kept on the cache's file system.
  public var minimumFreeBytes: UInt64
  /// Bytes evicted together, aligned to this size (a power of two).
  public var evictionUnit: UInt64

  public init(maximumBytes: UInt64?, minimumFreeBytes: UInt64, evictionUnit: UInt64 = 64 << 10) {
    self.maximumBytes = maximumBytes
    self.minimumFreeBytes = minimumFreeBytes
    self.evictionUnit = max(4096, evictionUnit)
  }
}

/// A file whose blocks a `CacheBudget` may evict.
package protocol EvictableFile: AnyObject, Sendable {
  /// Evicts the blocks of `indexes` (of `CacheLimits.evictionUnit` bytes) that no reader waits
  /// for or is being answered from and no request is filling; returns the ones evicted.
  func evictBlocks(_ indexes: [UInt64]) -> Set<UInt64>
}

/// Keeps one cache directory within its limits for every file of a job: space is accounted
/// before it is allocated, and what does not fit is evicted first (idle entries, then the least
/// recently used blocks), never by a periodic sweep. The decisions are `CacheAccount`'s; this
/// class does the I/O around them.
///
/// Locking: `state` is a leaf, held for decisions only; files are called (and entries removed)
/// with no lock held. Files call in without holding their own lock.
package final class CacheBudget: Sendable {
  package let limits: CacheLimits
  private let directory: URL

  private struct Registered {
    weak var file: (any EvictableFile)?
  }

  private struct State {
    var account: CacheAccount
    var files: [UInt64: Registered] = [:]
    var nextID: UInt64 = 1
    var scanned = false
    var backgroundEviction = false
  }
  private let state: Mutex<State>
  /// Runs evictions ahead of need, one at a time.
  private let background = DispatchQueue(label: "bitsfs.cache-eviction")

  package init(directory: URL, limits: CacheLimits) {
    self.directory = directory
    self.limits = limits
    state = Mutex(
      State(
        account: CacheAccount(
          limits: .init(maximumBytes: limits.maximumBytes, minimumFreeBytes: limits.minimumFreeBytes))))
  }

  /// A number for a file to register with.
  package func makeID() -> UInt64 {
    state.withLock { state in
      defer { state.nextID += 1 }
      return state.nextID
    }
  }

  /// Starts counting `file` as `id`, held in the entry at `entryPath`; its blocks are chosen
  /// for eviction only if `evictable`.
  package func register(
    _ id: UInt64, _ file: any EvictableFile, entryPath: String, evictable: Bool, metadataBytes: UInt64
  ) {
    state.withLock { state in
      state.files[id] = Registered(file: file)
      state.account.register(id, entryPath: entryPath, evictable: evictable, metadataBytes: metadataBytes)
    }
  }

  /// Stops counting the file `id`; an entry `kept` on disk counts from now on as idle (evicted
  /// whole), last used now.
  package func unregister(_ id: UInt64, keepingEntry kept: Bool = false) {
    let now = kept ? Int64(time(nil)) : nil
    state.withLock { state in
      state.files[id] = nil
      state.account.unregister(id, idleSince: now)
    }
  }

  /// Background fill holds the entry at `entryPath`, or no longer does: what it holds is
  /// evicted only after everything else (`CacheAccount`).
  package func setHeldByFill(_ entryPath: String, _ held: Bool) {
    state.withLock { $0.account.setHeldByFill(entryPath, held) }
  }

  /// The file's data file was replaced: none of its blocks holds bytes any more.
  package func forgetBlocks(of id: UInt64) {
    state.withLock { $0.account.forgetBlocks(of: id) }
  }

  /// The file opened its entry holding `filled` of `size` bytes (blocks it may hold besides
  /// were freed): counts them, then evicts what no longer fits, on another thread (the caller
  /// may be the queue an eviction of its own blocks needs).
  package func hold(_ id: UInt64, filled: ByteRangeSet, size: UInt64, metadataBytes: UInt64) {
    var blocks: [(index: UInt64, bytes: UInt64)] = []
    for range in filled.intervals { appendBlocks(covering: range, size: size, to: &blocks) }
    state.withLock { state in
      state.account.updateMetadata(of: id, bytes: metadataBytes)
      state.account.hold(id, blocks)
    }
    evictInBackground()
  }

  /// Readers used `range`: its blocks become the most recently used.
  package func touch(_ id: UInt64, _ range: Range<UInt64>) {
    guard !range.isEmpty else { return }
    let unit = limits.evictionUnit
    state.withLock { $0.account.touch(id, range.lowerBound / unit...(range.upperBound - 1) / unit) }
  }

  /// Space for `range` of a file of `size` bytes is about to be allocated: it is counted at
  /// once, and whatever it adds beyond the limits is evicted first. Fails, counting nothing,
  /// when `mustFit` and the limits cannot be kept (what is left is in use, or not evictable);
  /// otherwise the limits are exceeded by what is in use. Returns the bytes to tell `allocated`
  /// once the space is allocated (or its allocation failed): until then the file system's free
  /// space does not show them.
  ///
  /// Each eviction makes a journal record durable, so evictions are batched: one that must run
  /// frees `slack` more than needed, and a write that brings the cache within `slack` of its
  /// limits starts one in the background that frees twice that, so that writes rarely wait.
  package func admit(_ id: UInt64, _ range: Range<UInt64>, size: UInt64, metadataBytes: UInt64, mustFit: Bool)
    throws(BitsError) -> UInt64
  {
    var blocks: [(index: UInt64, bytes: UInt64)] = []
    appendBlocks(covering: range, size: size, to: &blocks)
    let free = freeBytes()
    let (new, incoming, over, near) = state.withLock { state in
      state.account.updateMetadata(of: id, bytes: metadataBytes)
      let new = blocks.filter { !state.account.isHeld(CacheBlock(file: id, index: $0.index)) }.map(\.index)
      let incoming = state.account.incoming(id, blocks)
      state.account.hold(id, blocks)
      state.account.expectAllocation(incoming)
      return (
        new, incoming, state.account.excess(incoming: 0, freeBytes: free) > 0,
        state.account.excess(incoming: slack, freeBytes: free) > 0
      )
    }
    if over {
      evict(headroom: slack)
      let shortfall = state.withLock {
        $0.account.excess(incoming: 0, freeBytes: freeBytes())
      }
      if mustFit, shortfall > 0 {
        state.withLock { state in
          state.account.forget(id, new)
          state.account.allocationDone(incoming)
        }
        throw BitsError.localFile(
          errno: ENOSPC,
          "the cache would exceed its limits (\(limitsDescription)) and holds nothing that may be evicted",
          path: directory.path)
      }
    } else if near {
      evictInBackground()
    }
    return incoming
  }

  /// The space of an admitted request (`bytes` as `admit` returned) is allocated, or failed to be.
  package func allocated(_ bytes: UInt64) {
    guard bytes > 0 else { return }
    state.withLock { $0.account.allocationDone(bytes) }
  }

  /// Bytes evicted beyond what is needed, so that evictions (each a durable journal write) come
  /// in batches: 1/16 of the limit (or of the free space kept), at least one unit.
  private var slack: UInt64 {
    max(limits.evictionUnit, (limits.maximumBytes ?? limits.minimumFreeBytes) / 16)
  }

  /// Starts an eviction to twice `slack` below the limits on the background queue, unless one
  /// is under way.
  private func evictInBackground() {
    guard
      state.withLock({ state in
        defer { state.backgroundEviction = true }
        return !state.backgroundEviction
      })
    else { return }
    background.async { [self] in
      evict(headroom: 2 * slack)
      state.withLock { $0.backgroundEviction = false }
    }
  }

  private var limitsDescription: String {
    var parts: [String] = []
    if let maximum = limits.maximumBytes { parts.append("--cache-limit \(maximum) bytes") }
    if limits.minimumFreeBytes > 0 { parts.append("--cache-min-free \(limits.minimumFreeBytes) bytes") }
    return parts.joined(separator: ", ")
  }

  /// Evicts until `headroom` more bytes fit, in a few rounds: blocks found in use go to the back
  /// of the order, and others are tried.
  private func evict(headroom: UInt64) {
    scanIfNeeded()
    for _ in 0..<4 {
      let free = freeBytes()
      let (plan, files) = state.withLock { state in
        let plan = state.account.plan(incoming: headroom, freeBytes: free)
        return (plan, state.files)
      }
      if plan.isEmpty { break }
      for entry in plan.entries {
        let removed = removeIdleEntry(entry.path)
        state.withLock { removed ? $0.account.released(entry) : $0.account.kept(entry) }
      }
      var keptAny = false
      for (id, chosen) in Dictionary(grouping: plan.blocks, by: \.block.file) {
        let evicted = files[id]?.file?.evictBlocks(chosen.map(\.block.index)) ?? []
        state.withLock { state in
          for block in chosen { state.account.settle(block, evicted: evicted.contains(block.block.index)) }
        }
        keptAny = keptAny || evicted.count < chosen.count
      }
      if !keptAny { break }
    }
  }

  /// Removes an idle entry, unless another process holds it.
  private func removeIdleEntry(_ path: String) -> Bool {
    guard CacheDirectory.isEntry(path), let entry = try? CacheEntry(directory: URL(fileURLWithPath: path)) else {
      return false
    }
    entry.remove()
    entry.release()
    return true
  }

  /// What else the directory holds, counted once: idle entries of earlier runs may be evicted,
  /// the rest only counts.
  private func scanIfNeeded() {
    guard !state.withLock({ $0.scanned }) else { return }
    let scan = CacheDirectory.scan(directory)
    state.withLock { state in
      guard !state.scanned else { return }
      state.scanned = true
      guard let scan else { return }
      let idle = scan.entries.map { IdleEntry(path: $0.path, bytes: $0.diskBytes, lastUse: $0.lastUse) }
      state.account.setScanned(idle: idle, otherBytes: scan.otherBytes)
    }
  }

  /// Free bytes on the cache's file system, when a minimum is to be kept.
  private func freeBytes() -> UInt64? {
    guard limits.minimumFreeBytes > 0 else { return nil }
    var info = statvfs()
    guard statvfs(directory.path, &info) == 0 else { return nil }
    return UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
  }

  /// The blocks `range` touches, each with the bytes it can take on disk (whole 4 KiB blocks
  /// of the file system, and no more than the file has).
  private func appendBlocks(
    covering range: Range<UInt64>, size: UInt64, to blocks: inout [(index: UInt64, bytes: UInt64)]
  ) {
    guard !range.isEmpty else { return }
    let unit = limits.evictionUnit
    for index in range.lowerBound / unit...(range.upperBound - 1) / unit {
      let start = index * unit
      let length = min(unit, size > start ? size - start : 0)
      blocks.append((index, (length + 4095) / 4096 * 4096))
    }
  }
}
