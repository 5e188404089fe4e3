import ArgumentParser
import BitsEngine
import BitsMount
import FoundationEssentials
import Glibc

struct UnmountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unmount", abstract: "Unmount a bitsfs mount; returns once its process has exited.")

  /// How long the mount's process may take, once unmounted, to save what it filled and exit.
  static let exitTimeout: Duration = .seconds(30)

  @Argument(help: "The mount point.")
  var mountPoint: String

  func run() throws {
    let path = URL(fileURLWithPath: mountPoint).standardizedFileURL.path
    guard MountTable.isMountPoint(path) else {
      fail(with: BitsError(.invalidArgument, "nothing is mounted at \(path)"))
    }
    // A mount whose daemon died ("Transport endpoint is not connected") needs a lazy unmount;
    // a live one is unmounted normally, and refused while files on it are open.
    let isDead = MountTable.isDeadMount(path)
    // Asked first: the attribute goes with the mount.
    let server = isDead ? nil : ExtendedAttributes.value("user.bitsfs.pid", of: path).flatMap(pid_t.init)
    guard Self.fusermount(isDead ? ["-u", "-z", path] : ["-u", path]) else {
      fail(with: BitsError(.accessDenied, "could not unmount \(path) (files still open on it?)"))
    }
    // The process saves its journal and releases the cache after the unmount: a mount of the
    // same cache right after this command must not find it still in use.
    if let server, !Self.waitForExit(of: server, timeout: Self.exitTimeout) {
      fail(
        with: BitsError(
          .unexpected,
          "unmounted \(path), but its bitsfs process \(server) has not exited after \(Self.exitTimeout); "
            + "its cache stays in use until it does"))
    }
  }

  private static func fusermount(_ arguments: [String]) -> Bool {
    guard access("/usr/bin/fusermount3", X_OK) == 0 else {
      fail(with: BitsError(.invalidArgument, "cannot run /usr/bin/fusermount3; is the fuse3 package installed?"))
    }
    return runQuietly("/usr/bin/fusermount3", arguments) == 0
  }

  private static func waitForExit(of pid: pid_t, timeout: Duration) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while isRunning(pid) {
      guard ContinuousClock.now < deadline else { return false }
      usleep(20_000)
    }
    return true
  }

  /// Whether `pid` runs: a zombie has exited, whether or not its parent has reaped it yet.
  private static func isRunning(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let end = stat.lastIndex(of: ")")
    else { return false }
    // The state follows the command name, which is in parentheses and may hold anything.
    return stat[stat.index(after: end)...].split(separator: " ").first != "Z"
  }
}
