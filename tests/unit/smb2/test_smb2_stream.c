/* Stream name syntax (smb2_stream_name.c) and the per-stream share modes of the state layer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smb2/smb2_stream.h"
#include "state/state.h"

struct split_case {
	const char *in;
	NTSTATUS st;
	const char *path, *stream;
	bool data;
};

static void test_split(void **state)
{
	(void)state;
	static const struct split_case cases[] = {
	    {"file.txt", STATUS_SUCCESS, "file.txt", NULL, false},
	    {"dir\\file.txt:Stream One", STATUS_SUCCESS, "dir\\file.txt", "Stream One", false},
	    {"f:s:$DATA", STATUS_SUCCESS, "f", "s", false},
	    {"f:s:$dAtA", STATUS_SUCCESS, "f", "s", false},
	    {"f::$DATA", STATUS_SUCCESS, "f", NULL, true},
	    {"f::$data", STATUS_SUCCESS, "f", NULL, true},
	    {"f:\x05Stream\n One", STATUS_SUCCESS, "f", "\x05Stream\n One", false},
	    {"f:?Stream*", STATUS_SUCCESS, "f", "?Stream*", false},
	    {"f:", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {"f:s:", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {"f:s:$FOO", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {"f:s:?D*a", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {"f:s:$DATA:x", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {"d:s\\f", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {"f:a/b", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	    {":s", STATUS_OBJECT_NAME_INVALID, NULL, NULL, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct split_case *c = &cases[i];
		char *p = strdup(c->in), *s = (char *)1;
		bool data = !c->data;
		assert_int_equal(smb2_stream_split(p, &s, &data), c->st);
		if (c->st == STATUS_SUCCESS) {
			assert_string_equal(p, c->path);
			if (c->stream)
				assert_string_equal(s, c->stream);
			else
				assert_null(s);
			assert_int_equal(data, c->data);
		} else {
			assert_null(s);
		}
		free(s);
		free(p);
	}
	char longname[300] = "f:";
	memset(longname + 2, 'x', 250);
	longname[252] = 0;
	char *s;
	bool data;
	assert_int_equal(smb2_stream_split(longname, &s, &data), STATUS_OBJECT_NAME_INVALID);
}

static void test_stream_id(void **state)
{
	(void)state;
	assert_int_not_equal(smb2_stream_id("a"), 0);
	assert_int_not_equal(smb2_stream_id(""), 0);
	assert_int_not_equal(smb2_stream_id("Stream One"), smb2_stream_id("Stream Two"));
	assert_int_equal(smb2_stream_id("x"), smb2_stream_id("x"));
}

#define RW (STATE_FILE_READ_DATA | STATE_FILE_WRITE_DATA)

/* Opens of different streams of one file never conflict; a DELETE open of the file needs every
 * open stream to share delete; a delete-pending file refuses its streams and goes with the
 * last open of any stream; a stream's own delete removes only the stream. */
static void test_stream_sharing(void **state)
{
	(void)state;
	struct state_db *db = state_db_new();
	struct state_key file = {1, 9, 0}, s1 = {1, 9, 11}, s2 = {1, 9, 22};
	struct state_open *a, *b, *c, *d;
	assert_int_equal(state_share_check_add(db, &s1, RW, 0, &a), 0);
	assert_int_equal(state_share_check_add(db, &s2, RW, 0, &b), 0);
	assert_int_equal(state_share_check_add(db, &s1, RW, 0, &c), -EBUSY);
	assert_int_equal(state_share_check_add(db, &file, RW, 0, &c), 0);
	assert_int_equal(state_share_check_add(db, &file, STATE_DELETE, STATE_SHARE_DELETE, &d),
			 -EBUSY);
	assert_int_equal(state_share_remove(c), 0);
	assert_int_equal(state_share_remove(b), 0);
	assert_int_equal(state_share_remove(a), 0);
	/* the stream shares delete: the file may go, and stays until the stream closes */
	assert_int_equal(state_share_check_add(db, &s1, RW, STATE_SHARE_DELETE, &a), 0);
	assert_int_equal(state_share_check_add(db, &file, STATE_DELETE, STATE_SHARE_DELETE, &d), 0);
	state_open_set_delete_on_close(d, true);
	assert_int_equal(state_share_remove(d), 0);
	assert_true(state_delete_pending(a));
	assert_int_equal(state_share_check_add(db, &s1, RW, 7, &b), -EIDRM);
	assert_int_equal(state_share_check_add(db, &file, RW, 7, &b), -EIDRM);
	assert_int_equal(state_share_remove(a), STATE_DELETE_FILE);
	/* deleting a stream: pending for its opens, done by the last of them */
	assert_int_equal(state_share_check_add(db, &s1, RW | STATE_DELETE, 7, &a), 0);
	assert_int_equal(state_share_check_add(db, &s1, RW, 7, &b), 0);
	assert_int_equal(state_share_check_add(db, &file, RW, 7, &c), 0);
	state_set_delete_pending(a, true);
	assert_true(state_delete_pending(b));
	assert_false(state_delete_pending(c));
	assert_int_equal(state_share_check_add(db, &s1, RW, 7, &d), -EIDRM);
	assert_int_equal(state_share_remove(a), 0);
	assert_int_equal(state_share_remove(b), STATE_DELETE_STREAM);
	assert_int_equal(state_share_remove(c), 0);

	/* probing (a rename's check of its target directory) adds nothing */
	struct state_key dir = {1, 50, 0};
	assert_int_equal(state_share_probe(db, &dir, STATE_FILE_WRITE_DATA, 3), 0);
	assert_int_equal(state_share_check_add(db, &dir, STATE_FILE_READ_DATA, 7, &a), 0);
	assert_int_equal(state_share_probe(db, &dir, STATE_FILE_WRITE_DATA, 3), 0);
	assert_int_equal(state_share_check_add(db, &dir, STATE_DELETE, 7, &b), 0);
	assert_int_equal(state_share_probe(db, &dir, STATE_FILE_WRITE_DATA, 3), -EBUSY);
	assert_int_equal(state_share_remove(b), 0);
	assert_int_equal(state_open_count(a), 1);
	assert_int_equal(state_share_remove(a), 0);
	state_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_stream_id),
	    cmocka_unit_test(test_stream_sharing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
