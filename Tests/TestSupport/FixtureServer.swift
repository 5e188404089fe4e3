import Foundation
import Synchronization

/// Starts one of the project's Python test servers (`Tests/fixtures/<script>`) and waits (at
/// most 10 s) for the `PORT n` line it prints once it listens.
enum FixtureServer {
  static func start(script name: String, arguments: [String], label: String) throws -> (Process, UInt16) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("fixtures/\(name)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [script.path] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let reader = output.fileHandleForReading
    let line = Mutex<String?>(nil)
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      var text = ""
      while !text.contains("\n") {
        let chunk = reader.availableData
        if chunk.isEmpty { break }
        text += String(decoding: chunk, as: UTF8.self)
      }
      line.withLock { $0 = text }
      done.signal()
    }
    guard done.wait(timeout: .now() + 10) == .success, let text = line.withLock({ $0 }),
      let port = text.split(separator: " ").last.flatMap({ UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
    else {
      process.terminate()
      process.waitUntilExit()
      throw TestServerError.notListening(label)
    }
    return (process, port)
  }
}
