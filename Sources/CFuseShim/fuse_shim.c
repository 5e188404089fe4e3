#include "bitsfs_fuse.h"

#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// What libfuse keeps as the session's user data.
struct shim {
  struct bitsfs_fuse_operations operations;
  atomic_long in_flight;
  // Set at init: the kernel takes ENOSYS from opendir as "never send opendir or releasedir".
  atomic_bool no_opendir;
};

static struct shim *shim_of(fuse_req_t req) { return (struct shim *)fuse_req_userdata(req); }

static void begin(fuse_req_t req) { atomic_fetch_add(&shim_of(req)->in_flight, 1); }

// Called once per request, after its reply; the request is gone after fuse_reply_*.
static int end(struct shim *shim, int result) {
  atomic_fetch_sub(&shim->in_flight, 1);
  return result;
}

#define SHIM(req) shim_of(req)
#define OPS(req) (&shim_of(req)->operations)


// The largest read the kernel sends. Replies up to this size are spliced (bitsfs_reply_fd); the
// mount's read-ahead may be larger, to keep several such reads in flight.
#define MAX_READ 524288  // 512 KiB, a literal for OPTION()
#define STRING(x) #x
#define OPTION(name, value) name "=" STRING(value)

static void shim_init(void *userdata, struct fuse_conn_info *conn) {
  // Reads may arrive in parallel; a file whose size or date changes gets its pages dropped;
  // file data is spliced into replies (bitsfs_reply_fd).
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  // Listings with attributes (`ls -l`, `du`, `find -size`) cost no lookup per entry, and a walk
  // into the subdirectories of a listing none (ListingAttributePolicy decides which entries
  // carry theirs): READDIRPLUS for every part of a listing, not only the first as with
  // READDIRPLUS_AUTO.
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // Directories keep no state between the parts of a reading (the offsets say where it goes
  // on), so the kernel need not open them: two requests fewer per directory a walk reads.
  atomic_store(&((struct shim *)userdata)->no_opendir, (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0);
  conn->max_readahead = 1 << 20;
  conn->max_read = MAX_READ;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
}

static void shim_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  begin(req);
  OPS(req)->lookup(OPS(req)->context, req, parent, name);
}

static void shim_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  begin(req);
  OPS(req)->getattr(OPS(req)->context, req, ino);
}

static void shim_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  begin(req);
  OPS(req)->open(OPS(req)->context, req, ino, fi->flags);
}

static void shim_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  begin(req);
  OPS(req)->read(OPS(req)->context, req, ino, size, (uint64_t)off, fi->fh);
}

static void shim_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  begin(req);
  OPS(req)->release(OPS(req)->context, req, ino, fi->fh);
}

// Only a kernel older than 5.1 opens directories: with no handle, as readdir needs none.
static void shim_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  if (atomic_load(&SHIM(req)->no_opendir)) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  fi->fh = 0;
  fuse_reply_open(req, fi);
}

static void shim_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  begin(req);
  OPS(req)->readdir(OPS(req)->context, req, ino, size, (uint64_t)off);
}

static void shim_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  begin(req);
  OPS(req)->readdirplus(OPS(req)->context, req, ino, size, (uint64_t)off);
}

static void shim_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  (void)fi;
  fuse_reply_err(req, 0);
}

static void shim_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  begin(req);
  OPS(req)->getxattr(OPS(req)->context, req, ino, name, size);
}

static void shim_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  begin(req);
  OPS(req)->listxattr(OPS(req)->context, req, ino, size);
}

static void shim_statfs(fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  begin(req);
  OPS(req)->statfs(OPS(req)->context, req);
}

// The file system is read-only: everything that would change it fails here.
static void erofs(fuse_req_t req) { fuse_reply_err(req, EROFS); }
static void shim_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  (void)ino; (void)attr; (void)to_set; (void)fi;
  erofs(req);
}
static void shim_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  (void)parent; (void)name; (void)mode; (void)rdev;
  erofs(req);
}
static void shim_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  (void)parent; (void)name; (void)mode;
  erofs(req);
}
static void shim_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  (void)parent; (void)name;
  erofs(req);
}
static void shim_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  (void)link; (void)parent; (void)name;
  erofs(req);
}
static void shim_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                        const char *newname, unsigned int flags) {
  (void)parent; (void)name; (void)newparent; (void)newname; (void)flags;
  erofs(req);
}
static void shim_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  (void)ino; (void)newparent; (void)newname;
  erofs(req);
}
static void shim_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                       struct fuse_file_info *fi) {
  (void)ino; (void)buf; (void)size; (void)off; (void)fi;
  erofs(req);
}
static void shim_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  (void)parent; (void)name; (void)mode; (void)fi;
  erofs(req);
}
static void shim_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                          int flags) {
  (void)ino; (void)name; (void)value; (void)size; (void)flags;
  erofs(req);
}
static void shim_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  (void)ino; (void)name;
  erofs(req);
}
static void shim_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                           struct fuse_file_info *fi) {
  (void)ino; (void)mode; (void)offset; (void)length; (void)fi;
  erofs(req);
}

static const struct fuse_lowlevel_ops shim_operations = {
    .init = shim_init,
    .lookup = shim_lookup,
    .getattr = shim_getattr,
    .open = shim_open,
    .read = shim_read,
    .release = shim_release,
    .opendir = shim_opendir,
    .readdir = shim_readdir,
    .readdirplus = shim_readdirplus,
    .releasedir = shim_releasedir,
    .getxattr = shim_getxattr,
    .listxattr = shim_listxattr,
    .statfs = shim_statfs,
    .setattr = shim_setattr,
    .mknod = shim_mknod,
    .mkdir = shim_mkdir,
    .unlink = shim_unlink,
    .rmdir = shim_unlink,
    .symlink = shim_symlink,
    .rename = shim_rename,
    .link = shim_link,
    .write = shim_write,
    .create = shim_create,
    .setxattr = shim_setxattr,
    .removexattr = shim_removexattr,
    .fallocate = shim_fallocate,
};

struct bitsfs_session {
  struct fuse_session *fuse;
  struct shim *shim;
};

struct bitsfs_session *bitsfs_session_new(const char *options, const struct bitsfs_fuse_operations *operations) {
  struct bitsfs_session *session = calloc(1, sizeof *session);
  struct shim *shim = calloc(1, sizeof *shim);
  if (!session || !shim) {
    free(session);
    free(shim);
    return NULL;
  }
  shim->operations = *operations;
  atomic_init(&shim->in_flight, 0);
  atomic_init(&shim->no_opendir, false);
  // libfuse wants max_read both here and in init.
  char *argv[] = {"bitsfs", "-o", (char *)options, "-o", OPTION("max_read", MAX_READ), NULL};
  struct fuse_args args = FUSE_ARGS_INIT(5, argv);
  session->shim = shim;
  session->fuse = fuse_session_new(&args, &shim_operations, sizeof shim_operations, shim);
  fuse_opt_free_args(&args);
  if (!session->fuse) {
    free(shim);
    free(session);
    return NULL;
  }
  return session;
}

int bitsfs_session_mount(struct bitsfs_session *session, const char *mountpoint) {
  return fuse_session_mount(session->fuse, mountpoint) == 0 ? 0 : -1;
}

int bitsfs_session_loop(struct bitsfs_session *session, unsigned max_idle_threads) {
  struct fuse_loop_config *config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_idle_threads(config, max_idle_threads);
  int result = fuse_session_loop_mt(session->fuse, config);
  fuse_loop_cfg_destroy(config);
  return result;
}

void bitsfs_session_exit(struct bitsfs_session *session) { fuse_session_exit(session->fuse); }

int bitsfs_session_wait_idle(struct bitsfs_session *session, int timeout_ms) {
  struct shim *shim = session->shim;
  for (int waited = 0; atomic_load(&shim->in_flight) > 0; waited += 10) {
    if (waited >= timeout_ms) return 0;
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return 1;
}

void bitsfs_session_destroy(struct bitsfs_session *session) {
  fuse_session_unmount(session->fuse);
  fuse_session_destroy(session->fuse);
  free(session->shim);
  free(session);
}

int bitsfs_notify_inval_inode(struct bitsfs_session *session, uint64_t ino) {
  return fuse_lowlevel_notify_inval_inode(session->fuse, ino, 0, 0);
}

int bitsfs_notify_inval_entry(struct bitsfs_session *session, uint64_t parent, const char *name) {
  return fuse_lowlevel_notify_inval_entry(session->fuse, parent, name, strlen(name));
}

int bitsfs_reply_err(fuse_req_t req, int error) {
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_err(req, error));
}

int bitsfs_reply_entry(fuse_req_t req, uint64_t ino, const struct stat *attributes, double timeout) {
  struct fuse_entry_param entry;
  memset(&entry, 0, sizeof entry);
  entry.ino = ino;
  entry.generation = 1;
  entry.attr = *attributes;
  entry.attr_timeout = timeout;
  entry.entry_timeout = timeout;
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_entry(req, &entry));
}

int bitsfs_reply_attr(fuse_req_t req, const struct stat *attributes, double timeout) {
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_attr(req, attributes, timeout));
}

int bitsfs_reply_open(fuse_req_t req, uint64_t handle, int keep_cache) {
  struct fuse_file_info info;
  memset(&info, 0, sizeof info);
  info.fh = handle;
  info.keep_cache = keep_cache ? 1 : 0;
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_open(req, &info));
}

int bitsfs_reply_buf(fuse_req_t req, const void *bytes, size_t size) {
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_buf(req, bytes, size));
}

// File data goes to the kernel by splice: the cache file's pages enter a pipe by reference and
// are copied once, into the reader's pages, with nothing mapped into this process. libfuse
// splices a reply only if it fits in one pipe (1 MiB without privileges), which is why reads are
// capped at MAX_READ; tiny replies go through a buffer instead.
// libfuse sends whatever the file holds, and the kernel takes a short reply as the end of the
// file, so a cache file cut short behind the mount's back must be an error here.
int bitsfs_reply_fd(fuse_req_t req, int fd, uint64_t offset, size_t size) {
  struct stat info;
  if (fstat(fd, &info) != 0 || (uint64_t)info.st_size < offset + size) return bitsfs_reply_err(req, EIO);
  struct fuse_bufvec data = FUSE_BUFVEC_INIT(size);
  data.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  data.buf[0].fd = fd;
  data.buf[0].pos = (off_t)offset;
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_data(req, &data, 0));
}

int bitsfs_reply_xattr(fuse_req_t req, size_t size) {
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_xattr(req, size));
}

int bitsfs_reply_statfs(fuse_req_t req, const struct statvfs *stats) {
  struct shim *shim = SHIM(req);
  return end(shim, fuse_reply_statfs(req, stats));
}
