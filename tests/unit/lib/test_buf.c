/* Unit tests for lib/buf.h: every reader at every boundary, sticky errors, sub-cursors with
 * overflowing offsets, growable and fixed writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

static const uint8_t seq[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
				0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

static void t_values(void **st)
{
	(void)st;
	struct rd r = rd_make(seq, sizeof(seq));
	assert_int_equal(rd_u8(&r), 0x01);
	assert_int_equal(rd_u16(&r), 0x0302);
	assert_int_equal(rd_u32(&r), 0x07060504);
	assert_true(rd_u64(&r) == 0x0f0e0d0c0b0a0908ULL);
	assert_int_equal(rd_left(&r), 1);
	assert_true(rd_ok(&r));
	r = rd_make(seq, sizeof(seq));
	assert_int_equal(rd_be32(&r), 0x01020304);
	uint8_t b[3];
	rd_bytes(&r, b, 3);
	assert_memory_equal(b, seq + 4, 3);
	assert_int_equal(r.off, 7);
	/* high bits must not sign-extend */
	static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	r = rd_make(ff, 8);
	assert_int_equal(rd_u16(&r), 0xffff);
	assert_true(rd_u32(&r) == 0xffffffffu);
	r = rd_make(ff, 8);
	assert_true(rd_u64(&r) == UINT64_MAX);
	r = rd_make(ff, 8);
	assert_true(rd_be32(&r) == 0xffffffffu);
}

/* Each reader of width w succeeds on a buffer of exactly w bytes (read at offset len-w) and fails
 * on w-1, leaving the sticky error and zero results. */
static void t_boundaries(void **st)
{
	(void)st;
	for (size_t w = 1; w <= 8; w *= 2) {
		for (size_t len = 0; len <= 12; len++) {
			for (size_t off = 0; off <= len; off++) {
				struct rd r = rd_make(seq, len);
				rd_seek(&r, off);
				assert_true(rd_ok(&r));
				uint64_t v = 0;
				switch (w) {
				case 1:
					v = rd_u8(&r);
					break;
				case 2:
					v = rd_u16(&r);
					break;
				case 4:
					v = rd_u32(&r);
					break;
				case 8:
					v = rd_u64(&r);
					break;
				}
				bool fits = off + w <= len;
				assert_int_equal(rd_ok(&r), fits);
				if (!fits) {
					assert_true(v == 0);
					assert_int_equal(rd_left(&r), 0);
				} else {
					assert_int_equal(r.off, off + w);
					assert_int_equal(seq[off], v & 0xff);
				}
			}
		}
	}
	/* be32 and rd_bytes too */
	struct rd r = rd_make(seq, 3);
	assert_int_equal(rd_be32(&r), 0);
	assert_false(rd_ok(&r));
	uint8_t b[4] = {9, 9, 9, 9};
	r = rd_make(seq, 3);
	rd_bytes(&r, b, 4);
	assert_false(rd_ok(&r));
	static const uint8_t zero[4];
	assert_memory_equal(b, zero, 4); /* a failed read gives zeros, never stale bytes */
}

static void t_sticky(void **st)
{
	(void)st;
	struct rd r = rd_make(seq, 4);
	assert_int_equal(rd_u16(&r), 0x0201);
	assert_int_equal(rd_u32(&r), 0); /* only 2 left: fails */
	assert_false(rd_ok(&r));
	/* everything after fails too, even reads that would fit */
	assert_int_equal(rd_u8(&r), 0);
	assert_null(rd_ptr(&r, 0));
	rd_seek(&r, 0);
	assert_false(rd_ok(&r));
	assert_int_equal(rd_u8(&r), 0);
	struct rd s = rd_sub(&r, 0, 1);
	assert_false(rd_ok(&s));
	/* a sub-cursor of a failed cursor fails */
	assert_int_equal(rd_u8(&s), 0);
}

static void t_ptr_skip_seek(void **st)
{
	(void)st;
	struct rd r = rd_make(seq, 8);
	assert_ptr_equal(rd_ptr(&r, 3), seq);
	assert_ptr_equal(rd_ptr(&r, 0), seq + 3);
	rd_skip(&r, 5);
	assert_true(rd_ok(&r));
	assert_int_equal(rd_left(&r), 0);
	rd_skip(&r, 1);
	assert_false(rd_ok(&r));

	r = rd_make(seq, 8);
	rd_seek(&r, 8); /* end is a valid position */
	assert_true(rd_ok(&r));
	assert_int_equal(rd_left(&r), 0);
	rd_seek(&r, 2); /* backwards is fine */
	assert_int_equal(rd_u8(&r), 3);
	rd_seek(&r, 9);
	assert_false(rd_ok(&r));

	r = rd_make(seq, 8);
	rd_skip(&r, SIZE_MAX); /* huge lengths must not wrap */
	assert_false(rd_ok(&r));
	r = rd_make(seq, 8);
	rd_u8(&r);
	assert_null(rd_ptr(&r, SIZE_MAX));
	assert_false(rd_ok(&r));
	r = rd_make(seq, 8);
	rd_seek(&r, SIZE_MAX);
	assert_false(rd_ok(&r));

	/* empty buffers, including a NULL one, and zero-length reads */
	r = rd_make(NULL, 0);
	rd_bytes(&r, NULL, 0);
	assert_true(rd_ok(&r));
	assert_int_equal(rd_u8(&r), 0);
	assert_false(rd_ok(&r));
}

static void t_range_ok(void **st)
{
	(void)st;
	assert_true(buf_range_ok(10, 0, 10));
	assert_true(buf_range_ok(10, 10, 0));
	assert_true(buf_range_ok(0, 0, 0));
	assert_false(buf_range_ok(10, 11, 0));
	assert_false(buf_range_ok(10, 0, 11));
	assert_false(buf_range_ok(10, 5, 6));
	assert_false(buf_range_ok(10, 1, SIZE_MAX));
	assert_false(buf_range_ok(10, SIZE_MAX, 1));
	assert_false(buf_range_ok(SIZE_MAX, SIZE_MAX, 1));
	assert_true(buf_range_ok(SIZE_MAX, SIZE_MAX, 0));
	assert_false(buf_range_ok(10, (size_t)1 << 63, (size_t)1 << 63));
}

static void t_sub(void **st)
{
	(void)st;
	struct rd r = rd_make(seq, 16);
	rd_skip(&r, 10); /* rd_sub is absolute, not relative to off */
	struct rd s = rd_sub(&r, 4, 4);
	assert_true(rd_ok(&s));
	assert_int_equal(s.len, 4);
	assert_int_equal(rd_u32(&s), 0x08070605);
	assert_int_equal(rd_u8(&s), 0);
	assert_false(rd_ok(&s));
	assert_true(rd_ok(&r)); /* a sub-cursor's failure stays its own */
	assert_int_equal(r.off, 10);

	s = rd_sub(&r, 16, 0);
	assert_true(rd_ok(&s));
	assert_int_equal(rd_left(&s), 0);
	s = rd_sub(&r, 0, 16);
	assert_true(rd_ok(&s));

	/* offsets and lengths as a hostile header could give them */
	static const size_t bad[][2] = {
	    {17, 0},
	    {16, 1},
	    {0, 17},
	    {15, 2},
	    {SIZE_MAX, 1},
	    {1, SIZE_MAX},
	    {SIZE_MAX, SIZE_MAX},
	    {8, SIZE_MAX - 7},
	    {SIZE_MAX - 7, 8},
	    {0xffffffff, 0xffffffff},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = rd_sub(&r, bad[i][0], bad[i][1]);
		assert_false(rd_ok(&s));
		assert_int_equal(rd_left(&s), 0);
		assert_int_equal(rd_u8(&s), 0);
		assert_null(rd_ptr(&s, 0));
	}
	/* nested */
	s = rd_sub(&r, 2, 8);
	struct rd t = rd_sub(&s, 6, 2);
	assert_int_equal(rd_u16(&t), 0x0a09);
	t = rd_sub(&s, 6, 3);
	assert_false(rd_ok(&t));
}

static void t_wr_grow(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 0);
	assert_true(wr_ok(&w));
	assert_int_equal(w.len, 0);
	wr_u8(&w, 0x01);
	wr_u16(&w, 0x0302);
	wr_u32(&w, 0x07060504);
	wr_u64(&w, 0x0f0e0d0c0b0a0908ULL);
	wr_bytes(&w, seq + 15, 1);
	assert_true(wr_ok(&w));
	assert_int_equal(w.len, 16);
	assert_memory_equal(w.p, seq, 16);
	/* grow well past the initial capacity, many times */
	for (int i = 0; i < 10000; i++)
		wr_u32(&w, (uint32_t)i);
	assert_int_equal(w.len, 16 + 40000);
	struct rd r = rd_make(w.p, w.len);
	rd_skip(&r, 16);
	for (uint32_t i = 0; i < 10000; i++)
		assert_int_equal(rd_u32(&r), i);
	assert_true(rd_ok(&r));
	assert_int_equal(rd_left(&r), 0);
	wr_free(&w);
	assert_null(w.p);
	assert_int_equal(w.len, 0);
	wr_free(&w); /* twice is harmless */

	wr_init(&w, 3);
	assert_true(w.cap >= 3);
	wr_zero(&w, 5);
	static const uint8_t z[5];
	assert_memory_equal(w.p, z, 5);
	wr_bytes(&w, NULL, 0);
	wr_zero(&w, 0);
	assert_int_equal(w.len, 5);
	wr_free(&w);
}

static void t_wr_space_set(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 4);
	size_t off = wr_space(&w, 8);
	assert_int_equal(off, 0);
	wr_u16(&w, 0xbeef);
	wr_set_u16(&w, 0, 0x1234);
	wr_set_u32(&w, 2, 0x89abcdef);
	wr_set_u64(&w, 2, 0x0102030405060708ULL); /* overwrites bytes 2..9 */
	assert_int_equal(w.len, 10);
	assert_int_equal(get_le16(w.p), 0x1234);
	assert_true(get_le64(w.p + 2) == 0x0102030405060708ULL);
	/* out of range patches are ignored, not written past len */
	wr_set_u16(&w, 9, 0xffff);
	wr_set_u32(&w, 7, 0xffffffff);
	wr_set_u64(&w, 3, UINT64_MAX);
	wr_set_u64(&w, SIZE_MAX - 2, UINT64_MAX);
	assert_true(get_le64(w.p + 2) == 0x0102030405060708ULL);
	assert_true(wr_ok(&w));
	assert_ptr_equal(wr_at(&w, 4), w.p + 4);
	assert_ptr_equal(wr_at(&w, 10), w.p + 10);
	assert_null(wr_at(&w, 11));
	/* huge requests fail cleanly and stick */
	assert_int_equal(wr_space(&w, SIZE_MAX), (size_t)-1);
	assert_false(wr_ok(&w));
	assert_null(wr_at(&w, 0));
	wr_u8(&w, 1);
	assert_int_equal(w.len, 10);
	assert_false(wr_reserve(&w, 1));
	size_t n = 99;
	assert_null(wr_take(&w, &n)); /* an errored writer never hands out a partial message */
	assert_int_equal(n, 0);
	assert_true(wr_ok(&w));
	wr_free(&w);

	wr_init(&w, SIZE_MAX);
	assert_false(wr_ok(&w));
	wr_free(&w);
	wr_init(&w, 0);
	assert_int_equal(wr_space(&w, SIZE_MAX / 2 + 1), (size_t)-1);
	wr_free(&w);
}

static void t_wr_fixed(void **st)
{
	(void)st;
	uint8_t buf[8];
	memset(buf, 0xaa, sizeof(buf));
	struct wr w;
	wr_init_fixed(&w, buf, 6);
	wr_u32(&w, 0x04030201);
	wr_u16(&w, 0x0605);
	assert_true(wr_ok(&w));
	assert_int_equal(w.len, 6);
	assert_memory_equal(buf, seq, 6);
	wr_u8(&w, 7); /* one past the end: error, storage untouched */
	assert_false(wr_ok(&w));
	assert_int_equal(buf[6], 0xaa);
	assert_int_equal(w.len, 6);
	wr_free(&w); /* must not free caller storage (ASan would catch it) */

	wr_init_fixed(&w, buf, 8);
	wr_u64(&w, 1);
	assert_true(wr_ok(&w));
	wr_zero(&w, 1);
	assert_false(wr_ok(&w));

	/* fill exactly, then wr_take gives a heap copy the caller can free */
	wr_init_fixed(&w, buf, 4);
	wr_u32(&w, 0xdeadbeef);
	size_t n = 0;
	uint8_t *c = wr_take(&w, &n);
	assert_non_null(c);
	assert_ptr_not_equal(c, buf);
	assert_int_equal(n, 4);
	assert_int_equal(get_le32(c), 0xdeadbeef);
	free(c);
	assert_null(w.p);

	wr_init_fixed(&w, buf, 2);
	wr_align(&w, 4);
	assert_true(wr_ok(&w));
	wr_u8(&w, 1);
	wr_align(&w, 4); /* needs 3 more bytes, only 1 left */
	assert_false(wr_ok(&w));
	assert_null(wr_take(&w, &n));
	assert_int_equal(n, 0);

	wr_init_fixed(&w, NULL, 0);
	wr_bytes(&w, NULL, 0);
	assert_true(wr_ok(&w));
	wr_u8(&w, 0);
	assert_false(wr_ok(&w));
}

static void t_wr_align(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 0);
	wr_align(&w, 8); /* at 0: nothing */
	assert_int_equal(w.len, 0);
	for (size_t a = 1; a <= 16; a++) {
		for (size_t start = 0; start < 20; start++) {
			w.len = 0;
			wr_zero(&w, start);
			if (w.len)
				memset(w.p, 0xee, w.len);
			wr_align(&w, a);
			size_t want = (start + a - 1) / a * a;
			assert_int_equal(w.len, want);
			for (size_t i = start; i < want; i++)
				assert_int_equal(w.p[i], 0);
		}
	}
	w.len = 3;
	wr_align(&w, 0); /* 0 and 1 mean no alignment */
	wr_align(&w, 1);
	assert_int_equal(w.len, 3);
	assert_true(wr_ok(&w));
	wr_free(&w);
}

static void t_wr_take(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 0);
	size_t n = 1;
	assert_null(wr_take(&w, &n)); /* nothing allocated yet */
	assert_int_equal(n, 0);
	wr_bytes(&w, seq, 16);
	uint8_t *p = wr_take(&w, &n);
	assert_int_equal(n, 16);
	assert_memory_equal(p, seq, 16);
	assert_null(w.p);
	assert_int_equal(w.len, 0);
	assert_int_equal(w.cap, 0);
	/* the emptied writer is reusable */
	wr_u8(&w, 5);
	assert_true(wr_ok(&w));
	assert_int_equal(w.len, 1);
	uint8_t *q = wr_take(&w, NULL);
	assert_int_equal(q[0], 5);
	free(p);
	free(q);
}

static void t_le_helpers(void **st)
{
	(void)st;
	uint8_t b[8];
	put_le16(b, 0xa1b2);
	assert_int_equal(b[0], 0xb2);
	assert_int_equal(get_le16(b), 0xa1b2);
	put_le32(b, 0xa1b2c3d4);
	assert_int_equal(b[0], 0xd4);
	assert_int_equal(get_le32(b), 0xa1b2c3d4);
	put_le64(b, 0x0102030405060708ULL);
	assert_int_equal(b[0], 0x08);
	assert_int_equal(b[7], 0x01);
	assert_true(get_le64(b) == 0x0102030405060708ULL);
	put_be32(b, 0xa1b2c3d4);
	assert_int_equal(b[0], 0xa1);
	struct rd r = rd_make(b, 4);
	assert_int_equal(rd_be32(&r), 0xa1b2c3d4);
	/* random round trip through writer and reader */
	srand(12345);
	struct wr w;
	wr_init(&w, 0);
	uint64_t vals[200];
	for (int i = 0; i < 200; i++) {
		vals[i] = ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand();
		switch (i % 4) {
		case 0:
			wr_u8(&w, (uint8_t)vals[i]);
			break;
		case 1:
			wr_u16(&w, (uint16_t)vals[i]);
			break;
		case 2:
			wr_u32(&w, (uint32_t)vals[i]);
			break;
		case 3:
			wr_u64(&w, vals[i]);
			break;
		}
	}
	r = rd_make(w.p, w.len);
	for (int i = 0; i < 200; i++) {
		switch (i % 4) {
		case 0:
			assert_int_equal(rd_u8(&r), (uint8_t)vals[i]);
			break;
		case 1:
			assert_int_equal(rd_u16(&r), (uint16_t)vals[i]);
			break;
		case 2:
			assert_int_equal(rd_u32(&r), (uint32_t)vals[i]);
			break;
		case 3:
			assert_true(rd_u64(&r) == vals[i]);
			break;
		}
	}
	assert_true(rd_ok(&r));
	assert_int_equal(rd_left(&r), 0);
	wr_free(&w);
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_values),	  cmocka_unit_test(t_boundaries),
	    cmocka_unit_test(t_sticky),	  cmocka_unit_test(t_ptr_skip_seek),
	    cmocka_unit_test(t_range_ok), cmocka_unit_test(t_sub),
	    cmocka_unit_test(t_wr_grow),  cmocka_unit_test(t_wr_space_set),
	    cmocka_unit_test(t_wr_fixed), cmocka_unit_test(t_wr_align),
	    cmocka_unit_test(t_wr_take),  cmocka_unit_test(t_le_helpers),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
