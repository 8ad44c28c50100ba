/* Allocation-failure sweep over a scripted session (issue 8, item 3): NEGOTIATE (3.1.1 with
 * contexts), SESSION_SETUP (SPNEGO/NTLMv2, two rounds), two TREE_CONNECTs, three CREATEs (file,
 * directory, pipe), then WRITE, READ, QUERY_INFO, QUERY_DIRECTORY, a compound CREATE+CLOSE, and
 * CLOSE, run once to count the allocations of the request path, then once for every N with the
 * N-th allocation failing. Each run must end in an error status or a dropped connection, or go
 * through whole when what failed could be done without; never a crash (ASan), a badly framed
 * response (the fixture checks every response) or READ data other than what was written. The
 * connection is then torn down and LeakSanitizer, at exit, finds nothing left.
 *
 * Allocations are counted only inside smb2_conn_input (the fixture's hook): the test's own and
 * the client side of SPNEGO never fail. malloc, calloc, realloc, strdup and strndup of the
 * linked project code go through the --wrap wrappers below (meson.build); allocations inside
 * OpenSSL or libc are not reached and are not swept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/utf16.h"
#include "smb2_fixture.h"

/* ---- the failing allocator ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static bool armed;
static unsigned long count, fail_at; /* fail_at 0: count only */
static unsigned long failures;

static bool should_fail(void)
{
	if (!armed)
		return false;
	count++;
	if (fail_at && count == fail_at) {
		failures++;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}

static void hook(bool entering)
{
	armed = entering;
}

/* ---- the script after smb2_fz_open_all ---- */

static void hdr(struct wr *w, uint16_t cmd, uint64_t mid, uint64_t sid, uint32_t tid,
		uint32_t flags)
{
	wr_u32(w, SMB2_PROTOCOL_ID);
	wr_u16(w, 64);
	wr_u16(w, 1);
	wr_u32(w, 0);
	wr_u16(w, cmd);
	wr_u16(w, 64);
	wr_u32(w, flags);
	wr_u32(w, 0);
	wr_u64(w, mid);
	wr_u32(w, 0);
	wr_u32(w, tid);
	wr_u64(w, sid);
	wr_zero(w, 16);
}

static void fid(struct wr *w, const uint64_t id[2])
{
	wr_u64(w, id[0]);
	wr_u64(w, id[1]);
}

static const char payload[] = "fault injection: these bytes must come back as written";

/* One request; returns its status, or UINT32_MAX when the connection was dropped (rc -1) or
 * there was no response. A successful READ's data is checked against payload. */
static uint32_t send_req(struct smb2_fz *f, struct wr *w)
{
	uint32_t st = UINT32_MAX;
	int rc = wr_ok(w) ? smb2_fz_input(f, w->p, w->len, &st) : -1;
	wr_free(w);
	return rc < 0 ? UINT32_MAX : st;
}

/* false when the script cannot go on (an error status or a disconnect). */
static bool script(struct smb2_fz *f)
{
	uint32_t tid = SMB2_FZ_TREE_DISK;
	struct wr w;
	/* WRITE (2.2.21) at offset 0 */
	wr_init(&w, 256);
	hdr(&w, SMB2_WRITE, f->mid++, f->session_id, tid, 0);
	wr_u16(&w, 49);
	wr_u16(&w, 64 + 48);
	wr_u32(&w, sizeof(payload));
	wr_u64(&w, 0);
	fid(&w, f->file_id);
	wr_zero(&w, 16);
	wr_bytes(&w, payload, sizeof(payload));
	if (send_req(f, &w) != STATUS_SUCCESS)
		return false;
	/* READ (2.2.19) back, checked here with the fixture's response copy */
	wr_init(&w, 256);
	hdr(&w, SMB2_READ, f->mid++, f->session_id, tid, 0);
	wr_u16(&w, 49);
	wr_u8(&w, 0);
	wr_u8(&w, 0);
	wr_u32(&w, 4096);
	wr_u64(&w, 0);
	fid(&w, f->file_id);
	wr_zero(&w, 16);
	wr_u8(&w, 0);
	struct wr r;
	uint32_t st = UINT32_MAX;
	int rc = wr_ok(&w) ? smb2_fz_input_resp(f, w.p, w.len, &st, &r) : -1;
	wr_free(&w);
	if (rc == 0 && st == STATUS_SUCCESS) {
		/* 2.2.20: DataOffset (from the header) and DataLength; the data is what was
		   written, never something else */
		assert_true(r.len >= 64 + 16);
		uint8_t doff = r.p[64 + 2];
		uint32_t dlen = get_le32(r.p + 64 + 4);
		assert_int_equal(dlen, sizeof(payload));
		assert_true((size_t)doff + dlen <= r.len);
		assert_memory_equal(r.p + doff, payload, sizeof(payload));
	}
	wr_free(&r);
	if (rc < 0 || st != STATUS_SUCCESS)
		return false;
	/* QUERY_INFO (2.2.37) FileAllInformation */
	wr_init(&w, 256);
	hdr(&w, SMB2_QUERY_INFO, f->mid++, f->session_id, tid, 0);
	wr_u16(&w, 41);
	wr_u8(&w, 1);
	wr_u8(&w, 18);
	wr_u32(&w, 4096);
	wr_u16(&w, 0);
	wr_u16(&w, 0);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	fid(&w, f->file_id);
	wr_u8(&w, 0);
	if (send_req(f, &w) != STATUS_SUCCESS)
		return false;
	/* QUERY_DIRECTORY (2.2.33) "*" on the share root */
	wr_init(&w, 256);
	hdr(&w, SMB2_QUERY_DIRECTORY, f->mid++, f->session_id, tid, 0);
	wr_u16(&w, 33);
	wr_u8(&w, 37); /* FileIdBothDirectoryInformation */
	wr_u8(&w, 1);  /* RESTART_SCANS */
	wr_u32(&w, 0);
	fid(&w, f->dir_id);
	wr_u16(&w, 64 + 32);
	wr_u16(&w, 2);
	wr_u32(&w, 65536);
	wr_u16(&w, '*');
	if (send_req(f, &w) != STATUS_SUCCESS)
		return false;
	/* a compound: CREATE "new.txt" (FILE_OPEN_IF) + related CLOSE */
	uint8_t *name;
	size_t nlen;
	if (utf8_to_utf16le("new.txt", &name, &nlen) < 0)
		return false;
	wr_init(&w, 512);
	hdr(&w, SMB2_CREATE, f->mid++, f->session_id, tid, 0);
	wr_u16(&w, 57);
	wr_u8(&w, 0);
	wr_u8(&w, 0);
	wr_u32(&w, 2);
	wr_zero(&w, 16);
	wr_u32(&w, 0x0012019F); /* generic read/write */
	wr_u32(&w, 0x80);
	wr_u32(&w, 7);
	wr_u32(&w, 3); /* FILE_OPEN_IF */
	wr_u32(&w, 0x40);
	wr_u16(&w, 64 + 56);
	wr_u16(&w, (uint16_t)nlen);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_bytes(&w, name, nlen);
	free(name);
	wr_align(&w, 8);
	size_t second = w.len;
	wr_set_u32(&w, HDR_OFF_NEXT_COMMAND, (uint32_t)second);
	hdr(&w, SMB2_CLOSE, f->mid++, f->session_id, tid, SMB2_FLAGS_RELATED_OPERATIONS);
	wr_u16(&w, 24);
	wr_u16(&w, 0);
	wr_u32(&w, 0);
	wr_u64(&w, UINT64_MAX);
	wr_u64(&w, UINT64_MAX);
	if (send_req(f, &w) != STATUS_SUCCESS)
		return false;
	/* CLOSE (2.2.15) the file */
	wr_init(&w, 256);
	hdr(&w, SMB2_CLOSE, f->mid++, f->session_id, tid, 0);
	wr_u16(&w, 24);
	wr_u16(&w, 1); /* POSTQUERY_ATTRIB */
	wr_u32(&w, 0);
	fid(&w, f->file_id);
	return send_req(f, &w) == STATUS_SUCCESS;
}

/* One run; with fail_at set, the N-th allocation of the request path fails. Returns whether
 * the whole script succeeded. */
static bool run_once(unsigned long n)
{
	struct smb2_fz f;
	count = 0;
	fail_at = n;
	bool all = false;
	if (smb2_fz_begin(&f)) {
		all = smb2_fz_open_all(&f) && script(&f);
		if (!all && f.c) {
			/* whatever the state, the connection answers with a framed response or
			   drops: an ECHO (2.2.28) with no failure left to inject */
			unsigned long keep = fail_at;
			fail_at = 0;
			struct wr w;
			wr_init(&w, 128);
			hdr(&w, SMB2_ECHO, f.mid++, 0, 0, 0);
			wr_u16(&w, 4);
			wr_u16(&w, 0);
			(void)send_req(&f, &w);
			fail_at = keep;
		}
	}
	smb2_fz_end(&f);
	return all;
}

static void t_sweep(void **st)
{
	(void)st;
	smb2_fz_input_hook = hook;
	assert_true(run_once(0));
	unsigned long total = count;
	print_message("request path: %lu allocations in the script\n", total);
	assert_true(total > 20);
	unsigned long failed_runs = 0;
	for (unsigned long n = 1; n <= total; n++) {
		unsigned long before = failures;
		if (!run_once(n))
			failed_runs++;
		/* the N-th allocation was reached (a run can only end early once it has failed) */
		assert_int_equal(failures, before + 1);
	}
	print_message("%lu runs, %lu ended with an error status or a disconnect\n", total,
		      failed_runs);
	/* most failures must be reported, not swallowed (a run can succeed when what failed
	   was optional, e.g. a log line or a cache) */
	assert_true(failed_runs > 0);
	/* and the path is whole again once allocations succeed */
	assert_true(run_once(0));
	smb2_fz_input_hook = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
