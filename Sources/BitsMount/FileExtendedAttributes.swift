import BitsEngine
import FoundationEssentials

/// The `user.bitsfs.*` attributes a mount publishes for each file.
enum FileExtendedAttributes {
  /// The attributes `listxattr` shows, which `cp -a` and `rsync -X` copy: facts about the remote
  /// file only. Statistics and filled ranges, stale in a copy, are read by name.
  static func names(of file: DownloadFile) -> [String] {
    ["user.bitsfs.url"] + (file.version?.etag == nil ? [] : ["user.bitsfs.etag"])
  }

  /// `fill`: its background fill, if asked for.
  static func value(_ name: String, of file: DownloadFile, fill: FillStatus?) -> String? {
    switch name {
    case "user.bitsfs.url": return shownURL(file.remoteURL)
    case "user.bitsfs.etag": return file.version?.etag
    case "user.bitsfs.filled":
      // GetFilledFileRanges, as offset+length pairs.
      return text(of: file.filledRanges)
    case "user.bitsfs.filled-map":
      return FilledMap.encode(file.filledRanges, size: file.statistics.size ?? 0)
    case "user.bitsfs.stats":
      return stats(of: FileStatus(file), unconfirmed: file.statistics.isVersionUnconfirmed, fill: fill)
    case "user.bitsfs.status":
      var status = FileStatus(file)
      status.fill = fill
      return status.json()
    default: return nil
    }
  }

  /// The attributes of a listed file that is not open (`FileStatus(closed:…)`): its URL, and
  /// what it held when it was closed.
  static func value(_ name: String, ofClosed status: FileStatus, filled: [FileRange], fill: FillStatus?) -> String? {
    switch name {
    case "user.bitsfs.url": return status.url
    case "user.bitsfs.filled": return text(of: filled)
    case "user.bitsfs.filled-map": return status.filledMap
    case "user.bitsfs.stats": return stats(of: status, unconfirmed: false, fill: fill)
    case "user.bitsfs.status":
      var status = status
      status.fill = fill
      return status.json()
    default: return nil
    }
  }

  /// GetFilledFileRanges, as offset+length pairs.
  private static func text(of ranges: [FileRange]) -> String {
    ranges.map { "\($0.offset)+\($0.length)" }.joined(separator: " ")
  }

  /// `user.bitsfs.stats`: words of `key=value` that `bitsfs status` shows.
  private static func stats(of status: FileStatus, unconfirmed: Bool, fill: FillStatus?) -> String {
    "size=\(status.size ?? 0) filled=\(status.filledBytes) ranges=\(status.filledRanges)"
      + " fetched=\(status.fetchedBytes) requests=\(status.requests)"
      + " read-ahead=\(status.readAhead.fetchedBytes) read-ahead-used=\(status.readAhead.usedBytes)"
      + (status.lastError.map { " last-error=\($0.code)" } ?? "") + (unconfirmed ? " unconfirmed=1" : "")
      + (fill.map { " fill=\($0.state) fill-priority=\($0.priority)" } ?? "")
      + (fill?.error.map { " fill-error=\($0.code)" } ?? "")
  }
}
