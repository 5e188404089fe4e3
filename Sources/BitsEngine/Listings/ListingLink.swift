/// Where a link of a listing page leads, relative to the directory listed: an entry only when it
/// names something directly below the directory, on the same origin, with no query or fragment.
/// Everything else (the parent, sort links such as `?C=N;O=D`, other hosts, deeper paths) is
/// navigation, not an entry.
struct ListingLink {
  enum Target: Equatable {
    /// Not an entry of this directory.
    case elsewhere
    /// Directly below, but the name is unsafe or malformed; the segment as written.
    case refused(String)
    case entry(name: String, kind: DirectoryListing.Kind)
  }

  private let scheme: String
  private let authority: String
  /// The directory's path, split at `/` and decoded, without the empty segment after its final `/`.
  private let directory: [[UInt8]?]

  /// `directoryURL` is the URL that gave the listing (after redirects); a directory's ends in `/`.
  init(directoryURL: String) {
    let withoutQuery = directoryURL.prefix { $0 != "?" && $0 != "#" }
    let parts = Self.parts(of: withoutQuery)
    scheme = parts.scheme ?? ""
    authority = parts.authority.map { Self.normalized($0, scheme: parts.scheme ?? "") } ?? ""
    var segments = Self.segments(of: parts.path).dropFirst()
    // `/dir` and `/dir/` list the same directory: Apache writes `Index of /dir`.
    if segments.last?.isEmpty == true { segments.removeLast() }
    directory = segments.map(EntryName.percentDecoded)
  }

  func target(of href: String) -> Target {
    // On UTF-8 bytes throughout: a listing has a link per entry, and `Character` walks over
    // them were a fifth of the time of parsing one. Every byte looked for is ASCII, so each
    // index found is a character boundary of `href` too.
    guard !href.utf8.contains(UInt8(ascii: "?")), !href.utf8.contains(UInt8(ascii: "#")) else { return .elsewhere }
    let parts = Self.parts(of: Substring(href))
    if let scheme = parts.scheme {
      // `mailto:`, `javascript:`, another scheme, or a scheme without a host: never an entry.
      guard scheme == self.scheme, parts.authority != nil else { return .elsewhere }
    }
    if let authority = parts.authority, Self.normalized(authority, scheme: scheme) != self.authority {
      return .elsewhere
    }
    let below: ArraySlice<Substring>
    if parts.authority != nil || parts.path.utf8.first == UInt8(ascii: "/") {
      let segments = Self.segments(of: parts.path).dropFirst()
      guard segments.count > directory.count,
        zip(segments, directory).allSatisfy({ $1 != nil && EntryName.percentDecoded($0) == $1 })
      else { return .elsewhere }
      below = segments.dropFirst(directory.count)
    } else {
      // `./name`: servers write it for names with a colon, which would otherwise read as a scheme.
      below = Self.segments(of: parts.path)[...].drop { $0 == "." }
    }
    // `""`, `.` and `..` are the directory itself and its parent, links every listing has.
    guard let segment = below.first, below.count == 1 || (below.count == 2 && below.last!.isEmpty),
      !segment.isEmpty, segment != "..", segment != "."
    else { return .elsewhere }
    guard let name = EntryName.decoded(segment) else { return .refused(String(segment)) }
    return .entry(name: name, kind: below.count == 2 ? .directory : .file)
  }

  /// `path` split at `/`, empty segments kept.
  private static func segments(of path: Substring) -> [Substring] {
    path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Substring.init)
  }

  /// A URL or reference's scheme (lower case), authority (after `//`) and path.
  private static func parts(of reference: Substring) -> (scheme: String?, authority: Substring?, path: Substring) {
    var rest = reference
    var scheme: String?
    let bytes = rest.utf8
    if let colon = bytes.firstIndex(of: UInt8(ascii: ":")), let first = bytes.first, isASCIILetter(first),
      bytes[..<colon].allSatisfy({ isASCIILetter($0) || (0x30...0x39).contains($0) || "+-.".utf8.contains($0) })
    {
      scheme = rest[..<colon].lowercased()
      rest = rest[bytes.index(after: colon)...]
    }
    guard rest.utf8.starts(with: "//".utf8) else { return (scheme, nil, rest) }
    rest = rest[rest.utf8.index(rest.startIndex, offsetBy: 2)...]
    let end = rest.utf8.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
    return (scheme, rest[..<end], rest[end...])
  }

  private static func isASCIILetter(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
  }

  /// The host and port in lower case, without user information or the scheme's default port.
  private static func normalized(_ authority: Substring, scheme: String) -> String {
    var host = authority.lowercased()
    if let at = host.lastIndex(of: "@") { host = String(host[host.index(after: at)...]) }
    let defaultPort = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
    if let defaultPort, host.hasSuffix(defaultPort) { host.removeLast(defaultPort.count) }
    return host
  }
}
