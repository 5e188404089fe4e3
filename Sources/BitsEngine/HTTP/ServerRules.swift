import FoundationEssentials

/// The server requirements BITS checks on every answer, as pure functions of the response head.
enum ServerRules {
  /// The verdict on the head of an answer to a request for `asked` of a file at `version`.
  /// Nothing outside `asked` is ever accepted: a shifted or widened `Content-Range` (a server
  /// that consolidates ranges) is refused before any byte is written.
  static func check(_ head: HTTPResponseHead, asked: Range<UInt64>, version: RemoteVersion, url: String)
    -> TransferVerdict
  {
    switch head.status {
    case 206:
      guard let contentRange = head.contentRange, let sent = contentRange.bytes else {
        return .abort(BitsError(.invalidServerResponse, "a 206 answer without a valid Content-Range", url: url))
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
      if let length = head.contentLength, length != UInt64(asked.count) {
        return .abort(
          BitsError(
            .invalidServerResponse,
            "Content-Length \(length) contradicts Content-Range \(describe(sent))", url: url))
      }
      return .proceed
    case 200:
      if version.isContradicted(by: head, completeLength: head.contentLength) {
        return .abort(changed(url))
      }
      // A whole-file answer is fine when the whole file was asked for.
      if asked == 0..<version.size { return .proceed }
      return .abort(
        BitsError(.insufficientRangeSupport, "the server ignored a Range request and sent the whole file", url: url))
    case 416:
      if let complete = head.contentRange?.completeLength, complete != version.size {
        return .abort(changed(url))
      }
      return .abort(
        BitsError(.invalidRange, "bytes \(describe(asked)) lie outside the remote file", url: url))
    default:
      return .abort(statusError(head.status, url: url))
    }
  }

  /// The version a probe answer (`Range: bytes=0-0`) describes, or the reason it cannot be used.
  static func version(fromProbe head: HTTPResponseHead, url: String) -> Result<RemoteVersion, BitsError> {
    let validators = (lastModified: head["last-modified"], etag: head["etag"])
    switch head.status {
    case 206:
      guard let complete = head.contentRange?.completeLength else {
        return .failure(BitsError(.missingFileSize, "the server did not give the file size", url: url))
      }
      return .success(RemoteVersion(size: complete, lastModified: validators.lastModified, etag: validators.etag))
    case 200:
      guard let length = head.contentLength else {
        return .failure(
          BitsError(.missingFileSize, "the server gave no file size (dynamic content?)", url: url))
      }
      // A file of at most one byte is wholly inside the probed range.
      guard length <= 1 else {
        return .failure(
          BitsError(.insufficientRangeSupport, "the server does not support Range requests", url: url))
      }
      return .success(RemoteVersion(size: length, lastModified: validators.lastModified, etag: validators.etag))
    case 416:
      guard head.contentRange?.completeLength == 0 else {
        return .failure(BitsError(.invalidServerResponse, "the server refused the first byte of the file", url: url))
      }
      return .success(RemoteVersion(size: 0, lastModified: validators.lastModified, etag: validators.etag))
    default:
      return .failure(statusError(head.status, url: url))
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
