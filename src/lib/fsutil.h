/* Small file-system helpers shared by the programs. */
#ifndef SHOAL_LIB_FSUTIL_H
#define SHOAL_LIB_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: parents get 0755, the last component mode; an existing directory is fine.
 * Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* "dir/name" in a new string, or name alone when dir is "" (the root of a share or a watch);
 * NULL when out of memory. */
char *path_join(const char *dir, const char *name);

#endif
