import FoundationEssentials
import Glibc

/// `Complete()`: the finished file appears at its local name.
extension DownloadFile {
  /// Puts the finished file at `localName`: the cache data file itself when the whole file was
  /// asked for, else the asked ranges back to back in the order given (AddFileWithRanges).
  /// Written aside, synced, renamed: an existing file is never half overwritten.
  func deliver() throws(BitsError) {
    guard let localName, version != nil else { return }
    commitNow()
    let scratch = localName + ".bitsfs-part"
    guard requestedRanges != nil else {
      try cache.moveData(to: scratch)
      try publish(scratch, as: localName)
      return
    }
    guard let ranges = try wantedRanges(), let data = state.withLock({ $0.data }) else { return }
    let output = try DataFile(path: scratch, create: true)
    var position: UInt64 = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    for range in ranges {
      var offset = range.lowerBound
      while offset < range.upperBound {
        let count = Int(min(UInt64(buffer.count), range.upperBound - offset))
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
        try data.read(into: chunk, at: offset)
        try output.write(UnsafeRawBufferPointer(chunk), at: position)
        offset += UInt64(count)
        position += UInt64(count)
      }
    }
    try output.synchronize()
    try publish(scratch, as: localName)
  }
}

/// Renames `scratch` to `path` with the permissions a newly created file gets (the cache keeps
/// its own files private).
func publish(_ scratch: String, as path: String) throws(BitsError) {
  guard chmod(scratch, 0o666 & ~processUmask()) == 0 else {
    throw BitsError.localFile(errno: errno, "cannot set the file's permissions", path: scratch)
  }
  guard rename(scratch, path) == 0 else {
    throw BitsError.localFile(errno: errno, "cannot put the file in place", path: path)
  }
}

/// The process's file mode creation mask, read without changing it: `umask(2)` can only set it,
/// and setting it to read it would race with every other thread creating files.
func processUmask() -> mode_t {
  let status = readWholeFile("/proc/self/status").map { String(decoding: $0, as: UTF8.self) } ?? ""
  for line in status.split(separator: "\n") where line.hasPrefix("Umask:") {
    if let mask = mode_t(line.dropFirst("Umask:".count).trimmingHTTPWhitespace(), radix: 8) { return mask }
  }
  return 0o022
}
