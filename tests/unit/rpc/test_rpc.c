/* DCE/RPC layer: bind negotiation, srvsvc calls decoded with the same NDR helpers, request and
 * response fragmentation, faults, and malformed streams at every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/ndr.h"
#include "rpc/rpc.h"

static const uint8_t srvsvc_uuid[16] = {0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
					0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88};
static const uint8_t ndr_uuid[16] = {0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
				     0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60};
static const uint8_t ndr64_uuid[16] = {0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49,
				       0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36};

static const struct rpc_share_info shares[] = {
    {"test", "a test share", "/srv/test", 0, true},
    {"hidden", "not listed", "/srv/hidden", 0, false},
    {"IPC$", "IPC Service", "", 3u | 0x80000000u, true},
};
static const struct rpc_env env = {"SHOAL", "shoal server", "WORKGROUP", "tuser", shares,
				   3,	    0x0311};

static void hdr(struct wr *w, uint8_t ptype, uint8_t flags, uint32_t call_id)
{
	wr_u8(w, 5);
	wr_u8(w, 0);
	wr_u8(w, ptype);
	wr_u8(w, flags);
	wr_u32(w, 0x10);
	wr_u16(w, 0);
	wr_u16(w, 0);
	wr_u32(w, call_id);
}

static void bind_pdu(struct wr *w, const uint8_t *abs, uint16_t major, const uint8_t *ts,
		     uint16_t max_xmit)
{
	size_t s = w->len;
	hdr(w, 11, 3, 1);
	wr_u16(w, max_xmit);
	wr_u16(w, max_xmit);
	wr_u32(w, 0);
	wr_u8(w, 1);
	wr_zero(w, 3);
	wr_u16(w, 0);
	wr_u8(w, 1);
	wr_u8(w, 0);
	wr_bytes(w, abs, 16);
	wr_u16(w, major);
	wr_u16(w, 0);
	wr_bytes(w, ts, 16);
	wr_u32(w, 2);
	wr_set_u16(w, s + 8, (uint16_t)(w->len - s));
}

static void request_pdu(struct wr *w, uint8_t flags, uint16_t opnum, const uint8_t *stub,
			size_t len)
{
	size_t s = w->len;
	hdr(w, 0, flags, 2);
	wr_u32(w, (uint32_t)len);
	wr_u16(w, 0);
	wr_u16(w, opnum);
	wr_bytes(w, stub, len);
	wr_set_u16(w, s + 8, (uint16_t)(w->len - s));
}

/* Reads every pending PDU and concatenates the stubs of RESPONSE PDUs; returns the ptype of
 * the last PDU seen. */
static int drain(struct rpc_pipe *p, struct wr *stub, int *npdus)
{
	uint8_t buf[65536];
	bool more;
	size_t n = rpc_pipe_read(p, buf, sizeof(buf), &more);
	assert_false(more);
	size_t off = 0;
	int last = -1;
	*npdus = 0;
	while (off + 16 <= n) {
		uint16_t flen = get_le16(buf + off + 8);
		assert_true(flen >= 16 && off + flen <= n);
		last = buf[off + 2];
		if (last == 2)
			wr_bytes(stub, buf + off + 24, flen - 24u);
		off += flen;
		(*npdus)++;
	}
	assert_int_equal(off, n);
	return last;
}

static struct rpc_pipe *bound_pipe(uint16_t max_xmit)
{
	struct rpc_pipe *p = rpc_pipe_open("\\PIPE\\srvsvc", &env);
	assert_non_null(p);
	struct wr w;
	wr_init(&w, 0);
	bind_pdu(&w, srvsvc_uuid, 3, ndr_uuid, max_xmit);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	uint8_t buf[512];
	bool more;
	size_t n = rpc_pipe_read(p, buf, sizeof(buf), &more);
	assert_true(n > 24);
	assert_int_equal(buf[2], 12); /* BIND_ACK */
	/* the result list ends the PDU: the last 24 bytes are one accepted context */
	assert_int_equal(get_le16(buf + n - 24), 0);
	assert_memory_equal(buf + n - 20, ndr_uuid, 16);
	wr_free(&w);
	return p;
}

static void enum_stub(struct wr *w, uint32_t level)
{
	struct ndr_out o = {.w = w};
	ndr_ptr(&o, true);
	ndr_wstring(&o, "\\\\127.0.0.1");
	ndr_u32(&o, level);
	ndr_u32(&o, level);
	ndr_ptr(&o, true);
	ndr_u32(&o, 0);
	ndr_ptr(&o, false);
	ndr_u32(&o, 0xFFFFFFFF);
	ndr_ptr(&o, true);
	ndr_u32(&o, 0);
}

static void check_enum_level1(const uint8_t *stub, size_t len)
{
	struct rd r = rd_make(stub, len);
	assert_int_equal(ndr_rd_u32(&r), 1);
	assert_int_equal(ndr_rd_u32(&r), 1);
	assert_int_not_equal(ndr_rd_u32(&r), 0); /* container */
	uint32_t n = ndr_rd_u32(&r);
	assert_int_equal(n, 2); /* "hidden" is not browseable */
	assert_int_not_equal(ndr_rd_u32(&r), 0);
	assert_int_equal(ndr_rd_u32(&r), 2);
	uint32_t types[2];
	for (int i = 0; i < 2; i++) {
		ndr_rd_u32(&r);
		types[i] = ndr_rd_u32(&r);
		ndr_rd_u32(&r);
	}
	assert_int_equal(types[0], 0);
	assert_int_equal(types[1], 0x80000003u);
	char *name = NULL, *comment = NULL;
	ndr_rd_wstring(&r, &name);
	ndr_rd_wstring(&r, &comment);
	assert_true(rd_ok(&r));
	assert_string_equal(name, "test");
	assert_string_equal(comment, "a test share");
	free(name);
	free(comment);
	ndr_rd_wstring(&r, &name);
	ndr_rd_wstring(&r, &comment);
	assert_string_equal(name, "IPC$");
	free(name);
	free(comment);
	assert_int_equal(ndr_rd_u32(&r), 2); /* TotalEntries */
	ndr_rd_u32(&r);
	ndr_rd_u32(&r);
	assert_int_equal(ndr_rd_u32(&r), 0); /* WERR_OK */
	assert_true(rd_ok(&r));
	assert_int_equal(rd_left(&r), 0);
}

static void t_share_enum(void **st)
{
	(void)st;
	struct rpc_pipe *p = bound_pipe(4280);
	struct wr s, w, out;
	wr_init(&s, 0);
	wr_init(&w, 0);
	wr_init(&out, 0);
	enum_stub(&s, 1);
	request_pdu(&w, 3, 15, s.p, s.len);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	int npdus;
	assert_int_equal(drain(p, &out, &npdus), 2);
	assert_int_equal(npdus, 1);
	check_enum_level1(out.p, out.len);
	wr_free(&s);
	wr_free(&w);
	wr_free(&out);
	rpc_pipe_close(p);
}

/* A request in two fragments, fed to the pipe one byte at a time. */
static void t_fragments(void **st)
{
	(void)st;
	struct rpc_pipe *p = bound_pipe(1024);
	struct wr s, w, out;
	wr_init(&s, 0);
	wr_init(&w, 0);
	wr_init(&out, 0);
	enum_stub(&s, 1);
	size_t half = s.len / 2;
	request_pdu(&w, 1, 15, s.p, half);
	request_pdu(&w, 2, 15, s.p + half, s.len - half);
	for (size_t i = 0; i < w.len; i++)
		assert_int_equal(rpc_pipe_write(p, w.p + i, 1), 0);
	int npdus;
	assert_int_equal(drain(p, &out, &npdus), 2);
	check_enum_level1(out.p, out.len);
	wr_free(&s);
	wr_free(&w);
	wr_free(&out);
	rpc_pipe_close(p);
}

static void t_bind_rejections(void **st)
{
	(void)st;
	struct rpc_pipe *p = rpc_pipe_open("srvsvc", &env);
	struct wr w;
	wr_init(&w, 0);
	bind_pdu(&w, srvsvc_uuid, 3, ndr64_uuid, 4280); /* NDR64 only */
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	uint8_t buf[512];
	bool more;
	size_t n = rpc_pipe_read(p, buf, sizeof(buf), &more);
	assert_int_equal(get_le16(buf + n - 24), 2); /* provider rejection */
	assert_int_equal(get_le16(buf + n - 22), 2); /* transfer syntaxes not supported */
	w.len = 0;
	uint8_t other[16] = {1, 2, 3};
	bind_pdu(&w, other, 1, ndr_uuid, 4280);
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	n = rpc_pipe_read(p, buf, sizeof(buf), &more);
	assert_int_equal(get_le16(buf + n - 22), 1); /* abstract syntax not supported */
	wr_free(&w);
	rpc_pipe_close(p);
	assert_null(rpc_pipe_open("nosuchpipe", &env));
	assert_false(rpc_pipe_known("lsarpc"));
	assert_true(rpc_pipe_known("\\PIPE\\SRVSVC"));
}

static void t_faults(void **st)
{
	(void)st;
	struct rpc_pipe *p = bound_pipe(4280);
	struct wr w, out;
	wr_init(&w, 0);
	wr_init(&out, 0);
	uint8_t stub[4] = {0};
	request_pdu(&w, 3, 99, stub, sizeof(stub));
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	uint8_t buf[256];
	bool more;
	size_t n = rpc_pipe_read(p, buf, sizeof(buf), &more);
	assert_int_equal(buf[2], 3);			   /* FAULT */
	assert_int_equal(get_le32(buf + 24), 0x1c010002u); /* nca_s_op_rng_error */
	w.len = 0;
	request_pdu(&w, 3, 15, stub, sizeof(stub)); /* truncated NDR */
	assert_int_equal(rpc_pipe_write(p, w.p, w.len), 0);
	n = rpc_pipe_read(p, buf, sizeof(buf), &more);
	assert_true(n >= 32);
	assert_int_equal(buf[2], 3);
	wr_free(&w);
	wr_free(&out);
	rpc_pipe_close(p);
}

/* Every prefix and every single-byte corruption of a bind + request stream: no crash, and
 * either output or a clean error. */
static void t_garbage(void **st)
{
	(void)st;
	struct wr s, w;
	wr_init(&s, 0);
	wr_init(&w, 0);
	bind_pdu(&w, srvsvc_uuid, 3, ndr_uuid, 4280);
	enum_stub(&s, 2);
	request_pdu(&w, 3, 15, s.p, s.len);
	uint8_t buf[65536];
	bool more;
	for (size_t cut = 0; cut <= w.len; cut++) {
		struct rpc_pipe *p = rpc_pipe_open("srvsvc", &env);
		int rc = rpc_pipe_write(p, w.p, cut);
		assert_true(rc == 0 || rc == -EINVAL);
		rpc_pipe_read(p, buf, sizeof(buf), &more);
		rpc_pipe_close(p);
	}
	srand(7);
	for (int iter = 0; iter < 4000; iter++) {
		uint8_t *m = malloc(w.len);
		memcpy(m, w.p, w.len);
		m[(size_t)rand() % w.len] = (uint8_t)rand();
		struct rpc_pipe *p = rpc_pipe_open("srvsvc", &env);
		int rc = rpc_pipe_write(p, m, w.len);
		assert_true(rc == 0 || rc == -EINVAL);
		while (rpc_pipe_read(p, buf, sizeof(buf), &more) > 0)
			;
		rpc_pipe_close(p);
		free(m);
	}
	wr_free(&s);
	wr_free(&w);
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_share_enum),	 cmocka_unit_test(t_fragments),
	    cmocka_unit_test(t_bind_rejections), cmocka_unit_test(t_faults),
	    cmocka_unit_test(t_garbage),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
