import BitsEngine
import FoundationEssentials
import Synchronization

/// The commands a mount runs for background fill, as BITS runs a job's notify command line:
/// `--on-complete` once a prefetched file is wholly filled, `--on-error` when a request of one
/// fails for good. Each runs with `/bin/sh -c`, its output discarded, on a thread of its own,
/// with `BITSFS_PATH` (the file in the mount), `BITSFS_URL` (without user name, password or
/// query) and for errors `BITSFS_ERROR` (the BITS code) in its environment, and never the
/// mount's credentials (`BITSFS_HEADERS` is left out).
package final class FillHooks: Sendable {
  let onComplete: String?
  let onError: String?
  let mountPoint: String
  /// Files whose completion was told, so it is told once.
  private let completed = Mutex<Set<ObjectIdentifier>>([])

  init(onComplete: String?, onError: String?, mountPoint: String) {
    self.onComplete = onComplete
    self.onError = onError
    self.mountPoint = mountPoint
  }

  /// Bytes of `file` arrived: tells of its completion if it was prefetched and is now whole.
  func rangesTransferred(_ file: DownloadFile, fileSystem: MountedFileSystem) {
    guard let onComplete, let path = fileSystem.prefetchedPath(of: file) else { return }
    let statistics = file.statistics
    guard let size = statistics.size, statistics.filledBytes == size,
      completed.withLock({ $0.insert(ObjectIdentifier(file)).inserted })
    else { return }
    run(onComplete, path: path, file: file, error: nil)
  }

  func failed(_ file: DownloadFile, error: BitsError, fileSystem: MountedFileSystem) {
    guard let onError, let path = fileSystem.prefetchedPath(of: file) else { return }
    run(onError, path: path, file: file, error: error)
  }

  private func run(_ command: String, path: String, file: DownloadFile, error: BitsError?) {
    var environment = ProcessInfo.processInfo.environment
    environment["BITSFS_HEADERS"] = nil
    environment["BITSFS_PATH"] = mountPoint + "/" + path
    environment["BITSFS_URL"] = shownURL(file.remoteURL)
    environment["BITSFS_ERROR"] = error?.code.name
    startThread(named: "bitsfs-hook") { [environment] in
      _ = runQuietly("/bin/sh", ["-c", command], environment: environment)
    }
  }
}
