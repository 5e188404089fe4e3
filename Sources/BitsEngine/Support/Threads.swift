import Dispatch
import Glibc
import Synchronization

// Threads and waiting on plain POSIX primitives: the engine and the daemon use no part of
// Foundation beyond FoundationEssentials, which keeps the static binary small and quick to
// start from a cold page cache.

/// Runs `body` on a new detached thread named `name` (as `top -H` and `perf` show it).
package func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
  let context = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
  var thread = pthread_t()
  let result = pthread_create(
    &thread, nil,
    { context in
      let start = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
      nameCurrentThread(start.name)
      start.body()
      return nil
    }, context)
  guard result == 0 else { fatalError("cannot start the thread \(name): \(String(cString: strerror(result)))") }
  pthread_detach(thread)
}

/// Linux keeps at most 15 bytes of a thread's name; glibc's `pthread_setname_np` writes the
/// same file but is not visible to Swift.
private func nameCurrentThread(_ name: String) {
  let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
  guard fd >= 0 else { return }
  defer { close(fd) }
  let bytes = Array(name.utf8.prefix(15))
  _ = write(fd, bytes, bytes.count)
}

private final class ThreadBody: Sendable {
  let name: String
  let body: @Sendable () -> Void

  init(name: String, body: @escaping @Sendable () -> Void) {
    self.name = name
    self.body = body
  }
}

/// Starts work that completes once, on another thread, and waits for the value it completes with.
package func waitForResult<Value: Sendable>(_ start: (@escaping @Sendable (Value) -> Void) -> Void) -> Value {
  let outcome = Mutex<Value?>(nil)
  let done = DispatchSemaphore(value: 0)
  start { value in
    outcome.withLock { $0 = value }
    done.signal()
  }
  done.wait()
  return outcome.withLock { $0! }
}

/// Blocks the calling thread for `duration`.
func sleep(for duration: Duration) {
  var request = timespec(duration)
  var remaining = timespec()
  while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

extension timespec {
  init(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    self.init(tv_sec: Int(max(0, seconds)), tv_nsec: Int(max(0, attoseconds / 1_000_000_000)))
  }
}

/// A condition to wait on with a deadline, re-checking a predicate. Waits use the monotonic
/// clock, so a change of the wall clock neither shortens nor stretches them.
final class Condition: @unchecked Sendable {
  // The pthread objects are only ever touched through the pthread calls, which synchronize
  // them; they must not move in memory, so they live in their own allocations.
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  init() {
    pthread_mutex_init(mutex, nil)
    var attributes = pthread_condattr_t()
    pthread_condattr_init(&attributes)
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
    pthread_cond_init(condition, &attributes)
    pthread_condattr_destroy(&attributes)
  }

  deinit {
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    condition.deallocate()
    mutex.deallocate()
  }

  func broadcast() {
    pthread_mutex_lock(mutex)
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// Whether `predicate` held before `deadline`. State changes are followed by `broadcast()`,
  /// which takes this lock, so a change between the check and the wait is not missed.
  func wait(until deadline: ContinuousClock.Instant, _ predicate: () -> Bool) -> Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    while !predicate() {
      let remaining = deadline - ContinuousClock.now
      guard remaining > .zero else { return false }
      var now = timespec()
      clock_gettime(CLOCK_MONOTONIC, &now)
      let wake = Duration.seconds(now.tv_sec) + .nanoseconds(now.tv_nsec) + remaining
      var until = timespec(wake)
      _ = pthread_cond_timedwait(condition, mutex, &until)
    }
    return true
  }
}
