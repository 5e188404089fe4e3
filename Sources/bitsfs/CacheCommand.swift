import ArgumentParser
import BitsEngine
import BitsMount
import FoundationEssentials
import Glibc

/// `bitsfs cache`: list, remove, prune and verify the entries of a cache directory.
struct CacheCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cache", abstract: "List, remove, prune and verify what a cache directory holds.",
    discussion: """
      Only bitsfs cache entries are ever removed, each under its lock: an entry a mount holds \
      is left alone and named. Nothing in the cache is trusted while it is read.
      """,
    subcommands: [List.self, Remove.self, Clear.self, Prune.self, Verify.self])

  /// `--cache-dir`, shared by the subcommands.
  struct Location: ParsableArguments {
    @Option(help: "The cache directory (default: $XDG_CACHE_HOME/bitsfs).")
    var cacheDir: String?

    var directory: URL { cacheDir.map { URL(fileURLWithPath: $0) } ?? MountCommand.defaultCacheDirectory }

    func inventory() throws(BitsError) -> CacheInventory {
      try CacheInventory(directory: directory)
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "ls",
      abstract: "Each entry: its URL (no query string), size, bytes cached and on disk, last use, and who holds it.")

    @OptionGroup var location: Location

    func run() throws {
      let items = Self.items(location)
      print("LAST USE (UTC)    SIZE       CACHED     ON DISK    HELD BY    URL")
      for item in items {
        let held = item.holder.map { "pid \($0)" } ?? "-"
        let cached = item.problems.isEmpty ? TextFormat.bytes(item.cachedBytes) : "damaged"
        print(
          [
            CacheCommand.date(item.lastUse), column(item.size.map(TextFormat.bytes) ?? "?"), column(cached),
            column(TextFormat.bytes(item.diskBytes)), column(held),
            item.url.map(shownURL) ?? "(unreadable: \(item.path))",
          ].joined(separator: " "))
      }
    }

    private static func items(_ location: Location) -> [CacheInventory.Item] {
      do throws(BitsError) {
        return try location.inventory().items()
      } catch {
        fail(with: error)
      }
    }

    private func column(_ text: String) -> String {
      text.count >= 10 ? text : text + String(repeating: " ", count: 10 - text.count)
    }
  }

  struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rm", abstract: "Remove the entries of the URLs given.")

    @Argument(help: "The URLs whose cached bytes to remove, as mounted.")
    var urls: [String]

    @OptionGroup var location: Location

    func validate() throws {
      guard !urls.isEmpty else { throw ValidationError("give at least one URL") }
    }

    func run() throws {
      do throws(BitsError) {
        let inventory = try location.inventory()
        var failures: [BitsError] = []
        for url in urls {
          guard let item = inventory.item(for: url) else {
            failures.append(BitsError(.invalidArgument, "nothing is cached for \(shownURL(url))"))
            continue
          }
          do throws(BitsError) {
            try inventory.remove(item)
          } catch {
            failures.append(error)
          }
        }
        for failure in failures.dropLast() { writeToStandardError("bitsfs: \(failure)\n") }
        if let last = failures.last { fail(with: last) }
      } catch {
        fail(with: error)
      }
    }
  }

  struct Clear: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "clear",
      abstract: "Remove every entry no process holds, and the directory listings and fill requests kept.")

    @OptionGroup var location: Location

    func run() throws {
      do throws(BitsError) {
        let (_, inUse) = try location.inventory().prune(to: 0)
        ListingStore(cacheDirectory: location.directory).removeAll()
        FillRequestStore(cacheDirectory: location.directory).removeAll()
        try CacheCommand.report(inUse)
      } catch {
        fail(with: error)
      }
    }
  }

  struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "prune",
      abstract: "Remove whole entries, least recently used first, until the directory holds at most SIZE.")

    @Option(
      name: .customLong("to"), parsing: .unconditional, help: ArgumentHelp("e.g. 10G, 500M, 0", valueName: "size"),
      transform: NumericOption.size("--to", in: 0...UInt64(Int64.max)))
    var target: UInt64

    @OptionGroup var location: Location

    func run() throws {
      do throws(BitsError) {
        let inventory = try location.inventory()
        let (removed, inUse) = inventory.prune(to: target)
        let left = CacheDirectory.diskBytes(of: inventory.directory.path, recursive: true)
        print("removed \(removed.count) entries; the directory holds \(TextFormat.bytes(left))")
        if left > target { try CacheCommand.report(inUse) }
      } catch {
        fail(with: error)
      }
    }
  }

  struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "verify",
      abstract: "Check each entry's journal against its data file and metadata; report what disagrees.")

    @OptionGroup var location: Location

    func run() throws {
      do throws(BitsError) {
        let items = try location.inventory().items()
        var damaged = 0
        for item in items {
          let name = item.url.map(shownURL) ?? item.path
          if item.problems.isEmpty {
            print("ok       \(name): \(TextFormat.bytes(item.cachedBytes)) cached")
          } else {
            damaged += 1
            for problem in item.problems { print("damaged  \(name): \(problem)") }
          }
        }
        guard damaged == 0 else {
          throw BitsError(
            .localFileChanged,
            "\(damaged) of \(items.count) entries disagree with themselves; a mount refetches their bytes")
        }
        print("\(items.count) entries, all consistent")
      } catch {
        fail(with: error)
      }
    }
  }

  /// Entries left because a process holds them: an error naming each.
  static func report(_ inUse: [CacheInventory.Item]) throws(BitsError) {
    guard !inUse.isEmpty else { return }
    for item in inUse {
      writeToStandardError(
        "bitsfs: kept \(item.url.map(shownURL) ?? item.path): in use\(item.holder.map { " by pid \($0)" } ?? "")\n")
    }
    throw BitsError(.accessDenied, "\(inUse.count) entries are in use and were kept")
  }

  /// `2026-12-01 12:30` for seconds since 1970, in UTC.
  static func date(_ seconds: Int64) -> String {
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return "?" }
    var buffer = [CChar](repeating: 0, count: 32)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M", &parts)
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
