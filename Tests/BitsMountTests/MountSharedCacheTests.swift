import BitsMount
import Foundation
import TestSupport
import XCTest

/// Two processes on one cache directory: each entry has one writer at a time. A second process
/// asking for an entry in use is refused, naming the holder; other entries are shared freely.
final class MountSharedCacheTests: MountTestCase {
  func testASecondMountOfAnEntryInUseIsRefusedNamingTheHolder() throws {
    let first = try serve("one.bin", count: 1 << 20, seed: 61)
    let second = try serve("two.bin", count: 1 << 20, seed: 62)
    let mountA = try mount([nginx.url("one.bin")])
    let pid = try XCTUnwrap(ExtendedAttributes.value("user.bitsfs.pid", of: mountA))
    XCTAssertEqual(try read(mountA + "/one.bin", offset: 0, count: first.count), first)

    let mountB = try makeMountPoint("b")
    let refused = try bitsfs(["mount", nginx.url("one.bin"), mountB, "--cache-dir", cacheDirectory.path])
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(refused.error.contains("E_ACCESSDENIED"), refused.error)
    XCTAssertTrue(refused.error.contains("in use by another bitsfs process (pid \(pid))"), refused.error)
    XCTAssertFalse(MountTable.isMountPoint(mountB), "nothing is left mounted")

    // Another URL in the same directory is another entry: both mounts serve at once. The
    // second's limit cannot take the first's entry, which is in use.
    try mount([nginx.url("two.bin")], at: mountB, options: ["--cache-limit", "1M"])
    XCTAssertEqual(try read(mountB + "/two.bin", offset: 0, count: second.count), second)
    XCTAssertEqual(try read(mountA + "/one.bin", offset: 0, count: first.count), first)
    let claimed = CacheJournal.claims(under: cacheDirectory).first { $0.url == nginx.url("one.bin") }
    XCTAssertEqual(claimed?.ranges, [0..<first.count], "the entry in use kept its bytes")

    // Once the first lets go, the entry is free for another process, with its bytes.
    try unmount(mountA)
    nginx.clearLog()
    try mount([nginx.url("one.bin")], at: mountA)
    XCTAssertEqual(try read(mountA + "/one.bin", offset: 0, count: first.count), first)
    XCTAssertEqual(fetchedBytes(), 0, "the first mount's bytes are served from the cache")
    try unmount(mountA)
    try unmount(mountB)
  }
}
