/* IOCTL (MS-SMB2 2.2.31/2.2.32, 3.3.5.15): parsing, the connection-level FSCTLs and the
 * dispatch of the FSCTLs on files to smb2_copychunk.c (server-side copy) and smb2_sparse.c
 * (sparse files, zeroing, allocated ranges, compression). */
#include <string.h>

#include "lib/log.h"
#include "rpc/rpc.h"
#include "smb2/smb2.h"
#include "smb2/smb2_fsctl.h"

#define SMB2_0_IOCTL_IS_FSCTL 0x00000001u

#define FSCTL_DFS_GET_REFERRALS 0x00060194u
#define FSCTL_DFS_GET_REFERRALS_EX 0x000601B0u
#define FSCTL_PIPE_TRANSCEIVE 0x0011C017u
#define FSCTL_PIPE_PEEK 0x0011400Cu
#define FSCTL_VALIDATE_NEGOTIATE_INFO 0x00140204u
#define FSCTL_QUERY_NETWORK_INTERFACE_INFO 0x001401FCu
#define FSCTL_GET_REPARSE_POINT 0x000900A8u
#define FSCTL_LMR_REQUEST_RESILIENCY 0x001401D4u
/* MaxResiliencyTimeout (3.3.3): the longest a client may ask for, 5 minutes as Windows */
#define SMB2_MAX_RESILIENCY_TIMEOUT_MS 300000u

struct ioctl_args {
	uint32_t ctl;
	uint64_t fid[2];
	struct rd in;
	uint32_t max_out;
	uint32_t flags;
	struct wr *out;      /* the response's output buffer is appended here */
	size_t out_start;    /* where the output bytes start in out */
	uint32_t body_pad;   /* padding before the buffers (only the smbtorture FSCTLs set it) */
};

/* 3.3.5.15.12: the client's view of the negotiation must match ours, or the connection ends. */
static NTSTATUS validate_negotiate(struct smb2_req *req, struct ioctl_args *a)
{
	struct smb2_conn *c = req->conn;
	if (a->fid[0] != UINT64_MAX || a->fid[1] != UINT64_MAX)
		return STATUS_INVALID_PARAMETER;
	if (c->dialect == SMB2_DIALECT_311) {
		/* 3.1.1 relies on preauth integrity instead; Windows drops the connection */
		req->disconnect = true;
		return STATUS_ACCESS_DENIED;
	}
	struct rd r = a->in;
	uint32_t caps = rd_u32(&r);
	uint8_t guid[16];
	rd_bytes(&r, guid, 16);
	uint16_t secmode = rd_u16(&r);
	uint16_t nd = rd_u16(&r);
	bool same = rd_ok(&r) && caps == c->client_caps && !memcmp(guid, c->client_guid, 16) &&
		    secmode == c->client_security_mode && nd == c->nclient_dialects;
	for (uint16_t i = 0; same && i < nd; i++)
		same = rd_u16(&r) == c->client_dialects[i] && rd_ok(&r);
	if (!same) {
		LOG_WARN(LOG_SMB2, "%s: VALIDATE_NEGOTIATE_INFO mismatch: disconnecting", c->peer);
		req->disconnect = true;
		return STATUS_ACCESS_DENIED;
	}
	if (a->max_out < 24)
		return STATUS_INVALID_PARAMETER;
	struct shoal_conf *conf = smb2_server_conf(req->srv);
	uint16_t mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
	if (conf->signing == CONF_SIGNING_MANDATORY)
		mode |= SMB2_NEGOTIATE_SIGNING_REQUIRED;
	conf_put(conf);
	uint32_t scaps = smb2_server_caps(c, c->dialect);
	wr_u32(a->out, scaps);
	wr_bytes(a->out, req->srv->server_guid, 16);
	wr_u16(a->out, mode);
	wr_u16(a->out, c->dialect);
	/* the response must be signed even if signing is not otherwise required (3.3.5.15.12) */
	if (req->session && !req->session->anonymous && !req->sign_with) {
		atomic_fetch_add(&req->session->refs, 1);
		req->sign_with = req->session;
	}
	return STATUS_SUCCESS;
}

static NTSTATUS pipe_transceive(struct smb2_req *req, struct ioctl_args *a)
{
	struct smb2_open *op;
	NTSTATUS st = smb2_open_lookup(req, a->fid[0], a->fid[1], &op);
	if (st)
		return st;
	if (!op->pipe)
		return STATUS_INVALID_DEVICE_REQUEST;
	/* smb2_pipe_write would append a WRITE response body: feed the RPC layer directly */
	if (rpc_pipe_write(op->pipe, a->in.p, a->in.len) < 0)
		return STATUS_INVALID_PARAMETER;
	size_t off = wr_space(a->out, a->max_out);
	if (off == (size_t)-1)
		return STATUS_NO_MEMORY;
	bool more = false;
	size_t n = rpc_pipe_read(op->pipe, wr_at(a->out, off), a->max_out, &more);
	a->out->len = off + n;
	if (more) {
		req->keep_body = true;
		return STATUS_BUFFER_OVERFLOW;
	}
	return STATUS_SUCCESS;
}

/* 3.3.5.15.9: NETWORK_RESILIENCY_REQUEST (Timeout in ms, Reserved). The open becomes resilient,
 * which makes LOCK check its LockSequence (smb2_lock.c); keeping it across a disconnect is the
 * durable-handle machinery's (issue 6). */
static NTSTATUS request_resiliency(struct smb2_req *req, struct ioctl_args *a)
{
	if (req->conn->dialect == SMB2_DIALECT_202)
		return STATUS_INVALID_DEVICE_REQUEST;
	struct smb2_open *op;
	NTSTATUS st = smb2_open_lookup(req, a->fid[0], a->fid[1], &op);
	if (st)
		return st;
	struct rd r = a->in;
	uint32_t timeout = rd_u32(&r);
	rd_skip(&r, 4);
	if (!rd_ok(&r) || timeout > SMB2_MAX_RESILIENCY_TIMEOUT_MS)
		return STATUS_INVALID_PARAMETER;
	op->is_resilient = true;
	return STATUS_SUCCESS;
}

static NTSTATUS dispatch_fsctl(struct smb2_req *req, struct ioctl_args *a)
{
	switch (a->ctl) {
	case FSCTL_VALIDATE_NEGOTIATE_INFO:
		return validate_negotiate(req, a);
	case FSCTL_PIPE_TRANSCEIVE:
		return pipe_transceive(req, a);
	case FSCTL_LMR_REQUEST_RESILIENCY:
		return request_resiliency(req, a);
	case FSCTL_DFS_GET_REFERRALS:
	case FSCTL_DFS_GET_REFERRALS_EX:
		return STATUS_FS_DRIVER_REQUIRED; /* no DFS (3.3.5.15.2) */
	case FSCTL_QUERY_NETWORK_INTERFACE_INFO:
		return smb2_fsctl_netif(a->fid[0], a->fid[1], a->max_out, a->out);
	case FSCTL_SRV_REQUEST_RESUME_KEY:
	case FSCTL_SRV_COPYCHUNK:
	case FSCTL_SRV_COPYCHUNK_WRITE:
	case FSCTL_SET_SPARSE:
	case FSCTL_SET_ZERO_DATA:
	case FSCTL_QUERY_ALLOCATED_RANGES:
	case FSCTL_GET_COMPRESSION:
	case FSCTL_SET_COMPRESSION:
	case FSCTL_CREATE_OR_GET_OBJECT_ID:
	case FSCTL_GET_OBJECT_ID: {
		struct smb2_open *op;
		NTSTATUS st = smb2_open_lookup(req, a->fid[0], a->fid[1], &op);
		if (st)
			return st;
		if (a->ctl == FSCTL_SRV_REQUEST_RESUME_KEY)
			return smb2_fsctl_resume_key(req, op, a->max_out, a->out);
		if (a->ctl == FSCTL_SRV_COPYCHUNK || a->ctl == FSCTL_SRV_COPYCHUNK_WRITE)
			return smb2_fsctl_copychunk(req, op, a->ctl, a->in, a->max_out, a->out);
		return smb2_fsctl_file(req, op, a->ctl, a->in, a->max_out, a->out);
	}
	case FSCTL_GET_REPARSE_POINT: {
		struct smb2_open *op;
		NTSTATUS st = smb2_open_lookup(req, a->fid[0], a->fid[1], &op);
		return st ? st : STATUS_NOT_A_REPARSE_POINT;
	}
	default: {
		if (smb2_fsctl_is_torture(a->ctl)) {
			struct shoal_conf *conf = smb2_server_conf(req->srv);
			bool on = conf->smbtorture_fsctls;
			conf_put(conf);
			if (on)
				return smb2_fsctl_torture(req, a->ctl, a->fid, a->in, a->max_out,
							  a->out, &a->body_pad);
		}
		/* an FSCTL on a handle checks the handle first (a closed one is FILE_CLOSED) */
		if (a->fid[0] != UINT64_MAX || a->fid[1] != UINT64_MAX) {
			struct smb2_open *op;
			NTSTATUS st = smb2_open_lookup(req, a->fid[0], a->fid[1], &op);
			if (st)
				return st;
		}
		return STATUS_INVALID_DEVICE_REQUEST;
	}
	}
}

NTSTATUS smb2_ioctl(struct smb2_req *req)
{
	struct rd b = req->body;
	struct ioctl_args a = {0};
	rd_skip(&b, 4);
	a.ctl = rd_u32(&b);
	a.fid[0] = rd_u64(&b);
	a.fid[1] = rd_u64(&b);
	uint32_t in_off = rd_u32(&b);
	uint32_t in_len = rd_u32(&b);
	rd_skip(&b, 4); /* MaxInputResponse */
	rd_skip(&b, 8); /* OutputOffset, OutputCount: output buffers in requests are unused */
	a.max_out = rd_u32(&b);
	a.flags = rd_u32(&b);
	if (!rd_ok(&b))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	a.in = in_len ? rd_sub(&req->msg, in_off, in_len) : rd_make(NULL, 0);
	if (!rd_ok(&a.in))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (!(a.flags & SMB2_0_IOCTL_IS_FSCTL))
		return SMB2_ERR(req, STATUS_NOT_SUPPORTED);
	if (a.max_out > req->conn->max_trans)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	struct wr *w = req->out;
	size_t start = smb2_ioctl_begin_body(w, a.ctl, a.fid);
	a.out = w;
	a.out_start = w->len;
	NTSTATUS st = dispatch_fsctl(req, &a);
	if (nt_is_error(st) && !req->keep_body)
		return SMB2_ERR(req, st);
	if (a.body_pad && st != STATUS_PENDING) {
		/* the buffers move body_pad bytes further, behind zeroes */
		size_t n = w->len - a.out_start;
		wr_zero(w, a.body_pad);
		if (!wr_ok(w))
			return SMB2_ERR(req, STATUS_NO_MEMORY);
		memmove(wr_at(w, a.out_start + a.body_pad), wr_at(w, a.out_start), n);
		memset(wr_at(w, a.out_start), 0, a.body_pad);
		a.out_start += a.body_pad;
		wr_set_u32(w, start + 24, 0x70 + a.body_pad); /* InputOffset */
		wr_set_u32(w, start + 32, 0x70 + a.body_pad); /* OutputOffset */
	}
	smb2_ioctl_end_body(w, start, a.out_start);
	return st;
}

size_t smb2_ioctl_begin_body(struct wr *w, uint32_t ctl, const uint64_t fid[2])
{
	size_t start = w->len;
	uint32_t buf_off = 0x70; /* header 64 + fixed part 48 */
	wr_u16(w, 49);
	wr_u16(w, 0);
	wr_u32(w, ctl);
	wr_u64(w, fid[0]);
	wr_u64(w, fid[1]);
	wr_u32(w, buf_off); /* InputOffset: no input echoed */
	wr_u32(w, 0);
	wr_u32(w, buf_off); /* OutputOffset */
	wr_u32(w, 0);       /* OutputCount, patched by smb2_ioctl_end_body */
	wr_u32(w, 0);
	wr_u32(w, 0);
	return start;
}

void smb2_ioctl_end_body(struct wr *w, size_t start, size_t out_start)
{
	size_t n = w->len - out_start;
	wr_set_u32(w, start + 36, (uint32_t)n);
	if (n == 0)
		wr_u8(w, 0); /* the variable part has at least one byte */
}
