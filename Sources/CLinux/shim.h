#ifndef BITSFS_CLINUX_SHIM_H
#define BITSFS_CLINUX_SHIM_H

// Linux calls that Swift's Glibc module leaves out (declared only under _GNU_SOURCE).
#include <fcntl.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

/// fallocate(2) in its default mode: allocates [offset, offset + length) without changing the
/// file's size. Returns 0, or -1 with errno set.
static inline int bitsfs_fallocate(int fd, int64_t offset, int64_t length) {
  return (int)syscall(SYS_fallocate, fd, 0, (long)offset, (long)length);
}

/// fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: frees the disk blocks of
/// [offset, offset + length), which then read as zeros. Returns 0, or -1 with errno set.
static inline int bitsfs_punch_hole(int fd, int64_t offset, int64_t length) {
  return (int)syscall(SYS_fallocate, fd, 0x02 | 0x01, (long)offset, (long)length);
}

/// The process holding a write lock on the whole of `fd` (lockf(3) takes such locks), 0 if
/// none does, or -1 with errno set.
static inline int bitsfs_lock_holder(int fd) {
  struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  if (fcntl(fd, F_GETLK, &lock) != 0) return -1;
  return lock.l_type == F_UNLCK ? 0 : (int)lock.l_pid;
}

/// prctl(PR_SET_DUMPABLE, dumpable): 0 means no core file and no ptrace by the same user.
/// Returns 0, or -1 with errno set.
static inline int bitsfs_set_dumpable(int dumpable) {
  return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL);
}

/// sched_setscheduler(2) of the calling thread to SCHED_IDLE (5; its name needs _GNU_SOURCE):
/// the thread runs only on a CPU that no other thread wants. Returns 0, or -1 with errno set.
static inline int bitsfs_run_when_idle(void) {
  struct { int priority; } parameters = {0};  // struct sched_param
  return (int)syscall(SYS_sched_setscheduler, 0, 5, &parameters);
}

/// syslog(3) of one preformatted message (syslog itself is variadic, which Swift cannot call).
static inline void bitsfs_syslog(int priority, const char *message) {
  syslog(priority, "%s", message);
}

#endif
