import BitsMount
import Foundation
import Synchronization
import TestPrerequisites
import TestSupport
import XCTest

/// Real mounts made by the `bitsfs` binary against a private nginx, always unmounted afterwards.
/// FUSE is required: without /dev/fuse these tests fail, unless BITSFS_SKIP_FUSE_TESTS=1.
class MountTestCase: XCTestCase {
  var nginx: NginxServer!
  var workDirectory: URL!
  var cacheDirectory: URL!
  private var mountPoints: [String] = []
  private var daemons: [Process] = []
  private var daemonIDs: [Int32] = []

  override func setUpWithError() throws {
    try requireFUSE(for: "FUSE mount tests")
    workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-mount-\(UUID().uuidString)")
    cacheDirectory = workDirectory.appendingPathComponent("cache")
    try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
    nginx = try NginxServer()
  }

  override func tearDown() {
    for mountPoint in mountPoints where MountTable.isMountPoint(mountPoint) {
      _ = try? runCommand("/usr/bin/fusermount3", ["-u", "-z", mountPoint], timeout: 10)
    }
    for daemon in daemons where daemon.isRunning {
      daemon.terminate()
    }
    for daemon in daemons {
      let deadline = Date().addingTimeInterval(10)
      while daemon.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
      if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
    }
    for pid in daemonIDs where kill(pid, 0) == 0 {
      _ = waitUntil(timeout: 10) { kill(pid, 0) != 0 }
      if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
    nginx?.stop()
    if let workDirectory { try? FileManager.default.removeItem(at: workDirectory) }
  }

  static var binary: String { bitsfsBinary }

  /// Runs `bitsfs` with `arguments` to completion.
  @discardableResult
  func bitsfs(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
    try requireBitsfsBinary()
    return try runCommand(Self.binary, arguments, timeout: timeout)
  }

  func makeMountPoint(_ name: String = "mnt") throws -> String {
    let path = workDirectory.appendingPathComponent(name).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    mountPoints.append(path)
    return path
  }

  /// Mounts `urls` with the daemonizing command, as a user would; returns the mount point.
  @discardableResult
  func mount(_ urls: [String], at mountPoint: String? = nil, options: [String] = []) throws -> String {
    let mountPoint = try mountPoint ?? makeMountPoint()
    let result = try bitsfs(["mount"] + urls + [mountPoint, "--cache-dir", cacheDirectory.path] + options)
    XCTAssertEqual(result.status, 0, "mount failed: \(result.error)")
    XCTAssertTrue(MountTable.isMountPoint(mountPoint), "not mounted after bitsfs mount returned")
    if let pid = ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init) {
      daemonIDs.append(pid)
    }
    return mountPoint
  }

  /// `bitsfs mount` of `urls` fails with a message holding `text` and mounts nothing.
  func assertMountFails(
    _ urls: [String], at mountPoint: String? = nil, mentioning text: String, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    let mountPoint = try mountPoint ?? makeMountPoint()
    let wasMounted = MountTable.isMountPoint(mountPoint)
    let result = try bitsfs(["mount"] + urls + [mountPoint, "--cache-dir", cacheDirectory.path, "--retry-period", "1"])
    XCTAssertNotEqual(result.status, 0, file: file, line: line)
    XCTAssertTrue(result.error.contains(text), "message was: \(result.error)", file: file, line: line)
    XCTAssertEqual(MountTable.isMountPoint(mountPoint), wasMounted, "the mount table changed", file: file, line: line)
  }

  /// Starts `bitsfs ARGUMENTS` (such as `events` or `status --watch`) with its output on a pipe;
  /// the caller ends it (`terminate`, then `waitUntilExit`).
  func startBitsfs(_ arguments: [String]) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.binary)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    return (process, output)
  }

  /// Mounts with `--foreground` as a child of the test, so the test owns its pid.
  func mountInForeground(_ urls: [String], options: [String] = []) throws -> (String, Process) {
    let mountPoint = try makeMountPoint()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.binary)
    process.arguments = ["mount", "-f"] + urls + [mountPoint, "--cache-dir", cacheDirectory.path] + options
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    daemons.append(process)
    XCTAssertTrue(waitUntil(timeout: 20) { MountTable.isMountPoint(mountPoint) }, "foreground mount did not appear")
    return (mountPoint, process)
  }

  func unmount(_ mountPoint: String) throws {
    let result = try bitsfs(["unmount", mountPoint])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(waitUntil(timeout: 10) { !MountTable.isMountPoint(mountPoint) })
  }

  @discardableResult
  func serve(_ name: String, count: Int, seed: UInt64 = 3) throws -> [UInt8] {
    try TestData.write(count: count, seed: seed, to: nginx.root.appendingPathComponent(name))
  }

  /// Body bytes nginx sent, leaving out one-byte version probes.
  func fetchedBytes() -> Int {
    nginx.requests().filter { $0.range != "bytes=0-0" }.reduce(0) { $0 + $1.bodyBytes }
  }

  /// Starts `dd` reading `path` (a file of the mount at `mountPoint`) in blocks of `blockSize`,
  /// kills the mount's daemon with SIGKILL after `delay` seconds, and clears the dead mount.
  func killDaemon(of mountPoint: String, after delay: TimeInterval, reading path: String, blockSize: String) throws {
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
    let reader = Process()
    reader.executableURL = URL(fileURLWithPath: "/bin/dd")
    reader.arguments = ["if=\(path)", "of=/dev/null", "bs=\(blockSize)"]
    reader.standardError = FileHandle.nullDevice
    try reader.run()
    Thread.sleep(forTimeInterval: delay)
    kill(pid, SIGKILL)
    XCTAssertTrue(waitUntil(timeout: 20) { !reader.isRunning }, "a reader of a dead mount returns")
    XCTAssertEqual(try runCommand("/usr/bin/fusermount3", ["-u", "-z", mountPoint]).status, 0)
    XCTAssertTrue(waitUntil(timeout: 10) { !MountTable.isMountPoint(mountPoint) })
  }

  /// Reads up to `count` bytes of `path` at `offset`, failing the test if the read does not return
  /// within `timeout` seconds.
  func read(_ path: String, offset: UInt64, count: Int, timeout: TimeInterval = 30) throws -> [UInt8] {
    try PendingRead(path, offset: offset, count: count).wait(timeout: timeout).result.get()
  }
}

/// A blocking read on a thread of its own, waited for with a bound: a read that hangs fails its
/// test (whose tearDown then unmounts and stops the daemon, which ends the read) instead of
/// hanging the suite.
final class PendingRead: Sendable {
  let what: String
  private let outcome = Mutex<(result: Result<[UInt8], any Error>, elapsed: TimeInterval)?>(nil)
  private let finished = DispatchSemaphore(value: 0)

  /// Starts `body`, described as `what` in a failure.
  init(_ what: String, _ body: @escaping @Sendable () throws -> [UInt8]) {
    self.what = what
    let start = Date()
    Thread.detachNewThread { [self] in
      let result = Result { try body() }
      outcome.withLock { $0 = (result, Date().timeIntervalSince(start)) }
      finished.signal()
    }
  }

  /// Starts reading up to `count` bytes of `path` at `offset` (through a descriptor of its own).
  convenience init(_ path: String, offset: UInt64, count: Int) {
    self.init("a read of \(count) bytes of \(path) at \(offset)") { try readBytes(path, offset: offset, count: count) }
  }

  var isFinished: Bool { outcome.withLock { $0 != nil } }

  /// What the read returned and how long it took; throws if it has not returned in `timeout` seconds.
  func wait(timeout: TimeInterval = 30) throws -> (result: Result<[UInt8], any Error>, elapsed: TimeInterval) {
    guard finished.wait(timeout: .now() + timeout) == .success, let outcome = outcome.withLock({ $0 }) else {
      throw HungRead(what: what, seconds: timeout)
    }
    return outcome
  }
}

struct HungRead: Error, CustomStringConvertible {
  var what: String
  var seconds: TimeInterval

  var description: String { "\(what) did not return within \(seconds) s" }
}

/// Reads up to `count` bytes of `path` at `offset` with pread(2); POSIX errors are thrown as is.
/// Unbounded: from a test's own thread, go through `MountTestCase.read` or `PendingRead`.
func readBytes(_ path: String, offset: UInt64, count: Int) throws -> [UInt8] {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
  defer { close(fd) }
  return try readBytes(fd, offset: offset, count: count)
}

/// Reads up to `count` bytes of the open file `fd` at `offset`; POSIX errors are thrown as is.
func readBytes(_ fd: Int32, offset: UInt64, count: Int) throws -> [UInt8] {
  var bytes = [UInt8](repeating: 0, count: count)
  var total = 0
  while total < count {
    let got = bytes.withUnsafeMutableBytes {
      pread(fd, $0.baseAddress! + total, count - total, off_t(offset) + off_t(total))
    }
    if got < 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    if got == 0 { break }
    total += got
  }
  return Array(bytes[0..<total])
}
