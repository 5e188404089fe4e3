/// Feeds one range request's bytes into the cache: the head is checked against the BITS
/// server rules before any byte is written, and no byte outside the asked range is written,
/// whatever the server sends.
struct PieceReceiver: HTTPTransferReceiver {
  let file: DownloadFile
  let pieceID: UInt64
  let range: Range<UInt64>
  let priority: TransferPriority
  let version: RemoteVersion
  let data: DataFile
  let generation: UInt64
  /// Where the request went, when not to the file's URL.
  let redirectedURL: String?

  func transferDidReceiveHead(_ head: HTTPResponseHead) -> TransferVerdict {
    let verdict = ServerRules.check(head, asked: range, version: version, url: file.remoteURL)
    guard case .proceed = verdict else { return verdict }
    // Space first: a request the disk cannot take fails before it answers anyone.
    do {
      try file.reserveInCache(range, size: version.size, data: data)
    } catch {
      return .abort(error)
    }
    return .proceed
  }

  func transferDidReceive(_ bytes: UnsafeRawBufferPointer, bodyOffset: UInt64) -> TransferVerdict {
    let (start, overflow) = range.lowerBound.addingReportingOverflow(bodyOffset)
    let (end, overflowEnd) = start.addingReportingOverflow(UInt64(bytes.count))
    guard !overflow, !overflowEnd, end <= range.upperBound else {
      return .abort(BitsError(.invalidServerResponse, "the server sent more bytes than asked", url: file.remoteURL))
    }
    file.answerReaders(from: bytes, at: start..<end, generation: generation)
    do {
      try data.write(bytes, at: start)
    } catch {
      return .abort(error)
    }
    file.didFill(start..<end, generation: generation, readAhead: priority == .high)
    return .proceed
  }

  func transferDidFinish(_ outcome: Result<Void, BitsError>) {
    file.pieceFinished(
      pieceID, outcome: outcome, version: version, generation: generation, redirectedURL: redirectedURL)
  }
}
