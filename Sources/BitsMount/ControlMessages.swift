import BitsEngine

/// What `bitsfs prefetch` asks a running mount over its control socket: one JSON line.
package struct ControlRequest: Codable, Equatable, Sendable {
  package enum Command: String, Codable, Sendable {
    /// Fill the files at the paths (a directory: every file below) in the background.
    case prefetch
    /// Stop filling them (what is in flight finishes; what is filled stays).
    case cancel
    /// Send every `FileRangesTransferred` of the mount on this connection, one JSON line each,
    /// until it closes.
    case events
    /// Answer the status of every file the mount has open and of background fill's
    /// (`bitsfs status --watch`).
    case status
  }

  package var command: Command
  /// Paths below the mount point, `/`-separated.
  package var paths: [String]
  package var priority: Priority?
  /// For `status`: the slots of each file's picture (the watch's width), for an answer that
  /// stays small however many files it lists; `FilledMap.slotCount` without.
  package var mapSlots: Int?

  /// The background priorities a request may name.
  package enum Priority: String, Codable, Sendable, CaseIterable {
    case high, normal, low

    /// The name of a background priority; `nil` for `foreground`.
    package init?(_ priority: TransferPriority) {
      switch priority {
      case .foreground: return nil
      case .high: self = .high
      case .normal: self = .normal
      case .low: self = .low
      }
    }

    package var transferPriority: TransferPriority {
      switch self {
      case .high: .high
      case .normal: .normal
      case .low: .low
      }
    }
  }

  package init(command: Command, paths: [String], priority: Priority? = nil, mapSlots: Int? = nil) {
    self.command = command
    self.paths = paths
    self.priority = priority
    self.mapSlots = mapSlots
  }
}

/// The mount's answer: how many files the request reached (and for `status`, their status), or
/// why it could not be done.
package struct ControlAnswer: Codable, Equatable, Sendable {
  package var files: Int?
  package var error: String?
  package var status: MountStatus?

  package init(files: Int? = nil, error: String? = nil, status: MountStatus? = nil) {
    self.files = files
    self.error = error
    self.status = status
  }
}

/// One `FileRangesTransferred` of a mount, as `bitsfs events` prints it.
package struct RangesEvent: Codable, Equatable, Sendable {
  /// The file's path in the mount.
  package var file: String
  /// Without user name, password or query string.
  package var url: String
  /// `[offset, length]` pairs.
  package var ranges: [[UInt64]]
  package var bytes: UInt64

  package init(file: String, url: String, ranges: [FileRange]) {
    self.file = file
    self.url = url
    self.ranges = ranges.map { [$0.offset, $0.length] }
    bytes = ranges.reduce(0) { $0 + $1.length }
  }
}

/// The background fill of a file stopped, as `bitsfs events` prints it.
package struct FillErrorEvent: Codable, Equatable, Sendable {
  /// The file's path in the mount.
  package var file: String
  /// Without user name, password or query string.
  package var url: String
  package var error: ErrorStatus

  package init(file: String, url: String, error: BitsError) {
    self.file = file
    self.url = url
    self.error = ErrorStatus(error)
  }
}
