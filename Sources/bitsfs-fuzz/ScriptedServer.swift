import BitsEngine
import Dispatch
import Foundation
import Synchronization

/// A hostile server scripted by fuzz bytes, behind the engine's transport seam: the script is
/// a list of answers (separated by `\n--\n`), each a head (lines up to an empty line) and a
/// body, given to requests in turn. It records the body bytes the engine accepted at the file
/// offsets the answer claims for them (its `Content-Range`; a 200 is the file from its start),
/// so the whole path of an answer — head, body, version checks, retries — can be held to its
/// invariant: a reader gets the bytes the server sent for those offsets, or an error.
final class ScriptedServer: HTTPTransport {
  private struct Answer {
    var headLines: [[UInt8]]
    var body: [UInt8]
  }

  private let answers: [Answer]
  /// Body bytes per write to the receiver, so bodies arrive in pieces.
  private let pieceSize: Int
  private let queue = DispatchQueue(label: "fuzz-server")
  private let state = Mutex<(next: Int, accepted: [UInt64: UInt8], started: Int)>((0, [:], 0))

  init(script: UnsafeRawBufferPointer) {
    let separator = Array("\n--\n".utf8)
    var answers: [Answer] = []
    var rest = Array(script)[...]
    pieceSize = 1 + Int(rest.popFirst() ?? 0) % 64
    while !rest.isEmpty {
      let end = rest.firstRange(of: separator)
      let part = rest[rest.startIndex..<(end?.lowerBound ?? rest.endIndex)]
      rest = end.map { rest[$0.upperBound...] } ?? []
      let split = part.firstRange(of: Array("\r\n\r\n".utf8))
      let head = part[part.startIndex..<(split?.lowerBound ?? part.endIndex)]
      let body = split.map { Array(part[$0.upperBound...]) } ?? []
      answers.append(
        Answer(headLines: head.split(separator: UInt8(ascii: "\n")).map(Array.init), body: body))
    }
    self.answers = answers
  }

  /// The bytes the engine accepted at `range`, or `nil` where it accepted none.
  func acceptedBytes(_ range: Range<UInt64>) -> [UInt8]? {
    state.withLock { state in
      var bytes: [UInt8] = []
      for offset in range {
        guard let byte = state.accepted[offset] else { return nil }
        bytes.append(byte)
      }
      return bytes
    }
  }

  @discardableResult
  func start(_ request: HTTPRequest, receiver: any HTTPTransferReceiver) -> TransferID {
    let (index, number) = state.withLock { state -> (Int, Int) in
      defer {
        state.next += 1
        state.started += 1
      }
      return (state.next, state.started)
    }
    queue.async { [self] in
      guard !answers.isEmpty, number < 64 else {
        return receiver.transferDidFinish(.failure(BitsError(.connectionClosed, "the script is over")))
      }
      let answer = answers[index % answers.count]
      var head = HTTPResponseHead(status: 0, headers: [:])
      for line in answer.headLines { line.withUnsafeBytes { head.add(line: $0) } }
      if case .abort(let error) = receiver.transferDidReceiveHead(head) {
        return receiver.transferDidFinish(.failure(error))
      }
      // Where the server says its body's bytes belong.
      let claimed: UInt64? =
        head.status == 200 ? 0 : head.status == 206 ? (try? head.contentRange)?.bytes?.lowerBound : nil
      var offset = 0
      while offset < answer.body.count {
        let piece = answer.body[offset..<min(answer.body.count, offset + pieceSize)]
        // Recorded before the receiver has them, since it may answer a reader before it returns;
        // taken back if it refuses them.
        let previous = claimed.map { record(piece, at: $0 + UInt64(offset)) }
        let verdict = piece.withUnsafeBytes { receiver.transferDidReceive($0, bodyOffset: UInt64(offset)) }
        if case .abort(let error) = verdict {
          if let previous { restore(previous) }
          return receiver.transferDidFinish(.failure(error))
        }
        offset += piece.count
      }
      receiver.transferDidFinish(.success(()))
    }
    return TransferID(lane: 0, value: UInt64(number))
  }

  func cancel(_ id: TransferID) {}

  func expedite(_ id: TransferID) {}

  /// Records `bytes` as sent for the offsets from `start`; returns what they replace.
  private func record(_ bytes: ArraySlice<UInt8>, at start: UInt64) -> [UInt64: UInt8?] {
    state.withLock { state in
      var replaced: [UInt64: UInt8?] = [:]
      for (index, byte) in bytes.enumerated() {
        let offset = start + UInt64(index)
        replaced[offset] = state.accepted[offset]
        state.accepted[offset] = byte
      }
      return replaced
    }
  }

  private func restore(_ replaced: [UInt64: UInt8?]) {
    state.withLock { state in
      for (offset, byte) in replaced { state.accepted[offset] = byte }
    }
  }
}

extension FuzzTargets {
  /// The whole path of answers through a real `DownloadFile`: a probe, then a read whose
  /// requests the script answers, lies included. Whatever the script says, nothing traps, no
  /// wait outlasts its bound, and a reader gets exactly the bytes accepted for its offsets.
  static func wholeAnswerPath(_ script: UnsafeRawBufferPointer) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-fuzz-path-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let server = ScriptedServer(script: script)
    var configuration = JobConfiguration()
    configuration.isOnDemand = true
    configuration.retryPeriod = .milliseconds(50)
    configuration.initialRetryDelay = .milliseconds(1)
    configuration.maximumRetryDelay = .milliseconds(2)
    configuration.maximumRequestSize = 64
    let job = DownloadJob(
      displayName: "fuzz", cacheDirectory: directory, transport: server, configuration: configuration)
    defer { try? job.cancel() }
    guard let file = try? job.addFile(remoteURL: url, localName: nil), (try? job.resume()) != nil,
      let version = try? file.connect()
    else { return }
    check(version.size <= RemoteVersion.maximumSize, "a version beyond off_t: \(version.size)")
    let asked = 0..<min(version.size, 200)
    let outcome = Mutex<Result<FilledBytes, BitsError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    file.read(asked, alignment: 16, timeout: .milliseconds(300)) { result in
      outcome.withLock { $0 = result }
      done.signal()
    }
    check(done.wait(timeout: .now() + 5) == .success, "a read outlasted its timeout")
    guard case .success(let filled)? = outcome.withLock({ $0 }) else { return }
    check(filled.range == asked, "asked \(asked), answered \(filled.range)")
    guard case .success(let bytes) = filled.copiedBytes() else { return check(false, "the answer cannot be read") }
    check(server.acceptedBytes(filled.range) == bytes, "a reader got bytes the server did not send there")
  }
}
