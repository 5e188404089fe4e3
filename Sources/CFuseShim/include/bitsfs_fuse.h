#ifndef BITSFS_FUSE_H
#define BITSFS_FUSE_H

// The bridge between libfuse's low-level API and Swift. libfuse calls the C operations in
// fuse_shim.c, which forward to a table of plain function pointers filled by Swift. Mutating
// operations never reach Swift: the file system is read-only and they fail with EROFS here.
// Every reply goes through the bitsfs_reply_* functions, which count requests in flight so the
// session is destroyed only once all of them are answered.

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

struct bitsfs_fuse_operations {
  void *context;
  void (*lookup)(void *context, fuse_req_t req, uint64_t parent, const char *name);
  void (*getattr)(void *context, fuse_req_t req, uint64_t ino);
  void (*open)(void *context, fuse_req_t req, uint64_t ino, int flags);
  void (*read)(void *context, fuse_req_t req, uint64_t ino, size_t size, uint64_t offset, uint64_t handle);
  void (*release)(void *context, fuse_req_t req, uint64_t ino, uint64_t handle);
  void (*readdir)(void *context, fuse_req_t req, uint64_t ino, size_t size, uint64_t offset);
  void (*readdirplus)(void *context, fuse_req_t req, uint64_t ino, size_t size, uint64_t offset);
  void (*getxattr)(void *context, fuse_req_t req, uint64_t ino, const char *name, size_t size);
  void (*listxattr)(void *context, fuse_req_t req, uint64_t ino, size_t size);
  void (*statfs)(void *context, fuse_req_t req);
};

/// A mounted (or mountable) file system: the libfuse session and the operations table.
struct bitsfs_session;

/// A session over `operations` with the given fuse options (`-o` style, comma separated);
/// NULL on failure (libfuse prints why on standard error).
struct bitsfs_session *bitsfs_session_new(const char *options, const struct bitsfs_fuse_operations *operations);
/// 0, or -1 when mounting failed.
int bitsfs_session_mount(struct bitsfs_session *session, const char *mountpoint);
/// Serves requests on several threads until the file system is unmounted or the session exits.
int bitsfs_session_loop(struct bitsfs_session *session, unsigned max_idle_threads);
void bitsfs_session_exit(struct bitsfs_session *session);
/// Waits until every request received has been answered, at most `timeout_ms`; whether it has.
int bitsfs_session_wait_idle(struct bitsfs_session *session, int timeout_ms);
/// Unmounts and frees the session and its operations table.
void bitsfs_session_destroy(struct bitsfs_session *session);
/// Drops the kernel's cached pages and attributes of `ino`.
int bitsfs_notify_inval_inode(struct bitsfs_session *session, uint64_t ino);
/// Drops the kernel's cached name `name` in directory `parent`, so the next lookup asks again.
int bitsfs_notify_inval_entry(struct bitsfs_session *session, uint64_t parent, const char *name);

int bitsfs_reply_err(fuse_req_t req, int error);
int bitsfs_reply_entry(fuse_req_t req, uint64_t ino, const struct stat *attributes, double timeout);
int bitsfs_reply_attr(fuse_req_t req, const struct stat *attributes, double timeout);
int bitsfs_reply_open(fuse_req_t req, uint64_t handle, int keep_cache);
int bitsfs_reply_buf(fuse_req_t req, const void *bytes, size_t size);
/// Replies with `size` bytes of the file `fd` at `offset`, which must lie within the file.
int bitsfs_reply_fd(fuse_req_t req, int fd, uint64_t offset, size_t size);
int bitsfs_reply_xattr(fuse_req_t req, size_t size);
int bitsfs_reply_statfs(fuse_req_t req, const struct statvfs *stats);

#endif
