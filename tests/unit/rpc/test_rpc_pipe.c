/* The DCE/RPC pipe's protocol edges: fragment sizes, several PDUs per write and PDUs split
 * across writes, presentation context negotiation (NDR64, bind time feature negotiation,
 * ALTER_CONTEXT), refused PDUs (big-endian, authenticated, unbound), oversized requests, srvsvc
 * info levels decoded with the NDR helpers, and random streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/ndr.h"
#include "rpc/pdu.h"
#include "rpc/rpc.h"

static const struct rpc_syntax srvsvc = {{0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12,
					  0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88},
					 3,
					 0};
/* bind time feature negotiation, both features asked for */
static const struct rpc_syntax btfn = {
    {0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45, 0x03}, 1, 0};

static const struct rpc_share_info shares3[] = {
    {"test", "a test share", "/srv/test", 0, true},
    {"hidden", "not listed", "/srv/hidden", 0, false},
    {"IPC$", "IPC Service", "", 0x80000003u, true},
};
static const struct rpc_env env3 = {"SHOAL", "shoal server", "WORKGROUP", "u", shares3, 3, 0x311};

/* ---- helpers ---- */

struct pdus {
	int n;
	uint8_t ptype[512];
	uint8_t flags[512];
	uint16_t frag_len[512];
	struct wr stub;	     /* RESPONSE stubs, concatenated */
	uint8_t first[1024]; /* the first PDU */
	size_t first_len;
};

/* Reads all pending output and checks it is a sequence of whole, parseable PDUs. */
static void drain(struct rpc_pipe *p, struct pdus *o)
{
	memset(o, 0, sizeof(*o));
	wr_init(&o->stub, 0);
	size_t len = rpc_pipe_pending(p);
	uint8_t *buf = malloc(len + 1);
	assert_non_null(buf);
	bool more = true;
	assert_int_equal(rpc_pipe_read(p, buf, len, &more), len);
	assert_false(more);
	size_t off = 0;
	while (off < len) {
		struct rpc_hdr h;
		assert_int_equal(rpc_hdr_parse(buf + off, len - off, &h), 0);
		assert_true(o->n < 512);
		o->ptype[o->n] = h.ptype;
		o->flags[o->n] = h.flags;
		o->frag_len[o->n] = h.frag_len;
		if (o->n == 0) {
			o->first_len =
			    h.frag_len < sizeof(o->first) ? h.frag_len : sizeof(o->first);
			memcpy(o->first, buf + off, o->first_len);
		}
		if (h.ptype == RPC_PTYPE_RESPONSE) {
			struct rpc_response r;
			assert_int_equal(rpc_response_parse(buf + off, &h, &r), 0);
			wr_bytes(&o->stub, r.stub, r.stub_len);
		}
		o->n++;
		off += h.frag_len;
	}
	free(buf);
}

static uint32_t first_fault(const struct pdus *o)
{
	struct rpc_hdr h;
	struct rpc_fault f;
	assert_int_equal(rpc_hdr_parse(o->first, o->first_len, &h), 0);
	assert_int_equal(rpc_fault_parse(o->first, &h, &f), 0);
	return f.status;
}

static void first_ack(const struct pdus *o, struct rpc_bind_ack *a)
{
	struct rpc_hdr h;
	assert_int_equal(rpc_hdr_parse(o->first, o->first_len, &h), 0);
	assert_int_equal(rpc_bind_ack_parse(o->first, &h, a), 0);
}

static void bind_one(struct wr *w, uint8_t ptype, uint16_t frag, const struct rpc_syntax *abs,
		     const struct rpc_syntax *ts, uint8_t nts)
{
	struct rpc_ctx_req c = {.id = 0, .abstract = *abs, .transfer = ts, .ntransfer = nts};
	rpc_bind_write(w, ptype, 1, frag, frag, 0, &c, 1);
}

static struct rpc_pipe *bound(const struct rpc_env *env, uint16_t frag)
{
	struct rpc_pipe *p = rpc_pipe_open("srvsvc", env);
	assert_non_null(p);
	struct wr w;
	wr_init(&w, 0);
	bind_one(&w, RPC_PTYPE_BIND, frag, &srvsvc, &rpc_ndr_syntax, 1);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	struct pdus o;
	drain(p, &o);
	struct rpc_bind_ack a;
	first_ack(&o, &a);
	assert_int_equal(a.res[0].result, RPC_RES_ACCEPT);
	wr_free(&o.stub);
	wr_free(&w);
	return p;
}

static void enum_stub(struct wr *w, uint32_t level)
{
	struct ndr_out o = {.w = w};
	ndr_ptr(&o, true);
	ndr_wstring(&o, "\\\\shoal");
	ndr_u32(&o, level);
	ndr_u32(&o, level);
	ndr_ptr(&o, true);
	ndr_u32(&o, 0);
	ndr_ptr(&o, false);
	ndr_u32(&o, 0xFFFFFFFF);
	ndr_ptr(&o, true);
	ndr_u32(&o, 0);
}

/* One REQUEST (single fragment) and its whole answer. */
static void call(struct rpc_pipe *p, uint16_t ctx, uint16_t opnum, const struct wr *stub,
		 struct pdus *o)
{
	struct wr w;
	wr_init(&w, 0);
	rpc_request_write(&w, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG, 7, (uint32_t)stub->len, ctx,
			  opnum, NULL, stub->p, stub->len);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	wr_free(&w);
	drain(p, o);
}

/* ---- tests ---- */

/* Many shares and a 1030-byte receive size: the response spans fragments that each fit, whose
 * stubs (all but the last a multiple of 8) concatenate to a decodable NetrShareEnum answer. */
static void t_response_fragments(void **st)
{
	(void)st;
	enum { N = 120 };
	struct rpc_share_info sh[N];
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "share%03d", i);
		sh[i] = (struct rpc_share_info){names[i], "remark", "/x", 0, true};
	}
	struct rpc_env env = env3;
	env.shares = sh;
	env.nshares = N;
	struct rpc_pipe *p = bound(&env, 1030); /* 1006 stub bytes: not a multiple of 8 */
	struct wr s;
	wr_init(&s, 0);
	enum_stub(&s, 1);
	struct pdus o;
	call(p, 0, 15, &s, &o);
	assert_true(o.n > 3);
	for (int i = 0; i < o.n; i++) {
		assert_int_equal(o.ptype[i], RPC_PTYPE_RESPONSE);
		assert_true(o.frag_len[i] <= 1030);
		assert_int_equal(!!(o.flags[i] & RPC_PFC_FIRST_FRAG), i == 0);
		assert_int_equal(!!(o.flags[i] & RPC_PFC_LAST_FRAG), i == o.n - 1);
		if (i < o.n - 1)
			assert_int_equal((o.frag_len[i] - RPC_REQ_HDR_LEN) % 8, 0);
	}
	struct rd r = rd_make(o.stub.p, o.stub.len);
	assert_int_equal(ndr_rd_u32(&r), 1);
	assert_int_equal(ndr_rd_u32(&r), 1);
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	assert_int_equal(ndr_rd_u32(&r), N);
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	assert_int_equal(ndr_rd_count(&r, 12, 1000), N);
	for (int i = 0; i < N; i++) {
		assert_int_not_equal(ndr_rd_ptr(&r), 0);
		assert_int_equal(ndr_rd_u32(&r), 0);
		assert_int_not_equal(ndr_rd_ptr(&r), 0);
	}
	for (int i = 0; i < N; i++) {
		char *name, *remark;
		ndr_rd_wstring(&r, &name);
		ndr_rd_wstring(&r, &remark);
		assert_true(rd_ok(&r));
		assert_string_equal(name, names[i]);
		assert_string_equal(remark, "remark");
		free(name);
		free(remark);
	}
	assert_int_equal(ndr_rd_u32(&r), N); /* TotalEntries */
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	assert_int_equal(ndr_rd_u32(&r), 0); /* resume handle */
	assert_int_equal(ndr_rd_u32(&r), 0); /* WERR_OK */
	assert_true(rd_ok(&r));
	assert_int_equal(rd_left(&r), 0);
	wr_free(&o.stub);
	wr_free(&s);
	rpc_pipe_close(p);
}

/* A bind and three requests in one write; then the same stream cut in two at every point. */
static void t_stream_framing(void **st)
{
	(void)st;
	struct wr w, s;
	wr_init(&w, 0);
	wr_init(&s, 0);
	bind_one(&w, RPC_PTYPE_BIND, 4280, &srvsvc, &rpc_ndr_syntax, 1);
	enum_stub(&s, 0);
	for (uint32_t id = 2; id < 5; id++)
		rpc_request_write(&w, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG, id, (uint32_t)s.len,
				  0, 15, NULL, s.p, s.len);
	struct rpc_pipe *p = rpc_pipe_open("\\pipe\\SRVSVC", &env3);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	size_t whole = rpc_pipe_pending(p);
	struct pdus o;
	drain(p, &o);
	assert_int_equal(o.n, 4);
	assert_int_equal(o.ptype[0], RPC_PTYPE_BIND_ACK);
	assert_int_equal(o.ptype[3], RPC_PTYPE_RESPONSE);
	wr_free(&o.stub);
	rpc_pipe_close(p);
	for (size_t cut = 0; cut <= w.len; cut++) {
		p = rpc_pipe_open("srvsvc", &env3);
		assert_int_equal(rpc_pipe_write(p, w.p, cut), 0);
		assert_int_equal(rpc_pipe_write(p, w.p + cut, w.len - cut), 0);
		/* the same bytes, but for the random assoc_group */
		assert_int_equal(rpc_pipe_pending(p), whole);
		drain(p, &o);
		assert_int_equal(o.n, 4);
		wr_free(&o.stub);
		rpc_pipe_close(p);
	}
	wr_free(&w);
	wr_free(&s);
}

static void t_negotiation(void **st)
{
	(void)st;
	struct rpc_pipe *p = rpc_pipe_open("srvsvc", &env3);
	struct wr w;
	wr_init(&w, 0);
	/* what Windows clients send: NDR (+ NDR64) context, then the BTFN pseudo-context */
	struct rpc_syntax both[2] = {rpc_ndr64_syntax, rpc_ndr_syntax};
	struct rpc_ctx_req c[3] = {
	    {.id = 0, .abstract = srvsvc, .transfer = both, .ntransfer = 2},
	    {.id = 1, .abstract = srvsvc, .transfer = &rpc_ndr64_syntax, .ntransfer = 1},
	    {.id = 2, .abstract = srvsvc, .transfer = &btfn, .ntransfer = 1},
	};
	rpc_bind_write(&w, RPC_PTYPE_BIND, 1, 5840, 2048, 0, c, 3);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	struct pdus o;
	drain(p, &o);
	struct rpc_bind_ack a;
	first_ack(&o, &a);
	assert_int_equal(a.max_xmit, 2048); /* what the client can receive */
	assert_int_equal(a.max_recv, 4280); /* capped as Windows does on ncacn_np */
	assert_int_not_equal(a.assoc_group, 0);
	assert_int_equal(a.nresults, 3);
	assert_int_equal(a.res[0].result, RPC_RES_ACCEPT);
	assert_memory_equal(a.res[0].transfer.uuid, rpc_ndr_syntax.uuid, 16);
	assert_int_equal(a.res[1].result, RPC_RES_PROVIDER_REJECT);
	assert_int_equal(a.res[1].reason, RPC_REASON_TRANSFER_NOT_SUPPORTED);
	assert_int_equal(a.res[2].result, RPC_RES_NEGOTIATE_ACK);
	assert_int_equal(a.res[2].reason, 0x02); /* keep connection on orphan only */
	wr_free(&o.stub);

	/* ALTER_CONTEXT adds context 5; its answer has an empty secondary address */
	w.len = 0;
	struct rpc_syntax other = srvsvc;
	other.uuid[0] ^= 1;
	struct rpc_ctx_req c2[2] = {
	    {.id = 5, .abstract = srvsvc, .transfer = &rpc_ndr_syntax, .ntransfer = 1},
	    {.id = 6, .abstract = other, .transfer = &rpc_ndr_syntax, .ntransfer = 1},
	};
	rpc_bind_write(&w, RPC_PTYPE_ALTER_CONTEXT, 2, 4280, 4280, a.assoc_group, c2, 2);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	drain(p, &o);
	assert_int_equal(o.ptype[0], RPC_PTYPE_ALTER_CONTEXT_RESP);
	struct rpc_bind_ack a2;
	first_ack(&o, &a2);
	assert_int_equal(a2.res[0].result, RPC_RES_ACCEPT);
	assert_int_equal(a2.res[1].reason, RPC_REASON_ABSTRACT_NOT_SUPPORTED);
	assert_int_equal(o.first[24], 0); /* secondary address length */
	wr_free(&o.stub);

	struct wr s;
	wr_init(&s, 0);
	enum_stub(&s, 1);
	call(p, 5, 15, &s, &o);
	assert_int_equal(o.ptype[0], RPC_PTYPE_RESPONSE);
	wr_free(&o.stub);
	call(p, 1, 15, &s, &o); /* the rejected NDR64 context */
	assert_int_equal(o.ptype[0], RPC_PTYPE_FAULT);
	assert_int_equal(first_fault(&o), 0x1c010003u); /* nca_s_unknown_if */
	assert_true(o.flags[0] & 0x20);			/* PFC_DID_NOT_EXECUTE */
	wr_free(&o.stub);
	wr_free(&s);
	wr_free(&w);
	rpc_pipe_close(p);
}

/* Big-endian data representation, a newer minor version, authentication, no bind yet, a
 * client sending a server's PDU: each is refused and the pipe still serves a proper bind. */
static void t_refusals(void **st)
{
	(void)st;
	struct rpc_pipe *p = rpc_pipe_open("srvsvc", &env3);
	struct wr w, s;
	wr_init(&w, 0);
	wr_init(&s, 0);
	struct pdus o;
	uint16_t reason;
	struct rpc_hdr h;

	bind_one(&w, RPC_PTYPE_BIND, 4280, &srvsvc, &rpc_ndr_syntax, 1);
	uint8_t *be = malloc(w.len);
	memcpy(be, w.p, w.len);
	be[4] = 0x00;		       /* big-endian integers */
	be[8] = (uint8_t)(w.len >> 8); /* frag_length in that order */
	be[9] = (uint8_t)w.len;
	assert_int_equal(rpc_pipe_write(p, be, w.len), 0);
	drain(p, &o);
	assert_int_equal(o.ptype[0], RPC_PTYPE_BIND_NAK);
	wr_free(&o.stub);

	be[4] = 0x10;
	put_le16(be + 8, (uint16_t)w.len);
	be[1] = 2; /* rpc_vers_minor 2 */
	assert_int_equal(rpc_pipe_write(p, be, w.len), 0);
	drain(p, &o);
	assert_int_equal(rpc_hdr_parse(o.first, o.first_len, &h), 0);
	assert_int_equal(rpc_bind_nak_parse(o.first, &h, &reason), 0);
	assert_int_equal(reason, 4); /* protocol_version_not_supported */
	wr_free(&o.stub);
	free(be);

	/* an NTLMSSP bind: a sec_trailer and an auth value */
	size_t start = w.len;
	bind_one(&w, RPC_PTYPE_BIND, 4280, &srvsvc, &rpc_ndr_syntax, 1);
	uint8_t trailer[8 + 16] = {10, 2, 0, 0, 1, 0, 0, 0, 'N', 'T', 'L', 'M', 'S', 'S', 'P'};
	wr_bytes(&w, trailer, sizeof(trailer));
	wr_set_u16(&w, start + 8, (uint16_t)(w.len - start));
	wr_set_u16(&w, start + 10, 16);
	assert_int_equal(rpc_pipe_write(p, w.p + start, w.len - start), 0);
	drain(p, &o);
	assert_int_equal(rpc_hdr_parse(o.first, o.first_len, &h), 0);
	assert_int_equal(rpc_bind_nak_parse(o.first, &h, &reason), 0);
	assert_int_equal(reason, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
	wr_free(&o.stub);

	enum_stub(&s, 1);
	call(p, 0, 15, &s, &o);				/* not bound */
	assert_int_equal(first_fault(&o), 0x1c01000bu); /* nca_s_proto_error */
	wr_free(&o.stub);

	w.len = 0;
	rpc_response_write(&w, 3, 9, 0, 0, NULL, 0); /* a server's PDU from the client */
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), -EINVAL);
	assert_int_equal(rpc_pipe_pending(p), 0);

	w.len = 0;
	bind_one(&w, RPC_PTYPE_BIND, 4280, &srvsvc, &rpc_ndr_syntax, 1);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	drain(p, &o);
	assert_int_equal(o.ptype[0], RPC_PTYPE_BIND_ACK);
	wr_free(&o.stub);
	call(p, 0, 15, &s, &o);
	assert_int_equal(o.ptype[0], RPC_PTYPE_RESPONSE);
	wr_free(&o.stub);

	/* rpc_vers 4 cannot be framed: the pipe is lost */
	w.p[0] = 4;
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), -EINVAL);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), -EPIPE);
	wr_free(&w);
	wr_free(&s);
	rpc_pipe_close(p);
}

/* Fragments: one that continues no call, and a call larger than the 4 MiB limit, which is
 * faulted once, drained, and followed by a call that works. */
static void t_request_limits(void **st)
{
	(void)st;
	struct rpc_pipe *p = bound(&env3, 4280);
	struct wr w, s;
	wr_init(&w, 0);
	wr_init(&s, 0);
	struct pdus o;
	uint8_t *chunk = calloc(1, 65000);
	assert_non_null(chunk);
	rpc_request_write(&w, RPC_PFC_LAST_FRAG, 3, 0, 0, 15, NULL, chunk, 100);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	drain(p, &o);
	assert_int_equal(first_fault(&o), 0x1c01000bu);
	wr_free(&o.stub);

	for (int i = 0; i < 70; i++) {
		w.len = 0;
		rpc_request_write(&w,
				  i == 0    ? RPC_PFC_FIRST_FRAG
				  : i == 69 ? RPC_PFC_LAST_FRAG
					    : 0,
				  4, 70u * 65000u, 0, 15, NULL, chunk, 65000);
		assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	}
	drain(p, &o);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ptype[0], RPC_PTYPE_FAULT);
	wr_free(&o.stub);
	enum_stub(&s, 1);
	call(p, 0, 15, &s, &o);
	assert_int_equal(o.ptype[0], RPC_PTYPE_RESPONSE);
	wr_free(&o.stub);
	free(chunk);
	wr_free(&w);
	wr_free(&s);
	rpc_pipe_close(p);
}

static void get_info_stub(struct wr *w, const char *share, uint32_t level)
{
	struct ndr_out o = {.w = w};
	ndr_ptr(&o, false);
	ndr_wstring(&o, share);
	ndr_u32(&o, level);
}

/* NetrShareGetInfo levels read back with the NDR helpers, and its errors. */
static void t_share_get_info(void **st)
{
	(void)st;
	struct rpc_pipe *p = bound(&env3, 4280);
	struct wr s;
	wr_init(&s, 0);
	struct pdus o;
	get_info_stub(&s, "HIDDEN", 2);
	call(p, 0, 16, &s, &o);
	struct rd r = rd_make(o.stub.p, o.stub.len);
	assert_int_equal(ndr_rd_u32(&r), 2);
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	uint32_t ptrs[4];
	ptrs[0] = ndr_rd_ptr(&r);
	assert_int_equal(ndr_rd_u32(&r), 0); /* STYPE_DISKTREE */
	ptrs[1] = ndr_rd_ptr(&r);
	ndr_rd_u32(&r);
	assert_int_equal(ndr_rd_u32(&r), 0xFFFFFFFF);
	ndr_rd_u32(&r);
	ptrs[2] = ndr_rd_ptr(&r);
	ptrs[3] = ndr_rd_ptr(&r);
	assert_true(ptrs[0] && ptrs[1] && ptrs[2] && !ptrs[3]);
	const char *want[3] = {"hidden", "not listed", "\\srv\\hidden"};
	for (int i = 0; i < 3; i++) {
		char *v;
		ndr_rd_wstring(&r, &v);
		assert_true(rd_ok(&r));
		assert_string_equal(v, want[i]);
		free(v);
	}
	assert_int_equal(ndr_rd_u32(&r), 0);
	assert_int_equal(rd_left(&r), 0);
	wr_free(&o.stub);

	const struct {
		const char *name;
		uint32_t level, status;
		size_t len; /* of the whole answer */
	} cases[] = {
	    {"nosuch", 1, 0x906, 12}, {"test", 3, 124, 12}, {"test", 1005, 0, 16},
	    {"IPC$", 501, 0, 0},      {"test", 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.len = 0;
		get_info_stub(&s, cases[i].name, cases[i].level);
		call(p, 0, 16, &s, &o);
		assert_true(o.stub.len >= 12);
		assert_int_equal(get_le32(o.stub.p), cases[i].level);
		assert_int_equal(get_le32(o.stub.p + o.stub.len - 4), cases[i].status);
		if (cases[i].len)
			assert_int_equal(o.stub.len, cases[i].len);
		wr_free(&o.stub);
	}

	/* truncated stubs: an NDR fault, never a crash */
	s.len = 0;
	get_info_stub(&s, "test", 1);
	for (size_t cut = 0; cut < s.len; cut++) {
		struct wr t = s;
		t.len = cut;
		call(p, 0, 16, &t, &o);
		assert_int_equal(o.ptype[0], RPC_PTYPE_FAULT);
		assert_int_equal(first_fault(&o), 0x6f7);
		wr_free(&o.stub);
	}
	wr_free(&s);
	rpc_pipe_close(p);
}

static void t_server_get_info(void **st)
{
	(void)st;
	struct rpc_pipe *p = bound(&env3, 4280);
	struct wr s;
	wr_init(&s, 0);
	struct ndr_out n = {.w = &s};
	ndr_ptr(&n, false);
	ndr_u32(&n, 101);
	struct pdus o;
	call(p, 0, 21, &s, &o);
	struct rd r = rd_make(o.stub.p, o.stub.len);
	assert_int_equal(ndr_rd_u32(&r), 101);
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	assert_int_equal(ndr_rd_u32(&r), 500);
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	assert_int_equal(ndr_rd_u32(&r), 10);
	assert_int_equal(ndr_rd_u32(&r), 0);
	assert_int_equal(ndr_rd_u32(&r), 0x8003);
	assert_int_not_equal(ndr_rd_ptr(&r), 0);
	char *name, *comment;
	ndr_rd_wstring(&r, &name);
	ndr_rd_wstring(&r, &comment);
	assert_true(rd_ok(&r));
	assert_string_equal(name, "SHOAL");
	assert_string_equal(comment, "shoal server");
	free(name);
	free(comment);
	assert_int_equal(ndr_rd_u32(&r), 0);
	assert_int_equal(rd_left(&r), 0);
	wr_free(&o.stub);
	s.len = 0;
	ndr_ptr(&n, false);
	ndr_u32(&n, 102);
	call(p, 0, 21, &s, &o);
	assert_int_equal(o.stub.len, 12);
	assert_int_equal(get_le32(o.stub.p + 8), 124); /* ERROR_INVALID_LEVEL */
	wr_free(&o.stub);
	wr_free(&s);
	rpc_pipe_close(p);
}

/* Random bytes, and random PDU-shaped headers with random bodies, in random write sizes. */
static void t_random_streams(void **st)
{
	(void)st;
	srand(1234);
	uint8_t buf[2048], out[4096];
	for (int iter = 0; iter < 3000; iter++) {
		struct rpc_pipe *p = rpc_pipe_open("srvsvc", &env3);
		size_t len = (size_t)rand() % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand();
		if (iter % 2 && len >= 16) {
			/* mostly valid header: version 5.0, LE, a known ptype, a fitting length */
			static const uint8_t types[] = {0, 11, 14, 16, 18, 19, 2};
			buf[0] = 5;
			buf[1] = 0;
			buf[2] = types[rand() % 7];
			buf[4] = 0x10;
			put_le16(buf + 8, (uint16_t)(16 + (size_t)rand() % (len - 15)));
			put_le16(buf + 10, (uint16_t)(rand() % 4 ? 0 : rand() % 64));
		}
		size_t off = 0;
		while (off < len) {
			size_t n = 1 + (size_t)rand() % (len - off);
			int rc = rpc_pipe_write(p, buf + off, n);
			assert_true(rc == 0 || rc == -EINVAL || rc == -EPIPE);
			bool more = true;
			while (more)
				rpc_pipe_read(p, out, (size_t)rand() % sizeof(out), &more);
			off += n;
		}
		rpc_pipe_close(p);
	}
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_response_fragments), cmocka_unit_test(t_stream_framing),
	    cmocka_unit_test(t_negotiation),	    cmocka_unit_test(t_refusals),
	    cmocka_unit_test(t_request_limits),	    cmocka_unit_test(t_share_get_info),
	    cmocka_unit_test(t_server_get_info),    cmocka_unit_test(t_random_streams),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
