import BitsEngine
import FoundationEssentials

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

  init(onComplete: String?, onError: String?, mountPoint: String) {
    self.onComplete = onComplete
    self.onError = onError
    self.mountPoint = mountPoint
  }

  /// The file of `url`, at `path` in the mount, is wholly filled.
  func completed(url: String, path: String) {
    guard let onComplete else { return }
    run(onComplete, path: path, url: url, error: nil)
  }

  func failed(url: String, path: String, error: BitsError) {
    guard let onError else { return }
    run(onError, path: path, url: url, error: error)
  }

  private func run(_ command: String, path: String, url: String, error: BitsError?) {
    var environment = ProcessInfo.processInfo.environment
    environment["BITSFS_HEADERS"] = nil
    environment["BITSFS_PATH"] = mountPoint + "/" + path
    environment["BITSFS_URL"] = shownURL(url)
    environment["BITSFS_ERROR"] = error?.code.name
    startThread(named: "bitsfs-hook") { [environment] in
      _ = runQuietly("/bin/sh", ["-c", command], environment: environment)
    }
  }
}
