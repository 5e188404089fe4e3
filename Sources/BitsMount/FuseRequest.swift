import CFuseShim
import FoundationEssentials
import Glibc

/// The attributes of a file or directory as the kernel sees them.
public struct FileAttributes: Sendable {
  public var inode: UInt64
  public var size: UInt64
  public var mode: mode_t
  public var linkCount: Int
  public var modificationTime: Date

  public init(inode: UInt64, size: UInt64, mode: mode_t, linkCount: Int, modificationTime: Date) {
    self.inode = inode
    self.size = size
    self.mode = mode
    self.linkCount = linkCount
    self.modificationTime = modificationTime
  }

  var stat: stat {
    var status = Glibc.stat()
    status.st_ino = UInt(inode)
    status.st_mode = mode
    status.st_nlink = UInt(linkCount)
    // Sizes come from servers; whatever one claims, a stat must not trap the whole mount.
    status.st_size = off_t(clamping: size)
    status.st_blksize = 4096
    status.st_blocks = blkcnt_t(clamping: size / 512 + (size % 512 == 0 ? 0 : 1))
    status.st_uid = getuid()
    status.st_gid = getgid()
    let seconds = modificationTime.timeIntervalSince1970
    let time = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    status.st_mtim = time
    status.st_ctim = time
    status.st_atim = time
    return status
  }
}

/// One kernel request, to be answered exactly once, now or later, from any thread.
///
/// It carries libfuse's `fuse_req_t`. libfuse allows a reply from any thread as long as each
/// request gets exactly one, which is why this may be sent across threads; every method here
/// is a reply and must be the only one called.
public struct FuseRequest: @unchecked Sendable {
  let raw: fuse_req_t

  public func replyError(_ error: Int32) {
    bitsfs_reply_err(raw, error)
  }

  public func replyEntry(inode: UInt64, attributes: FileAttributes, timeout: Double) {
    var status = attributes.stat
    bitsfs_reply_entry(raw, inode, &status, timeout)
  }

  public func replyAttributes(_ attributes: FileAttributes, timeout: Double) {
    var status = attributes.stat
    bitsfs_reply_attr(raw, &status, timeout)
  }

  public func replyOpen(handle: UInt64, keepCache: Bool, directIO: Bool) {
    bitsfs_reply_open(raw, handle, keepCache ? 1 : 0, directIO ? 1 : 0)
  }

  public func replyBytes(_ bytes: UnsafeRawBufferPointer) {
    bitsfs_reply_buf(raw, bytes.baseAddress, bytes.count)
  }

  /// Replies with `count` bytes of the file `fd` from `offset`, without copying them through here.
  public func replyData(fd: Int32, offset: UInt64, count: Int) {
    bitsfs_reply_fd(raw, fd, offset, count)
  }

  public func replyXattrSize(_ size: Int) {
    bitsfs_reply_xattr(raw, size)
  }

  public func replyStatfs(blockSize: UInt, blocks: UInt64, files: UInt64) {
    var stats = statvfs()
    stats.f_bsize = blockSize
    stats.f_frsize = blockSize
    stats.f_blocks = fsblkcnt_t(blocks)
    stats.f_files = fsfilcnt_t(files)
    stats.f_namemax = 255
    bitsfs_reply_statfs(raw, &stats)
  }

  /// Answers a `readdir` of `size` bytes from `offset`, the index of the first entry wanted.
  public func replyDirectory(entries: [(name: String, inode: UInt64, mode: mode_t)], size: Int, offset: UInt64) {
    var buffer = [CChar](repeating: 0, count: size)
    var used = 0
    for index in Int(min(offset, UInt64(entries.count)))..<entries.count {
      var status = Glibc.stat()
      status.st_ino = UInt(entries[index].inode)
      status.st_mode = entries[index].mode
      let needed = buffer.withUnsafeMutableBufferPointer { pointer in
        fuse_add_direntry(
          raw, pointer.baseAddress! + used, size - used, entries[index].name, &status, off_t(index + 1))
      }
      // An entry that does not fit waits for the next call.
      guard used + needed <= size else { break }
      used += needed
    }
    buffer.withUnsafeBytes { replyBytes(UnsafeRawBufferPointer(rebasing: $0[0..<used])) }
  }
}

/// What a file system answers. Each method gets a request it must answer exactly once.
public protocol FileSystemOperations: AnyObject, Sendable {
  func lookup(_ request: FuseRequest, parent: UInt64, name: String)
  func getattr(_ request: FuseRequest, inode: UInt64)
  func open(_ request: FuseRequest, inode: UInt64, flags: Int32)
  func read(_ request: FuseRequest, inode: UInt64, size: Int, offset: UInt64, handle: UInt64)
  func release(_ request: FuseRequest, inode: UInt64, handle: UInt64)
  func opendir(_ request: FuseRequest, inode: UInt64)
  func readdir(_ request: FuseRequest, inode: UInt64, size: Int, offset: UInt64)
  func releasedir(_ request: FuseRequest, inode: UInt64, handle: UInt64)
  func getxattr(_ request: FuseRequest, inode: UInt64, name: String, size: Int)
  func listxattr(_ request: FuseRequest, inode: UInt64, size: Int)
  func statfs(_ request: FuseRequest)
}
