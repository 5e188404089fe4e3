import Foundation

/// One request as a test server logged it.
public struct ServedRequest: Sendable, Equatable {
  public var method: String
  public var path: String
  /// The `Range` request header, e.g. `bytes=0-99`.
  public var range: String?
  public var ifRange: String?
  public var status: Int
  public var bodyBytes: Int
  /// When it was answered, in seconds since the server started; 0 where the server does not log it.
  public var time: TimeInterval = 0
  /// `HTTP/1.1`, `HTTP/2.0`; empty where the server does not log it.
  public var protocolVersion = ""
  /// The serial number of the connection the request came on; 0 where the server does not log it.
  public var connection = 0
}

/// A private nginx on 127.0.0.1 serving a fresh temporary directory, started and stopped by the
/// test that owns it. `/auth/…` serves the same files but wants `Authorization: Bearer sekrit`;
/// `/moved/…` redirects to the file; `/to-ftp.bin` redirects to an ftp URL. With `tls`, it serves
/// HTTPS and HTTP/2 with a self-signed certificate made for the occasion.
public final class NginxServer {
  public let root: URL
  public let baseURL: String
  /// The self-signed certificate of a TLS server, for clients told to trust it.
  public var certificatePath: String { prefix.appendingPathComponent("cert.pem").path }
  private let prefix: URL
  private let port: UInt16
  private var process: Process

  public init(tls: Bool = false) throws {
    prefix = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-nginx-\(UUID().uuidString)")
    root = prefix.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: prefix.appendingPathComponent("tmp"), withIntermediateDirectories: true)
    if tls {
      let made = try runCommand(
        "/usr/bin/openssl",
        [
          "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
          "-addext", "subjectAltName=IP:127.0.0.1",
          "-keyout", prefix.appendingPathComponent("key.pem").path,
          "-out", prefix.appendingPathComponent("cert.pem").path,
        ])
      guard made.status == 0 else { throw TestServerError.notListening("nginx (no certificate: \(made.error))") }
    }
    var lastError: Error = TestServerError.notListening("nginx")
    for _ in 0..<5 {
      let port = try freePort()
      let configuration = Self.configuration(prefix: prefix.path, root: root.path, port: port, tls: tls)
      try configuration.write(to: prefix.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
      do {
        process = try Self.start(prefix: prefix, port: port)
        self.port = port
        baseURL = "\(tls ? "https" : "http")://127.0.0.1:\(port)"
        return
      } catch {
        lastError = error
      }
    }
    try? FileManager.default.removeItem(at: prefix)
    throw lastError
  }

  private static func start(prefix: URL, port: UInt16) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
    process.arguments = [
      "-p", prefix.path, "-c", prefix.appendingPathComponent("nginx.conf").path,
      "-e", prefix.appendingPathComponent("error.log").path,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    if waitForPort(port, timeout: 10, while: { process.isRunning }) { return process }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    throw TestServerError.notListening("nginx on port \(port)")
  }

  /// Stops serving, as a server that died; `restart()` brings it back on the same port.
  public func kill() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
  }

  public func restart() throws {
    kill()
    process = try Self.start(prefix: prefix, port: port)
  }

  deinit {
    stop()
  }

  public func url(_ name: String) -> String { "\(baseURL)/\(name)" }

  /// The requests logged so far. nginx writes a request's line just after sending its answer, so
  /// a client can act on an answer before its line exists; one request to nginx's single worker
  /// first makes the worker finish whatever it was doing, logging included.
  public func requests() -> [ServedRequest] {
    waitForTheWorker()
    let text = (try? String(contentsOf: prefix.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count == 8, let status = Int(fields[4]), let bytes = Int(fields[5]) else { return nil }
      func header(_ value: String) -> String? { value == "-" || value.isEmpty ? nil : value }
      return ServedRequest(
        method: fields[0], path: fields[1], range: header(fields[2]), ifRange: header(fields[3]), status: status,
        bodyBytes: bytes, protocolVersion: fields[6], connection: Int(fields[7]) ?? 0)
    }
  }

  /// Sends one unlogged request over a Unix socket and reads the answer; does nothing when nginx
  /// is not running.
  private func waitForTheWorker() {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let path = Array(prefix.appendingPathComponent("worker.sock").path.utf8CString)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.map { UInt8(bitPattern: $0) }) }
    let length = socklen_t(MemoryLayout<sockaddr_un>.size)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
    }
    guard connected == 0 else { return }
    let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { return }
    var buffer = [UInt8](repeating: 0, count: 512)
    while read(fd, &buffer, buffer.count) > 0 {}
  }

  /// Forgets the requests logged so far.
  public func clearLog() {
    // Lines of requests already answered are written first, or they would land after the cut.
    waitForTheWorker()
    _ = truncate(prefix.appendingPathComponent("access.log").path, 0)
  }

  public func stop() {
    kill()
    try? FileManager.default.removeItem(at: prefix)
  }

  private static func configuration(prefix: String, root: String, port: UInt16, tls: Bool) -> String {
    """
    \(getuid() == 0 ? "user root;" : "")
    daemon off;
    master_process off;
    worker_processes 1;
    pid \(prefix)/nginx.pid;
    error_log \(prefix)/error.log warn;
    events { worker_connections 512; }
    http {
      log_format ranges "$request_method\\t$uri\\t$http_range\\t$http_if_range\\t$status\\t$body_bytes_sent\\t$server_protocol\\t$connection";
      access_log \(prefix)/access.log ranges;
      client_body_temp_path \(prefix)/tmp;
      proxy_temp_path \(prefix)/tmp;
      fastcgi_temp_path \(prefix)/tmp;
      uwsgi_temp_path \(prefix)/tmp;
      scgi_temp_path \(prefix)/tmp;
      sendfile on;
      keepalive_requests 100000;
      server {
        listen 127.0.0.1:\(port)\(tls ? " ssl http2" : "");
        \(tls ? "ssl_certificate \(prefix)/cert.pem; ssl_certificate_key \(prefix)/key.pem;" : "")
        root \(root);
        location /moved/ { rewrite ^/moved/(.*)$ /$1 redirect; }
        location /tree/ { autoindex on; autoindex_format json; }
        location = /to-ftp.bin { return 302 ftp://127.0.0.1/x.bin; }
        location /auth/ {
          if ($http_authorization != "Bearer sekrit") { return 401; }
          alias \(root)/;
        }
      }
      server {
        listen unix:\(prefix)/worker.sock;
        access_log off;
        location / { return 204; }
      }
    }
    """
  }
}

enum TestServerError: Error, CustomStringConvertible {
  case notListening(String)

  var description: String {
    switch self {
    case .notListening(let what): "\(what) did not start listening"
    }
  }
}

/// A port nothing listens on right now (bound to 0, then released).
func freePort() throws -> UInt16 {
  let (descriptor, port) = try listenOnLoopback(backlog: 0, purpose: "a free port")
  close(descriptor)
  return port
}

/// Whether something accepts connections on 127.0.0.1:`port` within `timeout` seconds.
func waitForPort(_ port: UInt16, timeout: TimeInterval, while alive: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while Date() < deadline, alive() {
    if let fd = connectToLoopback(port: port) {
      close(fd)
      return true
    }
    Thread.sleep(forTimeInterval: 0.05)
  }
  return false
}
