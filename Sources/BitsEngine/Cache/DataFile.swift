import CLinux
import Glibc

/// The data file's descriptor. Each version of a cached file gets its own `DataFile`; the
/// descriptor closes when the last reader lets go of it.
package final class DataFile: Sendable {
  package let descriptor: Int32
  package let path: String

  init(path: String, create: Bool) throws(BitsError) {
    let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0)
    let fd = Glibc.open(path, flags, 0o600)
    guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot open the cache data file", path: path) }
    descriptor = fd
    self.path = path
  }

  deinit {
    close(descriptor)
  }

  /// The file's size on disk, or `nil` if it cannot be read.
  var size: UInt64? {
    var info = stat()
    return fstat(descriptor, &info) == 0 ? UInt64(info.st_size) : nil
  }

  func setSize(_ size: UInt64) throws(BitsError) {
    guard ftruncate(descriptor, off_t(size)) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot size the cache data file", path: path)
    }
  }

  /// Allocates disk space for `range` before its bytes arrive. A full disk then fails a request
  /// before it transfers anything, and writing into allocated space costs the file system less
  /// CPU than allocating as it goes. Where `fallocate` is not supported, space is allocated as
  /// bytes are written.
  func reserve(_ range: Range<UInt64>) throws(BitsError) {
    while bitsfs_fallocate(descriptor, Int64(range.lowerBound), Int64(range.count)) != 0 {
      switch errno {
      case EINTR: continue
      case EOPNOTSUPP: return
      default: throw BitsError.localFile(errno: errno, "cannot allocate space in the cache", path: path)
      }
    }
  }

  /// Frees the disk space of `range` (evicted bytes); it reads as zeros afterwards. Fails where
  /// the file system cannot punch holes, so the space is never thought freed when it is not.
  func punchHole(_ range: Range<UInt64>) throws(BitsError) {
    while bitsfs_punch_hole(descriptor, Int64(range.lowerBound), Int64(range.count)) != 0 {
      guard errno == EINTR else {
        throw BitsError.localFile(errno: errno, "cannot free space in the cache", path: path)
      }
    }
  }

  /// Writes all of `bytes` at `offset`.
  package func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(BitsError) {
    try repeatUntilDone(bytes.count, failure: "cannot write to the cache") { done in
      pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
    }
  }

  /// Reads exactly `buffer.count` bytes at `offset`.
  package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BitsError) {
    try repeatUntilDone(buffer.count, failure: "cannot read from the cache") { done in
      pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
    }
  }

  /// Calls `operation` with the count done so far until `count` bytes are through: system calls
  /// may move fewer bytes than asked, or be interrupted.
  private func repeatUntilDone(_ count: Int, failure: String, _ operation: (Int) -> Int) throws(BitsError) {
    var done = 0
    while done < count {
      let result = operation(done)
      if result < 0 {
        if errno == EINTR { continue }
        throw BitsError.localFile(errno: errno, failure, path: path)
      }
      guard result > 0 else {
        throw BitsError(.localFileChanged, "the cache data file is shorter than expected", url: path)
      }
      done += result
    }
  }

  func synchronize() throws(BitsError) {
    guard fdatasync(descriptor) == 0 else {
      throw BitsError.localFile(errno: errno, "cannot flush the cache", path: path)
    }
  }
}
