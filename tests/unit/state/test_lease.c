/* Oplock and lease rules (src/state/lease.c): the pure grant/break decisions and the table's
 * behaviour with a recording send callback. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "state/lease.h"

#define R STATE_LEASE_R
#define H STATE_LEASE_H
#define W STATE_LEASE_W

static void test_break_target(void **unused)
{
	(void)unused;
	/* a second open takes write caching; a sharing violation takes handle caching */
	assert_int_equal(state_break_target(R | W | H, false, false, false), R | H);
	assert_int_equal(state_break_target(R | W | H, true, false, false), R | W);
	assert_int_equal(state_break_target(R | H, false, false, false), R | H);
	assert_int_equal(state_break_target(R | H, false, true, false), 0);
	assert_int_equal(state_break_target(R, false, true, false), 0);
	/* oplocks: batch and exclusive go to level II, or none on overwrite */
	assert_int_equal(state_break_target(state_oplock_to_lease(STATE_OPLOCK_BATCH), false,
					    false, true),
			 R);
	assert_int_equal(state_break_target(state_oplock_to_lease(STATE_OPLOCK_BATCH), true,
					    false, true),
			 R);
	/* exclusive meeting a sharing violation keeps its oplock (smb2.oplock.exclusive1) */
	assert_int_equal(state_break_target(R | W, true, false, true), R | W);
	assert_int_equal(state_break_target(R | W, false, true, true), 0);
}

static void test_needs_ack(void **unused)
{
	(void)unused;
	assert_true(state_break_needs_ack(R | W | H, R | H));
	assert_true(state_break_needs_ack(R | H, R));
	assert_false(state_break_needs_ack(R, 0));
}

static void test_grants(void **unused)
{
	(void)unused;
	assert_int_equal(state_lease_grant(R | W | H, false, false), R | W | H);
	assert_int_equal(state_lease_grant(R | W | H, true, false), R | H);
	assert_int_equal(state_lease_grant(H, false, false), 0);
	assert_int_equal(state_lease_grant(W | H, false, false), 0);
	assert_int_equal(state_lease_grant(R | H, false, true), 0);
	assert_int_equal(state_oplock_grant(STATE_OPLOCK_BATCH, false, false, false),
			 STATE_OPLOCK_BATCH);
	assert_int_equal(state_oplock_grant(STATE_OPLOCK_BATCH, true, false, false),
			 STATE_OPLOCK_II);
	assert_int_equal(state_oplock_grant(STATE_OPLOCK_II, true, true, false),
			 STATE_OPLOCK_NONE);
	assert_int_equal(state_oplock_grant(STATE_OPLOCK_EXCLUSIVE, false, false, true),
			 STATE_OPLOCK_NONE);
}

static struct state_break sent[8];
static void *sent_owner[8];
static int nsent;

static void record(void *owner, const struct state_break *b)
{
	if (nsent < 8) {
		sent_owner[nsent] = owner;
		sent[nsent] = *b;
	}
	nsent++;
}

static int woken;
static void wake(void *arg)
{
	(void)arg;
	woken++;
}

static struct state_oplock_req lease_req(uint8_t client, uint8_t key, uint32_t state)
{
	struct state_oplock_req r = {0};
	memset(r.client_guid, client, 16);
	r.is_lease = true;
	memset(r.lease_key, key, 16);
	r.lease_state = state;
	r.version = 2;
	r.epoch = 7;
	r.access = STATE_FILE_READ_DATA | STATE_FILE_WRITE_DATA;
	r.share = STATE_SHARE_READ | STATE_SHARE_WRITE | STATE_SHARE_DELETE;
	return r;
}

static void test_lease_break_and_ack(void **unused)
{
	(void)unused;
	nsent = woken = 0;
	struct state_lease_db *db = state_lease_db_new(record, 35000);
	struct state_key k = {1, 42, 0};
	struct state_oplock_req r1 = lease_req(1, 1, R | W | H), r2 = lease_req(2, 2, R | W | H);
	struct state_oplock_grant g;
	struct state_oplock *e1, *e2;
	int owner1, owner2;
	assert_int_equal(state_oplock_check_breaks(db, &k, &r1), 0);
	assert_int_equal(state_oplock_add(db, &k, &r1, &owner1, &g, &e1), 0);
	assert_int_equal(g.level, STATE_OPLOCK_LEASE);
	assert_int_equal(g.lease_state, R | W | H);
	assert_int_equal(g.epoch, 8);
	/* another client: RWH breaks to RH and the create must wait */
	assert_int_equal(state_oplock_check_breaks(db, &k, &r2), -EAGAIN);
	assert_int_equal(nsent, 1);
	assert_ptr_equal(sent_owner[0], &owner1);
	assert_true(sent[0].lease && sent[0].ack_required);
	assert_int_equal(sent[0].cur, R | W | H);
	assert_int_equal(sent[0].new_state, R | H);
	assert_int_equal(sent[0].epoch, 9);
	assert_int_equal(state_oplock_add_waiter(db, &k, wake, &owner2), 0);
	/* still breaking: no second notification */
	assert_int_equal(state_oplock_check_breaks(db, &k, &r2), -EAGAIN);
	assert_int_equal(nsent, 1);
	uint32_t granted = 0;
	/* acknowledging more than the break allows is refused */
	assert_int_equal(state_lease_ack(db, r1.client_guid, r1.lease_key, R | W, &granted),
			 -EINVAL);
	assert_int_equal(state_lease_ack(db, r1.client_guid, r1.lease_key, R | H, &granted), 0);
	assert_int_equal(granted, R | H);
	assert_int_equal(woken, 1);
	assert_int_equal(state_lease_ack(db, r1.client_guid, r1.lease_key, R, &granted),
			 -EPROTO);
	assert_int_equal(state_oplock_check_breaks(db, &k, &r2), 0);
	assert_int_equal(state_oplock_add(db, &k, &r2, &owner2, &g, &e2), 0);
	assert_int_equal(g.lease_state, R | H);
	state_oplock_del_waiter(db, &k, &owner2);
	/* the same key on another file is refused */
	struct state_key k2 = {1, 43, 0};
	struct state_oplock *e3;
	assert_int_equal(state_oplock_add(db, &k2, &r1, &owner1, &g, &e3), -EINVAL);
	state_oplock_remove(e1);
	state_oplock_remove(e2);
	state_lease_db_free(db);
}

static void test_oplock_break_timeout_and_write(void **unused)
{
	(void)unused;
	nsent = 0;
	struct state_lease_db *db = state_lease_db_new(record, 0); /* breaks expire at once */
	struct state_key k = {3, 9, 0};
	struct state_oplock_req r = {0};
	r.level = STATE_OPLOCK_BATCH;
	r.access = STATE_FILE_READ_DATA;
	r.share = STATE_SHARE_READ | STATE_SHARE_WRITE;
	struct state_oplock_grant g;
	struct state_oplock *e1, *e2;
	int o1, o2;
	assert_int_equal(state_oplock_add(db, &k, &r, &o1, &g, &e1), 0);
	assert_int_equal(g.level, STATE_OPLOCK_BATCH);
	/* a stat open breaks nothing (attributes and SYNCHRONIZE only) */
	struct state_oplock_req st = {.access = 0x80 | 0x100 | 0x00100000};
	assert_int_equal(state_oplock_check_breaks(db, &k, &st), 0);
	assert_int_equal(nsent, 0);
	/* nor does an open of another stream of the file */
	struct state_key ks = {3, 9, 77};
	assert_int_equal(state_oplock_check_breaks(db, &ks, &r), 0);
	assert_int_equal(nsent, 0);
	/* READ_CONTROL is not a stat open: it breaks the batch oplock */
	struct state_oplock_req rc = {.access = 0x00020000,
				      .share = STATE_SHARE_READ | STATE_SHARE_WRITE};
	assert_int_equal(state_oplock_check_breaks(db, &k, &rc), -EAGAIN);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].oplock_level, STATE_OPLOCK_II);
	/* the timeout (0 ms) has passed: the next check completes the break */
	assert_int_equal(state_oplock_check_breaks(db, &k, &r), 0);
	assert_int_equal(state_oplock_add(db, &k, &r, &o2, &g, &e2), 0);
	assert_int_equal(g.level, STATE_OPLOCK_II);
	uint8_t lvl;
	assert_int_equal(state_oplock_ack(e1, STATE_OPLOCK_II, &lvl), -EPROTO);
	/* a write through e2 breaks both level II oplocks to none, e2's own included, without
	   acknowledgement; a second write finds nothing left to break */
	state_oplock_break_on_write(e2);
	assert_int_equal(nsent, 3);
	assert_true((sent_owner[1] == &o1 && sent_owner[2] == &o2) ||
		    (sent_owner[1] == &o2 && sent_owner[2] == &o1));
	for (int i = 1; i < 3; i++) {
		assert_int_equal(sent[i].oplock_level, STATE_OPLOCK_NONE);
		assert_false(sent[i].ack_required);
	}
	state_oplock_break_on_write(e2);
	assert_int_equal(nsent, 3);
	state_oplock_remove(e1);
	state_oplock_remove(e2);
	state_lease_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_break_target),
	    cmocka_unit_test(test_needs_ack),
	    cmocka_unit_test(test_grants),
	    cmocka_unit_test(test_lease_break_and_ack),
	    cmocka_unit_test(test_oplock_break_timeout_and_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
