import BitsEngine
import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// Directory trees through real mounts: every listing server bitsfs reads, serving the same
/// generated tree, seen by `find`, `du` and `sha256sum` exactly as on the disk, at the cost of
/// one GET per directory looked into and, where the listing gives exact sizes, nothing more.
final class TreeMountTests: MountTestCase {
  private var tree: ListingTree!

  override func setUpWithError() throws {
    try super.setUpWithError()
    tree = try ListingTree()
  }

  override func tearDown() {
    super.tearDown()
    tree?.remove()
  }

  private func withServer(_ software: ListingServer.Software, _ body: (ListingServer) throws -> Void) throws {
    try requireInstalled(software.missing)
    let server = try ListingServer(software, serving: tree.root)
    defer { server.stop() }
    try body(server)
  }

  /// Runs `script` with `sh -c` in `directory`; its output.
  private func shell(_ script: String, in directory: String, file: StaticString = #filePath, line: UInt = #line)
    throws -> String
  {
    let result = try runCommand("/bin/sh", ["-c", "cd \"$0\" && \(script)", directory], timeout: 120)
    XCTAssertEqual(result.status, 0, "\(script) in \(directory): \(result.error)", file: file, line: line)
    return result.output
  }

  /// The mount of `url` shows the tree: names, kinds and sizes (`find`), the bytes of every
  /// file (`sha256sum`; the 3 GiB sparse file by its last 64 KiB) and the total (`du -sb`).
  private func checkTree(
    _ url: String, hidesDotFiles: Bool, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let mountPoint = try mount([url])
    defer { try? unmount(mountPoint) }
    let hidden = hidesDotFiles ? "! -name '.*'" : ""
    let listing = "find . -mindepth 1 \(hidden) -printf '%P %y %s\\n' | sed 's/ d [0-9]*$/ d/' | LC_ALL=C sort"
    XCTAssertEqual(
      try shell(listing, in: mountPoint), try shell(listing, in: tree.root.path), url, file: file, line: line)
    let sums = "find . -type f ! -name big.bin \(hidden) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
    XCTAssertEqual(try shell(sums, in: mountPoint), try shell(sums, in: tree.root.path), url, file: file, line: line)
    let tail = "tail -c 65536 big.bin | sha256sum"
    XCTAssertEqual(try shell(tail, in: mountPoint), try shell(tail, in: tree.root.path), url, file: file, line: line)
    let total = try shell(
      "find . -type f \(hidden) -printf '%s\\n' | awk '{ s += $1 } END { printf \"%.0f\\n\", s }'", in: tree.root.path)
    XCTAssertEqual(try shell("du -sb . | cut -f1", in: mountPoint), total, url, file: file, line: line)
  }

  func testNginxInEveryListingFormat() throws {
    try withServer(.nginx) { server in
      for path in ["json/", "xml/", "html/", "rounded/"] {
        try checkTree("\(server.baseURL)/\(path)", hidesDotFiles: true)
      }
    }
  }

  func testApacheFancyPreformattedAndPlain() throws {
    try withServer(.apache) { server in
      for path in ["fancy/", "pre/", "plain/"] {
        try checkTree("\(server.baseURL)/\(path)", hidesDotFiles: false)
      }
    }
  }

  func testLighttpdAndCaddy() throws {
    try withServer(.lighttpd) { try checkTree($0.baseURL + "/", hidesDotFiles: true) }
    try withServer(.caddy) { try checkTree($0.baseURL + "/", hidesDotFiles: false) }
  }

  /// Python's `http.server` lists names but ignores ranges: the tree shows, files of more than
  /// a byte fail with EIO (nothing else could be read without fetching them whole).
  func testPythonListsTheTreeButItsFilesNeedRanges() throws {
    try withServer(.python) { server in
      let mountPoint = try mount([server.baseURL + "/"])
      defer { try? unmount(mountPoint) }
      let names = "find . -mindepth 1 -maxdepth 1 -printf '%P\\n' | LC_ALL=C sort"
      XCTAssertEqual(try shell("ls -A1 | LC_ALL=C sort", in: mountPoint), try shell(names, in: tree.root.path))
      XCTAssertEqual(
        try shell("cat 'sub/inner/deep.txt' 2>&1; true", in: mountPoint),
        "cat: sub/inner/deep.txt: Input/output error\n")
      XCTAssertEqual(
        try shell("cat 'dir with space/f' | wc -c", in: mountPoint), "1\n", "a file of one byte is all in the probe")
    }
  }

  /// An S3 bucket (moto) mounts as a tree from `ListObjectsV2`, a prefix at a time, pages
  /// followed: a prefix of 1,100 keys takes two.
  func testAnS3BucketMountsAsATree() throws {
    try requireInstalled(S3Server.missing)
    let s3 = try S3Server()
    defer { s3.stop() }
    // The 3 GiB file stays out of the server's memory.
    try FileManager.default.removeItem(at: tree.root.appendingPathComponent("big.bin"))
    try s3.upload(tree.root, to: "bucket", many: (prefix: "many", count: 1100))
    let mountPoint = try mount([s3.baseURL + "/bucket/"])
    defer { try? unmount(mountPoint) }
    // S3 has no empty directories: a prefix exists only with keys below it.
    let listing =
      "find . -mindepth 1 ! -path './many*' ! -name 'empty dir' -printf '%P %y %s\\n' | sed 's/ d [0-9]*$/ d/' | LC_ALL=C sort"
    XCTAssertEqual(try shell(listing, in: mountPoint), try shell(listing, in: tree.root.path))
    let sums = "find . -type f ! -path './many*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
    XCTAssertEqual(try shell(sums, in: mountPoint), try shell(sums, in: tree.root.path))
    XCTAssertEqual(try shell("ls many | wc -l; cat many/n01099", in: mountPoint), "1100\n1099")
    let listings = s3.requests.filter { $0.hasPrefix("GET /bucket/?list-type=2") }
    XCTAssertEqual(listings.filter { $0.contains("prefix=many/") }.count, 2, "\(listings)")
    XCTAssertEqual(listings.filter { $0.contains("continuation-token") }.count, 1, "\(listings)")
  }

  /// With exact sizes in the listing, `ls -lR` and `du` cost one GET per directory and no
  /// other request; opening a file then costs its own requests only.
  func testListingWithExactSizesCostsOneGETPerDirectoryAndNoHEAD() throws {
    try withServer(.nginx) { server in
      let mountPoint = try mount([server.baseURL + "/json/"])
      defer { try? unmount(mountPoint) }
      _ = try shell("ls -lR . >/dev/null && du -sb . >/dev/null && stat sub/inner/deep.txt >/dev/null", in: mountPoint)
      let requests = server.requests
      let directories = ListingTree.directories.map { $0.isEmpty ? "/json/" : "/json/\(percentEncoded($0))/" }
      XCTAssertEqual(requests.sorted(), directories.map { "GET \($0) 200" }.sorted(), "\(requests)")
      let status = try bitsfs(["status", mountPoint + "/sub"])
      XCTAssertEqual(status.status, 0, status.error)
      XCTAssertTrue(status.output.contains("a b.txt  size 2 B  filled 0 B"), status.output)
      XCTAssertEqual(server.requests.count, requests.count, "status asks the server nothing")
      XCTAssertEqual(try shell("cat sub/inner/deep.txt | wc -c", in: mountPoint), "5\n")
      XCTAssertTrue(
        server.requests.dropFirst(requests.count).allSatisfy { $0.hasPrefix("GET /json/sub/inner/deep.txt 206") })
    }
  }

  /// A walk that reads names and kinds only (`find`) is not given the files' attributes (the
  /// kernel would keep an inode for each); sizes asked for right after (`stat`, `ls -l`, `du`)
  /// come by lookups, exact, and cost the server nothing more.
  func testAWalkOfNamesAndThenOfSizesSeesTheSameTree() throws {
    try withServer(.nginx) { server in
      let mountPoint = try mount([server.baseURL + "/json/"])
      defer { try? unmount(mountPoint) }
      // nginx lists no dot files.
      let names = "find . -mindepth 1 ! -name '.*' -printf '%P %y\\n' | LC_ALL=C sort"
      XCTAssertEqual(try shell(names, in: mountPoint), try shell(names, in: tree.root.path))
      let listed = server.requests.count
      let sizes = "find . -type f ! -name '.*' -printf '%P %s\\n' | LC_ALL=C sort"
      XCTAssertEqual(try shell(sizes, in: mountPoint), try shell(sizes, in: tree.root.path))
      let long = "ls -ln sub/inner | tail -n +2 | awk '{ print $5, $9 }'"
      XCTAssertEqual(try shell(long, in: mountPoint), try shell(long, in: tree.root.path))
      let total = try shell(
        "find . -type f ! -name '.*' -printf '%s\\n' | awk '{ s += $1 } END { printf \"%.0f\\n\", s }'",
        in: tree.root.path)
      XCTAssertEqual(try shell("du -sb . | cut -f1", in: mountPoint), total)
      XCTAssertEqual(server.requests.count, listed, "sizes from the listings: \(server.requests.dropFirst(listed))")
    }
  }

  /// A directory of 10,000 files: `ls -l` and `du` from one GET of its listing, in each of
  /// nginx's formats with exact sizes.
  func testTenThousandFilesListInOneGET() throws {
    let big = workDirectory.appendingPathComponent("ten-thousand")
    try FileManager.default.createDirectory(at: big.appendingPathComponent("many"), withIntermediateDirectories: true)
    for index in 0..<10_000 {
      let name = big.appendingPathComponent(String(format: "many/file %05d.txt", index)).path
      guard FileManager.default.createFile(atPath: name, contents: Data(repeating: 65, count: index % 97)) else {
        return XCTFail("cannot create \(name)")
      }
    }
    let server = try ListingServer(.nginx, serving: big)
    defer { server.stop() }
    for format in ["json", "xml", "html"] {
      let before = server.requests.count
      let mountPoint = try mount(["\(server.baseURL)/\(format)/many/"])
      defer { try? unmount(mountPoint) }
      XCTAssertEqual(try shell("ls -l | tail -n +2 | wc -l", in: mountPoint), "10000\n", format)
      let total = (0..<10_000).reduce(0) { $0 + $1 % 97 }
      XCTAssertEqual(try shell("du -sb . | cut -f1", in: mountPoint), "\(total)\n", format)
      XCTAssertEqual(try shell("cat 'file 09999.txt' | wc -c", in: mountPoint), "\(9999 % 97)\n")
      XCTAssertEqual(
        server.requests.dropFirst(before).filter { !$0.contains("09999") }, ["GET /\(format)/many/ 200"],
        "\(format): one GET to list, none for sizes")
    }
  }

  /// Listings are kept in the cache directory: a mount made again within `--dir-ttl` asks
  /// nothing to list what was listed, and one made while the server is away shows the tree as
  /// last listed and says so.
  func testListingsOutliveTheMountAndTheServer() throws {
    try withServer(.nginx) { server in
      let url = server.baseURL + "/json/"
      var mountPoint = try mount([url])
      _ = try shell("ls -lR . >/dev/null", in: mountPoint)
      try unmount(mountPoint)
      let listed = server.requests.count
      mountPoint = try mount([url], at: mountPoint)
      let first = try shell("ls -lR .", in: mountPoint)
      XCTAssertEqual(server.requests.count, listed, "no listing asked again: \(server.requests.dropFirst(listed))")
      try unmount(mountPoint)
      server.stop()
      let result = try bitsfs(
        ["mount", url, mountPoint, "--cache-dir", cacheDirectory.path, "--dir-ttl", "0", "--retry-period", "1"])
      XCTAssertEqual(result.status, 0, result.error)
      defer { try? unmount(mountPoint) }
      XCTAssertTrue(
        result.error.contains("BG_E_CONNECT_FAILURE") && result.error.contains("showing the listing of"), result.error)
      XCTAssertEqual(try shell("ls -lR .", in: mountPoint), first)
    }
  }

  /// Names a listing leaves out at its next reading leave the mount; new ones appear.
  func testAnEntryThatLeavesTheServerLeavesTheMount() throws {
    try withServer(.nginx) { server in
      let mountPoint = try mount([server.baseURL + "/json/sub/"], options: ["--dir-ttl", "0.2"])
      defer { try? unmount(mountPoint) }
      XCTAssertTrue(FileManager.default.fileExists(atPath: mountPoint + "/a b.txt"))
      try FileManager.default.removeItem(at: tree.root.appendingPathComponent("sub/a b.txt"))
      try Data("new".utf8).write(to: tree.root.appendingPathComponent("sub/new.txt"))
      let changed = (0..<100).contains { _ in
        usleep(100_000)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: mountPoint)) ?? []
        return Set(names) == ["inner", "new.txt"]
      }
      XCTAssertTrue(changed, "\((try? FileManager.default.contentsOfDirectory(atPath: mountPoint)) ?? [])")
      XCTAssertEqual(try String(contentsOfFile: mountPoint + "/new.txt", encoding: .utf8), "new")
      XCTAssertFalse(FileManager.default.fileExists(atPath: mountPoint + "/a b.txt"))
    }
  }

  /// A manifest puts files with the same last segment side by side, and trees anywhere.
  func testManifestAndPathsPlaceEntriesAnywhere() throws {
    try serve("same.bin", count: 1000, seed: 1)
    try FileManager.default.createDirectory(
      at: nginx.root.appendingPathComponent("other"), withIntermediateDirectories: true)
    let other = TestData.bytes(count: 2000, seed: 2)
    try Data(other).write(to: nginx.root.appendingPathComponent("other/same.bin"))
    try withServer(.nginx) { server in
      let manifest = workDirectory.appendingPathComponent("manifest")
      try """
      # two files of one name, and a tree
      \(nginx.url("same.bin")) one/same.bin
      \(nginx.url("other/same.bin"))   two/same.bin
      \(server.baseURL)/json/sub/ trees/sub
      """.write(to: manifest, atomically: true, encoding: .utf8)
      let mountPoint = try mount(["\(nginx.url("same.bin"))=top.bin"], options: ["--manifest", manifest.path])
      defer { try? unmount(mountPoint) }
      let found = try shell("find . -mindepth 1 | LC_ALL=C sort", in: mountPoint)
      XCTAssertEqual(
        found,
        [
          ".", "./one", "./one/same.bin", "./top.bin", "./trees", "./trees/sub", "./trees/sub/a b.txt",
          "./trees/sub/inner", "./trees/sub/inner/deep.txt", "./two", "./two/same.bin",
        ].dropFirst().joined(separator: "\n") + "\n")
      XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: mountPoint + "/two/same.bin"))), other)
    }
  }

  func testURLsThatListNothingAreClearErrors() throws {
    try withServer(.nginx) { server in
      // No autoindex there: nginx answers 403.
      try assertMountFails([server.baseURL + "/nothing/"], mentioning: "BG_E_HTTP_ERROR_404")
    }
    try serve("index.html", count: 100)
    try assertMountFails([nginx.url("")], mentioning: "not a directory listing")
    try assertMountFails([nginx.url("a=../b")], mentioning: "is not a path in the mount")
  }

  private func percentEncoded(_ path: String) -> String {
    path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
  }
}
