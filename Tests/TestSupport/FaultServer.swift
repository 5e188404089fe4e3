import Foundation
import Synchronization

/// The project's fault-injecting server (`Tests/fixtures/fault-server.py`) on 127.0.0.1, for
/// what nginx cannot do: ignore ranges, answer wrong ranges, change the file, reset, stall, fail.
/// URLs are `/<fault>/<args…>/<file>`; `/plain/<file>` behaves. Faults that count requests count
/// data requests only: never a HEAD or the one-byte version probe (`Range: bytes=0-0`).
public final class FaultServer {
  public let baseURL: String
  private let process: Process
  private let logPath: String

  public init(root: URL) throws {
    logPath =
      FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-fault-\(UUID().uuidString).log").path
    let port: UInt16
    (process, port) = try FixtureServer.start(
      script: "fault-server.py", arguments: ["--root", root.path, "--port", "0", "--log", logPath],
      label: "fault server")
    baseURL = "http://127.0.0.1:\(port)"
  }

  deinit {
    stop()
  }

  /// The URL of `name` under a fault, e.g. `url("fail/2", "a.bin")`.
  public func url(_ fault: String, _ name: String) -> String { "\(baseURL)/\(fault)/\(name)" }

  public func requests() -> [ServedRequest] {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count == 6, let status = Int(fields[4]), let time = TimeInterval(fields[5]) else { return nil }
      return ServedRequest(
        method: fields[0], path: fields[1], range: fields[2] == "-" ? nil : fields[2],
        ifRange: fields[3] == "-" ? nil : fields[3], status: status, bodyBytes: 0, time: time)
    }
  }

  /// The GETs logged so far other than version probes: the ones that transfer data.
  public func dataRequests() -> [ServedRequest] {
    requests().filter { $0.method == "GET" && $0.range != "bytes=0-0" }
  }

  /// Forgets the per-file request counts, so `-once` and `fail/N` faults happen again.
  public func reset() {
    _ = try? runCommand("/usr/bin/curl", ["-s", "-X", "POST", "--max-time", "5", "\(baseURL)/_control/reset"])
  }

  public func stop() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: logPath)
  }
}
