/* The posix module against a temporary share: resolution beneath the root (`..`, absolute
 * names, symlinks out, loops, symlinks inside), case-insensitive lookup, create/open, DOS
 * metadata, rename, unlink and directory walks. */
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

#include "vfs/vfs.h"

#define A_RO 0x1u
#define A_HIDDEN 0x2u
#define A_DIR 0x10u
#define A_ARCHIVE 0x20u
#define A_NORMAL 0x80u

struct fx {
	char root[64];
	struct vfs_share *sh, *sh_cs;
};

static void put(const char *root, const char *rel, const char *data)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static void sub(const char *root, const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", root, rel);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char p[256], q[256];
	strcpy(fx->root, "/tmp/shoal-vfs-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	put(fx->root, "a.txt", "hello");
	sub(fx->root, "Dir", p, sizeof(p));
	mkdir(p, 0755);
	sub(fx->root, "Dir/Sub", p, sizeof(p));
	mkdir(p, 0755);
	put(fx->root, "Dir/Sub/File.TXT", "x");
	sub(fx->root, "out", p, sizeof(p));
	assert_int_equal(symlink("/etc", p), 0);
	sub(fx->root, "up", p, sizeof(p));
	assert_int_equal(symlink("..", p), 0);
	sub(fx->root, "abs_in", p, sizeof(p));
	sub(fx->root, "a.txt", q, sizeof(q));
	assert_int_equal(symlink(q, p), 0); /* absolute, even though it points inside */
	sub(fx->root, "rel_in", p, sizeof(p));
	assert_int_equal(symlink("a.txt", p), 0);
	sub(fx->root, "Dir/up_in", p, sizeof(p));
	assert_int_equal(symlink("../a.txt", p), 0);
	sub(fx->root, "loop1", p, sizeof(p));
	assert_int_equal(symlink("loop2", p), 0);
	sub(fx->root, "loop2", p, sizeof(p));
	assert_int_equal(symlink("loop1", p), 0);
	struct vfs_share_opts o = {.case_sensitive = false};
	assert_int_equal(vfs_share_open(fx->root, &o, &fx->sh), 0);
	o.case_sensitive = true;
	assert_int_equal(vfs_share_open(fx->root, &o, &fx->sh_cs), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	vfs_share_close(fx->sh);
	vfs_share_close(fx->sh_cs);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static int lookup_rc(struct vfs_share *sh, const char *path, char **real)
{
	char *r = NULL;
	struct vfs_stat st;
	int rc = vfs_lookup(sh, path, &r, &st);
	if (real)
		*real = r;
	else
		free(r);
	return rc;
}

static void test_beneath(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(lookup_rc(fx->sh, "", NULL), 0);
	assert_int_equal(lookup_rc(fx->sh, "a.txt", NULL), 0);
	/* every way out of the share is refused */
	assert_int_equal(lookup_rc(fx->sh, "..", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "Dir/../..", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "/etc/passwd", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "out", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "out/passwd", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "up", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "up/etc", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "abs_in", NULL), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "loop1", NULL), -ELOOP);
	/* symlinks that stay inside are followed */
	assert_int_equal(lookup_rc(fx->sh, "rel_in", NULL), 0);
	assert_int_equal(lookup_rc(fx->sh, "Dir/up_in", NULL), 0);
	struct vfs_file *f;
	assert_int_equal(vfs_open(fx->sh, "out/passwd", VFS_O_READ, 0, &f), -EACCES);
	assert_int_equal(vfs_open(fx->sh, "Dir/up_in", VFS_O_READ, 0, &f), 0);
	char buf[8] = {0};
	assert_int_equal(vfs_pread(f, buf, sizeof(buf), 0), 5);
	assert_string_equal(buf, "hello");
	vfs_close(f);
	/* creating through a link out of the share is refused too */
	assert_int_equal(vfs_open(fx->sh, "out/evil", VFS_O_CREATE | VFS_O_WRITE, 0, &f), -EACCES);
	assert_int_equal(vfs_open(fx->sh, "up/evil", VFS_O_CREATE | VFS_O_DIR, 0, &f), -EACCES);
}

static void test_missing(void **state)
{
	struct fx *fx = *state;
	char *real = NULL;
	assert_int_equal(lookup_rc(fx->sh, "nope", &real), -ENOENT);
	assert_string_equal(real, "nope");
	free(real);
	assert_int_equal(lookup_rc(fx->sh, "dir/sub/NEW", &real), -ENOENT);
	assert_string_equal(real, "Dir/Sub/NEW"); /* parent corrected, last kept as asked */
	free(real);
	assert_int_equal(lookup_rc(fx->sh, "nope/x", NULL), -ENOTDIR);
	assert_int_equal(lookup_rc(fx->sh, "a.txt/x", NULL), -ENOTDIR);
	assert_int_equal(lookup_rc(fx->sh_cs, "nope/x", NULL), -ENOTDIR);
	assert_int_equal(lookup_rc(fx->sh_cs, "Dir/nope", NULL), -ENOENT);
}

static void test_case_insensitive(void **state)
{
	struct fx *fx = *state;
	char *real = NULL;
	assert_int_equal(lookup_rc(fx->sh, "A.TXT", &real), 0);
	assert_string_equal(real, "a.txt");
	free(real);
	assert_int_equal(lookup_rc(fx->sh, "dir/SUB/file.txt", &real), 0);
	assert_string_equal(real, "Dir/Sub/File.TXT");
	free(real);
	assert_int_equal(lookup_rc(fx->sh_cs, "A.TXT", NULL), -ENOENT);
	assert_int_equal(lookup_rc(fx->sh_cs, "dir/Sub", NULL), -ENOTDIR);
}

static void test_create_meta(void **state)
{
	struct fx *fx = *state;
	struct vfs_file *f, *d;
	struct vfs_stat st;
	assert_int_equal(vfs_open(fx->sh, "new.txt", VFS_O_CREATE | VFS_O_WRITE, A_HIDDEN, &f), 0);
	assert_int_equal(vfs_open(fx->sh, "new.txt", VFS_O_CREATE, 0, &d), -EEXIST);
	assert_int_equal(vfs_pwrite(f, "abc", 3, 10), 3);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.size, 13);
	assert_int_equal(st.attrs, A_HIDDEN | A_ARCHIVE);
	assert_true(st.btime > 0);
	assert_int_equal(vfs_set_meta(f, 0, 0), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.attrs, A_NORMAL);
	assert_int_equal(vfs_set_meta(f, A_RO | A_DIR, 131000000000000000ull), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.attrs, A_RO); /* DIRECTORY is derived, never stored */
	assert_int_equal(st.btime, 131000000000000000ull);
	assert_int_equal(vfs_set_times(f, 0, 130000000000000000ull), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.mtime, 130000000000000000ull);
	assert_int_equal(vfs_truncate(f, 2), 0);
	assert_int_equal(vfs_allocate(f, 1 << 20), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.size, 2);
	vfs_close(f);
	assert_int_equal(vfs_open(fx->sh, "ndir", VFS_O_CREATE | VFS_O_DIR, 0, &d), 0);
	assert_true(d->is_dir);
	assert_int_equal(vfs_fstat(d, &st), 0);
	assert_int_equal(st.attrs, A_DIR);
	unsigned acc = 0;
	assert_int_equal(vfs_access(d, &acc), 0);
	assert_true(acc & VFS_ACC_DELETE);
	vfs_close(d);
	/* a file with no metadata xattr (made locally) looks archived */
	assert_int_equal(vfs_open(fx->sh, "a.txt", VFS_O_NONDIR, 0, &f), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.attrs, A_ARCHIVE);
	vfs_close(f);
	assert_int_equal(vfs_open(fx->sh, "Dir", VFS_O_NONDIR, 0, &f), -EISDIR);
	assert_int_equal(vfs_open(fx->sh, "a.txt", VFS_O_DIR, 0, &f), -ENOTDIR);
	assert_int_equal(vfs_open(fx->sh, "nope/x", VFS_O_CREATE, 0, &f), -ENOTDIR);
}

struct names {
	char buf[512];
	int n;
};

static int collect(void *arg, const char *name)
{
	struct names *n = arg;
	strcat(n->buf, name);
	strcat(n->buf, "|");
	n->n++;
	return 0;
}

static void test_dir_rename_unlink(void **state)
{
	struct fx *fx = *state;
	struct vfs_file *d, *f, *g;
	struct vfs_stat st;
	assert_int_equal(vfs_open(fx->sh, "Dir", VFS_O_DIR, 0, &d), 0);
	struct names n = {0};
	assert_int_equal(vfs_readdir(d, collect, &n), 0);
	assert_int_equal(n.n, 2); /* Sub, up_in */
	assert_non_null(strstr(n.buf, "Sub|"));
	assert_int_equal(vfs_stat_at(d, "up_in", &st), 0); /* link inside: followed */
	assert_int_equal(st.size, 5);
	assert_int_equal(vfs_stat_at(d, "..", &st), -EINVAL);
	vfs_close(d);
	assert_int_equal(vfs_open(fx->sh, "", VFS_O_DIR, 0, &d), 0);
	assert_int_equal(vfs_stat_at(d, "out", &st), -EACCES); /* link out: invisible */
	vfs_close(d);

	assert_int_equal(vfs_open(fx->sh, "r1", VFS_O_CREATE | VFS_O_WRITE, 0, &f), 0);
	assert_int_equal(vfs_rename(f, "Dir/Sub/r2", false), 0);
	assert_string_equal(f->path, "Dir/Sub/r2");
	assert_int_equal(vfs_rename(f, "a.txt", false), -EEXIST);
	assert_int_equal(vfs_rename(f, "../x", false), -EINVAL);
	assert_int_equal(vfs_rename(f, "nope/x", false), -ENOTDIR);
	assert_int_equal(vfs_rename(f, "out/x", false), -EACCES);
	assert_int_equal(lookup_rc(fx->sh, "Dir/Sub/r2", NULL), 0);
	/* another open renames it: the stale name must not delete an unrelated file */
	assert_int_equal(vfs_open(fx->sh, "Dir/Sub/r2", 0, 0, &g), 0);
	assert_int_equal(vfs_rename(g, "r3", false), 0);
	assert_int_equal(vfs_open(fx->sh, "Dir/Sub/r2", VFS_O_CREATE, 0, &d), 0);
	vfs_close(d);
	assert_int_equal(vfs_unlink(f), -ESTALE);
	assert_int_equal(vfs_unlink(g), 0);
	assert_int_equal(lookup_rc(fx->sh, "r3", NULL), -ENOENT);
	vfs_close(f);
	vfs_close(g);
	/* directories: rmdir semantics */
	assert_int_equal(vfs_open(fx->sh, "Dir", VFS_O_DIR, 0, &d), 0);
	assert_int_equal(vfs_unlink(d), -ENOTEMPTY);
	vfs_close(d);
	assert_int_equal(vfs_open(fx->sh, "", VFS_O_DIR, 0, &d), 0);
	assert_int_equal(vfs_unlink(d), -EINVAL); /* never the root */
	vfs_close(d);
}

struct slist {
	char buf[512];
	uint64_t total;
	int n;
};

static int collect_stream(void *arg, const char *name, uint64_t size)
{
	struct slist *l = arg;
	strcat(l->buf, name);
	strcat(l->buf, "|");
	l->total += size;
	l->n++;
	return 0;
}

/* Alternate data streams in xattrs: create, case-insensitive open, I/O at offsets, truncate,
 * list, rename, delete; sparse and zeroing on plain files. */
static void test_streams_sparse(void **state)
{
	struct fx *fx = *state;
	struct vfs_file *f, *s, *s2;
	struct vfs_stat st;
	char buf[64];
	assert_int_equal(vfs_open(fx->sh, "a.txt", VFS_O_READ, 0, &f), 0);
	assert_int_equal(vfs_open_stream(f, "Zone", 0, &s), -ENOENT);
	assert_int_equal(vfs_open_stream(f, "Zone", VFS_O_CREATE, &s), 0);
	assert_string_equal(s->stream, "Zone");
	assert_int_equal(vfs_open_stream(f, "zONE", VFS_O_CREATE, &s2), -EEXIST);
	assert_int_equal(vfs_open_stream(f, "a:b", VFS_O_CREATE, &s2), -EINVAL);
	assert_int_equal(vfs_pwrite(s, "abc", 3, 5), 3);
	assert_int_equal(vfs_fstat(s, &st), 0);
	assert_int_equal(st.size, 8);
	/* the stream's size is its own; the file keeps its data */
	assert_int_equal(vfs_pread(s, buf, sizeof(buf), 0), 8);
	assert_memory_equal(buf, "\0\0\0\0\0abc", 8);
	assert_int_equal(vfs_pread(s, buf, sizeof(buf), 100), 0);
	assert_int_equal(vfs_pread(f, buf, sizeof(buf), 0), 5);
	assert_int_equal(vfs_truncate(s, 6), 0);
	assert_int_equal(vfs_open_stream(f, "zone", 0, &s2), 0);
	assert_string_equal(s2->stream, "Zone"); /* the stored case */
	assert_int_equal(vfs_pread(s2, buf, sizeof(buf), 0), 6);
	vfs_close(s2);
	/* a write beyond what an xattr holds fails instead of truncating silently */
	static char big[70000];
	assert_true(vfs_pwrite(s, big, sizeof(big), 0) < 0);
	assert_int_equal(vfs_open_stream(f, "Other", VFS_O_CREATE, &s2), 0);
	struct slist l = {0};
	assert_int_equal(vfs_stream_list(f, collect_stream, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.total, 6);
	assert_non_null(strstr(l.buf, "Zone|"));
	/* rename onto an existing stream needs replace */
	assert_int_equal(vfs_stream_rename(s2, "ZONE", false), -EEXIST);
	assert_int_equal(vfs_stream_rename(s2, "Third", false), 0);
	assert_string_equal(s2->stream, "Third");
	assert_int_equal(vfs_stream_rename(s2, "zone", true), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(vfs_stream_list(f, collect_stream, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.buf, "zone|");
	assert_int_equal(vfs_stream_delete(s2), 0);
	assert_int_equal(vfs_stream_delete(s), -ENOENT); /* the same stream, gone */
	vfs_close(s);
	vfs_close(s2);
	vfs_close(f);

	/* sparse: the attribute, holes punched by zeroing, allocated ranges */
	assert_int_equal(vfs_open(fx->sh, "sp", VFS_O_CREATE | VFS_O_READ | VFS_O_WRITE, 0, &f), 0);
	static char data[65536 * 2];
	memset(data, 'x', sizeof(data));
	assert_int_equal(vfs_pwrite(f, data, sizeof(data), 0), (ssize_t)sizeof(data));
	assert_int_equal(vfs_set_sparse(f, true), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_true(st.attrs & 0x200u);
	assert_int_equal(vfs_zero_range(f, 0, 65536, true), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.size, sizeof(data)); /* zeroing keeps the end of file */
	assert_int_equal(vfs_pread(f, buf, 8, 100), 8);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0", 8);
	uint64_t d0, h0;
	assert_int_equal(vfs_next_data(f, 0, &d0, &h0), 0);
	assert_int_equal(d0, 65536);
	assert_int_equal(h0, sizeof(data));
	assert_int_equal(vfs_next_data(f, sizeof(data), &d0, &h0), -ENXIO);
	/* DOS attributes set later keep the sparse bit; clearing it is explicit */
	assert_int_equal(vfs_set_meta(f, A_HIDDEN, 0), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_true(st.attrs & 0x200u);
	assert_int_equal(vfs_set_sparse(f, false), 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_false(st.attrs & 0x200u);
	vfs_close(f);
	assert_int_equal(vfs_open(fx->sh, "Dir", VFS_O_DIR, 0, &f), 0);
	assert_int_equal(vfs_set_sparse(f, true), -EINVAL);
	vfs_close(f);

	/* ChangeTime: a set value is reported, kept by the setting handle's writes and attribute
	   changes, and dropped when another handle writes */
	struct vfs_file *g;
	assert_int_equal(vfs_open(fx->sh, "sp", VFS_O_READ | VFS_O_WRITE, 0, &f), 0);
	assert_int_equal(vfs_open(fx->sh, "sp", VFS_O_READ | VFS_O_WRITE, 0, &g), 0);
	const uint64_t ct = 130000000000000000ull;
	assert_int_equal(vfs_set_ctime(f, ct), 0);
	assert_int_equal(vfs_set_meta(f, A_RO, 0), 0);
	assert_int_equal(vfs_set_times(f, ct, ct), 0);
	assert_int_equal(vfs_pwrite(f, "y", 1, 0), 1);
	assert_int_equal(vfs_fstat(g, &st), 0);
	assert_int_equal(st.ctime, ct);
	assert_int_equal(st.attrs & A_RO, A_RO);
	assert_int_equal(vfs_pwrite(g, "z", 1, 0), 1);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_true(st.ctime > ct);
	vfs_close(g);
	vfs_close(f);
}

static void test_statfs_ident(void **state)
{
	struct fx *fx = *state;
	struct vfs_fsstat fs;
	assert_int_equal(vfs_statfs(fx->sh, &fs), 0);
	assert_true(fs.total_units > 0 && fs.unit_size > 0);
	/* as root the identity really changes; otherwise it is a no-op */
	struct vfs_ident id = {.uid = 4242, .gid = 4242, .ngroups = 1, .groups = {4243}};
	assert_int_equal(vfs_ident_apply(&id), 0);
	if (geteuid() == 0) {
		assert_int_equal(vfs_ident_fsuid(), 4242);
		struct vfs_file *f;
		/* the share root belongs to root (0700 from mkdtemp): no access as 4242 */
		assert_int_equal(vfs_open(fx->sh, "a.txt", VFS_O_READ, 0, &f), -EACCES);
	}
	struct vfs_ident cur;
	vfs_ident_get(&cur);
	if (geteuid() == 0)
		assert_int_equal(cur.uid, 4242);
	assert_int_equal(vfs_ident_apply(NULL), 0);
	if (geteuid() == 0)
		assert_int_equal(vfs_ident_fsuid(), 0);
}

/* The thread's credentials as the kernel has them (/proc/thread-self/status): fsuid, fsgid and
 * the supplementary groups as text ("4243 4244"). */
static void thread_creds(unsigned *fsuid, unsigned *fsgid, char *groups, size_t glen)
{
	FILE *f = fopen("/proc/thread-self/status", "r");
	assert_non_null(f);
	char line[256];
	groups[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned a, b, c, d;
		if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &c, &d) == 4)
			*fsuid = d;
		else if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &c, &d) == 4)
			*fsgid = d;
		else if (!strncmp(line, "Groups:", 7)) {
			const char *p = line + 7;
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(groups, glen, "%s", p);
			size_t n = strlen(groups);
			while (n && (groups[n - 1] == '\n' || groups[n - 1] == ' '))
				groups[--n] = 0;
		}
	}
	fclose(f);
}

/* The switches skip the system calls that change nothing (the groups stay while the thread is
 * root, an id is read back once): whatever the order, the kernel's credentials are the ones
 * asked for, and the server's own identity is fsuid/fsgid 0 with full access. */
static void test_ident_switches(void **state)
{
	struct fx *fx = *state;
	if (geteuid() != 0)
		skip();
	struct vfs_ident a = {.uid = 4242, .gid = 4242, .ngroups = 2, .groups = {4243, 4244}};
	struct vfs_ident b = {.uid = 4245, .gid = 4246, .ngroups = 2, .groups = {4243, 4244}};
	struct vfs_ident c = {.uid = 4242, .gid = 4242, .ngroups = 1, .groups = {4247}};
	const struct vfs_ident *seq[] = {&a, NULL, &a, NULL, &b, &a, NULL, &c, NULL, &c, &b, NULL};
	const char *want_groups[] = {"4243 4244", NULL, "4243 4244", NULL, "4243 4244",
				     "4243 4244", NULL, "4247", NULL, "4247", "4243 4244", NULL};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		assert_int_equal(vfs_ident_apply(seq[i]), 0);
		unsigned fsuid = 1, fsgid = 1;
		char groups[512];
		thread_creds(&fsuid, &fsgid, groups, sizeof(groups));
		struct vfs_file *f = NULL;
		int rc = vfs_open(fx->sh, "a.txt", VFS_O_READ, 0, &f);
		if (f)
			vfs_close(f);
		if (!seq[i]) {
			assert_int_equal(fsuid, 0);
			assert_int_equal(fsgid, 0);
			assert_int_not_equal(rc, -EACCES); /* root: the 0700 share root is open */
			continue;
		}
		assert_int_equal(fsuid, seq[i]->uid);
		assert_int_equal(fsgid, seq[i]->gid);
		assert_string_equal(groups, want_groups[i]);
		assert_int_equal(rc, -EACCES);
	}
}

/* The descriptor record and the POSIX ACL, read and written with the server's identity even on
 * a mode 000 file (O_PATH handle). */
static void test_ntacl_posix_acl(void **state)
{
	struct fx *fx = *state;
	struct vfs_file *f;
	uint8_t rec[300], back[300];
	for (size_t i = 0; i < sizeof(rec); i++)
		rec[i] = (uint8_t)i;
	assert_int_equal(vfs_open(fx->sh, "a.txt", 0, 0, &f), 0);
	assert_int_equal(vfs_get_ntacl(f, back, sizeof(back)), -ENODATA);
	assert_int_equal(vfs_set_ntacl(f, rec, sizeof(rec)), 0);
	assert_int_equal(vfs_get_ntacl(f, NULL, 0), (ssize_t)sizeof(rec));
	assert_int_equal(vfs_get_ntacl(f, back, 10), -ERANGE);
	assert_int_equal(vfs_get_ntacl(f, back, sizeof(back)), (ssize_t)sizeof(rec));
	assert_memory_equal(rec, back, sizeof(rec));
	struct vfs_posix_acl acl = {.n = 1}, got;
	acl.e[0].id = 4243;
	acl.e[0].perm = 4;
	int rc = vfs_set_posix_acl(f, 0600, &acl);
	if (rc == -EOPNOTSUPP) {
		vfs_close(f);
		skip();
	}
	assert_int_equal(rc, 0);
	struct vfs_stat st;
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.mode & 0777, 0640); /* group bits show the mask */
	assert_int_equal(vfs_get_posix_acl(f, &got), 0);
	assert_int_equal(got.n, 1);
	assert_false(got.e[0].group);
	assert_int_equal(got.e[0].id, 4243);
	assert_int_equal(got.e[0].perm, 4);
	assert_int_equal(got.group_obj, 0);
	assert_int_equal(got.mask, 4);
	/* duplicate ids are refused; no named entries: a plain mode, the ACL gone */
	acl.n = 2;
	acl.e[1] = acl.e[0];
	assert_int_equal(vfs_set_posix_acl(f, 0600, &acl), -EINVAL);
	acl.n = 0;
	assert_int_equal(vfs_set_posix_acl(f, 0, &acl), 0);
	assert_int_equal(vfs_get_posix_acl(f, &got), 0);
	assert_int_equal(got.n, 0);
	assert_int_equal(vfs_fstat(f, &st), 0);
	assert_int_equal(st.mode & 0777, 0);
	vfs_close(f);
	assert_int_equal(vfs_open(fx->sh, "a.txt", 0, 0, &f), 0);
	/* a mode 000 file still gives its record to a server running as root (a server running
	   as the files' owner cannot read user.* xattrs without read permission) */
	if (geteuid() == 0)
		assert_int_equal(vfs_get_ntacl(f, back, sizeof(back)), (ssize_t)sizeof(rec));
	assert_int_equal(vfs_set_perms(f, 0600, UINT32_MAX, UINT32_MAX), 0);
	assert_int_equal(vfs_set_ntacl(f, NULL, 0), 0);
	assert_int_equal(vfs_get_ntacl(f, back, sizeof(back)), -ENODATA);
	assert_int_equal(vfs_set_ntacl(f, NULL, 0), 0);
	vfs_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_beneath, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_insensitive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_meta, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_rename_unlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_statfs_ident, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ident_switches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_streams_sparse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ntacl_posix_acl, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
