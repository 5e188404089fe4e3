import CoreMetrics

/// What the engine and the mount count through swift-metrics, for a program that bootstraps a backend
/// (`bitsfs mount --metrics`); without one, swift-metrics drops it all. Each handler is made at
/// its first use, after the program has bootstrapped its backend. Counters only: they never go
/// down, whatever files come and go (what is in flight or cached now is read from the files'
/// `statistics` when asked). Names follow Prometheus's conventions.
package enum EngineMetrics {
  /// Range requests sent (version probes are not counted).
  static let requests = Counter(label: "bitsfs_requests_total")
  /// Bytes received and written to the cache.
  static let fetchedBytes = Counter(label: "bitsfs_fetched_bytes_total")
  /// Bytes received for read-ahead, and how many of them readers then read.
  static let readAheadBytes = Counter(label: "bitsfs_read_ahead_bytes_total")
  static let readAheadUsedBytes = Counter(label: "bitsfs_read_ahead_used_bytes_total")
  /// Bytes readers asked for, by where they were when asked: already in the cache, or not.
  static let bytesReadFromCache = Counter(label: "bitsfs_read_bytes_total", dimensions: [("source", "cache")])
  static let bytesReadFromNetwork = Counter(label: "bitsfs_read_bytes_total", dimensions: [("source", "network")])

  /// Makes the handlers of the counters now, so that they show, at 0, from the first scrape
  /// (those by BITS code appear with their first error).
  package static func start() {
    for counter in [
      requests, fetchedBytes, readAheadBytes, readAheadUsedBytes, bytesReadFromCache, bytesReadFromNetwork,
    ] {
      counter.increment(by: 0)
    }
    _ = readDuration
  }

  /// A request failed for good, with `code`.
  static func requestFailed(_ code: BitsErrorCode) {
    Counter(label: "bitsfs_request_failures_total", dimensions: [("code", code.name)]).increment()
  }

  /// A request failed with `code`, a transient failure, and is to be retried.
  static func requestRetried(_ code: BitsErrorCode) {
    Counter(label: "bitsfs_request_retries_total", dimensions: [("code", code.name)]).increment()
  }

  /// From the kernel's read to its answer, for every read the mount was sent.
  package static let readDuration = Timer(label: "bitsfs_read_duration_seconds")

  /// A reader got EIO for a failure with `code`.
  package static func readFailed(_ code: BitsErrorCode) {
    Counter(label: "bitsfs_read_errors_total", dimensions: [("code", code.name)]).increment()
  }
}
