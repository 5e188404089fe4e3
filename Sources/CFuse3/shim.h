#ifndef BITSFS_CFUSE3_SHIM_H
#define BITSFS_CFUSE3_SHIM_H
// The FUSE API version must be fixed before the header is seen, also by Swift's importer.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#endif
