/// The version of a remote file as BITS defines it: its size and date, plus the entity tag when
/// the server gives one. Bytes of two versions are never mixed in one file.
public struct RemoteVersion: Hashable, Sendable, Codable {
  /// The largest size a file can have here: sizes and offsets become `off_t`, a signed 64-bit
  /// integer, in every system call. Servers naming more are refused where their answer is read.
  public static let maximumSize = UInt64(Int64.max)

  public var size: UInt64
  public var lastModified: String?
  public var etag: String?

  public init(size: UInt64, lastModified: String?, etag: String?) {
    self.size = size
    self.lastModified = lastModified
    self.etag = etag
  }

  /// Whether the version can be told from another of the same size later (a date or an entity
  /// tag): only then may bytes cached by one process be trusted by the next.
  public var hasValidator: Bool { etag != nil || lastModified != nil }

  /// Size, date and entity tag, for a log line.
  package var logDescription: String {
    "size=\(size) last-modified=\(lastModified ?? "-") etag=\(etag ?? "-")"
  }

  /// An entity tag without its weakness mark (`W/"x"` is `"x"`): tags are compared weakly, as
  /// Apache tags a file weakly within a second of its change and strongly after, the same tag.
  public static func opaqueTag(_ etag: String) -> String {
    etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
  }

  /// Whether a response head describes another version than this one. Only what the head states
  /// is compared, so a response without an `ETag` still matches on size and date.
  func isContradicted(by head: HTTPResponseHead, completeLength: UInt64?) -> Bool {
    if let completeLength, completeLength != size { return true }
    if let etag, let other = head["etag"].map(Self.opaqueTag), other != etag { return true }
    if let lastModified, let other = head["last-modified"], other != lastModified { return true }
    return false
  }
}
