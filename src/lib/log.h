/* Logging by subsystem, with a level per subsystem that can change at run time.
 *
 * Levels follow smb.conf's `log level`: 0 errors, 1 warnings/notices, 2-4 info, 5-10 debug.
 * The level table is the one process-wide mutable object: it is set from the configuration
 * (and later the API) and read racily on purpose (a stale level only changes verbosity).
 * Secrets (passwords, hashes, keys) are never passed to these functions. */
#ifndef SHOAL_LIB_LOG_H
#define SHOAL_LIB_LOG_H

#include <stdarg.h>

enum log_sub { LOG_CORE, LOG_SMB2, LOG_AUTH, LOG_VFS, LOG_STATE, LOG_RPC, LOG_MGMT, LOG_CLUSTER,
	       LOG_CLIENT, LOG_NSUB };

extern volatile int log_levels[LOG_NSUB];

/* Sets every subsystem's level. */
void log_set_level(int level);
/* Parses a smb.conf style level string: "3" or "3 smb2:5 auth:10"; 0 on success, -EINVAL. */
int log_parse_levels(const char *spec);
/* Same syntax check as log_parse_levels without changing any level (for the config loader). */
int log_check_levels(const char *spec);
/* Where lines go: stderr by default; a path opens (append) a file. 0 or -errno. */
int log_set_file(const char *path);
const char *log_sub_name(enum log_sub s);

void log_write(enum log_sub sub, int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define LOG_ON(sub, lvl) ((lvl) <= log_levels[(sub)])
#define LOG(sub, lvl, ...)                                                                        \
	do {                                                                                      \
		if (LOG_ON(sub, lvl))                                                             \
			log_write(sub, lvl, __FILE__, __LINE__, __VA_ARGS__);                     \
	} while (0)
#define LOG_ERR(sub, ...) LOG(sub, 0, __VA_ARGS__)
#define LOG_WARN(sub, ...) LOG(sub, 1, __VA_ARGS__)
#define LOG_INFO(sub, ...) LOG(sub, 2, __VA_ARGS__)
#define LOG_DBG(sub, ...) LOG(sub, 5, __VA_ARGS__)

#endif
