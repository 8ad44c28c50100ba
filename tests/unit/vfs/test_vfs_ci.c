/* The case index of the posix module (vfs_posix_ci.c): a case-insensitive lookup of a name that
 * exists in another case, or in none, answers what a scan of the directory would, whoever
 * changed the directory (this server or another process), across creates, deletes, renames and
 * a directory that is removed and made again. On tmpfs, so the index is kept. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfs/vfs_posix.h"

struct fx {
	char root[64];
	struct vfs_share *sh;
};

static void touch(struct fx *fx, const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", fx->root, rel);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void path(struct fx *fx, const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", fx->root, rel);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->root, "/dev/shm/shoal-ci-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	char p[256];
	path(fx, "d", p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	touch(fx, "d/Alpha");
	touch(fx, "d/beta");
	struct vfs_share_opts o = {.case_sensitive = false};
	assert_int_equal(vfs_share_open(fx->root, &o, &fx->sh), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	vfs_share_close(fx->sh);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->root);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* vfs_lookup's answer for asked: the real name, or NULL when it does not exist */
static void expect(struct fx *fx, const char *asked, const char *want)
{
	char *real = NULL;
	int rc = vfs_lookup(fx->sh, asked, &real, NULL);
	if (want) {
		assert_int_equal(rc, 0);
		assert_string_equal(real, want);
	} else {
		assert_int_equal(rc, -ENOENT);
	}
	free(real);
}

static void test_index_follows_changes(void **state)
{
	struct fx *fx = *state;
	char p[256], q[256];
	expect(fx, "d/ALPHA", "d/Alpha"); /* scans and indexes d */
	expect(fx, "d/nothere", NULL);
	/* the index answers by itself from now on */
	path(fx, "d", p, sizeof(p));
	int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct ci_cache *cc = vfs_posix_ci_new(dfd);
	assert_non_null(cc); /* tmpfs: kept */
	char *found = NULL;
	assert_int_equal(vfs_posix_ci_find(cc, dfd, "NOTHERE", &found), -ENOENT);
	assert_int_equal(vfs_posix_ci_find(cc, dfd, "BETA", &found), 0);
	assert_string_equal(found, "beta");
	free(found);
	/* changes by another process: create, delete, rename, a subdirectory */
	touch(fx, "d/Gamma");
	expect(fx, "d/gamma", "d/Gamma");
	path(fx, "d/Alpha", p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	expect(fx, "d/alpha", NULL);
	path(fx, "d/beta", p, sizeof(p));
	path(fx, "d/Delta", q, sizeof(q));
	assert_int_equal(rename(p, q), 0);
	expect(fx, "d/BETA", NULL);
	expect(fx, "d/delta", "d/Delta");
	path(fx, "d/Sub", p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	expect(fx, "d/SUB", "d/Sub");
	/* a change through the share itself */
	struct vfs_file *f = NULL;
	assert_int_equal(vfs_open(fx->sh, "d/NewOne", VFS_O_CREATE | VFS_O_WRITE, 0, &f), 0);
	vfs_close(f);
	expect(fx, "d/newone", "d/NewOne");
	/* many names: every one is found in another case, a missing one is not */
	for (int i = 0; i < 500; i++) {
		char n[32];
		snprintf(n, sizeof(n), "d/File%03d", i);
		touch(fx, n);
	}
	expect(fx, "d/FILE377", "d/File377");
	expect(fx, "d/file500", NULL);
	assert_int_equal(vfs_posix_ci_find(cc, dfd, "file499", &found), 0);
	assert_string_equal(found, "File499");
	free(found);
	close(dfd);
	/* the directory removed and made again (another inode): nothing of the old one is left */
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/d && mkdir %s/d", fx->root, fx->root);
	assert_int_equal(system(cmd), 0);
	expect(fx, "d/gamma", NULL);
	touch(fx, "d/Zed");
	expect(fx, "d/ZED", "d/Zed");
	/* a name that is not UTF-8 matches nothing and breaks nothing */
	touch(fx, "d/bad\xff");
	expect(fx, "d/BAD\xff", NULL);
	expect(fx, "d/zed", "d/Zed");
	vfs_posix_ci_free(cc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_index_follows_changes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
