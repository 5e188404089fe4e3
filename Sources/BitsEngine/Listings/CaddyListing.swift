/// Caddy `file_server browse` asked with `Accept: application/json`: `{"name", "size", "url",
/// "mod_time", "mode", "is_dir", "is_symlink"}` per entry, a directory's name ending in `/` and
/// its size that of the directory file (not listed), the date RFC 3339 with nanoseconds.
/// Without that `Accept`, Caddy answers an HTML page, which bitsfs does not read.
enum CaddyListing {
  static func parse(_ items: [JSONListingItem], into collector: inout EntryCollector) throws(ListingError) {
    for item in items {
      guard var name = item.name, let isDirectory = item.isDirectory else {
        throw .malformed(.caddyJSON, "an entry without a name or is_dir")
      }
      let modified = item.modifiedTime.flatMap { ListingDate.parseISO8601(Substring($0)) }
      if isDirectory {
        if name.hasSuffix("/") { name.removeLast() }
        try collector.add(named: name, kind: .directory, size: .unknown, modified: modified)
      } else {
        guard let size = item.size else { throw .malformed(.caddyJSON, "a file without a size") }
        try collector.add(named: name, kind: .file, size: .exact(size), modified: modified)
      }
    }
  }
}
