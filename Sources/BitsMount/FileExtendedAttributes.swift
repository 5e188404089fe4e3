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
      return file.filledRanges.map { "\($0.offset)+\($0.length)" }.joined(separator: " ")
    case "user.bitsfs.filled-map":
      return FilledMap.encode(file.filledRanges, size: file.statistics.size ?? 0)
    case "user.bitsfs.stats":
      let statistics = file.statistics
      return "size=\(statistics.size ?? 0) filled=\(statistics.filledBytes) ranges=\(statistics.filledRangeCount)"
        + " fetched=\(statistics.fetchedBytes) requests=\(statistics.requestCount)"
        + " read-ahead=\(statistics.readAheadBytes) read-ahead-used=\(statistics.readAheadUsedBytes)"
        + (statistics.lastError.map { " last-error=\($0.code.name)" } ?? "")
        + (statistics.isVersionUnconfirmed ? " unconfirmed=1" : "")
        + (fill.map { " fill=\($0.state) fill-priority=\($0.priority)" } ?? "")
        + (fill?.error.map { " fill-error=\($0.code)" } ?? "")
    case "user.bitsfs.status":
      var status = FileStatus(file)
      status.fill = fill
      return status.json()
    default: return nil
    }
  }

  /// The attributes of a listed file not opened yet: its URL, and statistics of nothing cached.
  static func value(_ name: String, ofUnopened url: String, size: UInt64?) -> String? {
    switch name {
    case "user.bitsfs.url": shownURL(url)
    case "user.bitsfs.filled": ""
    case "user.bitsfs.filled-map": FilledMap.encode([], size: size ?? 0)
    case "user.bitsfs.stats":
      "size=\(size ?? 0) filled=0 ranges=0 fetched=0 requests=0 read-ahead=0 read-ahead-used=0"
    case "user.bitsfs.status": FileStatus(unopened: url, size: size).json()
    default: nil
    }
  }
}
