/* Unit tests for lib/ntstatus.h: a name for every code in the header, the errno map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ntstatus.h"

/* Reads ntstatus.h itself so that a code added there without a name fails this test. */
static void t_every_header_code_named(void **st)
{
	(void)st;
	FILE *f = fopen(NTSTATUS_H_PATH, "r");
	assert_non_null(f);
	char line[256];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		char name[128];
		unsigned val;
		if (sscanf(line, "#define %127s 0x%xu", name, &val) != 2 ||
		    strncmp(name, "STATUS_", 7))
			continue;
		n++;
		const char *got = ntstatus_name(val);
		if (strcmp(got, name)) {
			fprintf(stderr, "%s (0x%08X) is named %s\n", name, val, got);
			fail();
		}
	}
	fclose(f);
	assert_true(n > 100);
}

static void t_names(void **st)
{
	(void)st;
	assert_string_equal(ntstatus_name(STATUS_SUCCESS), "STATUS_SUCCESS");
	assert_string_equal(ntstatus_name(STATUS_ACCESS_DENIED), "STATUS_ACCESS_DENIED");
	assert_string_equal(ntstatus_name(STATUS_NETWORK_NAME_NOT_FOUND),
			    "STATUS_BAD_NETWORK_NAME");
	assert_string_equal(ntstatus_name(0xC0DEF00Du), "0xC0DEF00D");
	assert_string_equal(ntstatus_name(0x00000001u), "0x00000001");
	assert_true(nt_is_error(STATUS_ACCESS_DENIED));
	assert_false(nt_is_error(STATUS_BUFFER_OVERFLOW));
	assert_false(nt_is_error(STATUS_PENDING));
}

static void *name_thread(void *arg)
{
	(void)arg;
	return (void *)ntstatus_name(0xC0DE0001u);
}

static void t_name_buffer_per_thread(void **st)
{
	(void)st;
	const char *mine = ntstatus_name(0xC0DE0002u);
	pthread_t th;
	void *other;
	assert_int_equal(pthread_create(&th, NULL, name_thread, NULL), 0);
	assert_int_equal(pthread_join(th, &other), 0);
	assert_ptr_not_equal(mine, other);
	assert_string_equal(mine, "0xC0DE0002");
}

static void t_errno(void **st)
{
	(void)st;
	static const struct {
		int e;
		NTSTATUS s;
	} cases[] = {
	    {0, STATUS_SUCCESS},
	    {ENOENT, STATUS_OBJECT_NAME_NOT_FOUND},
	    {ENOTDIR, STATUS_OBJECT_PATH_NOT_FOUND},
	    {EACCES, STATUS_ACCESS_DENIED},
	    {EPERM, STATUS_ACCESS_DENIED},
	    {EEXIST, STATUS_OBJECT_NAME_COLLISION},
	    {ENOTEMPTY, STATUS_DIRECTORY_NOT_EMPTY},
	    {EISDIR, STATUS_FILE_IS_A_DIRECTORY},
	    {ENOSPC, STATUS_DISK_FULL},
	    {EDQUOT, STATUS_QUOTA_EXCEEDED},
	    {EROFS, STATUS_MEDIA_WRITE_PROTECTED},
	    {ENAMETOOLONG, STATUS_OBJECT_NAME_INVALID},
	    {EXDEV, STATUS_NOT_SAME_DEVICE},
	    {ELOOP, STATUS_OBJECT_PATH_NOT_FOUND},
	    {EAGAIN, STATUS_LOCK_NOT_GRANTED},
	    {EWOULDBLOCK, STATUS_LOCK_NOT_GRANTED},
	    {ENOMEM, STATUS_NO_MEMORY},
	    {EMFILE, STATUS_TOO_MANY_OPENED_FILES},
	    {ENFILE, STATUS_TOO_MANY_OPENED_FILES},
	    {EBADF, STATUS_INVALID_HANDLE},
	    {EINVAL, STATUS_INVALID_PARAMETER},
	    {EFBIG, STATUS_DISK_FULL},
	    {ETXTBSY, STATUS_SHARING_VIOLATION},
	    {EBUSY, STATUS_SHARING_VIOLATION},
	    {EMLINK, STATUS_TOO_MANY_LINKS},
	    {EIO, STATUS_IO_DEVICE_ERROR},
	    {ENOTSUP, STATUS_NOT_SUPPORTED},
	    {EOPNOTSUPP, STATUS_NOT_SUPPORTED},
	    {ENODATA, STATUS_NO_EAS_ON_FILE},
	    {ENOSYS, STATUS_NOT_IMPLEMENTED},
	    {ECANCELED, STATUS_CANCELLED},
	    {ETIMEDOUT, STATUS_IO_TIMEOUT},
	    {ECONNRESET, STATUS_CONNECTION_RESET},
	    {EPIPE, STATUS_PIPE_BROKEN},
	    {ENODEV, STATUS_NO_SUCH_DEVICE},
	    {ESRCH, STATUS_UNSUCCESSFUL},
	    {EDOM, STATUS_UNSUCCESSFUL},
	    {100000, STATUS_UNSUCCESSFUL},
	    {INT_MAX, STATUS_UNSUCCESSFUL},
	    {INT_MIN, STATUS_UNSUCCESSFUL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		NTSTATUS pos = ntstatus_from_errno(cases[i].e);
		NTSTATUS neg = ntstatus_from_errno(cases[i].e == INT_MIN ? INT_MIN : -cases[i].e);
		if (pos != cases[i].s || neg != cases[i].s) {
			fprintf(stderr, "errno %d: got %s/%s want %s\n", cases[i].e,
				ntstatus_name(pos), ntstatus_name(neg), ntstatus_name(cases[i].s));
			fail();
		}
	}
	/* every mapped errno gives an error-class status */
	for (int e = 1; e < 200; e++)
		assert_true(nt_is_error(ntstatus_from_errno(e)));
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_every_header_code_named),
	    cmocka_unit_test(t_names),
	    cmocka_unit_test(t_name_buffer_per_thread),
	    cmocka_unit_test(t_errno),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
