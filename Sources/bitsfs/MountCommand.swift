import ArgumentParser
import BitsEngine
import BitsMount
import Dispatch
import FoundationEssentials
import Glibc

struct MountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mount",
    abstract: "Mount remote files as a read-only file system; reads fetch only the bytes they touch.",
    discussion: """
      Each URL appears as MOUNTPOINT/<last path segment>. Every URL is checked (reachable, \
      found, range support) before mounting; the command returns once the mount answers.
      """)

  @Argument(help: ArgumentHelp("The http(s) URLs to mount, then the mount point.", valueName: "url… mountpoint"))
  var arguments: [String]

  @Flag(name: .shortAndLong, help: "Stay in the foreground instead of running as a daemon.")
  var foreground = false

  @Flag(help: "Log every HTTP request (as a daemon, to <cache-dir>/bitsfs.log).")
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

  @OptionGroup var transfer: TransferOptions

  @OptionGroup var cache: CacheLimitOptions

  func validate() throws {
    guard arguments.count >= 2 else { throw ValidationError("give at least one URL and a mount point") }
  }

  func run() throws {
    HeaderSources.hideFromCommandLine()
    do throws(BitsError) {
      let configuration = try mountConfiguration()
      try DescriptorLimit.raise(toMount: configuration.urls)
      Daemon.protectProcess(debugging: debug)
      if foreground { return try serve(configuration, ready: {}) }
      let daemon = try Daemon.detach()
      let logPath = debug ? configuration.cacheDirectory.appendingPathComponent("bitsfs.log").path : "/dev/null"
      do {
        try serve(configuration) { daemon.reportReady(logPath: logPath) }
      } catch {
        daemon.reportFailure(error)
        fail(with: error)
      }
    } catch {
      fail(with: error)
    }
  }

  private func mountConfiguration() throws(BitsError) -> MountConfiguration {
    var configuration = MountConfiguration(
      urls: Array(arguments.dropLast()),
      // Absolute: the mount serves from the root directory.
      mountPoint: URL(fileURLWithPath: arguments[arguments.count - 1]).standardizedFileURL.path,
      cacheDirectory: cacheDir.map { URL(fileURLWithPath: $0) } ?? Self.defaultCacheDirectory)
    configuration.fuseOptions = fuseOptions.flatMap { $0.split(separator: ",").map(String.init) }
    configuration.http = try transfer.httpConfiguration()
    if debug {
      configuration.http.trace = { line in writeToStandardError("bitsfs: \(line)\n") }
    }
    configuration.job = try transfer.jobConfiguration()
    configuration.job.isOffline = offline
    configuration.reads.readTimeout = .milliseconds(Int64(readTimeout * 1000))
    configuration.reads.blockSize = blockSize
    configuration.reads.maximumReadAhead = readAheadMax
    configuration.reads.revalidationInterval = .milliseconds(Int64(revalidate * 1000))
    // A read gives up after the read timeout; its request keeps retrying as long, so a server
    // that comes back serves the next read.
    configuration.job.retryPeriod = min(configuration.job.retryPeriod, configuration.reads.readTimeout)
    configuration.job.cacheLimits = try cache.limits(
      for: configuration.cacheDirectory, defaultMinimumFree: .percent(5), evictionUnit: blockSize)
    if let limits = configuration.job.cacheLimits,
      let room = CacheLimitOptions.room(for: limits, directory: configuration.cacheDirectory)
    {
      // Requests in flight cannot be evicted, and read-ahead beyond a small part of the room
      // would evict what it read ahead before use.
      configuration.reads.maximumReadAhead = min(readAheadMax, room / 8)
      configuration.job.maximumRequestSize = min(
        configuration.job.maximumRequestSize, max(blockSize, room / 16 / blockSize * blockSize))
    }
    return configuration
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

  private func serve(_ configuration: MountConfiguration, ready: @Sendable @escaping () -> Void) throws(BitsError) {
    let mount = try Mount(configuration: configuration)
    // Still on the caller's standard error: the daemon detaches from it once mounted.
    for file in mount.job.files where !offline && file.statistics.isVersionUnconfirmed {
      let reason = file.statistics.lastError.map { " (\($0.code.name))" } ?? ""
      writeToStandardError(
        "bitsfs: \(shownURL(file.remoteURL)): the server cannot be reached\(reason); serving the version in the "
          + "cache, to be confirmed when the server answers\n")
    }
    let signals = [SIGINT, SIGTERM].map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { mount.stop() }
      source.resume()
      return source
    }
    try mount.run(ready: ready)
    withExtendedLifetime(signals) {}
  }
}
