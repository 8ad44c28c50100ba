/* srvsvc NetrShareEnum (MS-SRVS 3.1.4.8, opnum 15) at level 1, NDR 2.0 encoded (C706 14). */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"
#include "lib/utf16.h"

#define OPNUM_NETR_SHARE_ENUM 15
#define MAX_SHARES 100000

static void align4(struct wr *w)
{
	wr_align(w, 4);
}

/* A [string] wchar_t* body: conformant varying array with the terminating NUL (C706 14.3.4). */
static void put_string(struct wr *w, const char *s)
{
	long n = utf16_len(s);
	if (n < 0) {
		w->err = true;
		return;
	}
	uint32_t chars = (uint32_t)(n / 2 + 1);
	wr_u32(w, chars);
	wr_u32(w, 0);
	wr_u32(w, chars);
	wr_utf16(w, s);
	wr_u16(w, 0);
	align4(w);
}

size_t smbc_srvsvc_share_enum_encode(struct wr *w, const char *server)
{
	wr_u32(w, 0x00020000); /* ServerName: unique pointer */
	put_string(w, server);
	wr_u32(w, 1);	       /* InfoStruct->Level */
	wr_u32(w, 1);	       /* union discriminant */
	wr_u32(w, 0x00020004); /* Level1 container pointer */
	wr_u32(w, 0);	       /* EntriesRead */
	wr_u32(w, 0);	       /* Buffer: NULL */
	wr_u32(w, 0xFFFFFFFF); /* PreferedMaximumLength: everything */
	wr_u32(w, 0x00020008); /* ResumeHandle pointer */
	wr_u32(w, 0);
	return w->len;
}

static void rd_align4(struct rd *r)
{
	rd_skip(r, (4 - r->off % 4) % 4);
}

static uint32_t get_string(struct rd *r, char **out)
{
	uint32_t max = rd_u32(r), off = rd_u32(r), actual = rd_u32(r);
	if (!rd_ok(r) || off > max || actual > max - off || actual > rd_left(r) / 2)
		return STATUS_INVALID_NETWORK_RESPONSE;
	const uint8_t *p = rd_ptr(r, (size_t)actual * 2);
	rd_align4(r);
	size_t n = (size_t)actual * 2;
	while (n >= 2 && p[n - 2] == 0 && p[n - 1] == 0)
		n -= 2;
	if (!rd_ok(r) || utf16le_to_utf8(p, n, out))
		return STATUS_INVALID_NETWORK_RESPONSE;
	return STATUS_SUCCESS;
}

static uint32_t parse_entries(struct rd *r, uint32_t n, struct smbc_share *sh)
{
	uint32_t *names = calloc(n ? n : 1, 2 * sizeof(uint32_t));
	if (!names)
		return STATUS_NO_MEMORY;
	for (uint32_t i = 0; i < n; i++) {
		names[2 * i] = rd_u32(r);
		sh[i].type = rd_u32(r);
		names[2 * i + 1] = rd_u32(r);
	}
	uint32_t st = rd_ok(r) ? STATUS_SUCCESS : STATUS_INVALID_NETWORK_RESPONSE;
	for (uint32_t i = 0; !st && i < n; i++) {
		st = names[2 * i] ? get_string(r, &sh[i].name) : STATUS_SUCCESS;
		if (!st)
			st = names[2 * i + 1] ? get_string(r, &sh[i].comment) : STATUS_SUCCESS;
		if (!st && !sh[i].name)
			sh[i].name = strdup("");
		if (!st && !sh[i].comment)
			sh[i].comment = strdup("");
		if (!st && (!sh[i].name || !sh[i].comment))
			st = STATUS_NO_MEMORY;
	}
	free(names);
	return st;
}

uint32_t smbc_srvsvc_share_enum_parse(const uint8_t *p, size_t len, struct smbc_share **out,
				      size_t *count)
{
	struct rd r = rd_make(p, len);
	*out = NULL;
	*count = 0;
	uint32_t level = rd_u32(&r), disc = rd_u32(&r), cptr = rd_u32(&r);
	if (!rd_ok(&r) || level != 1 || disc != 1)
		return STATUS_INVALID_NETWORK_RESPONSE;
	uint32_t n = 0;
	struct smbc_share *sh = NULL;
	if (cptr) {
		n = rd_u32(&r);
		uint32_t bptr = rd_u32(&r);
		if (bptr) {
			uint32_t max = rd_u32(&r);
			if (!rd_ok(&r) || max != n || n > MAX_SHARES || n > rd_left(&r) / 12)
				return STATUS_INVALID_NETWORK_RESPONSE;
			sh = calloc(n ? n : 1, sizeof(*sh));
			if (!sh)
				return STATUS_NO_MEMORY;
			uint32_t st = parse_entries(&r, n, sh);
			if (st) {
				smbc_shares_free(sh, n);
				return st;
			}
		} else if (n) {
			return STATUS_INVALID_NETWORK_RESPONSE;
		}
	}
	rd_u32(&r); /* TotalEntries */
	if (rd_u32(&r))
		rd_u32(&r); /* resume handle */
	uint32_t werr = rd_u32(&r);
	if (!rd_ok(&r) || werr) {
		smbc_shares_free(sh, n);
		return rd_ok(&r) ? STATUS_RPC_NT_CALL_FAILED : STATUS_INVALID_NETWORK_RESPONSE;
	}
	*out = sh;
	*count = n;
	return STATUS_SUCCESS;
}

void smbc_shares_free(struct smbc_share *s, size_t count)
{
	for (size_t i = 0; s && i < count; i++) {
		free(s[i].name);
		free(s[i].comment);
	}
	free(s);
}

uint32_t smbc_net_share_enum(struct smbc_conn *c, struct smbc_share **out, size_t *count)
{
	struct smbc_tree *ipc = NULL;
	struct smbc_file *pipe = NULL;
	struct smbc_rpc *rpc = NULL;
	uint8_t *resp = NULL;
	size_t rlen = 0;
	uint16_t result;
	struct wr w;
	*out = NULL;
	*count = 0;
	wr_init(&w, 128);
	char *server = malloc(strlen(c->host) + 3);
	if (server) {
		strcpy(server, "\\\\");
		strcat(server, c->host);
		smbc_srvsvc_share_enum_encode(&w, server);
		free(server);
	}
	uint32_t st = server && wr_ok(&w) ? smbc_tree_connect(c, "IPC$", &ipc) : STATUS_NO_MEMORY;
	if (!st)
		st = smbc_pipe_open(ipc, "srvsvc", &pipe);
	if (!st) {
		st = smbc_rpc_bind(pipe, smbc_rpc_iface_find("srvsvc"), &rpc, &result);
		if (st)
			smbc_close(pipe);
	}
	if (!st)
		st = smbc_rpc_call(rpc, OPNUM_NETR_SHARE_ENUM, w.p, w.len, &resp, &rlen);
	if (!st)
		st = smbc_srvsvc_share_enum_parse(resp, rlen, out, count);
	free(resp);
	wr_free(&w);
	smbc_rpc_free(rpc);
	if (ipc)
		smbc_tree_disconnect(ipc);
	return st;
}
