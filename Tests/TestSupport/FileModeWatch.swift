import Foundation
import Synchronization

/// Creates files in `directory` on a thread of its own, as fast as it can, until stopped, and
/// keeps every mode that is not `expected`: for tests that code run meanwhile leaves the
/// process's file mode creation mask alone (it is the process's, shared by every thread).
public final class FileModeWatch: Sendable {
  private let stopping = Atomic<Bool>(false)
  private let wrongModes = Mutex<[mode_t]>([])
  private let stopped = DispatchSemaphore(value: 0)

  public init(in directory: URL, expecting expected: mode_t) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    Thread.detachNewThread { [self] in
      var index = 0
      while !stopping.load(ordering: .relaxed) {
        let path = directory.appendingPathComponent("f\(index % 64)").path
        unlink(path)
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o666)
        if fd >= 0 {
          var info = stat()
          fstat(fd, &info)
          if info.st_mode & 0o777 != expected { wrongModes.withLock { $0.append(info.st_mode & 0o777) } }
          close(fd)
        }
        index += 1
      }
      stopped.signal()
    }
  }

  /// Stops the thread; the modes it saw that were not the expected one.
  public func stop() -> [mode_t] {
    stopping.store(true, ordering: .relaxed)
    _ = stopped.wait(timeout: .now() + 10)
    return wrongModes.withLock { $0 }
  }
}
