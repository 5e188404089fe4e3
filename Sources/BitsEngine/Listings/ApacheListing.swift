/// Apache `mod_autoindex`: titled `Index of /dir` (no final `/`). Fancy indexes (a table with
/// `HTMLTable`, else preformatted lines) give the date in the server's local time and the size
/// rounded past 972 bytes (`1.0K`, `12K`); plain ones (`-FancyIndexing`) a list of names. The
/// parent is an absolute link (`/`, `/dir/`), and names with a colon are written `./a:b`.
enum ApacheListing {
  /// Whether `page` is a listing of this server.
  static func wrote(_ page: HTMLPage) -> Bool {
    page.title.hasPrefix("Index of ")
  }
}
