import FoundationEssentials

/// The server requirements BITS checks on every answer, as pure functions of the response head.
package enum ServerRules {
  /// The verdict on the head of an answer to a request for `asked` (never empty) of a file at
  /// `version`. Nothing outside `asked` is ever accepted: a shifted or widened `Content-Range` (a
  /// server that consolidates ranges) is refused before any byte is written.
  package static func check(_ head: HTTPResponseHead, asked: Range<UInt64>, version: RemoteVersion, url: String)
    -> TransferVerdict
  {
    guard answersARange(head) else { return .abort(statusError(head.status, url: url)) }
    let contentRange: ContentRange?
    let contentLength: UInt64?
    do throws(BitsError) {
      (contentRange, contentLength) = try fields(of: head, url: url)
    } catch {
      return .abort(error)
    }
    switch head.status {
    case 206:
      guard let contentRange, let sent = contentRange.bytes else {
        return .abort(BitsError(.invalidServerResponse, "a 206 answer without a byte range in Content-Range", url: url))
      }
      if version.isContradicted(by: head, completeLength: contentRange.completeLength) {
        return .abort(changed(url))
      }
      guard sent == asked else {
        return .abort(
          BitsError(
            .invalidServerResponse,
            "asked for bytes \(describe(asked)), the server sent bytes \(describe(sent))", url: url))
      }
      if let contentLength, contentLength != asked.upperBound - asked.lowerBound {
        return .abort(
          BitsError(
            .invalidServerResponse,
            "Content-Length \(contentLength) contradicts Content-Range \(describe(sent))", url: url))
      }
      return .proceed
    case 200:
      if version.isContradicted(by: head, completeLength: contentLength) {
        return .abort(changed(url))
      }
      // A whole-file answer is fine when the whole file was asked for.
      if asked == 0..<version.size { return .proceed }
      return .abort(
        BitsError(.insufficientRangeSupport, "the server ignored a Range request and sent the whole file", url: url))
    default:
      if let complete = contentRange?.completeLength, complete != version.size {
        return .abort(changed(url))
      }
      return .abort(
        BitsError(.invalidRange, "bytes \(describe(asked)) lie outside the remote file", url: url))
    }
  }

  /// The version a probe answer (`Range: bytes=0-0`) describes, or the reason it cannot be used.
  package static func version(fromProbe head: HTTPResponseHead, url: String) -> Result<RemoteVersion, BitsError> {
    guard answersARange(head) else { return .failure(statusError(head.status, url: url)) }
    let contentRange: ContentRange?
    let contentLength: UInt64?
    do throws(BitsError) {
      (contentRange, contentLength) = try fields(of: head, url: url)
    } catch {
      return .failure(error)
    }
    let size: UInt64
    switch head.status {
    case 206:
      guard let complete = contentRange?.completeLength else {
        return .failure(BitsError(.missingFileSize, "the server did not give the file size", url: url))
      }
      size = complete
    case 200:
      guard let contentLength else {
        return .failure(
          BitsError(.missingFileSize, "the server gave no file size (dynamic content?)", url: url))
      }
      // A file of at most one byte is wholly inside the probed range.
      guard contentLength <= 1 else {
        return .failure(
          BitsError(.insufficientRangeSupport, "the server does not support Range requests", url: url))
      }
      size = contentLength
    default:
      // 416: not even byte 0 exists, so the file is empty. S3 says so without a Content-Range.
      guard contentRange?.completeLength ?? 0 == 0 else {
        return .failure(BitsError(.invalidServerResponse, "the server refused the first byte of the file", url: url))
      }
      size = 0
    }
    return .success(
      RemoteVersion(size: size, lastModified: head["last-modified"], etag: head["etag"].map(RemoteVersion.opaqueTag)))
  }

  /// The validator to send as `If-Range` with the range requests of `version`, learned from
  /// `head`: a strong entity tag, else the date if it is strong, that is at least a second before
  /// the answer's `Date` (RFC 9110 §13.1.5; two seconds apart in whole seconds, as Apache measures
  /// the second from the file's exact time); `nil` when neither is, as for a file changed within
  /// the last second (Apache then tags it weakly and ignores `If-Range` with its date, answering
  /// every range with the whole file). Without `If-Range` each answer's own size, date and tag
  /// are still compared with the version.
  package static func rangeValidator(for version: RemoteVersion, from head: HTTPResponseHead) -> String? {
    if let etag = version.etag, head["etag"]?.hasPrefix("W/") == false { return etag }
    guard let lastModified = version.lastModified, let modified = HTTPDate.parse(lastModified),
      let answered = head["date"].flatMap(HTTPDate.parse), answered.timeIntervalSince(modified) >= 2
    else { return nil }
    return lastModified
  }

  /// Refuses an answer whose body is in a content coding (`Content-Encoding: gzip`, …): its bytes
  /// are not the file's. `userAcceptEncoding` is the `Accept-Encoding` the user's own headers
  /// sent, if any (else the request asked for `identity`), so the message can name the cause.
  package static func checkContentCoding(_ head: HTTPResponseHead, userAcceptEncoding: String?, url: String)
    -> TransferVerdict
  {
    guard head.status == 200 || head.status == 206, let value = head["content-encoding"] else { return .proceed }
    let codings = value.split(separator: ",").map { $0.trimmingHTTPWhitespace().lowercased() }
    guard codings.contains(where: { $0 != "identity" }) else { return .proceed }
    // Named when a token list as codings are; a server's free text is not repeated.
    let isPrintable = value.count <= 64 && value.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 }
    let named = isPrintable ? "Content-Encoding: \(value)" : "a Content-Encoding"
    let message =
      if let userAcceptEncoding {
        "the server answered with \(named), as the header 'Accept-Encoding: \(userAcceptEncoding)' given with the "
          + "request (--header) allows; such bytes are not the file's: leave that header out"
      } else {
        "the server answered with \(named) although asked for identity; such bytes are not the file's"
      }
    return .abort(BitsError(.invalidServerResponse, message, url: url))
  }

  /// 200, 206 and 416 are the answers to a range request; anything else is an error of its own.
  private static func answersARange(_ head: HTTPResponseHead) -> Bool {
    head.status == 200 || head.status == 206 || head.status == 416
  }

  /// `Content-Range` and `Content-Length`, each `nil` when absent; present but unusable (not
  /// digits, or beyond the largest size a file can have) is an invalid server response, so no
  /// such number ever reaches a size, an offset or a system call.
  private static func fields(of head: HTTPResponseHead, url: String) throws(BitsError)
    -> (range: ContentRange?, length: UInt64?)
  {
    let range: ContentRange?
    do throws(HTTPFieldError) {
      range = try head.contentRange
    } catch {
      throw invalidField("Content-Range", error, url: url)
    }
    do throws(HTTPFieldError) {
      return (range, try head.contentLength)
    } catch {
      throw invalidField("Content-Length", error, url: url)
    }
  }

  private static func invalidField(_ name: String, _ error: HTTPFieldError, url: String) -> BitsError {
    switch error {
    case .malformed:
      return BitsError(.invalidServerResponse, "the server sent a malformed \(name)", url: url)
    case .beyondMaximumSize:
      return BitsError(
        .invalidServerResponse,
        "the server's \(name) names more than \(RemoteVersion.maximumSize) bytes, the largest size a file can have",
        url: url)
    }
  }

  static func statusError(_ status: Int, url: String) -> BitsError {
    let meaning: String
    switch status {
    case 401: meaning = "authentication required"
    case 403: meaning = "access forbidden"
    case 404: meaning = "not found"
    case 410: meaning = "gone"
    case 429: meaning = "too many requests"
    case 500..<600: meaning = "server error"
    default: meaning = "unexpected answer"
    }
    return BitsError(.httpStatus(status), "HTTP \(status) (\(meaning))", url: url)
  }

  private static func changed(_ url: String) -> BitsError {
    BitsError(.remoteFileChanged, "the remote file changed (size, date or ETag differ)", url: url)
  }

  private static func describe(_ range: Range<UInt64>) -> String {
    "\(range.lowerBound)-\(range.upperBound - 1)"
  }
}
