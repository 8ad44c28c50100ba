/* Small file-system helpers shared by the programs. */
#ifndef SHOAL_LIB_FSUTIL_H
#define SHOAL_LIB_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: parents get 0755, the last component mode; an existing directory is fine.
 * Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

#endif
