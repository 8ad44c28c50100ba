#include "buf.h"

#include <stdlib.h>

void wr_init(struct wr *w, size_t cap)
{
	memset(w, 0, sizeof(*w));
	if (cap && !wr_reserve(w, cap))
		w->err = true;
}

void wr_init_fixed(struct wr *w, void *buf, size_t cap)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->err = false;
	w->fixed = true;
}

void wr_free(struct wr *w)
{
	if (!w->fixed)
		free(w->p);
	memset(w, 0, sizeof(*w));
}

uint8_t *wr_take(struct wr *w, size_t *len)
{
	uint8_t *p = w->p;
	size_t n = w->len;
	if (w->err) {
		/* a partial message must never be sent by mistake */
		if (!w->fixed)
			free(p);
		p = NULL;
		n = 0;
	} else if (w->fixed) {
		/* the storage belongs to the caller: hand out a copy that free() can take */
		uint8_t *c = malloc(n ? n : 1);
		if (c && n)
			memcpy(c, p, n);
		p = c;
		if (!c)
			n = 0;
	}
	if (len)
		*len = n;
	memset(w, 0, sizeof(*w));
	return p;
}

bool wr_reserve(struct wr *w, size_t n)
{
	if (w->err)
		return false;
	if (n <= w->cap - w->len)
		return true;
	if (w->fixed || n > SIZE_MAX / 2 - w->len) {
		w->err = true;
		return false;
	}
	size_t ncap = w->cap ? w->cap : 64;
	while (ncap - w->len < n)
		ncap *= 2;
	uint8_t *np = realloc(w->p, ncap);
	if (!np) {
		w->err = true;
		return false;
	}
	w->p = np;
	w->cap = ncap;
	return true;
}

size_t wr_space(struct wr *w, size_t n)
{
	if (!wr_reserve(w, n))
		return (size_t)-1;
	size_t off = w->len;
	w->len += n;
	return off;
}

void wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (!n || !wr_reserve(w, n))
		return;
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

void wr_zero(struct wr *w, size_t n)
{
	if (!n || !wr_reserve(w, n))
		return;
	memset(w->p + w->len, 0, n);
	w->len += n;
}

void wr_align(struct wr *w, size_t a)
{
	if (a > 1 && w->len % a)
		wr_zero(w, a - w->len % a);
}
