import BitsEngine

/// One URL to mount and where: a file, or with a URL ending in `/` a directory tree. Given on
/// the command line as `URL` or `URL=path/in/mount`, or as a line of a manifest. A pure value.
public struct MountEntry: Sendable, Equatable {
  public var url: String
  /// The names below the mount point; `nil` for the default: a file's last path segment, a
  /// directory's too, or the mount's root for a directory mounted alone.
  public var path: [String]?

  public init(url: String, path: [String]? = nil) {
    self.url = url
    self.path = path
  }

  /// A directory tree, listed from its server: the URL (without query) ends in `/`.
  public var isDirectory: Bool { DirectoryLocation.withoutQuery(url).hasSuffix("/") }

  /// `URL` or `URL=path/in/mount`. The `=` must come before any query string (a URL with a
  /// query and a path of its own goes in a manifest).
  public init(argument: String) throws(BitsError) {
    let beforeQuery = argument.prefix { $0 != "?" }
    guard let equals = beforeQuery.firstIndex(of: "=") else {
      self.init(url: argument)
      return
    }
    let url = String(argument[..<equals])
    self.init(url: url, path: try Self.path(String(argument[argument.index(after: equals)...]), for: url))
  }

  /// The entries of a manifest: one `URL [path/in/mount]` a line, blank lines and `#` comments
  /// ignored.
  public static func manifest(_ text: String, name: String) throws(BitsError) -> [MountEntry] {
    var entries: [MountEntry] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let content = line.trimmingHTTPWhitespace()
      guard !content.isEmpty, !content.hasPrefix("#") else { continue }
      let url = String(content.prefix { $0 != " " && $0 != "\t" })
      let rest = content.dropFirst(url.count).trimmingHTTPWhitespace()
      do throws(BitsError) {
        entries.append(MountEntry(url: url, path: rest.isEmpty ? nil : try path(String(rest), for: url)))
      } catch {
        throw BitsError(.invalidArgument, "\(name), line \(number + 1): \(error.message)")
      }
    }
    return entries
  }

  /// `text` as names below the mount point: `/`-separated, each a safe file name.
  static func path(_ text: String, for url: String) throws(BitsError) -> [String] {
    let names = text.split(separator: "/").map(String.init)
    for name in names where EntryName.checked(name) == nil {
      throw BitsError(.invalidArgument, "'\(text)' is not a path in the mount ('\(name)' cannot be a name)", url: url)
    }
    return names
  }

  /// Where the entry appears: its path, or the default for it (`alone`: the only entry).
  func placement(alone: Bool) throws(BitsError) -> [String] {
    if let path { return path }
    if isDirectory, alone { return [] }
    return [try Self.lastSegmentName(of: url)]
  }

  /// A URL's last path segment, percent-decoded: the name its file (or directory) gets.
  public static func lastSegmentName(of url: String) throws(BitsError) -> String {
    let path = DirectoryLocation.withoutQuery(url)
    guard let schemeEnd = path.firstRange(of: "://") else {
      throw BitsError(.invalidArgument, "not a valid URL", url: url)
    }
    let segments = path[schemeEnd.upperBound...].split(separator: "/").dropFirst()
    guard let segment = segments.last, let name = EntryName.decoded(segment.utf8) else {
      throw BitsError(.invalidArgument, "the URL does not end in a name to show it by; give one as URL=name", url: url)
    }
    return name
  }
}
