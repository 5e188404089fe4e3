import FoundationEssentials
import Glibc

// Small-file and directory I/O on plain system calls, shared by the cache's files.

/// Makes the directory entries of `path` (a directory) durable.
func synchronize(_ path: String) throws(BitsError) {
  let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot open", path: path) }
  defer { close(fd) }
  guard fsync(fd) == 0 else { throw BitsError.localFile(errno: errno, "cannot flush", path: path) }
}

/// The contents of a small file, or `nil` if it cannot be read. (Plain system calls: Foundation's
/// `FileManager.contents(atPath:)` leaks a buffer for every empty file it reads.)
func readWholeFile(_ path: String) -> Data? {
  let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var bytes = Data()
  var chunk = [UInt8](repeating: 0, count: 64 << 10)
  while true {
    let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    if count < 0, errno == EINTR { continue }
    guard count >= 0 else { return nil }
    if count == 0 { return bytes }
    bytes.append(contentsOf: chunk[0..<count])
  }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old or
/// the new content, never a torn one; `durably` syncs the content before the rename.
func writeReplacing(_ bytes: Data, to path: String, durably: Bool) throws(BitsError) {
  let scratch = path + ".tmp"
  let fd = Glibc.open(scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
  guard fd >= 0 else { throw BitsError.localFile(errno: errno, "cannot write", path: scratch) }
  defer { close(fd) }
  let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
  guard written == bytes.count, !durably || fsync(fd) == 0 else {
    throw BitsError.localFile(errno: errno, "cannot write", path: scratch)
  }
  guard rename(scratch, path) == 0 else {
    throw BitsError.localFile(errno: errno, "cannot replace", path: path)
  }
}

/// Removes the files of `directory` whose names `isOurs` accepts, and nothing else, then the
/// directory if that leaves it empty: how the stores kept beside the cache entries forget.
func removeFiles(in directory: URL, where isOurs: (String) -> Bool) {
  let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
  for name in names where isOurs(name) {
    unlink(directory.appendingPathComponent(name).path)
  }
  rmdir(directory.path)
}
