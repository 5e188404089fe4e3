#ifndef BITSFS_FUSE_H
#define BITSFS_FUSE_H
#include "../../CFuse3/shim.h"
#endif
