import BitsEngine
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import Synchronization

/// Everything a mount needs to know.
public struct MountConfiguration: Sendable {
  public var urls: [String]
  public var mountPoint: String
  public var cacheDirectory: URL
  public var fuseOptions: [String] = []
  public var http = HTTPConfiguration()
  public var job = JobConfiguration()
  public var reads = MountOptions()
  /// Where the mount and its files log (mount and unmount at info; see `JobConfiguration.logger`
  /// and `MountedFileSystem` for the rest).
  public var logger = Logger.disabled

  public init(urls: [String], mountPoint: String, cacheDirectory: URL) {
    self.urls = urls
    self.mountPoint = mountPoint
    self.cacheDirectory = cacheDirectory
  }
}

/// A live mount: an on-demand job with one file per URL, served through FUSE.
public final class Mount: Sendable {
  public let configuration: MountConfiguration
  public let job: DownloadJob
  private let client: HTTPClient
  private let fileSystem: MountedFileSystem
  private let session = Mutex<FuseSession?>(nil)

  /// Checks the mount point and every URL (reachable, found, range support, size and version),
  /// before anything is mounted; each failure is a clear `BitsError`.
  public init(configuration: MountConfiguration) throws(BitsError) {
    var configuration = configuration
    configuration.mountPoint = URL(fileURLWithPath: configuration.mountPoint).standardizedFileURL.path
    self.configuration = configuration
    guard !configuration.urls.isEmpty else { throw BitsError(.invalidArgument, "no URL to mount") }
    let names = try configuration.urls.map { url throws(BitsError) in try Self.fileName(for: url) }
    if let duplicate = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
      throw BitsError(.invalidArgument, "two URLs would both appear as '\(duplicate)'")
    }
    try Self.checkMountPoint(configuration.mountPoint)
    try Self.prepareCacheDirectory(configuration.cacheDirectory)

    var jobConfiguration = configuration.job
    jobConfiguration.isOnDemand = true
    jobConfiguration.logger = configuration.logger
    let relay = ChangeRelay()
    client = HTTPClient(configuration: configuration.http)
    let job = DownloadJob(
      displayName: "mount \(configuration.mountPoint)", cacheDirectory: configuration.cacheDirectory,
      transport: client, configuration: jobConfiguration,
      callbacks: JobCallbacks(fileChanged: { _, file in relay.fileChanged(file) }))
    self.job = job
    let added = try configuration.urls.map { url throws(BitsError) in try job.addFile(remoteURL: url, localName: nil) }
    // Every URL is checked at once: the mount waits for the slowest server, not for their sum.
    let failures = Mutex<[Int: BitsError]>([:])
    let checks = DispatchGroup()
    for (index, file) in added.enumerated() {
      DispatchQueue.global().async(group: checks) {
        do throws(BitsError) {
          try file.connect()
        } catch {
          failures.withLock { $0[index] = error }
        }
      }
    }
    checks.wait()
    if let first = failures.withLock({ $0.min { $0.key < $1.key } }) { throw first.value }
    fileSystem = MountedFileSystem(
      files: Array(zip(names, added)), options: configuration.reads, logger: configuration.logger, job: job)
    relay.attach(self)
    try job.resume()
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
    let mountPoint = configuration.mountPoint
    let logger = configuration.logger
    let urls = configuration.urls.map(shownURL)
    // The mount answers only once the loop runs, so it is checked from another thread.
    startThread(named: "bitsfs-ready") {
      // A stat of the root goes through the kernel to the loop: it answers once we serve.
      if FileManager.default.fileExists(atPath: mountPoint) {
        _ = FuseSession.raiseReadAhead(mountPoint: mountPoint, kilobytes: 4096)
        logger.info("mounted", metadata: ["mount-point": "\(mountPoint)", "urls": .array(urls.map { "\($0)" })])
        ready()
      } else {
        session.stop()
      }
    }
    session.run(afterLoop: { [job] in
      // Readers still waiting get EIO now; suspending makes every filled range durable.
      for file in job.files { file.close() }
      try? job.suspend()
    })
    self.session.withLock { $0 = nil }
    fileSystem.closeLog()
    logger.info("unmounted", metadata: ["mount-point": "\(mountPoint)"])
  }

  /// Unmounts; `run` returns.
  public func stop() {
    session.withLock { $0 }?.stop()
  }

  /// The file's remote version changed: the kernel drops its pages of the old version and its
  /// lookup of the name, so the next open finds the new version's inode.
  func invalidate(_ file: DownloadFile) {
    guard let (name, inodes) = fileSystem.inodes(of: file), let session = session.withLock({ $0 }) else { return }
    for inode in inodes { session.invalidate(inode: inode) }
    session.invalidate(name: name, in: MountedFileSystem.rootInode)
  }

  // MARK: Checks

  /// The name a URL's file gets in the mount: its last path segment, percent-decoded.
  public static func fileName(for url: String) throws(BitsError) -> String {
    guard let components = URLComponents(string: url) else {
      throw BitsError(.invalidArgument, "not a valid URL", url: url)
    }
    let segment = components.percentEncodedPath.split(separator: "/").last.map(String.init) ?? ""
    let name = percentDecoded(segment) ?? segment
    guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
      throw BitsError(.invalidArgument, "the URL does not end in a file name", url: url)
    }
    return name
  }

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

/// Carries "this file changed" from the job to the mount, which exists only after the job.
private final class ChangeRelay: Sendable {
  private struct Target {
    weak var mount: Mount?
  }
  private let target = Mutex(Target())

  func attach(_ mount: Mount) {
    target.withLock { $0.mount = mount }
  }

  func fileChanged(_ file: DownloadFile) {
    target.withLock { $0.mount }?.invalidate(file)
  }
}
