/// nginx `autoindex_format xml`: `<list>` of `<directory mtime="…">name</directory>` and
/// `<file mtime="…" size="…">name</file>` (and `<other>`, not listed), dates ISO 8601 in UTC.
enum NginxXMLListing {
  static func parse(_ document: XMLDocument, root: XMLDocument.Element, into collector: inout EntryCollector)
    throws(ListingError)
  {
    for element in document.children(of: root) {
      let modified = element.attributes["mtime"].flatMap { ListingDate.parseISO8601(Substring($0)) }
      switch element.name {
      case "directory": try collector.add(named: element.text, kind: .directory, size: .unknown, modified: modified)
      case "file":
        guard let size = element.attributes["size"].flatMap({ try? decimalField($0) }) else {
          throw .malformed(.nginxXML, "a file without a size")
        }
        try collector.add(named: element.text, kind: .file, size: .exact(size), modified: modified)
      default: continue
      }
    }
  }
}
