import BitsEngine
import BitsMount
import CoreMetrics
import Prometheus
import Synchronization

/// `bitsfs mount --metrics ADDRESS`: the Prometheus backend of what the engine and the mount
/// count through swift-metrics, and gauges read from the mount's files at each scrape, served
/// as Prometheus's text format at `http://ADDRESS/metrics`. Nothing listens without it.
final class MountMetrics: Sendable {
  /// Reads take from a tenth of a millisecond (the cache) to the read timeout (20 s by default).
  private static let readDurationBuckets: [Duration] = [
    .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
    .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
    .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(20),
  ]

  private let endpoint: MetricsEndpoint
  private let registry = PrometheusCollectorRegistry()
  private let requestsInFlight: Prometheus.Gauge
  private let cacheFilledBytes: Prometheus.Gauge
  /// The job whose files the gauges read, once mounted.
  private let job = Mutex<DownloadJob?>(nil)

  /// Makes Prometheus the backend of swift-metrics (once per process, before the mount counts
  /// anything) and listens on `address`, failing if it cannot.
  init(address: ListenAddress) throws(BitsError) {
    endpoint = try MetricsEndpoint(address: address)
    requestsInFlight = registry.makeGauge(name: "bitsfs_requests_in_flight")
    cacheFilledBytes = registry.makeGauge(name: "bitsfs_cache_filled_bytes")
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.durationHistogramBuckets["bitsfs_read_duration_seconds"] = Self.readDurationBuckets
    MetricsSystem.bootstrap(factory)
    EngineMetrics.start()
    endpoint.start { [self] in exposition() }
  }

  /// Prometheus's text format of everything counted, with the gauges read now.
  private func exposition() -> [UInt8] {
    let statistics = job.withLock { $0?.files ?? [] }.map(\.statistics)
    requestsInFlight.set(Int64(statistics.reduce(0) { $0 + $1.requestsInFlight }))
    // Bytes on disk: their sum fits.
    cacheFilledBytes.set(Int64(clamping: statistics.reduce(0) { $0 + $1.filledBytes }))
    return registry.emitToBuffer()
  }

  /// The gauges read `job`'s files from now on.
  func observe(_ job: DownloadJob) {
    self.job.withLock { $0 = job }
  }

  func stop() {
    endpoint.stop()
  }
}
