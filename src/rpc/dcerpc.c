/* DCE/RPC connection-oriented protocol over a named pipe (C706 chapter 12, MS-RPCE 2.2.2):
 * BIND / ALTER_CONTEXT negotiation, REQUEST reassembly, RESPONSE fragmentation, FAULT. The pipe
 * is a byte stream; PDUs are framed by their frag_length.
 *
 * Error policy: a PDU that can be framed but is wrong (bad body, big-endian data representation,
 * unknown context or opnum, fragments out of order) is answered with a BIND_NAK or a FAULT and
 * the stream goes on. A PDU that cannot be answered (a client sending a server's PDU type) makes
 * rpc_pipe_write return -EINVAL after the rest of the write was handled. A stream that cannot
 * be framed (rpc_vers != 5, frag_length < 16, an unknown integer representation) breaks the pipe:
 * -EINVAL, then -EPIPE for every later write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "lib/log.h"
#include "rpc/pdu.h"
#include "rpc/rpc_internal.h"

#define FRAG_MAX 4280 /* what Windows offers on ncacn_np */
#define FRAG_MIN 128  /* below this a response fragment would carry almost no stub */
/* a reassembled request stub; more is hostile for the services served */
#define MAX_REQUEST (4u << 20)
#define MAX_CONTEXTS 16

#define PFC_DID_NOT_EXECUTE 0x20 /* FAULT: the call was never dispatched (MS-RPCE 2.2.2.3) */
#define PTYPE_CO_CANCEL 18
#define PTYPE_ORPHANED 19

/* bind_nak and p_provider_reason_t values (C706 12.6.3.1, MS-RPCE 2.2.2.5) */
#define NAK_REASON_NOT_SPECIFIED 0
#define NAK_PROTOCOL_VERSION_NOT_SUPPORTED 4
#define PROVIDER_LOCAL_LIMIT_EXCEEDED 3
#define BTFN_KEEP_CONN_ON_ORPHAN 0x02 /* MS-RPCE 2.2.2.14 */

/* Every interface served. Adding a service is one entry here (and its rpc_iface). */
static const struct rpc_iface *const ifaces[] = {&rpc_srvsvc_iface};
#define NIFACES (sizeof(ifaces) / sizeof(ifaces[0]))

struct rpc_ctx {
	uint16_t id;
	const struct rpc_iface *iface;
};

/* A request being reassembled from its fragments (C706 12.6.3.7). */
struct rpc_call_in {
	bool active;
	bool discard; /* too large: already faulted, the remaining fragments are dropped */
	uint32_t call_id;
	uint16_t ctx_id, opnum;
	struct wr stub;
};

struct rpc_pipe {
	struct rpc_env env;
	const char *pipe_name; /* the table's spelling, for the secondary address */
	struct rpc_ctx ctx[MAX_CONTEXTS];
	int nctx;
	uint16_t max_xmit, max_recv; /* negotiated fragment sizes (ours) */
	uint32_t assoc_group;
	bool bound;
	bool broken;	 /* framing lost: every write fails */
	bool unanswered; /* this write held a PDU that could not be answered */
	struct wr in;	 /* bytes not yet forming a whole PDU */
	struct rpc_call_in call;
	struct wr out; /* pending output */
	size_t out_off;
};

static const char *base_name(const char *name)
{
	if (!strncasecmp(name, "\\PIPE\\", 6))
		return name + 6;
	if (name[0] == '\\')
		return name + 1;
	return name;
}

static const struct rpc_iface *iface_for_pipe(const char *name, const char **canon)
{
	const char *b = name ? base_name(name) : "";
	for (size_t i = 0; i < NIFACES; i++)
		for (const char *const *p = ifaces[i]->pipes; *p; p++)
			if (!strcasecmp(b, *p)) {
				if (canon)
					*canon = *p;
				return ifaces[i];
			}
	return NULL;
}

bool rpc_pipe_known(const char *name)
{
	return iface_for_pipe(name, NULL) != NULL;
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
	int n = s->shares && s->nshares > 0 ? s->nshares : 0;
	struct rpc_share_info *sh = calloc((size_t)n + 1, sizeof(*sh));
	d->shares = sh;
	if (!sh || !d->server_name || !d->server_comment || !d->domain || !d->user)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
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

/* A nonzero association group id that another pipe is unlikely to repeat. */
static uint32_t new_assoc_group(const void *salt)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)(uintptr_t)salt ^ (uint32_t)time(NULL) * 2654435761u;
	return v ? v : 1;
}

struct rpc_pipe *rpc_pipe_open(const char *name, const struct rpc_env *env)
{
	const char *canon = NULL;
	if (!iface_for_pipe(name, &canon)) {
		errno = ENOENT;
		return NULL;
	}
	struct rpc_pipe *p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->pipe_name = canon;
	p->max_xmit = p->max_recv = FRAG_MAX;
	wr_init(&p->in, 0);
	wr_init(&p->call.stub, 0);
	wr_init(&p->out, 0);
	if (env_copy(&p->env, env) < 0) {
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
	wr_free(&p->in);
	wr_free(&p->call.stub);
	wr_free(&p->out);
	free(p);
}

/* ---- output ---- */

static void send_fault(struct rpc_pipe *p, uint32_t call_id, uint16_t ctx, uint32_t status,
		       bool not_executed)
{
	size_t start = p->out.len;
	rpc_fault_write(&p->out, call_id, ctx, status);
	uint8_t *flags = wr_at(&p->out, start + 3);
	if (not_executed && flags)
		*flags |= PFC_DID_NOT_EXECUTE;
	LOG_DBG(LOG_RPC, "%s: call %u fault 0x%08x", p->pipe_name, call_id, status);
}

/* RESPONSE PDUs of at most max_xmit bytes; every stub part but the last is a multiple of 8
 * bytes, so that no fragment boundary splits an NDR primitive (MS-RPCE 3.3.1.5.7). */
static void send_response(struct rpc_pipe *p, uint32_t call_id, uint16_t ctx, const uint8_t *stub,
			  size_t len)
{
	size_t max_stub = ((size_t)p->max_xmit - RPC_REQ_HDR_LEN) & ~(size_t)7;
	size_t off = 0;
	do {
		size_t n = len - off < max_stub ? len - off : max_stub;
		uint8_t flags =
		    (off == 0 ? RPC_PFC_FIRST_FRAG : 0) | (off + n == len ? RPC_PFC_LAST_FRAG : 0);
		/* alloc_hint: the stub bytes still to come, this fragment's included */
		rpc_response_write(&p->out, flags, call_id, (uint32_t)(len - off), ctx, stub + off,
				   n);
		off += n;
	} while (off < len && wr_ok(&p->out));
}

/* ---- BIND and ALTER_CONTEXT ---- */

static const struct rpc_iface *iface_by_syntax(const struct rpc_syntax *s)
{
	for (size_t i = 0; i < NIFACES; i++)
		if (!memcmp(ifaces[i]->uuid, s->uuid, 16) && ifaces[i]->vers_major == s->major &&
		    ifaces[i]->vers_minor >= s->minor)
			return ifaces[i];
	return NULL;
}

static bool add_ctx(struct rpc_pipe *p, uint16_t id, const struct rpc_iface *iface)
{
	for (int i = 0; i < p->nctx; i++)
		if (p->ctx[i].id == id) {
			p->ctx[i].iface = iface;
			return true;
		}
	if (p->nctx == MAX_CONTEXTS)
		return false;
	p->ctx[p->nctx++] = (struct rpc_ctx){id, iface};
	return true;
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
		/* NDR 2.0 only: an NDR64-only context gets transfer_syntaxes_not_supported */
		if (!memcmp(ts.uuid, rpc_ndr_syntax.uuid, 16) && ts.major == 2 && ts.minor == 0)
			ndr = true;
		else if (rpc_syntax_is_btfn(&ts, &bits)) {
			btfn = true;
			btfn_bits = bits;
		}
	}
	const struct rpc_iface *iface = iface_by_syntax(&c->abstract);
	if (btfn && !ndr) {
		/* the pseudo-context: acknowledge only keep-connection-on-orphan, which holds as
		   orphaned PDUs are ignored; security context multiplexing is not offered */
		res.result = RPC_RES_NEGOTIATE_ACK;
		res.reason = btfn_bits & BTFN_KEEP_CONN_ON_ORPHAN;
	} else if (!iface) {
		res.result = RPC_RES_PROVIDER_REJECT;
		res.reason = RPC_REASON_ABSTRACT_NOT_SUPPORTED;
	} else if (!ndr) {
		res.result = RPC_RES_PROVIDER_REJECT;
		res.reason = RPC_REASON_TRANSFER_NOT_SUPPORTED;
	} else if (!add_ctx(p, c->id, iface)) {
		res.result = RPC_RES_PROVIDER_REJECT;
		res.reason = PROVIDER_LOCAL_LIMIT_EXCEEDED;
	} else {
		res.result = RPC_RES_ACCEPT;
		res.transfer = rpc_ndr_syntax;
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

/* A BIND that cannot be accepted gets a BIND_NAK; an ALTER_CONTEXT has no NAK, so a FAULT. */
static void bind_refuse(struct rpc_pipe *p, uint8_t ptype, uint32_t call_id, uint16_t reason)
{
	if (ptype == RPC_PTYPE_BIND)
		rpc_bind_nak_write(&p->out, call_id, reason);
	else
		send_fault(p, call_id, 0, NCA_S_PROTO_ERROR, true);
}

static uint16_t frag_size(uint16_t client)
{
	return client < FRAG_MIN ? FRAG_MIN : client > FRAG_MAX ? FRAG_MAX : client;
}

/* A BIND starts a new association on the pipe (earlier contexts are forgotten); an
 * ALTER_CONTEXT adds contexts to the bound one (C706 12.6.4.1, 12.6.4.3). */
static int handle_bind(struct rpc_pipe *p, const struct rpc_hdr *h, const uint8_t *pdu)
{
	bool bind = h->ptype == RPC_PTYPE_BIND;
	struct rpc_bind b;
	if (h->auth_len) {
		/* authenticated binds (NTLMSSP/Kerberos over RPC) are not served yet */
		bind_refuse(p, h->ptype, h->call_id, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
		return 0;
	}
	if (rpc_bind_parse(pdu, h, &b) < 0 || (!bind && !p->bound)) {
		bind_refuse(p, h->ptype, h->call_id, NAK_REASON_NOT_SPECIFIED);
		return 0;
	}
	struct rpc_ctx_result *res = calloc(UINT8_MAX, sizeof(*res));
	if (!res)
		return -ENOMEM;
	if (bind)
		p->nctx = 0;
	uint8_t nres = 0;
	if (negotiate_contexts(p, &b, res, &nres) < 0) {
		free(res);
		if (bind)
			p->nctx = 0;
		bind_refuse(p, h->ptype, h->call_id, NAK_REASON_NOT_SPECIFIED);
		return 0;
	}
	char sec[64];
	if (bind) {
		/* we send what the client can receive, and receive what it may send */
		p->max_xmit = frag_size(b.max_recv);
		p->max_recv = frag_size(b.max_xmit);
		p->assoc_group = b.assoc_group ? b.assoc_group : new_assoc_group(p);
		p->bound = true;
		snprintf(sec, sizeof(sec), "\\PIPE\\%s", p->pipe_name);
	}
	/* BIND_ACK carries the secondary address; ALTER_CONTEXT_RESP an empty one, as Windows */
	rpc_bind_ack_write(&p->out, bind ? RPC_PTYPE_BIND_ACK : RPC_PTYPE_ALTER_CONTEXT_RESP,
			   h->call_id, p->max_xmit, p->max_recv, p->assoc_group, bind ? sec : NULL,
			   res, nres);
	free(res);
	return 0;
}

/* ---- REQUEST ---- */

static const struct rpc_iface *iface_by_ctx(const struct rpc_pipe *p, uint16_t id)
{
	for (int i = 0; i < p->nctx; i++)
		if (p->ctx[i].id == id)
			return p->ctx[i].iface;
	return NULL;
}

static void dispatch(struct rpc_pipe *p)
{
	struct rpc_call_in *in = &p->call;
	const struct rpc_iface *iface = iface_by_ctx(p, in->ctx_id);
	if (!iface) {
		send_fault(p, in->call_id, in->ctx_id, NCA_S_UNKNOWN_IF, true);
		return;
	}
	if (in->opnum >= iface->nops || !iface->ops[in->opnum]) {
		send_fault(p, in->call_id, in->ctx_id, NCA_S_OP_RNG_ERROR, true);
		return;
	}
	struct wr stub;
	wr_init(&stub, 256);
	struct rpc_call call = {
	    .env = &p->env, .in = rd_make(in->stub.p, in->stub.len), .out = {.w = &stub}};
	uint32_t fault = iface->ops[in->opnum](&call);
	if (!fault && !wr_ok(&stub))
		fault = NCA_S_FAULT_REMOTE_NO_MEMORY;
	if (fault)
		send_fault(p, in->call_id, in->ctx_id, fault, false);
	else
		send_response(p, in->call_id, in->ctx_id, stub.p, stub.len);
	LOG_DBG(LOG_RPC, "%s opnum %u: %zu bytes in, %s 0x%x", iface->name, in->opnum, in->stub.len,
		fault ? "fault" : "ok", fault);
	wr_free(&stub);
}

/* Starts reassembling the call a PDU with PFC_FIRST_FRAG opens (a call left unfinished is
 * dropped: C706 allows one call at a time per association on a pipe). */
static void call_start(struct rpc_pipe *p, const struct rpc_hdr *h, const struct rpc_request *q)
{
	struct rpc_call_in *in = &p->call;
	in->active = true;
	in->discard = false;
	in->call_id = h->call_id;
	in->ctx_id = q->ctx_id;
	in->opnum = q->opnum;
	in->stub.len = 0;
	in->stub.err = false;
}

static int handle_request(struct rpc_pipe *p, const struct rpc_hdr *h, const uint8_t *pdu)
{
	struct rpc_call_in *in = &p->call;
	struct rpc_request q;
	if (rpc_request_parse(pdu, h, &q) < 0 || h->auth_len || !p->bound) {
		/* no security context is ever negotiated, so a verifier is a protocol error */
		send_fault(p, h->call_id, 0, NCA_S_PROTO_ERROR, true);
		return 0;
	}
	if (h->flags & RPC_PFC_FIRST_FRAG) {
		call_start(p, h, &q);
	} else if (!in->active || h->call_id != in->call_id) {
		in->active = false;
		send_fault(p, h->call_id, q.ctx_id, NCA_S_PROTO_ERROR, true);
		return 0;
	}
	if (!in->discard && in->stub.len + q.stub_len > MAX_REQUEST) {
		in->discard = true;
		send_fault(p, h->call_id, in->ctx_id, NCA_S_FAULT_REMOTE_NO_MEMORY, true);
	}
	if (!in->discard) {
		wr_bytes(&in->stub, q.stub, q.stub_len);
		if (!wr_ok(&in->stub)) {
			in->active = false;
			return -ENOMEM;
		}
	}
	if (h->flags & RPC_PFC_LAST_FRAG) {
		in->active = false;
		if (!in->discard)
			dispatch(p);
	}
	return 0;
}

/* ---- framing ---- */

/* The fields a PDU is framed and answered by (C706 12.6.3.1), read in the sender's integer
 * representation so that a big-endian PDU can still be stepped over and refused. */
struct frame {
	uint8_t vers_minor, ptype;
	bool little_endian;
	uint16_t frag_len;
	uint32_t call_id;
};

/* 1 with f filled, 0 while the header is incomplete, -1 when the stream cannot be framed. */
static int frame_peek(const uint8_t *b, size_t avail, struct frame *f)
{
	if (avail < RPC_HDR_LEN)
		return 0;
	uint8_t int_rep = b[4] >> 4; /* drep[0] high nibble: 0 big-endian, 1 little-endian */
	if (b[0] != 5 || int_rep > 1)
		return -1;
	f->vers_minor = b[1];
	f->ptype = b[2];
	f->little_endian = int_rep == 1;
	if (f->little_endian) {
		f->frag_len = get_le16(b + 8);
		f->call_id = get_le32(b + 12);
	} else {
		f->frag_len = (uint16_t)(b[8] << 8 | b[9]);
		f->call_id =
		    (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
	}
	return f->frag_len < RPC_HDR_LEN ? -1 : 1;
}

/* A framed PDU whose header shoal cannot accept: refused in a way the client understands. */
static void refuse_pdu(struct rpc_pipe *p, const struct frame *f)
{
	switch (f->ptype) {
	case RPC_PTYPE_BIND:
		rpc_bind_nak_write(&p->out, f->call_id,
				   f->vers_minor > 1 ? NAK_PROTOCOL_VERSION_NOT_SUPPORTED
						     : NAK_REASON_NOT_SPECIFIED);
		break;
	case RPC_PTYPE_ALTER_CONTEXT:
	case RPC_PTYPE_REQUEST:
		send_fault(p, f->call_id, 0, NCA_S_PROTO_ERROR, true);
		break;
	default:
		p->unanswered = true;
	}
}

/* Handles one whole PDU of f->frag_len bytes; < 0 only for -ENOMEM. */
static int handle_pdu(struct rpc_pipe *p, const struct frame *f, const uint8_t *pdu)
{
	struct rpc_hdr h;
	/* only little-endian integers are spoken; rpc_hdr_parse also checks the auth trailer */
	if (!f->little_endian || rpc_hdr_parse(pdu, f->frag_len, &h) < 0) {
		refuse_pdu(p, f);
		return 0;
	}
	switch (h.ptype) {
	case RPC_PTYPE_BIND:
	case RPC_PTYPE_ALTER_CONTEXT:
		return handle_bind(p, &h, pdu);
	case RPC_PTYPE_REQUEST:
		return handle_request(p, &h, pdu);
	case RPC_PTYPE_AUTH3:
	case PTYPE_CO_CANCEL:
	case PTYPE_ORPHANED:
		/* no authenticated bind is ever acknowledged, so there is nothing for an AUTH3 to
		   complete; a call runs to completion before the next PDU is read, so there is
		   nothing left to cancel or orphan */
		return 0;
	default:
		p->unanswered = true;
		return 0;
	}
}

int rpc_pipe_write(struct rpc_pipe *p, const uint8_t *data, size_t len)
{
	if (p->broken)
		return -EPIPE;
	if (len)
		wr_bytes(&p->in, data, len);
	if (!wr_ok(&p->in)) {
		p->broken = true;
		return -ENOMEM;
	}
	size_t off = 0;
	int rc = 0;
	p->unanswered = false;
	for (;;) {
		struct frame f;
		if (p->in.len - off < RPC_HDR_LEN)
			break;
		int fr = frame_peek(p->in.p + off, p->in.len - off, &f);
		if (fr < 0)
			rc = -EINVAL;
		if (fr <= 0 || p->in.len - off < f.frag_len)
			break;
		rc = handle_pdu(p, &f, p->in.p + off);
		if (rc < 0)
			break;
		off += f.frag_len;
	}
	if (!rc && !wr_ok(&p->out))
		rc = -ENOMEM; /* an answer was lost: the client would wait for it forever */
	if (rc < 0) {
		LOG_DBG(LOG_RPC, "%s: stream lost (%d)", p->pipe_name, rc);
		p->broken = true;
		p->in.len = 0;
		return rc;
	}
	if (off) {
		memmove(p->in.p, p->in.p + off, p->in.len - off);
		p->in.len -= off;
	}
	return p->unanswered ? -EINVAL : 0;
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
	if (more)
		*more = rpc_pipe_pending(p) > 0;
	return n;
}
