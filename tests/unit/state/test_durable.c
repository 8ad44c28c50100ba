/* The durable-open table (src/state/durable.c): add, detach, take (reconnect) and give back,
 * expiry on the table's thread, doom (sticky), lookups by CreateGuid, pending creates, and shutdown. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "state/durable.h"

/* the expire callback records what it was given */
static pthread_mutex_t exp_lock = PTHREAD_MUTEX_INITIALIZER;
static void *expired[16];
static int nexpired;

static void on_expire(void *owner)
{
	pthread_mutex_lock(&exp_lock);
	if (nexpired < 16)
		expired[nexpired] = owner;
	nexpired++;
	pthread_mutex_unlock(&exp_lock);
}

static int expired_count(void)
{
	pthread_mutex_lock(&exp_lock);
	int n = nexpired;
	pthread_mutex_unlock(&exp_lock);
	return n;
}

static void reset_expired(void)
{
	pthread_mutex_lock(&exp_lock);
	nexpired = 0;
	memset(expired, 0, sizeof(expired));
	pthread_mutex_unlock(&exp_lock);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* waits up to 2 s for n expiries */
static int wait_expired(int n)
{
	for (int i = 0; i < 200 && expired_count() < n; i++)
		sleep_ms(10);
	return expired_count();
}

static struct state_durable_rec rec_of(uint64_t pid, int version, uint8_t guid_byte,
				       uint32_t timeout_ms)
{
	struct state_durable_rec r = {0};
	r.persistent_id = pid;
	r.version = (uint8_t)version;
	r.timeout_ms = timeout_ms;
	memset(r.client_guid, 0xC1, 16);
	if (version == 2)
		memset(r.create_guid, guid_byte, 16);
	strcpy(r.share, "test");
	r.session_id = 7;
	return r;
}

static void test_attach_detach_take(void **unused)
{
	(void)unused;
	reset_expired();
	struct state_durable_db *db = state_durable_db_new(on_expire);
	assert_non_null(db);
	int owner;
	struct state_durable_rec r = rec_of(10, 1, 0, 60000), got;
	struct state_durable *h, *t;
	void *o = NULL;
	assert_int_equal(state_durable_add(db, &r, &owner, &h), 0);
	assert_int_equal(state_durable_count(db), 1);
	/* attached: a reconnect finds it busy, with the session holding it */
	assert_int_equal(state_durable_take(db, 10, 9, &got, &o, &t), -EBUSY);
	assert_int_equal(got.session_id, 7);
	assert_int_equal(state_durable_take(db, 11, 9, &got, &o, &t), -ENOENT);
	state_durable_detach(h);
	assert_int_equal(state_durable_take(db, 10, 9, &got, &o, &t), 0);
	assert_ptr_equal(t, h);
	assert_ptr_equal(o, &owner);
	assert_int_equal(got.session_id, 9);
	assert_string_equal(got.share, "test");
	/* taken: a second reconnect cannot have it */
	assert_int_equal(state_durable_take(db, 10, 8, &got, &o, &t), -EBUSY);
	/* given back after failed checks: it can be taken again */
	state_durable_untake(h);
	assert_int_equal(state_durable_take(db, 10, 8, &got, &o, &t), 0);
	state_durable_remove(h);
	assert_int_equal(state_durable_count(db), 0);
	assert_int_equal(state_durable_take(db, 10, 8, &got, &o, &t), -ENOENT);
	state_durable_db_free(db);
	assert_int_equal(expired_count(), 0);
}

static void test_expiry(void **unused)
{
	(void)unused;
	reset_expired();
	struct state_durable_db *db = state_durable_db_new(on_expire);
	int a, b;
	struct state_durable_rec ra = rec_of(1, 1, 0, 50), rb = rec_of(2, 1, 0, 60000), got;
	struct state_durable *ha, *hb, *t;
	void *o;
	assert_int_equal(state_durable_add(db, &ra, &a, &ha), 0);
	assert_int_equal(state_durable_add(db, &rb, &b, &hb), 0);
	/* attached records never expire, whatever their timeout */
	sleep_ms(120);
	assert_int_equal(expired_count(), 0);
	state_durable_detach(ha);
	state_durable_detach(hb);
	assert_int_equal(wait_expired(1), 1);
	sleep_ms(50);
	assert_int_equal(expired_count(), 1);
	assert_ptr_equal(expired[0], &a);
	assert_int_equal(state_durable_count(db), 1);
	assert_int_equal(state_durable_take(db, 1, 9, &got, &o, &t), -ENOENT);
	/* doom: the other one goes at once */
	state_durable_doom(db, 2);
	assert_int_equal(wait_expired(2), 2);
	assert_ptr_equal(expired[1], &b);
	assert_int_equal(state_durable_count(db), 0);
	state_durable_db_free(db);
}

static void test_doom_is_sticky(void **unused)
{
	(void)unused;
	reset_expired();
	struct state_durable_db *db = state_durable_db_new(on_expire);
	int a, b;
	struct state_durable_rec ra = rec_of(5, 1, 0, 60000), rb = rec_of(6, 1, 0, 60000), got;
	struct state_durable *ha, *hb, *t;
	void *o;
	assert_int_equal(state_durable_add(db, &ra, &a, &ha), 0);
	assert_int_equal(state_durable_add(db, &rb, &b, &hb), 0);
	/* doomed while its owner is still detaching: nothing happens while it is attached... */
	state_durable_doom(db, 5);
	sleep_ms(50);
	assert_int_equal(expired_count(), 0);
	/* ...and it goes as soon as it is disconnected, long before its timeout */
	state_durable_detach(ha);
	assert_int_equal(wait_expired(1), 1);
	assert_ptr_equal(expired[0], &a);
	assert_int_equal(state_durable_take(db, 5, 9, &got, &o, &t), -ENOENT);
	/* doomed while a reconnect holds it: kept until given back, then gone */
	state_durable_detach(hb);
	assert_int_equal(state_durable_take(db, 6, 9, &got, &o, &t), 0);
	state_durable_doom(db, 6);
	sleep_ms(50);
	assert_int_equal(expired_count(), 1);
	state_durable_untake(hb);
	assert_int_equal(wait_expired(2), 2);
	assert_ptr_equal(expired[1], &b);
	state_durable_db_free(db);
}

static void test_guid_lookup(void **unused)
{
	(void)unused;
	reset_expired();
	struct state_durable_db *db = state_durable_db_new(on_expire);
	int a, b;
	struct state_durable_rec r1 = rec_of(21, 2, 0xAA, 60000), r2 = rec_of(22, 2, 0xAA, 60000);
	struct state_durable *h1, *h2;
	uint8_t client[16], guid[16], other[16];
	memset(client, 0xC1, 16);
	memset(guid, 0xAA, 16);
	memset(other, 0xBB, 16);
	assert_int_equal(state_durable_add(db, &r1, &a, &h1), 0);
	/* one CreateGuid per client */
	assert_int_equal(state_durable_add(db, &r2, &b, &h2), -EEXIST);
	memset(r2.client_guid, 0xC2, 16);
	assert_int_equal(state_durable_add(db, &r2, &b, &h2), 0);
	uint64_t pid = 0;
	bool attached = false;
	assert_true(state_durable_find_guid(db, client, guid, &pid, &attached));
	assert_int_equal(pid, 21);
	assert_true(attached);
	assert_false(state_durable_find_guid(db, client, other, &pid, &attached));
	state_durable_detach(h1);
	assert_true(state_durable_find_guid(db, client, guid, &pid, &attached));
	assert_false(attached);
	state_durable_remove(h1);
	assert_false(state_durable_find_guid(db, client, guid, &pid, &attached));
	/* a replay-only record (a v2 request that was not granted) is never reconnected */
	struct state_durable_rec r3 = rec_of(23, 2, 0xCC, 60000), got;
	r3.replay_only = true;
	struct state_durable *h3, *t;
	void *o;
	assert_int_equal(state_durable_add(db, &r3, &a, &h3), 0);
	assert_int_equal(state_durable_take(db, 23, 9, &got, &o, &t), -ENOENT);
	state_durable_remove(h3);
	state_durable_remove(h2);
	state_durable_db_free(db);
}

static void test_pending(void **unused)
{
	(void)unused;
	struct state_durable_db *db = state_durable_db_new(on_expire);
	uint8_t c[16], g[16];
	memset(c, 1, 16);
	memset(g, 2, 16);
	assert_false(state_durable_pending(db, c, g));
	assert_int_equal(state_durable_pending_add(db, c, g), 0);
	assert_int_equal(state_durable_pending_add(db, c, g), -EEXIST);
	assert_true(state_durable_pending(db, c, g));
	state_durable_pending_remove(db, c, g);
	assert_false(state_durable_pending(db, c, g));
	state_durable_pending_remove(db, c, g);
	/* left pending at shutdown: freed with the table */
	assert_int_equal(state_durable_pending_add(db, c, g), 0);
	state_durable_db_free(db);
}

static void test_shutdown_expires_disconnected(void **unused)
{
	(void)unused;
	reset_expired();
	struct state_durable_db *db = state_durable_db_new(on_expire);
	int a, b;
	struct state_durable_rec ra = rec_of(31, 1, 0, 60000), rb = rec_of(32, 1, 0, 60000);
	struct state_durable *ha, *hb;
	assert_int_equal(state_durable_add(db, &ra, &a, &ha), 0);
	assert_int_equal(state_durable_add(db, &rb, &b, &hb), 0);
	state_durable_detach(ha);
	state_durable_remove(hb);
	state_durable_db_free(db);
	assert_int_equal(expired_count(), 1);
	assert_ptr_equal(expired[0], &a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attach_detach_take),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_doom_is_sticky),
	    cmocka_unit_test(test_guid_lookup),
	    cmocka_unit_test(test_pending),
	    cmocka_unit_test(test_shutdown_expires_disconnected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
