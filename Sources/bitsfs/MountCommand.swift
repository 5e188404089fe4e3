import ArgumentParser
import BitsEngine
import BitsMount
import Dispatch
import FoundationEssentials
import Glibc
import Logging

struct MountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mount",
    abstract: "Mount remote files as a read-only file system; reads fetch only the bytes they touch.",
    discussion: """
      Each URL appears as MOUNTPOINT/<last path segment>, or where URL=path/in/mount puts it. A \
      URL ending in / mounts the directory tree below it (the whole mount when it is the only \
      one), listed from the server's directory pages or an S3 bucket. Every URL is checked \
      (reachable, found, range support; a directory's listing) before mounting; the command \
      returns once the mount answers.
      """)

  @Argument(
    help: ArgumentHelp(
      "The http(s) URLs to mount (URL or URL=path/in/mount; a URL ending in / is a directory tree), then the mount point.",
      valueName: "url… mountpoint"))
  var arguments: [String]

  @Option(
    help: ArgumentHelp(
      "A file of URLs to mount, one 'URL [path/in/mount]' a line, # comments (repeatable).", valueName: "file"))
  var manifest: [String] = []

  @Option(
    parsing: .unconditional,
    help:
      "Seconds a directory listing answers before it is read again (in the background); also the kernel's cache of names.",
    transform: NumericOption.seconds("--dir-ttl", in: 0...31_536_000))
  var dirTTL: Double = 300

  @Option(
    parsing: .unconditional, help: "The most entries one directory may list.",
    transform: NumericOption.count("--dir-max-entries", in: 1...10_000_000))
  var dirMaxEntries: Int = 100_000

  @Flag(name: .shortAndLong, help: "Stay in the foreground instead of running as a daemon.")
  var foreground = false

  @Flag(help: "Log every HTTP request (at least --log-level debug), and let the mount process dump core.")
  var debug = false

  @Flag(help: "Use no network: serve what the cache holds; reads of anything else fail with EIO at once.")
  var offline = false

  @Option(
    name: .customShort("o"),
    help: ArgumentHelp("FUSE mount options, e.g. allow_other (repeatable).", valueName: "options"))
  var fuseOptions: [String] = []

  @Option(help: "Where fetched bytes are kept (default: $XDG_CACHE_HOME/bitsfs).")
  var cacheDir: String?

  @Option(
    parsing: .unconditional, help: "Seconds a read may wait for the server before it fails with EIO.",
    transform: NumericOption.seconds("--read-timeout", in: 0.001...86_400))
  var readTimeout: Double = 20

  // Up to a year.
  @Option(
    parsing: .unconditional, help: "Seconds after which opening a file checks again whether the remote file changed.",
    transform: NumericOption.seconds("--revalidate", in: 0...31_536_000))
  var revalidate: Double = 60

  @Option(
    parsing: .unconditional, help: "Bytes fetched at least per missing block (aligned).",
    transform: NumericOption.powerOfTwo("--block-size", in: 4096...(64 << 20)))
  var blockSize: UInt64 = 64 << 10

  @Option(
    help: ArgumentHelp(
      "The largest read-ahead window a sequential reader earns, e.g. 16M; 0 turns read-ahead off.",
      valueName: "size"),
    transform: NumericOption.size("--read-ahead-max", in: 0...(1 << 30)))
  var readAheadMax: UInt64 = 64 << 20

  @Option(
    help: ArgumentHelp(
      "The kernel's own read-ahead on the mount, e.g. 128K: a page fault of a mapping reads this much around it.",
      valueName: "size"),
    transform: NumericOption.size("--kernel-read-ahead", in: 4096...(16 << 20)))
  var kernelReadAhead: UInt64 = 256 << 10

  @Option(
    help: ArgumentHelp(
      "Fill the files whose path in the mount matches PATTERN in the background (repeatable; '*' for all).",
      valueName: "pattern"))
  var prefetch: [String] = []

  @Option(
    help: ArgumentHelp(
      "The priority of background fill: high, normal or low (below every reader).", valueName: "priority"),
    transform: MountCommand.priority)
  var prefetchPriority: TransferPriority = .low

  @Option(
    help: ArgumentHelp("The most bytes a second background fill asks for, e.g. 10M.", valueName: "rate"),
    transform: NumericOption.size("--prefetch-rate", in: 4096...(1 << 40)))
  var prefetchRate: UInt64?

  @Option(
    help: ArgumentHelp(
      "A shell command run once a prefetched file is wholly filled ($BITSFS_PATH, $BITSFS_URL).", valueName: "command"))
  var onComplete: String?

  @Option(
    help: ArgumentHelp(
      "A shell command run when a prefetched file fails ($BITSFS_PATH, $BITSFS_URL, $BITSFS_ERROR).",
      valueName: "command"))
  var onError: String?

  @Option(
    parsing: .unconditional, help: "Seconds between two FileRangesTransferred events of one file (bitsfs events).",
    transform: NumericOption.seconds("--min-notification-interval", in: 0...86_400))
  var minNotificationInterval: Double = 0.5

  @Option(
    help: ArgumentHelp(
      "Serve Prometheus metrics at http://ADDRESS/metrics, e.g. 127.0.0.1:9464 ([::1]:9464 for IPv6); off unless given.",
      valueName: "address"),
    transform: MountCommand.listenAddress)
  var metrics: ListenAddress?

  @OptionGroup var transfer: TransferOptions

  @OptionGroup var log: LogOptions

  @OptionGroup var cache: CacheLimitOptions

  func validate() throws {
    guard arguments.count >= 2 || (!manifest.isEmpty && arguments.count == 1) else {
      throw ValidationError("give at least one URL (or --manifest) and a mount point")
    }
  }

  func run() throws {
    HeaderSources.hideFromCommandLine()
    do throws(BitsError) {
      let configuration = try mountConfiguration()
      try DescriptorLimit.raise(toMount: configuration.urls)
      Daemon.protectProcess(debugging: debug)
      if foreground {
        return try serve(configuration, logger: try log.logger(foreground: true, debug: debug), ready: {})
      }
      let daemon = try Daemon.detach()
      do {
        // Opened by the daemon, which keeps none of its caller's descriptors.
        let logger = try log.logger(foreground: false, debug: debug)
        try serve(configuration, logger: logger) { daemon.reportReady() }
      } catch {
        daemon.reportFailure(error)
        fail(with: error)
      }
    } catch {
      fail(with: error)
    }
  }

  private func mountConfiguration() throws(BitsError) -> MountConfiguration {
    var entries = try arguments.dropLast().map { argument throws(BitsError) in try MountEntry(argument: argument) }
    for path in manifest {
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw BitsError(.invalidArgument, "cannot read the manifest \(path)")
      }
      entries += try MountEntry.manifest(text, name: path)
    }
    var configuration = MountConfiguration(
      entries: entries,
      // Absolute: the mount serves from the root directory.
      mountPoint: URL(fileURLWithPath: arguments[arguments.count - 1]).standardizedFileURL.path,
      cacheDirectory: cacheDir.map { URL(fileURLWithPath: $0) } ?? Self.defaultCacheDirectory)
    configuration.fuseOptions = fuseOptions.flatMap { $0.split(separator: ",").map(String.init) }
    configuration.http = try transfer.httpConfiguration()
    configuration.job = try transfer.jobConfiguration()
    configuration.job.isOffline = offline
    configuration.reads.readTimeout = .milliseconds(Int64(readTimeout * 1000))
    configuration.reads.blockSize = blockSize
    configuration.reads.maximumReadAhead = readAheadMax
    configuration.reads.kernelReadAhead = kernelReadAhead
    configuration.reads.revalidationInterval = .milliseconds(Int64(revalidate * 1000))
    configuration.reads.directoryTimeToLive = .milliseconds(Int64(dirTTL * 1000))
    configuration.reads.listingLimits.entries = dirMaxEntries
    configuration.reads.listingLimits.time = max(configuration.reads.readTimeout, .seconds(5))
    configuration.reads.prefetch = prefetch
    configuration.reads.prefetchPriority = prefetchPriority
    configuration.reads.onComplete = onComplete
    configuration.reads.onError = onError
    configuration.job.minimumNotificationInterval = .milliseconds(Int64(minNotificationInterval * 1000))
    configuration.job.backgroundRate = prefetchRate
    // A read gives up after the read timeout; its request keeps retrying as long, so a server
    // that comes back serves the next read.
    configuration.job.retryPeriod = min(configuration.job.retryPeriod, configuration.reads.readTimeout)
    configuration.job.cacheLimits = try cache.limits(
      for: configuration.cacheDirectory, defaultMinimumFree: .percent(5), evictionUnit: blockSize)
    if let limits = configuration.job.cacheLimits,
      let room = CacheLimitOptions.room(for: limits, directory: configuration.cacheDirectory)
    {
      configuration.reads.cacheRoom = room
      // Requests in flight cannot be evicted, and read-ahead beyond a small part of the room
      // would evict what it read ahead before use.
      configuration.reads.maximumReadAhead = min(readAheadMax, room / 8)
      configuration.job.maximumRequestSize = min(
        configuration.job.maximumRequestSize, max(blockSize, room / 16 / blockSize * blockSize))
    }
    return configuration
  }

  static func priority(_ text: String) throws -> TransferPriority {
    switch text {
    case "high": .high
    case "normal": .normal
    case "low": .low
    default: throw ValidationError("--prefetch-priority must be high, normal or low, not '\(text)'")
    }
  }

  static func listenAddress(_ text: String) throws -> ListenAddress {
    guard let address = ListenAddress(text) else {
      throw ValidationError(
        "--metrics must be a numeric address and a port, e.g. 127.0.0.1:9464 or [::1]:9464, not '\(text)'")
    }
    return address
  }

  static var defaultCacheDirectory: URL {
    let environment = ProcessInfo.processInfo.environment
    let base =
      environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
      ?? URL(fileURLWithPath: environment["HOME"] ?? homeDirectory).appendingPathComponent(".cache")
    return base.appendingPathComponent("bitsfs")
  }

  private static var homeDirectory: String {
    getpwuid(getuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/"
  }

  /// Mounts and serves until unmounted, logging to `logger`.
  private func serve(
    _ configuration: MountConfiguration, logger: Logger, ready: @Sendable @escaping () -> Void
  ) throws(BitsError) {
    var configuration = configuration
    configuration.logger = logger
    if logger.logLevel <= .debug {
      configuration.http.trace = { line in logger.debug("\(line)") }
    }
    // Listening before mounting: an address that cannot be had mounts nothing.
    let metrics = try self.metrics.map { address throws(BitsError) in try MountMetrics(address: address) }
    let mount: Mount
    do {
      mount = try Mount(configuration: configuration)
    } catch {
      logger.error(
        "cannot mount", metadata: logMetadata(error.logFields.merging(["mount-point": configuration.mountPoint]) { $1 })
      )
      throw error
    }
    // Still on the caller's standard error: the daemon detaches from it once mounted.
    for file in mount.job.files where !offline && file.statistics.isVersionUnconfirmed {
      let reason = file.statistics.lastError.map { " (\($0.code.name))" } ?? ""
      writeToStandardError(
        "bitsfs: \(shownURL(file.remoteURL)): the server cannot be reached\(reason); serving the version in the "
          + "cache, to be confirmed when the server answers\n")
    }
    if let metrics, let address = self.metrics {
      metrics.observe(mount.job)
      logger.info("metrics at http://\(address)/metrics")
    }
    let signals = [SIGINT, SIGTERM].map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { mount.stop() }
      source.resume()
      return source
    }
    try mount.run(ready: ready)
    metrics?.stop()
    withExtendedLifetime(signals) {}
  }
}
