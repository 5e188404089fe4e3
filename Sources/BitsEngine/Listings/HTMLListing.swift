import FoundationEssentials

/// What the HTML listings share: each link that names an entry of the directory, and after it,
/// where the server writes them, a date (two fields) and a size (`1234`, `1.2K` or `-`), as
/// nginx, Apache's fancy index and lighttpd do. The name comes from the link, not its text,
/// which servers shorten (nginx cuts names past 50 characters to `..>`).
enum HTMLListing {
  /// The server that wrote `page`, if it is a listing. lighttpd's and nginx's pages would also
  /// pass for Apache's, which is known by its title alone, so they are tried first.
  static func format(of page: HTMLPage) -> DirectoryListing.Format? {
    if LighttpdListing.wrote(page) { return .lighttpdHTML }
    if NginxHTMLListing.wrote(page) { return .nginxHTML }
    if ApacheListing.wrote(page) { return .apacheHTML }
    if PythonListing.wrote(page) { return .pythonHTML }
    return nil
  }

  static func parse(_ page: HTMLPage, links: ListingLink, into collector: inout EntryCollector) throws(ListingError) {
    try page.body.withUnsafeBufferPointer { body throws(ListingError) in
      try page.text.withUnsafeBufferPointer { text throws(ListingError) in
        var fields: [Range<Int>] = []
        for link in page.links {
          let target = page.withHref(of: link, in: body) { href -> ListingLink.Target? in
            // ASCII, as servers escape names, is UTF-8 without making a string.
            guard href.allSatisfy({ $0 < 0x80 }) || String(validating: href, as: UTF8.self) != nil else { return nil }
            return links.target(of: href)
          }
          switch target {
          case nil: collector.refuse("(a link that is not UTF-8)")
          case .elsewhere: continue
          case .refused(let name): collector.refuse(name)
          case .entry(let name, let kind):
            HTMLPage.fields(after: link, in: text, limit: 6, into: &fields)
            let (size, modified) = details(fields, of: text)
            try collector.add(
              DirectoryListing.Entry(name: name, kind: kind, size: kind == .file ? size : .unknown, modified: modified))
          }
        }
      }
    }
  }

  /// The date and size in the `fields` after a link: the date is the first two fields that read
  /// as one, within the first three (lighttpd writes a directory's `/` first), the size the first
  /// field after it that reads as one (all fields are tried when no date reads, as for one that
  /// does not exist).
  private static func details(_ fields: [Range<Int>], of text: UnsafeBufferPointer<UInt8>) -> (
    size: DirectoryListing.Size, modified: Date?
  ) {
    var modified: Date?
    var sizeFrom = 0
    for start in 0..<max(0, min(2, fields.count - 1)) {
      if let date = ListingDate.parse(day: text[fields[start]], time: text[fields[start + 1]]) {
        modified = date
        sizeFrom = start + 2
        break
      }
    }
    for index in sizeFrom..<fields.count {
      if let size = ListingSize.parse(text[fields[index]]) { return (size, modified) }
    }
    return (.unknown, modified)
  }
}
