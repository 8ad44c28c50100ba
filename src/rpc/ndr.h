/* NDR (C706 chapter 14, MS-RPCE 2.2.5) helpers over the buffer cursors. Alignment is relative
 * to the start of the stub, so each stub is read and written with its own cursor. */
#ifndef SHOAL_RPC_NDR_H
#define SHOAL_RPC_NDR_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

struct ndr_out {
	struct wr *w;
	uint32_t next_ref; /* referent ids handed out for unique/full pointers */
};

void ndr_u16(struct ndr_out *o, uint16_t v);
void ndr_u32(struct ndr_out *o, uint32_t v);
/* A unique pointer: a fresh referent id when present, 0 for NULL. */
void ndr_ptr(struct ndr_out *o, bool present);
/* A [string] wchar_t* pointee: conformant varying UTF-16LE with terminator. "" for NULL text. */
void ndr_wstring(struct ndr_out *o, const char *s);

void ndr_rd_align(struct rd *r, size_t a);
uint32_t ndr_rd_u32(struct rd *r);
uint16_t ndr_rd_u16(struct rd *r);
/* Reads the (aligned) conformance count of an array whose elements take at least elem_min
 * bytes each; sets r->err when it exceeds max or the bytes left could not hold it. */
uint32_t ndr_rd_count(struct rd *r, size_t elem_min, uint32_t max);
/* Reads a conformant varying wide string (the pointee); malloc'ed UTF-8 in *out, or sets r->err. */
void ndr_rd_wstring(struct rd *r, char **out);
/* Reads a unique pointer to a wide string: referent id, then the string if non-zero. */
void ndr_rd_unique_wstring(struct rd *r, char **out);

#endif
