import BitsEngine

/// The files a mount fills in the background and what became of each: a pure value, held under
/// the file system's `fills` lock.
struct FillTable: Sendable {
  typealias File = ObjectIdentifier

  struct Fill: Sendable {
    /// The path in the mount it was asked for at.
    var path: String
    var priority: TransferPriority
    /// Its completion was told (once).
    var isComplete = false
    /// Why it stopped: a request failed for good, or the cache limit could not hold it.
    var failure: BitsError?
  }

  private(set) var fills: [File: Fill] = [:]
  private(set) var room: FillRoom

  init(room: FillRoom) {
    self.room = room
  }

  subscript(file: File) -> Fill? { fills[file] }

  /// Fill of `file` was asked for at `path` (again, maybe at another priority).
  mutating func asked(_ file: File, path: String, priority: TransferPriority) {
    var fill = fills[file] ?? Fill(path: path, priority: priority)
    fill.priority = min(fill.priority, priority)
    fill.failure = nil
    fills[file] = fill
  }

  /// Whether the cache can hold `file` of `size` bytes beside the other fills; when not, its
  /// fill stops with `failure`.
  mutating func admit(_ file: File, size: UInt64) -> Bool {
    guard fills[file] != nil else { return false }
    guard room.admit(file, size: size) else {
      let room = room.room ?? 0
      fills[file]!.failure = BitsError(
        .diskFull,
        "background fill stopped: the cache limit cannot hold this file (\(size) bytes) beside the "
          + "\(self.room.heldBytes) bytes fill holds, of the \(room) bytes it may")
      return false
    }
    return true
  }

  /// `file` is wholly filled: its path, the first time this is said.
  mutating func completed(_ file: File) -> String? {
    guard let fill = fills[file], !fill.isComplete else { return nil }
    fills[file]!.isComplete = true
    return fill.path
  }

  /// A request of `file` failed for good: its path, if it is filled in the background.
  mutating func failed(_ file: File, error: BitsError) -> String? {
    guard fills[file] != nil else { return nil }
    fills[file]!.failure = error
    return fills[file]!.path
  }

  /// Fill of `file` was cancelled: it is no longer filled, and its bytes no longer count.
  mutating func cancel(_ file: File) {
    fills[file] = nil
    room.release(file)
  }
}
