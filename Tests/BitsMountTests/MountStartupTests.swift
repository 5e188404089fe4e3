import BitsMount
import Foundation
import TestSupport
import XCTest

/// Every startup failure: a clear message, a non-zero status, and no mount left behind.
final class MountStartupTests: MountTestCase {
  func testUnreachableServer() throws {
    try assertMountFails(["http://127.0.0.1:9/file.bin"], mentioning: "BG_E_CONNECT_FAILURE")
  }

  func testMissingAndForbiddenFiles() throws {
    try assertMountFails([nginx.url("missing.bin")], mentioning: "BG_E_HTTP_ERROR_404")
    try serve("secret.bin", count: 10)
    try assertMountFails([nginx.url("auth/secret.bin")], mentioning: "BG_E_HTTP_ERROR_401")
  }

  func testServerWithoutRangeSupport() throws {
    let root = workDirectory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try TestData.write(count: 10_000, seed: 1, to: root.appendingPathComponent("f.bin"))
    let server = try FaultServer(root: root)
    defer { server.stop() }
    try assertMountFails([server.url("ignore-range", "f.bin")], mentioning: "BG_E_INSUFFICIENT_RANGE_SUPPORT")
  }

  func testBadMountPoints() throws {
    try serve("ok.bin", count: 10)
    try assertMountFails(
      [nginx.url("ok.bin")], at: workDirectory.appendingPathComponent("absent").path, mentioning: "does not exist")
    let full = try makeMountPoint("full")
    try Data("x".utf8).write(to: URL(fileURLWithPath: full + "/occupant"))
    try assertMountFails([nginx.url("ok.bin")], at: full, mentioning: "not empty")
    let busy = try mount([nginx.url("ok.bin")])
    try assertMountFails([nginx.url("ok.bin")], at: busy, mentioning: "already mounted")
    XCTAssertTrue(MountTable.isMountPoint(busy), "the first mount survives")
    try unmount(busy)
  }

  func testDuplicateNamesAndBadURLs() throws {
    try serve("same.bin", count: 10)
    try assertMountFails([nginx.url("same.bin"), nginx.url("auth/same.bin")], mentioning: "both appear as 'same.bin'")
    try assertMountFails(["ftp://127.0.0.1/x.bin"], mentioning: "E_INVALIDARG")
    // Names come from the server's URL: none may leave the mount's directory.
    for escaping in ["%2E%2E", "..%2Fetc", "a%00b", "."] {
      try assertMountFails([nginx.url(escaping)], mentioning: "does not end in a name")
    }
  }

  /// Each URL holds two descriptors for the life of the mount: the soft limit is raised to the
  /// hard one, and a hard limit too low for the URLs is one clear error before anything mounts.
  func testDescriptorLimitIsRaisedOrRefusedBeforeMounting() throws {
    let urls = try (1...40).map { index in
      try serve("n\(index).bin", count: 100, seed: UInt64(index))
      return nginx.url("n\(index).bin")
    }
    let mountPoint = try makeMountPoint()
    let arguments = ["mount"] + urls + [mountPoint, "--cache-dir", cacheDirectory.path]
    let refused = try runCommand("/usr/bin/prlimit", ["--nofile=64:64", Self.binary] + arguments, timeout: 60)
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(
      refused.error.contains("a mount of 40 URLs needs 240 file descriptors")
        && refused.error.contains("the limit of 64"), refused.error)
    XCTAssertEqual(refused.error.split(separator: "\n").count, 1, "one line: \(refused.error)")
    XCTAssertFalse(MountTable.isMountPoint(mountPoint))

    let raised = try runCommand("/usr/bin/prlimit", ["--nofile=64:4096", Self.binary] + arguments, timeout: 60)
    XCTAssertEqual(raised.status, 0, raised.error)
    XCTAssertTrue(MountTable.isMountPoint(mountPoint))
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint))
    let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
    let openFiles = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }
    XCTAssertEqual(openFiles?.split(separator: " ").filter { $0 == "4096" }.count, 2, "soft raised to hard: \(limits)")
    XCTAssertEqual(try read(mountPoint + "/n40.bin", offset: 0, count: 100), TestData.bytes(count: 100, seed: 40))
    try unmount(mountPoint)
  }

  func testForegroundMountStopsOnSIGTERM() throws {
    try serve("fg.bin", count: 100)
    let (mountPoint, process) = try mountInForeground([nginx.url("fg.bin")])
    XCTAssertEqual(try read(mountPoint + "/fg.bin", offset: 0, count: 10).count, 10)
    process.terminate()
    XCTAssertTrue(waitUntil(timeout: 10) { !process.isRunning })
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertFalse(MountTable.isMountPoint(mountPoint))
  }

  func testUnmountWithFusermountEndsTheDaemon() throws {
    try serve("d.bin", count: 100)
    let mountPoint = try mount([nginx.url("d.bin")])
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init))
    XCTAssertEqual(try runCommand("/usr/bin/fusermount3", ["-u", mountPoint]).status, 0)
    XCTAssertTrue(waitUntil(timeout: 10) { kill(pid, 0) != 0 }, "the daemon exits after an unmount")
  }

  func testCacheInUseByAnotherProcessIsAccessDenied() throws {
    try serve("locked.bin", count: 100)
    let first = try mount([nginx.url("locked.bin")])
    // Another daemon on the same cache directory and URL would reset the first one's bytes.
    try assertMountFails([nginx.url("locked.bin")], at: try makeMountPoint("second"), mentioning: "E_ACCESSDENIED")
    try unmount(first)
  }

  func testUnmountOfNothingFails() throws {
    let empty = try makeMountPoint("empty")
    for path in [empty, workDirectory.appendingPathComponent("absent").path] {
      let result = try bitsfs(["unmount", path])
      XCTAssertEqual(result.status, 2, result.error)
      XCTAssertTrue(result.error.contains("nothing is mounted at"), result.error)
    }
  }

  /// The options of the mount at `mountPoint`, as the kernel holds them.
  private func options(of mountPoint: String) throws -> [Substring] {
    // mountinfo: "… mount-point … - fstype source super-options"
    let lines = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n")
    let line = try XCTUnwrap(lines.first { $0.split(separator: " ")[4] == mountPoint }, "\(mountPoint) not mounted")
    return try XCTUnwrap(line.split(separator: " ").last).split(separator: ",")
  }

  func testFuseOptionsReachTheMount() throws {
    try serve("o.bin", count: 100)
    let plain = try mount([nginx.url("o.bin")])
    XCTAssertFalse(try options(of: plain).contains("allow_other"), "allow_other is off unless asked")
    try unmount(plain)
    let shared = try mount([nginx.url("o.bin")], at: plain, options: ["-o", "allow_other"])
    let sharedOptions = try options(of: shared)
    XCTAssertTrue(sharedOptions.contains("allow_other"), "\(sharedOptions)")
    XCTAssertEqual(try read(shared + "/o.bin", offset: 0, count: 100).count, 100)
    try unmount(shared)
  }

  /// mountinfo escapes a space in a mount point as `\040`: the mount still finds its own entry
  /// and sets the kernel's read-ahead asked for (neither the kernel's default, 128 KiB, nor
  /// bitsfs's, 256 KiB).
  func testAMountPointWithASpaceGetsItsReadAhead() throws {
    _ = try serve("space.bin", count: 1 << 20)
    let mountPoint = try mount(
      [nginx.url("space.bin")], at: try makeMountPoint("with space"), options: ["--kernel-read-ahead", "4M"])
    let mount = try XCTUnwrap(MountTable.mounts().last { $0.mountPoint == mountPoint }, "\(MountTable.mountPoints())")
    let readAhead = try String(contentsOfFile: "/sys/class/bdi/\(mount.device)/read_ahead_kb", encoding: .utf8)
    XCTAssertEqual(readAhead.trimmingCharacters(in: .whitespacesAndNewlines), "4096")
    try unmount(mountPoint)
  }

  /// The line of mount-examples/fstab.txt, with this test's URL and mount point, mounts the way
  /// mount(8) mounts it: by running mount.fuse3 with the line's fields, which runs
  /// `bitsfs URL MOUNTPOINT -o OPTIONS` found on the PATH. (mount(8) gives its helpers a PATH of
  /// their own, so there the binary belongs in /usr/local/bin or /usr/bin; here the test's PATH
  /// finds the built one.) Entries naming long options of `mount` (`cache_dir=…`) are those
  /// options; the others reach FUSE.
  func testTheFstabExampleLineMountsThroughMountFuse3() throws {
    let bytes = try serve("tab.bin", count: 300_000)
    let mountPoint = try makeMountPoint("fstab")
    let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("mount-examples/fstab.txt")
    let exampleLine = try XCTUnwrap(
      try String(contentsOf: example, encoding: .utf8).split(separator: "\n").first { !$0.hasPrefix("#") })
    var fields = exampleLine.split(separator: " ").map(String.init)
    XCTAssertEqual(fields.count, 6, "source, mount point, type, options, dump, pass: \(fields)")
    fields[0] = nginx.url("tab.bin")
    fields[1] = mountPoint
    let log = workDirectory.appendingPathComponent("fstab.log").path
    fields[3] += ",cache_dir=\(cacheDirectory.path),log-file=\(log)"

    // The helper looks for a program named as the type says: `bitsfs`.
    let programs = workDirectory.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: programs, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: programs.appendingPathComponent("bitsfs").path, withDestinationPath: Self.binary)
    let result = try runCommand(
      "/sbin/mount.fuse3", [fields[0], fields[1], "-o", fields[3], "-t", fields[2]],
      environment: [
        "PATH": "\(programs.path):/usr/sbin:/usr/bin:/sbin:/bin",
        "XDG_CACHE_HOME": workDirectory.appendingPathComponent("xdg").path,
      ], timeout: 60)
    XCTAssertEqual(result.status, 0, result.error)
    let mounted = try options(of: mountPoint)
    XCTAssertTrue(mounted.contains("ro") && mounted.contains("allow_other"), "\(mounted)")
    XCTAssertEqual(try read(mountPoint + "/tab.bin", offset: 0, count: bytes.count), bytes)
    try unmount(mountPoint)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cacheDirectory.path).count, 1, "cache_dir")
    XCTAssertFalse(FileManager.default.fileExists(atPath: workDirectory.appendingPathComponent("xdg").path))
    let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    XCTAssertTrue(logged.contains("info: mounted"), "log-file: \(logged)")

    // A value out of range in an -o list is refused as the option itself would be.
    let refused = try bitsfs(["mount", nginx.url("tab.bin"), mountPoint, "-o", "ro,read_timeout=0"])
    XCTAssertEqual(refused.status, 2, refused.error)
    XCTAssertTrue(refused.error.contains("--read-timeout must be"), refused.error)
    // A header would show in every command line: it belongs in a header file.
    let header = try bitsfs(["mount", nginx.url("tab.bin"), mountPoint, "-o", "header=Authorization: Bearer x"])
    XCTAssertEqual(header.status, 2, header.error)
    XCTAssertTrue(header.error.contains("header_file=FILE"), header.error)
  }
}
