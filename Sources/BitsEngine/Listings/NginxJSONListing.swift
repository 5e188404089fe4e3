/// nginx `autoindex_format json`: `{"name", "type", "mtime", "size"}` per entry, the name as it
/// is on disk, the type `directory`, `file` or `other` (a device, a socket: not listed), the date
/// an HTTP date, the exact size for files.
enum NginxJSONListing {
  static func parse(_ items: [JSONListingItem], into collector: inout EntryCollector) throws(ListingError) {
    for item in items {
      guard let name = item.name, let type = item.type else {
        throw .malformed(.nginxJSON, "an entry without a name or type")
      }
      let modified = item.mtime.flatMap(HTTPDate.parse)
      switch type {
      case "directory": try collector.add(named: name, kind: .directory, size: .unknown, modified: modified)
      case "file":
        guard let size = item.size else { throw .malformed(.nginxJSON, "a file without a size") }
        try collector.add(named: name, kind: .file, size: .exact(size), modified: modified)
      default: continue
      }
    }
  }
}
