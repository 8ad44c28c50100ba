/* Change notification watches: FILE_NOTIFY_INFORMATION encoding, real inotify events for
 * creates, removes, renames within and across directories, WATCH_TREE, filters, the overflow and
 * delete-pending answers, waiters being woken and each given the changes of its own moment, and
 * the settling of a create (its own metadata writes absorbed, the client's next one not). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/utf16.h"
#include "state/notify.h"

struct fx {
	char dir[64];
	int dirfd;
	struct state_notify *sn;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/shoal-notify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dirfd >= 0);
	f->sn = state_notify_new();
	assert_non_null(f->sn);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	state_notify_free(f->sn);
	close(f->dirfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* One decoded change. */
struct change {
	uint32_t action;
	char name[256];
};

static int decode(const uint8_t *buf, long len, struct change *out, int max)
{
	int n = 0;
	size_t off = 0;
	for (;;) {
		struct rd r = rd_make(buf + off, (size_t)len - off);
		uint32_t next = rd_u32(&r), action = rd_u32(&r), nlen = rd_u32(&r);
		const uint8_t *name = rd_ptr(&r, nlen);
		assert_true(rd_ok(&r));
		assert_true(n < max);
		char *s = NULL;
		assert_int_equal(utf16le_to_utf8(name, nlen, &s), 0);
		out[n].action = action;
		snprintf(out[n].name, sizeof(out[n].name), "%s", s);
		free(s);
		n++;
		if (!next)
			break;
		assert_int_equal(next % 4, 0);
		off += next;
	}
	return n;
}

/* Waits up to 2 s for changes and decodes them. */
static int wait_changes(struct state_watch *w, struct change *out, int max, long *rc_out)
{
	uint8_t buf[4096];
	for (int i = 0; i < 200; i++) {
		usleep(10000);
		long rc = state_watch_take(w, NULL, buf, sizeof(buf));
		if (rc != 0) {
			*rc_out = rc;
			return rc > 0 ? decode(buf, rc, out, max) : 0;
		}
	}
	*rc_out = 0;
	return 0;
}

static void path(struct fx *f, char *buf, const char *name)
{
	snprintf(buf, 256, "%s/%s", f->dir, name);
}

static void touch(struct fx *f, const char *name)
{
	char p[256];
	path(f, p, name);
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void test_encode(void **state)
{
	(void)state;
	uint32_t actions[] = {NOTIFY_ACTION_ADDED, NOTIFY_ACTION_RENAMED_NEW};
	const char *names[] = {"a", "dir/b\xc3\xa9"};
	uint8_t buf[128];
	long n = state_notify_encode(actions, names, 2, buf, sizeof(buf));
	/* entry 1: 12 + 2 bytes, padded to 16; entry 2: 12 + 12 bytes */
	assert_int_equal(n, 16 + 24);
	struct change c[4];
	assert_int_equal(decode(buf, n, c, 4), 2);
	assert_string_equal(c[0].name, "a");
	assert_string_equal(c[1].name, "dir\\b\xc3\xa9");
	assert_int_equal(c[1].action, NOTIFY_ACTION_RENAMED_NEW);
	/* too small a buffer at every size is an overflow, never a partial list */
	for (size_t max = 0; max < (size_t)n; max++)
		assert_int_equal(state_notify_encode(actions, names, 2, buf, max), -EOVERFLOW);
}

static void test_create_remove(void **state)
{
	struct fx *f = *state;
	struct state_watch *w;
	assert_int_equal(state_watch_new(f->sn, f->dirfd, false, NOTIFY_FILE_NAME, &w), 0);
	touch(f, "one");
	char p[256];
	path(f, p, "one");
	assert_int_equal(unlink(p), 0);
	struct change c[8];
	long rc;
	int n = wait_changes(w, c, 8, &rc);
	if (n < 2) /* the removal may come in a second read */
		n += wait_changes(w, c + n, 8 - n, &rc);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].action, NOTIFY_ACTION_ADDED);
	assert_string_equal(c[0].name, "one");
	assert_int_equal(c[1].action, NOTIFY_ACTION_REMOVED);
	state_watch_free(w);
}

static void test_filter_and_rename(void **state)
{
	struct fx *f = *state;
	char p[256], q[256];
	path(f, p, "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	struct state_watch *w;
	/* directory names only: files are filtered out */
	assert_int_equal(state_watch_new(f->sn, f->dirfd, true, NOTIFY_DIR_NAME, &w), 0);
	touch(f, "file");
	path(f, p, "d1");
	assert_int_equal(mkdir(p, 0755), 0);
	path(f, q, "d2");
	assert_int_equal(rename(p, q), 0);
	struct change c[8];
	long rc;
	int n = wait_changes(w, c, 8, &rc);
	while (n < 3 && rc > 0) {
		long rc2;
		int k = wait_changes(w, c + n, 8 - n, &rc2);
		if (!k)
			break;
		n += k;
	}
	assert_int_equal(n, 3);
	assert_int_equal(c[0].action, NOTIFY_ACTION_ADDED);
	assert_string_equal(c[0].name, "d1");
	assert_int_equal(c[1].action, NOTIFY_ACTION_RENAMED_OLD);
	assert_string_equal(c[1].name, "d1");
	assert_int_equal(c[2].action, NOTIFY_ACTION_RENAMED_NEW);
	assert_string_equal(c[2].name, "d2");
	/* WATCH_TREE: a directory made below the root, and one moved across directories */
	path(f, p, "sub/deep");
	assert_int_equal(mkdir(p, 0755), 0);
	path(f, q, "moved");
	assert_int_equal(rename(p, q), 0);
	n = wait_changes(w, c, 8, &rc);
	while (n < 3 && rc > 0) {
		long rc2;
		int k = wait_changes(w, c + n, 8 - n, &rc2);
		if (!k)
			break;
		n += k;
	}
	assert_int_equal(n, 3);
	assert_int_equal(c[0].action, NOTIFY_ACTION_ADDED);
	assert_string_equal(c[0].name, "sub\\deep");
	assert_int_equal(c[1].action, NOTIFY_ACTION_REMOVED);
	assert_string_equal(c[1].name, "sub\\deep");
	assert_int_equal(c[2].action, NOTIFY_ACTION_ADDED);
	assert_string_equal(c[2].name, "moved");
	state_watch_free(w);
}

static void test_overflow(void **state)
{
	struct fx *f = *state;
	struct state_watch *w;
	assert_int_equal(state_watch_new(f->sn, f->dirfd, false, NOTIFY_FILE_NAME, &w), 0);
	touch(f, "a-rather-long-name-for-a-small-buffer");
	uint8_t buf[16];
	long rc = 0;
	for (int i = 0; i < 200 && rc == 0; i++) {
		usleep(10000);
		rc = state_watch_take(w, NULL, buf, sizeof(buf));
	}
	assert_int_equal(rc, -EOVERFLOW);
	/* the buffer starts afresh */
	assert_int_equal(state_watch_take(w, NULL, buf, sizeof(buf)), 0);
	/* more changes than a watch keeps: one overflow */
	for (int i = 0; i < STATE_NOTIFY_MAX_EVENTS + 10; i++)
		state_watch_post(w, NOTIFY_ACTION_ADDED, NOTIFY_FILE_NAME, "x");
	uint8_t big[65536];
	assert_int_equal(state_watch_take(w, NULL, big, sizeof(big)), -EOVERFLOW);
	state_watch_free(w);
}

static int woken;
static void on_wake(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&woken, 1, __ATOMIC_SEQ_CST);
}

static void test_waiters_and_delete(void **state)
{
	struct fx *f = *state;
	struct state_watch *w;
	assert_int_equal(state_watch_new(f->sn, f->dirfd, false, NOTIFY_ALL, &w), 0);
	woken = 0;
	assert_int_equal(state_watch_add_waiter(w, on_wake, &woken), 0);
	touch(f, "wake-me");
	for (int i = 0; i < 200 && !__atomic_load_n(&woken, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	assert_true(woken > 0);
	state_watch_del_waiter(w, &woken);
	int before = woken;
	uint8_t buf[1024];
	(void)state_watch_take(w, NULL, buf, sizeof(buf));
	touch(f, "nobody-waits");
	usleep(100000);
	assert_int_equal(woken, before); /* unregistered: never called again */
	state_watch_mark_deleted(w);
	assert_int_equal(state_watch_take(w, NULL, buf, sizeof(buf)), -EIDRM);
	assert_int_equal(state_watch_take(w, NULL, buf, sizeof(buf)), -EIDRM);
	state_watch_free(w);
}

/* Takes waiter arg's answer and decodes it (0 changes when it has none). */
static int take_as(struct state_watch *w, void *arg, struct change *c, int max)
{
	uint8_t buf[4096];
	long rc = state_watch_take(w, arg, buf, sizeof(buf));
	assert_true(rc >= 0);
	return rc > 0 ? decode(buf, rc, c, max) : 0;
}

static int wake_a, wake_b;
static void on_wake_count(void *arg)
{
	__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/* Two requests wait on one handle: the change made while both wait answers the first; the
 * change after it the second, even when the first has not taken its answer yet (smbtorture
 * smb2.notify.mask-change). A waiter that goes away without taking its answer hands it on. */
static void test_answer_per_waiter(void **state)
{
	struct fx *f = *state;
	struct state_watch *w;
	assert_int_equal(state_watch_new(f->sn, f->dirfd, false, NOTIFY_FILE_NAME, &w), 0);
	wake_a = wake_b = 0;
	assert_int_equal(state_watch_add_waiter(w, on_wake_count, &wake_a), 0);
	assert_int_equal(state_watch_add_waiter(w, on_wake_count, &wake_b), 0);
	touch(f, "first");
	state_notify_settle(f->sn, NULL); /* as after a request: the change is assigned now */
	assert_int_equal(wake_a, 1);
	assert_int_equal(wake_b, 0);
	touch(f, "second");
	state_notify_settle(f->sn, NULL);
	assert_int_equal(wake_b, 1);
	struct change c[4];
	/* a request without an answer of its own does not overtake the waiters' */
	assert_int_equal(take_as(w, NULL, c, 4), 0);
	assert_int_equal(take_as(w, &wake_b, c, 4), 1);
	assert_string_equal(c[0].name, "second");
	assert_int_equal(take_as(w, &wake_a, c, 4), 1);
	assert_string_equal(c[0].name, "first");
	/* answered: no more for them */
	touch(f, "third");
	state_notify_settle(f->sn, NULL);
	assert_int_equal(wake_a + wake_b, 2);
	state_watch_del_waiter(w, &wake_a);
	state_watch_del_waiter(w, &wake_b);
	/* buffered while nobody waits: the next waiter's answer at once */
	wake_a = 0;
	assert_int_equal(state_watch_add_waiter(w, on_wake_count, &wake_a), 0);
	assert_int_equal(wake_a, 1);
	/* cancelled before taking it: the next one gets it */
	wake_b = 0;
	assert_int_equal(state_watch_add_waiter(w, on_wake_count, &wake_b), 0);
	assert_int_equal(wake_b, 0);
	state_watch_del_waiter(w, &wake_a);
	assert_int_equal(wake_b, 1);
	assert_int_equal(take_as(w, &wake_b, c, 4), 1);
	assert_string_equal(c[0].name, "third");
	state_watch_del_waiter(w, &wake_b);
	state_watch_free(w);
}

/* A create writes the new file's metadata (an xattr: IN_ATTRIB) before it answers; that is part
 * of the creation. The client's next change of the same kind must still be reported, though the
 * kernel folds an event into an identical unread one: the settle at the end of the create reads
 * the queue first. */
static void test_create_settles(void **state)
{
	struct fx *f = *state;
	struct state_watch *w;
	assert_int_equal(
	    state_watch_new(f->sn, f->dirfd, false, NOTIFY_FILE_NAME | NOTIFY_ATTRIBUTES, &w), 0);
	char p[256];
	path(f, p, "made");
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	if (fsetxattr(fd, "user.test", "1", 1, 0) < 0) {
		close(fd);
		state_watch_free(w);
		skip(); /* no user xattrs on this file system */
	}
	assert_int_equal(fsetxattr(fd, "user.test2", "1", 1, 0), 0); /* a second write of it */
	close(fd);
	state_notify_settle(f->sn, "made");
	assert_int_equal(setxattr(p, "user.test", "2", 1, 0), 0); /* the client's change */
	state_notify_settle(f->sn, NULL);
	struct change c[8];
	int n = take_as(w, NULL, c, 8);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].action, NOTIFY_ACTION_ADDED);
	assert_string_equal(c[0].name, "made");
	assert_int_equal(c[1].action, NOTIFY_ACTION_MODIFIED);
	assert_string_equal(c[1].name, "made");
	state_watch_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test_setup_teardown(test_create_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filter_and_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_waiters_and_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_answer_per_waiter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_settles, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
