/* Unit tests for lib/ntime.h (MS-DTYP 2.3.3 FILETIME). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>

#include "lib/ntime.h"

static struct timespec ts(time_t s, long ns)
{
	struct timespec t = {s, ns};
	return t;
}

static void t_known(void **st)
{
	(void)st;
	assert_true(nttime_from_timespec(ts(0, 0)) == NTTIME_UNIX_EPOCH);
	/* 2000-01-01T00:00:00Z = 946684800 = 125911584000000000 */
	assert_true(nttime_from_timespec(ts(946684800, 0)) == 125911584000000000ULL);
	/* 100 ns granularity: sub-100ns parts are dropped */
	assert_true(nttime_from_timespec(ts(1, 199)) == NTTIME_UNIX_EPOCH + 10000001ULL);
	struct timespec t = nttime_to_timespec(125911584000000000ULL + 1234567);
	assert_int_equal(t.tv_sec, 946684800);
	assert_int_equal(t.tv_nsec, 123456700);
	/* 1601 itself and anything before it */
	assert_true(nttime_from_timespec(ts(-11644473600LL, 0)) == 0);
	assert_true(nttime_from_timespec(ts(-11644473601LL, 0)) == 0);
	assert_true(nttime_from_timespec(ts(-1, 0)) == NTTIME_UNIX_EPOCH - 10000000ULL);
	/* far future clamps to the largest FILETIME, not a wrapped value */
	assert_true(nttime_from_timespec(ts(INT64_MAX, 999999999)) == (uint64_t)INT64_MAX);
	assert_true(nttime_from_timespec(ts(INT64_MIN, 0)) == 0);
	assert_true(nttime_from_timespec(ts(910692730085LL, 0)) == (uint64_t)INT64_MAX);
	/* a denormal tv_nsec is normalised */
	assert_true(nttime_from_timespec(ts(0, 1500000000)) == NTTIME_UNIX_EPOCH + 15000000ULL);
	assert_true(nttime_from_timespec(ts(1, -500000000)) == NTTIME_UNIX_EPOCH + 5000000ULL);
}

static void t_to_clamps(void **st)
{
	(void)st;
	struct timespec t = nttime_to_timespec(0);
	assert_int_equal(t.tv_sec, 0);
	assert_int_equal(t.tv_nsec, 0);
	t = nttime_to_timespec(NTTIME_UNIX_EPOCH - 1);
	assert_int_equal(t.tv_sec, 0);
	assert_int_equal(t.tv_nsec, 0);
	t = nttime_to_timespec(NTTIME_UNIX_EPOCH + 1);
	assert_int_equal(t.tv_sec, 0);
	assert_int_equal(t.tv_nsec, 100);
	t = nttime_to_timespec(UINT64_MAX);
	assert_true(t.tv_sec > 0);
	assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000);
}

static void t_roundtrip(void **st)
{
	(void)st;
	srand(777);
	for (int i = 0; i < 100000; i++) {
		uint64_t r = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
		uint64_t nt = NTTIME_UNIX_EPOCH + r % ((uint64_t)INT64_MAX - NTTIME_UNIX_EPOCH);
		struct timespec t = nttime_to_timespec(nt);
		assert_true(nttime_from_timespec(t) == nt);
		struct timespec u = ts((time_t)(rand() % 4000000000LL), (rand() % 10000000) * 100L);
		assert_true(nttime_to_timespec(nttime_from_timespec(u)).tv_sec == u.tv_sec);
		assert_true(nttime_to_timespec(nttime_from_timespec(u)).tv_nsec == u.tv_nsec);
	}
}

static void t_now(void **st)
{
	(void)st;
	uint64_t a = nttime_now();
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	uint64_t b = nttime_now();
	assert_true(a <= b);
	uint64_t mid = nttime_from_timespec(t);
	assert_true(a <= mid && mid <= b);
	/* after 2020-01-01 */
	assert_true(a > 132223104000000000ULL);
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_known),
	    cmocka_unit_test(t_to_clamps),
	    cmocka_unit_test(t_roundtrip),
	    cmocka_unit_test(t_now),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
