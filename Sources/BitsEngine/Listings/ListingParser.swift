import FoundationEssentials

/// Reads the answer to a GET of a directory URL as a listing: the format told from the status,
/// the `Content-Type` and the body, then the entries under the rules of ``DirectoryListing``.
/// A pure value: no I/O; the caller fetches (asking with ``accept``) and bounds the body.
package struct ListingParser: Sendable {
  /// The `Accept` header to ask a listing with: Caddy answers JSON to it (nginx's format is
  /// its configuration's), and the others ignore it.
  package static let accept = "application/json, application/xml;q=0.9, text/html;q=0.8"

  /// The most entries of one directory, all pages together.
  package var entryLimit: Int

  package init(entryLimit: Int = 100_000) {
    self.entryLimit = entryLimit
  }

  /// The listing in `body`, the answer of `url` (or of the final URL of `head` after redirects).
  /// `previous` is the listing so far of the same directory when `body` is a further page of it
  /// (S3): entries already listed are not repeated and the limit counts them.
  package func parse(
    _ body: [UInt8], head: HTTPResponseHead, url: String, continuing previous: DirectoryListing? = nil
  ) throws(ListingError) -> DirectoryListing {
    guard head.status == 200 else { throw .status(head.status) }
    var collector = EntryCollector(limit: entryLimit, continuing: previous)
    let start = Self.contentStart(body)
    guard start < body.count else { throw .notAListing("an empty body, not a directory listing") }
    let content = Array(body[start...])
    let mediaType = head["content-type"].map(Self.mediaType) ?? ""
    switch mediaType {
    case _ where mediaType == "application/json" || mediaType.hasSuffix("+json"):
      return try json(content, head: head, into: &collector)
    case "text/xml", "application/xml":
      return try xml(content, head: head, url: url, into: &collector)
    case "text/html", "application/xhtml+xml":
      return try html(content, url: head.finalURL ?? url, into: &collector)
    case "", "text/plain", "application/octet-stream":
      // Untyped: told by the first character, as a browser sniffs.
      switch content[0] {
      case UInt8(ascii: "["), UInt8(ascii: "{"): return try json(content, head: head, into: &collector)
      case UInt8(ascii: "<"):
        if MarkupText.hasPrefix("<?xml", in: content, at: 0) {
          return try xml(content, head: head, url: url, into: &collector)
        }
        return try html(content, url: head.finalURL ?? url, into: &collector)
      default: throw .notAListing("a body that is not a directory listing (not JSON, XML or HTML)")
      }
    default:
      throw .notAListing("a body of type \(mediaType), not a directory listing")
    }
  }

  private func json(_ body: [UInt8], head: HTTPResponseHead, into collector: inout EntryCollector)
    throws(ListingError) -> DirectoryListing
  {
    let format = try JSONListing.parse(body, server: head["server"], into: &collector)
    return collector.listing(format)
  }

  private func xml(_ body: [UInt8], head: HTTPResponseHead, url: String, into collector: inout EntryCollector)
    throws(ListingError) -> DirectoryListing
  {
    guard let document = XMLDocument(body), let root = document.root else {
      throw .notAListing("an XML document that does not parse")
    }
    switch root.name {
    case "list":
      try NginxXMLListing.parse(document, root: root, into: &collector)
      return collector.listing(.nginxXML)
    case "ListBucketResult":
      let token = try S3Listing.parse(document, root: root, into: &collector)
      return collector.listing(.s3ListObjectsV2, continuationToken: token)
    case "Error":
      throw .s3Error(
        code: document.text(of: root, child: "Code") ?? "", message: document.text(of: root, child: "Message") ?? "")
    case "html":
      return try html(body, url: head.finalURL ?? url, into: &collector)
    default:
      throw .notAListing("an XML document <\(root.name.prefix(40))>, not a directory listing")
    }
  }

  private func html(_ body: [UInt8], url: String, into collector: inout EntryCollector) throws(ListingError)
    -> DirectoryListing
  {
    let page = HTMLPage(body)
    guard let format = HTMLListing.format(of: page) else {
      if page.contains("href=\"https://caddyserver.com\"") {
        throw .notAListing("a Caddy HTML listing (Caddy lists in JSON when asked with Accept: application/json)")
      }
      let title = page.title.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(80)
      throw .notAListing("an HTML page that is not a directory listing" + (title.isEmpty ? "" : " (\"\(title)\")"))
    }
    try HTMLListing.parse(page, links: ListingLink(directoryURL: url), into: &collector)
    return collector.listing(format)
  }

  /// The media type of a `Content-Type` value, in lower case, without parameters.
  private static func mediaType(_ value: String) -> String {
    value.prefix { $0 != ";" }.trimmingHTTPWhitespace().lowercased()
  }

  /// Where the content starts after a UTF-8 byte-order mark and white space.
  private static func contentStart(_ body: [UInt8]) -> Int {
    var index = body.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    while index < body.count, MarkupText.isSpace(body[index]) { index += 1 }
    return index
  }
}
