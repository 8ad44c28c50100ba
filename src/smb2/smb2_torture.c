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
 *     instead of ending it with STATUS_FILE_CLOSED.
 * Input other than described is STATUS_INVALID_PARAMETER. */
#include "lib/log.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"

#define FSCTL_SMBTORTURE_BASE 0x83848003u /* FSCTL_SMBTORTURE | write access | METHOD_NEITHER */
#define FSCTL_SMBTORTURE_IOCTL_RESPONSE_BODY_PADDING8 (FSCTL_SMBTORTURE_BASE | 0x10u)
#define FSCTL_SMBTORTURE_GLOBAL_READ_RESPONSE_BODY_PADDING8 (FSCTL_SMBTORTURE_BASE | 0x20u)
#define FSCTL_SMBTORTURE_FSP_ASYNC_SLEEP (FSCTL_SMBTORTURE_BASE | 0x40u)

#define TORTURE_BODY_PADDING 8

bool smb2_fsctl_is_torture(uint32_t ctl)
{
	return ctl == FSCTL_SMBTORTURE_IOCTL_RESPONSE_BODY_PADDING8 ||
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

NTSTATUS smb2_fsctl_torture(struct smb2_req *req, uint32_t ctl, const uint64_t fid[2],
			    struct rd in, uint32_t max_out, struct wr *out, uint32_t *body_pad)
{
	switch (ctl) {
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
