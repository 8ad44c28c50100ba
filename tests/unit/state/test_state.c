/* The share-mode table: the MS-FSA 2.1.5.1.2 matrix, delete pending/on close, and concurrent
 * use from several threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "state/state.h"

#define R STATE_FILE_READ_DATA
#define W STATE_FILE_WRITE_DATA
#define A STATE_FILE_APPEND_DATA
#define X STATE_FILE_EXECUTE
#define D STATE_DELETE
#define ATTR 0x00000080u /* FILE_READ_ATTRIBUTES */
#define SR STATE_SHARE_READ
#define SW STATE_SHARE_WRITE
#define SD STATE_SHARE_DELETE

/* Independent statement of the rule: b's access must be allowed by a's share mode and a's
 * access by b's, unless either open has no data/delete access. */
static bool allowed(uint32_t acc, uint32_t share)
{
	if ((acc & (R | X)) && !(share & SR))
		return false;
	if ((acc & (W | A)) && !(share & SW))
		return false;
	return !((acc & D) && !(share & SD));
}

static void test_matrix(void **state)
{
	(void)state;
	const uint32_t accs[] = {ATTR, R, W, A, X, D, R | W, R | D, W | D, R | W | D, ATTR | D};
	size_t na = sizeof(accs) / sizeof(accs[0]);
	for (size_t i = 0; i < na; i++)
		for (uint32_t s1 = 0; s1 < 8; s1++)
			for (size_t j = 0; j < na; j++)
				for (uint32_t s2 = 0; s2 < 8; s2++) {
					bool ignore = accs[i] == ATTR || accs[j] == ATTR;
					bool want = ignore ||
						    (allowed(accs[i], s2) && allowed(accs[j], s1));
					bool got = state_share_compatible(accs[i], s1, accs[j], s2);
					if (got != want)
						fail_msg("0x%x/%u vs 0x%x/%u", accs[i], s1, accs[j],
							 s2);
					/* symmetric */
					assert_int_equal(
					    got, state_share_compatible(accs[j], s2, accs[i], s1));
				}
	/* a few spelled out */
	assert_true(state_share_compatible(R, SR, R, SR));
	assert_false(state_share_compatible(R, SR | SW, R, 0));
	assert_false(state_share_compatible(R, SR, W, SR | SW));
	assert_true(state_share_compatible(ATTR, 0, R | W | D, 0));
	assert_false(state_share_compatible(D, SR | SW, R, SR | SW));
}

static void test_add_remove(void **state)
{
	(void)state;
	struct state_db *db = state_db_new();
	struct state_key k = {1, 100, 0}, k2 = {2, 100, 0};
	struct state_open *a, *b, *c;
	assert_int_equal(state_share_check_add(db, &k, R | W, SR, &a), 0);
	assert_int_equal(state_share_check_add(db, &k, R, SR | SW, &b), 0);
	assert_int_equal(state_share_check_add(db, &k, W, SR | SW, &c), -EBUSY);
	assert_int_equal(state_share_check_add(db, &k2, W, 0, &c), 0); /* another file */
	assert_int_equal(state_open_count(a), 2);
	assert_false(state_share_remove(c));
	assert_false(state_share_remove(a));
	assert_int_equal(state_share_check_add(db, &k, W, SR | SW, &c), 0);
	assert_false(state_share_remove(b));
	assert_false(state_share_remove(c));
	state_db_free(db);
}

static void test_delete(void **state)
{
	(void)state;
	struct state_db *db = state_db_new();
	struct state_key k = {1, 7, 0};
	struct state_open *a, *b, *c;
	/* disposition: pending at once, cleared again, then deleting at the last close */
	assert_int_equal(state_share_check_add(db, &k, D, SR | SW | SD, &a), 0);
	assert_int_equal(state_share_check_add(db, &k, R, SR | SW | SD, &b), 0);
	state_set_delete_pending(a, true);
	assert_true(state_delete_pending(b));
	assert_int_equal(state_share_check_add(db, &k, R, SR | SW | SD, &c), -EIDRM);
	state_set_delete_pending(a, false);
	assert_int_equal(state_share_check_add(db, &k, R, SR | SW | SD, &c), 0);
	assert_false(state_share_remove(c));
	state_set_delete_pending(b, true);
	assert_false(state_share_remove(a));
	assert_true(state_share_remove(b));
	/* delete on close: pending only once that open is closed */
	assert_int_equal(state_share_check_add(db, &k, D, SR | SW | SD, &a), 0);
	state_open_set_delete_on_close(a, true);
	assert_int_equal(state_share_check_add(db, &k, R, SR | SW | SD, &b), 0);
	assert_false(state_delete_pending(b));
	assert_false(state_share_remove(a));
	assert_true(state_delete_pending(b));
	assert_int_equal(state_share_check_add(db, &k, R, SR | SW | SD, &c), -EIDRM);
	assert_true(state_share_remove(b));
	/* the record is gone: the name can be used again */
	assert_int_equal(state_share_check_add(db, &k, R, 0, &a), 0);
	assert_false(state_share_remove(a));
	state_db_free(db);
}

static void *worker(void *arg)
{
	struct state_db *db = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self();
	for (int i = 0; i < 20000; i++) {
		struct state_key k = {0, (uint64_t)(rand_r(&seed) % 16), 0};
		struct state_open *h;
		uint32_t acc = (rand_r(&seed) & 1) ? R : W;
		if (state_share_check_add(db, &k, acc, SR | SW, &h) == 0)
			state_share_remove(h);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct state_db *db = state_db_new();
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, db);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	state_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matrix),
	    cmocka_unit_test(test_add_remove),
	    cmocka_unit_test(test_delete),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
