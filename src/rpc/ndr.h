/* NDR (C706 chapter 14, MS-RPCE 2.2.5) helpers over the buffer cursors. Alignment is relative
 * to the start of the stub, so each stub is read and written with its own cursor.
 *
 * Pointers: a top-level [ref] pointer is not on the wire (its pointee is written in place); an
 * embedded unique or full pointer is a 4-byte referent id (0 for NULL) whose pointee is
 * DEFERRED: written after the whole containing structure, or after every element of the
 * containing array, in the order the pointers were written (C706 14.3.12.3). So a service
 * writes an array of structures in two passes: every element's fixed part (ndr_ptr for its
 * strings), then every element's pointees (ndr_wstring), and only then the next field. shoal
 * never sends aliased pointers, so full pointers are written like unique ones. On input,
 * ndr_rd_ptr returns the referent id and the caller reads the pointee later, in the same order. */
#ifndef SHOAL_RPC_NDR_H
#define SHOAL_RPC_NDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct ndr_out {
	struct wr *w;
	uint32_t next_ref; /* referent ids handed out for unique/full pointers */
};

void ndr_u8(struct ndr_out *o, uint8_t v);
void ndr_u16(struct ndr_out *o, uint16_t v);
void ndr_u32(struct ndr_out *o, uint32_t v);
void ndr_u64(struct ndr_out *o, uint64_t v); /* hyper: 8-aligned */
void ndr_align(struct ndr_out *o, size_t a);
/* n unaligned octets (byte arrays, UUIDs, context handles: MS-DTYP 2.3.4 keeps them as bytes) */
void ndr_bytes(struct ndr_out *o, const void *p, size_t n);
/* A unique pointer: a fresh referent id when present, 0 for NULL. */
void ndr_ptr(struct ndr_out *o, bool present);
/* A [string] wchar_t* pointee: conformant varying UTF-16LE with terminator. "" for NULL text. */
void ndr_wstring(struct ndr_out *o, const char *s);
/* RPC_UNICODE_STRING (MS-DTYP 2.3.10): the fixed part (Length, MaximumLength in bytes, unique
 * pointer; NULL for s == NULL), then later the deferred buffer: a conformant varying array of
 * UTF-16LE without terminator. Text that is not UTF-8 is sent as "". */
void ndr_ustring(struct ndr_out *o, const char *s);
void ndr_ustring_buf(struct ndr_out *o, const char *s);

void ndr_rd_align(struct rd *r, size_t a);
uint8_t ndr_rd_u8(struct rd *r);
uint16_t ndr_rd_u16(struct rd *r);
uint32_t ndr_rd_u32(struct rd *r);
uint64_t ndr_rd_u64(struct rd *r);
/* A unique or full pointer's referent id; 0 is NULL. */
uint32_t ndr_rd_ptr(struct rd *r);
void ndr_rd_bytes(struct rd *r, void *dst, size_t n);
/* Reads the (aligned) conformance count of an array whose elements take at least elem_min
 * bytes each; sets r->err when it exceeds max or the bytes left could not hold it. */
uint32_t ndr_rd_count(struct rd *r, size_t elem_min, uint32_t max);
/* Reads a conformant varying wide string (the pointee: max_count, offset 0, actual_count <=
 * max_count, then the characters; a terminator and anything after it are dropped); malloc'ed
 * UTF-8 in *out, or sets r->err (also for text that is not valid UTF-16). */
void ndr_rd_wstring(struct rd *r, char **out);
/* Reads a top-level [in, unique, string] parameter: referent id, then the string at once (a
 * top-level pointee is not deferred) if the id is non-zero; *out stays NULL for NULL. */
void ndr_rd_unique_wstring(struct rd *r, char **out);

#endif
