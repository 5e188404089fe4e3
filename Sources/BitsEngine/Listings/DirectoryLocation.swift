/// Where a directory's listing comes from, and so the URLs of what it lists: a web server's
/// directory page, or a prefix of an S3 bucket listed with `ListObjectsV2`. A pure value.
package enum DirectoryLocation: Sendable, Hashable {
  /// A directory page: a GET of `url` (which ends in `/`, and has no query) lists it.
  case page(url: String)
  /// The objects of an S3 bucket (`bucketURL`, ending in `/`) below `prefix` (empty or ending in
  /// `/`), listed one level at a time (`delimiter=/`).
  case s3(bucketURL: String, prefix: String)

  /// The location of a directory URL as given: a page, without query string or fragment.
  /// `nil` when the URL does not end in `/`.
  package init?(directoryURL url: String) {
    let base = Self.withoutQuery(url)
    guard base.hasSuffix("/"), URLOrigin(base)?.isHTTP == true else { return nil }
    self = .page(url: base)
  }

  /// The URL to GET for the listing (for S3, the page after `continuationToken`).
  package func listingURL(continuationToken: String? = nil) -> String {
    switch self {
    case .page(let url): return url
    case .s3(let bucketURL, let prefix):
      var query = "list-type=2&delimiter=%2F&prefix=\(Self.encoded(prefix, keepingSlashes: false))"
      if let continuationToken {
        query += "&continuation-token=\(Self.encoded(continuationToken, keepingSlashes: false))"
      }
      return bucketURL + "?" + query
    }
  }

  /// The URL of the file `name` lists.
  package func fileURL(named name: String) -> String {
    switch self {
    case .page(let url): url + Self.encoded(name, keepingSlashes: false)
    case .s3(let bucketURL, let prefix): bucketURL + Self.encoded(prefix + name, keepingSlashes: true)
    }
  }

  /// The location of the subdirectory `name` lists.
  package func subdirectory(named name: String) -> DirectoryLocation {
    switch self {
    case .page(let url): .page(url: url + Self.encoded(name, keepingSlashes: false) + "/")
    case .s3(let bucketURL, let prefix): .s3(bucketURL: bucketURL, prefix: prefix + name + "/")
    }
  }

  /// The same directory as an S3 bucket addressed in the path (`http://host/bucket/key…`), for a
  /// page URL that an S3 server answered: the first path segment is the bucket. `nil` for a URL
  /// with no bucket segment.
  package var asS3PathStyle: DirectoryLocation? {
    guard case .page(let url) = self, let pathStart = Self.pathStart(of: url) else { return nil }
    let path = url[pathStart...].dropFirst()
    guard let slash = path.firstIndex(of: "/"), slash != path.startIndex else { return nil }
    let bucketURL = String(url[..<path.index(after: slash)])
    guard let prefix = EntryName.percentDecoded(path[path.index(after: slash)...].utf8),
      let decoded = String(validating: prefix, as: UTF8.self)
    else { return nil }
    return .s3(bucketURL: bucketURL, prefix: decoded)
  }

  /// A URL's characters that need no escape in a path segment or query value (RFC 3986's
  /// unreserved set); everything else is percent-encoded.
  static func encoded(_ text: String, keepingSlashes: Bool) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        result.unicodeScalars.append(Unicode.Scalar(byte))
      case UInt8(ascii: "/") where keepingSlashes:
        result.append("/")
      default:
        result.unicodeScalars.append("%")
        result.unicodeScalars.append(Unicode.Scalar(hexDigits[Int(byte >> 4)]))
        result.unicodeScalars.append(Unicode.Scalar(hexDigits[Int(byte & 0xF)]))
      }
    }
    return result
  }

  private static let hexDigits = Array("0123456789ABCDEF".utf8)

  package static func withoutQuery(_ url: String) -> String {
    String(url.prefix { $0 != "?" && $0 != "#" })
  }

  /// Where the path of `url` starts: the first `/` after `scheme://authority`.
  private static func pathStart(of url: String) -> String.Index? {
    guard let schemeEnd = url.firstRange(of: "://") else { return nil }
    return url[schemeEnd.upperBound...].firstIndex(of: "/")
  }
}
