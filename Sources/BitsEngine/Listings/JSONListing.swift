import FoundationEssentials

/// The JSON listings (nginx's and Caddy's) are arrays of objects, told apart by their fields:
/// nginx writes `type`, Caddy `is_dir`. Each item is read with every field optional, so one
/// decoding serves both and a missing field is the format's own error, not the decoder's.
struct JSONListingItem: Decodable {
  var name: String?
  var type: String?
  var size: UInt64?
  var mtime: String?
  var isDirectory: Bool?
  var modifiedTime: String?

  private enum CodingKeys: String, CodingKey {
    case name, type, size, mtime
    case isDirectory = "is_dir"
    case modifiedTime = "mod_time"
  }

  /// The items of a JSON array of objects; `nil` for any other JSON or none.
  static func items(in body: [UInt8]) -> [JSONListingItem]? {
    try? JSONDecoder().decode([JSONListingItem].self, from: Data(body))
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
    let isCaddy = items.first.map { $0.isDirectory != nil } ?? (server?.lowercased().hasPrefix("caddy") == true)
    if isCaddy {
      try CaddyListing.parse(items, into: &collector)
      return .caddyJSON
    }
    try NginxJSONListing.parse(items, into: &collector)
    return .nginxJSON
  }
}
