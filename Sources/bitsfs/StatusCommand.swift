import ArgumentParser
import BitsEngine
import BitsMount
import FoundationEssentials

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Show how much of each mounted file is in the cache, and where.")

  @Argument(help: "A bitsfs mount point or a file in one.")
  var path: String

  @Option(
    parsing: .unconditional, help: "Width of the picture of filled parts.",
    transform: NumericOption.count("--width", in: 8...FilledMap.slotCount))
  var width = 64

  @Flag(help: "Print the status as JSON (schema version 1, see the README), for scripts.")
  var json = false

  @Flag(help: "Show the status again every --interval until the mount goes away: redrawn on a terminal, else lines.")
  var watch = false

  @Option(
    parsing: .unconditional, help: "Seconds between two statuses of --watch.",
    transform: NumericOption.seconds("--interval", in: 0.1...3600))
  var interval: Double = 1

  func run() throws {
    if watch { return StatusWatchLoop(path: path, width: width, interval: interval).run() }
    if MountTable.isDeadMount(path) { fail(with: MountTable.deadMountError(path)) }
    guard FileManager.default.fileExists(atPath: path) else {
      fail(with: BitsError(.invalidArgument, "\(path) does not exist"))
    }
    // A directory's files; its subdirectories are for `status` of each.
    let files =
      isDirectory(path)
      ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
        .filter { !isDirectory($0) }
      : [path]
    if json { return printJSON(of: files) }
    for file in files {
      // The map, unlike the list of filled ranges, fits in an attribute however many there are.
      guard let stats = ExtendedAttributes.value("user.bitsfs.stats", of: file),
        let map = ExtendedAttributes.value("user.bitsfs.filled-map", of: file)
      else {
        fail(with: BitsError(.invalidArgument, "\(file) is not a file of a bitsfs mount"))
      }
      let words = Dictionary(
        stats.split(separator: " ").compactMap { pair -> (String, String)? in
          let parts = pair.split(separator: "=", maxSplits: 1)
          return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }, uniquingKeysWith: { $1 })
      let fields = words.compactMapValues(UInt64.init)
      let size = fields["size"] ?? 0
      let filledBytes = fields["filled"] ?? 0
      let percent = size == 0 ? 100 : Double(filledBytes) * 100 / Double(size)
      print(
        "\(file.split(separator: "/").last ?? "")  size \(TextFormat.bytes(size))  "
          + "filled \(TextFormat.bytes(filledBytes)) (\(TextFormat.oneDecimal(percent))%) in "
          + "\(fields["ranges"] ?? 0) ranges  fetched \(TextFormat.bytes(fields["fetched"] ?? 0)) "
          + "in \(fields["requests"] ?? 0) requests  read ahead \(TextFormat.bytes(fields["read-ahead"] ?? 0)) "
          + "(\(TextFormat.bytes(fields["read-ahead-used"] ?? 0)) of it read)")
      print("  [\(FilledMap.picture(of: map, width: width))]")
      if fields["unconfirmed"] == 1 {
        print("  served at the version the cache holds; the server has not confirmed it yet")
      }
      if let error = words["last-error"] { print("  last failure: \(error)") }
      if let fill = words["fill"] {
        print(
          "  background fill (\(words["fill-priority"] ?? "low")): \(fill)"
            + (words["fill-error"].map { ", \($0)" } ?? ""))
      }
    }
  }

  /// The status of `files` and of the mount they are in as one JSON document; each file named
  /// by its path in the mount.
  private func printJSON(of files: [String]) {
    let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
    let mountPoint =
      MountTable.mountPoints().filter { absolute == $0 || absolute.hasPrefix($0 == "/" ? "/" : $0 + "/") }
      .max { $0.count < $1.count } ?? absolute
    let decoder = JSONDecoder()
    func decoded<Value: Decodable>(_ type: Value.Type, _ name: String, of file: String) -> Value {
      guard let text = ExtendedAttributes.value(name, of: file),
        let value = try? decoder.decode(type, from: Data(text.utf8))
      else {
        fail(with: BitsError(.invalidArgument, "\(file) is not a file of a bitsfs mount"))
      }
      return value
    }
    let fileStatuses = files.map { file in
      var status = decoded(FileStatus.self, "user.bitsfs.status", of: file)
      let full = URL(fileURLWithPath: file).standardizedFileURL.path
      status.name = String(full.dropFirst(mountPoint.count).drop { $0 == "/" })
      return status
    }
    let status = MountStatus(
      mountPoint: mountPoint, pid: ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint).flatMap(Int32.init),
      job: decoded(JobStatus.self, "user.bitsfs.job", of: mountPoint), files: fileStatuses)
    print(status.json(pretty: true))
  }
}
