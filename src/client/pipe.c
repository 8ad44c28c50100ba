/* Named pipes on IPC$ (MS-SMB2 3.2.4.20.5: FSCTL_PIPE_TRANSCEIVE) and a connection-oriented
 * DCE/RPC client over them (C706 12.6; MS-RPCE 2.2.2): bind, then calls whose request stubs
 * are split into fragments of the size the server accepts and whose response fragments are
 * reassembled. No authentication level above "connect" (the pipe's SMB session is the
 * security). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_priv.h"

#define FSCTL_PIPE_TRANSCEIVE 0x0011C017u
#define PIPE_ACCESS 0x0012019Fu /* read/write data, EA, attributes, READ_CONTROL, SYNCHRONIZE */
#define PIPE_IO_MAX 65536u
#define RPC_FRAG_WANT 4280 /* what Windows offers in its binds */

static const struct smbc_rpc_iface ifaces[] = {
    /* 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 (MS-SRVS 1.9) */
    {"srvsvc",
     {0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1,
      0x88},
     3,
     0},
    /* 12345778-1234-abcd-ef00-0123456789ab v0.0 (MS-LSAD 1.9) */
    {"lsarpc",
     {0x78, 0x57, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
      0xab},
     0,
     0},
    /* 12345778-1234-abcd-ef00-0123456789ac v1.0 (MS-SAMR 1.9) */
    {"samr",
     {0x78, 0x57, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
      0xac},
     1,
     0},
    /* 12345678-1234-abcd-ef00-01234567cffb v1.0 (MS-NRPC 1.9) */
    {"netlogon",
     {0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0xcf,
      0xfb},
     1,
     0},
};

struct smbc_rpc {
	struct smbc_file *pipe;
	uint32_t call_id;
	uint16_t max_xmit, max_recv;
};

static const char *pipe_base(const char *name)
{
	if (!strncasecmp(name, "\\pipe\\", 6) || !strncasecmp(name, "/pipe/", 6))
		name += 6;
	while (*name == '\\' || *name == '/')
		name++;
	return name;
}

const struct smbc_rpc_iface *smbc_rpc_iface_find(const char *pipe)
{
	const char *b = pipe_base(pipe);
	for (size_t i = 0; i < sizeof(ifaces) / sizeof(ifaces[0]); i++)
		if (!strcasecmp(b, ifaces[i].name))
			return &ifaces[i];
	return NULL;
}

uint32_t smbc_pipe_open(struct smbc_tree *ipc, const char *name, struct smbc_file **out)
{
	struct smbc_create_args a = {
	    .access = PIPE_ACCESS,
	    .share = 3,	      /* read | write */
	    .disposition = 1, /* FILE_OPEN */
	};
	return smbc_create(ipc, pipe_base(name), &a, out, NULL);
}

static uint32_t append(uint8_t **buf, size_t *len, const uint8_t *p, size_t n)
{
	if (!n)
		return STATUS_SUCCESS;
	uint8_t *nb = realloc(*buf, *len + n);
	if (!nb)
		return STATUS_NO_MEMORY;
	memcpy(nb + *len, p, n);
	*buf = nb;
	*len += n;
	return STATUS_SUCCESS;
}

uint32_t smbc_pipe_transceive(struct smbc_file *p, const void *in, size_t inlen, uint8_t **out,
			      size_t *outlen)
{
	uint32_t st = smbc_ioctl(p, FSCTL_PIPE_TRANSCEIVE, in, inlen, PIPE_IO_MAX, out, outlen);
	uint8_t *chunk = NULL;
	for (int i = 0; st == STATUS_BUFFER_OVERFLOW && i < 1024; i++) {
		if (!chunk && !(chunk = malloc(PIPE_IO_MAX)))
			st = STATUS_NO_MEMORY;
		size_t got = 0;
		if (chunk)
			st = smbc_read(p, 0, chunk, PIPE_IO_MAX, &got);
		if (!st || st == STATUS_BUFFER_OVERFLOW) {
			uint32_t ast = append(out, outlen, chunk, got);
			st = ast ? ast : st;
		}
	}
	free(chunk);
	if (st) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return st;
}

/* ---- PDUs (rpc/pdu.h) ---- */

static void bind_encode(struct wr *w, const struct smbc_rpc_iface *i, uint32_t call_id)
{
	struct rpc_ctx_req ctx = {.id = 0, .transfer = &rpc_ndr_syntax, .ntransfer = 1};
	memcpy(ctx.abstract.uuid, i->uuid, 16);
	ctx.abstract.major = i->vers;
	ctx.abstract.minor = i->vers_minor;
	/* association group 0: a new one */
	rpc_bind_write(w, RPC_PTYPE_BIND, call_id, RPC_FRAG_WANT, RPC_FRAG_WANT, 0, &ctx, 1);
}

uint32_t smbc_rpc_bind_ack_parse(const uint8_t *p, size_t len, uint16_t *max_xmit,
				 uint16_t *max_recv, uint16_t *result, uint16_t *reason)
{
	struct rpc_hdr h;
	struct rpc_bind_ack a;
	if (rpc_hdr_parse(p, len, &h) < 0)
		return STATUS_INVALID_NETWORK_RESPONSE;
	if (h.ptype == RPC_PTYPE_BIND_NAK) {
		*result = RPC_RES_PROVIDER_REJECT;
		return rpc_bind_nak_parse(p, &h, reason) < 0 ? STATUS_INVALID_NETWORK_RESPONSE
							     : STATUS_SUCCESS;
	}
	if (h.ptype != RPC_PTYPE_BIND_ACK || rpc_bind_ack_parse(p, &h, &a) < 0)
		return STATUS_INVALID_NETWORK_RESPONSE;
	*max_xmit = a.max_xmit;
	*max_recv = a.max_recv;
	*result = a.res[0].result;
	*reason = a.res[0].reason;
	/* a fragment must at least hold a request header and some stub */
	if (*result == RPC_RES_ACCEPT &&
	    (a.max_xmit < RPC_REQ_HDR_LEN + 8 || a.max_recv < RPC_REQ_HDR_LEN + 8))
		return STATUS_INVALID_NETWORK_RESPONSE;
	return STATUS_SUCCESS;
}

uint32_t smbc_rpc_bind(struct smbc_file *pipe, const struct smbc_rpc_iface *iface,
		       struct smbc_rpc **out, uint16_t *result)
{
	struct wr w;
	uint8_t *resp = NULL;
	size_t rlen = 0;
	uint16_t reason = 0;
	*out = NULL;
	*result = 0xFFFF;
	struct smbc_rpc *r = calloc(1, sizeof(*r));
	if (!r)
		return STATUS_NO_MEMORY;
	r->pipe = pipe;
	r->call_id = 1;
	wr_init(&w, 128);
	bind_encode(&w, iface, r->call_id++);
	uint32_t st =
	    wr_ok(&w) ? smbc_pipe_transceive(pipe, w.p, w.len, &resp, &rlen) : STATUS_NO_MEMORY;
	wr_free(&w);
	if (!st)
		st = smbc_rpc_bind_ack_parse(resp, rlen, &r->max_xmit, &r->max_recv, result,
					     &reason);
	free(resp);
	if (!st && *result != 0)
		st = STATUS_RPC_NT_CALL_FAILED;
	if (st) {
		free(r);
		return st;
	}
	*out = r;
	return STATUS_SUCCESS;
}

uint16_t smbc_rpc_max_xmit(const struct smbc_rpc *r)
{
	return r->max_xmit;
}

/* Appends the stub of every complete fragment at the front of *in; *last tells whether the
 * final one came. Consumed bytes are removed. A FAULT's status is returned as it is. */
static uint32_t take_fragments(uint32_t call_id, uint8_t **in, size_t *inlen, uint8_t **stub,
			       size_t *stublen, bool *last)
{
	size_t pos = 0;
	uint32_t st = STATUS_SUCCESS;
	while (!*last && *inlen - pos >= RPC_HDR_LEN) {
		const uint8_t *pdu = *in + pos;
		struct rpc_hdr h;
		struct rpc_fault f;
		struct rpc_response rsp;
		if (rpc_peek_frag_len(pdu, *inlen - pos) > *inlen - pos)
			break; /* the rest of this fragment is still in the pipe */
		if (rpc_hdr_parse(pdu, *inlen - pos, &h) < 0) {
			st = STATUS_INVALID_NETWORK_RESPONSE;
			break;
		}
		if (h.ptype == RPC_PTYPE_FAULT) {
			st = rpc_fault_parse(pdu, &h, &f) == 0 && f.status
				 ? f.status
				 : STATUS_RPC_NT_CALL_FAILED;
			break;
		}
		if (rpc_response_parse(pdu, &h, &rsp) < 0 || h.call_id != call_id) {
			st = STATUS_INVALID_NETWORK_RESPONSE;
			break;
		}
		st = append(stub, stublen, rsp.stub, rsp.stub_len);
		if (st)
			break;
		*last = (h.flags & RPC_PFC_LAST_FRAG) != 0;
		pos += h.frag_len;
	}
	if (pos) {
		memmove(*in, *in + pos, *inlen - pos);
		*inlen -= pos;
	}
	return st;
}

static uint32_t send_request(struct smbc_rpc *r, uint16_t opnum, const uint8_t *stub, size_t len,
			     uint32_t call_id, uint8_t **in, size_t *inlen)
{
	size_t room = r->max_recv - RPC_REQ_HDR_LEN;
	size_t off = 0;
	uint32_t st = STATUS_SUCCESS;
	do {
		size_t n = len - off < room ? len - off : room;
		uint8_t flags =
		    (off == 0 ? RPC_PFC_FIRST_FRAG : 0) | (off + n == len ? RPC_PFC_LAST_FRAG : 0);
		struct wr w;
		wr_init(&w, RPC_REQ_HDR_LEN + n);
		rpc_request_write(&w, flags, call_id, (uint32_t)(len - off), 0, opnum, NULL,
				  stub + off, n);
		if (!wr_ok(&w)) {
			st = STATUS_NO_MEMORY;
		} else if (flags & RPC_PFC_LAST_FRAG) {
			st = smbc_pipe_transceive(r->pipe, w.p, w.len, in, inlen);
		} else {
			size_t done = 0;
			st = smbc_write(r->pipe, 0, w.p, w.len, &done);
			if (!st && done != w.len)
				st = STATUS_PIPE_BROKEN;
		}
		wr_free(&w);
		off += n;
	} while (!st && off < len);
	return st;
}

uint32_t smbc_rpc_call(struct smbc_rpc *r, uint16_t opnum, const uint8_t *stub, size_t len,
		       uint8_t **out, size_t *outlen)
{
	uint8_t *in = NULL, *chunk = NULL;
	size_t inlen = 0;
	bool last = false;
	uint32_t call_id = r->call_id++;
	*out = NULL;
	*outlen = 0;
	uint32_t st = send_request(r, opnum, stub, len, call_id, &in, &inlen);
	for (int i = 0; !st && i < 4096; i++) {
		st = take_fragments(call_id, &in, &inlen, out, outlen, &last);
		if (st || last)
			break;
		size_t got = 0;
		if (!chunk && !(chunk = malloc(PIPE_IO_MAX))) {
			st = STATUS_NO_MEMORY;
			break;
		}
		st = smbc_read(r->pipe, 0, chunk, PIPE_IO_MAX, &got);
		if (st == STATUS_BUFFER_OVERFLOW)
			st = STATUS_SUCCESS;
		if (!st && !got)
			st = STATUS_PIPE_EMPTY;
		if (!st)
			st = append(&in, &inlen, chunk, got);
	}
	free(in);
	free(chunk);
	if (!st && !last)
		st = STATUS_INVALID_NETWORK_RESPONSE;
	if (st) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return st;
}

void smbc_rpc_free(struct smbc_rpc *r)
{
	if (!r)
		return;
	smbc_close(r->pipe);
	free(r);
}
