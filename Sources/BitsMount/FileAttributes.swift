import FoundationEssentials
import Glibc

/// The attributes of a file or directory as the kernel sees them.
public struct FileAttributes: Sendable, Equatable {
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
