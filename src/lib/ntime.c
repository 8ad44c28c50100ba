/* FILETIME <-> timespec (MS-DTYP 2.3.3: 100 ns intervals since 1601-01-01 UTC). */
#include "ntime.h"

#define NT_PER_SEC 10000000LL

uint64_t nttime_from_timespec(struct timespec ts)
{
	int64_t sec = (int64_t)ts.tv_sec;
	int64_t nsec = (int64_t)ts.tv_nsec;
	/* far outside FILETIME's range either way; also keeps the sums below from overflowing */
	if (sec > INT64_MAX / 4)
		return (uint64_t)INT64_MAX;
	if (sec < INT64_MIN / 4)
		return 0;
	/* normalise a tv_nsec outside [0, 1e9) rather than trust the caller */
	sec += nsec / 1000000000;
	nsec %= 1000000000;
	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	const int64_t epoch_sec = (int64_t)(NTTIME_UNIX_EPOCH / NT_PER_SEC);
	/* FILETIME is a signed 64-bit count on Windows: clamp to [1601, INT64_MAX] */
	if (sec < -epoch_sec)
		return 0;
	if (sec > (INT64_MAX / NT_PER_SEC) - epoch_sec - 1)
		return (uint64_t)INT64_MAX;
	return (uint64_t)((sec + epoch_sec) * NT_PER_SEC + nsec / 100);
}

struct timespec nttime_to_timespec(uint64_t nt)
{
	struct timespec ts = {0, 0};
	if (nt <= NTTIME_UNIX_EPOCH)
		return ts;
	uint64_t d = nt - NTTIME_UNIX_EPOCH;
	ts.tv_sec = (time_t)(d / NT_PER_SEC);
	ts.tv_nsec = (long)(d % NT_PER_SEC) * 100;
	return ts;
}

uint64_t nttime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return nttime_from_timespec(ts);
}
