/* srvsvc NetrShareEnum (MS-SRVS 3.1.4.8, opnum 15) at level 1, NDR 2.0 encoded (C706 14). */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"
#include "lib/utf16.h"
#include "rpc/ndr.h"

#define OPNUM_NETR_SHARE_ENUM 15
#define MAX_SHARES 100000

size_t smbc_srvsvc_share_enum_encode(struct wr *w, const char *server)
{
	struct ndr_out o = {.w = w};
	/* ndr_wstring would send "" for text that is not UTF-8: refuse it instead */
	if (utf16_len(server) < 0) {
		w->err = true;
		return w->len;
	}
	ndr_ptr(&o, true); /* ServerName: unique pointer */
	ndr_wstring(&o, server);
	ndr_u32(&o, 1);		 /* InfoStruct->Level */
	ndr_u32(&o, 1);		 /* union discriminant */
	ndr_ptr(&o, true);	 /* Level1 container */
	ndr_u32(&o, 0);		 /* EntriesRead */
	ndr_ptr(&o, false);	 /* Buffer */
	ndr_u32(&o, 0xFFFFFFFF); /* PreferedMaximumLength: everything */
	ndr_ptr(&o, true);	 /* ResumeHandle */
	ndr_u32(&o, 0);
	return w->len;
}

/* SHARE_INFO_1 entries: the fixed parts, then the deferred strings (C706 14.3.12.3). */
static uint32_t parse_entries(struct rd *r, uint32_t n, struct smbc_share *sh)
{
	uint32_t *names = calloc(n ? n : 1, 2 * sizeof(uint32_t));
	if (!names)
		return STATUS_NO_MEMORY;
	for (uint32_t i = 0; i < n; i++) {
		names[2 * i] = ndr_rd_u32(r);
		sh[i].type = ndr_rd_u32(r);
		names[2 * i + 1] = ndr_rd_u32(r);
	}
	uint32_t st = STATUS_SUCCESS;
	for (uint32_t i = 0; rd_ok(r) && !st && i < n; i++) {
		if (names[2 * i])
			ndr_rd_wstring(r, &sh[i].name);
		if (names[2 * i + 1])
			ndr_rd_wstring(r, &sh[i].comment);
		if (rd_ok(r) && !sh[i].name)
			sh[i].name = strdup("");
		if (rd_ok(r) && !sh[i].comment)
			sh[i].comment = strdup("");
		if (rd_ok(r) && (!sh[i].name || !sh[i].comment))
			st = STATUS_NO_MEMORY;
	}
	free(names);
	if (!st && !rd_ok(r))
		st = STATUS_INVALID_NETWORK_RESPONSE;
	return st;
}

uint32_t smbc_srvsvc_share_enum_parse(const uint8_t *p, size_t len, struct smbc_share **out,
				      size_t *count)
{
	struct rd r = rd_make(p, len);
	*out = NULL;
	*count = 0;
	uint32_t level = ndr_rd_u32(&r), disc = ndr_rd_u32(&r), cptr = ndr_rd_u32(&r);
	if (!rd_ok(&r) || level != 1 || disc != 1)
		return STATUS_INVALID_NETWORK_RESPONSE;
	uint32_t n = 0;
	struct smbc_share *sh = NULL;
	if (cptr) {
		n = ndr_rd_u32(&r);
		uint32_t bptr = ndr_rd_u32(&r);
		if (bptr) {
			/* each SHARE_INFO_1 is 12 bytes before its strings */
			uint32_t max = ndr_rd_count(&r, 12, MAX_SHARES);
			if (!rd_ok(&r) || max != n)
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
	ndr_rd_u32(&r); /* TotalEntries */
	if (ndr_rd_u32(&r))
		ndr_rd_u32(&r); /* resume handle */
	uint32_t werr = ndr_rd_u32(&r);
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
