import BitsEngine
import Foundation
import Synchronization
import TestPrerequisites
import TestSupport
import XCTest

/// The BITS job engine against a real nginx: whole files, ranges, on-demand mode, persistence.
final class DownloadJobTests: EngineTestCase {
  var nginx: NginxServer!

  override func setUpWithError() throws {
    try super.setUpWithError()
    nginx = try NginxServer()
  }

  override func tearDown() {
    nginx?.stop()
    super.tearDown()
  }

  private func serve(_ name: String, count: Int, seed: UInt64 = 1) throws -> [UInt8] {
    let bytes = TestData.bytes(count: count, seed: seed)
    try Data(bytes).write(to: nginx.root.appendingPathComponent(name))
    return bytes
  }

  private func fetchedBodyBytes() -> Int {
    nginx.requests().filter { $0.status == 206 || $0.status == 200 }.reduce(0) { $0 + $1.bodyBytes }
  }

  func testWholeFileIsDownloadedIdentically() throws {
    let bytes = try serve("whole.bin", count: 20 << 20 + 12345)
    let job = makeJob { $0.maximumRequestSize = 4 << 20 }
    try job.addFile(remoteURL: nginx.url("whole.bin"), localName: localPath("whole.bin"))
    XCTAssertEqual(try settle(job), .transferred)
    XCTAssertFalse(FileManager.default.fileExists(atPath: localPath("whole.bin")), "appears only on complete")
    let progress = job.progress
    XCTAssertEqual(progress.bytesTotal, UInt64(bytes.count))
    XCTAssertEqual(progress.bytesTransferred, UInt64(bytes.count))
    XCTAssertEqual(progress.filesTransferred, 1)
    try job.complete()
    XCTAssertEqual(job.currentState, .acknowledged)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: localPath("whole.bin"))), Data(bytes))
    // Split into request-sized pieces, each byte fetched once (plus the one-byte probe).
    let ranged = nginx.requests().filter { $0.status == 206 }
    XCTAssertGreaterThanOrEqual(ranged.count, 6)
    XCTAssertEqual(fetchedBodyBytes(), bytes.count + 1)
  }

  func testRangesAreWrittenBackToBackInTheOrderGiven() throws {
    let bytes = try serve("ranges.bin", count: 5000)
    let job = makeJob()
    let ranges = [
      FileRange(offset: 100, length: 100), FileRange(offset: 900, length: 100), FileRange(offset: 400, length: 100),
      FileRange(offset: 4990, length: FileRange.lengthToEndOfFile),
    ]
    try job.addFileWithRanges(remoteURL: nginx.url("ranges.bin"), localName: localPath("out.bin"), ranges: ranges)
    XCTAssertEqual(try settle(job), .transferred)
    try job.complete()
    let expected = Array(bytes[100..<200] + bytes[900..<1000] + bytes[400..<500] + bytes[4990..<5000])
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: localPath("out.bin")))), expected)
    XCTAssertEqual(job.progress.bytesTotal, 310)
  }

  func testRangeOutsideTheRemoteFileIsInvalidRange() throws {
    _ = try serve("small.bin", count: 1000)
    let job = makeJob()
    try job.addFileWithRanges(
      remoteURL: nginx.url("small.bin"), localName: localPath("small.bin"), ranges: [FileRange(offset: 990, length: 20)]
    )
    XCTAssertEqual(try settle(job), .error)
    XCTAssertEqual(job.error?.code, .invalidRange)
  }

  func testMissingFileIsHTTP404AndNotRetried() throws {
    let job = makeJob()
    try job.addFile(remoteURL: nginx.url("nope.bin"), localName: localPath("nope.bin"))
    XCTAssertEqual(try settle(job, timeout: .seconds(10)), .error)
    XCTAssertEqual(job.error?.code, .httpStatus(404))
    XCTAssertEqual(nginx.requests().count, 1)
  }

  func testLifeCycleRules() throws {
    _ = try serve("life.bin", count: 100)
    let job = makeJob()
    assertThrows(.empty) { try job.resume() }
    assertThrows(.invalidArgument) { try job.addFile(remoteURL: "ftp://127.0.0.1/x", localName: self.localPath("x")) }
    assertThrows(.invalidArgument) { try job.addFile(remoteURL: "not a url", localName: self.localPath("x")) }
    assertThrows(.invalidArgument) { try job.addFile(remoteURL: self.nginx.url("life.bin"), localName: "relative/x") }
    assertThrows(.invalidArgument) {
      try job.addFile(remoteURL: self.nginx.url("life.bin"), localName: self.localPath("no-such-dir/x"))
    }
    assertThrows(.invalidArgument) {
      try job.addFileWithRanges(remoteURL: self.nginx.url("life.bin"), localName: self.localPath("x"), ranges: [])
    }
    try job.addFile(remoteURL: nginx.url("life.bin"), localName: localPath("life.bin"))
    assertThrows(.invalidState) { try job.complete() }
    try job.cancel()
    XCTAssertEqual(job.currentState, .cancelled)
    assertThrows(.invalidState) {
      try job.addFile(remoteURL: self.nginx.url("life.bin"), localName: self.localPath("y"))
    }
    assertThrows(.invalidState) { try job.resume() }

    let done = makeJob()
    try done.addFile(remoteURL: nginx.url("life.bin"), localName: localPath("life.bin"))
    XCTAssertEqual(try settle(done), .transferred)
    try done.complete()
    assertThrows(.invalidState) {
      try done.addFileWithRanges(
        remoteURL: self.nginx.url("life.bin"), localName: self.localPath("z"), ranges: [FileRange(offset: 0, length: 1)]
      )
    }
  }

  func testAuthorizationHeaderIsSent() throws {
    let bytes = try serve("secret.bin", count: 3000)
    let denied = makeJob()
    try denied.addFile(remoteURL: nginx.url("auth/secret.bin"), localName: localPath("denied.bin"))
    XCTAssertEqual(try settle(denied), .error)
    XCTAssertEqual(denied.error?.code, .httpStatus(401))
    // One job at a time owns a cache entry: the second job for the same URL needs this one gone.
    try denied.cancel()

    let allowed = makeJob { $0.headers = [HTTPHeader(name: "Authorization", value: "Bearer sekrit")] }
    try allowed.addFile(remoteURL: nginx.url("auth/secret.bin"), localName: localPath("allowed.bin"))
    XCTAssertEqual(try settle(allowed), .transferred)
    try allowed.complete()
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: localPath("allowed.bin")))), bytes)
    XCTAssertFalse(HTTPHeader(name: "Authorization", value: "Bearer sekrit").description.contains("sekrit"))
  }

  func testRedirectsAreFollowedOnlyToHTTP() throws {
    let bytes = try serve("target.bin", count: 5000)
    let followed = makeJob()
    try followed.addFile(remoteURL: nginx.url("moved/target.bin"), localName: localPath("followed.bin"))
    XCTAssertEqual(try settle(followed), .transferred)
    try followed.complete()
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: localPath("followed.bin")))), bytes)
    // The probe was redirected; the range request went straight to where it led.
    let paths = nginx.requests().map(\.path)
    XCTAssertEqual(paths.filter { $0.hasPrefix("/moved/") }.count, 1, "\(paths)")
    XCTAssertEqual(paths.filter { $0 == "/target.bin" }.count, 2, "\(paths)")

    let refused = makeJob()
    try refused.addFile(remoteURL: nginx.url("to-ftp.bin"), localName: localPath("refused.bin"))
    XCTAssertEqual(try settle(refused), .error)
    XCTAssertEqual(refused.error?.code, .invalidServerResponse, "\(String(describing: refused.error))")
  }

  func testStatesFollowTheBITSLifeCycle() throws {
    _ = try serve("states.bin", count: 2 << 20)
    let states = Mutex<[JobState]>([])
    let job = makeJob(callbacks: JobCallbacks(stateChanged: { _, state in states.withLock { $0.append(state) } }))
    try job.addFile(remoteURL: nginx.url("states.bin"), localName: localPath("states.bin"))
    XCTAssertEqual(job.currentState, .queued)
    XCTAssertEqual(job.progress.bytesTotal, nil, "BG_SIZE_UNKNOWN before connecting")
    XCTAssertEqual(try settle(job), .transferred)
    try job.complete()
    XCTAssertEqual(states.withLock { $0 }, [.connecting, .transferring, .transferred, .acknowledged])

    let suspended = makeJob()
    try suspended.addFile(remoteURL: nginx.url("states.bin"), localName: localPath("again.bin"))
    try suspended.suspend()
    XCTAssertEqual(suspended.currentState, .suspended)
    XCTAssertEqual(try settle(suspended), .transferred, "resume continues a suspended job")
  }

  // MARK: On-demand mode

  func testOnDemandFetchesOnlyWhatIsRequestedAndNeverTwice() throws {
    let bytes = try serve("demand.bin", count: 1 << 20)
    let events = Mutex<[(ContinuousClock.Instant, [FileRange])]>([])
    let job = makeJob(
      onDemand: true, configure: { $0.minimumNotificationInterval = .milliseconds(200) },
      callbacks: JobCallbacks(fileRangesTransferred: { _, _, ranges in
        events.withLock { $0.append((ContinuousClock.now, ranges)) }
      }))
    let file = try job.addFile(remoteURL: nginx.url("demand.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred, "nothing asked, nothing to do")
    XCTAssertEqual(file.filledRanges, [])

    try file.requestFileRanges([FileRange(offset: 1000, length: 1000), FileRange(offset: 500_000, length: 100)])
    XCTAssertEqual(job.waitUntilSettled(timeout: .seconds(10)), .transferred)
    XCTAssertEqual(file.filledRanges, [FileRange(offset: 1000, length: 1000), FileRange(offset: 500_000, length: 100)])

    // Overlapping with what is filled: only the missing bytes go over the wire.
    nginx.clearLog()
    try file.requestFileRanges([FileRange(offset: 0, length: 3000)])
    XCTAssertTrue(waitUntil(timeout: 10) { file.filledRanges.first == FileRange(offset: 0, length: 3000) })
    // The two requests run concurrently, on either network thread: their log order is not fixed.
    XCTAssertEqual(nginx.requests().compactMap(\.range).sorted(), ["bytes=0-999", "bytes=2000-2999"])
    XCTAssertEqual(fetchedBodyBytes(), 2000)

    // Requests start within the call, so none started means none will.
    let requestsBefore = file.statistics.requestCount
    try file.requestFileRanges([FileRange(offset: 0, length: 2000)])
    XCTAssertEqual(file.statistics.requestCount, requestsBefore, "filled bytes are not fetched again")
    XCTAssertEqual(nginx.requests().count, 2)

    // Notifications cover what was filled, and come no more often than the interval.
    XCTAssertTrue(
      waitUntil(timeout: 5) {
        ByteRangeSet(events.withLock { $0 }.flatMap { $0.1.map { $0.offset..<$0.offset + $0.length } })
          == ByteRangeSet([0..<3000, 500_000..<500_100])
      })
    let times = events.withLock { $0.map(\.0) }
    for (earlier, later) in zip(times, times.dropFirst()) {
      XCTAssertGreaterThanOrEqual(later - earlier, .milliseconds(190))
    }
    let filled = try XCTUnwrap(readSync(file, 0..<3000))
    XCTAssertEqual(try contents(of: filled), Array(bytes[0..<3000]))
  }

  /// A small read waiting only for bytes that just arrived is answered from them, before they
  /// reach the cache; one that also needs bytes filled earlier is answered from the cache. Both
  /// get the server's bytes.
  func testSmallReadsAreAnsweredFromReceivedBytes() throws {
    let bytes = try serve("fresh.bin", count: 1 << 20)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: nginx.url("fresh.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)

    let inside = try XCTUnwrap(readSync(file, 5000..<9096, alignment: 64 << 10))
    guard case .received = inside.location else { return XCTFail("answered from \(inside.location)") }
    XCTAssertEqual(try contents(of: inside), Array(bytes[5000..<9096]))

    let across = try XCTUnwrap(readSync(file, (64 << 10) - 100..<(64 << 10) + 100, alignment: 64 << 10))
    guard case .cache = across.location else { return XCTFail("answered from \(across.location)") }
    XCTAssertEqual(try contents(of: across), Array(bytes[(64 << 10) - 100..<(64 << 10) + 100]))
    XCTAssertEqual(file.filledRanges, [FileRange(offset: 0, length: 128 << 10)])
  }

  func testConcurrentReadersOfOneBlockCauseOneRequest() throws {
    _ = try serve("shared.bin", count: 4 << 20)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: nginx.url("shared.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)
    nginx.clearLog()
    let group = DispatchGroup()
    let failures = Mutex(0)
    for index in 0..<8 {
      group.enter()
      let offset = UInt64(1 << 20) + UInt64(index) * 1000
      file.read(offset..<offset + 4096, alignment: 256 << 10, timeout: .seconds(10)) { result in
        if case .failure = result { failures.withLock { $0 += 1 } }
        group.leave()
      }
    }
    XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(failures.withLock { $0 }, 0)
    XCTAssertEqual(nginx.requests().map(\.range), ["bytes=1048576-1310719"])
  }

  func testInvalidOnDemandRequestsAreRefused() throws {
    _ = try serve("refuse.bin", count: 1000)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: nginx.url("refuse.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)
    assertThrows(.invalidArgument) { try file.requestFileRanges([]) }
    assertThrows(.invalidRange) { try file.requestFileRanges([FileRange(offset: 999, length: 2)]) }
    assertThrows(.overlappingRanges) {
      try file.requestFileRanges([FileRange(offset: 0, length: 10), FileRange(offset: 5, length: 10)])
    }
  }

  // MARK: Persistence

  func testInterruptedJobResumesFetchingOnlyWhatIsMissing() throws {
    let bytes = try serve("resume.bin", count: 6 << 20)
    let first = makeJob(onDemand: true)
    let partial = try first.addFile(remoteURL: nginx.url("resume.bin"), localName: nil)
    XCTAssertEqual(try settle(first), .transferred)
    try partial.requestFileRanges([FileRange(offset: 0, length: 1 << 20), FileRange(offset: 3 << 20, length: 1 << 20)])
    XCTAssertEqual(first.waitUntilSettled(timeout: .seconds(10)), .transferred)
    try first.suspend()
    // As when the process goes away: the file lets go of its cache entry.
    partial.close()
    nginx.clearLog()

    // A new job over the same cache directory, as after a restart.
    let second = makeJob()
    try second.addFile(remoteURL: nginx.url("resume.bin"), localName: localPath("resume.bin"))
    XCTAssertEqual(try settle(second), .transferred)
    try second.complete()
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: localPath("resume.bin")))), bytes)
    XCTAssertEqual(fetchedBodyBytes(), (4 << 20) + 1, "only the missing 4 MiB (and the probe byte)")
  }

  /// Mounts a file system on the jobs' cache directory for the rest of the test: `arguments`
  /// to mount(8) before the mount point.
  private func mountCacheDirectory(_ arguments: [String]) throws -> URL {
    let cache = directory.appendingPathComponent("cache")
    try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
    XCTAssertEqual(try runCommand("/bin/mount", arguments + [cache.path]).status, 0)
    addTeardownBlock { _ = try? runCommand("/bin/umount", ["-l", cache.path]) }
    return cache
  }

  /// A small ext2 file system on a loop device: ext2 has no `fallocate`, so space is taken
  /// only as bytes are written, and a full disk fails a write rather than a reservation.
  private func mountSmallExt2CacheDirectory(bytes: Int) throws -> URL {
    let image = directory.appendingPathComponent("ext2.img").path
    XCTAssertEqual(try runCommand("/usr/bin/truncate", ["-s", "\(bytes)", image]).status, 0)
    XCTAssertEqual(try runCommand("/sbin/mkfs.ext2", ["-q", "-F", image]).status, 0)
    let cache = try mountCacheDirectory(["-o", "loop", image])
    XCTAssertFalse(try supportsFallocate(cache), "the test needs a file system without fallocate")
    return cache
  }

  /// Whether `fallocate` works on a new file in `directory` (util-linux's fallocate(1) says).
  private func supportsFallocate(_ directory: URL) throws -> Bool {
    let probe = directory.appendingPathComponent("probe")
    defer { try? FileManager.default.removeItem(at: probe) }
    let result = try runCommand("/usr/bin/fallocate", ["-l", "4096", probe.path])
    XCTAssertTrue(result.status == 0 || result.error.contains("Operation not supported"), result.error)
    return result.status == 0
  }

  /// What a read of `range` of `file` got, within a bound.
  private func readOutcome(_ file: DownloadFile, _ range: Range<UInt64>) -> Result<FilledBytes, BitsError>? {
    let outcome = Mutex<Result<FilledBytes, BitsError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    file.read(range, alignment: 4096, timeout: .seconds(10)) { result in
      outcome.withLock { $0 = result }
      done.signal()
    }
    XCTAssertEqual(done.wait(timeout: .now() + 15), .success, "a read of \(range) did not end")
    return outcome.withLock { $0 }
  }

  func testFullCacheDiskFailsARequestBeforeCachingAnyOfIt() throws {
    try requireRoot(for: "mounting a small tmpfs")
    _ = try mountCacheDirectory(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
    _ = try serve("wide.bin", count: 4 << 20)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: nginx.url("wide.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)

    let outcome = readOutcome(file, 0..<4 << 20)
    guard case .failure(let error) = outcome else {
      return XCTFail("a 4 MiB read through a 1 MiB cache: \(outcome as Any)")
    }
    XCTAssertEqual(error.code, .diskFull, "\(error)")
    XCTAssertEqual(file.filledRanges, [], "the space is reserved before any byte is written")
  }

  /// Where `fallocate` is not supported (ramfs here), space is taken as bytes are written and
  /// the file is cached as anywhere else.
  func testWithoutFallocateTheCacheFillsAsBytesArrive() throws {
    try requireRoot(for: "mounting a ramfs")
    let cache = try mountCacheDirectory(["-t", "ramfs", "-o", "mode=0700", "ramfs"])
    XCTAssertFalse(try supportsFallocate(cache), "the test needs a file system without fallocate")
    let bytes = try serve("plain.bin", count: 3 << 20)
    let job = makeJob(onDemand: true) { $0.maximumRequestSize = 1 << 20 }
    let file = try job.addFile(remoteURL: nginx.url("plain.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)

    let outcome = readOutcome(file, 0..<UInt64(bytes.count))
    XCTAssertEqual(try outcome?.get().copiedBytes().get(), bytes)
    XCTAssertEqual(file.filledRanges, [FileRange(offset: 0, length: UInt64(bytes.count))])
  }

  /// A write that finds the disk full (no reservation could have caught it: ext2 has no
  /// `fallocate`) fails its request: the read gets ERROR_DISK_FULL, only bytes that were
  /// written count as filled, the journal claims no more, and what was cached keeps serving.
  func testFullDiskDuringAWriteFailsTheRequestAndCachesOnlyWhatWasWritten() throws {
    try requireRoot(for: "mounting a small ext2 file system")
    let cache = try mountSmallExt2CacheDirectory(bytes: 4 << 20)
    let bytes = try serve("big.bin", count: 8 << 20)
    let job = makeJob(onDemand: true) { $0.maximumRequestSize = 1 << 20 }
    let file = try job.addFile(remoteURL: nginx.url("big.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)
    let head = 0..<UInt64(256 << 10)
    XCTAssertEqual(try readOutcome(file, head)?.get().copiedBytes().get(), Array(bytes[0..<(256 << 10)]))

    let outcome = readOutcome(file, 0..<UInt64(bytes.count))
    guard case .failure(let error) = outcome else {
      return XCTFail("an 8 MiB read through a 4 MiB cache: \(outcome as Any)")
    }
    XCTAssertEqual(error.code, .diskFull, "\(error)")
    try job.suspend()  // other requests still running end; the suspend commits what they wrote
    let filled = file.filledRanges
    let filledBytes = filled.reduce(0) { $0 + Int($1.length) }
    XCTAssertGreaterThan(filledBytes, 256 << 10, "bytes were written before the disk filled")
    XCTAssertLessThan(filledBytes, 4 << 20, "no more than the disk holds counts as filled")
    for range in filled {
      let asked = range.offset..<range.offset + range.length
      let got = try readOutcome(file, asked)?.get().copiedBytes().get()
      XCTAssertTrue(got?.elementsEqual(bytes[Int(range.offset)..<Int(asked.upperBound)]) ?? false, "\(range)")
    }
    // On a full disk the journal itself may not grow, but it never claims more.
    XCTAssertLessThanOrEqual(CacheJournal.journalledBytes(under: cache), filledBytes)
    XCTAssertEqual(try readOutcome(file, head)?.get().copiedBytes().get(), Array(bytes[0..<(256 << 10)]))
  }

  /// Filled ranges reach the journal soon after a file's transfers go quiet, not only at the
  /// commit interval: the bytes of a burst survive a crash that follows it.
  func testFilledRangesAreJournalledSoonAfterTransfersGoQuiet() throws {
    _ = try serve("quiet.bin", count: 1 << 20)
    let job = makeJob(onDemand: true) { $0.commitInterval = .seconds(600) }
    let file = try job.addFile(remoteURL: nginx.url("quiet.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)
    XCTAssertNotNil(readSync(file, 0..<64 << 10))
    let cache = directory.appendingPathComponent("cache")
    XCTAssertTrue(waitUntil(timeout: 10) { CacheJournal.journalledBytes(under: cache) == 64 << 10 })
  }

  /// A read waiting when its job is cancelled ends at once with E_ABORT, not at its deadline.
  func testCancellingTheJobEndsAWaitingReadWithAbort() throws {
    _ = try serve("cancel.bin", count: 1 << 20)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: nginx.url("cancel.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)
    try job.suspend()  // nothing is fetched: the read waits
    let outcome = Mutex<Result<FilledBytes, BitsError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    file.read(0..<4096, alignment: 4096, timeout: .seconds(60)) { result in
      outcome.withLock { $0 = result }
      done.signal()
    }
    try job.cancel()
    XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "the read ended with the job, long before its deadline")
    outcome.withLock { outcome in
      guard case .failure(let error) = outcome else { return XCTFail("\(outcome as Any)") }
      XCTAssertEqual(error.code, .cancelled, "\(error)")
      XCTAssertTrue(error.description.contains("E_ABORT"), "\(error)")
    }
  }

  /// Each read fails at its own deadline: one given a shorter timeout after another is not
  /// held to the other's.
  func testEachReadTimesOutAtItsOwnDeadline() throws {
    _ = try serve("late.bin", count: 1 << 20)
    let job = makeJob(onDemand: true)
    let file = try job.addFile(remoteURL: nginx.url("late.bin"), localName: nil)
    XCTAssertEqual(try settle(job), .transferred)
    try job.suspend()  // nothing is fetched: every read waits for its deadline

    let timedOut = Mutex<[String]>([])
    let ended = (long: DispatchSemaphore(value: 0), short: DispatchSemaphore(value: 0))
    for (name, offset, timeout, end) in [
      ("long", UInt64(0), Duration.seconds(6), ended.long), ("short", 512 << 10, .milliseconds(200), ended.short),
    ] {
      file.read(offset..<offset + 4096, alignment: 4096, timeout: timeout) { result in
        if case .failure(let error) = result, error.code == .timedOut { timedOut.withLock { $0.append(name) } }
        end.signal()
      }
    }
    XCTAssertEqual(ended.short.wait(timeout: .now() + 3), .success, "the short read ends long before the other")
    XCTAssertEqual(timedOut.withLock { $0 }, ["short"])
    XCTAssertEqual(ended.long.wait(timeout: .now() + 10), .success)
    XCTAssertEqual(timedOut.withLock { $0 }, ["short", "long"])
  }

  private func readSync(_ file: DownloadFile, _ range: Range<UInt64>, alignment: UInt64 = 4096) -> FilledBytes? {
    let result = Mutex<FilledBytes?>(nil)
    let done = DispatchSemaphore(value: 0)
    file.read(range, alignment: alignment, timeout: .seconds(10)) { outcome in
      result.withLock { $0 = try? outcome.get() }
      done.signal()
    }
    _ = done.wait(timeout: .now() + 15)
    return result.withLock { $0 }
  }

  private func contents(of filled: FilledBytes) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: filled.range.count)
    try bytes.withUnsafeMutableBytes { try filled.copy(into: $0) }
    return bytes
  }
}
