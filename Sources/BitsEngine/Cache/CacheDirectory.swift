import FoundationEssentials
import Glibc

/// What a cache directory holds, as found on disk: its entries (directories named by
/// `CacheKey`) and everything else, with the bytes each takes.
package enum CacheDirectory {
  /// One entry as found, with nothing in it trusted.
  package struct Entry: Sendable {
    package var path: String
    /// Bytes on disk (blocks allocated, as `du` counts them).
    package var diskBytes: UInt64
    /// Seconds since 1970 of the latest change to any of its files, or to its lock (taken at
    /// each open).
    package var lastUse: Int64
  }

  /// The entries of `directory` and the bytes of everything else in it (the directory itself
  /// included); `nil` if it cannot be read.
  package static func scan(_ directory: URL) -> (entries: [Entry], otherBytes: UInt64)? {
    let root = directory.path
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return nil }
    var entries: [Entry] = []
    var other = diskBytes(of: root, recursive: false)
    for name in names {
      let path = root + "/" + name
      if isEntry(path) {
        entries.append(
          Entry(path: path, diskBytes: diskBytes(of: path, recursive: true), lastUse: lastChange(of: path)))
      } else {
        other += diskBytes(of: path, recursive: true)
      }
    }
    return (entries, other)
  }

  /// Whether `path` is a cache entry: a directory named as `CacheKey` names them, holding only
  /// the files an entry has (and at least its lock or metadata).
  package static func isEntry(_ path: String) -> Bool {
    let name = URL(fileURLWithPath: path).lastPathComponent
    guard name.utf8.count == 16, name.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
      isDirectory(path), let files = try? FileManager.default.contentsOfDirectory(atPath: path)
    else { return false }
    return files.allSatisfy(CacheEntry.fileNames.contains) && (files.contains("lock") || files.contains("meta.json"))
  }

  /// Bytes allocated to `path` (and to everything below it when `recursive`), not following
  /// symbolic links.
  package static func diskBytes(of path: String, recursive: Bool) -> UInt64 {
    var info = stat()
    guard lstat(path, &info) == 0 else { return 0 }
    var total = UInt64(max(0, info.st_blocks)) * 512
    if recursive, info.st_mode & S_IFMT == S_IFDIR,
      let names = try? FileManager.default.contentsOfDirectory(atPath: path)
    {
      for name in names { total += diskBytes(of: path + "/" + name, recursive: true) }
    }
    return total
  }

  /// The latest modification time of `path` and of the files directly in it.
  private static func lastChange(of path: String) -> Int64 {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return ([path] + names.map { path + "/" + $0 }).reduce(Int64.min) { latest, file in
      var info = stat()
      guard lstat(file, &info) == 0 else { return latest }
      return max(latest, Int64(info.st_mtim.tv_sec))
    }
  }
}
