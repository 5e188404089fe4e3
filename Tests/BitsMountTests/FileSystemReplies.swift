import Dispatch
import Glibc
import Synchronization

@testable import BitsMount

/// Calls `operation` and waits (at most 10 s) for its first reply, then `settle` longer for a
/// second one, which would be a defect: every reply so far, none if it never answered.
func replies(settle: Duration = .zero, to operation: (@escaping FileSystemReplyHandler) -> Void) -> [FileSystemReply] {
  let replies = Mutex<[FileSystemReply]>([])
  let done = DispatchSemaphore(value: 0)
  operation { reply in
    replies.withLock { $0.append(reply) }
    done.signal()
  }
  guard done.wait(timeout: .now() + 10) == .success else { return [] }
  // A second reply would come right after the first from the same path.
  if settle > .zero { usleep(UInt32(settle.components.attoseconds / 1_000_000_000_000)) }
  return replies.withLock { $0 }
}

extension FileSystemReply {
  /// The bytes a read was answered with, copied from the cache file when the reply names it;
  /// `nil` for any other reply.
  var readBytes: [UInt8]? {
    switch self {
    case .bytes(let bytes): return bytes
    case .cached(let data, let offset, let count):
      var copy = [UInt8](repeating: 0, count: count)
      let read = copy.withUnsafeMutableBytes { pread(data.descriptor, $0.baseAddress, count, off_t(offset)) }
      return read == count ? copy : nil
    default: return nil
    }
  }
}

/// An operation a test needed did not answer as it must; the test fails with it.
struct CallFailed: Error {
  var operation: String
}
