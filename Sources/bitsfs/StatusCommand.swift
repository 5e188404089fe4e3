import ArgumentParser
import BitsEngine
import BitsMount
import FoundationEssentials

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Show how much of each mounted file is in the cache, and where.")

  @Argument(help: "A bitsfs mount point or a file in one.")
  var path: String

  @Option(help: "Width of the picture of filled parts.")
  var width = 64

  func run() throws {
    guard FileManager.default.fileExists(atPath: path) else {
      fail(with: BitsError(.invalidArgument, "\(path) does not exist"))
    }
    let files =
      isDirectory(path)
      ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
      : [path]
    for file in files {
      guard let stats = ExtendedAttributes.value("user.bitsfs.stats", of: file),
        let filled = ExtendedAttributes.value("user.bitsfs.filled", of: file)
      else {
        fail(with: BitsError(.invalidArgument, "\(file) is not a file of a bitsfs mount"))
      }
      let fields = Dictionary(
        stats.split(separator: " ").compactMap { pair -> (String, UInt64)? in
          let parts = pair.split(separator: "=")
          guard parts.count == 2, let value = UInt64(parts[1]) else { return nil }
          return (String(parts[0]), value)
        }, uniquingKeysWith: { $1 })
      let ranges = filled.split(separator: " ").compactMap { pair -> Range<UInt64>? in
        let parts = pair.split(separator: "+")
        guard parts.count == 2, let offset = UInt64(parts[0]), let length = UInt64(parts[1]) else { return nil }
        return offset..<offset + length
      }
      let size = fields["size"] ?? 0
      let filledBytes = fields["filled"] ?? 0
      let percent = size == 0 ? 100 : Double(filledBytes) * 100 / Double(size)
      print(
        "\(file.split(separator: "/").last ?? "")  size \(ProgressReporter.bytes(size))  "
          + "filled \(ProgressReporter.bytes(filledBytes)) (\(ProgressReporter.oneDecimal(percent))%) in "
          + "\(fields["ranges"] ?? 0) ranges  fetched \(ProgressReporter.bytes(fields["fetched"] ?? 0)) "
          + "in \(fields["requests"] ?? 0) requests")
      print("  [\(Self.picture(of: ranges, size: size, width: max(8, width)))]")
    }
  }

  /// One character per slice of the file: '#' all filled, '+' partly, '.' nothing.
  static func picture(of ranges: [Range<UInt64>], size: UInt64, width: Int) -> String {
    guard size > 0 else { return String(repeating: "#", count: width) }
    let filled = ByteRangeSet(ranges)
    return String(
      (0..<width).map { slot -> Character in
        let lower = size * UInt64(slot) / UInt64(width)
        let upper = max(lower + 1, size * UInt64(slot + 1) / UInt64(width))
        let covered = filled.intersection(with: lower..<upper).reduce(UInt64(0)) { $0 + UInt64($1.count) }
        return covered == upper - lower ? "#" : covered > 0 ? "+" : "."
      })
  }
}
