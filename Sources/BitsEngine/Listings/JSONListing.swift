import FoundationEssentials

/// The JSON listings (nginx's and Caddy's) are arrays of objects, told apart by their fields:
/// nginx writes `type`, Caddy `is_dir`. Each item is read with every field optional, so one
/// reading serves both and a missing field is the format's own error, not the reader's.
struct JSONListingItem: Equatable {
  var name: String?
  var type: String?
  var size: UInt64?
  var mtime: String?
  var isDirectory: Bool?
  var modifiedTime: String?

  /// The items of a JSON array of objects; `nil` for any other JSON or none, or for a field of
  /// the wrong type (`null` is a missing field). Other fields are skipped whatever they hold.
  static func items(in body: [UInt8]) -> [JSONListingItem]? {
    var scanner = JSONScanner(body)
    return scanner.listingItems()
  }
}

enum JSONListing {
  /// `server` is the `Server` header: an empty array has no fields to tell the format by.
  static func parse(
    _ body: [UInt8], server: String?, into collector: inout EntryCollector
  ) throws(ListingError) -> DirectoryListing.Format {
    guard let items = JSONListingItem.items(in: body) else {
      throw .notAListing("a JSON document that is not a directory listing")
    }
    collector.reserveCapacity(items.count)
    let isCaddy = items.first.map { $0.isDirectory != nil } ?? (server?.lowercased().hasPrefix("caddy") == true)
    if isCaddy {
      try CaddyListing.parse(items, into: &collector)
      return .caddyJSON
    }
    try NginxJSONListing.parse(items, into: &collector)
    return .nginxJSON
  }
}
