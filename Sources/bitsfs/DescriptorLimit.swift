import BitsEngine
import FoundationEssentials
import Glibc

/// The open files a mount needs, checked against what the process may open before anything is
/// mounted: running out later traps in the middle of serving.
enum DescriptorLimit {
  /// Each URL keeps its cache lock and its data file open for the life of the mount.
  static let perURL = 2
  /// libcurl keeps up to 16 connections to a host on each of its 2 network threads.
  static let perHost = 32
  /// The FUSE device, the log, pipes, the runtime's own, and files open briefly while cache
  /// entries are written (one per thread of the pool that checks the URLs).
  static let margin = 128

  static func needed(for urls: [String]) -> Int {
    let hosts = Set(urls.map { URLComponents(string: $0)?.host ?? $0 })
    return perURL * urls.count + perHost * hosts.count + margin
  }

  /// Raises the soft limit to the hard one; fails if even that is below what `urls` need.
  static func raise(toMount urls: [String]) throws(BitsError) {
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0 else { return }
    if limit.rlim_cur < limit.rlim_max {
      var raised = limit
      raised.rlim_cur = limit.rlim_max
      if setrlimit(resource, &raised) == 0 { limit = raised }
    }
    let needed = needed(for: urls)
    guard limit.rlim_cur >= needed else {
      throw BitsError(
        .unexpected,
        "too many open files (EMFILE): a mount of \(urls.count) URL\(urls.count == 1 ? "" : "s") needs \(needed) file descriptors, more than "
          + "the limit of \(limit.rlim_cur) (ulimit -n; the hard limit is \(limit.rlim_max)); raise it or mount fewer URLs"
      )
    }
  }

  private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
