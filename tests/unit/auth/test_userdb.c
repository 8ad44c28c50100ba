/* The user database: edits, file mode, reload seen by an open handle, names, locking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "crypto/crypto.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-userdb-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* a subdirectory that does not exist yet: the first edit creates it */
	snprintf(f->path, sizeof(f->path), "%s/state/users.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void test_add_list_del(void **state)
{
	struct fx *f = *state;
	struct userdb_entry *v;
	int n;
	assert_int_equal(userdb_list(f->path, &v, &n), 0); /* no file yet: nobody */
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(userdb_add(f->path, "alice", "Password", 1001, 100), 0);
	assert_int_equal(userdb_add(f->path, "bob", "x", 1002, 100), 0);
	assert_int_equal(userdb_add(f->path, "ALICE", "y", 1003, 100), -EEXIST);
	assert_int_equal(userdb_list(f->path, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "alice");
	assert_int_equal(v[0].uid, 1001);
	assert_int_equal(v[0].gid, 100);
	assert_int_equal(v[0].rid, 1000 + 2 * 1001);
	assert_false(v[0].disabled);
	/* NT hash of "Password" (MS-NLMP 4.2.2.1.2) */
	static const uint8_t h[16] = {0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca,
				      0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52};
	assert_memory_equal(v[0].nt_hash, h, 16);
	free(v);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(userdb_del(f->path, "Alice"), 0);
	assert_int_equal(userdb_del(f->path, "alice"), -ENOENT);
	assert_int_equal(userdb_passwd(f->path, "alice", "z"), -ENOENT);
	assert_int_equal(userdb_list(f->path, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "bob");
	free(v);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_reload(void **state)
{
	struct fx *f = *state;
	struct userdb *db = userdb_open(f->path);
	struct userdb_entry e;
	uint8_t h1[16], h2[16];
	assert_non_null(db);
	assert_int_equal(userdb_lookup(db, "carol", &e), -ENOENT);
	assert_int_equal(userdb_add(f->path, "carol", "one", 2000, 2000), 0);
	assert_int_equal(userdb_lookup(db, "CAROL", &e), 0); /* seen at once, any case */
	assert_int_equal(e.uid, 2000);
	ntlm_nt_hash("one", h1);
	assert_memory_equal(e.nt_hash, h1, 16);
	assert_int_equal(userdb_passwd(f->path, "carol", "two"), 0);
	assert_int_equal(userdb_lookup(db, "carol", &e), 0);
	ntlm_nt_hash("two", h2);
	assert_memory_equal(e.nt_hash, h2, 16);
	assert_int_equal(userdb_del(f->path, "carol"), 0);
	assert_int_equal(userdb_lookup(db, "carol", &e), -ENOENT);
	/* a file removed altogether holds no users */
	assert_int_equal(userdb_add(f->path, "dave", "d", 2001, 2001), 0);
	assert_int_equal(userdb_lookup(db, "dave", &e), 0);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(userdb_lookup(db, "dave", &e), -ENOENT);
	userdb_close(db);
}

static void test_names(void **state)
{
	struct fx *f = *state;
	const char *good[] = {"a", "alice", "Bob_2", "x.y-z", "a-", "0"};
	const char *bad[] = {"", "-a", ".a", "a:b", "a b", "a/b", "ä", "a\nb", "a\\b", "a@b", "a#"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(userdb_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(userdb_name_valid(bad[i]));
		assert_int_equal(userdb_add(f->path, bad[i], "pw", 1, 1), -EINVAL);
	}
	char n64[66], n65[67];
	memset(n64, 'a', 64);
	n64[64] = 0;
	memset(n65, 'a', 65);
	n65[65] = 0;
	assert_true(userdb_name_valid(n64));
	assert_false(userdb_name_valid(n65));
	assert_false(userdb_name_valid(NULL));
}

static void test_system_account(void **state)
{
	struct fx *f = *state;
	struct userdb_entry *v;
	int n;
	assert_int_equal(userdb_add(f->path, "root", "pw", (uint32_t)-1, (uint32_t)-1), 0);
	assert_int_equal(userdb_add(f->path, "no-such-account-xyz", "pw", (uint32_t)-1, 5),
			 -ENOENT);
	assert_int_equal(userdb_list(f->path, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].uid, 0);
	assert_int_equal(v[0].gid, 0);
	free(v);
}

static void test_bad_lines(void **state)
{
	struct fx *f = *state;
	assert_int_equal(userdb_add(f->path, "erin", "pw", 5, 5), 0);
	FILE *fp = fopen(f->path, "a");
	fputs("# comment\n\nbroken line\nx:1:2:3:zz:-\n"
	      "frank:7:7:1014:00112233445566778899AABBCCDDEEFF:d\n"
	      "gina:8:8:1016:00112233445566778899aabbccddeeff:-:extra\n"
	      "hank:99999999999:8:1016:00112233445566778899aabbccddeeff:-\n",
	      fp);
	fclose(fp);
	struct userdb *db = userdb_open(f->path);
	struct userdb_entry e;
	assert_int_equal(userdb_lookup(db, "erin", &e), 0);
	assert_int_equal(userdb_lookup(db, "frank", &e), 0);
	assert_true(e.disabled);
	assert_int_equal(e.nt_hash[15], 0xff);
	assert_int_equal(userdb_lookup(db, "gina", &e), -ENOENT);
	assert_int_equal(userdb_lookup(db, "hank", &e), -ENOENT);
	assert_int_equal(userdb_lookup(db, "x", &e), -ENOENT);
	userdb_close(db);
}

/* Writers in several processes at once lose nothing: the lock serialises read-modify-write. */
static void test_concurrent_writers(void **state)
{
	struct fx *f = *state;
	const int procs = 4, each = 15;
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < each; i++) {
				char name[32];
				snprintf(name, sizeof(name), "u%d_%d", p, i);
				if (userdb_add(f->path, name, "pw", (uint32_t)(p * 100 + i), 1) !=
				    0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++) {
		int st;
		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	struct userdb_entry *v;
	int n;
	assert_int_equal(userdb_list(f->path, &v, &n), 0);
	assert_int_equal(n, procs * each);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_list_del, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_system_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
