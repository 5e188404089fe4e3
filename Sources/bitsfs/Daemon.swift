import BitsEngine
import Foundation

/// Runs the mount in a detached child and returns only once the child reports that the mount
/// answers, or reports why it failed. The child tells the parent through its standard output,
/// then lets go of the terminal.
enum Daemon {
  private static let readyLine = "ready"
  private static let failurePrefix = "failed "

  /// `secrets` (lines without newlines) reach the child on its standard input.
  static func start(arguments: [String], secrets: [String]) throws(BitsError) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = Array(arguments.dropFirst())
    let pipe = Pipe()
    let secretPipe = Pipe()
    child.standardOutput = pipe
    child.standardInput = secretPipe
    do {
      try child.run()
    } catch {
      throw BitsError(.invalidArgument, "cannot start the mount daemon: \(error)")
    }
    pipe.fileHandleForWriting.closeFile()
    secretPipe.fileHandleForReading.closeFile()
    secretPipe.fileHandleForWriting.write(Data(secrets.map { $0 + "\n" }.joined().utf8))
    secretPipe.fileHandleForWriting.closeFile()
    let message = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    if message == readyLine { return }
    if message.hasPrefix(failurePrefix) {
      // The child already printed its error on the shared standard error.
      let status = Int32(message.dropFirst(failurePrefix.count)) ?? ExitStatus.transferFailed
      exit(status)
    }
    child.waitUntilExit()
    throw BitsError(.invalidArgument, "the mount daemon exited (status \(child.terminationStatus)) before mounting")
  }

  /// In the child: the lines the parent passed on standard input.
  static func receiveSecrets() -> [String] {
    let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    return text.split(separator: "\n").map(String.init)
  }

  /// In the child, once mounted: tell the parent, detach from its session and terminal.
  static func reportReady(logPath: String) {
    setsid()
    FileHandle.standardOutput.write(Data("\(readyLine)\n".utf8))
    let null = open("/dev/null", O_RDWR)
    let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    dup2(null, STDIN_FILENO)
    dup2(null, STDOUT_FILENO)
    dup2(log >= 0 ? log : null, STDERR_FILENO)
  }

  static func reportFailure(_ error: BitsError) {
    FileHandle.standardOutput.write(Data("\(failurePrefix)\(ExitStatus.for(error))\n".utf8))
  }
}
