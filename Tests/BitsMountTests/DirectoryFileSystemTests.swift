import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import BitsMount

/// Directories of the file system without FUSE, over the in-memory transport: listings read
/// lazily and once, sizes learned only where the listing gives none, refreshes after the time
/// to live that keep answering meanwhile, and names that leave the listing leave the mount.
final class DirectoryFileSystemTests: XCTestCase {
  var directory: URL!
  var server: MemoryTransport!
  var job: DownloadJob!
  let root = "http://memory.test/tree/"
  let kernel = RecordingKernelCache()

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-dirs-\(UUID().uuidString)")
    server = MemoryTransport(stallTimeout: .seconds(30))
    var configuration = JobConfiguration()
    configuration.isOnDemand = true
    configuration.retryPeriod = .milliseconds(300)
    job = DownloadJob(displayName: name, cacheDirectory: directory, transport: server, configuration: configuration)
  }

  override func tearDown() {
    try? job?.cancel()
    try? FileManager.default.removeItem(at: directory)
  }

  /// Serves an nginx JSON listing of `entries` (a name ending in `/` is a directory) at `url`.
  private func serveListing(_ entries: [(name: String, size: Int?)], at url: String) {
    let items = entries.map { entry in
      entry.name.hasSuffix("/")
        ? "{\"name\":\"\(entry.name.dropLast())\",\"type\":\"directory\",\"mtime\":\"Sun, 06 Nov 1994 08:49:37 GMT\"}"
        : "{\"name\":\"\(entry.name)\",\"type\":\"file\",\"mtime\":\"Sun, 06 Nov 1994 08:49:37 GMT\""
          + (entry.size.map { ",\"size\":\($0)" } ?? "") + "}"
    }
    let body = Array(("[" + items.joined(separator: ",") + "]").utf8)
    server.serve(.init(bytes: body, etag: nil, lastModified: nil, contentType: "application/json"), at: url)
  }

  /// Serves the Python `http.server` listing of `names`: names only.
  private func serveNamesOnly(_ names: [String], at url: String) {
    let links = names.map { "<li><a href=\"\($0)\">\($0)</a></li>" }.joined()
    let page =
      "<!DOCTYPE HTML><html><head><title>Directory listing for /tree/</title></head><body>"
      + "<h1>Directory listing for /tree/</h1><hr><ul>\(links)</ul><hr></body></html>"
    server.serve(.init(bytes: Array(page.utf8), etag: nil, lastModified: nil, contentType: "text/html"), at: url)
  }

  private func fileSystem(
    timeToLive: Duration = .seconds(300), store: ListingStore? = nil,
    limits: (inout DirectoryReader.Limits) -> Void = { _ in }
  ) throws -> MountedFileSystem {
    var tree = MountTree()
    _ = try tree.place(url: root, location: DirectoryLocation(directoryURL: root), at: [])
    var options = MountOptions()
    options.readTimeout = .seconds(2)
    options.directoryTimeToLive = timeToLive
    options.listingLimits.time = .seconds(2)
    limits(&options.listingLimits)
    let fileSystem = MountedFileSystem(job: job, tree: tree, files: [:], options: options, listingStore: store)
    fileSystem.attach(kernel: kernel)
    return fileSystem
  }

  private func requests(to url: String) -> Int {
    server.requests.filter { $0.url == url }.count
  }

  private static func lookup(_ name: String, in parent: UInt64 = 1, of fileSystem: MountedFileSystem)
    -> FileSystemReply?
  {
    replies { fileSystem.lookup(parent: parent, name: name, reply: $0) }.first
  }

  private func list(_ inode: UInt64, of fileSystem: MountedFileSystem) throws -> [String] {
    guard
      case .directory(let entries)? = replies(to: {
        fileSystem.readdir(inode: inode, offset: 0, count: 1_000, plus: false, reply: $0)
      }).first
    else { throw CallFailed(operation: "readdir") }
    return entries.map(\.name)
  }

  func testNothingIsListedUntilLookedAtAndThenOnceForAllLookers() throws {
    serveListing([("a.bin", 4), ("sub/", nil)], at: root)
    serveListing([("deep.txt", 2)], at: root + "sub/")
    let fileSystem = try fileSystem()
    XCTAssertTrue(server.requests.isEmpty, "a mount's file system asks nothing before it is looked at")
    let group = DispatchGroup()
    for _ in 0..<8 {
      DispatchQueue.global().async(group: group) { _ = Self.lookup("a.bin", of: fileSystem) }
    }
    XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(requests(to: root), 1, "concurrent lookups share one listing")
    guard case .entry(let attributes, _)? = Self.lookup("a.bin", of: fileSystem) else { return XCTFail("lookup a.bin") }
    XCTAssertEqual(attributes.size, 4)
    XCTAssertEqual(attributes.mode, S_IFREG | 0o444)
    XCTAssertEqual(server.requests.count, 1, "an exact size from the listing costs no request")
    XCTAssertEqual(requests(to: root + "sub/"), 0, "a subdirectory is listed when looked into")
    guard case .entry(let sub, _)? = Self.lookup("sub", of: fileSystem) else { return XCTFail("lookup sub") }
    XCTAssertEqual(sub.mode, S_IFDIR | 0o555)
    XCTAssertEqual(try list(sub.inode, of: fileSystem), [".", "..", "deep.txt"])
    XCTAssertEqual(try list(1, of: fileSystem), [".", "..", "a.bin", "sub"])
    XCTAssertEqual(requests(to: root + "sub/"), 1)
    guard case .error(ENOENT)? = Self.lookup("nope", of: fileSystem) else {
      return XCTFail("an unlisted name is ENOENT")
    }
    guard case .error(ENOTDIR)? = Self.lookup("x", in: attributes.inode, of: fileSystem) else {
      return XCTFail("a file is no directory")
    }
  }

  func testAListedFileReadsItsRemoteBytes() throws {
    let bytes = TestData.bytes(count: 300_000, seed: 3)
    serveListing([("data bin", bytes.count)], at: root)
    server.serve(.init(bytes: bytes, etag: "\"1\""), at: root + "data%20bin")
    let fileSystem = try fileSystem()
    guard case .entry(let attributes, _)? = Self.lookup("data bin", of: fileSystem) else { return XCTFail("lookup") }
    guard
      case .opened(let handle, _)? = replies(to: {
        fileSystem.open(inode: attributes.inode, flags: O_RDONLY, reply: $0)
      }).first
    else { return XCTFail("open") }
    let read = replies {
      fileSystem.read(inode: attributes.inode, size: 5000, offset: 200_000, handle: handle, reply: $0)
    }
    XCTAssertEqual(read.first?.readBytes, Array(bytes[200_000..<205_000]))
    guard
      case .attributeValue(let url)? = replies(to: {
        fileSystem.getxattr(inode: attributes.inode, name: "user.bitsfs.url", reply: $0)
      }).first
    else { return XCTFail("getxattr") }
    XCTAssertEqual(String(decoding: url, as: UTF8.self), root + "data%20bin")
  }

  func testAFileListedWithoutASizeCostsOneRequestForItAndFailsCleanlyWhenGone() throws {
    serveNamesOnly(["a.bin", "gone.bin"], at: root)
    server.serve(.init(bytes: TestData.bytes(count: 777, seed: 1), etag: "\"a\""), at: root + "a.bin")
    let fileSystem = try fileSystem()
    let group = DispatchGroup()
    let sizes = Mutex<[UInt64]>([])
    for _ in 0..<6 {
      DispatchQueue.global().async(group: group) {
        if case .entry(let attributes, _)? = Self.lookup("a.bin", of: fileSystem) {
          sizes.withLock { $0.append(attributes.size) }
        }
      }
    }
    XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(sizes.withLock { $0 }, Array(repeating: 777, count: 6))
    XCTAssertEqual(requests(to: root + "a.bin"), 1, "concurrent lookups share one size request")
    XCTAssertTrue(
      server.requests.allSatisfy { $0.range == nil || $0.range == 0..<1 }, "no bytes fetched to learn a size")
    guard case .error(ENOENT)? = Self.lookup("gone.bin", of: fileSystem) else {
      return XCTFail("a listed file the server does not have is ENOENT")
    }
  }

  func testAnExpiredListingAnswersWhileItIsReadAgainAndGoneNamesLeave() throws {
    serveListing([("a", 1), ("b", 2)], at: root)
    let fileSystem = try fileSystem(timeToLive: .milliseconds(200))
    guard case .entry? = Self.lookup("b", of: fileSystem) else { return XCTFail("lookup b") }
    serveListing([("a", 1), ("c", 3)], at: root)
    usleep(250_000)
    // Expired: the old listing answers at once, and the refresh runs behind it.
    guard case .entry? = Self.lookup("b", of: fileSystem) else { return XCTFail("the old listing answers meanwhile") }
    let refreshed = (0..<100).contains { _ in
      usleep(20_000)
      return requests(to: root) == 2 && kernel.names.withLock { $0.contains("b") }
    }
    XCTAssertTrue(refreshed, "the listing was read again and the kernel told that b is gone")
    guard case .error(ENOENT)? = Self.lookup("b", of: fileSystem) else { return XCTFail("b left the mount") }
    guard case .entry(let c, _)? = Self.lookup("c", of: fileSystem) else { return XCTFail("c joined the mount") }
    XCTAssertEqual(c.size, 3)
  }

  func testAReadingInPartsThatSpansARefreshGoesOnAfterTheEntryItReadLast() throws {
    serveListing([("b", 1), ("c", 2), ("d", 3)], at: root)
    let fileSystem = try fileSystem(timeToLive: .milliseconds(200))
    let part = { (offset: UInt64, count: Int) throws -> [DirectoryEntry] in
      guard
        case .directoryPlus(let entries)? = replies(to: {
          fileSystem.readdir(inode: 1, offset: offset, count: count, plus: true, reply: $0)
        }).first
      else { throw CallFailed(operation: "readdirplus") }
      return entries
    }
    let first = try part(0, 3)
    XCTAssertEqual(first.map(\.name), [".", "..", "b"])
    serveListing([("a", 9), ("b", 1), ("c", 2), ("d", 3)], at: root)
    usleep(250_000)
    _ = try part(0, 1)  // expired: the refresh starts behind this answer
    XCTAssertTrue(
      (0..<100).contains { _ in
        usleep(20_000)
        return (try? part(0, 10))?.contains { $0.name == "a" } == true
      }, "the listing was read again, with a before b")
    XCTAssertEqual(try part(first[2].offset, 10).map(\.name), ["c", "d"], "after b, as the reading left it: no repeat")
    XCTAssertEqual(try part(first[2].offset, 1).map(\.name), ["c"], "at most the count asked")
  }

  func testTheAttributesOfAnExpiredDirectoryReadItAgainAndAChangeDropsWhatTheKernelKeeps() throws {
    serveListing([("a", 1)], at: root)
    let fileSystem = try fileSystem(timeToLive: .milliseconds(200))
    XCTAssertEqual(try list(1, of: fileSystem), [".", "..", "a"])
    _ = replies { fileSystem.getattr(inode: 1, reply: $0) }
    XCTAssertEqual(requests(to: root), 1, "within its time to live, a directory's attributes read nothing")
    serveListing([("a", 1), ("b", 2)], at: root)
    usleep(250_000)
    // The kernel asks for a directory's attributes before it answers from the entries it keeps.
    _ = replies { fileSystem.getattr(inode: 1, reply: $0) }
    let dropped = (0..<100).contains { _ in
      usleep(20_000)
      return requests(to: root) == 2 && kernel.inodes.withLock { $0.contains(1) }
    }
    XCTAssertTrue(dropped, "read again, and the kernel told to drop the entries it keeps")
    XCTAssertEqual(try list(1, of: fileSystem), [".", "..", "a", "b"])
  }

  func testALookupOfAnExpiredDirectoryReadsItAgainAndItsAttributesLastWhatIsLeftOfItsListing() throws {
    serveListing([("sub/", nil)], at: root)
    serveListing([("x", 1)], at: root + "sub/")
    let fileSystem = try fileSystem(timeToLive: .milliseconds(300))
    guard case .entry(let sub, let fresh)? = Self.lookup("sub", of: fileSystem) else { return XCTFail("sub") }
    XCTAssertEqual(try list(sub.inode, of: fileSystem), [".", "..", "x"])
    guard case .entry(_, let listed)? = Self.lookup("sub", of: fileSystem) else { return XCTFail("sub again") }
    XCTAssertEqual(fresh, 0.3, accuracy: 0.001, "never listed: the whole time to live")
    XCTAssertLessThanOrEqual(listed, 0.3, "listed: what is left of its listing's time")
    serveListing([("x", 1), ("y", 2)], at: root + "sub/")
    usleep(350_000)
    // A path walk renews the name (and the attributes) without asking for them on their own.
    guard case .entry(_, let expired)? = Self.lookup("sub", of: fileSystem) else { return XCTFail("sub expired") }
    XCTAssertEqual(expired, 0, "expired: the kernel asks again before answering from what it keeps")
    let refreshed = (0..<100).contains { _ in
      usleep(20_000)
      return requests(to: root + "sub/") == 2 && kernel.inodes.withLock { $0.contains(sub.inode) }
    }
    XCTAssertTrue(refreshed, "read again, and the kernel told to drop the entries it keeps")
  }

  func testListingsThatCannotBeReadGiveEIOAndAreTriedAgain() throws {
    server.serve(
      .init(bytes: Array("<html><title>Welcome</title></html>".utf8), etag: nil, contentType: "text/html"), at: root)
    let fileSystem = try fileSystem()
    guard case .error(EIO)? = Self.lookup("a", of: fileSystem) else { return XCTFail("a page that is no listing") }
    guard
      case .error(EIO)? = replies(to: { fileSystem.readdir(inode: 1, offset: 0, count: 10, plus: true, reply: $0) })
        .first
    else { return XCTFail("readdir of a directory that cannot be listed") }
    serveListing([("a", 1)], at: root)
    guard case .entry? = Self.lookup("a", of: fileSystem) else {
      return XCTFail("a listing that never was is read again")
    }
  }

  func testAStatSweepLearnsSizesAheadOfItOnceEach() throws {
    let names = (0..<30).map { "f\($0)" }
    serveNamesOnly(names, at: root)
    for (index, name) in names.enumerated() {
      server.serve(
        .init(bytes: TestData.bytes(count: 100 + index, seed: UInt64(index)), etag: "\"\(index)\""), at: root + name)
    }
    let fileSystem = try fileSystem()
    guard case .entry? = Self.lookup("f0", of: fileSystem) else { return XCTFail("lookup f0") }
    let probed = { Set(self.server.requests.filter { $0.url != self.root }.map(\.url)) }
    // The probes ahead start as the first one's answer goes out: wait for them, bounded.
    let ahead = Set(names.prefix(1 + MountedFileSystem.lookAhead).map { root + $0 })
    XCTAssertTrue(waitUntil(timeout: 5) { probed() == ahead }, "\(probed())")
    for (index, name) in names.enumerated() {
      guard case .entry(let attributes, _)? = Self.lookup(name, of: fileSystem) else {
        return XCTFail("lookup \(name)")
      }
      XCTAssertEqual(attributes.size, UInt64(100 + index))
    }
    XCTAssertEqual(server.requests.count, 1 + names.count, "one listing, one request per size, none twice")
  }

  func testAWalkListsTheNextDirectoriesAheadOfIt() throws {
    serveListing((0..<20).map { ("d\($0)/", nil) }, at: root)
    for index in 0..<20 { serveListing([("f", 1)], at: root + "d\(index)/") }
    let fileSystem = try fileSystem()
    guard case .entry(let first, _)? = Self.lookup("d0", of: fileSystem) else { return XCTFail("lookup d0") }
    _ = try list(first.inode, of: fileSystem)
    let listed = { Set(self.server.requests.map(\.url)) }
    XCTAssertEqual(listed(), Set([root] + (0...MountedFileSystem.lookAhead).map { root + "d\($0)/" }))
    for index in 0..<20 {
      guard case .entry(let next, _)? = Self.lookup("d\(index)", of: fileSystem) else { return XCTFail("lookup") }
      XCTAssertEqual(try list(next.inode, of: fileSystem), [".", "..", "f"])
    }
    XCTAssertEqual(server.requests.count, 21, "each directory listed once")
  }

  func testListingsAreBoundedInEntriesBytesAndTime() throws {
    serveListing((0..<5).map { ("f\($0)", 1) }, at: root)
    let tooMany = try fileSystem { $0.entries = 4 }
    guard case .error(EIO)? = Self.lookup("f0", of: tooMany) else { return XCTFail("five entries of at most four") }
    let tooLarge = try fileSystem { $0.bodyBytes = 100 }
    guard case .error(EIO)? = Self.lookup("f0", of: tooLarge) else { return XCTFail("a listing over 100 bytes") }
    guard case .entry? = Self.lookup("f0", of: try fileSystem()) else { return XCTFail("within the bounds") }
    server.inject(.stall(after: 10), at: root, target: .any)
    let slow = try fileSystem { $0.time = .milliseconds(500) }
    let start = ContinuousClock.now
    guard case .error(EIO)? = Self.lookup("f0", of: slow) else { return XCTFail("a listing that stalls") }
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(3), "bounded by the listing's time, not the stall timeout")
  }

  func testAnUnopenedFileShowsItsURLAndNothingCachedWithoutARequest() throws {
    serveListing([("a.bin", 1234)], at: root)
    let fileSystem = try fileSystem()
    guard case .entry(let attributes, _)? = Self.lookup("a.bin", of: fileSystem) else { return XCTFail("lookup") }
    let value = { (name: String) -> String? in
      guard
        case .attributeValue(let bytes)? = replies(to: {
          fileSystem.getxattr(inode: attributes.inode, name: name, reply: $0)
        }).first
      else { return nil }
      return String(decoding: bytes, as: UTF8.self)
    }
    XCTAssertEqual(value("user.bitsfs.url"), root + "a.bin")
    XCTAssertEqual(value("user.bitsfs.stats")?.hasPrefix("size=1234 filled=0 "), true)
    XCTAssertEqual(value("user.bitsfs.filled"), "")
    XCTAssertEqual(server.requests.count, 1, "only the listing")
    // Only the user namespace exists: GNU ls stops asking a mount for labels and ACLs when
    // told so (EOPNOTSUPP), where "no such attribute" (ENODATA) has it ask for every file.
    for (name, errno) in [
      ("security.selinux", EOPNOTSUPP), ("system.posix_acl_access", EOPNOTSUPP), ("trusted.x", EOPNOTSUPP),
      ("user.other", ENODATA), ("user.bitsfs.none", ENODATA),
    ] {
      let reply = replies(to: { fileSystem.getxattr(inode: attributes.inode, name: name, reply: $0) }).first
      guard case .error(errno)? = reply else { return XCTFail("\(name): \(String(describing: reply))") }
    }
  }

  func testAStoredListingAnswersTheNextMountWithinItsTimeToLive() throws {
    serveListing([("a", 1), ("sub/", nil)], at: root)
    serveListing([("b", 2)], at: root + "sub/")
    let store = ListingStore(cacheDirectory: directory)
    let first = try fileSystem(store: store)
    guard case .entry(let sub, _)? = Self.lookup("sub", of: first) else { return XCTFail("lookup sub") }
    guard case .entry? = Self.lookup("b", in: sub.inode, of: first) else { return XCTFail("lookup sub/b") }
    XCTAssertEqual(server.requests.count, 2)
    // Listings are stored after their readers are answered.
    XCTAssertTrue(
      waitUntil(timeout: 5) { (try? FileManager.default.contentsOfDirectory(atPath: store.directory.path))?.count == 2 }
    )
    let second = try fileSystem(store: store)
    guard case .entry(let again, _)? = Self.lookup("sub", of: second) else { return XCTFail("lookup sub again") }
    guard case .entry(let b, _)? = Self.lookup("b", in: again.inode, of: second) else { return XCTFail("sub/b again") }
    XCTAssertEqual(b.size, 2)
    XCTAssertEqual(server.requests.count, 2, "the stored listings answered")
    // Expired: the stored listing answers at once and the server is asked again behind it.
    serveListing([("c", 3)], at: root)
    usleep(300_000)
    let third = try fileSystem(timeToLive: .milliseconds(200), store: store)
    guard case .entry? = Self.lookup("a", of: third) else { return XCTFail("the expired stored listing answers") }
    XCTAssertTrue(
      waitUntil(timeout: 5) { Self.lookup("c", of: third).map { if case .entry = $0 { true } else { false } } ?? false }
    )
    XCTAssertEqual(server.requests.filter { $0.url == root }.count, 2)
  }

  func testAListingWithAttributesGivesThoseItKnowsAndLeavesTheRestToLookups() throws {
    serveListing([("exact", 42), ("sub/", nil)], at: root)
    let fileSystem = try fileSystem()
    let plus = { (inode: UInt64, offset: UInt64) throws -> [DirectoryEntry] in
      guard
        case .directoryPlus(let entries)? = replies(to: {
          fileSystem.readdir(inode: inode, offset: offset, count: 100, plus: true, reply: $0)
        }).first
      else { throw CallFailed(operation: "readdirplus") }
      return entries
    }
    let walked = try plus(1, 0)
    XCTAssertEqual(walked.map(\.name), [".", "..", "exact", "sub"])
    XCTAssertNil(walked[2].attributes, "no file was looked up: a walk that reads names is not given files' attributes")
    XCTAssertEqual(walked[3].attributes?.mode, S_IFDIR | 0o555, "a directory's, for the walk to open it")
    let further = try plus(1, walked[1].offset)
    XCTAssertEqual(further.map(\.name), ["exact", "sub"], "a reading goes on after the entry whose offset it gives")
    XCTAssertEqual(further.first?.attributes?.size, 42, "past the start of a listing, files carry attributes")
    guard case .entry? = Self.lookup("exact", of: fileSystem) else { return XCTFail("lookup exact") }
    let entries = try plus(1, 0)
    XCTAssertEqual(entries[2].attributes?.size, 42, "once a file is looked up, files' attributes come along")
    XCTAssertEqual(entries[2].attributes?.inode, entries[2].inode)
    XCTAssertEqual(entries[3].attributes?.mode, S_IFDIR | 0o555)
    XCTAssertEqual(entries[2].timeout, 300)
    serveNamesOnly(["unsized"], at: root + "sub/")
    guard case .entry(let sub, _)? = Self.lookup("sub", of: fileSystem) else { return XCTFail("sub") }
    XCTAssertNil(try plus(sub.inode, 0).last?.attributes, "a size the listing lacks is for a lookup to learn")
    XCTAssertEqual(server.requests.count, 2, "listings only")
  }
}

/// Records what the file system drops from the kernel's caches.
final class RecordingKernelCache: KernelCache {
  let inodes = Mutex<[UInt64]>([])
  let names = Mutex<[String]>([])

  func invalidate(inode: UInt64) {
    inodes.withLock { $0.append(inode) }
  }

  func invalidate(name: String, in parent: UInt64) {
    names.withLock { $0.append(name) }
  }
}
