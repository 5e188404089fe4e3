import BitsMount
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Reading through real mounts: whole files, small reads, ordinary tools, caching.
final class MountReadTests: MountTestCase {
  func testWholeFileThroughTheMountMatchesTheOriginal() throws {
    try serve("data.bin", count: 48 << 20 + 777)
    let mountPoint = try mount([nginx.url("data.bin")])
    let mounted = mountPoint + "/data.bin"
    XCTAssertEqual(
      try TestData.sha256(of: mounted), try TestData.sha256(of: nginx.root.appendingPathComponent("data.bin").path))
    var status = stat()
    XCTAssertEqual(stat(mounted, &status), 0)
    XCTAssertEqual(status.st_size, 48 << 20 + 777)
    XCTAssertEqual(status.st_mode & 0o777, 0o444)
    XCTAssertEqual(fetchedBytes(), 48 << 20 + 777, "every byte fetched exactly once")
    try unmount(mountPoint)
  }

  func testSmallReadInTheMiddleFetchesOnlyAFewBlocks() throws {
    let bytes = try serve("large.bin", count: 256 << 20)
    let mountPoint = try mount([nginx.url("large.bin")])
    nginx.clearLog()
    let offset: UInt64 = 150 << 20 + 12345
    XCTAssertEqual(
      try read(mountPoint + "/large.bin", offset: offset, count: 4096), Array(bytes[Int(offset)..<Int(offset) + 4096]))
    let fetched = fetchedBytes()
    XCTAssertGreaterThan(fetched, 0)
    XCTAssertLessThanOrEqual(fetched, 1 << 20, "a 4 KiB read fetched \(fetched) bytes")
    // The read may be answered from the received bytes before they are counted.
    let stats = { ExtendedAttributes.value("user.bitsfs.stats", of: mountPoint + "/large.bin") ?? "" }
    XCTAssertTrue(waitUntil(timeout: 5) { stats().contains("fetched=\(fetched)") }, stats())
    try unmount(mountPoint)
  }

  func testTailDdAndMmapReadCorrectBytes() throws {
    let bytes = try serve("tools.bin", count: 20 << 20)
    let mountPoint = try mount([nginx.url("tools.bin")])
    let path = mountPoint + "/tools.bin"
    let tail = try runCommand("/usr/bin/tail", ["-c", "1000", path])
    XCTAssertEqual(tail.status, 0)
    let dd = try runCommand("/bin/dd", ["if=\(path)", "bs=4096", "skip=1000", "count=3", "status=none"])
    XCTAssertEqual(dd.status, 0)
    // mmap, read through the page cache.
    let python = """
      import mmap, sys, hashlib
      with open(sys.argv[1], 'rb') as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
          print(hashlib.sha256(m[5_000_000:5_100_000]).hexdigest())
      """
    let mapped = try runCommand("/usr/bin/python3", ["-c", python, path])
    XCTAssertEqual(mapped.status, 0, mapped.error)
    let expected = try runCommand(
      "/usr/bin/python3",
      [
        "-c",
        "import hashlib,sys; d=open(sys.argv[1],'rb').read(); print(hashlib.sha256(d[5_000_000:5_100_000]).hexdigest())",
        nginx.root.appendingPathComponent("tools.bin").path,
      ])
    XCTAssertEqual(mapped.output, expected.output)
    let status = try bitsfs(["status", mountPoint])
    XCTAssertEqual(status.status, 0)
    XCTAssertTrue(status.output.contains("tools.bin"), status.output)
    XCTAssertEqual(Array(try read(path, offset: UInt64(bytes.count - 10), count: 100)), Array(bytes.suffix(10)))
    try unmount(mountPoint)
  }

  func testConcurrentReadersOfTheSameBytesAskForThemOnce() throws {
    let bytes = try serve("shared.bin", count: 64 << 20)
    // The MiB takes over two seconds to arrive (200 kB/s a request, and the kernel splits a read
    // into requests of at most 512 KiB), so readers started together overlap even on a loaded
    // machine.
    let server = try FaultServer(root: nginx.root)
    defer { server.stop() }
    let mountPoint = try mount([server.url("slow/200000", "shared.bin")])
    let path = mountPoint + "/shared.bin"
    let runs = Mutex<[(index: Int, result: CommandResult, start: Date, end: Date)]>([])
    let outputs = (0..<4).map { workDirectory.appendingPathComponent("dd\($0).out") }
    let group = DispatchGroup()
    for index in 0..<4 {
      DispatchQueue.global().async(group: group) {
        // Separate processes, each with its own open file, all reading the same MiB.
        let start = Date()
        let output = outputs[index].path
        let result = try? runCommand(
          "/bin/dd",
          [
            "if=\(path)", "of=\(output)", "bs=1M", "skip=40", "count=1", "status=none", "iflag=direct",
          ],
          timeout: 30)
        let end = Date()
        if let result { runs.withLock { $0.append((index, result, start, end)) } }
      }
    }
    XCTAssertEqual(group.wait(timeout: .now() + 40), .success)
    let finished = runs.withLock { $0 }
    XCTAssertEqual(finished.count, 4)
    for run in finished {
      XCTAssertEqual(run.result.status, 0, "dd \(run.index): \(run.result.error)")
      let got = try Data(contentsOf: outputs[run.index])
      XCTAssertTrue(sameBytes(got, bytes[(40 << 20)..<(41 << 20)]), "dd \(run.index) read other bytes")
    }
    let lastStart = try XCTUnwrap(finished.map(\.start).max())
    let firstEnd = try XCTUnwrap(finished.map(\.end).min())
    XCTAssertLessThan(lastStart, firstEnd, "the readers did not overlap")
    // However the kernel splits the reads, the MiB is asked for once: the requests tile it.
    let asked = server.dataRequests().compactMap(\.range).compactMap { range -> Range<Int>? in
      let bounds = range.dropFirst("bytes=".count).split(separator: "-").compactMap { Int($0) }
      return bounds.count == 2 ? bounds[0]..<bounds[1] + 1 : nil
    }.sorted { $0.lowerBound < $1.lowerBound }
    XCTAssertEqual(asked.first?.lowerBound, 40 << 20, "\(asked)")
    XCTAssertEqual(asked.last?.upperBound, 41 << 20, "\(asked)")
    XCTAssertTrue(zip(asked, asked.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "\(asked)")
    try unmount(mountPoint)
  }

  func testUnzipListingFetchesASmallFraction() throws {
    let archive = nginx.root.appendingPathComponent("archive.zip").path
    let script = """
      import zipfile, os, sys
      with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
          for i in range(400):
              z.writestr('dir/file%04d.bin' % i, os.urandom(160 * 1024))
      """
    XCTAssertEqual(try runCommand("/usr/bin/python3", ["-c", script, archive]).status, 0)
    let size = try FileManager.default.attributesOfItem(atPath: archive)[.size] as! Int
    let mountPoint = try mount([nginx.url("archive.zip")])
    nginx.clearLog()
    let listing = try runCommand("/usr/bin/unzip", ["-l", mountPoint + "/archive.zip"])
    XCTAssertEqual(listing.status, 0, listing.error)
    XCTAssertTrue(listing.output.contains("dir/file0399.bin"))
    XCTAssertLessThan(fetchedBytes(), size / 20, "unzip -l fetched \(fetchedBytes()) of \(size) bytes")
    try unmount(mountPoint)
  }

  func testIndexedSQLiteQueryFetchesASmallFraction() throws {
    let database = nginx.root.appendingPathComponent("table.db").path
    let script = """
      import sqlite3, sys, os
      db = sqlite3.connect(sys.argv[1])
      db.execute('create table items (id integer primary key, key text, payload blob)')
      db.execute('create index items_key on items(key)')
      db.executemany('insert into items (key, payload) values (?, ?)',
                     (('key%06d' % i, os.urandom(400)) for i in range(120000)))
      db.commit()
      db.execute('vacuum')
      db.close()
      """
    XCTAssertEqual(try runCommand("/usr/bin/python3", ["-c", script, database]).status, 0)
    let size = try FileManager.default.attributesOfItem(atPath: database)[.size] as! Int
    let mountPoint = try mount([nginx.url("table.db")])
    nginx.clearLog()
    let query = try runCommand(
      "/usr/bin/sqlite3", ["file:\(mountPoint)/table.db?immutable=1", "select id from items where key = 'key098765'"])
    XCTAssertEqual(query.status, 0, query.error)
    XCTAssertEqual(query.output.trimmingCharacters(in: .whitespacesAndNewlines), "98766")
    XCTAssertLessThan(fetchedBytes(), size / 20, "the query fetched \(fetchedBytes()) of \(size) bytes")
    try unmount(mountPoint)
  }

  func testRemountReadsFromTheCache() throws {
    try serve("again.bin", count: 16 << 20)
    let original = try TestData.sha256(of: nginx.root.appendingPathComponent("again.bin").path)
    let first = try mount([nginx.url("again.bin")])
    XCTAssertEqual(try TestData.sha256(of: first + "/again.bin"), original)
    try unmount(first)
    nginx.clearLog()
    let second = try mount([nginx.url("again.bin")], at: first)
    XCTAssertEqual(try TestData.sha256(of: second + "/again.bin"), original)
    XCTAssertEqual(nginx.requests().map(\.range), ["bytes=0-0"], "only the version check")
    try unmount(second)
  }

  func testRemoteChangeBetweenMountsDropsTheOldBytes() throws {
    try serve("moving.bin", count: 4 << 20, seed: 1)
    let mountPoint = try mount([nginx.url("moving.bin")])
    _ = try TestData.sha256(of: mountPoint + "/moving.bin")
    try unmount(mountPoint)
    // A new version, same size, newer date.
    try serve("moving.bin", count: 4 << 20, seed: 2)
    let future = Date().addingTimeInterval(60)
    try FileManager.default.setAttributes(
      [.modificationDate: future], ofItemAtPath: nginx.root.appendingPathComponent("moving.bin").path)
    nginx.clearLog()
    _ = try mount([nginx.url("moving.bin")], at: mountPoint)
    XCTAssertEqual(
      try TestData.sha256(of: mountPoint + "/moving.bin"),
      try TestData.sha256(of: nginx.root.appendingPathComponent("moving.bin").path))
    XCTAssertEqual(fetchedBytes(), 4 << 20, "the whole new version was fetched")
    try unmount(mountPoint)
  }

  func testSeveralFilesExtendedAttributesAndReadOnly() throws {
    let one = try serve("one.bin", count: 1000, seed: 1)
    try serve("two words.bin", count: 2000, seed: 2)
    let mountPoint = try mount([nginx.url("one.bin"), nginx.url("two%20words.bin")])
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: mountPoint).sorted(), ["one.bin", "two words.bin"])
    XCTAssertEqual(try read(mountPoint + "/one.bin", offset: 0, count: 5000), one)
    XCTAssertEqual(ExtendedAttributes.value("user.bitsfs.url", of: mountPoint + "/one.bin"), nginx.url("one.bin"))
    // A small read may be answered from the received bytes before they are recorded as filled.
    XCTAssertTrue(
      waitUntil(timeout: 5) { ExtendedAttributes.value("user.bitsfs.filled", of: mountPoint + "/one.bin") == "0+1000" },
      ExtendedAttributes.value("user.bitsfs.filled", of: mountPoint + "/one.bin") ?? "-")
    XCTAssertNotNil(ExtendedAttributes.value("user.bitsfs.etag", of: mountPoint + "/one.bin"))
    XCTAssertEqual(ExtendedAttributes.value("user.bitsfs.filled", of: mountPoint + "/two words.bin"), "")

    XCTAssertEqual(open(mountPoint + "/one.bin", O_WRONLY), -1)
    XCTAssertEqual(errno, EROFS)
    XCTAssertEqual(open(mountPoint + "/new.bin", O_CREAT | O_WRONLY, 0o644), -1)
    XCTAssertEqual(errno, EROFS)
    XCTAssertEqual(truncate(mountPoint + "/one.bin", 0), -1)
    XCTAssertEqual(errno, EROFS)
    XCTAssertEqual(rename(mountPoint + "/one.bin", mountPoint + "/three.bin"), -1)
    XCTAssertEqual(errno, EROFS)
    try unmount(mountPoint)
  }
}

/// Close-to-open consistency and offline use.
final class MountRevalidationTests: MountTestCase {
  func testOpenNoticesARemoteChangeAndCachedBytesServeOffline() throws {
    let first = try serve("doc.bin", count: 16 << 20, seed: 1)
    let mountPoint = try mount([nginx.url("doc.bin")], options: ["--revalidate", "0.5", "--read-timeout", "2"])
    let path = mountPoint + "/doc.bin"
    XCTAssertEqual(try read(path, offset: 0, count: 1 << 20), Array(first[0..<(1 << 20)]))

    // The server gets a new version; an open after the revalidation interval sees it.
    let second = try serve("doc.bin", count: 16 << 20, seed: 2)
    try FileManager.default.setAttributes(
      [.modificationDate: Date().addingTimeInterval(120)],
      ofItemAtPath: nginx.root.appendingPathComponent("doc.bin").path)
    Thread.sleep(forTimeInterval: 0.6)
    XCTAssertEqual(try read(path, offset: 0, count: 1 << 20), Array(second[0..<(1 << 20)]))

    // With the server gone, what is cached still reads; what is not fails with EIO.
    nginx.kill()
    Thread.sleep(forTimeInterval: 0.6)
    XCTAssertEqual(try read(path, offset: 0, count: 1 << 20), Array(second[0..<(1 << 20)]))
    XCTAssertThrowsError(try read(path, offset: 12 << 20, count: 4096)) { error in
      XCTAssertEqual((error as? POSIXError)?.code, .EIO)
    }
    try unmount(mountPoint)
  }
}
