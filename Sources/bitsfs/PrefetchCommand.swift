import ArgumentParser
import BitsEngine
import BitsMount
import FoundationEssentials

struct PrefetchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "prefetch",
    abstract: "Fill files of a running mount in the background, or stop filling them.",
    discussion: "A directory stands for every file below it. Readers always go first.")

  @Argument(help: ArgumentHelp("Files or directories in a bitsfs mount.", valueName: "path"))
  var paths: [String]

  @Option(
    help: ArgumentHelp("high, normal or low (default: the mount's --prefetch-priority).", valueName: "priority"),
    transform: PrefetchCommand.priority)
  var priority: ControlRequest.Priority?

  @Flag(help: "Stop filling the paths instead (what is filled stays).")
  var cancel = false

  static func priority(_ text: String) throws -> ControlRequest.Priority {
    guard let priority = ControlRequest.Priority(rawValue: text) else {
      throw ValidationError("--priority must be high, normal or low, not '\(text)'")
    }
    return priority
  }

  func run() {
    // The paths of each mount, in one request each.
    var byMount: [(mountPoint: String, paths: [String])] = []
    for path in paths {
      let (mountPoint, relative): (String, String)
      do throws(BitsError) {
        (mountPoint, relative) = try Self.locate(path)
      } catch {
        fail(with: error)
      }
      if let index = byMount.firstIndex(where: { $0.mountPoint == mountPoint }) {
        byMount[index].paths.append(relative)
      } else {
        byMount.append((mountPoint, [relative]))
      }
    }
    for (mountPoint, relative) in byMount {
      guard let socketPath = ExtendedAttributes.value("user.bitsfs.control", of: mountPoint) else {
        fail(with: BitsError(.invalidState, "the mount at \(mountPoint) takes no control requests"))
      }
      let request = ControlRequest(command: cancel ? .cancel : .prefetch, paths: relative, priority: priority)
      let answer: ControlAnswer
      do throws(BitsError) {
        let socket = try UnixSocket.connect(to: socketPath, timeout: 60)
        guard let line = try? JSONEncoder().encode(request), socket.writeLine(String(decoding: line, as: UTF8.self)),
          let reply = socket.readLine(),
          let decoded = try? JSONDecoder().decode(ControlAnswer.self, from: Data(reply.utf8))
        else { throw BitsError(.unexpected, "the mount at \(mountPoint) did not answer") }
        answer = decoded
      } catch {
        fail(with: error)
      }
      if let error = answer.error { fail(with: BitsError(.invalidArgument, error)) }
      print("\(cancel ? "stopped filling" : "filling") \(relative.joined(separator: ", ")) in \(mountPoint)")
    }
  }

  /// The bitsfs mount `path` is in, and the path below its mount point.
  static func locate(_ path: String) throws(BitsError) -> (mountPoint: String, relative: String) {
    let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
    if MountTable.isDeadMount(absolute) { throw MountTable.deadMountError(absolute) }
    let mounts = MountTable.mountPoints().filter { absolute == $0 || absolute.hasPrefix($0 == "/" ? "/" : $0 + "/") }
    guard let mountPoint = mounts.max(by: { $0.count < $1.count }),
      ExtendedAttributes.value("user.bitsfs.pid", of: mountPoint) != nil
    else { throw BitsError(.invalidArgument, "\(path) is not in a bitsfs mount") }
    return (mountPoint, String(absolute.dropFirst(mountPoint.count)).trimmingPrefix("/").description)
  }
}
