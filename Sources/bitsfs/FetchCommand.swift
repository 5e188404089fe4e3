import ArgumentParser
import BitsEngine
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

struct FetchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fetch",
    abstract: "Download a remote file, or some ranges of it, with a resumable BITS-style job.",
    discussion: """
      With --range, only those ranges are fetched and written to LOCALFILE back to back, in the \
      order given (AddFileWithRanges). The file appears only once complete; an interrupted fetch \
      run again resumes from what is already on disk.
      """)

  @Argument(help: "The http or https URL of the remote file.")
  var url: String

  @Argument(help: "Where to put the file.")
  var localFile: String

  @Option(
    name: .customLong("range"),
    help: ArgumentHelp("A range to fetch, OFFSET:LENGTH; LENGTH may be 'eof' (repeatable).", valueName: "offset:length")
  )
  var rangeSpecs: [String] = []

  @Flag(name: .shortAndLong, help: "Print nothing but errors.")
  var quiet = false

  @Flag(
    help: """
      Dynamic content (BITS_JOB_PROPERTY_DYNAMIC_CONTENT): fetch the whole file in one request, \
      for a server that gives no size or ignores ranges; without resume.
      """)
  var dynamic = false

  @OptionGroup var transfer: TransferOptions

  @OptionGroup var cache: CacheLimitOptions

  func run() throws {
    HeaderSources.hideFromCommandLine()
    do throws(BitsError) {
      try fetch()
    } catch {
      fail(with: error)
    }
  }

  private func fetch() throws(BitsError) {
    let ranges = try rangeSpecs.map { spec throws(BitsError) in try Self.parseRange(spec) }
    let localName = URL(fileURLWithPath: localFile).standardizedFileURL.path
    if dynamic {
      guard ranges.isEmpty else {
        throw BitsError(.invalidArgument, "--dynamic fetches whole files: it takes no --range")
      }
      return try fetchDynamicContent(to: localName)
    }
    let directory = URL(fileURLWithPath: localName).deletingLastPathComponent()
    // The job's partial data lives beside the destination, so finishing is a rename.
    let jobDirectory = directory.appendingPathComponent(".\(URL(fileURLWithPath: localName).lastPathComponent).bitsfs")
    let client = HTTPClient(configuration: try transfer.httpConfiguration())
    var configuration = try transfer.jobConfiguration()
    // The job's bytes are the file being delivered: they are never evicted, so by default no
    // free space is kept back from them.
    configuration.cacheLimits = try cache.limits(
      for: jobDirectory, defaultMinimumFree: .bytes(0), evictionUnit: 64 << 10)
    let job = DownloadJob(
      displayName: "fetch \(url)", cacheDirectory: jobDirectory, transport: client, configuration: configuration)
    if ranges.isEmpty {
      try job.addFile(remoteURL: url, localName: localName)
    } else {
      try job.addFileWithRanges(remoteURL: url, localName: localName, ranges: ranges)
    }
    let interruption = Interruption { try? job.suspend() }
    try job.resume()
    let reporter = ProgressReporter(quiet: quiet)
    while true {
      let state = job.waitUntilSettled(timeout: .milliseconds(250))
      reporter.show(job.progress, state: state)
      if state.isSettled { break }
    }
    reporter.finish()
    interruption.exitIfInterrupted()
    switch job.currentState {
    case .transferred:
      try job.complete()
      try? FileManager.default.removeItem(at: jobDirectory)
    case .error:
      let error = job.error ?? BitsError(.invalidState, "the job failed")
      if job.progress.bytesTransferred == 0 {
        try? job.cancel()
        try? FileManager.default.removeItem(at: jobDirectory)
      } else if !quiet {
        writeToStandardError("bitsfs: the bytes fetched so far are kept; run again to resume\n")
      }
      throw error
    default:
      throw BitsError(.invalidState, "the job stopped in state \(job.currentState.rawValue)")
    }
  }

  /// The whole file in one request, put in place once complete; an interruption leaves nothing.
  private func fetchDynamicContent(to localName: String) throws(BitsError) {
    let client = HTTPClient(configuration: try transfer.httpConfiguration())
    let download = try DynamicContentDownload(
      remoteURL: url, localName: localName, transport: client, headers: try transfer.headers())
    if !quiet {
      writeToStandardError("bitsfs: dynamic content: fetched whole in one request, without resume\n")
    }
    let interruption = Interruption { download.cancel() }
    let reporter = ProgressReporter(quiet: quiet)
    do throws(BitsError) {
      try download.run(progressEvery: .milliseconds(250)) { download in
        let progress = JobProgress(
          bytesTotal: download.bytesExpected, bytesTransferred: download.bytesReceived, filesTotal: 1,
          filesTransferred: 0)
        reporter.show(progress, state: .transferring)
      }
      reporter.finish()
    } catch {
      reporter.finish()
      interruption.exitIfInterrupted()
      throw error
    }
  }

  /// `OFFSET:LENGTH`, where either may be `eof` (BG_LENGTH_TO_EOF). An offset of `eof` parses, so
  /// that AddFileWithRanges refuses it as BITS does, with BG_E_INVALID_RANGE.
  static func parseRange(_ spec: String) throws(BitsError) -> FileRange {
    let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let offset = number(parts[0]) else {
      throw BitsError(.invalidArgument, "range '\(spec)' is not OFFSET:LENGTH")
    }
    guard let length = number(parts[1]) else {
      throw BitsError(.invalidArgument, "range '\(spec)' has a LENGTH that is neither a number nor 'eof'")
    }
    return FileRange(offset: offset, length: length)
  }

  private static func number(_ text: Substring) -> UInt64? {
    text.lowercased() == "eof" ? FileRange.lengthToEndOfFile : UInt64(text)
  }
}

/// On Ctrl-C or SIGTERM `stop` runs (a job is suspended, which makes every filled range
/// durable); the command then exits, so the next run resumes where this one stopped.
final class Interruption {
  private let sources: [any DispatchSourceSignal]
  private let received = ReceivedSignal()

  init(stop: @escaping @Sendable () -> Void) {
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in [SIGINT, SIGTERM] {
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler { [received] in
        received.number.store(signalNumber, ordering: .sequentiallyConsistent)
        stop()
      }
      source.resume()
      sources.append(source)
    }
    self.sources = sources
  }

  /// Exits as a process stopped by that signal would report, if a signal came.
  func exitIfInterrupted() {
    let signalNumber = received.number.load(ordering: .sequentiallyConsistent)
    guard signalNumber != 0 else { return }
    writeToStandardError("\nbitsfs: interrupted; run the same command again to resume\n")
    exit(128 + signalNumber)
  }
}

/// The signal that interrupted the fetch, 0 until one comes.
final class ReceivedSignal: Sendable {
  let number = Atomic<Int32>(0)
}
