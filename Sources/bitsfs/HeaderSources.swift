import BitsEngine
import FoundationEssentials
import Glibc

/// Where request headers, which often carry credentials, come from besides `--header`: a file
/// only its owner can read, and an environment variable. Neither shows in `ps`; `--header`
/// values are blanked from the command line as soon as the command runs.
enum HeaderSources {
  static let environmentVariable = "BITSFS_HEADERS"

  /// Blanks the values of `--header` options in this process's command line, which any user can
  /// read in /proc. The parsed options keep their own copy. Call it first in `run()`, before
  /// any network work or fork, so that no process of the command ever shows them.
  static func hideFromCommandLine() {
    let arguments = CommandLine.unsafeArgv
    var hidesNext = false
    for index in 1..<Int(CommandLine.argc) {
      guard let argument = arguments[index] else { continue }
      let text = String(cString: argument)
      if hidesNext {
        memset(argument, 0, strlen(argument))
      } else if text.hasPrefix("--header=") {
        let prefix = "--header=".utf8.count
        memset(argument + prefix, 0, strlen(argument) - prefix)
      }
      hidesNext = text == "--header"
    }
  }

  /// The header lines of `BITSFS_HEADERS`, one per line.
  static func environmentLines() -> [String] {
    getenv(environmentVariable).map { headerLines(in: String(cString: $0)) } ?? []
  }

  /// The header lines of a `--header-file`, which must be a regular file that neither group
  /// nor others may read or write.
  static func fileLines(_ path: String) throws(BitsError) -> [String] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw BitsError(.invalidArgument, "cannot read the --header-file: \(String(cString: strerror(errno)))", url: path)
    }
    defer { close(descriptor) }
    // Checked on the open file, so that it cannot be swapped between the check and the read.
    var info = stat()
    guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      throw BitsError(.invalidArgument, "the --header-file is not a regular file", url: path)
    }
    guard info.st_mode & 0o077 == 0 else {
      throw BitsError(
        .invalidArgument,
        "the --header-file is open to group or others (mode \(String(info.st_mode & 0o777, radix: 8))); "
          + "it may hold credentials: chmod 600 it", url: path)
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = read(descriptor, &buffer, buffer.count)
      if count < 0, errno == EINTR { continue }
      guard count >= 0 else {
        throw BitsError(
          .invalidArgument, "cannot read the --header-file: \(String(cString: strerror(errno)))", url: path)
      }
      if count == 0 { break }
      bytes += buffer[0..<count]
    }
    return headerLines(in: String(decoding: bytes, as: UTF8.self))
  }

  /// One header per line (LF or CRLF); blank lines and lines starting with `#` are left out.
  private static func headerLines(in text: String) -> [String] {
    text.split(whereSeparator: \.isNewline).map { String($0.drop(while: \.isWhitespace)) }.filter {
      !$0.isEmpty && !$0.hasPrefix("#")
    }
  }
}
