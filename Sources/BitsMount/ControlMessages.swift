import BitsEngine

/// What `bitsfs prefetch` asks a running mount over its control socket: one JSON line.
package struct ControlRequest: Codable, Equatable, Sendable {
  package enum Command: String, Codable, Sendable {
    /// Fill the files at the paths (a directory: every file below) in the background.
    case prefetch
    /// Stop filling them (what is in flight finishes; what is filled stays).
    case cancel
  }

  package var command: Command
  /// Paths below the mount point, `/`-separated.
  package var paths: [String]
  package var priority: Priority?

  /// The background priorities a request may name.
  package enum Priority: String, Codable, Sendable, CaseIterable {
    case high, normal, low

    package var transferPriority: TransferPriority {
      switch self {
      case .high: .high
      case .normal: .normal
      case .low: .low
      }
    }
  }

  package init(command: Command, paths: [String], priority: Priority? = nil) {
    self.command = command
    self.paths = paths
    self.priority = priority
  }
}

/// The mount's answer: how many files the request reached, or why it could not be done.
package struct ControlAnswer: Codable, Equatable, Sendable {
  package var files: Int?
  package var error: String?

  package init(files: Int? = nil, error: String? = nil) {
    self.files = files
    self.error = error
  }
}
