/* NDR 2.0 (C706 chapter 14) primitives, pointers and strings: see ndr.h. */
#include "rpc/ndr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/utf16.h"

#define NDR_STRING_MAX (64 * 1024) /* characters; anything longer in a request is hostile */

void ndr_align(struct ndr_out *o, size_t a)
{
	wr_align(o->w, a);
}

void ndr_u8(struct ndr_out *o, uint8_t v)
{
	wr_u8(o->w, v);
}

void ndr_u16(struct ndr_out *o, uint16_t v)
{
	wr_align(o->w, 2);
	wr_u16(o->w, v);
}

void ndr_u32(struct ndr_out *o, uint32_t v)
{
	wr_align(o->w, 4);
	wr_u32(o->w, v);
}

void ndr_u64(struct ndr_out *o, uint64_t v)
{
	wr_align(o->w, 8);
	wr_u64(o->w, v);
}

void ndr_bytes(struct ndr_out *o, const void *p, size_t n)
{
	wr_bytes(o->w, p, n);
}

void ndr_ptr(struct ndr_out *o, bool present)
{
	if (!present) {
		ndr_u32(o, 0);
		return;
	}
	o->next_ref += 4;
	ndr_u32(o, 0x00020000u + o->next_ref);
}

void ndr_wstring(struct ndr_out *o, const char *s)
{
	long n = utf16_len(s ? s : "");
	if (n < 0) {
		n = 0;
		s = "";
	}
	uint32_t chars = (uint32_t)n / 2 + 1;
	ndr_u32(o, chars); /* max_count */
	ndr_u32(o, 0);	   /* offset */
	ndr_u32(o, chars); /* actual_count */
	wr_utf16(o->w, s ? s : "");
	wr_u16(o->w, 0);
}

/* UTF-16 code units of s, or -1 for text that is not UTF-8 (or too long for a 16-bit length) */
static long units(const char *s)
{
	long n = utf16_len(s ? s : "");
	return n < 0 || n > UINT16_MAX - 2 ? -1 : n / 2;
}

void ndr_ustring(struct ndr_out *o, const char *s)
{
	long n = s ? units(s) : 0;
	if (n < 0)
		n = 0;
	ndr_u16(o, (uint16_t)(n * 2)); /* Length */
	ndr_u16(o, (uint16_t)(n * 2)); /* MaximumLength */
	ndr_ptr(o, s != NULL);
}

void ndr_ustring_buf(struct ndr_out *o, const char *s)
{
	long n = units(s);
	if (n < 0) {
		n = 0;
		s = "";
	}
	ndr_u32(o, (uint32_t)n); /* max_count */
	ndr_u32(o, 0);		 /* offset */
	ndr_u32(o, (uint32_t)n); /* actual_count */
	wr_utf16(o->w, s ? s : "");
}

void ndr_rd_align(struct rd *r, size_t a)
{
	if (!r->err && a > 1 && r->off % a)
		rd_skip(r, a - r->off % a);
}

uint8_t ndr_rd_u8(struct rd *r)
{
	return rd_u8(r);
}

uint64_t ndr_rd_u64(struct rd *r)
{
	ndr_rd_align(r, 8);
	return rd_u64(r);
}

uint32_t ndr_rd_ptr(struct rd *r)
{
	return ndr_rd_u32(r);
}

void ndr_rd_bytes(struct rd *r, void *dst, size_t n)
{
	rd_bytes(r, dst, n);
}

uint32_t ndr_rd_u32(struct rd *r)
{
	ndr_rd_align(r, 4);
	return rd_u32(r);
}

uint16_t ndr_rd_u16(struct rd *r)
{
	ndr_rd_align(r, 2);
	return rd_u16(r);
}

uint32_t ndr_rd_count(struct rd *r, size_t elem_min, uint32_t max)
{
	uint32_t n = ndr_rd_u32(r);
	if (!rd_ok(r) || n > max || (elem_min && n > rd_left(r) / elem_min)) {
		r->err = true;
		return 0;
	}
	return n;
}

void ndr_rd_wstring(struct rd *r, char **out)
{
	*out = NULL;
	uint32_t max = ndr_rd_u32(r);
	uint32_t offset = ndr_rd_u32(r);
	uint32_t actual = ndr_rd_u32(r);
	if (!rd_ok(r) || offset != 0 || actual > max || actual > NDR_STRING_MAX) {
		r->err = true;
		return;
	}
	const uint8_t *p = rd_ptr(r, (size_t)actual * 2);
	if (!p)
		return;
	size_t bytes = (size_t)actual * 2;
	/* drop the terminator (and anything after an embedded one) */
	for (size_t i = 0; i + 1 < bytes; i += 2)
		if (!p[i] && !p[i + 1]) {
			bytes = i;
			break;
		}
	if (utf16le_to_utf8(p, bytes, out) < 0)
		r->err = true;
}

void ndr_rd_unique_wstring(struct rd *r, char **out)
{
	*out = NULL;
	if (ndr_rd_u32(r) != 0)
		ndr_rd_wstring(r, out);
}
