import BitsEngine
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import Synchronization

/// Everything a mount needs to know.
public struct MountConfiguration: Sendable {
  public var entries: [MountEntry]
  public var mountPoint: String
  public var cacheDirectory: URL
  public var fuseOptions: [String] = []
  public var http = HTTPConfiguration()
  public var job = JobConfiguration()
  public var reads = MountOptions()
  /// Where the mount and its files log (mount and unmount at info; see `JobConfiguration.logger`
  /// and `MountedFileSystem` for the rest).
  public var logger = Logger.disabled

  public init(entries: [MountEntry], mountPoint: String, cacheDirectory: URL) {
    self.entries = entries
    self.mountPoint = mountPoint
    self.cacheDirectory = cacheDirectory
  }

  public init(urls: [String], mountPoint: String, cacheDirectory: URL) {
    self.init(entries: urls.map { MountEntry(url: $0) }, mountPoint: mountPoint, cacheDirectory: cacheDirectory)
  }

  public var urls: [String] { entries.map(\.url) }
}

/// A live mount: an on-demand job whose files are those of the mount's tree, served through FUSE.
public final class Mount: Sendable {
  public let configuration: MountConfiguration
  public let job: DownloadJob
  private let client: HTTPClient
  private let fileSystem: MountedFileSystem
  private let session = Mutex<FuseSession?>(nil)
  /// Where `bitsfs prefetch` reaches the mount (published as `user.bitsfs.control`).
  private let controlPath: String?

  /// Checks the mount point, every file URL (reachable, found, range support, size and
  /// version) and every directory URL (its listing), before anything is mounted; each failure
  /// is a clear `BitsError`.
  public init(configuration: MountConfiguration) throws(BitsError) {
    var configuration = configuration
    configuration.mountPoint = URL(fileURLWithPath: configuration.mountPoint).standardizedFileURL.path
    self.configuration = configuration
    guard !configuration.entries.isEmpty else { throw BitsError(.invalidArgument, "no URL to mount") }
    var tree = MountTree()
    var placed: [(node: Int, entry: MountEntry)] = []
    for entry in configuration.entries {
      let location = entry.isDirectory ? DirectoryLocation(directoryURL: entry.url) : nil
      if entry.isDirectory, location == nil {
        throw BitsError(.invalidArgument, "not an http(s) URL of a directory", url: entry.url)
      }
      let path = try entry.placement(alone: configuration.entries.count == 1)
      do throws(MountTreeError) {
        placed.append((try tree.place(url: entry.url, location: location, at: path), entry))
      } catch {
        throw BitsError(.invalidArgument, "\(error)", url: entry.url)
      }
    }
    try Self.checkMountPoint(configuration.mountPoint)
    try Self.prepareCacheDirectory(configuration.cacheDirectory)

    var jobConfiguration = configuration.job
    jobConfiguration.isOnDemand = true
    jobConfiguration.logger = configuration.logger
    let relay = JobEventRelay()
    client = HTTPClient(configuration: configuration.http)
    let job = DownloadJob(
      displayName: "mount \(configuration.mountPoint)", cacheDirectory: configuration.cacheDirectory,
      transport: client, configuration: jobConfiguration,
      callbacks: JobCallbacks(
        fileRangesTransferred: { _, file, ranges in relay.rangesTransferred(file, ranges: ranges) },
        fileChanged: { _, file in relay.fileChanged(file) },
        fileFailed: { _, file, error in relay.failed(file, error: error) },
        fileIdle: { _, file in relay.idle(file) }))
    self.job = job
    // One file per URL, however many places show it: a cache entry has one writer.
    var byURL: [String: DownloadFile] = [:]
    var files: [Int: DownloadFile] = [:]
    for (node, entry) in placed where !entry.isDirectory {
      if byURL[entry.url] == nil { byURL[entry.url] = try job.addFile(remoteURL: entry.url, localName: nil) }
      files[node] = byURL[entry.url]
    }
    let directories = placed.filter(\.entry.isDirectory)
    // Every URL is checked at once: the mount waits for the slowest server, not for their sum.
    // A directory's first listing is read now, so that a URL that lists nothing says so.
    let outcomes = Mutex<(failures: [Int: BitsError], listings: [Int: ListingAnswer])>(([:], [:]))
    let checks = DispatchGroup()
    for (node, file) in files where byURL[file.remoteURL] === file {
      DispatchQueue.global().async(group: checks) {
        do throws(BitsError) {
          try file.connect()
        } catch {
          outcomes.withLock { $0.failures[node] = error }
        }
      }
    }
    let reader = job.directoryReader(limits: configuration.reads.listingLimits)
    let store = ListingStore(cacheDirectory: configuration.cacheDirectory)
    let timeToLive = configuration.reads.directoryTimeToLive
    for (node, _) in directories {
      guard let location = tree.directory(node)?.location else { continue }
      DispatchQueue.global().async(group: checks) {
        do throws(BitsError) {
          let listing = try Self.firstListing(of: location, reader: reader, store: store, timeToLive: timeToLive)
          outcomes.withLock { $0.listings[node] = listing }
        } catch {
          outcomes.withLock { $0.failures[node] = error }
        }
      }
    }
    checks.wait()
    let (failures, listings) = outcomes.withLock { $0 }
    if let first = failures.min(by: { $0.key < $1.key }) { throw first.value }
    let now = ContinuousClock.now
    for (node, (listing, location, age)) in listings {
      _ = tree.apply(listing, from: location, to: node, at: now - age)
    }
    controlPath = Self.controlSocketPath(mountPoint: configuration.mountPoint)
    fileSystem = MountedFileSystem(
      job: job, tree: tree, files: files, options: configuration.reads, listingStore: store,
      fillStore: FillRequestStore(cacheDirectory: configuration.cacheDirectory), controlSocketPath: controlPath,
      hooks: FillHooks(
        onComplete: configuration.reads.onComplete, onError: configuration.reads.onError,
        mountPoint: configuration.mountPoint),
      logger: configuration.logger)
    relay.attach(fileSystem)
    // Files of directories join the job as they are opened; a job of none has nothing to resume.
    if !files.isEmpty { try job.resume() }
    fileSystem.startPrefetch()
  }

  /// The mount's control socket, in the user's runtime directory (`$XDG_RUNTIME_DIR/bitsfs`, else
  /// `/tmp/bitsfs-UID`, made 0700 and used only if it is the user's own and private); `nil` when
  /// there is no such directory.
  static func controlSocketPath(mountPoint: String) -> String? {
    let environment = ProcessInfo.processInfo.environment
    let directory = environment["XDG_RUNTIME_DIR"].map { $0 + "/bitsfs" } ?? "/tmp/bitsfs-\(getuid())"
    mkdir(directory, 0o700)
    guard UnixSocket.isPrivateDirectory(directory) else { return nil }
    let path = directory + "/control-" + String(FNV1a.hash(mountPoint.utf8), radix: 16) + ".sock"
    return path.utf8.count <= UnixSocket.maximumPathLength ? path : nil
  }

  /// A listing, where it was read from, and its age.
  private typealias ListingAnswer = (DirectoryListing, DirectoryLocation, Duration)

  /// The listing a directory URL of the mount starts with: the stored one within its time to
  /// live, else the server's; a server away for now (a transient failure) is answered for by the
  /// stored one of any age, read again at the next look.
  private static func firstListing(
    of location: DirectoryLocation, reader: DirectoryReader, store: ListingStore, timeToLive: Duration
  ) throws(BitsError) -> ListingAnswer {
    let stored = store.load(location)
    if let stored, stored.age < timeToLive { return stored }
    do throws(BitsError) {
      let (listing, resolved) = try reader.read(location)
      store.save(listing, of: location, readFrom: resolved)
      return (listing, resolved, .zero)
    } catch {
      guard error.code.isTransient, let stored else { throw error }
      writeToStandardError(
        "bitsfs: \(error); showing the listing of \(Int(stored.age.seconds)) s ago until the server answers\n")
      return stored
    }
  }

  /// Mounts, calls `ready` once the mount answers, and serves until unmounted or `stop()`.
  public func run(ready: @Sendable @escaping () -> Void) throws(BitsError) {
    let options = ["ro", "fsname=bitsfs", "subtype=bitsfs", "default_permissions"] + configuration.fuseOptions
    let session: FuseSession
    do {
      session = try FuseSession(mountPoint: configuration.mountPoint, options: options, operations: fileSystem)
    } catch {
      throw BitsError(.accessDenied, "cannot mount at \(configuration.mountPoint): \(error)")
    }
    self.session.withLock { $0 = session }
    fileSystem.attach(kernel: session)
    // Without its control socket the mount still serves; `bitsfs prefetch` then says so.
    let control = controlPath.flatMap { try? ControlServer(path: $0, fileSystem: fileSystem) }
    let mountPoint = configuration.mountPoint
    let logger = configuration.logger
    let kernelReadAhead = configuration.reads.kernelReadAhead
    let urls = configuration.urls.map(shownURL)
    // The mount answers only once the loop runs, so it is checked from another thread.
    startThread(named: "bitsfs-ready") {
      // A stat of the root goes through the kernel to the loop: it answers once we serve.
      if FileManager.default.fileExists(atPath: mountPoint) {
        _ = FuseSession.setReadAhead(mountPoint: mountPoint, kilobytes: Int(kernelReadAhead >> 10))
        logger.info("mounted", metadata: ["mount-point": "\(mountPoint)", "urls": .array(urls.map { "\($0)" })])
        ready()
      } else {
        session.stop()
      }
    }
    session.run(afterLoop: { [job, fileSystem] in
      control?.stop()
      fileSystem.events.closeAll()
      // Readers still waiting get EIO now; suspending makes every filled range durable.
      for file in job.files { file.close() }
      try? job.suspend()
      fileSystem.listingSaver?.finish()
    })
    self.session.withLock { $0 = nil }
    fileSystem.closeLog()
    logger.info("unmounted", metadata: ["mount-point": "\(mountPoint)"])
  }

  /// Unmounts; `run` returns.
  public func stop() {
    session.withLock { $0 }?.stop()
  }

  // MARK: Checks

  /// The mount point must be an existing, empty directory that is not mounted on already.
  public static func checkMountPoint(_ path: String) throws(BitsError) {
    if MountTable.isDeadMount(path) { throw MountTable.deadMountError(path) }
    guard FileManager.default.fileExists(atPath: path) else {
      throw BitsError(.invalidArgument, "mount point \(path) does not exist")
    }
    guard isDirectory(path) else { throw BitsError(.invalidArgument, "mount point \(path) is not a directory") }
    if MountTable.isMountPoint(path) {
      throw BitsError(.invalidArgument, "something is already mounted at \(path)")
    }
    let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    guard contents.isEmpty else { throw BitsError(.invalidArgument, "mount point \(path) is not empty") }
  }

  static func prepareCacheDirectory(_ directory: URL) throws(BitsError) {
    do {
      try FileManager.default.createDirectory(
        at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw BitsError(.accessDenied, "cannot create the cache directory \(directory.path)")
    }
  }
}

/// Carries the job's events about files to the file system, which exists only after the job:
/// changes (its inodes), and arrivals and failures (the fill hooks).
private final class JobEventRelay: Sendable {
  private struct Target {
    weak var fileSystem: MountedFileSystem?
  }
  private let target = Mutex(Target())

  func attach(_ fileSystem: MountedFileSystem) {
    target.withLock { $0.fileSystem = fileSystem }
  }

  private var fileSystem: MountedFileSystem? { target.withLock { $0.fileSystem } }

  func fileChanged(_ file: DownloadFile) {
    fileSystem?.fileChanged(file)
  }

  func rangesTransferred(_ file: DownloadFile, ranges: [FileRange]) {
    fileSystem?.rangesTransferred(file, ranges: ranges)
  }

  func failed(_ file: DownloadFile, error: BitsError) {
    fileSystem?.fillFailed(file, error: error)
  }

  func idle(_ file: DownloadFile) {
    fileSystem?.fileIdle(file)
  }
}
