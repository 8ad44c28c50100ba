/* Name validation, Windows wildcard matching and the metadata xattr codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vfs/vfs.h"

static void test_name_check(void **state)
{
	(void)state;
	const char *good[] = {"a", "a.txt", "with space", "ünïcödé", ".hidden", "a..b"};
	const char *bad[] = {"",    ".",   "..",   "a:b",  "a*b", "a?b",   "a<b",
			     "a>b", "a|b", "a\"b", "a\\b", "a/b", "a\x01", "\x1f"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(vfs_name_check(good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vfs_name_check(bad[i]), -22);
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[299] = 0;
	assert_int_equal(vfs_name_check(longname), -22);
	longname[255] = 0;
	assert_int_equal(vfs_name_check(longname), 0);
}

static void test_path_check(void **state)
{
	(void)state;
	assert_int_equal(vfs_path_check(""), 0);
	assert_int_equal(vfs_path_check("a/b/c.txt"), 0);
	const char *bad[] = {"/a", "a/", "a//b", "..", "a/../b", "a/./b", "../x", "a/b:c", "/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vfs_path_check(bad[i]), -22);
}

struct wc {
	const char *pat, *name;
	bool match;
};

static void test_wildcards(void **state)
{
	(void)state;
	static const struct wc cases[] = {
	    {"*", "anything", true},
	    {"*", "", true},
	    {"*.txt", "a.txt", true},
	    {"*.txt", "a.TXT", true}, /* case-insensitive */
	    {"*.txt", "a.txt.bak", false},
	    {"a?c", "abc", true},
	    {"a?c", "ac", false},
	    {"a*c*e", "abcde", true},
	    {"a*c*e", "abcdf", false},
	    {"ABC", "abc", true},
	    {"abc", "abd", false},
	    {"<.txt", "a.b.txt", true}, /* DOS_STAR up to the last period */
	    {"<", "abc", true},
	    {"a>", "a", true},	     /* DOS_QM matches nothing at the end */
	    {"a>>.t", "ab.t", true}, /* ... or at a period */
	    {"a>.t", "abc.t", false},
	    {"a\"", "a", true}, /* DOS_DOT: a period or nothing at the end */
	    {"a\"b", "a.b", true},
	    {"a\"b", "axb", false},
	    {"\xc3\xa9*", "\xc3\x89t\xc3\xa9", true}, /* é* vs Été */
	    {"?", "\xc3\xa9", true},		      /* one code point, two bytes */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool m = vfs_wildcard_match(cases[i].pat, cases[i].name, false);
		if (m != cases[i].match)
			fail_msg("'%s' vs '%s': got %d", cases[i].pat, cases[i].name, m);
	}
	assert_false(vfs_wildcard_match("ABC", "abc", true));
	assert_false(vfs_wildcard_match("a*", "\xff\xfe", false)); /* invalid UTF-8 */
}

static void test_meta_codec(void **state)
{
	(void)state;
	uint8_t buf[VFS_META_LEN];
	srand(7);
	for (int i = 0; i < 1000; i++) {
		uint32_t a = (uint32_t)rand();
		uint64_t b = ((uint64_t)rand() << 32) | (uint32_t)rand();
		vfs_meta_encode(buf, a, b);
		uint32_t a2;
		uint64_t b2;
		assert_int_equal(vfs_meta_decode(buf, sizeof(buf), &a2, &b2), 0);
		assert_int_equal(a2, a);
		assert_int_equal(b2, b);
	}
	uint32_t a;
	uint64_t b;
	for (size_t n = 0; n < VFS_META_LEN; n++)
		assert_int_equal(vfs_meta_decode(buf, n, &a, &b), -22); /* truncated */
	buf[0] = 2;
	assert_int_equal(vfs_meta_decode(buf, sizeof(buf), &a, &b), -22); /* unknown version */
	vfs_meta_encode(buf, 5, 0);
	assert_int_equal(vfs_meta_decode(buf, sizeof(buf), &a, &b), 0);
	assert_int_equal(b, 0);
	/* the record with a ChangeTime: 32 bytes, readable by the 16-byte decoder too */
	uint8_t full[VFS_META_LEN_MAX];
	struct vfs_meta m = {.attrs = 0x21, .btime = 77, .ctime = 0x01D9000000000001ull}, m2;
	assert_int_equal(vfs_meta_pack(full, &m), VFS_META_LEN_MAX);
	assert_int_equal(vfs_meta_unpack(full, VFS_META_LEN_MAX, &m2), 0);
	assert_int_equal(m2.attrs, 0x21);
	assert_int_equal(m2.btime, 77);
	assert_int_equal(m2.ctime, m.ctime);
	assert_int_equal(vfs_meta_decode(full, VFS_META_LEN_MAX, &a, &b), 0);
	assert_int_equal(b, 77);
	for (size_t n = 0; n < VFS_META_LEN_MAX; n++)
		assert_int_equal(vfs_meta_unpack(full, n, &m2), -22);
	m.ctime = 0;
	assert_int_equal(vfs_meta_pack(full, &m), VFS_META_LEN);
	assert_int_equal(vfs_meta_unpack(full, VFS_META_LEN, &m2), 0);
	assert_int_equal(m2.ctime, 0);
}

static void norm(const char *in, int rc, const char *want)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", in);
	assert_int_equal(vfs_path_normalize(buf), rc);
	if (rc == 0)
		assert_string_equal(buf, want);
}

static void short_of(const char *name, const char *want)
{
	char sn[VFS_SHORT_NAME_MAX + 1];
	size_t n = vfs_short_name(name, sn);
	if (!want) {
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(n, strlen(sn));
	if (strcmp(sn, want))
		fprintf(stderr, "%s -> %s, want %s\n", name, sn, want);
	assert_string_equal(sn, want);
}

static void test_short_names(void **state)
{
	(void)state;
	/* already 8.3, either case: none */
	short_of("README", NULL);
	short_of("a.txt", NULL);
	short_of("ABCDEFGH.TXT", NULL);
	short_of("x~1.c", NULL);
	short_of(".", NULL);
	short_of("..", NULL);
	/* generated: prefix, '~', three of the hash, extension; the hash part is checked for shape */
	char sn[VFS_SHORT_NAME_MAX + 1];
	assert_int_equal(vfs_short_name("torture_search.txt", sn), 12);
	assert_memory_equal(sn, "TORT~", 5);
	assert_string_equal(sn + 8, ".TXT");
	char again[VFS_SHORT_NAME_MAX + 1];
	vfs_short_name("torture_search.txt", again);
	assert_string_equal(sn, again); /* stable */
	vfs_short_name("torture_search2.txt", again);
	assert_string_not_equal(sn, again); /* the hash tells these apart */
	assert_int_equal(vfs_short_name("a b.txt", sn), 10); /* the space makes it long */
	assert_memory_equal(sn, "AB~", 3);
	assert_int_equal(vfs_short_name("archive.tar.gz", sn), 11); /* the last dot's extension */
	assert_memory_equal(sn, "ARCH~", 5);
	assert_string_equal(sn + 8, ".GZ");
	assert_int_equal(vfs_short_name(".profile", sn), 8); /* a leading dot starts no extension */
	assert_memory_equal(sn, "PROF~", 5);
	assert_int_equal(vfs_short_name("+=+.txt", sn), 9); /* nothing legal before the dot */
	assert_memory_equal(sn, "_~", 2);
	assert_int_equal(vfs_short_name("\xc3\xa9t\xc3\xa9.docx", sn), 9); /* non-ASCII dropped */
	assert_memory_equal(sn, "T~", 2);
	assert_string_equal(sn + 5, ".DOC");
	assert_int_equal(vfs_short_name("name.", sn), 8); /* an empty extension adds no dot */
	assert_memory_equal(sn, "NAME~", 5);
	assert_int_equal(vfs_short_name("abcdefghi", sn), 8);
	for (size_t i = 0; sn[i]; i++)
		assert_true(sn[i] == '~' || (sn[i] >= 'A' && sn[i] <= 'Z') || (sn[i] >= '0' && sn[i] <= '9'));
}

static void test_path_normalize(void **state)
{
	(void)state;
	norm("", 0, "");
	norm("a", 0, "a");
	norm("a/b/c", 0, "a/b/c");
	norm("a/..", 0, "");
	norm("a/b/..", 0, "a");
	norm("a/./b", 0, "a/b");
	norm("./a", 0, "a");
	norm(".", 0, "");
	norm("a/b/../../c", 0, "c");
	norm("abc/../de/f/..", 0, "de");
	norm("..", -EINVAL, NULL);
	norm("a/../..", -EINVAL, NULL);
	norm("../etc/passwd", -EINVAL, NULL);
	norm("a/../../etc", -EINVAL, NULL);
	norm("...", 0, "..."); /* not a dot component: vfs_name_check decides */
	norm("a/..b", 0, "a/..b");
	/* empty components stay for vfs_path_check to refuse */
	norm("a//b", 0, "a//b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_check),
	    cmocka_unit_test(test_path_check),
	    cmocka_unit_test(test_path_normalize),
	    cmocka_unit_test(test_wildcards),
	    cmocka_unit_test(test_short_names),
	    cmocka_unit_test(test_meta_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
