import BitsMount
import Foundation
import Synchronization
import TestPrerequisites
import TestSupport
import XCTest

/// `--cache-limit` through real mounts: workloads larger than the limit read the original bytes
/// while the cache directory, sampled throughout, stays within the limit and its margin; kills
/// during eviction leave only right bytes claimed; a reader's bytes are not evicted under it.
final class MountCacheLimitTests: MountTestCase {
  private let limit = 4 << 20
  /// What the directory may hold beyond the limit (docs/RELIABILITY.md): the file system's own
  /// blocks for data files full of holes, and requests admitted while holes are being punched.
  private let margin = 256 << 10

  /// Samples the cache directory's size every few milliseconds until stopped; the largest seen.
  private final class SizeSampler: Sendable {
    private let largest = Mutex(0)
    private let running = Mutex(true)
    private let finished = DispatchSemaphore(value: 0)

    init(_ directory: URL) {
      Thread.detachNewThread { [self] in
        while running.withLock({ $0 }) {
          let size = CacheJournal.diskBytes(under: directory.path)
          largest.withLock { $0 = max($0, size) }
          Thread.sleep(forTimeInterval: 0.005)
        }
        finished.signal()
      }
    }

    func stop() -> Int {
      running.withLock { $0 = false }
      _ = finished.wait(timeout: .now() + 10)
      return largest.withLock { $0 }
    }
  }

  /// Every range the cache's journals claim holds the original bytes of its URL.
  private func assertClaimsAreRight(_ originals: [String: [UInt8]], _ context: String) throws {
    for claim in CacheJournal.claims(under: cacheDirectory) {
      let original = try XCTUnwrap(originals[claim.url], "an entry for \(claim.url)")
      let handle = try XCTUnwrap(FileHandle(forReadingAtPath: claim.dataPath))
      defer { try? handle.close() }
      for range in claim.ranges {
        try handle.seek(toOffset: UInt64(range.lowerBound))
        let got = try handle.read(upToCount: range.count) ?? Data()
        XCTAssertTrue(sameBytes(got, original[range]), "\(context): \(claim.url) claims \(range) wrongly")
      }
    }
  }

  func testAWorkloadLargerThanTheLimitReadsRightAndStaysWithinIt() throws {
    let names = ["a.bin", "b.bin", "c.bin"]
    var originals: [String: [UInt8]] = [:]
    for (index, name) in names.enumerated() {
      originals[nginx.url(name)] = try serve(name, count: 6 << 20, seed: UInt64(20 + index))
    }
    let options = ["--cache-limit", "\(limit >> 20)M"]
    let mountPoint = try mount(names.map { nginx.url($0) }, options: options)
    let sampler = SizeSampler(cacheDirectory)
    var generator = SplitMix64(seed: 7)
    for step in 0..<240 {
      let name = names[Int.random(in: 0..<names.count, using: &generator)]
      let original = originals[nginx.url(name)]!
      // Mostly random reads of a page to 256 KiB, and every tenth a sequential run of 1 MiB.
      let count = step % 10 == 0 ? 1 << 20 : Int.random(in: 4096...(256 << 10), using: &generator)
      let offset = Int.random(in: 0...(original.count - count), using: &generator)
      let got = try read(mountPoint + "/" + name, offset: UInt64(offset), count: count)
      XCTAssertTrue(sameBytes(got, original[offset..<offset + count]), "step \(step): \(name) at \(offset)")
    }
    let largest = sampler.stop()
    XCTAssertLessThanOrEqual(largest, limit + margin, "the cache directory grew past the limit and its margin")
    XCTAssertGreaterThan(largest, limit / 2, "the cache was used")
    XCTAssertGreaterThan(fetchedBytes(), 18 << 20 / 2, "evicted bytes were fetched again")
    try unmount(mountPoint)
    try assertClaimsAreRight(originals, "after unmount")

    // A remount trusts only right bytes, and stays within the limit.
    let again = try mount(names.map { nginx.url($0) }, at: mountPoint, options: options)
    for name in names {
      let original = originals[nginx.url(name)]!
      XCTAssertTrue(sameBytes(try read(again + "/" + name, offset: 0, count: original.count), original), name)
    }
    try unmount(again)
    XCTAssertLessThanOrEqual(CacheJournal.diskBytes(under: cacheDirectory.path), limit + margin)
    try assertClaimsAreRight(originals, "after the remount")
  }

  func testKillsDuringEvictionLeaveOnlyRightBytesClaimed() throws {
    let original = try serve("k.bin", count: 24 << 20, seed: 31)
    let originals = [nginx.url("k.bin"): original]
    let mountPoint = try makeMountPoint()
    let path = mountPoint + "/k.bin"
    let options = ["--cache-limit", "2M"]
    for (round, delay) in [0.2, 0.5, 0.9, 1.4].enumerated() {
      try mount([nginx.url("k.bin")], at: mountPoint, options: options)
      // A sequential reader of twelve times the limit keeps eviction busy until the kill.
      try killDaemon(of: mountPoint, after: delay, reading: path, blockSize: "256k")
      try assertClaimsAreRight(originals, "round \(round)")
    }
    let again = try mount([nginx.url("k.bin")], at: mountPoint, options: options)
    XCTAssertTrue(sameBytes(try read(again + "/k.bin", offset: 0, count: original.count), original))
    try unmount(again)
    try assertClaimsAreRight(originals, "after the last mount")
  }

  func testEvictionUnderAReaderOfTheSameFile() throws {
    let original = try serve("r.bin", count: 16 << 20, seed: 41)
    let mountPoint = try mount([nginx.url("r.bin")], options: ["--cache-limit", "2M"])
    let path = mountPoint + "/r.bin"
    let hot = open(path, O_RDONLY)
    XCTAssertGreaterThanOrEqual(hot, 0)
    let stop = Mutex(false)
    // A streaming reader of the rest of the file forces eviction all along.
    let streamer = PendingRead("a stream of r.bin") {
      var offset = 1 << 20
      while offset < original.count, !stop.withLock({ $0 }) {
        let got = try readBytes(path, offset: UInt64(offset), count: 512 << 10)
        guard sameBytes(got, original[offset..<offset + got.count]) else { return [1] }
        offset += got.count
      }
      return []
    }
    // The hot reader rereads the first MiB, past the kernel's page cache each time.
    for round in 0..<60 {
      XCTAssertEqual(posix_fadvise(hot, 0, 0, POSIX_FADV_DONTNEED), 0)
      let offset = (round * 37 % 16) * (64 << 10)
      let got = try readBytes(hot, offset: UInt64(offset), count: 64 << 10)
      XCTAssertTrue(sameBytes(got, original[offset..<offset + (64 << 10)]), "round \(round) at \(offset)")
    }
    stop.withLock { $0 = true }
    XCTAssertEqual(try streamer.wait(timeout: 60).result.get(), [], "the stream read the original bytes")
    close(hot)
    try unmount(mountPoint)
  }

  func testFreeSpaceIsKeptByEvicting() throws {
    try requireRoot(for: "mounting a small tmpfs")
    try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
    XCTAssertEqual(
      try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", cacheDirectory.path]).status,
      0)
    defer { _ = try? runCommand("/bin/umount", ["-l", cacheDirectory.path]) }
    let original = try serve("f.bin", count: 48 << 20, seed: 51)
    let minimumFree = 16 << 20
    let mountPoint = try mount([nginx.url("f.bin")], options: ["--cache-min-free", "16M"])
    let lowest = Mutex(Int.max)
    let running = Mutex(true)
    let cachePath = cacheDirectory.path
    let sampler = PendingRead("free space samples") {
      while running.withLock({ $0 }) {
        var info = statvfs()
        if statvfs(cachePath, &info) == 0 {
          lowest.withLock { $0 = min($0, Int(info.f_bavail) * Int(info.f_frsize)) }
        }
        Thread.sleep(forTimeInterval: 0.005)
      }
      return []
    }
    // Three times what the disk can keep: every byte right, and the disk never below its floor.
    let got = try read(mountPoint + "/f.bin", offset: 0, count: original.count, timeout: 120)
    running.withLock { $0 = false }
    _ = try sampler.wait()
    XCTAssertTrue(sameBytes(got, original), "the whole file reads right")
    XCTAssertGreaterThanOrEqual(lowest.withLock { $0 }, minimumFree - margin, "free space fell below the minimum")
    try unmount(mountPoint)
  }
}
