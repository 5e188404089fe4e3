/// nginx `autoindex on`: `<h1>Index of …</h1><hr><pre>`, then a line per entry with the date
/// (UTC unless `autoindex_localtime on`) and the size, exact in bytes by default and rounded
/// to `K`, `M` or `G` past 9,999 bytes with `autoindex_exact_size off`. Dot files are not listed.
enum NginxHTMLListing {
  /// Whether `page` is a listing of this server.
  static func wrote(_ page: HTMLPage) -> Bool {
    page.title.hasPrefix("Index of ") && page.contains("</h1><hr><pre>")
  }
}
