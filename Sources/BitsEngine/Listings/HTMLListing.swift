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
    for link in page.links {
      guard let href = link.href else {
        collector.refuse("(a link that is not UTF-8)")
        continue
      }
      switch links.target(of: href) {
      case .elsewhere: continue
      case .refused(let name): collector.refuse(name)
      case .entry(let name, .directory):
        try collector.add(DirectoryListing.Entry(name: name, kind: .directory, modified: details(link).modified))
      case .entry(let name, .file):
        let (size, modified) = details(link)
        try collector.add(DirectoryListing.Entry(name: name, kind: .file, size: size, modified: modified))
      }
    }
  }

  /// The date and size after a link: the date is the first two fields that read as one, within
  /// the first three (lighttpd writes a directory's `/` first), the size the first field after
  /// it that reads as one (all fields are tried when no date reads, as for one that does not exist).
  private static func details(_ link: HTMLPage.Link) -> (size: DirectoryListing.Size, modified: Date?) {
    let fields = link.fieldsAfter.prefix(6)
    var rest = fields[...]
    var modified: Date?
    for start in fields.indices.prefix(2) where start + 1 < fields.endIndex {
      if let date = ListingDate.parse(day: fields[start], time: fields[start + 1]) {
        modified = date
        rest = fields[(start + 2)...]
        break
      }
    }
    return (rest.lazy.compactMap(ListingSize.parse).first ?? .unknown, modified)
  }
}
