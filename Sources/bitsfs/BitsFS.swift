import ArgumentParser
import BitsEngine
import FoundationEssentials
import Glibc

@main
struct BitsFS: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bitsfs",
    abstract: "Use remote HTTP(S) files as if they were local, fetching only the bytes read.",
    version: "bitsfs \(version) (commit \(buildCommit))",
    subcommands: [
      FetchCommand.self, MountCommand.self, UnmountCommand.self, StatusCommand.self, PrefetchCommand.self,
      EventsCommand.self, CacheCommand.self,
    ],
    // `bitsfs URL MOUNTPOINT -o …` is what mount(8) runs for an fstab line of type fuse.bitsfs.
    defaultSubcommand: MountCommand.self)

  static func main() {
    var arguments = Array(CommandLine.arguments.dropFirst())
    if !["fetch", "unmount", "status", "prefetch", "help"].contains(arguments.first ?? "") {
      do throws(BitsError) {
        arguments = try MountOptionList.expanding(arguments, isOption: MountCommand.hasOption)
      } catch {
        fail(with: error)
      }
    }
    do {
      var command = try parseAsRoot(arguments)
      try command.run()
    } catch {
      // A usage error is a bad argument like any other: status 2, not ArgumentParser's 64.
      guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
      writeToStandardError(fullMessage(for: error) + "\n")
      Glibc.exit(ExitStatus.badArguments)
    }
  }
}

/// The release; `--version` adds the commit of the build.
let version = "0.1.0"

/// Exit statuses: 2 for what the user asked wrongly, 1 for what went wrong while doing it
/// (a transfer, the local disk).
enum ExitStatus {
  static let failed: Int32 = 1
  static let badArguments: Int32 = 2

  static func `for`(_ error: BitsError) -> Int32 {
    switch error.code {
    case .invalidArgument, .invalidRange, .overlappingRanges, .tooManyRangesInFile: badArguments
    default: failed
    }
  }
}

/// Prints `bitsfs: <error>` on standard error and exits with the status the error deserves.
func fail(with error: BitsError) -> Never {
  writeToStandardError("bitsfs: \(error)\n")
  exit(ExitStatus.for(error))
}

/// Options shared by the commands that talk to servers.
struct TransferOptions: ParsableArguments {
  @Option(
    name: .customLong("header"),
    help: ArgumentHelp("A request header, e.g. 'Authorization: Bearer …' (repeatable).", valueName: "name: value"))
  var headerLines: [String] = []

  @Option(
    help: ArgumentHelp(
      "A file of request headers, one per line ('#' starts a comment), readable by its owner only.",
      valueName: "file"))
  var headerFile: String?

  // Up to 14 days, BITS's default no-progress timeout.
  @Option(
    parsing: .unconditional,
    help: "Seconds to keep retrying transient failures (refused or reset connections, stalls, 5xx, 429).",
    transform: NumericOption.seconds("--retry-period", in: 0...1_209_600))
  var retryPeriod: Double = 120

  // libcurl counts it in whole seconds.
  @Option(
    parsing: .unconditional,
    help: "Seconds without any byte from the server before a request is abandoned and retried.",
    transform: NumericOption.seconds("--stall-timeout", in: 1...86_400))
  var stallTimeout: Double = 15

  @Option(
    parsing: .unconditional, help: "Largest number of ranges accepted per file (BITS MaxRangesPerFile).",
    transform: NumericOption.count("--max-ranges", in: 1...1_000_000))
  var maxRanges: Int = RangeValidation.defaultMaximumRangeCount

  @Option(
    help: ArgumentHelp("Trust the certificate authorities in this PEM file instead of the system's.", valueName: "file")
  )
  var caCert: String?

  @Flag(help: "Do not verify TLS certificates (testing only).")
  var insecure = false

  /// The headers of `BITSFS_HEADERS`, then of `--header-file`, then of `--header`.
  func headers() throws(BitsError) -> [HTTPHeader] {
    let lines = HeaderSources.environmentLines() + (try headerFile.map(HeaderSources.fileLines) ?? []) + headerLines
    return try lines.map { line throws(BitsError) in
      guard let header = HTTPHeader(line: line) else {
        throw BitsError(
          .invalidArgument, "a header must look like 'Name: value', with no control characters (CR, LF) in it")
      }
      return header
    }
  }

  func httpConfiguration() throws(BitsError) -> HTTPConfiguration {
    var configuration = HTTPConfiguration()
    configuration.stallTimeout = .milliseconds(Int64(stallTimeout * 1000))
    configuration.verifiesTLS = !insecure
    if let caCert {
      // A file the user named and that cannot be read is a bad argument, whatever the errno.
      guard access(caCert, R_OK) == 0 else {
        throw BitsError(
          .invalidArgument, "cannot read the --ca-cert file: \(String(cString: strerror(errno)))", url: caCert)
      }
      configuration.certificateAuthorityPath = URL(fileURLWithPath: caCert).path
    }
    return configuration
  }

  func jobConfiguration() throws(BitsError) -> JobConfiguration {
    var configuration = JobConfiguration()
    configuration.headers = try headers()
    configuration.retryPeriod = .milliseconds(Int64(retryPeriod * 1000))
    configuration.maximumRangesPerFile = maxRanges
    return configuration
  }
}
