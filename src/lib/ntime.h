/* Windows FILETIME (100 ns units since 1601-01-01 UTC) <-> POSIX time. */
#ifndef SHOAL_LIB_NTIME_H
#define SHOAL_LIB_NTIME_H

#include <stdint.h>
#include <time.h>

#define NTTIME_UNIX_EPOCH 116444736000000000ULL /* 1970-01-01 as FILETIME */

uint64_t nttime_from_timespec(struct timespec ts);
/* Values before 1970 clamp to 0 s; 0 gives 1970 as well (callers treat 0 as "not set"). */
struct timespec nttime_to_timespec(uint64_t nt);
uint64_t nttime_now(void);

#endif
