/* A srvsvc pipe on stdin/stdout, for cross-checking against an independent DCE/RPC + NDR
 * implementation (impacket, tests/unit/rpc/impacket_srvsvc.py).
 *
 * Framing (native to this harness only): each request is a 4-byte little-endian length and
 * that many bytes, handed to rpc_pipe_write(); each answer is rpc_pipe_write()'s return value
 * (4 bytes LE, two's complement), a 4-byte LE length and all pending output. A length of
 * 0xFFFFFFFF ends the session. argv[1], if given, adds that many extra browseable shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "rpc/rpc.h"

static int read_all(void *p, size_t n)
{
	return fread(p, 1, n, stdin) == n ? 0 : -1;
}

static void put32(uint32_t v)
{
	uint8_t b[4];
	put_le32(b, v);
	fwrite(b, 1, 4, stdout);
}

static int serve(struct rpc_pipe *p)
{
	for (;;) {
		uint8_t hdr[4];
		if (read_all(hdr, 4) < 0)
			return 1;
		uint32_t n = get_le32(hdr);
		if (n == 0xFFFFFFFFu)
			return 0;
		uint8_t *buf = malloc(n ? n : 1);
		if (!buf || read_all(buf, n) < 0) {
			free(buf);
			return 1;
		}
		int rc = rpc_pipe_write(p, buf, n);
		free(buf);
		size_t pending = rpc_pipe_pending(p);
		uint8_t *out = malloc(pending ? pending : 1);
		if (!out)
			return 1;
		bool more;
		size_t got = rpc_pipe_read(p, out, pending, &more);
		put32((uint32_t)rc);
		put32((uint32_t)got);
		fwrite(out, 1, got, stdout);
		fflush(stdout);
		free(out);
	}
}

int main(int argc, char **argv)
{
	int extra = argc > 1 ? atoi(argv[1]) : 0;
	if (extra < 0 || extra > 10000)
		return 2;
	struct rpc_share_info *sh = calloc((size_t)extra + 3, sizeof(*sh));
	char(*names)[32] = calloc((size_t)extra + 1, sizeof(*names));
	if (!sh || !names)
		return 1;
	sh[0] = (struct rpc_share_info){"test", "a test share", "/srv/test", 0, true};
	sh[1] = (struct rpc_share_info){"hidden", "not listed", "/srv/hidden", 0, false};
	sh[2] = (struct rpc_share_info){"IPC$", "IPC Service", "", 0x80000003u, true};
	for (int i = 0; i < extra; i++) {
		snprintf(names[i], sizeof(names[i]), "share%04d", i);
		sh[3 + i] =
		    (struct rpc_share_info){names[i], "\xc3\xa9t\xc3\xa9", "/srv/x", 0, true};
	}
	struct rpc_env env = {"SHOAL", "shoal server", "WORKGROUP", "tuser", sh, extra + 3, 0x0311};
	struct rpc_pipe *p = rpc_pipe_open("\\PIPE\\srvsvc", &env);
	if (!p)
		return 1;
	int rc = serve(p);
	rpc_pipe_close(p);
	free(sh);
	free(names);
	return rc;
}
