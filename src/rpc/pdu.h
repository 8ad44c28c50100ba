/* The connection-oriented DCE/RPC PDU codec (C706 12.6, MS-RPCE 2.2.2), shared by the server's
 * pipes (rpc/dcerpc.c) and the client library (client/pipe.c). Pure: no state, no I/O.
 *
 * Parsing: rpc_hdr_parse() validates the 16-byte common header against the bytes available;
 * the body parsers then take that header and the same PDU pointer, and read only inside
 * [0, frag_len). All return 0, or -1 when the PDU is malformed.
 * Writing: each rpc_*_write() appends one whole PDU (header, body, patched frag_length) to w;
 * failures (allocation, a PDU longer than 65535 bytes) set w->err. Only little-endian NDR data
 * representation is read or written. */
#ifndef SHOAL_RPC_PDU_H
#define SHOAL_RPC_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* PTYPE values (C706 12.6.4) */
#define RPC_PTYPE_REQUEST 0
#define RPC_PTYPE_RESPONSE 2
#define RPC_PTYPE_FAULT 3
#define RPC_PTYPE_BIND 11
#define RPC_PTYPE_BIND_ACK 12
#define RPC_PTYPE_BIND_NAK 13
#define RPC_PTYPE_ALTER_CONTEXT 14
#define RPC_PTYPE_ALTER_CONTEXT_RESP 15
#define RPC_PTYPE_AUTH3 16

/* pfc_flags (C706 12.6.3.1, MS-RPCE 2.2.2.3) */
#define RPC_PFC_FIRST_FRAG 0x01
#define RPC_PFC_LAST_FRAG 0x02
#define RPC_PFC_OBJECT_UUID 0x80

#define RPC_HDR_LEN 16	       /* the common header */
#define RPC_REQ_HDR_LEN 24     /* common header + alloc_hint, p_cont_id, opnum (or cancel_count) */
#define RPC_AUTH_TRAILER_LEN 8 /* sec_trailer before auth_value (MS-RPCE 2.2.2.11) */

/* p_cont_def_result_t and reasons (C706 12.6.3.1, MS-RPCE 3.3.1.5.3) */
#define RPC_RES_ACCEPT 0
#define RPC_RES_USER_REJECT 1
#define RPC_RES_PROVIDER_REJECT 2
#define RPC_RES_NEGOTIATE_ACK 3
#define RPC_REASON_ABSTRACT_NOT_SUPPORTED 1
#define RPC_REASON_TRANSFER_NOT_SUPPORTED 2
#define RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED 8

/* A syntax identifier: UUID in wire form (first three fields little-endian), version. A
 * transfer syntax's 32-bit version is major in the low half, minor in the high half. */
struct rpc_syntax {
	uint8_t uuid[16];
	uint16_t major, minor;
};

/* NDR 2.0: 8a885d04-1ceb-11c9-9fe8-08002b104860 v2 (C706 appendix I). */
extern const struct rpc_syntax rpc_ndr_syntax;
/* NDR64: 71710533-beba-4937-8319-b5dbef9ccc36 v1 (MS-RPCE 2.2.5). */
extern const struct rpc_syntax rpc_ndr64_syntax;
/* Bind time feature negotiation 6cb71c2c-9812-4540-XXXX-000000000000 (MS-RPCE 3.3.1.5.3):
 * true when s is one; *bits gets its feature bits (the first byte of the fourth field). */
bool rpc_syntax_is_btfn(const struct rpc_syntax *s, uint8_t *bits);

/* ---- common header ---- */

struct rpc_hdr {
	uint8_t vers_minor, ptype, flags;
	uint16_t frag_len, auth_len;
	uint32_t call_id;
};

/* frag_length of the PDU starting at p, or 0 while fewer than RPC_HDR_LEN bytes are there:
 * how a byte stream is cut into PDUs before anything else is checked. */
size_t rpc_peek_frag_len(const uint8_t *p, size_t avail);
/* Checks version 5.0/5.1, little-endian integers, RPC_HDR_LEN <= frag_len <= len, and that an
 * auth trailer (8 + auth_len bytes) fits after the header. */
int rpc_hdr_parse(const uint8_t *p, size_t len, struct rpc_hdr *h);
/* Where the stub (or body) of a parsed PDU ends: before the auth trailer, if any. */
size_t rpc_body_end(const struct rpc_hdr *h);

/* ---- BIND / ALTER_CONTEXT (C706 12.6.4.3, 12.6.4.1) ---- */

struct rpc_ctx_req {
	uint16_t id;
	struct rpc_syntax abstract;
	const struct rpc_syntax *transfer;
	uint8_t ntransfer;
};

/* ptype is RPC_PTYPE_BIND or RPC_PTYPE_ALTER_CONTEXT. */
void rpc_bind_write(struct wr *w, uint8_t ptype, uint32_t call_id, uint16_t max_xmit,
		    uint16_t max_recv, uint32_t assoc_group, const struct rpc_ctx_req *ctx,
		    uint8_t nctx);

struct rpc_bind {
	uint16_t max_xmit, max_recv;
	uint32_t assoc_group;
	struct rd ctx_list; /* p_context_list onwards: rpc_bind_ctx_count, then rpc_bind_next_ctx */
};

/* One p_cont_elem_t; transfer points at ntransfer validated 20-byte wire syntaxes. */
struct rpc_pctx {
	uint16_t id;
	uint8_t ntransfer;
	struct rpc_syntax abstract;
	const uint8_t *transfer;
};

/* Reads the fixed part of a BIND or ALTER_CONTEXT (max_xmit_frag, max_recv_frag, assoc_group);
 * the context list is left to the two calls below, so that a caller may answer (e.g. with a
 * BIND_NAK) before reading it. */
int rpc_bind_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_bind *b);
int rpc_bind_ctx_count(struct rpc_bind *b, uint8_t *n);
/* The next context element; -1 when truncated or when it lists no transfer syntax. */
int rpc_bind_next_ctx(struct rpc_bind *b, struct rpc_pctx *c);
void rpc_pctx_transfer(const struct rpc_pctx *c, uint8_t i, struct rpc_syntax *out);

/* ---- BIND_ACK / ALTER_CONTEXT_RESP (C706 12.6.4.4, 12.6.4.2), BIND_NAK (12.6.4.5) ---- */

struct rpc_ctx_result {
	uint16_t result, reason;
	struct rpc_syntax transfer; /* all zero unless accepted */
};

/* ptype is RPC_PTYPE_BIND_ACK or RPC_PTYPE_ALTER_CONTEXT_RESP. sec_addr is the secondary
 * address (e.g. "\\PIPE\\srvsvc", written with its NUL) or NULL for an empty one. */
void rpc_bind_ack_write(struct wr *w, uint8_t ptype, uint32_t call_id, uint16_t max_xmit,
			uint16_t max_recv, uint32_t assoc_group, const char *sec_addr,
			const struct rpc_ctx_result *res, uint8_t nres);

#define RPC_ACK_MAX_RESULTS 8
struct rpc_bind_ack {
	uint16_t max_xmit, max_recv;
	uint32_t assoc_group;
	uint8_t nresults;				/* as sent; at least 1 */
	struct rpc_ctx_result res[RPC_ACK_MAX_RESULTS]; /* the first ones (all are validated) */
};

int rpc_bind_ack_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_bind_ack *a);
/* A BIND_NAK offering protocol version 5.0 only. */
void rpc_bind_nak_write(struct wr *w, uint32_t call_id, uint16_t reason);
int rpc_bind_nak_parse(const uint8_t *pdu, const struct rpc_hdr *h, uint16_t *reason);

/* ---- REQUEST, RESPONSE, FAULT (C706 12.6.4.9, 12.6.4.10, 12.6.4.7) ---- */

struct rpc_request {
	uint32_t alloc_hint;
	uint16_t ctx_id, opnum;
	bool has_object;
	uint8_t object[16];
	const uint8_t *stub; /* inside the PDU */
	size_t stub_len;
};

/* object is NULL or a 16-byte object UUID (then PFC_OBJECT_UUID is set). */
void rpc_request_write(struct wr *w, uint8_t flags, uint32_t call_id, uint32_t alloc_hint,
		       uint16_t ctx_id, uint16_t opnum, const uint8_t *object, const uint8_t *stub,
		       size_t len);
int rpc_request_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_request *q);

struct rpc_response {
	uint32_t alloc_hint;
	uint16_t ctx_id;
	uint8_t cancel_count;
	const uint8_t *stub;
	size_t stub_len;
};

void rpc_response_write(struct wr *w, uint8_t flags, uint32_t call_id, uint32_t alloc_hint,
			uint16_t ctx_id, const uint8_t *stub, size_t len);
int rpc_response_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_response *r);

struct rpc_fault {
	uint32_t alloc_hint;
	uint16_t ctx_id;
	uint8_t cancel_count;
	uint32_t status;
};

/* A single-fragment FAULT. */
void rpc_fault_write(struct wr *w, uint32_t call_id, uint16_t ctx_id, uint32_t status);
int rpc_fault_parse(const uint8_t *pdu, const struct rpc_hdr *h, struct rpc_fault *f);

#endif
