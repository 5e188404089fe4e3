import Foundation
import Synchronization

/// Deterministic file contents and small helpers shared by the tests.
public enum TestData {
  /// `count` pseudo-random bytes from `seed` (SplitMix64), the same on every run.
  public static func bytes(count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
      var offset = 0
      while offset < count {
        var word = generator.next().littleEndian
        let take = min(8, count - offset)
        withUnsafeBytes(of: &word) {
          buffer.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: take)
        }
        offset += take
      }
    }
    return bytes
  }

  /// Writes `bytes(count:seed:)` to `url` and returns them.
  @discardableResult
  public static func write(count: Int, seed: UInt64, to url: URL) throws -> [UInt8] {
    let bytes = bytes(count: count, seed: seed)
    try Data(bytes).write(to: url)
    return bytes
  }

  /// The SHA-256 of a file, from `sha256sum`.
  public static func sha256(of path: String) throws -> String {
    let output = try runCommand("/usr/bin/sha256sum", [path]).output
    return String(output.prefix(64))
  }

  /// The SHA-256 of `bytes`, in the form `sha256(of:)` gives for a file.
  public static func sha256(of bytes: [UInt8]) throws -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-sha-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(bytes).write(to: file)
    return try sha256(of: file.path)
  }
}

/// Polls `condition` until it holds or `timeout` seconds pass; whether it held.
public func waitUntil(timeout: TimeInterval, poll: TimeInterval = 0.02, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while Date() < deadline {
    if condition() { return true }
    Thread.sleep(forTimeInterval: poll)
  }
  return condition()
}

/// The result of a finished child process.
public struct CommandResult: Sendable {
  public var status: Int32
  public var output: String
  public var error: String
}

/// Runs a program to completion (killed after `timeout` seconds) and collects its output.
@discardableResult
public func runCommand(
  _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 120
) throws -> CommandResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
  let output = Pipe()
  let error = Pipe()
  process.standardOutput = output
  process.standardError = error
  process.standardInput = FileHandle.nullDevice
  try process.run()
  // Drain both pipes while waiting, so a chatty child cannot block on a full pipe.
  let collected = Mutex<[Int: String]>([:])
  let group = DispatchGroup()
  for (index, pipe) in [output, error].enumerated() {
    group.enter()
    DispatchQueue.global().async {
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      collected.withLock { $0[index] = String(decoding: data, as: UTF8.self) }
      group.leave()
    }
  }
  let pid = process.processIdentifier
  let timer = DispatchWorkItem { kill(pid, SIGKILL) }
  DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
  process.waitUntilExit()
  timer.cancel()
  _ = group.wait(timeout: .now() + 10)
  let texts = collected.withLock { $0 }
  return CommandResult(status: process.terminationStatus, output: texts[0] ?? "", error: texts[1] ?? "")
}

/// The `bitsfs` executable built next to the tests (`swift build` first), or `$BITSFS_BINARY`.
public var bitsfsBinary: String {
  if let path = ProcessInfo.processInfo.environment["BITSFS_BINARY"] { return path }
  let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  return products.appendingPathComponent("bitsfs").path
}

/// Whether `a` and `b` hold the same bytes, compared with `memcmp`: element by element, a debug
/// build compares tens of megabytes in seconds.
public func sameBytes(_ a: some ContiguousBytes, _ b: some ContiguousBytes) -> Bool {
  a.withUnsafeBytes { a in
    b.withUnsafeBytes { b in
      a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
  }
}
