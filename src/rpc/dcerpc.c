/* DCE/RPC connection-oriented protocol over a named pipe (C706 chapter 12, MS-RPCE 2.2.2):
 * BIND / ALTER_CONTEXT negotiation, REQUEST reassembly, RESPONSE fragmentation, FAULT. The pipe
 * is a byte stream; PDUs are framed by their frag_length. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "rpc/pdu.h"
#include "rpc/rpc_internal.h"

#define MAX_FRAG 4280       /* what Windows uses on ncacn_np */
#define MAX_REQUEST (4u << 20)
#define MAX_CONTEXTS 8

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

static void send_fault(struct rpc_pipe *p, uint32_t call_id, uint16_t ctx, uint32_t status)
{
	rpc_fault_write(&p->out, call_id, ctx, status);
}

static void send_response(struct rpc_pipe *p, uint32_t call_id, uint16_t ctx, const uint8_t *stub,
			  size_t len)
{
	size_t max_stub = (size_t)p->max_xmit - RPC_REQ_HDR_LEN;
	size_t off = 0;
	do {
		size_t n = len - off < max_stub ? len - off : max_stub;
		uint8_t flags =
		    (off == 0 ? RPC_PFC_FIRST_FRAG : 0) | (off + n == len ? RPC_PFC_LAST_FRAG : 0);
		rpc_response_write(&p->out, flags, call_id, (uint32_t)(len - off), ctx, stub + off,
				   n);
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

/* The result for one presentation context (C706 12.6.3.1, MS-RPCE 3.3.1.5.3). */
static struct rpc_ctx_result negotiate_one(struct rpc_pipe *p, const struct rpc_pctx *c)
{
	struct rpc_ctx_result res = {0};
	bool ndr = false, btfn = false;
	uint8_t btfn_bits = 0;
	for (uint8_t t = 0; t < c->ntransfer; t++) {
		struct rpc_syntax ts;
		uint8_t bits;
		rpc_pctx_transfer(c, t, &ts);
		if (!memcmp(ts.uuid, rpc_ndr_syntax.uuid, 16) && ts.major == 2 && ts.minor == 0)
			ndr = true;
		if (rpc_syntax_is_btfn(&ts, &bits)) {
			btfn = true;
			btfn_bits = bits;
		}
	}
	const struct rpc_iface *iface =
	    iface_by_syntax(c->abstract.uuid, c->abstract.major, c->abstract.minor);
	if (btfn && !ndr) {
		res.result = RPC_RES_NEGOTIATE_ACK;
		res.reason = btfn_bits & 0x02; /* keep the connection on orphaned: harmless */
	} else if (!iface) {
		res.result = RPC_RES_PROVIDER_REJECT;
		res.reason = RPC_REASON_ABSTRACT_NOT_SUPPORTED;
	} else if (!ndr) {
		res.result = RPC_RES_PROVIDER_REJECT;
		res.reason = RPC_REASON_TRANSFER_NOT_SUPPORTED;
	} else {
		res.result = RPC_RES_ACCEPT;
		res.transfer = rpc_ndr_syntax;
		add_ctx(p, c->id, iface);
	}
	return res;
}

/* Fills res (room for 255) with a result per context of b; -1 when the list is malformed. */
static int negotiate_contexts(struct rpc_pipe *p, struct rpc_bind *b, struct rpc_ctx_result *res,
			      uint8_t *nres)
{
	if (rpc_bind_ctx_count(b, nres) < 0)
		return -1;
	for (uint8_t i = 0; i < *nres; i++) {
		struct rpc_pctx c;
		if (rpc_bind_next_ctx(b, &c) < 0)
			return -1;
		res[i] = negotiate_one(p, &c);
	}
	return 0;
}

static int handle_bind(struct rpc_pipe *p, const struct rpc_hdr *h, const uint8_t *pdu)
{
	struct rpc_bind b;
	if (rpc_bind_parse(pdu, h, &b) < 0)
		return -1;
	if (h->auth_len) {
		/* authenticated binds (NTLMSSP/Kerberos over RPC) are not served yet */
		rpc_bind_nak_write(&p->out, h->call_id, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
		return 0;
	}
	struct rpc_ctx_result *res = calloc(UINT8_MAX, sizeof(*res));
	uint8_t nres = 0;
	if (!res)
		return -ENOMEM;
	if (negotiate_contexts(p, &b, res, &nres) < 0) {
		free(res);
		return -1;
	}
	bool bind = h->ptype == RPC_PTYPE_BIND;
	if (bind) {
		if (b.max_xmit >= 1024 && b.max_xmit < p->max_xmit)
			p->max_xmit = b.max_xmit;
		p->assoc_group = b.assoc_group ? b.assoc_group : 0x12345678u ^ (uint32_t)(uintptr_t)p;
		p->bound = true;
	}
	char sec[64];
	snprintf(sec, sizeof(sec), "\\PIPE\\%s", p->pipe_name);
	rpc_bind_ack_write(&p->out, bind ? RPC_PTYPE_BIND_ACK : RPC_PTYPE_ALTER_CONTEXT_RESP,
			   h->call_id, p->max_xmit, p->max_xmit, p->assoc_group, bind ? sec : NULL,
			   res, nres);
	free(res);
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

static int handle_request(struct rpc_pipe *p, const struct rpc_hdr *h, const uint8_t *pdu)
{
	struct rpc_request q;
	if (rpc_request_parse(pdu, h, &q) < 0)
		return -1;
	if (!p->bound) {
		send_fault(p, h->call_id, q.ctx_id, NCA_S_PROTO_ERROR);
		return 0;
	}
	if (h->flags & RPC_PFC_FIRST_FRAG) {
		p->req.len = 0;
		p->req_active = true;
		p->req_call_id = h->call_id;
		p->req_ctx = q.ctx_id;
		p->req_opnum = q.opnum;
	} else if (!p->req_active || h->call_id != p->req_call_id) {
		return -1;
	}
	if (p->req.len + q.stub_len > MAX_REQUEST) {
		p->req_active = false;
		send_fault(p, h->call_id, q.ctx_id, NCA_S_PROTO_ERROR);
		return 0;
	}
	wr_bytes(&p->req, q.stub, q.stub_len);
	if (!wr_ok(&p->req))
		return -ENOMEM;
	if (h->flags & RPC_PFC_LAST_FRAG) {
		p->req_active = false;
		dispatch(p);
	}
	return 0;
}

/* Handles one whole PDU; -1 when it is malformed. */
static int handle_pdu(struct rpc_pipe *p, const uint8_t *pdu, size_t len)
{
	struct rpc_hdr h;
	if (rpc_hdr_parse(pdu, len, &h) < 0)
		return -1; /* only little-endian data representation is spoken */
	switch (h.ptype) {
	case RPC_PTYPE_BIND:
	case RPC_PTYPE_ALTER_CONTEXT:
		return handle_bind(p, &h, pdu);
	case RPC_PTYPE_REQUEST:
		return handle_request(p, &h, pdu);
	case RPC_PTYPE_AUTH3:
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
		size_t flen = rpc_peek_frag_len(p->in.p + off, p->in.len - off);
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
