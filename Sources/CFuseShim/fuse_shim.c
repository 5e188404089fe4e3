#include "bitsfs_fuse.h"
