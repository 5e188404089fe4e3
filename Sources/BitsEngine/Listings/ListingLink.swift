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
    var segments = parts.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
    // `/dir` and `/dir/` list the same directory: Apache writes `Index of /dir`.
    if segments.last?.isEmpty == true { segments.removeLast() }
    directory = segments.map(EntryName.percentDecoded)
  }

  func target(of href: String) -> Target {
    guard !href.contains("?"), !href.contains("#") else { return .elsewhere }
    let parts = Self.parts(of: Substring(href))
    if let scheme = parts.scheme {
      // `mailto:`, `javascript:`, another scheme, or a scheme without a host: never an entry.
      guard scheme == self.scheme, parts.authority != nil else { return .elsewhere }
    }
    if let authority = parts.authority, Self.normalized(authority, scheme: scheme) != self.authority {
      return .elsewhere
    }
    let below: ArraySlice<Substring>
    if parts.authority != nil || parts.path.hasPrefix("/") {
      let segments = parts.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
      guard segments.count > directory.count,
        zip(segments, directory).allSatisfy({ $1 != nil && EntryName.percentDecoded($0) == $1 })
      else { return .elsewhere }
      below = segments.dropFirst(directory.count)
    } else {
      // `./name`: servers write it for names with a colon, which would otherwise read as a scheme.
      below = parts.path.split(separator: "/", omittingEmptySubsequences: false).drop { $0 == "." }
    }
    // `""`, `.` and `..` are the directory itself and its parent, links every listing has.
    guard let segment = below.first, below.count == 1 || (below.count == 2 && below.last!.isEmpty),
      !segment.isEmpty, segment != "..", segment != "."
    else { return .elsewhere }
    guard let name = EntryName.decoded(segment) else { return .refused(String(segment)) }
    return .entry(name: name, kind: below.count == 2 ? .directory : .file)
  }

  /// A URL or reference's scheme (lower case), authority (after `//`) and path.
  private static func parts(of reference: Substring) -> (scheme: String?, authority: Substring?, path: Substring) {
    var rest = reference
    var scheme: String?
    if let colon = rest.firstIndex(of: ":"), let first = rest.first, first.isASCII, first.isLetter,
      rest[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
    {
      scheme = rest[..<colon].lowercased()
      rest = rest[rest.index(after: colon)...]
    }
    guard rest.hasPrefix("//") else { return (scheme, nil, rest) }
    rest = rest.dropFirst(2)
    let end = rest.firstIndex(of: "/") ?? rest.endIndex
    return (scheme, rest[..<end], rest[end...])
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
