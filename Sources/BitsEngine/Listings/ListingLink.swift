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
    let parts = Self.parts(of: Array(withoutQuery.utf8)[...])
    let scheme = parts.scheme.map { String(decoding: $0.lazy.map(MarkupText.lowercased), as: UTF8.self) } ?? ""
    self.scheme = scheme
    authority = parts.authority.map { Self.normalized($0, scheme: scheme) } ?? ""
    var segments = Self.segments(of: parts.path).dropFirst()
    // `/dir` and `/dir/` list the same directory: Apache writes `Index of /dir`.
    if segments.last?.isEmpty == true { segments.removeLast() }
    directory = segments.map(EntryName.percentDecoded)
  }

  /// Where `href` (valid UTF-8, entities decoded) leads. On its bytes, with no string or array
  /// made but for an entry's name: a listing has a link per entry.
  func target(of href: UnsafeBufferPointer<UInt8>) -> Target {
    guard !href.contains(UInt8(ascii: "?")), !href.contains(UInt8(ascii: "#")) else { return .elsewhere }
    let parts = Self.parts(of: href[...])
    if let scheme = parts.scheme {
      // `mailto:`, `javascript:`, another scheme, or a scheme without a host: never an entry.
      guard scheme.lazy.map(MarkupText.lowercased).elementsEqual(self.scheme.utf8), parts.authority != nil else {
        return .elsewhere
      }
    }
    if let authority = parts.authority, Self.normalized(authority, scheme: scheme) != self.authority {
      return .elsewhere
    }
    // What is below the directory: its segments at `/`, empty ones kept.
    var below = parts.path
    if parts.authority != nil || parts.path.first == UInt8(ascii: "/") {
      guard let slash = below.firstIndex(of: UInt8(ascii: "/")) else { return .elsewhere }
      below = below[(slash + 1)...]
      for segment in directory {
        guard let segment, let slash = below.firstIndex(of: UInt8(ascii: "/")),
          EntryName.percentDecoded(below[..<slash]) == segment
        else { return .elsewhere }
        below = below[(slash + 1)...]
      }
    } else {
      // `./name`: servers write it for names with a colon, which would otherwise read as a scheme.
      while below.starts(with: "./".utf8) { below = below.dropFirst(2) }
    }
    let slash = below.firstIndex(of: UInt8(ascii: "/"))
    let segment = below[..<(slash ?? below.endIndex)]
    // A file's name, or a directory's with a `/` after it; `""`, `.` and `..` are the directory
    // itself and its parent, links every listing has.
    guard slash == nil || slash == below.endIndex - 1, !segment.isEmpty, !segment.elementsEqual(".".utf8),
      !segment.elementsEqual("..".utf8)
    else { return .elsewhere }
    guard let name = EntryName.decoded(segment) else { return .refused(String(decoding: segment, as: UTF8.self)) }
    return .entry(name: name, kind: slash == nil ? .file : .directory)
  }

  /// `path` split at `/`, empty segments kept.
  private static func segments(of path: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
  }

  /// A URL or reference's scheme (as written), authority (after `//`) and path.
  private static func parts<Bytes: Collection<UInt8>>(of reference: Bytes) -> (
    scheme: Bytes?, authority: Bytes?, path: Bytes
  ) where Bytes.SubSequence == Bytes, Bytes.Index == Int {
    var rest = reference
    var scheme: Bytes?
    if let colon = rest.firstIndex(of: UInt8(ascii: ":")), let first = rest.first, isASCIILetter(first),
      rest[..<colon].allSatisfy({ isASCIILetter($0) || (0x30...0x39).contains($0) || "+-.".utf8.contains($0) })
    {
      scheme = rest[..<colon]
      rest = rest[(colon + 1)...]
    }
    guard rest.starts(with: "//".utf8) else { return (scheme, nil, rest) }
    rest = rest.dropFirst(2)
    let end = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
    return (scheme, rest[..<end], rest[end...])
  }

  private static func isASCIILetter(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
  }

  /// The host and port in lower case, without user information or the scheme's default port.
  private static func normalized(_ authority: some Collection<UInt8>, scheme: String) -> String {
    var host = String(decoding: authority, as: UTF8.self).lowercased()
    if let at = host.lastIndex(of: "@") { host = String(host[host.index(after: at)...]) }
    let defaultPort = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
    if let defaultPort, host.hasSuffix(defaultPort) { host.removeLast(defaultPort.count) }
    return host
  }
}
