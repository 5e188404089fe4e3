import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

/// Random sequences of operations against the engine over the in-memory transport, checked
/// against a reference model of the bytes each version of the remote file has: every answer is
/// one version's bytes at the offsets read, or an error; every wait ends within its bound.
///
/// Operations: reads at random and sequential offsets from several threads at once, a change
/// of the remote version, a server fault on the next data request, suspend and resume,
/// revalidation, and a restart of the process's job on the same cache. Seeded; the seed is in
/// every failure message. `BITSFS_MODEL_SEEDS=N` runs N seeds (CI runs a few).
final class ModelBasedTests: XCTestCase {
  private let url = "http://memory.test/model.bin"

  /// The model: every version the server has served, by ETag.
  private struct Model {
    var versions: [String: [UInt8]] = [:]
    var current = ""

    /// Whether a read of `asked` answered with `bytes` at `answered` is one version's answer:
    /// the asked range cut at that version's end, with that version's bytes.
    func isOneVersion(_ bytes: [UInt8], asked: Range<UInt64>, answered: Range<UInt64>) -> Bool {
      versions.values.contains { version in
        answered == asked.clamped(to: 0..<UInt64(version.count))
          && version[Int(answered.lowerBound)..<Int(answered.upperBound)].elementsEqual(bytes)
      }
    }
  }

  func testRandomOperationsOnlyEverAnswerOneVersionsBytes() throws {
    let environment = ProcessInfo.processInfo.environment
    if let seed = environment["BITSFS_MODEL_SEED"].flatMap(UInt64.init) { return try run(seed: seed, operations: 40) }
    let seeds = environment["BITSFS_MODEL_SEEDS"].flatMap(Int.init) ?? 6
    for seed in 1...UInt64(max(1, seeds)) {
      try run(seed: seed, operations: 40)
    }
  }

  private func run(seed: UInt64, operations: Int) throws {
    var random = SplitMix64(seed: seed)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-model-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let server = MemoryTransport(stallTimeout: .milliseconds(100), chunkSize: 8192)
    var model = Model()
    var versionNumber: UInt64 = 0
    func changeVersion() {
      versionNumber += 1
      let size = 200_000 + Int(random.next() % 200_000)
      let bytes = TestData.bytes(count: size, seed: seed << 16 | versionNumber)
      let etag = "\"s\(seed)v\(versionNumber)\""
      model.versions[etag] = bytes
      model.current = etag
      server.serve(MemoryTransport.Version(bytes: bytes, etag: etag), at: url)
    }
    changeVersion()

    var job: DownloadJob!
    var file: DownloadFile!
    func start() throws {
      var configuration = JobConfiguration()
      configuration.isOnDemand = true
      configuration.retryPeriod = .seconds(2)
      configuration.initialRetryDelay = .milliseconds(5)
      configuration.maximumRetryDelay = .milliseconds(20)
      configuration.maximumRequestSize = 64 << 10
      job = DownloadJob(
        displayName: "model \(seed)", cacheDirectory: directory, transport: server, configuration: configuration)
      file = try job.addFile(remoteURL: url, localName: nil)
      try job.resume()
      _ = try file.connect()
    }
    try start()

    var sequentialOffset: UInt64 = 0
    var trace: [String] = []
    for step in 0..<operations {
      let context = "seed \(seed), step \(step) after \(trace.suffix(8))"
      let operation = random.next() % 10
      trace.append(
        ["read", "read", "read", "read", "read", "change", "fault", "suspend", "revalidate", "restart"][
          Int(operation)])
      switch operation {
      case 0...4:
        // 1 to 4 reads at once, random or continuing a sequential reader.
        let count = 1 + Int(random.next() % 4)
        var ranges: [Range<UInt64>] = []
        for _ in 0..<count {
          let length = 1 + random.next() % 100_000
          let offset: UInt64
          if random.next() % 2 == 0 {
            offset = sequentialOffset
            sequentialOffset = (sequentialOffset + length) % 400_000
          } else {
            offset = random.next() % 420_000
          }
          ranges.append(offset..<offset + length)
        }
        let answers = Self.readConcurrently(file, ranges, timeout: .seconds(3))
        for (range, answer) in zip(ranges, answers) {
          guard let answer else { return XCTFail("\(context): a read of \(range) did not end within its bound") }
          if case .success(let (bytes, answered)) = answer {
            XCTAssertTrue(
              model.isOneVersion(bytes, asked: range, answered: answered),
              "\(context): \(answered) for \(range) is not one version's answer")
          }
        }
      case 5:
        changeVersion()
      case 6:
        let faults: [MemoryTransport.Fault] = [
          .reset(after: Int(random.next() % 20_000)), .stall(after: Int(random.next() % 20_000)), .status(503),
          .shortBody(Int(random.next() % 20_000)), .shiftedRange(offset: 512), .status(500),
        ]
        server.inject(faults[Int(random.next() % UInt64(faults.count))], at: url)
      case 7:
        try job.suspend()
        try job.resume()
      case 8:
        let done = DispatchSemaphore(value: 0)
        file.revalidate(ifOlderThan: .zero) { done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "\(context): revalidation did not end")
      default:
        // A restart of the process: the job goes away with its files, a new one opens the cache.
        file.close()
        try job.suspend()
        job = nil
        file = nil
        try start()
      }
      if let size = file.version?.size {
        XCTAssertTrue(
          file.filledRanges.allSatisfy { $0.offset + $0.length <= size }, "\(context): filled past the end")
      }
    }

    // Once the server stays at one version, the file comes to read as it, whole: a
    // revalidation, or a connection attempt that was under way when the server changed, moves
    // it on (reads in between may fail: the file changed under them).
    let expected = model.versions[model.current]!
    var whole: Result<([UInt8], Range<UInt64>), BitsError>??
    for _ in 0..<5 {
      let done = DispatchSemaphore(value: 0)
      file.revalidate(ifOlderThan: .zero) { done.signal() }
      XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
      _ = try? file.connect()
      whole = Self.readConcurrently(file, [0..<UInt64(expected.count)], timeout: .seconds(5)).first
      if case .success(let (bytes, _))?? = whole, bytes == expected { break }
    }
    guard case .success(let (bytes, _))?? = whole else {
      return XCTFail("seed \(seed): the final read failed: \(String(describing: whole)), trace \(trace.suffix(10))")
    }
    XCTAssertTrue(bytes == expected, "seed \(seed): the final read is not the current version")
    file.close()
    try job.cancel()
  }

  /// Starts every read at once and waits for each (bounded): `nil` for one that did not end.
  private static func readConcurrently(
    _ file: DownloadFile, _ ranges: [Range<UInt64>], timeout: Duration
  ) -> [Result<([UInt8], Range<UInt64>), BitsError>?] {
    let answers = Mutex<[Int: Result<([UInt8], Range<UInt64>), BitsError>]>([:])
    let group = DispatchGroup()
    for (index, range) in ranges.enumerated() {
      group.enter()
      DispatchQueue.global().async {
        file.read(range, alignment: 4096, timeout: timeout) { result in
          let copied = result.flatMap { filled in filled.copiedBytes().map { ($0, filled.range) } }
          answers.withLock { $0[index] = copied }
          group.leave()
        }
      }
    }
    _ = group.wait(timeout: .now() + .milliseconds(Int(timeout / .milliseconds(1)) + 3000))
    let collected = answers.withLock { $0 }
    return ranges.indices.map { collected[$0] }
  }
}
