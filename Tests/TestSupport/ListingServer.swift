import BitsEngine
import Foundation

/// A generated tree of files and directories with the names listings get wrong: spaces, `%`,
/// `#`, `?`, `&'"<>`, a colon, unicode, a dot file, a name past nginx's 50 columns, a 0-byte
/// file, sizes around every rounding unit, and a 3 GiB sparse file.
public struct ListingTree {
  public struct Item: Sendable, Equatable {
    public var name: String
    public var isDirectory: Bool
    /// Files only.
    public var size: UInt64
    public var modified: Date
  }

  public let root: URL
  /// The directories, as paths below the root (`""` the root, `sub/inner`).
  public static let directories = ["", "sub", "sub/inner", "dir with space", "ünï dir", "empty dir"]
  private static let files: [(path: String, size: UInt64)] = [
    ("plain.txt", 6), ("empty", 0), ("with space.txt", 1234), ("per%cent.bin", 12345), ("hash#tag.txt", 999),
    ("question?.txt", 10), ("ünïcödé-日本.txt", 1023), ("amp&'quote\"<lt>.txt", 5), ("colon:name", 2),
    ("a-very-long-name-that-is-longer-than-fifty-bytes-for-sure-0123456789.txt", 77), (".hidden", 2),
    ("mid.bin", 1_234_567), ("big.bin", 3_221_237_000), ("sub/a b.txt", 2), ("sub/inner/deep.txt", 5),
    ("dir with space/f", 1), ("ünï dir/g", 1),
  ]

  public init() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-tree-\(UUID().uuidString)")
    for directory in Self.directories {
      try FileManager.default.createDirectory(
        at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
    }
    for (index, file) in Self.files.enumerated() {
      let url = root.appendingPathComponent(file.path)
      // Sparse past 2 MiB: the size is what listings show.
      if file.size > 2 << 20 {
        guard FileManager.default.createFile(atPath: url.path, contents: nil), truncate(url.path, off_t(file.size)) == 0
        else { throw CocoaError(.fileWriteUnknown) }
      } else {
        try TestData.write(count: Int(file.size), seed: UInt64(index), to: url)
      }
    }
  }

  /// What `directory` holds, read from the disk.
  public func items(in directory: String) throws -> [Item] {
    let url = root.appendingPathComponent(directory)
    return try FileManager.default.contentsOfDirectory(atPath: url.path).map { name in
      let attributes = try FileManager.default.attributesOfItem(atPath: url.appendingPathComponent(name).path)
      let isDirectory = attributes[.type] as? FileAttributeType == .typeDirectory
      return Item(
        name: name, isDirectory: isDirectory, size: isDirectory ? 0 : (attributes[.size] as! NSNumber).uint64Value,
        modified: attributes[.modificationDate] as! Date)
    }
  }

  public func remove() {
    try? FileManager.default.removeItem(at: root)
  }
}

/// A private directory-listing server on 127.0.0.1 with its own configuration, serving a tree:
/// nginx (`/html/`, `/rounded/` with `autoindex_exact_size off`, `/json/`, `/xml/`), Apache
/// (`/fancy/` Debian's `IndexOptions`, `/pre/` fancy without `HTMLTable`, `/plain/`), lighttpd,
/// Caddy (`file_server browse`) and Python's `http.server` (at `/`). Each start waits at most
/// 10 s; the server is stopped by `stop()` or when released. Times are UTC (`TZ=UTC`).
public final class ListingServer {
  public enum Software: String, Sendable {
    case nginx, apache, lighttpd, caddy, python

    var executable: String {
      switch self {
      case .nginx: "/usr/sbin/nginx"
      case .apache: "/usr/sbin/apache2"
      case .lighttpd: "/usr/sbin/lighttpd"
      case .caddy: "/usr/bin/caddy"
      case .python: "/usr/bin/python3"
      }
    }

    /// Why it cannot run here, or `nil` when it is installed.
    public var missing: String? {
      FileManager.default.isExecutableFile(atPath: executable)
        ? nil : "\(rawValue) is not installed (\(executable)); apt-get install \(package)"
    }

    private var package: String { self == .python ? "python3" : self == .apache ? "apache2" : rawValue }
  }

  public let baseURL: String
  private let prefix: URL
  private var process: Process

  /// The requests nginx answered so far, as `METHOD URI STATUS` lines; empty for other servers.
  public var requests: [String] {
    let log = (try? String(contentsOf: prefix.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
    return log.split(separator: "\n").map(String.init)
  }

  public init(_ software: Software, serving root: URL) throws {
    prefix = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-\(software)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: prefix, withIntermediateDirectories: true)
    var lastError: Error = TestServerError.notListening(software.rawValue)
    for _ in 0..<5 {
      let port = try freePort()
      do {
        process = try Self.start(software, root: root.path, prefix: prefix, port: port)
        baseURL = "http://127.0.0.1:\(port)"
        return
      } catch {
        lastError = error
      }
    }
    try? FileManager.default.removeItem(at: prefix)
    throw lastError
  }

  deinit {
    stop()
  }

  public func stop() {
    if process.isRunning {
      process.terminate()
      if !waitUntil(timeout: 5, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: prefix)
  }

  private static func start(_ software: Software, root: String, prefix: URL, port: UInt16) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: software.executable)
    let directory = prefix.path
    var environment = ["TZ": "UTC", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
    switch software {
    case .nginx:
      try write(nginxConfiguration(root: root, prefix: directory, port: port), to: prefix, "nginx.conf")
      process.arguments = ["-p", directory, "-c", "\(directory)/nginx.conf", "-e", "\(directory)/error.log"]
    case .apache:
      try write(apacheConfiguration(root: root, prefix: directory, port: port), to: prefix, "httpd.conf")
      process.arguments = ["-f", "\(directory)/httpd.conf", "-DFOREGROUND"]
    case .lighttpd:
      try write(
        """
        server.document-root = "\(root)"
        server.bind = "127.0.0.1"
        server.port = \(port)
        server.errorlog = "\(directory)/error.log"
        server.modules = ( "mod_dirlisting" )
        dir-listing.activate = "enable"
        dir-listing.encoding = "utf-8"
        """, to: prefix, "lighttpd.conf")
      process.arguments = ["-D", "-f", "\(directory)/lighttpd.conf"]
    case .caddy:
      try write(
        """
        {
          admin off
          auto_https off
        }
        http://127.0.0.1:\(port) {
          root * "\(root)"
          file_server browse
        }
        """, to: prefix, "Caddyfile")
      process.arguments = ["run", "--config", "\(directory)/Caddyfile", "--adapter", "caddyfile"]
      // Caddy keeps its state under these; never the user's own.
      environment.merge(["HOME": directory, "XDG_DATA_HOME": directory, "XDG_CONFIG_HOME": directory]) { $1 }
    case .python:
      process.arguments = ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root]
    }
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    if waitForPort(port, timeout: 10, while: { process.isRunning }) { return process }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    throw TestServerError.notListening("\(software) on port \(port)")
  }

  private static func write(_ text: String, to directory: URL, _ name: String) throws {
    try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
  }

  private static func nginxConfiguration(root: String, prefix: String, port: UInt16) -> String {
    let temporary = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(prefix);" }
    return """
      \(getuid() == 0 ? "user root;" : "")
      daemon off;
      master_process off;
      worker_processes 1;
      pid \(prefix)/nginx.pid;
      error_log \(prefix)/error.log warn;
      events { worker_connections 64; }
      http {
        log_format requests '$request_method $request_uri $status';
        access_log \(prefix)/access.log requests;
        \(temporary.joined(separator: " "))
        server {
          listen 127.0.0.1:\(port);
          location /html/ { alias \(root)/; autoindex on; }
          location /rounded/ { alias \(root)/; autoindex on; autoindex_exact_size off; }
          location /json/ { alias \(root)/; autoindex on; autoindex_format json; }
          location /xml/ { alias \(root)/; autoindex on; autoindex_format xml; }
        }
      }
      """
  }

  private static func apacheConfiguration(root: String, prefix: String, port: UInt16) -> String {
    let modules = ["mpm_event", "authz_core", "alias", "dir", "autoindex", "mime"].map {
      "LoadModule \($0)_module /usr/lib/apache2/modules/mod_\($0).so"
    }
    // Apache will not serve as root: its workers run as www-data, who can read the tree.
    let user = getuid() == 0 ? "User www-data\nGroup www-data" : ""
    return """
      ServerRoot \(prefix)
      DefaultRuntimeDir \(prefix)
      PidFile \(prefix)/httpd.pid
      ErrorLog \(prefix)/error.log
      Listen 127.0.0.1:\(port)
      ServerName 127.0.0.1
      \(user)
      \(modules.joined(separator: "\n"))
      TypesConfig /etc/mime.types
      <Directory "\(root)">
        Options +Indexes
        Require all granted
      </Directory>
      Alias /fancy/ "\(root)/"
      Alias /pre/ "\(root)/"
      Alias /plain/ "\(root)/"
      <Location /fancy/>
        IndexOptions FancyIndexing VersionSort HTMLTable NameWidth=* DescriptionWidth=* Charset=UTF-8
      </Location>
      <Location /pre/>
        IndexOptions FancyIndexing NameWidth=* Charset=UTF-8
      </Location>
      <Location /plain/>
        IndexOptions -FancyIndexing Charset=UTF-8
      </Location>
      """
  }
}

/// GETs `url` with curl (at most 10 s) as a listing is asked for: the final response's head (after
/// redirects) and its body.
public func fetchListing(_ url: String) throws -> (head: HTTPResponseHead, body: [UInt8]) {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-curl-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  let headPath = directory.appendingPathComponent("head").path
  let bodyPath = directory.appendingPathComponent("body").path
  let result = try runCommand(
    "/usr/bin/curl",
    [
      "-sS", "-L", "--max-time", "10", "-H", "Accept: \(ListingParser.accept)", "-D", headPath, "-o", bodyPath,
      "-w", "%{url_effective}", url,
    ], timeout: 15)
  guard result.status == 0 else { throw TestServerError.notListening("curl \(url): \(result.error)") }
  var head = HTTPResponseHead(status: 0, headers: [:], finalURL: result.output)
  let headText = try Data(contentsOf: URL(fileURLWithPath: headPath))
  for line in headText.split(separator: UInt8(ascii: "\n")) {
    Array(line).withUnsafeBytes { head.add(line: $0) }
  }
  return (head, Array(try Data(contentsOf: URL(fileURLWithPath: bodyPath))))
}
