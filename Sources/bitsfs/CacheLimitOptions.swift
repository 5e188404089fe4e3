import ArgumentParser
import BitsEngine
import FoundationEssentials
import Glibc

/// `--cache-limit` and `--cache-min-free`, shared by the commands that fill a cache.
struct CacheLimitOptions: ParsableArguments {
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The most the cache directory may hold on disk, metadata included: a size (10G, 500M) or a percentage of its file system (10%).",
      valueName: "size"),
    transform: NumericOption.sizeOrPercent("--cache-limit", in: (1 << 20)...UInt64(Int64.max)))
  var cacheLimit: NumericOption.Amount?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Free space to keep on the cache's file system, evicting cached bytes to keep it: a size or a percentage (mount: 5%, fetch: 0).",
      valueName: "size"),
    transform: NumericOption.sizeOrPercent("--cache-min-free", in: 0...UInt64(Int64.max)))
  var cacheMinFree: NumericOption.Amount?

  /// The limits for a cache in `directory`, evicting in units of `evictionUnit`; `nil` when
  /// there are none.
  func limits(for directory: URL, defaultMinimumFree: NumericOption.Amount, evictionUnit: UInt64) throws(BitsError)
    -> CacheLimits?
  {
    let minimumFree = cacheMinFree ?? defaultMinimumFree
    guard cacheLimit != nil || minimumFree != .bytes(0) else { return nil }
    let size = try Self.fileSystemSize(holding: directory)
    let maximum = cacheLimit?.bytes(of: size)
    if let maximum, maximum < 1 << 20 {
      throw BitsError(.invalidArgument, "--cache-limit comes to \(maximum) bytes; it must be at least 1 MiB")
    }
    return CacheLimits(
      maximumBytes: maximum, minimumFreeBytes: minimumFree.bytes(of: size), evictionUnit: evictionUnit)
  }

  /// The bytes the cache may take: the limit, or less where the file system's free space
  /// (with what the cache holds already) less the minimum to keep is less.
  static func room(for limits: CacheLimits, directory: URL) -> UInt64? {
    var room = limits.maximumBytes
    var info = statvfs()
    if limits.minimumFreeBytes > 0, statvfs(directory.path, &info) == 0 {
      let free = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
      let held = CacheDirectory.diskBytes(of: directory.path, recursive: true)
      let available = free.addingReportingOverflow(held).partialValue
      let usable = available > limits.minimumFreeBytes ? available - limits.minimumFreeBytes : 0
      room = min(room ?? .max, usable)
    }
    return room
  }

  /// The size of the file system `directory` is on (or would be, once created).
  private static func fileSystemSize(holding directory: URL) throws(BitsError) -> UInt64 {
    var path = directory.standardizedFileURL
    var info = statvfs()
    while statvfs(path.path, &info) != 0 {
      guard errno == ENOENT, path.path != "/" else {
        throw BitsError.localFile(errno: errno, "cannot read the size of the cache's file system", path: path.path)
      }
      path = path.deletingLastPathComponent()
    }
    return UInt64(info.f_blocks).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
  }
}
