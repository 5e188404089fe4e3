/// Python's `http.server`: `Directory listing for /dir/` and a list of names, no sizes or dates.
enum PythonListing {
  /// Whether `page` is a listing of this server.
  static func wrote(_ page: HTMLPage) -> Bool {
    page.title.hasPrefix("Directory listing for ")
  }
}
