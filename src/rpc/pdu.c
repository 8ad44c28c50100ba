/* Connection-oriented DCE/RPC PDUs (C706 12.6, MS-RPCE 2.2.2): see pdu.h. */
#include "rpc/pdu.h"

#include <string.h>

#define SYNTAX_WIRE_LEN 20 /* p_syntax_id_t: uuid + 32-bit version */
#define DREP_LE_ASCII 0x10 /* drep[0]: little-endian integers, ASCII characters */

const struct rpc_syntax rpc_ndr_syntax = {{0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f,
					   0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60},
					  2,
					  0};

const struct rpc_syntax rpc_ndr64_syntax = {{0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49, 0x83,
					     0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36},
					    1,
					    0};

static const uint8_t btfn_prefix[8] = {0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45};

bool rpc_syntax_is_btfn(const struct rpc_syntax *s, uint8_t *bits)
{
	if (memcmp(s->uuid, btfn_prefix, sizeof(btfn_prefix)))
		return false;
	*bits = s->uuid[8];
	return true;
}

static void syntax_write(struct wr *w, const struct rpc_syntax *s)
{
	wr_bytes(w, s->uuid, 16);
	wr_u16(w, s->major);
	wr_u16(w, s->minor);
}

static void syntax_read(struct rd *r, struct rpc_syntax *s)
{
	rd_bytes(r, s->uuid, 16);
	s->major = rd_u16(r);
	s->minor = rd_u16(r);
}

/* ---- common header ---- */

size_t rpc_peek_frag_len(const uint8_t *p, size_t avail)
{
	return avail < RPC_HDR_LEN ? 0 : get_le16(p + 8);
}

int rpc_hdr_parse(const uint8_t *p, size_t len, struct rpc_hdr *h)
{
	struct rd r = rd_make(p, len);
	uint8_t vers = rd_u8(&r);
	h->vers_minor = rd_u8(&r);
	h->ptype = rd_u8(&r);
	h->flags = rd_u8(&r);
	uint8_t drep0 = rd_u8(&r);
	rd_skip(&r, 3);
	h->frag_len = rd_u16(&r);
	h->auth_len = rd_u16(&r);
	h->call_id = rd_u32(&r);
	/* the character representation (low nibble) is never needed: strings are UTF-16 stubs */
	if (!rd_ok(&r) || vers != 5 || h->vers_minor > 1 || (drep0 & 0xF0) != DREP_LE_ASCII ||
	    h->frag_len < RPC_HDR_LEN || h->frag_len > len)
		return -1;
	if (h->auth_len &&
	    (size_t)h->auth_len + RPC_AUTH_TRAILER_LEN > (size_t)h->frag_len - RPC_HDR_LEN)
		return -1;
	return 0;
}

size_t rpc_body_end(const struct rpc_hdr *h)
{
	return h->auth_len ? (size_t)h->frag_len - h->auth_len - RPC_AUTH_TRAILER_LEN : h->frag_len;
}

static size_t hdr_write(struct wr *w, uint8_t ptype, uint8_t flags, uint32_t call_id)
{
	size_t start = w->len;
	wr_u8(w, 5);
	wr_u8(w, 0);
	wr_u8(w, ptype);
	wr_u8(w, flags);
	wr_u32(w, DREP_LE_ASCII); /* drep: + IEEE floats, reserved */
	wr_u16(w, 0);		  /* frag_length, patched by pdu_end */
	wr_u16(w, 0);		  /* auth_length */
	wr_u32(w, call_id);
	return start;
}

static void pdu_end(struct wr *w, size_t start)
{
	if (w->err)
		return;
	if (w->len - start > UINT16_MAX) {
		w->err = true;
		return;
	}
	wr_set_u16(w, start + 8, (uint16_t)(w->len - start));
}

/* A cursor over the body of a parsed PDU, positioned after the common header. */
static struct rd body(const uint8_t *pdu, size_t end)
{
	struct rd r = rd_make(pdu, end);
	rd_seek(&r, RPC_HDR_LEN);
	return r;
}

/* ---- BIND / ALTER_CONTEXT ---- */

void rpc_bind_write(struct wr *w, uint8_t ptype, uint32_t call_id, uint16_t max_xmit,
		    uint16_t max_recv, uint32_t assoc_group, const struct rpc_ctx_req *ctx,
		    uint8_t nctx)
{
	size_t s = hdr_write(w, ptype, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG, call_id);
	wr_u16(w, max_xmit);
	wr_u16(w, max_recv);
	wr_u32(w, assoc_group);
	wr_u8(w, nctx);
	wr_zero(w, 3);
	for (uint8_t i = 0; i < nctx; i++) {
		wr_u16(w, ctx[i].id);
		wr_u8(w, ctx[i].ntransfer);
		wr_u8(w, 0);
		syntax_write(w, &ctx[i].abstract);
		for (uint8_t t = 0; t < ctx[i].ntransfer; t++)
			syntax_write(w, &ctx[i].transfer[t]);
	}
	pdu_end(w, s);
}

int rpc_bind_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_bind *b)
{
	if (h->ptype != RPC_PTYPE_BIND && h->ptype != RPC_PTYPE_ALTER_CONTEXT)
		return -1;
	/* the context list is read up to frag_length, as an auth trailer comes after it */
	b->ctx_list = body(pdu, h->frag_len);
	b->max_xmit = rd_u16(&b->ctx_list);
	b->max_recv = rd_u16(&b->ctx_list);
	b->assoc_group = rd_u32(&b->ctx_list);
	return rd_ok(&b->ctx_list) ? 0 : -1;
}

int rpc_bind_ctx_count(struct rpc_bind *b, uint8_t *n)
{
	*n = rd_u8(&b->ctx_list);
	rd_skip(&b->ctx_list, 3);
	return rd_ok(&b->ctx_list) ? 0 : -1;
}

int rpc_bind_next_ctx(struct rpc_bind *b, struct rpc_pctx *c)
{
	struct rd *r = &b->ctx_list;
	c->id = rd_u16(r);
	c->ntransfer = rd_u8(r);
	rd_skip(r, 1);
	syntax_read(r, &c->abstract);
	c->transfer = rd_ptr(r, (size_t)c->ntransfer * SYNTAX_WIRE_LEN);
	return rd_ok(r) && c->ntransfer ? 0 : -1;
}

void rpc_pctx_transfer(const struct rpc_pctx *c, uint8_t i, struct rpc_syntax *out)
{
	struct rd r = rd_make(c->transfer, (size_t)c->ntransfer * SYNTAX_WIRE_LEN);
	rd_seek(&r, (size_t)i * SYNTAX_WIRE_LEN);
	syntax_read(&r, out); /* zeros for an index out of range */
}

/* ---- BIND_ACK / ALTER_CONTEXT_RESP / BIND_NAK ---- */

void rpc_bind_ack_write(struct wr *w, uint8_t ptype, uint32_t call_id, uint16_t max_xmit,
			uint16_t max_recv, uint32_t assoc_group, const char *sec_addr,
			const struct rpc_ctx_result *res, uint8_t nres)
{
	size_t s = hdr_write(w, ptype, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG, call_id);
	wr_u16(w, max_xmit);
	wr_u16(w, max_recv);
	wr_u32(w, assoc_group);
	size_t alen = sec_addr ? strlen(sec_addr) + 1 : 0;
	if (alen > UINT16_MAX)
		w->err = true;
	wr_u16(w, (uint16_t)alen);
	if (alen)
		wr_bytes(w, sec_addr, alen);
	while (!w->err && (w->len - s) % 4) /* the result list is 4-aligned in the PDU */
		wr_u8(w, 0);
	wr_u8(w, nres);
	wr_zero(w, 3);
	for (uint8_t i = 0; i < nres; i++) {
		wr_u16(w, res[i].result);
		wr_u16(w, res[i].reason);
		syntax_write(w, &res[i].transfer);
	}
	pdu_end(w, s);
}

int rpc_bind_ack_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_bind_ack *a)
{
	if (h->ptype != RPC_PTYPE_BIND_ACK && h->ptype != RPC_PTYPE_ALTER_CONTEXT_RESP)
		return -1;
	struct rd r = body(pdu, h->frag_len);
	a->max_xmit = rd_u16(&r);
	a->max_recv = rd_u16(&r);
	a->assoc_group = rd_u32(&r);
	uint16_t alen = rd_u16(&r);
	rd_skip(&r, alen);
	if (rd_ok(&r))
		rd_skip(&r, (4 - r.off % 4) % 4);
	a->nresults = rd_u8(&r);
	rd_skip(&r, 3);
	for (unsigned i = 0; i < a->nresults && rd_ok(&r); i++) {
		struct rpc_ctx_result tmp, *res = i < RPC_ACK_MAX_RESULTS ? &a->res[i] : &tmp;
		res->result = rd_u16(&r);
		res->reason = rd_u16(&r);
		syntax_read(&r, &res->transfer);
	}
	return rd_ok(&r) && a->nresults ? 0 : -1;
}

void rpc_bind_nak_write(struct wr *w, uint32_t call_id, uint16_t reason)
{
	size_t s =
	    hdr_write(w, RPC_PTYPE_BIND_NAK, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG, call_id);
	wr_u16(w, reason);
	wr_u8(w, 1); /* n_protocols */
	wr_u8(w, 5); /* version 5.0 */
	wr_u8(w, 0);
	pdu_end(w, s);
}

int rpc_bind_nak_parse(const uint8_t *pdu, const struct rpc_hdr *h, uint16_t *reason)
{
	if (h->ptype != RPC_PTYPE_BIND_NAK)
		return -1;
	struct rd r = body(pdu, h->frag_len);
	*reason = rd_u16(&r);
	return rd_ok(&r) ? 0 : -1;
}

/* ---- REQUEST / RESPONSE / FAULT ---- */

void rpc_request_write(struct wr *w, uint8_t flags, uint32_t call_id, uint32_t alloc_hint,
		       uint16_t ctx_id, uint16_t opnum, const uint8_t *object, const uint8_t *stub,
		       size_t len)
{
	flags = object ? flags | RPC_PFC_OBJECT_UUID : flags & ~RPC_PFC_OBJECT_UUID;
	size_t s = hdr_write(w, RPC_PTYPE_REQUEST, flags, call_id);
	wr_u32(w, alloc_hint);
	wr_u16(w, ctx_id);
	wr_u16(w, opnum);
	if (object)
		wr_bytes(w, object, 16);
	wr_bytes(w, stub, len);
	pdu_end(w, s);
}

int rpc_request_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_request *q)
{
	size_t end = rpc_body_end(h);
	if (h->ptype != RPC_PTYPE_REQUEST)
		return -1;
	struct rd r = body(pdu, end);
	q->alloc_hint = rd_u32(&r);
	q->ctx_id = rd_u16(&r);
	q->opnum = rd_u16(&r);
	q->has_object = (h->flags & RPC_PFC_OBJECT_UUID) != 0;
	memset(q->object, 0, sizeof(q->object));
	if (q->has_object)
		rd_bytes(&r, q->object, 16);
	if (!rd_ok(&r))
		return -1;
	q->stub = pdu + r.off;
	q->stub_len = end - r.off;
	return 0;
}

void rpc_response_write(struct wr *w, uint8_t flags, uint32_t call_id, uint32_t alloc_hint,
			uint16_t ctx_id, const uint8_t *stub, size_t len)
{
	size_t s = hdr_write(w, RPC_PTYPE_RESPONSE, flags, call_id);
	wr_u32(w, alloc_hint);
	wr_u16(w, ctx_id);
	wr_u8(w, 0); /* cancel_count */
	wr_u8(w, 0);
	wr_bytes(w, stub, len);
	pdu_end(w, s);
}

int rpc_response_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_response *p)
{
	size_t end = rpc_body_end(h);
	if (h->ptype != RPC_PTYPE_RESPONSE)
		return -1;
	struct rd r = body(pdu, end);
	p->alloc_hint = rd_u32(&r);
	p->ctx_id = rd_u16(&r);
	p->cancel_count = rd_u8(&r);
	rd_skip(&r, 1);
	if (!rd_ok(&r))
		return -1;
	p->stub = pdu + r.off;
	p->stub_len = end - r.off;
	return 0;
}

void rpc_fault_write(struct wr *w, uint32_t call_id, uint16_t ctx_id, uint32_t status)
{
	size_t s = hdr_write(w, RPC_PTYPE_FAULT, RPC_PFC_FIRST_FRAG | RPC_PFC_LAST_FRAG, call_id);
	wr_u32(w, 32); /* alloc_hint: the PDU's length, as nothing follows */
	wr_u16(w, ctx_id);
	wr_u8(w, 0); /* cancel_count */
	wr_u8(w, 0);
	wr_u32(w, status);
	wr_u32(w, 0);
	pdu_end(w, s);
}

int rpc_fault_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_fault *f)
{
	if (h->ptype != RPC_PTYPE_FAULT)
		return -1;
	struct rd r = body(pdu, rpc_body_end(h));
	f->alloc_hint = rd_u32(&r);
	f->ctx_id = rd_u16(&r);
	f->cancel_count = rd_u8(&r);
	rd_skip(&r, 1);
	f->status = rd_u32(&r);
	return rd_ok(&r) ? 0 : -1;
}
