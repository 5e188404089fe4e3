/// lighttpd `mod_dirlisting`: a table in `<div class="list">`, a directory's name followed by a
/// `/` outside its link, the date to the second in the server's local time, and every size
/// rounded down to a tenth of a unit (`0.0K` empty, `0.1K` for 1 to 199 bytes). Dot files are
/// hidden by default (`dir-listing.hide-dotfiles`).
enum LighttpdListing {
  /// Whether `page` is a listing of this server.
  static func wrote(_ page: HTMLPage) -> Bool {
    page.title.hasPrefix("Index of ") && page.contains("<div class=\"list\">")
  }
}
