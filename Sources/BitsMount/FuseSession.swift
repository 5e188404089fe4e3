import BitsEngine
import CFuseShim
import FoundationEssentials
import Glibc
import Synchronization

/// Why a mount could not be made.
public struct FuseError: Error, CustomStringConvertible {
  public var description: String
}

/// A FUSE mount serving `FileSystemOperations` on libfuse's multi-threaded loop: the only place
/// where kernel requests become calls and answers become replies.
public final class FuseSession: KernelCache {
  /// The libfuse session, until it is destroyed. Calls from other threads (exit, cache
  /// invalidation) are made under this lock, and the session is destroyed under it, so none
  /// can reach freed memory.
  private struct Handle: @unchecked Sendable {
    let pointer: OpaquePointer
  }

  public let mountPoint: String
  private let handle: Mutex<Handle?>
  /// Kept here so the operations outlive every callback that reaches them through the context.
  private let operations: any FileSystemOperations
  private let isStopping = Atomic<Bool>(false)

  /// Mounts at `mountPoint` with FUSE `options` (such as `ro`, `allow_other`).
  package init(mountPoint: String, options: [String], operations: some FileSystemOperations) throws {
    self.mountPoint = mountPoint
    var table = bitsfs_fuse_operations()
    table.context = Unmanaged.passUnretained(operations as AnyObject).toOpaque()
    table.lookup = { context, request, parent, name in
      guard let request, let name else { return }
      FuseSession.operations(context).lookup(
        parent: parent, name: String(cString: name), reply: FuseReply(request).send)
    }
    table.getattr = { context, request, inode in
      guard let request else { return }
      FuseSession.operations(context).getattr(inode: inode, reply: FuseReply(request).send)
    }
    table.open = { context, request, inode, flags in
      guard let request else { return }
      FuseSession.operations(context).open(inode: inode, flags: flags, reply: FuseReply(request).send)
    }
    table.read = { context, request, inode, size, offset, handle in
      guard let request else { return }
      FuseSession.operations(context).read(
        inode: inode, size: size, offset: offset, handle: handle, reply: FuseReply(request).send)
    }
    table.release = { context, request, inode, handle in
      guard let request else { return }
      FuseSession.operations(context).release(inode: inode, handle: handle, reply: FuseReply(request).send)
    }
    // At most as many entries as the kernel's buffer could hold, the shortest names taken: a
    // `struct fuse_dirent` of 24 bytes and a name padded to 8; with attributes, 128 more.
    table.readdir = { context, request, inode, size, offset in
      guard let request else { return }
      FuseSession.operations(context).readdir(
        inode: inode, offset: offset, count: size / 32, plus: false,
        reply: FuseReply(request, shape: .directory(size: size)).send)
    }
    table.readdirplus = { context, request, inode, size, offset in
      guard let request else { return }
      FuseSession.operations(context).readdir(
        inode: inode, offset: offset, count: size / 160, plus: true,
        reply: FuseReply(request, shape: .directory(size: size)).send)
    }
    table.getxattr = { context, request, inode, name, size in
      guard let request, let name else { return }
      FuseSession.operations(context).getxattr(
        inode: inode, name: String(cString: name), reply: FuseReply(request, shape: .attribute(size: size)).send)
    }
    table.listxattr = { context, request, inode, size in
      guard let request else { return }
      FuseSession.operations(context).listxattr(
        inode: inode, reply: FuseReply(request, shape: .attribute(size: size)).send)
    }
    table.statfs = { context, request in
      guard let request else { return }
      FuseSession.operations(context).statfs(reply: FuseReply(request).send)
    }
    guard let session = bitsfs_session_new(options.joined(separator: ","), &table) else {
      throw FuseError(description: "invalid FUSE options: \(options.joined(separator: ","))")
    }
    guard bitsfs_session_mount(session, mountPoint) == 0 else {
      bitsfs_session_destroy(session)
      throw FuseError(description: "cannot mount at \(mountPoint) (is /dev/fuse available and fusermount3 installed?)")
    }
    handle = Mutex(Handle(pointer: session))
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
    guard let pointer = handle.withLock({ $0?.pointer }) else { return }
    // The loop and the waits run without the lock: only this thread destroys the session.
    bitsfs_session_loop(pointer, 16)
    afterLoop()
    if bitsfs_session_wait_idle(pointer, 60_000) == 0 {
      writeToStandardError("bitsfs: some requests were still unanswered at unmount\n")
    }
    handle.withLock { handle in
      bitsfs_session_destroy(pointer)
      handle = nil
    }
  }

  /// Ends the loop by unmounting (the kernel then closes the channel the loop reads).
  public func stop() {
    guard !isStopping.exchange(true, ordering: .relaxed) else { return }
    let live = handle.withLock { handle -> Bool in
      guard let handle else { return false }
      bitsfs_session_exit(handle.pointer)
      return true
    }
    if live { _ = runQuietly("/usr/bin/fusermount3", ["-u", "-z", mountPoint]) }
  }

  /// Drops the kernel's cached pages of `inode`, whose remote version changed.
  public func invalidate(inode: UInt64) {
    handle.withLock { handle in
      if let handle { _ = bitsfs_notify_inval_inode(handle.pointer, inode) }
    }
  }

  /// Drops the kernel's cached lookup of `name` in `parent`, so the next open asks again.
  public func invalidate(name: String, in parent: UInt64) {
    handle.withLock { handle in
      if let handle { _ = bitsfs_notify_inval_entry(handle.pointer, parent, name) }
    }
  }

  /// Sets the mount's read-ahead to `kilobytes`. It caps the kernel's reads of a sequential
  /// reader (up to 512 KiB, the shim's `max_read`; a larger window keeps several in flight) and
  /// is the span a page fault of a mapping reads around the page. Call only once the loop runs.
  @discardableResult
  public static func setReadAhead(mountPoint: String, kilobytes: Int) -> Bool {
    guard let mount = MountTable.mounts().last(where: { $0.mountPoint == mountPoint }) else { return false }
    let path = "/sys/class/bdi/\(mount.device)/read_ahead_kb"
    return (try? "\(kilobytes)\n".write(toFile: path, atomically: false, encoding: .utf8)) != nil
  }
}
