/* DCE/RPC over a named pipe (src/rpc/rpc.h, C706 12.6, MS-RPCE 2.2.2): a valid BIND to srvsvc,
 * then arbitrary bytes as the client's stream (REQUEST fragments, ALTER_CONTEXT, AUTH3, more
 * binds, and the NDR stubs of srvsvc's operations). An even-sized input is written in two
 * halves, so that PDUs split over WRITEs are reassembled. All output is drained in small
 * reads, whose "more" flag must agree with rpc_pipe_pending. */
#include <string.h>

#include "fuzz.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "rpc/rpc.h"

/* srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 and NDR 8a885d04-1ceb-11c9-9fe8-08002b104860
   v2, in their wire form */
static const uint8_t srvsvc_uuid[16] = {0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
					0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88};
static const uint8_t ndr_uuid[16] = {0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
				     0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60};

static const struct rpc_share_info shares[] = {
	{"test", "a test share", "/srv/test", 0, true},
	{"hidden", "not listed", "/srv/hidden", 0, false},
	{"IPC$", "IPC Service", "", 3u | 0x80000000u, true},
};
static const struct rpc_env env = {"SHOAL", "shoal server", "WORKGROUP", "fuzz", shares, 3,
				   0x0311};

/* BIND (C706 12.6.4.3) with one presentation context: srvsvc over NDR. */
static void bind_pdu(struct wr *w)
{
	static const uint8_t head[] = {5, 0, 11, 3, 0x10, 0, 0, 0};
	wr_bytes(w, head, sizeof(head));
	wr_u16(w, 72); /* frag_length */
	wr_u16(w, 0);  /* auth_length */
	wr_u32(w, 1);  /* call_id */
	wr_u16(w, 4280);
	wr_u16(w, 4280);
	wr_u32(w, 0); /* assoc_group_id */
	wr_u8(w, 1);  /* n_context_elem */
	wr_zero(w, 3);
	wr_u16(w, 0); /* p_cont_id */
	wr_u8(w, 1);  /* n_transfer_syn */
	wr_u8(w, 0);
	wr_bytes(w, srvsvc_uuid, 16);
	wr_u16(w, 3);
	wr_u16(w, 0);
	wr_bytes(w, ndr_uuid, 16);
	wr_u32(w, 2);
}

static void drain(struct rpc_pipe *p)
{
	uint8_t buf[1024];
	bool more = true;
	while (more) {
		size_t before = rpc_pipe_pending(p);
		size_t n = rpc_pipe_read(p, buf, sizeof(buf), &more);
		FUZZ_CHECK(n <= sizeof(buf) && n <= before);
		FUZZ_CHECK(rpc_pipe_pending(p) == before - n);
		FUZZ_CHECK(more == (rpc_pipe_pending(p) > 0));
		if (n == 0)
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1);
	struct rpc_pipe *p = rpc_pipe_open("\\PIPE\\srvsvc", &env);
	if (!p)
		return 0;
	struct wr w;
	wr_init(&w, 128);
	bind_pdu(&w);
	FUZZ_CHECK(wr_ok(&w) && rpc_pipe_write(p, w.p, w.len) == 0);
	wr_free(&w);
	FUZZ_CHECK(rpc_pipe_pending(p) > 0); /* the BIND_ACK */
	drain(p);
	size_t first = size % 2 ? size : size / 2;
	if (rpc_pipe_write(p, data, first) == 0 && first < size)
		(void)rpc_pipe_write(p, data + first, size - first);
	drain(p);
	rpc_pipe_close(p);
	return 0;
}
