import FoundationEssentials

/// What one directory listing says: the entries directly below the directory, each with what
/// the format tells of it, and the format it was read in. Names are decoded and safe to use as
/// one path component; links that leave the directory are not entries.
package struct DirectoryListing: Sendable, Equatable {
  /// The listings bitsfs reads, by the server that writes them.
  package enum Format: String, Sendable, Equatable {
    /// nginx `autoindex on` (HTML), with exact or (`autoindex_exact_size off`) rounded sizes.
    case nginxHTML
    /// nginx `autoindex_format json`: exact sizes and dates.
    case nginxJSON
    /// nginx `autoindex_format xml`: exact sizes and dates.
    case nginxXML
    /// Apache `mod_autoindex`, fancy (table or preformatted, rounded sizes) or plain (names only).
    case apacheHTML
    /// lighttpd `mod_dirlisting`: rounded sizes.
    case lighttpdHTML
    /// Caddy `file_server browse` asked with `Accept: application/json`: exact sizes and dates.
    case caddyJSON
    /// Python's `http.server`: names only.
    case pythonHTML
    /// S3 `ListObjectsV2` with `delimiter=/`: exact sizes and dates of objects, prefixes as
    /// directories.
    case s3ListObjectsV2
  }

  package enum Kind: Sendable, Equatable {
    case file
    case directory
  }

  /// A size as the listing gives it.
  package enum Size: Sendable, Hashable {
    case exact(UInt64)
    /// Shown rounded (`1.2K`, `3G`): the size lies within the bounds.
    case approximate(ClosedRange<UInt64>)
    /// Not given (directories, names-only listings).
    case unknown
  }

  package struct Entry: Sendable, Equatable {
    /// One path component: not empty, not `.` or `..`, no `/` or NUL, valid UTF-8.
    package var name: String
    package var kind: Kind
    package var size: Size
    /// As the listing gives it. HTML listings show the minute (lighttpd the second) in the
    /// server's time zone, which they do not name; read as UTC (nginx's default).
    package var modified: Date?

    package init(name: String, kind: Kind, size: Size = .unknown, modified: Date? = nil) {
      self.name = name
      self.kind = kind
      self.size = size
      self.modified = modified
    }
  }

  package var format: Format
  /// In the order of the listing, each name once.
  package var entries: [Entry]
  /// Names below the directory that were refused as unsafe, as the listing wrote them: the
  /// first ``maximumRefusedNames`` only.
  package var refusedNames: [String]
  /// An S3 listing that stops short (`IsTruncated`): the token that asks for the next page.
  package var continuationToken: String?

  /// How many refused names a listing keeps, to name them in a message.
  package static let maximumRefusedNames = 32

  package init(format: Format, entries: [Entry], refusedNames: [String] = [], continuationToken: String? = nil) {
    self.format = format
    self.entries = entries
    self.refusedNames = refusedNames
    self.continuationToken = continuationToken
  }
}
