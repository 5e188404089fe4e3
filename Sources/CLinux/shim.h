#ifndef BITSFS_CLINUX_SHIM_H
#define BITSFS_CLINUX_SHIM_H

// Linux calls that Swift's Glibc module leaves out (declared only under _GNU_SOURCE).
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/// prctl(PR_SET_DUMPABLE, dumpable): 0 means no core file and no ptrace by the same user.
/// Returns 0, or -1 with errno set.
static inline int bitsfs_set_dumpable(int dumpable) {
  return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL);
}

#endif
