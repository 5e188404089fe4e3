import ArgumentParser
import BitsEngine
import CLinux
import FoundationEssentials
import Glibc
import Logging

/// Where a mount's log goes, and from which level on.
struct LogOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Write the log to this file (appended) instead of syslog (as a daemon) or standard error (-f).",
      valueName: "file"))
  var logFile: String?

  @Option(
    help:
      "The least severe messages logged: error, warning, info (mount, unmount, revalidations), debug (every request), trace (every read)."
  )
  var logLevel: LogLevel = .info

  /// The levels offered, from the most severe.
  enum LogLevel: String, CaseIterable, ExpressibleByArgument {
    case error, warning, info, debug, trace

    var level: Logger.Level {
      switch self {
      case .error: .error
      case .warning: .warning
      case .info: .info
      case .debug: .debug
      case .trace: .trace
      }
    }
  }

  // Never written nor freed: safe to share.
  nonisolated(unsafe) private static let systemLogName = UnsafePointer(strdup("bitsfs")!)

  /// The logger of a mount: to the log file if given, else to standard error in the foreground
  /// and to syslog (the journal, where one runs) as a daemon.
  func logger(foreground: Bool, debug: Bool) throws(BitsError) -> Logger {
    let destination: LogOutput.Destination
    if let logFile {
      let path = URL(fileURLWithPath: logFile).standardizedFileURL.path
      let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
      guard descriptor >= 0 else {
        throw BitsError(
          .invalidArgument, "cannot open the --log-file: \(String(cString: strerror(errno)))", url: path)
      }
      destination = .file(descriptor)
    } else if foreground {
      destination = .file(STDERR_FILENO)
    } else {
      // syslog keeps the pointer: the name must outlive every message.
      openlog(Self.systemLogName, LOG_PID, LOG_DAEMON)
      destination = .systemLog
    }
    var logger = Logger(label: "bitsfs") { _ in LogOutput(destination: destination) }
    logger.logLevel = debug ? min(logLevel.level, .debug) : logLevel.level
    return logger
  }
}

/// The log backend: one line per message, to syslog or appended to a file (standard error
/// among them), as `level: message key=value…` (files add the time and process first).
struct LogOutput: LogHandler {
  enum Destination {
    case systemLog
    case file(Int32)
  }

  let destination: Destination
  var metadata: Logger.Metadata = [:]
  var metadataProvider: Logger.MetadataProvider?
  var logLevel: Logger.Level = .info

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    let fields = metadata.merging(event.metadata ?? [:]) { $1 }
    let line = Self.format(level: event.level, message: "\(event.message)", metadata: fields)
    switch destination {
    case .systemLog:
      bitsfs_syslog(Self.priority(of: event.level), line)
    case .file(let descriptor):
      let bytes = Array("\(Self.timestamp()) bitsfs[\(getpid())] \(line)\n".utf8)
      // One write per line: lines of concurrent threads never interleave in an O_APPEND file.
      _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
  }

  /// `level: message key=value…`, keys sorted, values with spaces quoted.
  static func format(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
    let fields = metadata.sorted { $0.key < $1.key }.map { key, value in
      let text = "\(value)"
      return text.contains(" ") || text.isEmpty ? "\(key)=\"\(text)\"" : "\(key)=\(text)"
    }
    return (["\(level):", message] + fields).joined(separator: " ")
  }

  private static func priority(of level: Logger.Level) -> Int32 {
    switch level {
    case .trace, .debug: LOG_DEBUG
    case .info: LOG_INFO
    case .notice: LOG_NOTICE
    case .warning: LOG_WARNING
    case .error: LOG_ERR
    case .critical: LOG_CRIT
    }
  }

  /// UTC, to the millisecond: 2026-12-01T12:00:00.000Z.
  private static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var parts = tm()
    var seconds = now.tv_sec
    gmtime_r(&seconds, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
    let milliseconds = Int(now.tv_nsec / 1_000_000)
    let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) + ".\(fraction)Z"
  }
}
