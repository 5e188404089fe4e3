import BitsEngine
import Foundation

#if FUZZING
  import CFuzzer
#endif

/// Everything bitsfs reads from outside, fed arbitrary bytes: response heads, `Content-Range`,
/// HTTP dates, request headers given by the user, the cache files a crash or a disk error may
/// have damaged (journals, metadata, stored listings), the rules that accept or refuse a server's answer, and the whole path of a
/// scripted hostile server's answers through a real `DownloadFile`. The first byte picks the
/// target; a crash or a broken invariant is a bug.
///
/// Built with `scripts/fuzz.sh` (libFuzzer, coverage-guided). Built plainly, it replays the
/// inputs named on its command line, so found crashes can be rerun without the fuzzer.
enum FuzzTargets {
  static func run(_ input: UnsafeRawBufferPointer) {
    guard let selector = input.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    let text = String(decoding: rest, as: UTF8.self)
    switch selector % 9 {
    case 0: responseHead(rest)
    case 1: _ = HTTPDate.parse(text)
    case 2:
      if let header = HTTPHeader(line: text) {
        check(!header.value.contains(where: { $0 == "\r" || $0 == "\n" }), "a header value kept a line break")
      }
    case 3: cacheEntry(journal: Data(rest), metadata: nil)
    case 4: cacheEntry(journal: nil, metadata: Data(rest))
    case 5: answer(rest)
    case 6: wholeAnswerPath(rest)
    case 7: listing(rest)
    default: storedListing(Array(rest))
    }
  }

  /// Lines as libcurl hands them over, then what the engine asks of the head: the numbers it
  /// accepts are sizes a file can have, and a `Content-Range` it accepts reads back the same
  /// once written out (the parser does not invent or drop a part).
  private static func responseHead(_ bytes: UnsafeRawBufferPointer) {
    let head = head(from: bytes)
    if let range = try? head.contentRange {
      let numbers = [range.bytes?.lowerBound, range.bytes?.upperBound, range.completeLength].compactMap { $0 }
      check(numbers.allSatisfy { $0 <= RemoteVersion.maximumSize }, "a Content-Range beyond off_t: \(range)")
      check((try? ContentRange(parsing: range.description)) == range, "\(range) reads back differently")
    }
    if let length = try? head.contentLength {
      check(length <= RemoteVersion.maximumSize, "a Content-Length beyond off_t: \(length)")
    }
    _ = head["etag"]
  }

  private static func head(from bytes: UnsafeRawBufferPointer) -> HTTPResponseHead {
    var head = HTTPResponseHead(status: 0, headers: [:])
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      head.add(line: UnsafeRawBufferPointer(rebasing: line))
    }
    return head
  }

  /// An answer to a request the engine could make, judged by `ServerRules`: one accepted must
  /// describe exactly the asked range of exactly the asked version. The first seven bytes give
  /// the file size, the asked range and flags; small numbers, or (flag 1) numbers near the
  /// largest size, so that a head of fuzzed text can name them. The rest is the head.
  private static func answer(_ bytes: UnsafeRawBufferPointer) {
    guard bytes.count >= 7 else { return }
    let flags = bytes[0]
    func number(at index: Int) -> UInt64 { UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1]) }
    let base = flags & 1 == 0 ? 0 : RemoteVersion.maximumSize - 0xFFFF
    let size = base + number(at: 1)
    let lower = base + number(at: 3) % max(1, number(at: 1))
    let length = 1 + number(at: 5) % (size - lower == 0 ? 1 : size - lower)
    // The engine never asks for nothing, nor beyond the end of the version it knows.
    guard size > 0, lower + length <= size else { return }
    let asked = lower..<lower + length
    let version = RemoteVersion(
      size: size, lastModified: flags & 2 == 0 ? "Tue, 24 Nov 2026 10:00:00 GMT" : nil,
      etag: flags & 4 == 0 ? "\"v\"" : nil)
    let head = head(from: UnsafeRawBufferPointer(rebasing: bytes.dropFirst(7)))

    if case .success(let probed) = ServerRules.version(fromProbe: head, url: url) {
      check(probed.size <= RemoteVersion.maximumSize, "a probe accepted a size beyond off_t: \(probed.size)")
    }
    guard case .proceed = ServerRules.check(head, asked: asked, version: version, url: url) else { return }
    let contentLength = try? head.contentLength
    switch head.status {
    case 206:
      let range = try? head.contentRange
      check(range?.bytes == asked, "a 206 of \(String(describing: range)) accepted for \(asked)")
      check(
        range?.completeLength.map { $0 == size } ?? true, "a 206 of \(String(describing: range)) for \(size) bytes")
      check(contentLength.map { $0 == length } ?? true, "a 206 of \(String(describing: contentLength)) bytes")
    case 200:
      check(asked == 0..<size, "a 200 accepted for \(asked) of \(size) bytes")
      check(contentLength.map { $0 == size } ?? true, "a 200 of \(String(describing: contentLength)) bytes")
    default:
      check(false, "a \(head.status) accepted")
    }
    check(head["etag"].map { version.etag == nil || $0 == version.etag } ?? true, "an answer of another entity tag")
    check(
      head["last-modified"].map { version.lastModified == nil || $0 == version.lastModified } ?? true,
      "an answer of another date")
  }

  /// A directory listing: a `Content-Type` line, then the body. Whatever it holds, every entry
  /// it gives has a name that is safe in a directory.
  private static func listing(_ bytes: UnsafeRawBufferPointer) {
    let all = Array(bytes)
    let newline = all.firstIndex(of: UInt8(ascii: "\n")) ?? all.endIndex
    let type = String(decoding: all[..<newline], as: UTF8.self)
    let body = newline < all.endIndex ? Array(all[(newline + 1)...]) : []
    let head = HTTPResponseHead(status: 200, headers: ["content-type": type])
    guard let listing = try? ListingParser(entryLimit: 1000).parse(body, head: head, url: "http://127.0.0.1/dir/")
    else { return }
    for entry in listing.entries {
      let name = entry.name
      check(
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0"),
        "an unsafe name in a listing: \(name.debugDescription)")
    }
  }

  /// A listing file of the cache directory, damaged in any way: what reads from it reads back
  /// to the same bytes, so nothing was skipped or made up, and its names are safe.
  private static func storedListing(_ bytes: [UInt8]) {
    guard let stored = StoredListing(decoding: bytes) else { return }
    check(stored.encoded() == bytes, "a stored listing that reads back differently")
    for entry in stored.listing.entries {
      check(EntryName.checked(entry.name) == entry.name, "an unsafe name in a stored listing")
    }
  }

  static let url = "http://127.0.0.1/fuzz.bin"
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
