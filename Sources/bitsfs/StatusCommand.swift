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

  func run() throws {
    if MountTable.isDeadMount(path) { fail(with: MountTable.deadMountError(path)) }
    guard FileManager.default.fileExists(atPath: path) else {
      fail(with: BitsError(.invalidArgument, "\(path) does not exist"))
    }
    let files =
      isDirectory(path)
      ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
      : [path]
    for file in files {
      // The map, unlike the list of filled ranges, fits in an attribute however many there are.
      guard let stats = ExtendedAttributes.value("user.bitsfs.stats", of: file),
        let map = ExtendedAttributes.value("user.bitsfs.filled-map", of: file)
      else {
        fail(with: BitsError(.invalidArgument, "\(file) is not a file of a bitsfs mount"))
      }
      let fields = Dictionary(
        stats.split(separator: " ").compactMap { pair -> (String, UInt64)? in
          let parts = pair.split(separator: "=")
          guard parts.count == 2, let value = UInt64(parts[1]) else { return nil }
          return (String(parts[0]), value)
        }, uniquingKeysWith: { $1 })
      let size = fields["size"] ?? 0
      let filledBytes = fields["filled"] ?? 0
      let percent = size == 0 ? 100 : Double(filledBytes) * 100 / Double(size)
      print(
        "\(file.split(separator: "/").last ?? "")  size \(ProgressReporter.bytes(size))  "
          + "filled \(ProgressReporter.bytes(filledBytes)) (\(ProgressReporter.oneDecimal(percent))%) in "
          + "\(fields["ranges"] ?? 0) ranges  fetched \(ProgressReporter.bytes(fields["fetched"] ?? 0)) "
          + "in \(fields["requests"] ?? 0) requests  read ahead \(ProgressReporter.bytes(fields["read-ahead"] ?? 0)) "
          + "(\(ProgressReporter.bytes(fields["read-ahead-used"] ?? 0)) of it read)")
      print("  [\(FilledMap.picture(of: map, width: width))]")
      if fields["unconfirmed"] == 1 {
        print("  served at the version the cache holds; the server has not confirmed it yet")
      }
      if let error = stats.split(separator: " ").first(where: { $0.hasPrefix("last-error=") }) {
        print("  last failure: \(error.dropFirst("last-error=".count))")
      }
    }
  }
}
