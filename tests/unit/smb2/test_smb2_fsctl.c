/* FSCTL input decoders (smb2_fsctl_parse.c): copychunk limits of MS-SMB2 3.3.5.15.6, sparse,
 * zero-data and allocated-range buffers, and every truncation of each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smb2/smb2.h"
#include "smb2/smb2_fsctl.h"

/* Builds a SRV_COPYCHUNK_COPY with n chunks of length len each into buf; returns its size. */
static size_t build_cc(uint8_t *buf, uint32_t n, uint32_t count_field, uint32_t len)
{
	memset(buf, 0, 32);
	for (int i = 0; i < 24; i++)
		buf[i] = (uint8_t)(i + 1);
	put_le32(buf + 24, count_field);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *c = buf + 32 + 24 * i;
		put_le64(c, (uint64_t)i * 4096);
		put_le64(c + 8, (uint64_t)i * 8192 + 7);
		put_le32(c + 16, len);
		put_le32(c + 20, 0);
	}
	return 32 + 24 * (size_t)n;
}

static void test_copychunk_ok(void **state)
{
	(void)state;
	static uint8_t buf[32 + 24 * 300];
	static struct fsctl_copychunk cc;
	bool limits = true;
	size_t n = build_cc(buf, 3, 3, 4096);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits), STATUS_SUCCESS);
	assert_false(limits);
	assert_int_equal(cc.count, 3);
	assert_int_equal(cc.key[0], 1);
	assert_int_equal(cc.key[23], 24);
	assert_int_equal(cc.chunks[2].src_off, 8192);
	assert_int_equal(cc.chunks[2].dst_off, 16391);
	assert_int_equal(cc.chunks[2].len, 4096);
	/* zero chunks is a valid (empty) copy */
	n = build_cc(buf, 0, 0, 0);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits), STATUS_SUCCESS);
	assert_int_equal(cc.count, 0);
	/* the maximum of everything at once */
	n = build_cc(buf, 16, 16, SMB2_COPYCHUNK_MAX_CHUNK_LEN);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits), STATUS_SUCCESS);
}

static void test_copychunk_limits(void **state)
{
	(void)state;
	static uint8_t buf[32 + 24 * 300];
	static struct fsctl_copychunk cc;
	bool limits;
	/* too many chunks */
	size_t n = build_cc(buf, 257, 257, 1);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits),
			 STATUS_INVALID_PARAMETER);
	assert_true(limits);
	/* a chunk over 1 MiB, and one of length 0 */
	n = build_cc(buf, 1, 1, SMB2_COPYCHUNK_MAX_CHUNK_LEN + 1);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits),
			 STATUS_INVALID_PARAMETER);
	assert_true(limits);
	n = build_cc(buf, 1, 1, 0);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits),
			 STATUS_INVALID_PARAMETER);
	assert_true(limits);
	/* total over 16 MiB */
	n = build_cc(buf, 17, 17, SMB2_COPYCHUNK_MAX_CHUNK_LEN);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, n), &cc, &limits),
			 STATUS_INVALID_PARAMETER);
	assert_true(limits);
}

static void test_copychunk_truncated(void **state)
{
	(void)state;
	static uint8_t buf[32 + 24 * 4];
	static struct fsctl_copychunk cc;
	bool limits;
	size_t full = build_cc(buf, 4, 4, 100);
	for (size_t len = 0; len < full; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		assert_int_equal(fsctl_copychunk_parse(rd_make(copy, len), &cc, &limits),
				 STATUS_INVALID_PARAMETER);
		assert_false(limits);
		free(copy);
	}
	/* ChunkCount larger than the entries present */
	full = build_cc(buf, 2, 4, 100);
	assert_int_equal(fsctl_copychunk_parse(rd_make(buf, full), &cc, &limits),
			 STATUS_INVALID_PARAMETER);
}

static void test_set_sparse(void **state)
{
	(void)state;
	uint8_t on = 0xff, off = 0, big[100] = {1};
	assert_true(fsctl_set_sparse_parse(rd_make(NULL, 0)));
	assert_true(fsctl_set_sparse_parse(rd_make(&on, 1)));
	assert_false(fsctl_set_sparse_parse(rd_make(&off, 1)));
	assert_true(fsctl_set_sparse_parse(rd_make(big, sizeof(big))));
	big[0] = 0;
	assert_false(fsctl_set_sparse_parse(rd_make(big, sizeof(big))));
}

static void test_zero_data(void **state)
{
	(void)state;
	uint8_t b[16];
	uint64_t o, e;
	put_le64(b, 4096);
	put_le64(b + 8, 8192);
	assert_int_equal(fsctl_zero_data_parse(rd_make(b, 16), &o, &e), STATUS_SUCCESS);
	assert_int_equal(o, 4096);
	assert_int_equal(e, 8192);
	put_le64(b + 8, 4096); /* empty range: valid */
	assert_int_equal(fsctl_zero_data_parse(rd_make(b, 16), &o, &e), STATUS_SUCCESS);
	put_le64(b + 8, 4095); /* offset past beyond-final-zero */
	assert_int_equal(fsctl_zero_data_parse(rd_make(b, 16), &o, &e), STATUS_INVALID_PARAMETER);
	put_le64(b, UINT64_MAX); /* negative */
	put_le64(b + 8, UINT64_MAX);
	assert_int_equal(fsctl_zero_data_parse(rd_make(b, 16), &o, &e), STATUS_INVALID_PARAMETER);
	for (size_t len = 0; len < 16; len++)
		assert_int_equal(fsctl_zero_data_parse(rd_make(b, len), &o, &e),
				 STATUS_INVALID_PARAMETER);
}

static void test_qar(void **state)
{
	(void)state;
	uint8_t b[32];
	uint64_t o, l;
	put_le64(b, 512);
	put_le64(b + 8, 1024);
	assert_int_equal(fsctl_qar_parse(rd_make(b, 16), &o, &l), STATUS_SUCCESS);
	assert_int_equal(o, 512);
	assert_int_equal(l, 1024);
	/* a second range after the first is ignored */
	memcpy(b + 16, b, 16);
	assert_int_equal(fsctl_qar_parse(rd_make(b, 32), &o, &l), STATUS_SUCCESS);
	/* offset + length wrapping (smbtorture sparse_qar_overflow), negative length */
	put_le64(b + 8, UINT64_MAX);
	assert_int_equal(fsctl_qar_parse(rd_make(b, 16), &o, &l), STATUS_INVALID_PARAMETER);
	put_le64(b + 8, (uint64_t)INT64_MAX);
	assert_int_equal(fsctl_qar_parse(rd_make(b, 16), &o, &l), STATUS_INVALID_PARAMETER);
	put_le64(b, 0);
	assert_int_equal(fsctl_qar_parse(rd_make(b, 16), &o, &l), STATUS_SUCCESS);
	for (size_t len = 0; len < 16; len++)
		assert_int_equal(fsctl_qar_parse(rd_make(b, len), &o, &l),
				 STATUS_INVALID_PARAMETER);
}

/* NETWORK_INTERFACE_INFO list of this machine: at least loopback, 152-byte entries chained by
 * Next, never truncated, refused on a real FileId. */
static void test_netif(void **state)
{
	(void)state;
	struct wr w;
	wr_init(&w, 0);
	assert_int_equal(smb2_fsctl_netif(1, 1, 65535, &w), STATUS_INVALID_PARAMETER);
	assert_int_equal(smb2_fsctl_netif(UINT64_MAX, UINT64_MAX, 1, &w), STATUS_BUFFER_TOO_SMALL);
	assert_int_equal(w.len, 0);
	assert_int_equal(smb2_fsctl_netif(UINT64_MAX, UINT64_MAX, 65535, &w), STATUS_SUCCESS);
	assert_true(w.len >= 152 && w.len % 152 == 0);
	size_t off = 0, n = 1;
	bool v4_loopback = false;
	for (;;) {
		uint16_t fam = get_le16(w.p + off + 24);
		assert_true(fam == 2 || fam == 0x17);
		if (fam == 2 && w.p[off + 28] == 127)
			v4_loopback = true;
		uint32_t next = get_le32(w.p + off);
		if (!next)
			break;
		assert_int_equal(next, 152);
		off += next;
		n++;
	}
	assert_int_equal(n * 152, w.len);
	assert_true(v4_loopback);
	wr_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copychunk_ok),
	    cmocka_unit_test(test_copychunk_limits),
	    cmocka_unit_test(test_copychunk_truncated),
	    cmocka_unit_test(test_set_sparse),
	    cmocka_unit_test(test_zero_data),
	    cmocka_unit_test(test_qar),
	    cmocka_unit_test(test_netif),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
