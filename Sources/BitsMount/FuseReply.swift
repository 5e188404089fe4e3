import CFuseShim
import Glibc
import Synchronization

/// The answer to one kernel request: sent exactly once, from any thread. A reply dropped
/// without being sent answers `EIO` as it goes, so no request is ever left unanswered, and a
/// second send does nothing.
///
/// It carries libfuse's `fuse_req_t`, which stays valid until answered; libfuse allows the
/// answer from any thread.
final class FuseReply: Sendable {
  /// What the request asked for that shapes its answer.
  enum Shape: Sendable {
    case plain
    /// `getxattr`/`listxattr` with a buffer of `size` bytes (0 asks for the length).
    case attribute(size: Int)
    /// `readdir` of at most `size` bytes.
    case directory(size: Int)
  }

  private struct Request: @unchecked Sendable {
    let raw: fuse_req_t
  }

  private let request: Request
  private let shape: Shape
  private let isSent = Atomic<Bool>(false)

  init(_ raw: fuse_req_t, shape: Shape = .plain) {
    request = Request(raw: raw)
    self.shape = shape
  }

  deinit {
    if !isSent.load(ordering: .sequentiallyConsistent) { bitsfs_reply_err(request.raw, EIO) }
  }

  func send(_ reply: FileSystemReply) {
    guard !isSent.exchange(true, ordering: .sequentiallyConsistent) else { return }
    let raw = request.raw
    switch reply {
    case .error(let error): bitsfs_reply_err(raw, error)
    case .entry(let attributes, let timeout):
      var status = attributes.stat
      bitsfs_reply_entry(raw, attributes.inode, &status, timeout)
    case .attributes(let attributes, let timeout):
      var status = attributes.stat
      bitsfs_reply_attr(raw, &status, timeout)
    case .opened(let handle, let keepCache):
      bitsfs_reply_open(raw, handle, keepCache ? 1 : 0)
    case .bytes(let bytes): bytes.withUnsafeBytes { _ = bitsfs_reply_buf(raw, $0.baseAddress, $0.count) }
    case .cached(let data, let offset, let count):
      bitsfs_reply_fd(raw, data.descriptor, offset, count)
      withExtendedLifetime(data) {}
    case .directory(let entries): sendDirectory(entries, plus: false)
    case .directoryPlus(let entries): sendDirectory(entries, plus: true)
    case .attributeValue(let bytes): sendAttribute(bytes)
    case .fileSystemStatistics(let blockSize, let blocks, let files):
      var stats = statvfs()
      stats.f_bsize = blockSize
      stats.f_frsize = blockSize
      stats.f_blocks = fsblkcnt_t(blocks)
      stats.f_files = fsfilcnt_t(files)
      stats.f_namemax = 255
      bitsfs_reply_statfs(raw, &stats)
    }
  }

  /// The xattr protocol: size 0 asks for the length, a buffer too small is ERANGE.
  private func sendAttribute(_ bytes: [UInt8]) {
    guard case .attribute(let size) = shape else {
      return bytes.withUnsafeBytes { _ = bitsfs_reply_buf(request.raw, $0.baseAddress, $0.count) }
    }
    if size == 0 { return _ = bitsfs_reply_xattr(request.raw, bytes.count) }
    guard size >= bytes.count else { return _ = bitsfs_reply_err(request.raw, ERANGE) }
    bytes.withUnsafeBytes { _ = bitsfs_reply_buf(request.raw, $0.baseAddress, $0.count) }
  }

  /// The entries that fit in `size` bytes, in order; with `plus`, each with its attributes
  /// where known (an entry without them is one the kernel looks up, as after readdir).
  private func sendDirectory(_ entries: [DirectoryEntry], plus: Bool) {
    guard case .directory(let size) = shape else { return _ = bitsfs_reply_err(request.raw, EIO) }
    // Not zeroed: libfuse writes each entry whole, its padding too.
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(size, 1)) { buffer in
      var used = 0
      for entry in entries {
        let place = buffer.baseAddress! + used
        let needed: Int
        if plus {
          needed = addEntryPlus(entry, at: place, room: size - used)
        } else {
          var status = Glibc.stat()
          status.st_ino = UInt(entry.inode)
          status.st_mode = entry.mode
          needed = fuse_add_direntry(request.raw, place, size - used, entry.name, &status, off_t(entry.offset))
        }
        // An entry that does not fit waits for the next call.
        guard used + needed <= size else { break }
        used += needed
      }
      _ = bitsfs_reply_buf(request.raw, buffer.baseAddress, used)
    }
  }

  private func addEntryPlus(_ entry: DirectoryEntry, at place: UnsafeMutablePointer<CChar>, room: Int) -> Int {
    var parameters = fuse_entry_param()
    if let attributes = entry.attributes {
      parameters.ino = fuse_ino_t(entry.inode)
      parameters.attr = attributes.stat
      parameters.attr_timeout = entry.timeout
      parameters.entry_timeout = entry.timeout
    } else {
      parameters.attr.st_ino = UInt(entry.inode)
      parameters.attr.st_mode = entry.mode
    }
    return fuse_add_direntry_plus(request.raw, place, room, entry.name, &parameters, off_t(entry.offset))
  }
}
