/// Why an answer gives no listing. The text says what was seen; the caller adds the URL.
package enum ListingError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The answer's status is not 200.
  case status(Int)
  /// The body is not a listing bitsfs reads; the text names what it is instead.
  case notAListing(String)
  /// The body is of a listing format but cannot be read as one.
  case malformed(DirectoryListing.Format, String)
  /// More entries than the limit (one directory, all pages together).
  case tooManyEntries(limit: Int)
  /// An S3 `<Error>` answer.
  case s3Error(code: String, message: String)

  package var description: String {
    switch self {
    case .status(let status): "an answer with status \(status), not a directory listing"
    case .notAListing(let seen): seen
    case .malformed(let format, let detail): "a \(format.rawValue) listing that cannot be read: \(detail)"
    case .tooManyEntries(let limit): "a directory listing of more than \(limit) entries (the limit)"
    case .s3Error(let code, let message): "an S3 error \(code): \(message)"
    }
  }
}
