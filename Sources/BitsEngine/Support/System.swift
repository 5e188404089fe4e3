import Glibc

/// Whether `path` names a directory (following symbolic links).
package func isDirectory(_ path: String) -> Bool {
  var info = stat()
  return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}

/// Runs the program at `path` with `arguments` (and `environment`, else this process's), its
/// output and errors discarded, and returns its exit status (`nil` if it could not start or was
/// killed).
package func runQuietly(_ path: String, _ arguments: [String], environment: [String: String]? = nil) -> Int32? {
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
  let argv = ([path] + arguments).map { strdup($0) } + [nil]
  defer { argv.forEach { free($0) } }
  var envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
  defer { envp?.forEach { free($0) } }
  var pid = pid_t()
  let spawned =
    if envp != nil {
      envp!.withUnsafeMutableBufferPointer { posix_spawn(&pid, path, &actions, nil, argv, $0.baseAddress) }
    } else {
      posix_spawn(&pid, path, &actions, nil, argv, environ)
    }
  guard spawned == 0 else { return nil }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 {
    guard errno == EINTR else { return nil }
  }
  // WIFEXITED / WEXITSTATUS, which Swift cannot import as macros.
  return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
}

/// Writes `text` to standard error, unbuffered.
package func writeToStandardError(_ text: String) {
  var bytes = Array(text.utf8)[...]
  while !bytes.isEmpty {
    let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    if written < 0 && errno == EINTR { continue }
    guard written > 0 else { return }
    bytes = bytes.dropFirst(written)
  }
}
