/* DCE/RPC connection-oriented protocol over a named pipe (C706 chapter 12, MS-RPCE 2.2.2):
 * BIND / ALTER_CONTEXT negotiation, REQUEST reassembly, RESPONSE fragmentation, FAULT. The pipe
 * is a byte stream; PDUs are framed by their frag_length. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "rpc/rpc_internal.h"

enum {
	PT_REQUEST = 0, PT_RESPONSE = 2, PT_FAULT = 3, PT_BIND = 11, PT_BIND_ACK = 12,
	PT_BIND_NAK = 13, PT_ALTER = 14, PT_ALTER_RESP = 15, PT_AUTH3 = 16,
};
#define PFC_FIRST_FRAG 0x01
#define PFC_LAST_FRAG 0x02
#define PFC_OBJECT_UUID 0x80
#define RPC_HDR_LEN 16
#define MAX_FRAG 4280       /* what Windows uses on ncacn_np */
#define MAX_REQUEST (4u << 20)
#define MAX_CONTEXTS 8

/* result values of a presentation context (C706 12.6.3.1, MS-RPCE 3.3.1.5.3) */
#define RES_ACCEPT 0
#define RES_PROVIDER_REJECT 2
#define RES_NEGOTIATE_ACK 3
#define REASON_ABSTRACT_NOT_SUPPORTED 1
#define REASON_TRANSFER_NOT_SUPPORTED 2
#define NAK_AUTH_TYPE_NOT_RECOGNIZED 8

static const uint8_t ndr_syntax[16] = {0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
				       0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60};
/* bind time feature negotiation: 6cb71c2c-9812-4540-xxxx-000000000000 (first 8 bytes fixed) */
static const uint8_t btfn_prefix[8] = {0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45};

static const struct rpc_iface *const ifaces[] = {&rpc_srvsvc_iface};
#define NIFACES (sizeof(ifaces) / sizeof(ifaces[0]))

struct rpc_ctx {
	uint16_t id;
	const struct rpc_iface *iface;
};

struct rpc_pipe {
	struct rpc_env env;
	char *pipe_name;
	const struct rpc_iface *iface; /* the pipe's service */
	struct rpc_ctx ctx[MAX_CONTEXTS];
	int nctx;
	uint16_t max_xmit;
	uint32_t assoc_group;
	bool bound;
	struct wr in;       /* bytes not yet forming a whole PDU */
	struct wr req;      /* stub of a fragmented request being reassembled */
	uint32_t req_call_id;
	uint16_t req_ctx, req_opnum;
	bool req_active;
	struct wr out;      /* pending output */
	size_t out_off;
	bool broken;
};

static const char *base_name(const char *name)
{
	if (!strncasecmp(name, "\\PIPE\\", 6))
		return name + 6;
	if (name[0] == '\\')
		return name + 1;
	return name;
}

static const struct rpc_iface *iface_for_pipe(const char *name)
{
	const char *b = base_name(name);
	for (size_t i = 0; i < NIFACES; i++)
		for (const char *const *p = ifaces[i]->pipes; *p; p++)
			if (!strcasecmp(b, *p))
				return ifaces[i];
	return NULL;
}

bool rpc_pipe_known(const char *name)
{
	return iface_for_pipe(name) != NULL;
}

/* ---- the copied environment ---- */

static void env_free(struct rpc_env *e)
{
	free((char *)e->server_name);
	free((char *)e->server_comment);
	free((char *)e->domain);
	free((char *)e->user);
	for (int i = 0; i < e->nshares; i++) {
		free((char *)e->shares[i].name);
		free((char *)e->shares[i].comment);
		free((char *)e->shares[i].path);
	}
	free((void *)e->shares);
}

static char *dup0(const char *s)
{
	return strdup(s ? s : "");
}

static int env_copy(struct rpc_env *d, const struct rpc_env *s)
{
	memset(d, 0, sizeof(*d));
	d->server_name = dup0(s->server_name);
	d->server_comment = dup0(s->server_comment);
	d->domain = dup0(s->domain);
	d->user = dup0(s->user);
	d->smb_dialect = s->smb_dialect;
	struct rpc_share_info *sh = calloc((size_t)s->nshares + 1, sizeof(*sh));
	d->shares = sh;
	if (!sh || !d->server_name || !d->server_comment || !d->domain || !d->user)
		return -ENOMEM;
	for (int i = 0; i < s->nshares; i++) {
		sh[i] = s->shares[i];
		sh[i].name = dup0(s->shares[i].name);
		sh[i].comment = dup0(s->shares[i].comment);
		sh[i].path = dup0(s->shares[i].path);
		d->nshares = i + 1;
		if (!sh[i].name || !sh[i].comment || !sh[i].path)
			return -ENOMEM;
	}
	return 0;
}

struct rpc_pipe *rpc_pipe_open(const char *name, const struct rpc_env *env)
{
	const struct rpc_iface *iface = iface_for_pipe(name);
	if (!iface) {
		errno = ENOENT;
		return NULL;
	}
	struct rpc_pipe *p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->iface = iface;
	p->max_xmit = MAX_FRAG;
	p->pipe_name = strdup(base_name(name));
	wr_init(&p->in, 0);
	wr_init(&p->req, 0);
	wr_init(&p->out, 0);
	if (!p->pipe_name || env_copy(&p->env, env) < 0) {
		rpc_pipe_close(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void rpc_pipe_close(struct rpc_pipe *p)
{
	if (!p)
		return;
	env_free(&p->env);
	free(p->pipe_name);
	wr_free(&p->in);
	wr_free(&p->req);
	wr_free(&p->out);
	free(p);
}

/* ---- output ---- */

static size_t pdu_start(struct rpc_pipe *p, uint8_t ptype, uint8_t flags, uint32_t call_id)
{
	struct wr *w = &p->out;
	size_t start = w->len;
	wr_u8(w, 5);
	wr_u8(w, 0);
	wr_u8(w, ptype);
	wr_u8(w, flags);
	wr_u32(w, 0x00000010); /* little-endian integers, ASCII, IEEE floats */
	wr_u16(w, 0);          /* frag_length, patched */
	wr_u16(w, 0);
	wr_u32(w, call_id);
	return start;
}

static void pdu_end(struct rpc_pipe *p, size_t start)
{
	wr_set_u16(&p->out, start + 8, (uint16_t)(p->out.len - start));
}

static void send_fault(struct rpc_pipe *p, uint32_t call_id, uint16_t ctx, uint32_t status)
{
	size_t s = pdu_start(p, PT_FAULT, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id);
	wr_u32(&p->out, 32);
	wr_u16(&p->out, ctx);
	wr_u8(&p->out, 0);
	wr_u8(&p->out, 0);
	wr_u32(&p->out, status);
	wr_u32(&p->out, 0);
	pdu_end(p, s);
}

static void send_response(struct rpc_pipe *p, uint32_t call_id, uint16_t ctx, const uint8_t *stub,
			  size_t len)
{
	size_t max_stub = (size_t)p->max_xmit - RPC_HDR_LEN - 8;
	size_t off = 0;
	do {
		size_t n = len - off < max_stub ? len - off : max_stub;
		uint8_t flags = (off == 0 ? PFC_FIRST_FRAG : 0) | (off + n == len ? PFC_LAST_FRAG : 0);
		size_t s = pdu_start(p, PT_RESPONSE, flags, call_id);
		wr_u32(&p->out, (uint32_t)(len - off)); /* alloc_hint */
		wr_u16(&p->out, ctx);
		wr_u8(&p->out, 0);
		wr_u8(&p->out, 0);
		wr_bytes(&p->out, stub + off, n);
		pdu_end(p, s);
		off += n;
	} while (off < len);
}

/* ---- BIND and ALTER_CONTEXT ---- */

static const struct rpc_iface *iface_by_syntax(const uint8_t *uuid, uint16_t major, uint16_t minor)
{
	for (size_t i = 0; i < NIFACES; i++)
		if (!memcmp(ifaces[i]->uuid, uuid, 16) && ifaces[i]->vers_major == major &&
		    ifaces[i]->vers_minor >= minor)
			return ifaces[i];
	return NULL;
}

static void add_ctx(struct rpc_pipe *p, uint16_t id, const struct rpc_iface *iface)
{
	for (int i = 0; i < p->nctx; i++)
		if (p->ctx[i].id == id) {
			p->ctx[i].iface = iface;
			return;
		}
	if (p->nctx < MAX_CONTEXTS)
		p->ctx[p->nctx++] = (struct rpc_ctx){id, iface};
}

/* Writes the p_result_list for the contexts in r; returns -1 when malformed. */
static int negotiate_contexts(struct rpc_pipe *p, struct rd *r, struct wr *res)
{
	uint8_t n = rd_u8(r);
	rd_skip(r, 3);
	wr_u8(res, n);
	wr_u8(res, 0);
	wr_u16(res, 0);
	for (uint8_t i = 0; i < n; i++) {
		uint16_t id = rd_u16(r);
		uint8_t ntrans = rd_u8(r);
		rd_skip(r, 1);
		const uint8_t *abs = rd_ptr(r, 16);
		uint16_t major = rd_u16(r), minor = rd_u16(r);
		bool ndr = false, btfn = false;
		uint8_t btfn_bits = 0;
		for (uint8_t t = 0; t < ntrans; t++) {
			const uint8_t *ts = rd_ptr(r, 16);
			uint32_t tv = rd_u32(r);
			if (!ts)
				break;
			if (!memcmp(ts, ndr_syntax, 16) && tv == 2)
				ndr = true;
			if (!memcmp(ts, btfn_prefix, 8)) {
				btfn = true;
				btfn_bits = ts[8];
			}
		}
		if (!rd_ok(r) || ntrans == 0)
			return -1;
		const struct rpc_iface *iface = iface_by_syntax(abs, major, minor);
		uint16_t result, reason = 0;
		if (btfn && !ndr) {
			result = RES_NEGOTIATE_ACK;
			reason = btfn_bits & 0x02; /* keep the connection on orphaned: harmless */
		} else if (!iface) {
			result = RES_PROVIDER_REJECT;
			reason = REASON_ABSTRACT_NOT_SUPPORTED;
		} else if (!ndr) {
			result = RES_PROVIDER_REJECT;
			reason = REASON_TRANSFER_NOT_SUPPORTED;
		} else {
			result = RES_ACCEPT;
			add_ctx(p, id, iface);
		}
		wr_u16(res, result);
		wr_u16(res, reason);
		if (result == RES_ACCEPT)
			wr_bytes(res, ndr_syntax, 16), wr_u32(res, 2);
		else
			wr_zero(res, 20);
	}
	return 0;
}

static int handle_bind(struct rpc_pipe *p, uint8_t ptype, uint32_t call_id, uint16_t auth_len,
		       struct rd *r)
{
	uint16_t max_xmit = rd_u16(r);
	rd_skip(r, 2); /* max_recv_frag */
	uint32_t assoc = rd_u32(r);
	if (!rd_ok(r))
		return -1;
	if (auth_len) {
		/* authenticated binds (NTLMSSP/Kerberos over RPC) are not served yet */
		size_t s = pdu_start(p, PT_BIND_NAK, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id);
		wr_u16(&p->out, NAK_AUTH_TYPE_NOT_RECOGNIZED);
		wr_u8(&p->out, 1);
		wr_u8(&p->out, 5);
		wr_u8(&p->out, 0);
		pdu_end(p, s);
		return 0;
	}
	struct wr res;
	wr_init(&res, 64);
	if (negotiate_contexts(p, r, &res) < 0) {
		wr_free(&res);
		return -1;
	}
	if (ptype == PT_BIND) {
		if (max_xmit >= 1024 && max_xmit < p->max_xmit)
			p->max_xmit = max_xmit;
		p->assoc_group = assoc ? assoc : 0x12345678u ^ (uint32_t)(uintptr_t)p;
		p->bound = true;
	}
	size_t s = pdu_start(p, ptype == PT_BIND ? PT_BIND_ACK : PT_ALTER_RESP,
			     PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id);
	wr_u16(&p->out, p->max_xmit);
	wr_u16(&p->out, p->max_xmit);
	wr_u32(&p->out, p->assoc_group);
	if (ptype == PT_BIND) {
		char sec[64];
		snprintf(sec, sizeof(sec), "\\PIPE\\%s", p->pipe_name);
		wr_u16(&p->out, (uint16_t)(strlen(sec) + 1));
		wr_bytes(&p->out, sec, strlen(sec) + 1);
	} else {
		wr_u16(&p->out, 0);
	}
	while ((p->out.len - s) % 4)
		wr_u8(&p->out, 0);
	wr_bytes(&p->out, res.p, res.len);
	wr_free(&res);
	pdu_end(p, s);
	return 0;
}

/* ---- REQUEST ---- */

static void dispatch(struct rpc_pipe *p)
{
	const struct rpc_iface *iface = NULL;
	for (int i = 0; i < p->nctx; i++)
		if (p->ctx[i].id == p->req_ctx)
			iface = p->ctx[i].iface;
	if (!iface) {
		send_fault(p, p->req_call_id, p->req_ctx, NCA_S_UNKNOWN_IF);
		return;
	}
	if (p->req_opnum >= iface->nops || !iface->ops[p->req_opnum]) {
		send_fault(p, p->req_call_id, p->req_ctx, NCA_S_OP_RNG_ERROR);
		return;
	}
	struct wr stub;
	wr_init(&stub, 256);
	struct rpc_call call = {.env = &p->env, .in = rd_make(p->req.p, p->req.len),
				.out = {.w = &stub}};
	uint32_t fault = iface->ops[p->req_opnum](&call);
	if (!fault && !wr_ok(&stub))
		fault = NCA_S_FAULT_REMOTE_NO_MEMORY;
	if (fault)
		send_fault(p, p->req_call_id, p->req_ctx, fault);
	else
		send_response(p, p->req_call_id, p->req_ctx, stub.p, stub.len);
	LOG_DBG(LOG_RPC, "%s opnum %u -> %s 0x%x", iface->name, p->req_opnum,
		fault ? "fault" : "ok", fault);
	wr_free(&stub);
}

static int handle_request(struct rpc_pipe *p, uint8_t flags, uint32_t call_id, struct rd *r,
			  size_t stub_end)
{
	rd_skip(r, 4); /* alloc_hint */
	uint16_t ctx = rd_u16(r);
	uint16_t opnum = rd_u16(r);
	if (flags & PFC_OBJECT_UUID)
		rd_skip(r, 16);
	if (!rd_ok(r) || r->off > stub_end)
		return -1;
	if (!p->bound) {
		send_fault(p, call_id, ctx, NCA_S_PROTO_ERROR);
		return 0;
	}
	if (flags & PFC_FIRST_FRAG) {
		p->req.len = 0;
		p->req_active = true;
		p->req_call_id = call_id;
		p->req_ctx = ctx;
		p->req_opnum = opnum;
	} else if (!p->req_active || call_id != p->req_call_id) {
		return -1;
	}
	size_t n = stub_end - r->off;
	if (p->req.len + n > MAX_REQUEST) {
		p->req_active = false;
		send_fault(p, call_id, ctx, NCA_S_PROTO_ERROR);
		return 0;
	}
	wr_bytes(&p->req, r->p + r->off, n);
	if (!wr_ok(&p->req))
		return -ENOMEM;
	if (flags & PFC_LAST_FRAG) {
		p->req_active = false;
		dispatch(p);
	}
	return 0;
}

/* Handles one whole PDU; -1 when it is malformed. */
static int handle_pdu(struct rpc_pipe *p, const uint8_t *pdu, size_t len)
{
	struct rd r = rd_make(pdu, len);
	uint8_t vers = rd_u8(&r), minor = rd_u8(&r), ptype = rd_u8(&r), flags = rd_u8(&r);
	uint8_t drep0 = rd_u8(&r);
	rd_skip(&r, 3);
	rd_skip(&r, 2); /* frag_length: the caller framed the PDU by it */
	uint16_t auth_len = rd_u16(&r);
	uint32_t call_id = rd_u32(&r);
	if (!rd_ok(&r) || vers != 5 || minor > 1 || (drep0 & 0xF0) != 0x10)
		return -1; /* only little-endian data representation is spoken */
	size_t stub_end = len;
	if (auth_len) {
		if ((size_t)auth_len + 8 > len - RPC_HDR_LEN)
			return -1;
		stub_end = len - auth_len - 8;
	}
	switch (ptype) {
	case PT_BIND:
	case PT_ALTER:
		return handle_bind(p, ptype, call_id, auth_len, &r);
	case PT_REQUEST:
		return handle_request(p, flags, call_id, &r, stub_end);
	case PT_AUTH3:
		return 0; /* no authenticated binds are accepted, so nothing to complete */
	default:
		return -1;
	}
}

int rpc_pipe_write(struct rpc_pipe *p, const uint8_t *data, size_t len)
{
	if (p->broken)
		return -EPIPE;
	wr_bytes(&p->in, data, len);
	if (!wr_ok(&p->in))
		return -ENOMEM;
	size_t off = 0;
	int rc = 0;
	while (p->in.len - off >= RPC_HDR_LEN) {
		uint16_t flen = get_le16(p->in.p + off + 8);
		if (flen < RPC_HDR_LEN) {
			rc = -EINVAL;
			break;
		}
		if (p->in.len - off < flen)
			break;
		rc = handle_pdu(p, p->in.p + off, flen);
		if (rc < 0)
			break;
		off += flen;
	}
	if (rc < 0) {
		/* the byte stream cannot be resynchronised after a bad PDU */
		p->broken = true;
		p->in.len = 0;
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if (off) {
		memmove(p->in.p, p->in.p + off, p->in.len - off);
		p->in.len -= off;
	}
	return 0;
}

size_t rpc_pipe_pending(const struct rpc_pipe *p)
{
	return p->out.len - p->out_off;
}

size_t rpc_pipe_read(struct rpc_pipe *p, uint8_t *out, size_t max, bool *more)
{
	size_t n = rpc_pipe_pending(p);
	if (n > max)
		n = max;
	if (n)
		memcpy(out, p->out.p + p->out_off, n);
	p->out_off += n;
	if (p->out_off == p->out.len) {
		p->out.len = 0;
		p->out_off = 0;
	}
	*more = rpc_pipe_pending(p) > 0;
	return n;
}
