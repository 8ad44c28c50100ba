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
	/* an open for READ_CONTROL only is a stat open for a lease holder: no break */
	struct state_oplock_req rc = {.access = 0x00020000};
	assert_int_equal(state_oplock_check_breaks(db, &k, &rc), 0);
	assert_int_equal(nsent, 0);
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

/* 3.3.5.9.8 upgrades (smb2.lease.upgrade3), the response's version, streams as files */
static void test_lease_upgrades(void **unused)
{
	(void)unused;
	nsent = 0;
	struct state_lease_db *db = state_lease_db_new(record, 35000);
	struct state_key k = {1, 50, 0};
	struct state_oplock_req r1 = lease_req(1, 1, R), r2 = lease_req(1, 2, R);
	struct state_oplock_grant g;
	struct state_oplock *e1, *e2, *e3, *e4, *e5;
	int o;
	assert_int_equal(state_oplock_add(db, &k, &r1, &o, &g, &e1), 0);
	assert_int_equal(state_oplock_add(db, &k, &r2, &o, &g, &e2), 0);
	assert_int_equal(g.lease_state, R);
	/* RHW cannot be held beside the other R lease as a whole: nothing changes */
	r1.lease_state = R | H | W;
	assert_int_equal(state_oplock_add(db, &k, &r1, &o, &g, &e3), 0);
	assert_int_equal(g.lease_state, R);
	assert_int_equal(g.epoch, 8);
	/* RH can: the lease becomes RH; a v1 context on the v2 lease gets the v2 answer */
	r1.lease_state = R | H;
	r1.version = 1;
	assert_int_equal(state_oplock_add(db, &k, &r1, &o, &g, &e4), 0);
	assert_int_equal(g.lease_state, R | H);
	assert_int_equal(g.epoch, 9);
	assert_int_equal(g.version, 2);
	assert_int_equal(nsent, 0);
	/* a stream is a file of its own: a new key there gets everything */
	struct state_key ks = {1, 50, 77};
	struct state_oplock_req r3 = lease_req(1, 3, R | W | H);
	assert_int_equal(state_oplock_check_breaks(db, &ks, &r3), 0);
	assert_int_equal(state_oplock_add(db, &ks, &r3, &o, &g, &e5), 0);
	assert_int_equal(g.lease_state, R | W | H);
	/* but a key of the file is refused on its stream */
	struct state_oplock *e6;
	assert_int_equal(state_oplock_add(db, &ks, &r1, &o, &g, &e6), -EINVAL);
	state_oplock_remove(e1);
	state_oplock_remove(e2);
	state_oplock_remove(e3);
	state_oplock_remove(e4);
	state_oplock_remove(e5);
	state_lease_db_free(db);
}

/* Opens arriving during a break: what they need more follows the acknowledgement, H first and
 * then R, in the client's epoch (smb2.lease.breaking3); a create that waited keeps waiting
 * while the lease is breaking. */
static void test_lease_owed_breaks(void **unused)
{
	(void)unused;
	nsent = 0;
	struct state_lease_db *db = state_lease_db_new(record, 35000);
	struct state_key k = {1, 60, 0};
	struct state_oplock_req r1 = lease_req(1, 1, R | W | H);
	struct state_oplock_grant g;
	struct state_oplock *e1;
	int o;
	assert_int_equal(state_oplock_add(db, &k, &r1, &o, &g, &e1), 0);
	struct state_oplock_req plain = {0}, trunc = {0};
	plain.access = trunc.access = STATE_FILE_READ_DATA;
	plain.share = trunc.share = STATE_SHARE_READ | STATE_SHARE_WRITE | STATE_SHARE_DELETE;
	trunc.overwrite = true;
	assert_int_equal(state_oplock_check_breaks(db, &k, &plain), -EAGAIN);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].new_state, R | H);
	uint16_t epoch = sent[0].epoch;
	/* the overwrite waits too and sends nothing now */
	assert_int_equal(state_oplock_check_breaks(db, &k, &trunc), -EAGAIN);
	assert_int_equal(nsent, 1);
	uint32_t granted;
	assert_int_equal(state_lease_ack(db, r1.client_guid, r1.lease_key, R | H, &granted), 0);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[1].cur, R | H);
	assert_int_equal(sent[1].new_state, R);
	assert_true(sent[1].ack_required);
	assert_int_equal(sent[1].epoch, epoch);
	plain.retry = true;
	assert_int_equal(state_oplock_check_breaks(db, &k, &plain), -EAGAIN);
	assert_int_equal(state_lease_ack(db, r1.client_guid, r1.lease_key, R, &granted), 0);
	assert_int_equal(nsent, 3);
	assert_int_equal(sent[2].new_state, 0);
	assert_false(sent[2].ack_required);
	assert_int_equal(sent[2].epoch, epoch);
	assert_int_equal(state_oplock_check_breaks(db, &k, &plain), 0);
	assert_int_equal(state_oplock_check_breaks(db, &k, &trunc), 0);
	assert_int_equal(nsent, 3);
	state_oplock_remove(e1);
	state_lease_db_free(db);
}

/* Writes and locks end RH leases of other keys; a rename ends their H and waits; a break not
 * acknowledged in time loses the lease. */
/* An open deleting its file retires its entry: a new file that gets the freed inode (the same
 * key) before the entry goes meets no break, no sharing conflict and gets a batch oplock; the
 * file's waiters are woken only when the entry goes. */
static void test_retired_entry(void **unused)
{
	(void)unused;
	nsent = 0;
	woken = 0;
	struct state_lease_db *db = state_lease_db_new(record, 35000);
	struct state_key k = {4, 11, 0};
	struct state_oplock_req r = {0};
	r.level = STATE_OPLOCK_BATCH;
	r.access = STATE_FILE_READ_DATA;
	r.share = 0; /* no sharing: a second open would conflict */
	struct state_oplock_grant g;
	struct state_oplock *e1, *e2;
	int o1, o2;
	assert_int_equal(state_oplock_add(db, &k, &r, &o1, &g, &e1), 0);
	assert_int_equal(g.level, STATE_OPLOCK_BATCH);
	assert_int_equal(state_oplock_add_waiter(db, &k, wake, NULL), 0);
	/* before retiring, the same request must wait for a break */
	assert_int_equal(state_oplock_check_breaks(db, &k, &r), -EAGAIN);
	assert_int_equal(nsent, 1);
	state_oplock_retire(e1);
	assert_int_equal(state_oplock_check_breaks(db, &k, &r), 0);
	assert_int_equal(nsent, 1);
	assert_int_equal(state_oplock_add(db, &k, &r, &o2, &g, &e2), 0);
	assert_int_equal(g.level, STATE_OPLOCK_BATCH);
	assert_int_equal(woken, 0);
	state_oplock_remove(e1);
	assert_true(woken > 0);
	state_oplock_remove(e2);
	state_oplock_retire(NULL);
	state_oplock_del_waiter(db, &k, NULL);
	state_lease_db_free(db);
}

static void test_lease_write_rename_timeout(void **unused)
{
	(void)unused;
	nsent = 0;
	struct state_lease_db *db = state_lease_db_new(record, 0); /* breaks expire at once */
	struct state_key k = {1, 70, 0};
	struct state_oplock_req r1 = lease_req(1, 1, R | H), r2 = lease_req(2, 2, R | H);
	struct state_oplock_grant g;
	struct state_oplock *e1, *e2;
	int o1, o2;
	assert_int_equal(state_oplock_add(db, &k, &r1, &o1, &g, &e1), 0);
	assert_int_equal(state_oplock_add(db, &k, &r2, &o2, &g, &e2), 0);
	assert_int_equal(g.lease_state, R | H);
	assert_int_equal(state_oplock_break_handles(e1), -EAGAIN);
	assert_int_equal(nsent, 1);
	assert_ptr_equal(sent_owner[0], &o2);
	assert_int_equal(sent[0].new_state, R);
	assert_true(sent[0].ack_required);
	/* the timeout (0 ms) has passed: the lease is lost altogether, nothing waits */
	assert_int_equal(state_oplock_break_handles(e1), 0);
	assert_int_equal(nsent, 1);
	uint32_t granted;
	assert_int_equal(state_lease_ack(db, r2.client_guid, r2.lease_key, R, &granted), -EPROTO);
	/* a write through e2 ends e1's RH, asking for an acknowledgement */
	state_oplock_break_on_write(e2);
	assert_int_equal(nsent, 2);
	assert_ptr_equal(sent_owner[1], &o1);
	assert_int_equal(sent[1].cur, R | H);
	assert_int_equal(sent[1].new_state, 0);
	assert_true(sent[1].ack_required);
	struct state_oplock_req probe = lease_req(1, 1, 0);
	assert_int_equal(state_oplock_check_breaks(db, &k, &probe), 0);
	struct state_oplock *e3;
	assert_int_equal(state_oplock_add(db, &k, &probe, &o1, &g, &e3), 0);
	assert_int_equal(g.lease_state, 0);
	assert_false(g.breaking);
	state_oplock_remove(e1);
	state_oplock_remove(e2);
	state_oplock_remove(e3);
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
	    cmocka_unit_test(test_lease_upgrades),
	    cmocka_unit_test(test_lease_owed_breaks),
	    cmocka_unit_test(test_lease_write_rename_timeout),
    cmocka_unit_test(test_retired_entry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
