/* smbtorture's test-only FSCTLs (smb2_torture.c) on the session fixture of the fuzz targets, and
 * the rule they exercise: a CLOSE waits for the requests that hold its open (smb2_close_wait).
 *   - off by default: the codes are unknown FSCTLs (INVALID_DEVICE_REQUEST);
 *   - IOCTL_RESPONSE_BODY_PADDING8: buffers at 0x78 behind 8 zero bytes, output bytes of 8;
 *   - GLOBAL_READ_RESPONSE_BODY_PADDING8: later READ data at 0x58, the same bytes;
 *   - FSP_ASYNC_SLEEP then CLOSE: both go pending; when the sleep ends the IOCTL completes
 *     first with success, then the CLOSE, and the handle is gone;
 *   - CANCEL of the sleep releases the open: the next CLOSE completes at once;
 *   - the connection ending with both pending frees everything (ASan/LeakSanitizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "smb2_fixture.h"

#define FSCTL_PADDING8 0x83848013u
#define FSCTL_READ_PADDING8 0x83848023u
#define FSCTL_ASYNC_SLEEP 0x83848043u

/* The transport of the asynchronous responses: kept here in order. */
struct capture {
	int n;
	uint8_t *msg[8];
	size_t len[8];
};

static void cap_send(void *priv, struct wr *w, size_t start)
{
	struct capture *cap = priv;
	if (cap->n < 8 && w->len > start) {
		cap->len[cap->n] = w->len - start;
		cap->msg[cap->n] = malloc(cap->len[cap->n]);
		memcpy(cap->msg[cap->n], w->p + start, cap->len[cap->n]);
		cap->n++;
	}
	wr_free(w);
}

static void cap_wake(void *priv)
{
	(void)priv; /* the test runs smb2_conn_run_async itself */
}

static const struct smb2_transport cap_tp = {.wake = cap_wake, .send = cap_send};

struct t {
	struct smb2_fz f;
	struct capture cap;
};

/* Swaps the fixture's configuration for the same with "smbtorture fsctls = on" (or not). */
static void set_torture(struct t *t, bool on)
{
	struct shoal_conf *cur = smb2_server_conf(t->f.srv);
	const struct conf_share *sh = conf_find_share(cur, "test");
	assert_non_null(sh);
	char text[1024], err[256];
	snprintf(text, sizeof(text),
		 "[global]\n state directory = %s\n log level = 0\n smbtorture fsctls = %s\n"
		 "[test]\n path = %s\n read only = no\n",
		 cur->state_dir, on ? "yes" : "no", sh->path);
	conf_put(cur);
	struct shoal_conf *c = NULL;
	assert_int_equal(conf_load_string(text, "unit", &c, err, sizeof(err)), 0);
	smb2_server_set_conf(t->f.srv, c); /* takes the reference */
}

static int setup(void **st)
{
	struct t *t = calloc(1, sizeof(*t));
	assert_true(smb2_fz_begin(&t->f));
	assert_true(smb2_fz_open_all(&t->f));
	t->f.c->tp = &cap_tp;
	t->f.c->loop_priv = &t->cap;
	set_torture(t, true);
	*st = t;
	return 0;
}

static int teardown(void **st)
{
	struct t *t = *st;
	smb2_fz_end(&t->f);
	for (int i = 0; i < t->cap.n; i++)
		free(t->cap.msg[i]);
	free(t);
	return 0;
}

static void hdr(struct wr *w, struct t *t, uint16_t cmd, uint64_t mid)
{
	wr_u32(w, SMB2_PROTOCOL_ID);
	wr_u16(w, 64);
	wr_u16(w, 1);
	wr_u32(w, 0);
	wr_u16(w, cmd);
	wr_u16(w, 64);
	wr_u32(w, 0);
	wr_u32(w, 0);
	wr_u64(w, mid);
	wr_u32(w, 0);
	wr_u32(w, SMB2_FZ_TREE_DISK);
	wr_u64(w, t->f.session_id);
	wr_zero(w, 16);
}

/* Sends one request; returns its response's status, the response in *r (freed by the caller). */
static uint32_t send_req(struct t *t, struct wr *w, struct wr *r)
{
	uint32_t st;
	assert_true(wr_ok(w));
	assert_int_equal(smb2_fz_input_resp(&t->f, w->p, w->len, &st, r), 0);
	wr_free(w);
	return st;
}

static uint32_t ioctl_req(struct t *t, uint32_t ctl, const uint64_t fid[2], const uint8_t *in,
			  uint32_t inlen, uint32_t max_out, struct wr *r)
{
	struct wr w;
	wr_init(&w, 256);
	hdr(&w, t, SMB2_IOCTL, t->f.mid++);
	wr_u16(&w, 57);
	wr_u16(&w, 0);
	wr_u32(&w, ctl);
	wr_u64(&w, fid[0]);
	wr_u64(&w, fid[1]);
	wr_u32(&w, inlen ? 64 + 56 : 0);
	wr_u32(&w, inlen);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_u32(&w, max_out);
	wr_u32(&w, 1); /* SMB2_0_IOCTL_IS_FSCTL */
	wr_u32(&w, 0);
	if (inlen)
		wr_bytes(&w, in, inlen);
	else
		wr_u8(&w, 0);
	return send_req(t, &w, r);
}

static uint32_t close_req(struct t *t, const uint64_t fid[2], struct wr *r)
{
	struct wr w;
	wr_init(&w, 128);
	hdr(&w, t, SMB2_CLOSE, t->f.mid++);
	wr_u16(&w, 24);
	wr_u16(&w, 0);
	wr_u32(&w, 0);
	wr_u64(&w, fid[0]);
	wr_u64(&w, fid[1]);
	return send_req(t, &w, r);
}

static uint32_t write_req(struct t *t, const uint64_t fid[2], const void *data, uint32_t len)
{
	struct wr w, r;
	wr_init(&w, 128);
	hdr(&w, t, SMB2_WRITE, t->f.mid++);
	wr_u16(&w, 49);
	wr_u16(&w, 64 + 48);
	wr_u32(&w, len);
	wr_u64(&w, 0);
	wr_u64(&w, fid[0]);
	wr_u64(&w, fid[1]);
	wr_zero(&w, 12);
	wr_u32(&w, 0);
	wr_bytes(&w, data, len);
	uint32_t st = send_req(t, &w, &r);
	wr_free(&r);
	return st;
}

static uint32_t read_req(struct t *t, const uint64_t fid[2], uint32_t len, struct wr *r)
{
	struct wr w;
	wr_init(&w, 128);
	hdr(&w, t, SMB2_READ, t->f.mid++);
	wr_u16(&w, 49);
	wr_u8(&w, 0);
	wr_u8(&w, 0);
	wr_u32(&w, len);
	wr_u64(&w, 0);
	wr_u64(&w, fid[0]);
	wr_u64(&w, fid[1]);
	wr_zero(&w, 16);
	wr_u8(&w, 0);
	return send_req(t, &w, r);
}

static const uint64_t no_fid[2] = {UINT64_MAX, UINT64_MAX};

static void t_off_by_default(void **st)
{
	struct t *t = *st;
	set_torture(t, false);
	struct wr r;
	assert_int_equal(ioctl_req(t, FSCTL_PADDING8, no_fid, NULL, 0, 1, &r),
			 STATUS_INVALID_DEVICE_REQUEST);
	wr_free(&r);
	uint8_t ms = 1;
	assert_int_equal(ioctl_req(t, FSCTL_ASYNC_SLEEP, t->f.file_id, &ms, 1, 0, &r),
			 STATUS_INVALID_DEVICE_REQUEST);
	wr_free(&r);
}

static void t_ioctl_padding(void **st)
{
	struct t *t = *st;
	struct wr r;
	assert_int_equal(ioctl_req(t, FSCTL_PADDING8, no_fid, NULL, 0, 3, &r), STATUS_SUCCESS);
	assert_true(r.len >= 0x78 + 3);
	assert_int_equal(get_le32(r.p + 64 + 24), 0x78); /* InputOffset */
	assert_int_equal(get_le32(r.p + 64 + 32), 0x78); /* OutputOffset */
	assert_int_equal(get_le32(r.p + 64 + 36), 3);	 /* OutputCount */
	for (int i = 0x70; i < 0x78; i++)
		assert_int_equal(r.p[i], 0);
	for (int i = 0x78; i < 0x78 + 3; i++)
		assert_int_equal(r.p[i], 8);
	wr_free(&r);
	/* input is refused */
	uint8_t x = 1;
	assert_int_equal(ioctl_req(t, FSCTL_PADDING8, no_fid, &x, 1, 1, &r),
			 STATUS_INVALID_PARAMETER);
	wr_free(&r);
}

static void t_read_padding(void **st)
{
	struct t *t = *st;
	assert_int_equal(write_req(t, t->f.file_id, "abcd", 4), STATUS_SUCCESS);
	struct wr r;
	assert_int_equal(read_req(t, t->f.file_id, 4, &r), STATUS_SUCCESS);
	assert_int_equal(r.p[64 + 2], 0x50);
	wr_free(&r);
	assert_int_equal(ioctl_req(t, FSCTL_READ_PADDING8, no_fid, NULL, 0, 1, &r), STATUS_SUCCESS);
	assert_int_equal(get_le32(r.p + 64 + 36), 0); /* no output */
	wr_free(&r);
	assert_int_equal(read_req(t, t->f.file_id, 4, &r), STATUS_SUCCESS);
	assert_int_equal(r.p[64 + 2], 0x58);
	assert_int_equal(get_le32(r.p + 64 + 4), 4);
	assert_true(r.len >= 0x58 + 4);
	assert_memory_equal(r.p + 0x58, "abcd", 4);
	wr_free(&r);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void t_close_waits(void **st)
{
	struct t *t = *st;
	uint8_t ms = 30;
	struct wr r;
	uint64_t ioctl_mid = t->f.mid;
	assert_int_equal(ioctl_req(t, FSCTL_ASYNC_SLEEP, t->f.file_id, &ms, 1, 0, &r),
			 STATUS_PENDING);
	wr_free(&r);
	/* bad input: exactly one byte */
	assert_int_equal(ioctl_req(t, FSCTL_ASYNC_SLEEP, t->f.file_id, NULL, 0, 0, &r),
			 STATUS_INVALID_PARAMETER);
	wr_free(&r);
	uint64_t close_mid = t->f.mid;
	assert_int_equal(close_req(t, t->f.file_id, &r), STATUS_PENDING);
	wr_free(&r);
	/* a second CLOSE of the handle meanwhile finds it closing */
	assert_int_equal(close_req(t, t->f.file_id, &r), STATUS_FILE_CLOSED);
	wr_free(&r);
	assert_int_equal(t->cap.n, 0);
	sleep_ms(ms + 50);
	assert_int_equal(smb2_conn_run_async(t->f.c), 0);
	assert_int_equal(t->cap.n, 2);
	assert_int_equal(get_le64(t->cap.msg[0] + HDR_OFF_MESSAGE_ID), ioctl_mid);
	assert_int_equal(get_le32(t->cap.msg[0] + HDR_OFF_STATUS), STATUS_SUCCESS);
	assert_int_equal(get_le32(t->cap.msg[0] + 64 + 4), FSCTL_ASYNC_SLEEP);
	assert_int_equal(get_le64(t->cap.msg[1] + HDR_OFF_MESSAGE_ID), close_mid);
	assert_int_equal(get_le32(t->cap.msg[1] + HDR_OFF_STATUS), STATUS_SUCCESS);
	assert_int_equal(read_req(t, t->f.file_id, 4, &r), STATUS_FILE_CLOSED);
	wr_free(&r);
}

static void t_cancel_releases(void **st)
{
	struct t *t = *st;
	uint8_t ms = 250;
	struct wr r;
	assert_int_equal(ioctl_req(t, FSCTL_ASYNC_SLEEP, t->f.file_id, &ms, 1, 0, &r),
			 STATUS_PENDING);
	uint64_t async_id = get_le64(r.p + HDR_OFF_ASYNC_ID);
	wr_free(&r);
	struct wr w;
	wr_init(&w, 128);
	hdr(&w, t, SMB2_CANCEL, 0);
	put_le32(w.p + HDR_OFF_FLAGS, SMB2_FLAGS_ASYNC_COMMAND);
	put_le64(w.p + HDR_OFF_ASYNC_ID, async_id);
	wr_u16(&w, 4);
	wr_u16(&w, 0);
	uint32_t s = send_req(t, &w, &r);
	(void)s; /* CANCEL has no response of its own */
	wr_free(&r);
	assert_int_equal(t->cap.n, 1);
	assert_int_equal(get_le32(t->cap.msg[0] + HDR_OFF_STATUS), STATUS_CANCELLED);
	/* nothing holds the open any more: CLOSE completes at once */
	assert_int_equal(close_req(t, t->f.file_id, &r), STATUS_SUCCESS);
	wr_free(&r);
}

static void t_teardown_pending(void **st)
{
	struct t *t = *st;
	uint8_t ms = 200;
	struct wr r;
	assert_int_equal(ioctl_req(t, FSCTL_ASYNC_SLEEP, t->f.file_id, &ms, 1, 0, &r),
			 STATUS_PENDING);
	wr_free(&r);
	assert_int_equal(close_req(t, t->f.file_id, &r), STATUS_PENDING);
	wr_free(&r);
	/* teardown() ends the connection with both pending: nothing is sent, nothing leaks */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(t_off_by_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_ioctl_padding, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_read_padding, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_close_waits, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_cancel_releases, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_teardown_pending, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
