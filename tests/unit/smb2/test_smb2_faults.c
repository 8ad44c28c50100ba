/* Allocation-failure sweep over a scripted session (issue 8, item 3): NEGOTIATE (3.1.1 with
 * contexts), SESSION_SETUP (SPNEGO/NTLMv2, two rounds), two TREE_CONNECTs, three CREATEs (file,
 * directory, pipe), then WRITE, READ (plain and encrypted), DCE/RPC BIND and NetrShareEnum on
 * the srvsvc pipe, QUERY_INFO, QUERY_DIRECTORY, a compound CREATE+CLOSE, and CLOSE, run once
 * to count the allocations of the request path, then once for every N with the N-th
 * allocation failing. Each run must end in an error status or a dropped connection, or go
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

/* DCE/RPC (C706 12.6.4.3, MS-RPCE 2.2.2.13) on the srvsvc pipe: BIND to srvsvc 3.0 with NDR,
 * then NetrShareEnum (MS-SRVS 3.1.4.8) level 1 for \\SHOAL. */
static const uint8_t rpc_bind[] = {
	0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0xb8, 0x10, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc8, 0x4f, 0x32, 0x4b,
	0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88,
	0x03, 0x00, 0x00, 0x00, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
	0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x00, 0x00,
};
static const uint8_t rpc_share_enum[] = {
	0x05, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00,
	0x00, 0x00, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x00, 0x00, 0x5c, 0x00, 0x5c, 0x00, 0x53, 0x00, 0x48, 0x00,
	0x4f, 0x00, 0x41, 0x00, 0x4c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};

static uint32_t send_req(struct smb2_fz *f, struct wr *w);

/* WRITE (2.2.21) of data at offset 0. */
static void write_req(struct wr *w, struct smb2_fz *f, uint32_t tid, const uint64_t id[2],
		      const void *data, uint32_t len)
{
	wr_init(w, 256);
	hdr(w, SMB2_WRITE, f->mid++, f->session_id, tid, 0);
	wr_u16(w, 49);
	wr_u16(w, 64 + 48);
	wr_u32(w, len);
	wr_u64(w, 0);
	fid(w, id);
	wr_zero(w, 16);
	wr_bytes(w, data, len);
}

/* READ (2.2.19) of up to 4096 bytes at offset 0. */
static void read_req(struct wr *w, struct smb2_fz *f, uint32_t tid, const uint64_t id[2])
{
	wr_init(w, 256);
	hdr(w, SMB2_READ, f->mid++, f->session_id, tid, 0);
	wr_u16(w, 49);
	wr_u8(w, 0);
	wr_u8(w, 0);
	wr_u32(w, 4096);
	wr_u64(w, 0);
	fid(w, id);
	wr_zero(w, 16);
	wr_u8(w, 0);
}

/* The pipe: BIND then a call, each a WRITE and a READ of the reply; the replies must be the
 * right PDU types (bind_ack 12, response 2) with the call's id. */
static bool pipe_calls(struct smb2_fz *f)
{
	static const struct {
		const uint8_t *pdu;
		uint32_t len;
		uint8_t reply_type;
	} calls[] = {{rpc_bind, sizeof(rpc_bind), 12}, {rpc_share_enum, sizeof(rpc_share_enum), 2}};
	for (size_t i = 0; i < 2; i++) {
		struct wr w, r;
		write_req(&w, f, SMB2_FZ_TREE_IPC, f->pipe_id, calls[i].pdu, calls[i].len);
		if (send_req(f, &w) != STATUS_SUCCESS)
			return false;
		read_req(&w, f, SMB2_FZ_TREE_IPC, f->pipe_id);
		uint32_t st = UINT32_MAX;
		int rc = wr_ok(&w) ? smb2_fz_input_resp(f, w.p, w.len, &st, &r) : -1;
		wr_free(&w);
		bool ok = rc == 0 && (st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW);
		if (ok) {
			assert_true(r.len >= 64 + 16 + 16);
			uint8_t doff = r.p[64 + 2];
			assert_true((size_t)doff + 16 <= r.len);
			uint8_t type = r.p[doff + 2];
			/* a FAULT (3) is the RPC way to report the failed allocation (the NDR
			   string decoder reports it as nca_s_fault_ndr) */
			if (type == 3 && fail_at)
				ok = false;
			else if (type != calls[i].reply_type)
				fail_msg("run %lu: reply type %u, status 0x%x", fail_at, type,
					 get_le32(r.p + doff + 24));
			assert_int_equal(get_le32(r.p + doff + 12), get_le32(calls[i].pdu + 12));
		}
		wr_free(&r);
		if (!ok)
			return false;
	}
	return true;
}

/* One request; returns its status, or UINT32_MAX when the connection was dropped (rc -1) or
 * there was no response. A successful READ's data is checked against payload. */
static uint32_t send_req(struct smb2_fz *f, struct wr *w)
{
	uint32_t st = UINT32_MAX;
	int rc = wr_ok(w) ? smb2_fz_input(f, w->p, w->len, &st) : -1;
	wr_free(w);
	return rc < 0 ? UINT32_MAX : st;
}

/* Sends a READ request of the disk file (plain, or inside a transform under the session's
 * key) and checks its data; false on an error status or a disconnect. */
static bool read_back(struct smb2_fz *f, struct wr *w, bool encrypt)
{
	uint8_t *frame = NULL;
	size_t len = w->len;
	uint8_t enc_key[32];
	enum smb2_cipher cipher = f->c->cipher;
	if (encrypt) {
		if (f->c->nsessions != 1 || !smb2_conn_can_encrypt(f->c)) {
			wr_free(w);
			return false;
		}
		struct smb2_session *s = f->c->sessions[0];
		memcpy(enc_key, s->enc_key, sizeof(enc_key));
		/* 2.2.41 transform header: nonce, OriginalMessageSize, Flags = Encrypted, SessionId */
		frame = calloc(1, 52 + w->len);
		assert_non_null(frame);
		put_le32(frame, SMB2_TRANSFORM_ID);
		put_le64(frame + 20, f->mid);
		put_le32(frame + 36, (uint32_t)w->len);
		put_le16(frame + 42, 1);
		put_le64(frame + 44, f->session_id);
		memcpy(frame + 52, w->p, w->len);
		struct iovec iov = {frame + 52, w->len};
		assert_int_equal(smb2_aead_encrypt(cipher, s->dec_key, frame + 20, frame + 20, 32,
						   &iov, 1, frame + 4),
				 0);
		len += 52;
	}
	struct wr r;
	uint32_t st = UINT32_MAX;
	int rc = wr_ok(w) ? smb2_fz_input_resp(f, frame ? frame : w->p, len, &st, &r) : -1;
	wr_free(w);
	free(frame);
	const uint8_t *m = r.p;
	size_t mlen = r.len;
	if (encrypt && rc == 0 && r.len > 52) {
		/* the response came in a transform: it must decrypt */
		assert_int_equal(get_le32(r.p), SMB2_TRANSFORM_ID);
		struct iovec riov = {r.p + 52, r.len - 52};
		assert_int_equal(smb2_aead_decrypt(cipher, enc_key, r.p + 20, r.p + 20, 32, &riov,
						   1, r.p + 4),
				 0);
		m = r.p + 52;
		mlen = r.len - 52;
		st = get_le32(m + HDR_OFF_STATUS);
	}
	if (rc == 0 && st == STATUS_SUCCESS) {
		/* 2.2.20: DataOffset (from the header) and DataLength */
		assert_true(mlen >= 64 + 16);
		uint8_t doff = m[64 + 2];
		uint32_t dlen = get_le32(m + 64 + 4);
		assert_int_equal(dlen, sizeof(payload));
		assert_true((size_t)doff + dlen <= mlen);
		assert_memory_equal(m + doff, payload, sizeof(payload));
	}
	wr_free(&r);
	return rc == 0 && st == STATUS_SUCCESS;
}

/* false when the script cannot go on (an error status or a disconnect). */
static bool script(struct smb2_fz *f)
{
	uint32_t tid = SMB2_FZ_TREE_DISK;
	struct wr w;
	/* WRITE, then READ back: the data is what was written, never something else */
	write_req(&w, f, tid, f->file_id, payload, sizeof(payload));
	if (send_req(f, &w) != STATUS_SUCCESS)
		return false;
	read_req(&w, f, tid, f->file_id);
	if (!read_back(f, &w, false))
		return false;
	/* the same READ encrypted (3.1.1 negotiated AES-128-GCM): decryption, the chain behind
	   it and the encryption of the response */
	read_req(&w, f, tid, f->file_id);
	if (!read_back(f, &w, true))
		return false;
	if (!pipe_calls(f))
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
