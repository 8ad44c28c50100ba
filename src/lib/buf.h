/* Bounds-checked little-endian cursors for reading received bytes and building replies.
 *
 * Errors stick: after one out-of-range read (or a failed allocation while writing) every later
 * call is a no-op returning zeros, so a decoder reads all its fields and checks rd_ok() once.
 * Nothing here ever casts a struct onto wire bytes. */
#ifndef SHOAL_LIB_BUF_H
#define SHOAL_LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- reading ---------------------------------------------------------------------------- */

struct rd {
	const uint8_t *p; /* start of the buffer (not owned) */
	size_t len;       /* total bytes in the buffer */
	size_t off;       /* next byte to read */
	bool err;         /* sticky: set on any read past len */
};

static inline struct rd rd_make(const void *p, size_t len)
{
	struct rd r = {(const uint8_t *)p, len, 0, false};
	return r;
}

static inline bool rd_ok(const struct rd *r) { return !r->err; }
static inline size_t rd_left(const struct rd *r) { return r->err ? 0 : r->len - r->off; }

/* True when [off, off+n) lies inside a buffer of buflen bytes; overflow-safe. */
static inline bool buf_range_ok(size_t buflen, size_t off, size_t n)
{
	return off <= buflen && n <= buflen - off;
}

/* Returns a pointer to the next n bytes and advances, or NULL (and sets err). */
static inline const uint8_t *rd_ptr(struct rd *r, size_t n)
{
	if (r->err || !buf_range_ok(r->len, r->off, n)) {
		r->err = true;
		return NULL;
	}
	const uint8_t *q = r->p + r->off;
	r->off += n;
	return q;
}

static inline void rd_skip(struct rd *r, size_t n) { (void)rd_ptr(r, n); }

static inline void rd_seek(struct rd *r, size_t off)
{
	if (r->err || off > r->len)
		r->err = true;
	else
		r->off = off;
}

static inline uint8_t rd_u8(struct rd *r)
{
	const uint8_t *q = rd_ptr(r, 1);
	return q ? q[0] : 0;
}

static inline uint16_t rd_u16(struct rd *r)
{
	const uint8_t *q = rd_ptr(r, 2);
	return q ? (uint16_t)(q[0] | (q[1] << 8)) : 0;
}

static inline uint32_t rd_u32(struct rd *r)
{
	const uint8_t *q = rd_ptr(r, 4);
	return q ? (uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16) |
			   ((uint32_t)q[3] << 24)
		 : 0;
}

static inline uint64_t rd_u64(struct rd *r)
{
	/* one 8-byte check, so a read that half fits returns 0 rather than its low half */
	const uint8_t *q = rd_ptr(r, 8);
	uint64_t v = 0;
	for (int i = 7; q && i >= 0; i--)
		v = (v << 8) | q[i];
	return v;
}

/* Big-endian reads, for the few places (NetBIOS framing, ASN.1 lengths) that need them. */
static inline uint32_t rd_be32(struct rd *r)
{
	const uint8_t *q = rd_ptr(r, 4);
	return q ? ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3] : 0;
}

static inline void rd_bytes(struct rd *r, void *dst, size_t n)
{
	const uint8_t *q = rd_ptr(r, n);
	if (!n)
		return; /* dst may be NULL; memcpy/memset with NULL is undefined even for 0 bytes */
	if (q)
		memcpy(dst, q, n);
	else
		memset(dst, 0, n);
}

/* A cursor over [off, off+n) of r's buffer (absolute offsets, independent of r->off).
 * Used for (offset, length) pairs taken from a header: invalid ranges give a failed cursor. */
static inline struct rd rd_sub(const struct rd *r, size_t off, size_t n)
{
	struct rd s = {NULL, 0, 0, true};
	if (!r->err && buf_range_ok(r->len, off, n)) {
		s.p = r->p + off;
		s.len = n;
		s.err = false;
	}
	return s;
}

/* ---- writing ---------------------------------------------------------------------------- */

struct wr {
	uint8_t *p;  /* owned heap buffer (free with wr_free) unless fixed */
	size_t len;  /* bytes written */
	size_t cap;  /* allocated */
	bool err;    /* sticky: allocation failure or overflow of a fixed buffer */
	bool fixed;  /* caller-provided storage that must not be reallocated */
};

/* Growable writer; initial capacity is a hint (0 allowed). */
void wr_init(struct wr *w, size_t cap);
/* Writer over caller storage of cap bytes; overflow sets err instead of growing. */
void wr_init_fixed(struct wr *w, void *buf, size_t cap);
void wr_free(struct wr *w);
/* Hands the buffer to the caller (who frees it with free()); the writer is left empty.
 * A fixed writer's bytes are returned as a malloc'ed copy (the storage stays the caller's);
 * a writer in error gives NULL and *len = 0 (its buffer is freed). NULL also when out of memory
 * or nothing was ever allocated. */
uint8_t *wr_take(struct wr *w, size_t *len);
/* Makes room for n more bytes; false (and err) when that is impossible. */
bool wr_reserve(struct wr *w, size_t n);
/* Appends n bytes of uninitialised space and returns its offset, or (size_t)-1 on error.
 * Use the offset (not a pointer) since the buffer may move on a later append. */
size_t wr_space(struct wr *w, size_t n);

static inline bool wr_ok(const struct wr *w) { return !w->err; }

/* Pointer to already-written byte off (off == len gives the end); NULL on error or past len. */
static inline uint8_t *wr_at(struct wr *w, size_t off)
{
	return (w->err || off > w->len || !w->p) ? NULL : w->p + off;
}

void wr_bytes(struct wr *w, const void *src, size_t n);
void wr_zero(struct wr *w, size_t n);
/* Pads with zeros until len is a multiple of a (relative to the buffer start). */
void wr_align(struct wr *w, size_t a);

static inline void wr_u8(struct wr *w, uint8_t v) { wr_bytes(w, &v, 1); }

static inline void put_le16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)v;
	q[1] = (uint8_t)(v >> 8);
}
static inline void put_le32(uint8_t *q, uint32_t v)
{
	q[0] = (uint8_t)v;
	q[1] = (uint8_t)(v >> 8);
	q[2] = (uint8_t)(v >> 16);
	q[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *q, uint64_t v)
{
	put_le32(q, (uint32_t)v);
	put_le32(q + 4, (uint32_t)(v >> 32));
}
static inline void put_be32(uint8_t *q, uint32_t v)
{
	q[0] = (uint8_t)(v >> 24);
	q[1] = (uint8_t)(v >> 16);
	q[2] = (uint8_t)(v >> 8);
	q[3] = (uint8_t)v;
}
static inline uint16_t get_le16(const uint8_t *q) { return (uint16_t)(q[0] | (q[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *q)
{
	return (uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16) | ((uint32_t)q[3] << 24);
}
static inline uint64_t get_le64(const uint8_t *q)
{
	return (uint64_t)get_le32(q) | ((uint64_t)get_le32(q + 4) << 32);
}

static inline void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2];
	put_le16(b, v);
	wr_bytes(w, b, 2);
}
static inline void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4];
	put_le32(b, v);
	wr_bytes(w, b, 4);
}
static inline void wr_u64(struct wr *w, uint64_t v)
{
	uint8_t b[8];
	put_le64(b, v);
	wr_bytes(w, b, 8);
}

/* Patch already-written fields (no-op on error or out of range). */
static inline void wr_set_u16(struct wr *w, size_t off, uint16_t v)
{
	if (!w->err && buf_range_ok(w->len, off, 2))
		put_le16(w->p + off, v);
}
static inline void wr_set_u32(struct wr *w, size_t off, uint32_t v)
{
	if (!w->err && buf_range_ok(w->len, off, 4))
		put_le32(w->p + off, v);
}
static inline void wr_set_u64(struct wr *w, size_t off, uint64_t v)
{
	if (!w->err && buf_range_ok(w->len, off, 8))
		put_le64(w->p + off, v);
}

#endif
