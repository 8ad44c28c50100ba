/* The shared DCE/RPC PDU codec (rpc/pdu.h) and the NDR helpers the client uses: round trips with
 * random fields, the server's own answers read back with the codec, and every truncation (both
 * with the header's frag_length left alone and patched to the shorter length). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/ndr.h"
#include "rpc/pdu.h"
#include "rpc/rpc.h"

static uint32_t rnd32(void)
{
	return ((uint32_t)rand() << 16) ^ (uint32_t)rand();
}

static void rnd_syntax(struct rpc_syntax *s)
{
	for (int i = 0; i < 16; i++)
		s->uuid[i] = (uint8_t)rand();
	s->major = (uint16_t)rand();
	s->minor = (uint16_t)rand();
}

/* A copy of the first n bytes of p with frag_length set to n (when the header is there). */
static uint8_t *truncated(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	if (n >= RPC_HDR_LEN)
		put_le16(q + 8, (uint16_t)n);
	return q;
}

static void t_header(void **st)
{
	(void)st;
	struct wr w;
	struct rpc_hdr h;
	wr_init(&w, 64);
	rpc_fault_write(&w, 0x01020304, 7, 0x1c010002u);
	assert_true(wr_ok(&w));
	assert_int_equal(w.len, 32);
	static const uint8_t want[16] = {5, 0, 3, 3, 0x10, 0, 0, 0, 32, 0, 0, 0, 4, 3, 2, 1};
	assert_memory_equal(w.p, want, 16);
	assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	assert_int_equal(h.ptype, RPC_PTYPE_FAULT);
	assert_int_equal(h.flags, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG);
	assert_int_equal(h.frag_len, 32);
	assert_int_equal(h.call_id, 0x01020304);
	assert_int_equal(rpc_body_end(&h), 32);
	assert_int_equal(rpc_peek_frag_len(w.p, 15), 0);
	assert_int_equal(rpc_peek_frag_len(w.p, 16), 32);
	for (size_t n = 0; n < w.len; n++)
		assert_int_equal(rpc_hdr_parse(w.p, n, &h), -1);
	uint8_t b[32];
	memcpy(b, w.p, 32);
	b[0] = 4; /* version */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), -1);
	b[0] = 5;
	b[1] = 2; /* minor version */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), -1);
	b[1] = 1;
	assert_int_equal(rpc_hdr_parse(b, 32, &h), 0);
	b[4] = 0x00; /* big-endian integers */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), -1);
	b[4] = 0x11; /* EBCDIC characters: integers still little-endian */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), 0);
	put_le16(b + 8, 15); /* frag_length below the header */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), -1);
	put_le16(b + 8, 32);
	put_le16(b + 10, 9); /* auth trailer of 17 bytes in a 16-byte body */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), -1);
	put_le16(b + 10, 8); /* exactly fits: the body is empty */
	assert_int_equal(rpc_hdr_parse(b, 32, &h), 0);
	assert_int_equal(rpc_body_end(&h), 16);
	struct rpc_fault f;
	assert_int_equal(rpc_fault_parse(b, &h, &f), -1);
	wr_free(&w);
}

static void t_bind(void **st)
{
	(void)st;
	for (int iter = 0; iter < 50; iter++) {
		struct rpc_syntax ts[3][4];
		struct rpc_ctx_req ctx[3];
		uint8_t nctx = (uint8_t)(1 + rand() % 3);
		for (uint8_t i = 0; i < nctx; i++) {
			ctx[i].id = (uint16_t)rand();
			rnd_syntax(&ctx[i].abstract);
			ctx[i].ntransfer = (uint8_t)(1 + rand() % 4);
			for (uint8_t t = 0; t < ctx[i].ntransfer; t++)
				rnd_syntax(&ts[i][t]);
			ctx[i].transfer = ts[i];
		}
		uint16_t mx = (uint16_t)rand(), mr = (uint16_t)rand();
		uint32_t assoc = rnd32(), call = rnd32();
		uint8_t ptype = iter & 1 ? RPC_PTYPE_BIND : RPC_PTYPE_ALTER_CONTEXT;
		struct wr w;
		wr_init(&w, 0);
		rpc_bind_write(&w, ptype, call, mx, mr, assoc, ctx, nctx);
		assert_true(wr_ok(&w));
		struct rpc_hdr h;
		struct rpc_bind b;
		uint8_t n;
		assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
		assert_int_equal(h.frag_len, w.len);
		assert_int_equal(h.ptype, ptype);
		assert_int_equal(h.call_id, call);
		assert_int_equal(rpc_bind_parse(w.p, &h, &b), 0);
		assert_int_equal(b.max_xmit, mx);
		assert_int_equal(b.max_recv, mr);
		assert_int_equal(b.assoc_group, assoc);
		assert_int_equal(rpc_bind_ctx_count(&b, &n), 0);
		assert_int_equal(n, nctx);
		for (uint8_t i = 0; i < n; i++) {
			struct rpc_pctx c;
			assert_int_equal(rpc_bind_next_ctx(&b, &c), 0);
			assert_int_equal(c.id, ctx[i].id);
			assert_memory_equal(&c.abstract, &ctx[i].abstract, sizeof(c.abstract));
			assert_int_equal(c.ntransfer, ctx[i].ntransfer);
			for (uint8_t t = 0; t < c.ntransfer; t++) {
				struct rpc_syntax s;
				rpc_pctx_transfer(&c, t, &s);
				assert_memory_equal(&s, &ts[i][t], sizeof(s));
			}
		}
		assert_int_equal(rd_left(&b.ctx_list), 0);
		/* every shorter PDU: rejected by the header, or (frag_length patched) by the body
		 */
		for (size_t k = 0; k < w.len; k++) {
			assert_int_equal(rpc_hdr_parse(w.p, k, &h), -1);
			uint8_t *q = truncated(w.p, k);
			int rc = rpc_hdr_parse(q, k, &h);
			if (rc == 0)
				rc = rpc_bind_parse(q, &h, &b);
			if (rc == 0)
				rc = rpc_bind_ctx_count(&b, &n);
			for (uint8_t i = 0; rc == 0 && i < n; i++) {
				struct rpc_pctx c;
				rc = rpc_bind_next_ctx(&b, &c);
			}
			assert_int_equal(rc, -1);
			free(q);
		}
		wr_free(&w);
	}
}

static void t_bind_malformed(void **st)
{
	(void)st;
	struct rpc_ctx_req c = {.id = 1, .transfer = &rpc_ndr_syntax, .ntransfer = 1};
	struct wr w;
	struct rpc_hdr h;
	struct rpc_bind b;
	struct rpc_pctx pc;
	uint8_t n;
	wr_init(&w, 0);
	rpc_bind_write(&w, RPC_PTYPE_BIND, 1, 4280, 4280, 0, &c, 1);
	assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	w.p[30] = 0; /* no transfer syntax */
	assert_int_equal(rpc_bind_parse(w.p, &h, &b), 0);
	assert_int_equal(rpc_bind_ctx_count(&b, &n), 0);
	assert_int_equal(rpc_bind_next_ctx(&b, &pc), -1);
	w.p[30] = 255; /* more transfer syntaxes than the PDU holds */
	assert_int_equal(rpc_bind_parse(w.p, &h, &b), 0);
	assert_int_equal(rpc_bind_ctx_count(&b, &n), 0);
	assert_int_equal(rpc_bind_next_ctx(&b, &pc), -1);
	w.p[2] = RPC_PTYPE_REQUEST; /* not a bind */
	assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	assert_int_equal(rpc_bind_parse(w.p, &h, &b), -1);
	wr_free(&w);
}

static void t_bind_ack(void **st)
{
	(void)st;
	for (int iter = 0; iter < 50; iter++) {
		struct rpc_ctx_result res[12];
		uint8_t nres = (uint8_t)(1 + rand() % 12);
		for (uint8_t i = 0; i < nres; i++) {
			res[i].result = (uint16_t)rand();
			res[i].reason = (uint16_t)rand();
			rnd_syntax(&res[i].transfer);
		}
		char addr[40];
		size_t alen = (size_t)rand() % (sizeof(addr) - 1);
		memset(addr, 'a', alen);
		addr[alen] = 0;
		bool bind = iter & 1;
		struct wr w;
		wr_init(&w, 0);
		rpc_bind_ack_write(&w, bind ? RPC_PTYPE_BIND_ACK : RPC_PTYPE_ALTER_CONTEXT_RESP, 9,
				   (uint16_t)iter, 4280, 0x55667788, bind ? addr : NULL, res, nres);
		assert_true(wr_ok(&w));
		struct rpc_hdr h;
		struct rpc_bind_ack a;
		assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
		assert_int_equal(rpc_bind_ack_parse(w.p, &h, &a), 0);
		assert_int_equal(a.max_xmit, iter);
		assert_int_equal(a.max_recv, 4280);
		assert_int_equal(a.assoc_group, 0x55667788);
		assert_int_equal(a.nresults, nres);
		for (uint8_t i = 0; i < nres && i < RPC_ACK_MAX_RESULTS; i++)
			assert_memory_equal(&a.res[i], &res[i], sizeof(res[i]));
		/* the result list starts 4-aligned after the secondary address */
		size_t list = 26 + (bind ? alen + 1 : 0);
		list += (4 - list % 4) % 4;
		assert_int_equal(w.len, list + 4 + 24u * nres);
		for (size_t k = 0; k < w.len; k++) {
			assert_int_equal(rpc_hdr_parse(w.p, k, &h), -1);
			uint8_t *q = truncated(w.p, k);
			if (rpc_hdr_parse(q, k, &h) == 0)
				assert_int_equal(rpc_bind_ack_parse(q, &h, &a), -1);
			free(q);
		}
		wr_free(&w);
	}
	/* a secondary address longer than the PDU, zero results, a NAK */
	struct rpc_ctx_result r0 = {0};
	struct wr w;
	struct rpc_hdr h;
	struct rpc_bind_ack a;
	uint16_t reason;
	wr_init(&w, 0);
	rpc_bind_ack_write(&w, RPC_PTYPE_BIND_ACK, 1, 4280, 4280, 1, "\\PIPE\\x", &r0, 1);
	assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	put_le16(w.p + 24, 0xFFFF);
	assert_int_equal(rpc_bind_ack_parse(w.p, &h, &a), -1);
	put_le16(w.p + 24, 8);
	assert_int_equal(rpc_bind_ack_parse(w.p, &h, &a), 0);
	w.p[36] = 0;
	assert_int_equal(rpc_bind_ack_parse(w.p, &h, &a), -1);
	assert_int_equal(rpc_bind_nak_parse(w.p, &h, &reason), -1);
	w.len = 0;
	rpc_bind_nak_write(&w, 3, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
	assert_int_equal(w.len, 21);
	assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	assert_int_equal(rpc_bind_nak_parse(w.p, &h, &reason), 0);
	assert_int_equal(reason, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
	assert_int_equal(rpc_bind_ack_parse(w.p, &h, &a), -1);
	for (size_t k = 0; k < w.len; k++) {
		uint8_t *q = truncated(w.p, k);
		if (rpc_hdr_parse(q, k, &h) == 0)
			assert_int_equal(rpc_bind_nak_parse(q, &h, &reason), k < 18 ? -1 : 0);
		free(q);
	}
	wr_free(&w);
}

static void t_request_response(void **st)
{
	(void)st;
	uint8_t stub[300], obj[16];
	for (size_t i = 0; i < sizeof(stub); i++)
		stub[i] = (uint8_t)rand();
	for (int i = 0; i < 16; i++)
		obj[i] = (uint8_t)rand();
	for (int iter = 0; iter < 40; iter++) {
		size_t len = (size_t)rand() % sizeof(stub);
		bool with_obj = iter & 1;
		uint8_t flags = (uint8_t)(rand() & 3);
		uint32_t hint = rnd32(), call = rnd32();
		uint16_t ctx = (uint16_t)rand(), op = (uint16_t)rand();
		struct wr w;
		wr_init(&w, 0);
		rpc_request_write(&w, flags, call, hint, ctx, op, with_obj ? obj : NULL, stub, len);
		size_t reqlen = w.len;
		rpc_response_write(&w, flags, call, hint, ctx, stub, len);
		assert_true(wr_ok(&w));
		struct rpc_hdr h;
		struct rpc_request q;
		struct rpc_response r;
		assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
		assert_int_equal(h.frag_len, reqlen);
		assert_int_equal(h.flags, flags | (with_obj ? RPC_PFC_OBJECT_UUID : 0));
		assert_int_equal(rpc_request_parse(w.p, &h, &q), 0);
		assert_int_equal(rpc_response_parse(w.p, &h, &r), -1);
		assert_int_equal(q.alloc_hint, hint);
		assert_int_equal(q.ctx_id, ctx);
		assert_int_equal(q.opnum, op);
		assert_int_equal(q.has_object, with_obj);
		if (with_obj)
			assert_memory_equal(q.object, obj, 16);
		assert_int_equal(q.stub_len, len);
		assert_memory_equal(q.stub, stub, len);
		const uint8_t *rp = w.p + reqlen;
		assert_int_equal(rpc_hdr_parse(rp, w.len - reqlen, &h), 0);
		assert_int_equal(h.frag_len, RPC_REQ_HDR_LEN + len);
		assert_int_equal(rpc_response_parse(rp, &h, &r), 0);
		assert_int_equal(rpc_request_parse(rp, &h, &q), -1);
		assert_int_equal(r.alloc_hint, hint);
		assert_int_equal(r.ctx_id, ctx);
		assert_int_equal(r.stub_len, len);
		assert_memory_equal(r.stub, stub, len);
		/* with an auth trailer the stub ends before it */
		if (len >= 8 + 4) {
			uint8_t *c = truncated(rp, h.frag_len);
			put_le16(c + 10, 4);
			assert_int_equal(rpc_hdr_parse(c, h.frag_len, &h), 0);
			assert_int_equal(rpc_response_parse(c, &h, &r), 0);
			assert_int_equal(r.stub_len, len - 12);
			free(c);
		}
		size_t minreq = RPC_REQ_HDR_LEN + (with_obj ? 16 : 0);
		for (size_t k = 0; k < reqlen; k++) {
			uint8_t *c = truncated(w.p, k);
			if (rpc_hdr_parse(c, k, &h) == 0) {
				int rc = rpc_request_parse(c, &h, &q);
				assert_int_equal(rc, k < minreq ? -1 : 0);
				if (!rc)
					assert_int_equal(q.stub_len, k - minreq);
			}
			free(c);
		}
		wr_free(&w);
	}
}

static void t_fault(void **st)
{
	(void)st;
	struct wr w;
	struct rpc_hdr h;
	struct rpc_fault f;
	wr_init(&w, 0);
	rpc_fault_write(&w, 5, 3, 0x1c010003u);
	assert_int_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	assert_int_equal(rpc_fault_parse(w.p, &h, &f), 0);
	assert_int_equal(f.ctx_id, 3);
	assert_int_equal(f.status, 0x1c010003u);
	for (size_t k = 0; k < w.len; k++) {
		uint8_t *c = truncated(w.p, k);
		if (rpc_hdr_parse(c, k, &h) == 0)
			assert_int_equal(rpc_fault_parse(c, &h, &f), k < 28 ? -1 : 0);
		free(c);
	}
	wr_free(&w);
}

static void t_writer_limits(void **st)
{
	(void)st;
	struct wr w;
	size_t big = 70000;
	uint8_t *stub = calloc(1, big);
	assert_non_null(stub);
	wr_init(&w, 0);
	rpc_response_write(&w, 3, 1, 0, 0, stub, big); /* frag_length cannot say it */
	assert_false(wr_ok(&w));
	wr_free(&w);
	uint8_t fixed[20];
	wr_init_fixed(&w, fixed, sizeof(fixed));
	rpc_fault_write(&w, 1, 0, 1);
	assert_false(wr_ok(&w));
	free(stub);
	uint8_t bits = 0;
	struct rpc_syntax btfn = {{0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45, 3}, 1, 0};
	assert_true(rpc_syntax_is_btfn(&btfn, &bits));
	assert_int_equal(bits, 3);
	assert_false(rpc_syntax_is_btfn(&rpc_ndr_syntax, &bits));
	assert_false(rpc_syntax_is_btfn(&rpc_ndr64_syntax, &bits));
	assert_int_equal(rpc_ndr_syntax.major, 2);
	assert_int_equal(rpc_ndr64_syntax.major, 1);
}

/* The server's answers, read with the same codec a client uses. */
static void t_server_read_back(void **st)
{
	(void)st;
	static const struct rpc_share_info sh[] = {{"test", "", "/srv", 0, true}};
	static const struct rpc_env env = {"SHOAL", "", "WG", "u", sh, 1, 0x0311};
	struct rpc_ctx_req c = {.id = 4, .transfer = &rpc_ndr_syntax, .ntransfer = 1};
	static const uint8_t srvsvc[16] = {0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
					   0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88};
	memcpy(c.abstract.uuid, srvsvc, 16);
	c.abstract.major = 3;
	struct rpc_pipe *p = rpc_pipe_open("\\PIPE\\srvsvc", &env);
	assert_non_null(p);
	struct wr w;
	wr_init(&w, 0);
	rpc_bind_write(&w, RPC_PTYPE_BIND, 7, 2048, 2048, 0, &c, 1);
	rpc_request_write(&w, 3, 8, 0, 4, 999, NULL, NULL, 0); /* no such opnum */
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	uint8_t out[4096];
	bool more;
	size_t n = rpc_pipe_read(p, out, sizeof(out), &more);
	struct rpc_hdr h;
	struct rpc_bind_ack a;
	struct rpc_fault f;
	assert_int_equal(rpc_hdr_parse(out, n, &h), 0);
	assert_int_equal(h.call_id, 7);
	assert_int_equal(rpc_bind_ack_parse(out, &h, &a), 0);
	assert_int_equal(a.max_xmit, 2048);
	assert_int_equal(a.nresults, 1);
	assert_int_equal(a.res[0].result, RPC_RES_ACCEPT);
	assert_memory_equal(&a.res[0].transfer, &rpc_ndr_syntax, sizeof(rpc_ndr_syntax));
	size_t off = h.frag_len;
	assert_int_equal(rpc_hdr_parse(out + off, n - off, &h), 0);
	assert_int_equal(rpc_fault_parse(out + off, &h, &f), 0);
	assert_int_equal(h.call_id, 8);
	assert_int_equal(f.ctx_id, 4);
	assert_int_equal(f.status, 0x1c010002u);
	assert_int_equal(off + h.frag_len, n);
	wr_free(&w);
	rpc_pipe_close(p);
}

static void t_ndr_client_helpers(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 0);
	struct ndr_out o = {.w = &w};
	ndr_ptr(&o, true);
	ndr_wstring(&o, "\\\\host");
	ndr_u32(&o, 3); /* a count of three 4-byte elements */
	ndr_u32(&o, 10);
	ndr_u32(&o, 20);
	ndr_u32(&o, 30);
	assert_true(wr_ok(&w));
	struct rd r = rd_make(w.p, w.len);
	char *s = NULL;
	ndr_rd_unique_wstring(&r, &s);
	assert_non_null(s);
	assert_string_equal(s, "\\\\host");
	free(s);
	size_t at = r.off;
	assert_int_equal(ndr_rd_count(&r, 4, 3), 3);
	assert_true(rd_ok(&r));
	r.off = at;
	ndr_rd_count(&r, 4, 2); /* above the caller's limit */
	assert_false(rd_ok(&r));
	r = rd_make(w.p, w.len);
	r.off = at;
	ndr_rd_count(&r, 5, 100); /* the 12 bytes left cannot hold three of 5 */
	assert_false(rd_ok(&r));
	for (size_t k = at; k < at + 4; k++) {
		struct rd t = rd_make(w.p, k);
		t.off = at;
		ndr_rd_count(&t, 1, 100);
		assert_false(rd_ok(&t));
	}
	for (size_t k = 0; k < at; k++) {
		struct rd t = rd_make(w.p, k);
		ndr_rd_unique_wstring(&t, &s);
		assert_false(rd_ok(&t));
		assert_null(s);
	}
	wr_free(&w);
}

int main(void)
{
	srand(4);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_header),
	    cmocka_unit_test(t_bind),
	    cmocka_unit_test(t_bind_malformed),
	    cmocka_unit_test(t_bind_ack),
	    cmocka_unit_test(t_request_response),
	    cmocka_unit_test(t_fault),
	    cmocka_unit_test(t_writer_limits),
	    cmocka_unit_test(t_server_read_back),
	    cmocka_unit_test(t_ndr_client_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
