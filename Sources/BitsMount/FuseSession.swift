import BitsEngine
import CFuseShim
import FoundationEssentials
import Glibc
import Synchronization

/// Why a mount could not be made.
public struct FuseError: Error, CustomStringConvertible {
  public var description: String
}

/// A FUSE mount serving `FileSystemOperations` on libfuse's multi-threaded loop.
public final class FuseSession: Sendable {
  /// The libfuse session. Shared across threads only for calls libfuse allows from any thread
  /// (exit, cache invalidation); it is destroyed once, after the loop and every reply are done.
  private struct Handle: @unchecked Sendable {
    let pointer: OpaquePointer
  }

  public let mountPoint: String
  private let handle: Handle
  /// Kept here so the operations outlive every callback that reaches them through the context.
  private let operations: any FileSystemOperations
  private let isStopping = Atomic<Bool>(false)

  /// Mounts at `mountPoint` with FUSE `options` (such as `ro`, `allow_other`).
  public init(mountPoint: String, options: [String], operations: some FileSystemOperations) throws {
    self.mountPoint = mountPoint
    var table = bitsfs_fuse_operations()
    table.context = Unmanaged.passUnretained(operations as AnyObject).toOpaque()
    table.lookup = { context, request, parent, name in
      guard let request, let name else { return }
      FuseSession.operations(context).lookup(FuseRequest(raw: request), parent: parent, name: String(cString: name))
    }
    table.getattr = { context, request, inode in
      guard let request else { return }
      FuseSession.operations(context).getattr(FuseRequest(raw: request), inode: inode)
    }
    table.open = { context, request, inode, flags in
      guard let request else { return }
      FuseSession.operations(context).open(FuseRequest(raw: request), inode: inode, flags: flags)
    }
    table.read = { context, request, inode, size, offset, handle in
      guard let request else { return }
      FuseSession.operations(context).read(
        FuseRequest(raw: request), inode: inode, size: size, offset: offset, handle: handle)
    }
    table.release = { context, request, inode, handle in
      guard let request else { return }
      FuseSession.operations(context).release(FuseRequest(raw: request), inode: inode, handle: handle)
    }
    table.opendir = { context, request, inode in
      guard let request else { return }
      FuseSession.operations(context).opendir(FuseRequest(raw: request), inode: inode)
    }
    table.readdir = { context, request, inode, size, offset in
      guard let request else { return }
      FuseSession.operations(context).readdir(FuseRequest(raw: request), inode: inode, size: size, offset: offset)
    }
    table.releasedir = { context, request, inode, handle in
      guard let request else { return }
      FuseSession.operations(context).releasedir(FuseRequest(raw: request), inode: inode, handle: handle)
    }
    table.getxattr = { context, request, inode, name, size in
      guard let request, let name else { return }
      FuseSession.operations(context).getxattr(
        FuseRequest(raw: request), inode: inode, name: String(cString: name), size: size)
    }
    table.listxattr = { context, request, inode, size in
      guard let request else { return }
      FuseSession.operations(context).listxattr(FuseRequest(raw: request), inode: inode, size: size)
    }
    table.statfs = { context, request in
      guard let request else { return }
      FuseSession.operations(context).statfs(FuseRequest(raw: request))
    }
    guard let session = bitsfs_session_new(options.joined(separator: ","), &table) else {
      throw FuseError(description: "invalid FUSE options: \(options.joined(separator: ","))")
    }
    guard bitsfs_session_mount(session, mountPoint) == 0 else {
      bitsfs_session_destroy(session)
      throw FuseError(description: "cannot mount at \(mountPoint) (is /dev/fuse available and fusermount3 installed?)")
    }
    handle = Handle(pointer: session)
    self.operations = operations
  }

  private static func operations(_ context: UnsafeMutableRawPointer?) -> any FileSystemOperations {
    // The context is the operations object, which the session keeps alive.
    Unmanaged<AnyObject>.fromOpaque(context!).takeUnretainedValue() as! any FileSystemOperations
  }

  /// Serves requests until unmounted (`stop()`, `fusermount3 -u`, `bitsfs unmount`). Then runs
  /// `afterLoop` (which must make every pending reply happen), waits for the replies, unmounts
  /// and frees the session.
  public func run(afterLoop: () -> Void = {}) {
    bitsfs_session_loop(handle.pointer, 16)
    afterLoop()
    if bitsfs_session_wait_idle(handle.pointer, 60_000) == 0 {
      writeToStandardError("bitsfs: some requests were still unanswered at unmount\n")
    }
    bitsfs_session_destroy(handle.pointer)
  }

  /// Ends the loop by unmounting (the kernel then closes the channel the loop reads).
  public func stop() {
    guard !isStopping.exchange(true, ordering: .relaxed) else { return }
    bitsfs_session_exit(handle.pointer)
    _ = runQuietly("/usr/bin/fusermount3", ["-u", "-z", mountPoint])
  }

  /// Drops the kernel's cached pages of `inode`, whose remote version changed.
  public func invalidate(inode: UInt64) {
    _ = bitsfs_notify_inval_inode(handle.pointer, inode)
  }

  /// Raises the mount's read-ahead to `kilobytes`: the default, 128 KiB, caps FUSE reads at
  /// 128 KiB, and a larger window keeps several reads (of up to 512 KiB, the shim's
  /// `max_read`) in flight. Call only once the loop runs.
  @discardableResult
  public static func raiseReadAhead(mountPoint: String, kilobytes: Int) -> Bool {
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count > 4, fields[4] == mountPoint else { continue }
      let path = "/sys/class/bdi/\(fields[2])/read_ahead_kb"
      return (try? "\(kilobytes)\n".write(toFile: path, atomically: false, encoding: .utf8)) != nil
    }
    return false
  }
}
