import Foundation

/// An S3-compatible server (moto's `moto_server`, installed by `scripts/setup.sh` into
/// `.build/test-venv`) on 127.0.0.1, with a log of the requests it answered. Each start waits at
/// most 20 s; the server is stopped by `stop()` or when released.
public final class S3Server {
  public let baseURL: String
  private let process: Process
  private let logPath: String

  /// Where `moto_server` is: `BITSFS_MOTO_SERVER`, else the setup script's virtual environment.
  public static var executable: String {
    if let path = ProcessInfo.processInfo.environment["BITSFS_MOTO_SERVER"] { return path }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    return root.appendingPathComponent(".build/test-venv/bin/moto_server").path
  }

  /// Why it cannot run here, or `nil` when it is installed.
  public static var missing: String? {
    FileManager.default.isExecutableFile(atPath: executable)
      ? nil : "moto_server is not installed at \(executable); run scripts/setup.sh"
  }

  public init() throws {
    logPath = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-s3-\(UUID().uuidString).log").path
    FileManager.default.createFile(atPath: logPath, contents: nil)
    var lastError: Error = TestServerError.notListening("moto_server")
    for _ in 0..<3 {
      let port = try freePort()
      let process = Process()
      process.executableURL = URL(fileURLWithPath: Self.executable)
      process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
      process.standardInput = FileHandle.nullDevice
      process.standardOutput = FileHandle.nullDevice
      // Werkzeug logs each request on standard error.
      process.standardError = FileHandle(forWritingAtPath: logPath)
      try process.run()
      if waitForPort(port, timeout: 20, while: { process.isRunning }) {
        self.process = process
        baseURL = "http://127.0.0.1:\(port)"
        return
      }
      if process.isRunning { process.terminate() }
      process.waitUntilExit()
      lastError = TestServerError.notListening("moto_server on port \(port)")
    }
    throw lastError
  }

  deinit {
    stop()
  }

  /// Creates `bucket` and uploads the files below `directory` to it (but `skipping` those paths),
  /// readable by anyone, then `many.count` small files named `n00000…` under `many.prefix`.
  public func upload(
    _ directory: URL, to bucket: String, skipping: [String] = [], many: (prefix: String, count: Int)? = nil
  ) throws {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("fixtures/s3-put.py")
    var arguments = [script.path, baseURL, bucket, directory.path] + skipping.flatMap { ["--skip", $0] }
    if let many { arguments += ["--many", many.prefix, String(many.count)] }
    let result = try runCommand("/usr/bin/python3", arguments, timeout: 120)
    guard result.status == 0 else { throw TestServerError.notListening("uploading to moto: \(result.error)") }
  }

  /// The requests answered so far, as `METHOD PATH STATUS`.
  public var requests: [String] {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      guard let start = line.firstIndex(of: "\""), let end = line[line.index(after: start)...].firstIndex(of: "\"")
      else { return nil }
      let request = line[line.index(after: start)..<end].split(separator: " ")
      let status = line[line.index(after: end)...].split(separator: " ").first ?? ""
      return request.count >= 2 ? "\(request[0]) \(request[1]) \(status)" : nil
    }
  }

  public func stop() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: logPath)
  }
}
