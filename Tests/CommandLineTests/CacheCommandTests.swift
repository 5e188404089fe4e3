import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// `bitsfs cache` as a user runs it, on caches filled by real mounts: listing, removing,
/// clearing, pruning and verifying, a damaged cache, and directories that are not caches.
final class CacheCommandTests: XCTestCase {
  var nginx: NginxServer!
  var directory: URL!
  var cache: URL!
  private var mountPoints: [String] = []

  override func setUpWithError() throws {
    try requireBitsfsBinary()
    try requireFUSE(for: "the cache command tests, which fill caches through mounts,")
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-cachecmd-\(UUID().uuidString)")
    cache = directory.appendingPathComponent("cache")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    nginx = try NginxServer()
  }

  override func tearDown() {
    for mountPoint in mountPoints {
      _ = try? runCommand("/usr/bin/fusermount3", ["-u", "-z", mountPoint], timeout: 10)
    }
    nginx?.stop()
    if let directory { try? FileManager.default.removeItem(at: directory) }
  }

  private func bitsfs(_ arguments: [String]) throws -> CommandResult {
    try runCommand(bitsfsBinary, arguments, timeout: 60)
  }

  private func cacheCommand(_ arguments: [String]) throws -> CommandResult {
    try bitsfs(["cache"] + arguments + ["--cache-dir", cache.path])
  }

  /// Mounts `url` on a new mount point and reads `count` bytes of its file; returns the mount
  /// point and the serving process's pid.
  private func mountAndRead(_ url: String, name: String, count: Int) throws -> (String, String) {
    let mountPoint = directory.appendingPathComponent("mnt-\(mountPoints.count)").path
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    mountPoints.append(mountPoint)
    let mounted = try bitsfs(["mount", url, mountPoint, "--cache-dir", cache.path])
    XCTAssertEqual(mounted.status, 0, mounted.error)
    let handle = try XCTUnwrap(FileHandle(forReadingAtPath: mountPoint + "/" + name))
    XCTAssertEqual(try handle.read(upToCount: count)?.count, count)
    try handle.close()
    // getfattr comes with attr, which scripts/setup.sh installs.
    let pid = try runCommand("/usr/bin/getfattr", ["-n", "user.bitsfs.pid", "--only-values", mountPoint]).output
    XCTAssertFalse(pid.isEmpty)
    return (mountPoint, pid)
  }

  private func unmount(_ mountPoint: String) throws {
    let result = try bitsfs(["unmount", mountPoint])
    XCTAssertEqual(result.status, 0, result.error)
  }

  private func entryDirectories() -> [URL] {
    ((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []).sorted()
      .map { cache.appendingPathComponent($0) }
      .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("meta.json").path) }
  }

  func testMissingAndForeignDirectoriesAreRefusedAndLeftAlone() throws {
    for subcommand in [["ls"], ["clear"], ["verify"], ["prune", "--to", "0"], ["rm", "http://x/y"]] {
      let missing = try cacheCommand(subcommand)
      XCTAssertEqual(missing.status, 2, "\(subcommand): \(missing.error)")
      XCTAssertTrue(missing.error.contains("there is no cache directory at \(cache.path)"), missing.error)
    }
    // A directory of someone's files, one of them named like an entry and holding a meta.json.
    try makeLookalike()
    try Data("notes".utf8).write(to: cache.appendingPathComponent("notes.txt"))
    for subcommand in [["ls"], ["clear"], ["prune", "--to", "0"]] {
      let foreign = try cacheCommand(subcommand)
      XCTAssertEqual(foreign.status, 2, "\(subcommand): \(foreign.error)")
      XCTAssertTrue(foreign.error.contains("not a bitsfs cache"), foreign.error)
    }
    XCTAssertTrue(FileManager.default.fileExists(atPath: cache.appendingPathComponent("notes.txt").path))
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: cache.appendingPathComponent("0123456789abcdef/photo.jpg").path))
  }

  /// A directory named like an entry, holding someone's files (one named as an entry's is).
  private func makeLookalike() throws {
    let lookalike = cache.appendingPathComponent("0123456789abcdef")
    try FileManager.default.createDirectory(at: lookalike, withIntermediateDirectories: true)
    try Data("photo".utf8).write(to: lookalike.appendingPathComponent("photo.jpg"))
    try Data("{}".utf8).write(to: lookalike.appendingPathComponent("meta.json"))
  }

  func testListShowsEachEntryWithoutItsQueryAndWhoHoldsIt() throws {
    try TestData.write(count: 1 << 20, seed: 71, to: nginx.root.appendingPathComponent("a.bin"))
    try TestData.write(count: 2 << 20, seed: 72, to: nginx.root.appendingPathComponent("b.bin"))
    let (first, _) = try mountAndRead(nginx.url("a.bin"), name: "a.bin", count: 1 << 20)
    try unmount(first)
    Thread.sleep(forTimeInterval: 1.1)  // last uses a second apart, as the listing shows them
    let (second, pid) = try mountAndRead(nginx.url("b.bin") + "?X-Signature=secret123", name: "b.bin", count: 64 << 10)
    let listed = try cacheCommand(["ls"])
    XCTAssertEqual(listed.status, 0, listed.error)
    let lines = listed.output.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 3, listed.output)
    XCTAssertFalse(listed.output.contains("secret123"), "a query string is a credential: \(listed.output)")
    let a = try XCTUnwrap(lines.first { $0.hasSuffix(nginx.url("a.bin")) }, listed.output)
    XCTAssertTrue(a.contains("1.0 MiB    1.0 MiB"), "size and bytes cached: \(a)")
    XCTAssertTrue(a.contains(" - "), "held by no one: \(a)")
    let b = try XCTUnwrap(lines.first { $0.hasSuffix(nginx.url("b.bin")) }, listed.output)
    XCTAssertTrue(b.contains("pid \(pid)"), "held by the mount: \(b)")
    XCTAssertTrue(b.contains("2.0 MiB"), b)
    XCTAssertTrue(lines[1].hasSuffix(nginx.url("a.bin")), "least recently used first: \(listed.output)")
    try unmount(second)
  }

  func testRemoveTakesOnlyTheEntriesNamedAndNoneInUse() throws {
    try TestData.write(count: 1 << 20, seed: 73, to: nginx.root.appendingPathComponent("a.bin"))
    try TestData.write(count: 1 << 20, seed: 74, to: nginx.root.appendingPathComponent("b.bin"))
    let (first, _) = try mountAndRead(nginx.url("a.bin"), name: "a.bin", count: 4096)
    try unmount(first)
    let (second, pid) = try mountAndRead(nginx.url("b.bin"), name: "b.bin", count: 4096)
    XCTAssertEqual(entryDirectories().count, 2)

    let inUse = try cacheCommand(["rm", nginx.url("b.bin")])
    XCTAssertEqual(inUse.status, 1, inUse.error)
    XCTAssertTrue(inUse.error.contains("in use by another bitsfs process (pid \(pid))"), inUse.error)
    let unknown = try cacheCommand(["rm", nginx.url("nothing.bin")])
    XCTAssertEqual(unknown.status, 2, unknown.error)
    XCTAssertTrue(unknown.error.contains("nothing is cached for"), unknown.error)

    let removed = try cacheCommand(["rm", nginx.url("a.bin")])
    XCTAssertEqual(removed.status, 0, removed.error)
    XCTAssertEqual(entryDirectories().count, 1, "only the entry named went")
    try unmount(second)
    XCTAssertEqual(try cacheCommand(["rm", nginx.url("b.bin")]).status, 0)
    XCTAssertEqual(entryDirectories().count, 0)
  }

  func testClearAndPruneRemoveEntriesOnlyOldestFirst() throws {
    for (index, name) in ["a.bin", "b.bin", "c.bin"].enumerated() {
      try TestData.write(count: 1 << 20, seed: UInt64(75 + index), to: nginx.root.appendingPathComponent(name))
      let (mountPoint, _) = try mountAndRead(nginx.url(name), name: name, count: 1 << 20)
      try unmount(mountPoint)
      Thread.sleep(forTimeInterval: 1.1)  // last uses a second apart, as the listing shows them
    }
    try Data(count: 5000).write(to: cache.appendingPathComponent("notes.txt"))
    try makeLookalike()
    // Room for about two entries: the oldest goes.
    let pruned = try cacheCommand(["prune", "--to", "\((2 << 20) + (220 << 10))"])
    XCTAssertEqual(pruned.status, 0, pruned.error)
    XCTAssertTrue(pruned.output.contains("removed 1 entries"), pruned.output)
    let listed = try cacheCommand(["ls"]).output
    XCTAssertFalse(listed.contains(nginx.url("a.bin")), listed)
    XCTAssertTrue(listed.contains(nginx.url("b.bin")) && listed.contains(nginx.url("c.bin")), listed)

    let (held, pid) = try mountAndRead(nginx.url("c.bin"), name: "c.bin", count: 4096)
    let cleared = try cacheCommand(["clear"])
    XCTAssertEqual(cleared.status, 1, "an entry in use was kept: \(cleared.error)")
    XCTAssertTrue(cleared.error.contains("in use by pid \(pid)"), cleared.error)
    XCTAssertEqual(entryDirectories().count, 2, "the entry in use and the lookalike")
    try unmount(held)
    // Listings kept for directory mounts go too; a file of another name there stays.
    let listings = cache.appendingPathComponent("listings")
    try FileManager.default.createDirectory(at: listings, withIntermediateDirectories: true)
    try Data("{}".utf8).write(to: listings.appendingPathComponent("00000000deadbeef.json"))
    try Data("mine".utf8).write(to: listings.appendingPathComponent("keep.txt"))
    XCTAssertEqual(try cacheCommand(["clear"]).status, 0)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: listings.path), ["keep.txt"])
    XCTAssertEqual(entryDirectories().map(\.lastPathComponent), ["0123456789abcdef"], "only the lookalike is left")
    XCTAssertTrue(FileManager.default.fileExists(atPath: cache.appendingPathComponent("notes.txt").path))
  }

  func testVerifyReportsEachKindOfDamageWithoutTrustingIt() throws {
    for (index, name) in ["ok.bin", "flipped.bin", "holed.bin", "sized.bin", "epoch.bin"].enumerated() {
      try TestData.write(count: 1 << 20, seed: UInt64(80 + index), to: nginx.root.appendingPathComponent(name))
      let (mountPoint, _) = try mountAndRead(nginx.url(name), name: name, count: 1 << 20)
      try unmount(mountPoint)
    }
    XCTAssertEqual(try cacheCommand(["verify"]).status, 0)
    func entry(_ name: String) throws -> URL {
      try XCTUnwrap(
        entryDirectories().first {
          (try? String(contentsOf: $0.appendingPathComponent("meta.json"), encoding: .utf8))?
            .contains(name) == true
        })
    }
    // A flipped bit in a journal record.
    let flipped = try entry("flipped.bin").appendingPathComponent("filled")
    var journal = try Data(contentsOf: flipped)
    journal[30] ^= 0x10
    try journal.write(to: flipped)
    // Claimed bytes punched out of the data file.
    let holed = try entry("holed.bin").appendingPathComponent("data").path
    XCTAssertEqual(
      try runCommand("/usr/bin/fallocate", ["--punch-hole", "--offset", "65536", "--length", "65536", holed]).status, 0)
    // A data file cut short.
    XCTAssertEqual(truncate(try entry("sized.bin").appendingPathComponent("data").path, 1000), 0)
    // A journal headed by another entry's epoch (the flipped journal's header is intact).
    let epoch = try entry("epoch.bin").appendingPathComponent("filled")
    var records = try Data(contentsOf: epoch)
    records.replaceSubrange(0..<24, with: journal[0..<24])
    try records.write(to: epoch)

    let verified = try cacheCommand(["verify"])
    XCTAssertEqual(verified.status, 1, verified.error)
    let report = verified.output
    XCTAssertTrue(report.contains("ok       \(nginx.url("ok.bin")): 1.0 MiB cached"), report)
    XCTAssertTrue(report.contains("\(nginx.url("flipped.bin")): its journal is damaged"), report)
    XCTAssertTrue(
      report.contains("\(nginx.url("holed.bin")): its journal claims bytes 65536..<131072 that the data file lacks"),
      report)
    XCTAssertTrue(report.contains("\(nginx.url("sized.bin")): its data file is 1000 bytes"), report)
    XCTAssertTrue(report.contains("\(nginx.url("epoch.bin")): its journal is of another epoch"), report)
    XCTAssertTrue(verified.error.contains("4 of 5 entries"), verified.error)
    let listed = try cacheCommand(["ls"]).output
    XCTAssertEqual(listed.components(separatedBy: "damaged").count - 1, 4, "ls trusts none of them: \(listed)")
  }
}
