/// S3 `ListObjectsV2` with `delimiter=/`: `<ListBucketResult>` with the objects directly under
/// the `Prefix` as `<Contents>` (`Key`, `Size`, `LastModified`) and the deeper ones rolled up in
/// `<CommonPrefixes>`, the directories. Entries are named by what follows the prefix; the object
/// named by the prefix itself (a "directory marker") is not an entry. A truncated answer
/// (`IsTruncated`) gives the token for the next page. With `encoding-type=url` keys and prefixes
/// come percent-encoded, a space as `+` (AWS; others write `%20`).
enum S3Listing {
  /// The continuation token when the listing has more pages.
  static func parse(_ document: XMLDocument, root: XMLDocument.Element, into collector: inout EntryCollector)
    throws(ListingError) -> String?
  {
    let urlEncoded = document.text(of: root, child: "EncodingType")?.lowercased() == "url"
    func decoded(_ text: String?) throws(ListingError) -> [UInt8] {
      guard let text else { throw .malformed(.s3ListObjectsV2, "a key or prefix missing") }
      guard urlEncoded else { return Array(text.utf8) }
      guard let bytes = EntryName.percentDecoded(text.replacing("+", with: "%20").utf8) else {
        throw .malformed(.s3ListObjectsV2, "a key that is not percent-encoded: \(text)")
      }
      return bytes
    }
    let prefix = try decoded(document.text(of: root, child: "Prefix") ?? "")
    guard prefix.isEmpty || prefix.last == UInt8(ascii: "/") else {
      throw .malformed(.s3ListObjectsV2, "the prefix \(String(decoding: prefix, as: UTF8.self)) does not end in /")
    }
    guard document.text(of: root, child: "Delimiter") == "/" else {
      throw .malformed(.s3ListObjectsV2, "a listing without delimiter=/, of all keys below and not one directory")
    }
    /// What follows the prefix; `nil` for a key outside it, or one that is not UTF-8 (refused).
    func below(_ key: [UInt8]) -> String? {
      guard key.starts(with: prefix) else { return nil }
      let rest = key.dropFirst(prefix.count)
      guard let name = String(validating: rest, as: UTF8.self) else {
        collector.refuse(String(decoding: rest, as: UTF8.self))
        return nil
      }
      return name
    }
    for element in document.children(of: root) {
      switch element.name {
      case "Contents":
        guard let name = below(try decoded(document.text(of: element, child: "Key"))), !name.isEmpty else { continue }
        guard let size = document.text(of: element, child: "Size").flatMap({ try? decimalField($0) }) else {
          throw .malformed(.s3ListObjectsV2, "an object without a size")
        }
        let modified = document.text(of: element, child: "LastModified").flatMap {
          ListingDate.parseISO8601(Substring($0))
        }
        try collector.add(named: name, kind: .file, size: .exact(size), modified: modified)
      case "CommonPrefixes":
        guard var name = below(try decoded(document.text(of: element, child: "Prefix"))) else { continue }
        guard name.hasSuffix("/") else { throw .malformed(.s3ListObjectsV2, "a common prefix that does not end in /") }
        name.removeLast()
        try collector.add(named: name, kind: .directory, size: .unknown, modified: nil)
      default: continue
      }
    }
    guard document.text(of: root, child: "IsTruncated") == "true" else { return nil }
    guard let token = document.text(of: root, child: "NextContinuationToken"), !token.isEmpty else {
      throw .malformed(.s3ListObjectsV2, "a truncated listing without a NextContinuationToken")
    }
    return token
  }
}
