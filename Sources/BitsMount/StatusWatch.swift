/// What `bitsfs status --watch` shows of one status of a mount, given the one before: a pure
/// function of the two. Per file: its state as BITS names a job's (a transient error with its
/// code), the priority of its background fill (`on demand` without one), bytes filled of its
/// size, the rate since the last status, the time left to fill it at that rate, and on a
/// terminal the picture of its filled ranges.
package enum StatusWatch {
  /// One file as shown.
  package struct Row: Equatable, Sendable {
    package var name: String
    package var state: String
    /// The BITS code of the error the state names, if any.
    package var code: String?
    package var priority: String
    package var filledBytes: UInt64
    package var size: UInt64?
    /// Bytes a second fetched since the last status.
    package var rate: UInt64
    /// Seconds left to fill the file at `rate`, for a background fill under way.
    package var secondsLeft: UInt64?
    package var filledMap: String
  }

  /// The rows of `status`, with rates over the `seconds` since `previous`.
  package static func rows(of status: MountStatus, previous: MountStatus?, seconds: Double) -> [Row] {
    let before = Dictionary(
      (previous?.files ?? []).map { ($0.name ?? $0.url, $0.fetchedBytes) }, uniquingKeysWith: { first, _ in first })
    return status.files.map { file in
      let name = file.name ?? file.url
      let fetched = before[name].map { file.fetchedBytes >= $0 ? file.fetchedBytes - $0 : 0 } ?? 0
      let rate = seconds > 0 ? UInt64((Double(fetched) / seconds).rounded()) : 0
      let complete = file.size.map { file.filledBytes >= $0 } ?? false
      let state: String
      var code: String?
      if let fill = file.fill {
        // Fill under a rate cap is between requests most of the time: bytes that came since
        // the last status say it is transferring.
        state = fill.state == "queued" && fetched > 0 ? "transferring" : fill.state
        code = fill.error?.code
      } else if complete {
        state = "transferred"
      } else {
        switch file.activity {
        case "retrying":
          state = "transient-error"
          code = file.lastError?.code
        case "transferring", "connecting", "suspended": state = file.activity
        default: state = "idle"
        }
      }
      let left = file.size.map { $0 > file.filledBytes ? $0 - file.filledBytes : 0 } ?? 0
      let filling = file.fill != nil && ["queued", "transferring", "transient-error"].contains(state)
      return Row(
        name: name, state: state, code: code, priority: file.fill?.priority ?? "on demand",
        filledBytes: file.filledBytes, size: file.size, rate: rate,
        secondsLeft: filling && rate > 0 ? (left + rate - 1) / rate : nil, filledMap: file.filledMap)
    }
  }

  /// The screen for a terminal: a header with the mount's totals and background fill's time
  /// left, then two lines a file (its figures, then its picture `width` wide).
  package static func screen(of status: MountStatus, rows: [Row], width: Int) -> [String] {
    let filled = rows.reduce(UInt64(0)) { $0 + $1.filledBytes }
    let total = rows.reduce(UInt64(0)) { $0 + ($1.size ?? 0) }
    let fills = rows.filter { $0.priority != "on demand" && $0.state != "transferred" && $0.state != "error" }
    let fillRate = fills.reduce(UInt64(0)) { $0 + $1.rate }
    let fillLeft = fills.reduce(UInt64(0)) {
      $0 + (($1.size ?? 0) > $1.filledBytes ? ($1.size ?? 0) - $1.filledBytes : 0)
    }
    var header =
      "\(status.mountPoint)  job \(status.job.state)  \(rows.count) files  "
      + "\(TextFormat.bytes(filled)) of \(TextFormat.bytes(total)) filled"
    if let counts = status.fill, counts.unlisted > 0 { header += "  (\(summary(of: counts)))" }
    if !fills.isEmpty {
      header +=
        "  background fill: \(TextFormat.bytes(fillLeft)) left"
        + (fillRate > 0 ? ", ETA \(duration((fillLeft + fillRate - 1) / fillRate))" : "")
    }
    var lines = [header]
    for row in rows {
      let percent = row.size.map { $0 == 0 ? 100 : Double(row.filledBytes) * 100 / Double($0) } ?? 0
      lines.append(
        "\(row.name)  \(row.state)\(row.code.map { " \($0)" } ?? "")  \(row.priority)  "
          + "\(TextFormat.bytes(row.filledBytes)) of \(row.size.map(TextFormat.bytes) ?? "?") "
          + "(\(TextFormat.oneDecimal(percent))%)  \(TextFormat.bytes(row.rate))/s"
          + (row.secondsLeft.map { "  ETA \(duration($0))" } ?? ""))
      lines.append("  [\(FilledMap.picture(of: row.filledMap, width: width))]")
    }
    return lines
  }

  /// What a status leaves out of a large background fill, and its files by state.
  package static func summary(of counts: FillCounts) -> String {
    "\(counts.unlisted) more files of background fill not listed; queued \(counts.queued), transferring "
      + "\(counts.transferring), transferred \(counts.transferred), error \(counts.error)"
  }

  /// One line a file for a reader that is not a terminal: words of `key=value`, numbers in
  /// bytes and seconds; then, if the status left files of background fill out, a line that
  /// counts them (`unlisted=N queued=… transferring=… transferred=… error=…`).
  package static func plainLines(of rows: [Row], fill counts: FillCounts? = nil) -> [String] {
    let more = counts.flatMap { counts in
      counts.unlisted == 0
        ? nil
        : "unlisted=\(counts.unlisted) queued=\(counts.queued) transferring=\(counts.transferring)"
          + " transferred=\(counts.transferred) error=\(counts.error)"
    }
    return rows.map { row in
      "\(row.name) state=\(row.state)\(row.code.map { " code=\($0)" } ?? "") priority=\(row.priority == "on demand" ? "none" : row.priority)"
        + " filled=\(row.filledBytes) size=\(row.size.map(String.init) ?? "?") rate=\(row.rate)"
        + (row.secondsLeft.map { " eta=\($0)" } ?? "")
    } + (more.map { [$0] } ?? [])
  }

  /// `1:05:09`, `4:07`, `12 s`.
  package static func duration(_ seconds: UInt64) -> String {
    if seconds < 60 { return "\(seconds) s" }
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
    let tail = "\(minutes < 10 && hours > 0 ? "0" : "")\(minutes):\(rest < 10 ? "0" : "")\(rest)"
    return hours > 0 ? "\(hours):\(tail)" : tail
  }
}
