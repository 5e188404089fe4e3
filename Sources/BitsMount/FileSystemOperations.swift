import BitsEngine
import Glibc

/// One entry of a directory listing.
package struct DirectoryEntry: Sendable, Equatable {
  package var name: String
  package var inode: UInt64
  package var mode: mode_t
  /// Where a reading of the directory goes on after this entry (`DirectoryOffset`).
  package var offset: UInt64
  /// What a lookup of the entry would answer, for `readdirplus`; `nil` when a lookup must
  /// learn it first (a size the listing does not give).
  package var attributes: FileAttributes?
  /// How long the kernel may keep the name and the attributes.
  package var timeout: Double

  package init(
    name: String, inode: UInt64, mode: mode_t, offset: UInt64, attributes: FileAttributes? = nil, timeout: Double = 0
  ) {
    self.name = name
    self.inode = inode
    self.mode = mode
    self.offset = offset
    self.attributes = attributes
    self.timeout = timeout
  }
}

/// What a file system answers to one kernel request. The FUSE session turns it into the reply
/// (and packs listings and attribute values to the size the kernel asked for); tests read it.
package enum FileSystemReply: Sendable {
  /// An errno, or 0 for success without data.
  case error(Int32)
  case entry(FileAttributes, timeout: Double)
  case attributes(FileAttributes, timeout: Double)
  case opened(handle: UInt64, keepCache: Bool)
  case bytes([UInt8])
  /// `count` bytes of the cache data file from `offset`, sent without copying them here.
  case cached(DataFile, offset: UInt64, count: Int)
  /// Entries of a directory from where the kernel asked; the session sends those that fit.
  case directory([DirectoryEntry])
  /// The same with each entry's attributes (`readdirplus`), saving the kernel a lookup each.
  case directoryPlus([DirectoryEntry])
  /// An extended attribute's value, or a NUL-separated list of names.
  case attributeValue([UInt8])
  case fileSystemStatistics(blockSize: UInt, blocks: UInt64, files: UInt64)
}

/// Answers one request: called exactly once, from any thread, now or later.
package typealias FileSystemReplyHandler = @Sendable (FileSystemReply) -> Void

/// A read-only file system as operations that each answer through `reply`, exactly once.
package protocol FileSystemOperations: AnyObject, Sendable {
  func lookup(parent: UInt64, name: String, reply: @escaping FileSystemReplyHandler)
  func getattr(inode: UInt64, reply: @escaping FileSystemReplyHandler)
  func open(inode: UInt64, flags: Int32, reply: @escaping FileSystemReplyHandler)
  func read(inode: UInt64, size: Int, offset: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler)
  func release(inode: UInt64, handle: UInt64, reply: @escaping FileSystemReplyHandler)
  /// `readdir`, and with `plus` `readdirplus`: at most `count` entries after `offset`.
  /// Directories are not opened: the C shim answers opendir (ENOSYS, after which the kernel
  /// sends neither it nor releasedir) and releasedir itself.
  func readdir(inode: UInt64, offset: UInt64, count: Int, plus: Bool, reply: @escaping FileSystemReplyHandler)
  func getxattr(inode: UInt64, name: String, reply: @escaping FileSystemReplyHandler)
  func listxattr(inode: UInt64, reply: @escaping FileSystemReplyHandler)
  func statfs(reply: @escaping FileSystemReplyHandler)
}
