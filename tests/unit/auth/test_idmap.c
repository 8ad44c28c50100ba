/* SIDs and the id mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/idmap.h"

static void test_sid_strings(void **state)
{
	const char *good[] = {"S-1-5-21-1-2-3",
			      "S-1-1-0",
			      "S-1-5-32-544",
			      "S-1-22-1-4294967295",
			      "S-1-0x123456789ABC-7",
			      "S-1-5",
			      "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15"};
	char buf[200];
	struct sid sid;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(sid_parse(good[i], &sid), 0);
		assert_string_equal(sid_to_string(&sid, buf, sizeof(buf)), good[i]);
	}
	assert_int_equal(sid_parse("S-1-0x123456789ABC-7", &sid), 0);
	assert_int_equal(sid.id_auth[0], 0x12);
	assert_int_equal(sid.id_auth[5], 0xbc);
	const char *bad[] = {"",
			     "S",
			     "S-",
			     "S-1",
			     "S-2-5",
			     "S-1-5-",
			     "S-1--5",
			     "S-1-5-x",
			     "X-1-5",
			     "S-1-5-4294967296",
			     "S-1-5 ",
			     "S-1-5--1",
			     "S-1-0x",
			     "S-1-281474976710656",
			     "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
			     "S-1-+5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sid_parse(bad[i], &sid), -EINVAL);
	/* the longest SID fits in 190 bytes */
	assert_int_equal(sid_parse("S-1-0xFFFFFFFFFFFF-4294967295-4294967295-4294967295-4294967295-"
				   "4294967295-4294967295-4294967295-4294967295-4294967295-"
				   "4294967295-4294967295-4294967295-4294967295-4294967295-"
				   "4294967295",
				   &sid),
			 0);
	assert_true(strlen(sid_to_string(&sid, buf, 190)) < 190);
}

static void test_sid_wire(void **state)
{
	struct sid a, b;
	uint8_t buf[80];
	sid_parse("S-1-5-21-100-200-300-1001", &a);
	struct wr w;
	wr_init_fixed(&w, buf, sizeof(buf));
	sid_write(&w, &a);
	assert_int_equal(w.len, sid_wire_len(&a));
	assert_int_equal(w.len, 8 + 4 * 5);
	static const uint8_t want[] = {1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 100, 0, 0, 0};
	assert_memory_equal(buf, want, sizeof(want));
	struct rd r = rd_make(buf, w.len);
	assert_int_equal(sid_read(&r, &b), 0);
	assert_true(sid_equal(&a, &b));
	for (size_t n = 0; n < w.len; n++) {
		r = rd_make(buf, n);
		assert_int_equal(sid_read(&r, &b), -EINVAL);
	}
	buf[1] = 16; /* too many sub-authorities */
	r = rd_make(buf, sizeof(buf));
	assert_int_equal(sid_read(&r, &b), -EINVAL);
	buf[1] = 5;
	buf[0] = 2; /* revision */
	r = rd_make(buf, sizeof(buf));
	assert_int_equal(sid_read(&r, &b), -EINVAL);
	b = a;
	b.sub_auths[4]++;
	assert_false(sid_equal(&a, &b));
	sid_parse("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", &b);
	assert_int_equal(sid_append(&b, 1), -EINVAL);
}

static void test_idmap(void **state)
{
	char dir[64], sub[96], path[256], buf[200];
	snprintf(dir, sizeof(dir), "/tmp/shoal-idmap-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	struct idmap *im = idmap_open(sub);
	assert_non_null(im);
	const struct sid *m = idmap_machine_sid(im);
	assert_int_equal(m->num_auths, 4);
	assert_int_equal(m->sub_auths[0], 21);
	char first[200];
	sid_to_string(m, first, sizeof(first));
	/* the same SID after a reopen */
	struct idmap *im2 = idmap_open(sub);
	assert_non_null(im2);
	assert_string_equal(sid_to_string(idmap_machine_sid(im2), buf, sizeof(buf)), first);
	idmap_close(im2);

	struct sid s;
	uint32_t id;
	bool grp;
	idmap_uid_to_sid(im, 1000, &s);
	assert_string_equal(sid_to_string(&s, buf, sizeof(buf)), "S-1-22-1-1000");
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), 0);
	assert_int_equal(id, 1000);
	assert_false(grp);
	idmap_gid_to_sid(im, 100, &s);
	assert_string_equal(sid_to_string(&s, buf, sizeof(buf)), "S-1-22-2-100");
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), 0);
	assert_int_equal(id, 100);
	assert_true(grp);
	idmap_rid_to_sid(im, 1000 + 2 * 1234, &s);
	snprintf(path, sizeof(path), "%s-%u", first, 1000 + 2 * 1234);
	assert_string_equal(sid_to_string(&s, buf, sizeof(buf)), path);
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), 0);
	assert_int_equal(id, 1234);
	assert_false(grp);
	idmap_rid_to_sid(im, 1001 + 2 * 55, &s);
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), 0);
	assert_int_equal(id, 55);
	assert_true(grp);
	idmap_rid_to_sid(im, 500, &s);
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), -ENOENT);
	sid_parse("S-1-5-21-1-2-3-1002", &s);
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), -ENOENT);
	sid_parse("S-1-1-0", &s);
	assert_int_equal(idmap_sid_to_unix(im, &s, &id, &grp), -ENOENT);
	idmap_close(im);

	/* a corrupt file is an error, not silently replaced (files would change owner) */
	snprintf(path, sizeof(path), "%s/machine.sid", sub);
	FILE *f = fopen(path, "w");
	fputs("S-1-5-32-544\n", f);
	fclose(f);
	assert_null(idmap_open(sub));
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sid_strings),
	    cmocka_unit_test(test_sid_wire),
	    cmocka_unit_test(test_idmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
