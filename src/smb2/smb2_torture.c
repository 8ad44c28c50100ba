/* The test-only FSCTLs smbtorture uses to make a server misbehave on purpose, so that it can test
 * its client and the server's handling of edge cases (codes FSCTL_SMBTORTURE 0x83840000 |
 * FILE_WRITE_ACCESS << 14 | function | METHOD_NEITHER). They exist only with the global
 * parameter "smbtorture fsctls = yes" (default no, for test servers only); otherwise they are
 * unknown FSCTLs like any other (STATUS_INVALID_DEVICE_REQUEST).
 *
 *   IOCTL_RESPONSE_BODY_PADDING8: this response puts 8 bytes of padding between its fixed part
 *     and its buffers, and fills the MaxOutputResponse bytes of output with the value 8;
 *   GLOBAL_READ_RESPONSE_BODY_PADDING8: every later READ response of the connection does the
 *     same (DataOffset 0x58 instead of 0x50);
 *   FSP_ASYNC_SLEEP: the request goes asynchronous for the milliseconds given in its one input
 *     byte, holding its open: a CLOSE of that open meanwhile waits for it (smb2_close_wait)
 *     instead of ending it with STATUS_FILE_CLOSED;
 *   FORCE_UNACKED_TIMEOUT (no session or tree needed, FileId all ones, no input): the connection
 *     acts as a channel whose client never acknowledges, at the TCP level, the oplock and lease
 *     breaks sent on it (MS-SMB2 3.3.4.6 lets the server give up on such a channel): the first
 *     break sent on it drops it UNACKED_DROP_MS later, as a real unacknowledged break would
 *     after the retransmissions (Samba: six retransmission timeouts of at least 0.2 s). Its
 *     opens then close like those of any lost connection, and the creates waiting for the
 *     break go on (smb2.oplock.batch22b).
 * Input other than described is STATUS_INVALID_PARAMETER. */
#include <stdatomic.h>
#include <time.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"

#define FSCTL_SMBTORTURE_BASE 0x83848003u /* FSCTL_SMBTORTURE | write access | METHOD_NEITHER */
#define FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT FSCTL_SMBTORTURE_BASE
#define FSCTL_SMBTORTURE_IOCTL_RESPONSE_BODY_PADDING8 (FSCTL_SMBTORTURE_BASE | 0x10u)
#define FSCTL_SMBTORTURE_GLOBAL_READ_RESPONSE_BODY_PADDING8 (FSCTL_SMBTORTURE_BASE | 0x20u)
#define FSCTL_SMBTORTURE_FSP_ASYNC_SLEEP (FSCTL_SMBTORTURE_BASE | 0x40u)

#define TORTURE_BODY_PADDING 8
#define UNACKED_DROP_MS 1200u

bool smb2_fsctl_is_torture(uint32_t ctl)
{
	return ctl == FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT ||
	       ctl == FSCTL_SMBTORTURE_IOCTL_RESPONSE_BODY_PADDING8 ||
	       ctl == FSCTL_SMBTORTURE_GLOBAL_READ_RESPONSE_BODY_PADDING8 ||
	       ctl == FSCTL_SMBTORTURE_FSP_ASYNC_SLEEP;
}

/* FSP_ASYNC_SLEEP: priv is the open, held until the request ends. The request is registered
 * with the open, so any other way of closing it (tree disconnect, logoff, the connection
 * ending) cancels the sleep first, while the open is still valid. */
static NTSTATUS sleep_retry(struct smb2_req *req, void *priv)
{
	struct smb2_open *op = priv;
	if (!smb2_pending_timed_out(req))
		return STATUS_PENDING;
	struct rd b = req->body;
	rd_skip(&b, 4);
	uint32_t ctl = rd_u32(&b);
	uint64_t fid[2] = {op->persistent_id, op->volatile_id};
	size_t start = smb2_ioctl_begin_body(req->out, ctl, fid);
	smb2_ioctl_end_body(req->out, start, req->out->len);
	smb2_open_release(op);
	return STATUS_SUCCESS;
}

static NTSTATUS sleep_cancel(struct smb2_req *req, void *priv, NTSTATUS reason)
{
	(void)req;
	smb2_open_release(priv);
	return reason;
}

static const struct smb2_async_ops sleep_ops = {
    .retry = sleep_retry,
    .cancel = sleep_cancel,
};

static NTSTATUS async_sleep(struct smb2_req *req, const uint64_t fid[2], struct rd in)
{
	if (in.len != 1)
		return STATUS_INVALID_PARAMETER;
	struct smb2_open *op;
	NTSTATUS st = smb2_open_lookup(req, fid[0], fid[1], &op);
	if (st)
		return st;
	uint32_t ms = in.p[0] ? in.p[0] : 1; /* a timeout of 0 would mean "none" */
	smb2_open_hold(op);
	st = smb2_go_async(req, &sleep_ops, op, op, ms, NULL);
	if (st != STATUS_PENDING)
		smb2_open_release(op);
	return st;
}

bool smb2_fsctl_torture_sessionless(struct smb2_server *srv, struct rd b)
{
	rd_skip(&b, 4);
	if (rd_u32(&b) != FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT || !rd_ok(&b))
		return false;
	struct shoal_conf *conf = smb2_server_conf(srv);
	bool on = conf->smbtorture_fsctls;
	conf_put(conf);
	return on;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void smb2_torture_break_sent(struct smb2_conn *c)
{
	if (!atomic_load(&c->force_unacked))
		return;
	uint64_t none = 0;
	if (atomic_compare_exchange_strong(&c->unacked_drop_ms, &none, mono_ms() + UNACKED_DROP_MS))
		LOG_INFO(LOG_SMB2, "%s: smbtorture: break left unacknowledged, dropping in %u ms",
			 c->peer, UNACKED_DROP_MS);
}

bool smb2_torture_unacked_expired(struct smb2_conn *c, uint64_t now_ms)
{
	uint64_t at = atomic_load(&c->unacked_drop_ms);
	return at && now_ms >= at;
}

NTSTATUS smb2_fsctl_torture(struct smb2_req *req, uint32_t ctl, const uint64_t fid[2],
			    struct rd in, uint32_t max_out, struct wr *out, uint32_t *body_pad)
{
	switch (ctl) {
	case FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT:
		if (in.len || fid[0] != UINT64_MAX || fid[1] != UINT64_MAX)
			return STATUS_INVALID_PARAMETER;
		atomic_store(&req->conn->force_unacked, true);
		LOG_INFO(LOG_SMB2, "%s: smbtorture: breaks on this connection count as unacknowledged",
			 req->conn->peer);
		return STATUS_SUCCESS;
	case FSCTL_SMBTORTURE_IOCTL_RESPONSE_BODY_PADDING8:
		if (in.len)
			return STATUS_INVALID_PARAMETER;
		for (uint32_t i = 0; i < max_out; i++)
			wr_u8(out, TORTURE_BODY_PADDING);
		*body_pad = TORTURE_BODY_PADDING;
		return wr_ok(out) ? STATUS_SUCCESS : STATUS_NO_MEMORY;
	case FSCTL_SMBTORTURE_GLOBAL_READ_RESPONSE_BODY_PADDING8:
		if (in.len)
			return STATUS_INVALID_PARAMETER;
		req->conn->read_body_pad = TORTURE_BODY_PADDING;
		LOG_INFO(LOG_SMB2, "%s: smbtorture: READ responses padded by %d bytes from now on",
			 req->conn->peer, TORTURE_BODY_PADDING);
		return STATUS_SUCCESS;
	case FSCTL_SMBTORTURE_FSP_ASYNC_SLEEP:
		return async_sleep(req, fid, in);
	default:
		return STATUS_INVALID_DEVICE_REQUEST;
	}
}
