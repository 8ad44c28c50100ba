/* DER (X.690 8.1, 10.1) element reader and writer for SPNEGO. */
#include "auth/asn1.h"

#include <errno.h>
#include <string.h>

static int asn1_fail(struct rd *r)
{
	r->err = true;
	return -EINVAL;
}

/* X.690 8.1.3: short form (< 0x80), or 0x8N followed by N big-endian length octets. 0x80 is the
 * indefinite form, which DER forbids; more than four octets cannot describe a token we accept. */
static int asn1_len(struct rd *r, size_t *len)
{
	uint8_t b = rd_u8(r);
	if (!rd_ok(r))
		return -EINVAL;
	if (b < 0x80) {
		*len = b;
		return 0;
	}
	unsigned n = b & 0x7f;
	if (n == 0 || n > 4)
		return -EINVAL;
	size_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | rd_u8(r);
	if (!rd_ok(r))
		return -EINVAL;
	*len = v;
	return 0;
}

int asn1_get(struct rd *r, uint8_t *tag, struct rd *val, struct rd *whole)
{
	size_t start = r->off;
	size_t len = 0;
	uint8_t t = rd_u8(r);
	/* the high-tag-number form (X.690 8.1.2.4) never appears in SPNEGO */
	if (!rd_ok(r) || (t & 0x1f) == 0x1f)
		return asn1_fail(r);
	if (asn1_len(r, &len) < 0 || len > rd_left(r))
		return asn1_fail(r);
	const uint8_t *p = rd_ptr(r, len);
	if (!rd_ok(r))
		return asn1_fail(r);
	*tag = t;
	*val = rd_make(p, len);
	if (whole)
		*whole = rd_make(r->p + start, r->off - start);
	return 0;
}

int asn1_expect(struct rd *r, uint8_t tag, struct rd *val)
{
	uint8_t t;
	if (asn1_get(r, &t, val, NULL) < 0)
		return -EINVAL;
	if (t != tag)
		return asn1_fail(r);
	return 0;
}

bool asn1_peek(const struct rd *r, uint8_t tag)
{
	return rd_left(r) > 0 && r->p[r->off] == tag;
}

size_t asn1_begin(const struct wr *w)
{
	return w->len;
}

/* Number of octets the length n takes in DER's minimal form. */
static size_t asn1_len_size(size_t n)
{
	size_t k = 1;
	if (n >= 0x80)
		for (size_t v = n; v; v >>= 8)
			k++;
	return k;
}

void asn1_end(struct wr *w, size_t start, uint8_t tag)
{
	if (!wr_ok(w) || start > w->len) {
		w->err = true;
		return;
	}
	size_t n = w->len - start;
	size_t h = 1 + asn1_len_size(n);
	if (wr_space(w, h) == (size_t)-1)
		return;
	uint8_t *p = w->p + start;
	memmove(p + h, p, n);
	p[0] = tag;
	if (n < 0x80) {
		p[1] = (uint8_t)n;
		return;
	}
	size_t k = h - 2;
	p[1] = (uint8_t)(0x80 | k);
	for (size_t i = 0; i < k; i++)
		p[2 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
}

void asn1_put(struct wr *w, uint8_t tag, const void *p, size_t n)
{
	size_t start = asn1_begin(w);
	wr_bytes(w, p, n);
	asn1_end(w, start, tag);
}
