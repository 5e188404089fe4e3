import BitsEngine
import Foundation

#if FUZZING
  import CFuzzer
#endif

/// Everything bitsfs reads from outside, fed arbitrary bytes: response heads, `Content-Range`,
/// HTTP dates, request headers given by the user, and the cache files a crash or a disk error
/// may have damaged. The first byte picks the parser; a crash or a broken invariant is a bug.
///
/// Built with `scripts/fuzz.sh` (libFuzzer, coverage-guided). Built plainly, it replays the
/// inputs named on its command line, so found crashes can be rerun without the fuzzer.
enum FuzzTargets {
  static func run(_ input: UnsafeRawBufferPointer) {
    guard let selector = input.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    let text = String(decoding: rest, as: UTF8.self)
    switch selector % 5 {
    case 0: responseHead(rest)
    case 1: _ = HTTPDate.parse(text)
    case 2:
      if let header = HTTPHeader(line: text) {
        check(!header.value.contains(where: { $0 == "\r" || $0 == "\n" }), "a header value kept a line break")
      }
    case 3: cacheEntry(journal: Data(rest), metadata: nil)
    default: cacheEntry(journal: nil, metadata: Data(rest))
    }
  }

  /// Lines as libcurl hands them over, then what the engine asks of the head.
  private static func responseHead(_ bytes: UnsafeRawBufferPointer) {
    var head = HTTPResponseHead(status: 0, headers: [:])
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      head.add(line: UnsafeRawBufferPointer(rebasing: line))
    }
    if let range = try? head.contentRange {
      if let bytes = range.bytes { check(bytes.lowerBound < bytes.upperBound, "an empty Content-Range") }
    }
    _ = try? head.contentLength
    _ = head["etag"]
  }

  private static let url = "http://127.0.0.1/fuzz.bin"
  private static let version = RemoteVersion(
    size: 1 << 20, lastModified: "Tue, 24 Nov 2026 10:00:00 GMT", etag: "\"f\"")
  private static let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("bitsfs-fuzz-\(getpid())")

  /// A healthy entry with one damaged file: whatever is trusted lies inside the file.
  private static func cacheEntry(journal: Data?, metadata: Data?) {
    do {
      let entry = try CacheEntry(directory: directory)
      let data = try entry.reset(url: url, version: version)
      try entry.commit([0..<4096], data: data)
    } catch {
      check(false, "cannot prepare a cache entry: \(error)")
    }
    if let journal { try? journal.write(to: directory.appendingPathComponent("filled")) }
    if let metadata { try? metadata.write(to: directory.appendingPathComponent("meta.json")) }
    do {
      let (_, filled) = try CacheEntry(directory: directory).open(url: url, version: version)
      check(filled.intervals.allSatisfy { $0.upperBound <= version.size }, "a filled range past the end")
    } catch {
      check(false, "a damaged entry was not reset: \(error)")
    }
  }

  static func check(_ condition: Bool, _ message: String) {
    if !condition {
      FileHandle.standardError.write(Data("invariant broken: \(message)\n".utf8))
      abort()
    }
  }

  static func cleanUp() {
    try? FileManager.default.removeItem(at: directory)
  }
}

#if FUZZING
  /// libFuzzer's entry point, for whichever `main` the link keeps: libFuzzer's or the one below.
  @_cdecl("LLVMFuzzerTestOneInput")
  func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTargets.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
  }
#endif

/// Fuzzes when built with `-DFUZZING` (and `-sanitize=fuzzer`), else replays the named inputs.
@main
enum FuzzMain {
  static func main() {
    defer { FuzzTargets.cleanUp() }
    #if FUZZING
      var count = CommandLine.argc
      var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
      _ = LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
    #else
      for path in CommandLine.arguments.dropFirst() {
        guard let input = FileManager.default.contents(atPath: path) else {
          FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
          exit(2)
        }
        input.withUnsafeBytes { FuzzTargets.run($0) }
        print("ok \(path)")
      }
    #endif
  }
}
