import BitsMount
import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// The package of scripts/build-deb.sh, for real: built from the release binary (scripts/test.sh
/// makes it first) and the man page generator next to the tests, installed with apt, used by
/// mount(8) for a line of an fstab file (the line of the packaged example), read, unmounted, and
/// removed, leaving none of its files. Needs root; a machine with a bitsfs package installed
/// already is left alone (skipped). The package is purged in tearDown whatever happened.
final class DebianPackageTests: MountTestCase {
  /// Whether the test tried to install the package: tearDown then purges it, whatever is left.
  private var installed = false
  /// mount(8)'s helpers find `bitsfs` on this PATH, where only the package's can be.
  private let systemPath = "/usr/sbin:/usr/bin:/sbin:/bin"

  private var sourceDirectory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
  }

  private var releaseBinary: URL { sourceDirectory.appendingPathComponent(".build/release/bitsfs") }
  /// The man page generator of this build, next to the tests (scripts/test.sh builds it).
  private var manualGenerator: URL {
    URL(fileURLWithPath: bitsfsBinary).deletingLastPathComponent().appendingPathComponent("generate-manual")
  }

  override func setUpWithError() throws {
    try super.setUpWithError()
    try requireRoot(for: "installing a package")
    if try runCommand("/usr/bin/dpkg-query", ["-W", "-f", "${db:Status-Status}", "bitsfs"]).output == "installed" {
      throw XCTSkip("a bitsfs package is installed on this machine: the test installs and removes its own")
    }
    try requireInstalled(
      FileManager.default.isExecutableFile(atPath: releaseBinary.path)
        ? nil : "no release build of bitsfs: scripts/test.sh makes it (swift build -c release)")
  }

  override func tearDown() {
    super.tearDown()
    if installed {
      _ = try? runCommand(
        "/usr/bin/dpkg", ["--purge", "bitsfs"], environment: ["DEBIAN_FRONTEND": "noninteractive"], timeout: 120)
    }
  }

  private func apt(_ arguments: [String]) throws -> CommandResult {
    try runCommand(
      "/usr/bin/apt-get", ["-y", "-q", "-o", "DPkg::Lock::Timeout=120"] + arguments,
      environment: ["DEBIAN_FRONTEND": "noninteractive"], timeout: 300)
  }

  func testThePackageInstallsMountsFromFstabAndRemovesCleanly() throws {
    let built = try runCommand(
      sourceDirectory.appendingPathComponent("scripts/build-deb.sh").path, [],
      environment: [
        "NO_BUILD": "1", "MANUAL_GENERATOR": manualGenerator.path,
        "OUTPUT_DIR": workDirectory.appendingPathComponent("deb").path,
      ], timeout: 300)
    XCTAssertEqual(built.status, 0, built.error)
    let package = built.output.trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertTrue(package.hasSuffix(".deb") && FileManager.default.fileExists(atPath: package), built.output)
    let depends = try runCommand("/usr/bin/dpkg-deb", ["-f", package, "Depends"]).output
    let names = Set(
      depends.split(separator: ",").compactMap { $0.split(whereSeparator: \.isWhitespace).first }.map(String.init))
    XCTAssertTrue(names.isSuperset(of: ["libfuse3-3", "libcurl4", "fuse3"]), depends)

    installed = true
    let install = try apt(["install", "--no-install-recommends", package])
    XCTAssertEqual(install.status, 0, install.output + install.error)
    let listed = try runCommand("/usr/bin/dpkg", ["-L", "bitsfs"]).output.split(separator: "\n").map(String.init)
    let files = listed.filter { path in
      var isDirectory: ObjCBool = false
      return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
    for expected in [
      "/usr/bin/bitsfs", "/usr/share/man/man1/bitsfs.1.gz", "/usr/share/bash-completion/completions/bitsfs",
      "/usr/share/zsh/vendor-completions/_bitsfs", "/usr/share/fish/vendor_completions.d/bitsfs.fish",
      "/usr/lib/systemd/system/bitsfs@.service", "/usr/share/doc/bitsfs/copyright",
      "/usr/share/doc/bitsfs/examples/fstab",
    ] {
      XCTAssertTrue(files.contains(expected), "\(expected) is not in the package: \(files)")
    }
    // The package holds the release build, as built.
    XCTAssertTrue(
      FileManager.default.contentsEqual(
        atPath: "/usr/bin/bitsfs", andPath: releaseBinary.path))
    let manual = try runCommand("/usr/bin/man", ["-w", "bitsfs"], environment: ["MANPATH": "/usr/share/man"])
    XCTAssertEqual(manual.output.trimmingCharacters(in: .whitespacesAndNewlines), "/usr/share/man/man1/bitsfs.1.gz")

    let unit = try runCommand("/usr/bin/systemd-analyze", ["verify", "bitsfs@packaged.service"])
    XCTAssertEqual(unit.status, 0, unit.output + unit.error)

    // The packaged example line, with this test's URL and mount point, in an fstab of its own.
    let bytes = try serve("packaged.bin", count: 300_000)
    let mountPoint = try makeMountPoint("packaged")
    let example = try String(contentsOfFile: "/usr/share/doc/bitsfs/examples/fstab", encoding: .utf8)
    var fields = try XCTUnwrap(example.split(separator: "\n").first { !$0.hasPrefix("#") }).split(separator: " ")
      .map(String.init)
    XCTAssertEqual(fields.count, 6, "\(fields)")
    fields[0] = nginx.url("packaged.bin")
    fields[1] = mountPoint
    fields[3] += ",cache_dir=\(cacheDirectory.path)"
    let fstab = workDirectory.appendingPathComponent("fstab")
    try (fields.joined(separator: " ") + "\n").write(to: fstab, atomically: true, encoding: .utf8)
    let mounted = try runCommand(
      "/bin/mount", ["-T", fstab.path, mountPoint], environment: ["PATH": systemPath], timeout: 60)
    XCTAssertEqual(mounted.status, 0, mounted.error)
    XCTAssertTrue(MountTable.isMountPoint(mountPoint))
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint))
    XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"), "/usr/bin/bitsfs")
    XCTAssertEqual(try read(mountPoint + "/packaged.bin", offset: 0, count: bytes.count), bytes)
    let unmounted = try runCommand("/usr/bin/bitsfs", ["unmount", mountPoint], timeout: 60)
    XCTAssertEqual(unmounted.status, 0, unmounted.error)
    XCTAssertFalse(MountTable.isMountPoint(mountPoint))

    let remove = try apt(["remove", "bitsfs"])
    XCTAssertEqual(remove.status, 0, remove.output + remove.error)
    let status = try runCommand("/usr/bin/dpkg-query", ["-W", "-f", "${db:Status-Status}", "bitsfs"]).output
    XCTAssertTrue(status.isEmpty || status == "not-installed", status)
    XCTAssertFalse(files.isEmpty)
    for file in files {
      XCTAssertFalse(FileManager.default.fileExists(atPath: file), "\(file) is left after apt-get remove")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: "/usr/share/doc/bitsfs"))
  }
}
