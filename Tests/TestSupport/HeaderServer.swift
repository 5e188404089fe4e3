import Foundation
import Synchronization

/// A small server on 127.0.0.1 (`Tests/fixtures/header-server.py`) that logs the headers of
/// every request it gets, to check what a client sends to which host. `/files/<name>` serves a
/// file of `root` with ranges; `redirectURL(to:)` answers 302 to any URL. With a certificate and
/// key it serves HTTPS.
public final class HeaderServer {
  public let baseURL: String
  private let process: Process
  private let logPath: String

  /// One request as the server got it: its path and its headers, names in lower case.
  public struct Request: Sendable {
    public var path: String
    public var headers: [String: String]
  }

  public init(root: URL, certificate: (certificate: String, key: String)? = nil) throws {
    logPath =
      FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-headers-\(UUID().uuidString).log").path
    let arguments =
      ["--root", root.path, "--log", logPath] + (certificate.map { ["--cert", $0.certificate, "--key", $0.key] } ?? [])
    let port: UInt16
    (process, port) = try FixtureServer.start(script: "header-server.py", arguments: arguments, label: "header server")
    baseURL = "\(certificate == nil ? "http" : "https")://127.0.0.1:\(port)"
  }

  deinit {
    stop()
  }

  public func url(_ name: String) -> String { "\(baseURL)/files/\(name)" }

  /// A URL of this server that redirects to `target`.
  public func redirectURL(to target: String) -> String {
    var components = URLComponents(string: "\(baseURL)/redirect")!
    components.queryItems = [URLQueryItem(name: "to", value: target)]
    return components.string!
  }

  public func requests() -> [Request] {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let path = object["path"] as? String, let headers = object["headers"] as? [String: String]
      else { return nil }
      return Request(path: path, headers: headers)
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
