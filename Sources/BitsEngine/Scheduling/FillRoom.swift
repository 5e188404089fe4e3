/// Which files background fill may take on under a cache limit: a pure value with no locks and
/// no I/O, owned by the mount.
///
/// Rule: fill holds every file it took on whole, so it takes on a file only while the sizes of
/// the files it holds, this one's included, fit in its share of the cache (`room`); one that
/// does not fit is refused (and stops with `ERROR_DISK_FULL`) rather than filled by evicting
/// what fill fetched before. A file taken on stays taken on (its bytes count) until it is let
/// go (its fill is cancelled). A file larger than the share is refused even alone.
package struct FillRoom: Sendable, Equatable {
  /// Who is filled: a file of the mount, by its URL.
  package typealias File = String

  /// The bytes fill may hold; `nil` for no limit.
  package let room: UInt64?
  /// The size of each file taken on.
  package private(set) var held: [File: UInt64] = [:]

  package init(room: UInt64?) {
    self.room = room
  }

  /// The share of a cache of `room` bytes fill may hold: three quarters, so that readers keep a
  /// quarter (their requests and read-ahead take at most 1/16 and 1/8 of it).
  package init(cacheRoom room: UInt64?) {
    self.init(room: room.map { $0 / 4 * 3 })
  }

  /// The bytes of the files taken on (at most `UInt64.max`).
  package var heldBytes: UInt64 {
    held.values.reduce(0) { sum, size in
      let (total, overflow) = sum.addingReportingOverflow(size)
      return overflow ? .max : total
    }
  }

  /// Takes on `file` of `size` bytes if it fits with those held; a file held already fits.
  package mutating func admit(_ file: File, size: UInt64) -> Bool {
    guard held[file] == nil else { return true }
    if let room {
      let (total, overflow) = heldBytes.addingReportingOverflow(size)
      guard !overflow, total <= room else { return false }
    }
    held[file] = size
    return true
  }

  /// Lets `file` go: its bytes no longer count.
  package mutating func release(_ file: File) {
    held[file] = nil
  }
}
