import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import BitsMount

/// The file system's operations without FUSE, over the in-memory transport: what each kernel
/// request is answered with, exactly once.
final class MountedFileSystemTests: XCTestCase {
  var directory: URL!
  var server: MemoryTransport!
  var job: DownloadJob!
  var file: DownloadFile!
  var fileSystem: MountedFileSystem!
  let url = "http://memory.test/dir/data.bin?X-Signature=secret"
  var bytes: [UInt8] = []

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-fs-\(UUID().uuidString)")
    server = MemoryTransport(stallTimeout: .seconds(30))
    bytes = TestData.bytes(count: 1 << 20, seed: 21)
    server.serve(MemoryTransport.Version(bytes: bytes, etag: "\"v1\""), at: url)
    var configuration = JobConfiguration()
    configuration.isOnDemand = true
    configuration.retryPeriod = .milliseconds(300)
    job = DownloadJob(displayName: name, cacheDirectory: directory, transport: server, configuration: configuration)
    file = try job.addFile(remoteURL: url, localName: nil)
    try job.resume()
    try file.connect()
    var options = MountOptions()
    options.readTimeout = .milliseconds(300)
    options.revalidationInterval = .zero
    fileSystem = MountedFileSystem.flat(job: job, files: [("data.bin", file)], options: options)
  }

  override func tearDown() {
    try? job?.cancel()
    try? FileManager.default.removeItem(at: directory)
  }

  /// Calls `operation` and waits (bounded) for its reply, failing if it replies twice.
  private func answer(
    file: StaticString = #filePath, line: UInt = #line, _ operation: (@escaping FileSystemReplyHandler) -> Void
  ) -> FileSystemReply? {
    let all = replies(settle: .milliseconds(20), to: operation)
    if all.isEmpty { XCTFail("no reply", file: file, line: line) }
    XCTAssertLessThanOrEqual(all.count, 1, "replied \(all.count) times", file: file, line: line)
    return all.first
  }

  private func lookupInode() throws -> UInt64 {
    guard case .entry(let attributes, _)? = answer({ fileSystem.lookup(parent: 1, name: "data.bin", reply: $0) })
    else { throw CallFailed(operation: "lookup") }
    return attributes.inode
  }

  private func open(_ inode: UInt64) throws -> (handle: UInt64, keepCache: Bool) {
    guard
      case .opened(let handle, let keepCache)? = answer({
        fileSystem.open(inode: inode, flags: O_RDONLY, reply: $0)
      })
    else { throw CallFailed(operation: "open") }
    return (handle, keepCache)
  }

  /// What a read was answered with.
  enum ReadOutcome: Equatable {
    case success([UInt8])
    case failure(Int32)
  }

  private func read(_ inode: UInt64, handle: UInt64, _ range: Range<UInt64>) -> ReadOutcome {
    let reply = answer({
      fileSystem.read(inode: inode, size: range.count, offset: range.lowerBound, handle: handle, reply: $0)
    })
    if let bytes = reply?.readBytes { return .success(bytes) }
    if case .error(let error)? = reply { return .failure(error) }
    return .failure(-1)
  }

  func testLookupOpenAndReadAnswerTheRemoteBytes() throws {
    let inode = try lookupInode()
    guard case .attributes(let attributes, _)? = answer({ fileSystem.getattr(inode: inode, reply: $0) }) else {
      return XCTFail("getattr")
    }
    XCTAssertEqual(attributes.size, UInt64(bytes.count))
    XCTAssertEqual(attributes.mode, S_IFREG | 0o444)
    let opened = try open(inode)
    XCTAssertTrue(opened.keepCache)
    XCTAssertEqual(read(inode, handle: opened.handle, 5000..<9096), .success(Array(bytes[5000..<9096])))
    XCTAssertEqual(read(inode, handle: opened.handle, UInt64(bytes.count)..<UInt64(bytes.count) + 10), .success([]))
    let pastTheEnd = UInt64(bytes.count) + 5000
    XCTAssertEqual(read(inode, handle: opened.handle, pastTheEnd..<pastTheEnd + 10), .success([]), "not a trap")
    XCTAssertEqual(read(inode, handle: 999, 0..<10), .failure(EBADF))
    guard case .error(0)? = answer({ fileSystem.release(inode: inode, handle: opened.handle, reply: $0) }) else {
      return XCTFail("release")
    }
  }

  func testWritesAndUnknownNamesAreRefused() throws {
    let inode = try lookupInode()
    guard case .error(EROFS)? = answer({ fileSystem.open(inode: inode, flags: O_RDWR, reply: $0) }) else {
      return XCTFail("a write open must be EROFS")
    }
    guard case .error(ENOENT)? = answer({ fileSystem.lookup(parent: 1, name: "nope", reply: $0) }) else {
      return XCTFail("unknown names are ENOENT")
    }
    guard case .error(ENOENT)? = answer({ fileSystem.getattr(inode: 12345, reply: $0) }) else {
      return XCTFail("unknown inodes are ENOENT")
    }
    guard
      case .error(ENOTDIR)? = answer({ fileSystem.readdir(inode: inode, offset: 0, count: 10, plus: true, reply: $0) })
    else { return XCTFail("a file is not a directory") }
  }

  func testTheListingAndTheAttributesShowNoCredential() throws {
    guard
      case .directory(let listing)? = answer({
        fileSystem.readdir(inode: 1, offset: 0, count: 10, plus: false, reply: $0)
      })
    else { return XCTFail("readdir") }
    XCTAssertEqual(listing.map(\.name), [".", "..", "data.bin"])
    XCTAssertEqual(listing.last?.inode, try lookupInode())
    guard
      case .attributeValue(let value)? = answer({
        fileSystem.getxattr(inode: try! self.lookupInode(), name: "user.bitsfs.url", reply: $0)
      })
    else { return XCTFail("getxattr") }
    XCTAssertEqual(String(decoding: value, as: UTF8.self), "http://memory.test/dir/data.bin")
    guard case .attributeValue(let names)? = answer({ fileSystem.listxattr(inode: try! self.lookupInode(), reply: $0) })
    else { return XCTFail("listxattr") }
    XCTAssertEqual(String(decoding: names, as: UTF8.self), "user.bitsfs.url\0user.bitsfs.etag\0")
  }

  func testAChangedFileGetsANewInodeAndOldDescriptorsNeverSeeTheNewVersion() throws {
    let oldInode = try lookupInode()
    let old = try open(oldInode)
    XCTAssertEqual(read(oldInode, handle: old.handle, 0..<4096), .success(Array(bytes[0..<4096])))
    let second = TestData.bytes(count: 1 << 20, seed: 22)
    server.serve(MemoryTransport.Version(bytes: second, etag: "\"v2\""), at: url)
    // An open revalidates (the interval is zero here) and moves the file to the new version;
    // through the old version's inode it is stale, and the kernel looks the name up again.
    guard case .error(ESTALE)? = answer({ fileSystem.open(inode: oldInode, flags: O_RDONLY, reply: $0) }) else {
      return XCTFail("an open through the old version's inode is ESTALE")
    }
    let newInode = try lookupInode()
    XCTAssertNotEqual(newInode, oldInode)
    let fresh = try open(newInode)
    XCTAssertTrue(fresh.keepCache)
    XCTAssertEqual(read(newInode, handle: fresh.handle, 0..<4096), .success(Array(second[0..<4096])))
    for offset in stride(from: UInt64(0), to: 1 << 20, by: 256 << 10) {
      XCTAssertEqual(
        read(oldInode, handle: old.handle, offset..<offset + 4096), .failure(EIO), "old descriptor at \(offset)")
    }
  }

  func testAReadThatTimedOutFailsAtOnceWhenTheKernelAsksAgain() throws {
    let inode = try lookupInode()
    let opened = try open(inode)
    server.inject(.stall(after: 0), at: url, count: 10)
    let start = ContinuousClock.now
    XCTAssertEqual(read(inode, handle: opened.handle, 500_000..<504_096), .failure(EIO))
    XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(300))
    let again = ContinuousClock.now
    XCTAssertEqual(read(inode, handle: opened.handle, 500_000..<504_096), .failure(EIO))
    XCTAssertLessThan(ContinuousClock.now - again, .milliseconds(200), "the second ask waited again")
  }

  func testAnOpenWhileTheFileReconnectsWaitsForTheNewVersion() throws {
    let inode = try lookupInode()
    let opened = try open(inode)
    let second = TestData.bytes(count: 1 << 19, seed: 23)
    server.serve(MemoryTransport.Version(bytes: second, etag: "\"v2\""), at: url)
    // A read finds the change and the file reconnects; an open meanwhile waits for it.
    XCTAssertEqual(read(inode, handle: opened.handle, 900_000..<904_096), .failure(EIO))
    let newInode = try lookupInode()
    let fresh = try open(newInode)
    XCTAssertEqual(read(newInode, handle: fresh.handle, 0..<4096), .success(Array(second[0..<4096])))
    guard case .attributes(let attributes, _)? = answer({ fileSystem.getattr(inode: newInode, reply: $0) }) else {
      return XCTFail("getattr")
    }
    XCTAssertEqual(attributes.size, UInt64(second.count))
  }
}
