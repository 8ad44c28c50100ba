/* Byte-range locks of the state layer: range validity, the conflict rules (zero-length locks,
 * stacking on the same open, shared/exclusive between opens), exact unlock, all-or-none multi
 * range requests, READ/WRITE conflicts, locks dropped at close, waiters woken when a lock goes,
 * the lock sequence entries, and mutual exclusion under threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "state/state.h"

#define RW (STATE_FILE_READ_DATA | STATE_FILE_WRITE_DATA)
#define SHARE_ALL (STATE_SHARE_READ | STATE_SHARE_WRITE | STATE_SHARE_DELETE)

struct fixture {
	struct state_db *db;
	struct state_open *a, *b;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct state_key k = {3, 33, 0};
	fx->db = state_db_new();
	assert_int_equal(state_share_check_add(fx->db, &k, RW, SHARE_ALL, &fx->a), 0);
	assert_int_equal(state_share_check_add(fx->db, &k, RW, SHARE_ALL, &fx->b), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->a)
		state_share_remove(fx->a);
	if (fx->b)
		state_share_remove(fx->b);
	state_db_free(fx->db);
	free(fx);
	return 0;
}

static int lock1(struct state_open *h, uint64_t off, uint64_t len, bool excl)
{
	struct state_lock_range r = {off, len, excl};
	return state_lock_ranges(h, &r, 1, NULL, NULL);
}

static void test_range_valid(void **state)
{
	(void)state;
	assert_true(state_lock_range_valid(0, 0));
	assert_true(state_lock_range_valid(UINT64_MAX, 0));
	assert_true(state_lock_range_valid(UINT64_MAX, 1));
	assert_false(state_lock_range_valid(UINT64_MAX, 2));
	assert_false(state_lock_range_valid(UINT64_MAX, UINT64_MAX));
	assert_true(state_lock_range_valid(0, UINT64_MAX));
	assert_true(state_lock_range_valid(1, UINT64_MAX));
	assert_false(state_lock_range_valid(2, UINT64_MAX));
	assert_true(state_lock_range_valid(1ull << 63, 1ull << 63));
	assert_false(state_lock_range_valid((1ull << 63) + 1, 1ull << 63));
}

static void test_invalid_range(void **state)
{
	struct fixture *fx = *state;
	int failed = -1;
	struct state_lock_range r[2] = {{0, 10, true}, {UINT64_MAX, 2, true}};
	assert_int_equal(state_lock_ranges(fx->a, r, 2, NULL, &failed), -EINVAL);
	assert_int_equal(failed, 1);
	assert_int_equal(state_lock_count(fx->a), 0);
	assert_int_equal(lock1(fx->a, UINT64_MAX, 1, true), 0);
	assert_int_equal(lock1(fx->b, UINT64_MAX, 1, true), -EAGAIN);
	assert_int_equal(state_unlock(fx->a, UINT64_MAX, 1), 0);
}

/* The zero-byte table of smbtorture's smb2.lock.zerobytelength: a first exclusive lock, then a
 * second one on the same open and on another open; the outcome is the same for both. */
static void test_zero_length(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		uint64_t o1, l1, o2, l2;
		int rc;
	} t[] = {
	    {10, 0, 10, 0, 0},       {10, 0, 9, 1, 0},        {10, 0, 10, 1, 0},
	    {10, 0, 11, 1, 0},       {10, 0, 9, 2, -EAGAIN},  {10, 0, 10, 2, 0},
	    {10, 0, 9, 3, -EAGAIN},  {9, 1, 10, 0, 0},        {10, 1, 10, 0, 0},
	    {11, 1, 10, 0, 0},       {9, 2, 10, 0, -EAGAIN},  {10, 2, 10, 0, 0},
	    {9, 3, 10, 0, -EAGAIN},  {0, 0, 0, 0, 0},         {100, 10, 102, 0, -EAGAIN},
	};
	for (int pass = 0; pass < 2; pass++) {
		struct state_open *second = pass ? fx->b : fx->a;
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			assert_int_equal(lock1(fx->a, t[i].o1, t[i].l1, true), 0);
			int rc = lock1(second, t[i].o2, t[i].l2, true);
			if (rc != t[i].rc)
				fail_msg("pass %d case %zu: %d, want %d", pass, i, rc, t[i].rc);
			if (rc == 0)
				assert_int_equal(state_unlock(second, t[i].o2, t[i].l2), 0);
			assert_int_equal(state_unlock(fx->a, t[i].o1, t[i].l1), 0);
			assert_int_equal(state_lock_count(fx->a), 0);
			assert_int_equal(state_lock_count(fx->b), 0);
		}
	}
}

static void test_stacking(void **state)
{
	struct fixture *fx = *state;
	/* shared on shared, same open */
	assert_int_equal(lock1(fx->a, 0, 10, false), 0);
	assert_int_equal(lock1(fx->a, 0, 10, false), 0);
	/* exclusive on own shared: no */
	assert_int_equal(lock1(fx->a, 5, 1, true), -EAGAIN);
	/* shared of another open: yes */
	assert_int_equal(lock1(fx->b, 2, 2, false), 0);
	assert_int_equal(state_unlock(fx->a, 0, 10), 0);
	assert_int_equal(state_unlock(fx->a, 0, 10), 0);
	assert_int_equal(state_unlock(fx->a, 0, 10), -ENOENT);
	assert_int_equal(state_unlock(fx->b, 2, 2), 0);
	/* shared on own exclusive: yes, twice; another open: no */
	assert_int_equal(lock1(fx->a, 0, 10, true), 0);
	assert_int_equal(lock1(fx->a, 0, 10, false), 0);
	assert_int_equal(lock1(fx->a, 3, 2, false), 0);
	assert_int_equal(lock1(fx->b, 0, 10, false), -EAGAIN);
	assert_int_equal(lock1(fx->b, 9, 1, false), -EAGAIN);
	assert_int_equal(lock1(fx->b, 10, 1, true), 0);
	/* exclusive on own exclusive: no */
	assert_int_equal(lock1(fx->a, 0, 10, true), -EAGAIN);
	/* unlock takes the exclusive first: the other open may then share */
	assert_int_equal(state_unlock(fx->a, 0, 10), 0);
	assert_int_equal(lock1(fx->b, 0, 10, false), 0);
	assert_int_equal(lock1(fx->b, 0, 10, true), -EAGAIN);
	assert_int_equal(state_unlock(fx->b, 0, 10), 0);
	assert_int_equal(state_unlock(fx->a, 0, 10), 0);
	assert_int_equal(state_unlock(fx->a, 0, 10), -ENOENT);
	assert_int_equal(state_unlock(fx->a, 3, 2), 0);
	/* only an exact range unlocks; another open's lock is not ours */
	assert_int_equal(lock1(fx->a, 110, 4, false), 0);
	assert_int_equal(lock1(fx->a, 112, 4, false), 0);
	assert_int_equal(state_unlock(fx->a, 110, 6), -ENOENT);
	assert_int_equal(state_unlock(fx->b, 110, 4), -ENOENT);
	assert_int_equal(state_unlock(fx->a, 112, 4), 0);
	assert_int_equal(state_unlock(fx->a, 110, 4), 0);
	assert_int_equal(state_unlock(fx->b, 10, 1), 0);
	assert_int_equal(state_lock_count(fx->a) + state_lock_count(fx->b), 0);
}

static void test_multi_atomic(void **state)
{
	struct fixture *fx = *state;
	int failed = -1;
	assert_int_equal(lock1(fx->b, 50, 10, true), 0);
	struct state_lock_range r[3] = {{0, 10, true}, {20, 10, false}, {55, 1, false}};
	assert_int_equal(state_lock_ranges(fx->a, r, 3, NULL, &failed), -EAGAIN);
	assert_int_equal(failed, 2);
	assert_int_equal(state_lock_count(fx->a), 0);
	assert_int_equal(lock1(fx->b, 0, 10, true), 0); /* nothing of the failed request stayed */
	assert_int_equal(state_unlock(fx->b, 0, 10), 0);
	/* a range conflicting with an earlier one of the same request */
	struct state_lock_range s[2] = {{0, 10, true}, {5, 10, true}};
	assert_int_equal(state_lock_ranges(fx->a, s, 2, NULL, &failed), -EAGAIN);
	assert_int_equal(failed, 1);
	assert_int_equal(state_lock_count(fx->a), 0);
	r[2].off = 70;
	assert_int_equal(state_lock_ranges(fx->a, r, 3, NULL, &failed), 0);
	assert_int_equal(state_lock_count(fx->a), 3);
	assert_int_equal(lock1(fx->b, 25, 1, false), 0);
	assert_int_equal(lock1(fx->b, 5, 1, false), -EAGAIN);
}

static void test_io(void **state)
{
	struct fixture *fx = *state;
	/* shared: nobody writes (the owner included), everybody reads */
	assert_int_equal(lock1(fx->a, 0, 100, false), 0);
	assert_int_equal(state_lock_check_io(fx->a, 50, 10, true), -EAGAIN);
	assert_int_equal(state_lock_check_io(fx->b, 99, 10, true), -EAGAIN);
	assert_int_equal(state_lock_check_io(fx->a, 50, 10, false), 0);
	assert_int_equal(state_lock_check_io(fx->b, 0, 1000, false), 0);
	assert_int_equal(state_lock_check_io(fx->b, 100, 10, true), 0);
	assert_int_equal(state_lock_check_io(fx->b, 50, 0, true), 0);
	assert_int_equal(state_unlock(fx->a, 0, 100), 0);
	/* exclusive: the owner reads and writes, others do neither */
	assert_int_equal(lock1(fx->a, 100, 100, true), 0);
	assert_int_equal(state_lock_check_io(fx->a, 100, 100, true), 0);
	assert_int_equal(state_lock_check_io(fx->a, 150, 100, false), 0);
	assert_int_equal(state_lock_check_io(fx->b, 199, 1, false), -EAGAIN);
	assert_int_equal(state_lock_check_io(fx->b, 0, 101, true), -EAGAIN);
	assert_int_equal(state_lock_check_io(fx->b, 0, 100, true), 0);
	assert_int_equal(state_lock_check_io(fx->b, 200, 100, false), 0);
	assert_int_equal(state_lock_check_io(fx->b, 150, 0, false), 0);
	assert_int_equal(state_lock_check_io(fx->b, UINT64_MAX - 5, UINT64_MAX, false), 0);
	assert_int_equal(state_unlock(fx->a, 100, 100), 0);
	/* zero-length locks cover no byte */
	assert_int_equal(lock1(fx->a, 5, 0, true), 0);
	assert_int_equal(state_lock_check_io(fx->b, 0, 10, true), 0);
	/* a lock at the very end of the 64-bit range */
	assert_int_equal(lock1(fx->a, UINT64_MAX, 1, true), 0);
	assert_int_equal(state_lock_check_io(fx->b, UINT64_MAX - 1, UINT64_MAX, false), -EAGAIN);
}

struct wake_count {
	int n;
};

static void count_wake(void *arg)
{
	((struct wake_count *)arg)->n++;
}

static void test_waiter(void **state)
{
	struct fixture *fx = *state;
	struct wake_count wc = {0};
	struct state_lock_waiter w = {.wake = count_wake, .arg = &wc};
	struct state_lock_range r = {10, 10, true};
	assert_int_equal(lock1(fx->a, 0, 15, true), 0);
	assert_int_equal(lock1(fx->a, 100, 1, false), 0);
	assert_int_equal(state_lock_ranges(fx->b, &r, 1, &w, NULL), -EAGAIN);
	assert_int_equal(state_lock_ranges(fx->b, &r, 1, &w, NULL), -EAGAIN); /* registered once */
	assert_int_equal(wc.n, 0);
	assert_int_equal(state_unlock(fx->a, 100, 1), 0); /* any lock going away wakes */
	assert_int_equal(wc.n, 1);
	assert_int_equal(state_unlock(fx->a, 0, 14), -ENOENT);
	assert_int_equal(wc.n, 1);
	assert_int_equal(state_unlock(fx->a, 0, 15), 0);
	assert_int_equal(wc.n, 2);
	assert_int_equal(state_lock_ranges(fx->b, &r, 1, &w, NULL), 0); /* granted: unregistered */
	assert_int_equal(lock1(fx->a, 200, 1, true), 0);
	assert_int_equal(state_unlock(fx->a, 200, 1), 0);
	assert_int_equal(wc.n, 2);
	/* removal stops wakes; removing twice is harmless */
	assert_int_equal(state_lock_ranges(fx->a, &r, 1, &w, NULL), -EAGAIN);
	state_lock_waiter_remove(&w);
	state_lock_waiter_remove(&w);
	assert_int_equal(state_unlock(fx->b, 10, 10), 0);
	assert_int_equal(wc.n, 2);
	/* a close drops the open's locks and wakes */
	assert_int_equal(lock1(fx->b, 10, 10, true), 0);
	assert_int_equal(state_lock_ranges(fx->a, &r, 1, &w, NULL), -EAGAIN);
	assert_false(state_share_remove(fx->b));
	fx->b = NULL;
	assert_int_equal(wc.n, 3);
	assert_int_equal(state_lock_ranges(fx->a, &r, 1, &w, NULL), 0);
	/* a close of the waiter's own open unregisters it (defensively) */
	struct state_key k = {3, 33, 0};
	assert_int_equal(state_share_check_add(fx->db, &k, RW, SHARE_ALL, &fx->b), 0);
	assert_int_equal(state_lock_ranges(fx->b, &r, 1, &w, NULL), -EAGAIN);
	assert_false(state_share_remove(fx->b));
	fx->b = NULL;
	assert_int_equal(state_unlock(fx->a, 10, 10), 0);
	assert_int_equal(wc.n, 3);
	state_lock_waiter_remove(&w);
}

/* Locks belong to a stream (MS-FSA Stream.ByteRangeLockList): a named stream's locks neither
 * meet the file data's locks nor block its I/O. */
static void test_streams(void **state)
{
	struct fixture *fx = *state;
	struct state_key ks = {3, 33, 77};
	struct state_open *s1, *s2;
	assert_int_equal(state_share_check_add(fx->db, &ks, RW, SHARE_ALL, &s1), 0);
	assert_int_equal(state_share_check_add(fx->db, &ks, RW, SHARE_ALL, &s2), 0);
	assert_int_equal(lock1(fx->a, 0, 100, true), 0);
	assert_int_equal(lock1(s1, 0, 100, true), 0);
	assert_int_equal(state_lock_check_io(s2, 10, 10, false), -EAGAIN);
	assert_int_equal(state_lock_check_io(fx->b, 10, 10, false), -EAGAIN);
	assert_int_equal(lock1(s2, 50, 1, false), -EAGAIN);
	assert_int_equal(state_unlock(fx->a, 0, 100), 0);
	assert_int_equal(state_lock_check_io(fx->b, 10, 10, true), 0);
	assert_int_equal(state_lock_check_io(s2, 10, 10, true), -EAGAIN);
	assert_int_equal(state_unlock(s1, 0, 100), 0);
	assert_int_equal(lock1(s2, 50, 1, true), 0);
	assert_int_equal(lock1(fx->b, 50, 1, true), 0);
	assert_int_equal(state_share_remove(s1), 0);
	assert_int_equal(state_share_remove(s2), 0);
	assert_int_equal(lock1(fx->a, 50, 1, true), -EAGAIN);
}

static void test_lock_limit(void **state)
{
	struct fixture *fx = *state;
	for (uint64_t i = 0; i < STATE_LOCKS_PER_OPEN_MAX; i++)
		assert_int_equal(lock1(fx->a, i * 2, 1, false), 0);
	assert_int_equal(lock1(fx->a, 1, 1, false), -ENOLCK);
	assert_int_equal(lock1(fx->b, 1, 1, false), 0);
	assert_int_equal(state_lock_count(fx->a), STATE_LOCKS_PER_OPEN_MAX);
}

/* The sequence of smb2.lock.replay_smb3_specification, on the entries alone. */
static void test_lock_seq(void **state)
{
	struct fixture *fx = *state;
	struct state_open *h = fx->a;
	assert_false(state_lock_seq_replay(h, 0x001)); /* index 0: never verified */
	state_lock_seq_store(h, 0x001);
	assert_false(state_lock_seq_replay(h, 0x001));
	assert_false(state_lock_seq_replay(h, 0x011)); /* empty entry */
	state_lock_seq_store(h, 0x011);
	assert_true(state_lock_seq_replay(h, 0x011));
	assert_true(state_lock_seq_replay(h, 0x011));
	assert_false(state_lock_seq_replay(h, 0x012)); /* other number: entry invalidated */
	assert_false(state_lock_seq_replay(h, 0x011));
	assert_false(state_lock_seq_replay(h, 0x021));
	state_lock_seq_store(h, 0x411); /* index 65: ignored */
	assert_false(state_lock_seq_replay(h, 0x411));
	state_lock_seq_store(h, 0x402); /* index 64: the last one */
	assert_true(state_lock_seq_replay(h, 0x402));
	assert_false(state_lock_seq_replay(h, 0x403));
	/* entries are per open */
	state_lock_seq_store(h, 0x035);
	assert_false(state_lock_seq_replay(fx->b, 0x035));
	assert_true(state_lock_seq_replay(h, 0x035));
}

/* Threads take an exclusive lock on a slot (waiting through a waiter when it is held), check
 * that nobody else is inside, and leave; at the end every slot's counter adds up. */
#define NTHREADS 4
#define NSLOTS 4
#define ROUNDS 3000

struct shared {
	struct state_db *db;
	pthread_mutex_t m;
	pthread_cond_t cv;
	int inside[NSLOTS];
	long count[NSLOTS];
	int violations;
};

struct thr {
	struct shared *sh;
	struct state_open *h;
	unsigned seed;
	int woken;
};

static void thr_wake(void *arg)
{
	struct thr *t = arg;
	pthread_mutex_lock(&t->sh->m);
	t->woken = 1;
	pthread_cond_broadcast(&t->sh->cv);
	pthread_mutex_unlock(&t->sh->m);
}

static void *locker(void *arg)
{
	struct thr *t = arg;
	struct shared *sh = t->sh;
	struct state_lock_waiter w = {.wake = thr_wake, .arg = t};
	for (int i = 0; i < ROUNDS; i++) {
		int slot = (int)(rand_r(&t->seed) % NSLOTS);
		struct state_lock_range r = {(uint64_t)slot * 100, 100, true};
		for (;;) {
			pthread_mutex_lock(&sh->m);
			t->woken = 0;
			pthread_mutex_unlock(&sh->m);
			int rc = state_lock_ranges(t->h, &r, 1, &w, NULL);
			if (rc == 0)
				break;
			assert_int_equal(rc, -EAGAIN);
			pthread_mutex_lock(&sh->m);
			while (!t->woken)
				pthread_cond_wait(&sh->cv, &sh->m);
			pthread_mutex_unlock(&sh->m);
		}
		pthread_mutex_lock(&sh->m);
		if (sh->inside[slot]++)
			sh->violations++;
		sh->count[slot]++;
		pthread_mutex_unlock(&sh->m);
		/* the owner may write inside its own exclusive lock */
		if (state_lock_check_io(t->h, r.off + 5, 1, true) != 0)
			sh->violations++;
		pthread_mutex_lock(&sh->m);
		sh->inside[slot]--;
		pthread_mutex_unlock(&sh->m);
		if (state_unlock(t->h, r.off, r.len) != 0)
			sh->violations++;
	}
	state_lock_waiter_remove(&w);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct shared sh = {.db = state_db_new()};
	pthread_mutex_init(&sh.m, NULL);
	pthread_cond_init(&sh.cv, NULL);
	struct state_key k = {9, 9, 0};
	struct thr t[NTHREADS];
	pthread_t id[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		t[i] = (struct thr){.sh = &sh, .seed = (unsigned)i * 7919u + 1};
		assert_int_equal(state_share_check_add(sh.db, &k, RW, SHARE_ALL, &t[i].h), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&id[i], NULL, locker, &t[i]);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(id[i], NULL);
	long total = 0;
	for (int s = 0; s < NSLOTS; s++)
		total += sh.count[s];
	assert_int_equal(sh.violations, 0);
	assert_int_equal(total, (long)NTHREADS * ROUNDS);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(state_lock_count(t[i].h), 0);
		state_share_remove(t[i].h);
	}
	pthread_cond_destroy(&sh.cv);
	pthread_mutex_destroy(&sh.m);
	state_db_free(sh.db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_range_valid),
	    cmocka_unit_test_setup_teardown(test_invalid_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stacking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multi_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_waiter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_seq, setup, teardown),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
