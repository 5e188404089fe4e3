import BitsEngine
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import BitsMount

/// Random sequences of kernel requests against the mount's file system over the in-memory
/// transport, checked against a model of the versions: every answer is bytes of one version
/// or an error, and all the bytes one open file ever gets belong to one version. Operations:
/// lookups and opens (which revalidate), reads at random and sequential offsets on the open
/// files from several threads at once, releases, version changes and server faults. Seeded;
/// the seed is in every failure message. `BITSFS_MODEL_SEEDS=N` runs N seeds.
final class MountModelTests: XCTestCase {
  private let url = "http://memory.test/model.bin"

  private struct OpenFile {
    let inode: UInt64
    let handle: UInt64
    /// The version (its ETag in the model) the file's answers came from so far.
    var version: String?
    var next: UInt64 = 0
  }

  func testRandomRequestsNeverMixVersionsInOneOpenFile() throws {
    let seeds = ProcessInfo.processInfo.environment["BITSFS_MODEL_SEEDS"].flatMap(Int.init) ?? 6
    for seed in 1...UInt64(max(1, seeds)) { try run(seed: seed, operations: 60) }
  }

  private func run(seed: UInt64, operations: Int) throws {
    var random = SplitMix64(seed: seed)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-fsmodel-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let server = MemoryTransport(stallTimeout: .milliseconds(100), chunkSize: 8192)
    var versions: [String: [UInt8]] = [:]
    var number: UInt64 = 0
    func changeVersion() {
      number += 1
      let bytes = TestData.bytes(count: 150_000 + Int(random.next() % 150_000), seed: seed << 20 | number)
      let etag = "\"m\(seed)v\(number)\""
      versions[etag] = bytes
      server.serve(MemoryTransport.Version(bytes: bytes, etag: etag), at: url)
    }
    changeVersion()
    var configuration = JobConfiguration()
    configuration.isOnDemand = true
    configuration.retryPeriod = .seconds(1)
    configuration.initialRetryDelay = .milliseconds(5)
    configuration.maximumRetryDelay = .milliseconds(20)
    configuration.maximumRequestSize = 32 << 10
    let job = DownloadJob(
      displayName: "model \(seed)", cacheDirectory: directory, transport: server, configuration: configuration)
    let file = try job.addFile(remoteURL: url, localName: nil)
    defer { try? job.cancel() }
    try job.resume()
    try file.connect()
    var options = MountOptions()
    options.blockSize = 16 << 10
    options.readTimeout = .seconds(2)
    options.revalidationInterval = .zero
    options.maximumReadAhead = 256 << 10
    let fileSystem = MountedFileSystem.flat(job: job, files: [("model.bin", file)], options: options)

    var open: [OpenFile] = []
    for step in 0..<operations {
      let context = "seed \(seed), step \(step)"
      switch random.next() % 8 {
      case 0, 1:
        guard
          case .entry(let attributes, _)? = answer({ fileSystem.lookup(parent: 1, name: "model.bin", reply: $0) })
        else { return XCTFail("\(context): lookup") }
        switch answer({ fileSystem.open(inode: attributes.inode, flags: O_RDONLY, reply: $0) }) {
        case .opened(let handle, _, _)?: open.append(OpenFile(inode: attributes.inode, handle: handle))
        case nil: return XCTFail("\(context): an open did not end")
        default: break
        }
      case 2, 3, 4:
        guard !open.isEmpty else { continue }
        // Several reads at once on random open files, sequential or not.
        let picks = (0..<1 + Int(random.next() % 3)).map { _ in Int(random.next() % UInt64(open.count)) }
        let ranges = picks.map { index -> Range<UInt64> in
          let length = 1 + random.next() % 40_000
          let offset = random.next() % 2 == 0 ? open[index].next : random.next() % 320_000
          return offset..<offset + length
        }
        let group = DispatchGroup()
        let answers = Mutex<[Int: FileSystemReply]>([:])
        for (slot, (index, range)) in zip(picks, ranges).enumerated() {
          let target = open[index]
          group.enter()
          DispatchQueue.global().async {
            fileSystem.read(
              inode: target.inode, size: range.count, offset: range.lowerBound, handle: target.handle
            ) { reply in
              answers.withLock { $0[slot] = reply }
              group.leave()
            }
          }
        }
        guard group.wait(timeout: .now() + 10) == .success else { return XCTFail("\(context): a read did not end") }
        let replies = answers.withLock { $0 }
        for (slot, (index, range)) in zip(picks, ranges).enumerated() {
          guard let bytes = replies[slot]?.readBytes else { continue }
          // The versions whose bytes these are, cut at each version's end.
          let matching = versions.filter { _, version in
            let expected = range.clamped(to: 0..<UInt64(version.count))
            return bytes.count == expected.count
              && version[Int(expected.lowerBound)..<Int(expected.upperBound)].elementsEqual(bytes)
          }.map(\.key)
          XCTAssertFalse(matching.isEmpty, "\(context): bytes of \(range) are no version's")
          if let seen = open[index].version, !bytes.isEmpty {
            XCTAssertTrue(matching.contains(seen), "\(context): an open file got bytes of two versions")
          } else if matching.count == 1, !bytes.isEmpty {
            open[index].version = matching[0]
          }
          open[index].next = range.upperBound
        }
      case 5:
        guard !open.isEmpty else { continue }
        let closing = open.remove(at: Int(random.next() % UInt64(open.count)))
        _ = answer { fileSystem.release(inode: closing.inode, handle: closing.handle, reply: $0) }
      case 6:
        changeVersion()
      default:
        let faults: [MemoryTransport.Fault] = [
          .reset(after: Int(random.next() % 10_000)), .stall(after: 0), .status(503), .shortBody(1000),
        ]
        server.inject(faults[Int(random.next() % UInt64(faults.count))], at: url)
      }
    }
  }

}

/// The reply of `operation`, waited for (bounded); `nil` if none came.
private func answer(_ operation: (@escaping FileSystemReplyHandler) -> Void) -> FileSystemReply? {
  replies(to: operation).first
}
