/* srvsvc (MS-SRVS): NetrShareEnum (the "NetShareEnumAll" of clients), NetrShareGetInfo and
 * NetrServerGetInfo, enough for share browsing (smbclient -L, Explorer, net view). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/rpc_internal.h"

#define WERR_OK 0u
#define WERR_ACCESS_DENIED 5u
#define WERR_INVALID_LEVEL 124u
#define NERR_NET_NAME_NOT_FOUND 2310u

#define SV_TYPE_WORKSTATION 0x00000001u
#define SV_TYPE_SERVER 0x00000002u
#define SV_TYPE_SERVER_NT 0x00008000u
#define PLATFORM_ID_NT 500u

/* The shares a listing shows: browseable ones, IPC$ included (as Windows lists it). */
static bool listed(const struct rpc_share_info *s)
{
	return s->browseable || (s->type & 0x3) == 3;
}

/* Writes the fixed part of a SHARE_INFO_<level> (pointers as referent ids). */
static void share_fixed(struct ndr_out *o, const struct rpc_share_info *s, uint32_t level)
{
	if (level == 1005) {
		ndr_u32(o, 0);
		return;
	}
	ndr_ptr(o, true); /* netname */
	if (level == 0)
		return;
	ndr_u32(o, s->type);
	ndr_ptr(o, true); /* remark */
	if (level == 2) {
		ndr_u32(o, 0);          /* permissions */
		ndr_u32(o, 0xFFFFFFFF); /* max uses: unlimited */
		ndr_u32(o, 0);          /* current uses */
		ndr_ptr(o, true);       /* path */
		ndr_ptr(o, false);      /* password */
	} else if (level == 501) {
		ndr_u32(o, 0); /* share flags: manual caching */
	}
}

/* Windows shows a share's path as a DOS path; shoal gives the POSIX one with backslashes. */
static char *dos_path(const char *p)
{
	char *d = strdup(p ? p : "");
	for (char *c = d; c && *c; c++)
		if (*c == '/')
			*c = '\\';
	return d;
}

static void share_deferred(struct ndr_out *o, const struct rpc_share_info *s, uint32_t level)
{
	if (level == 1005)
		return;
	ndr_wstring(o, s->name);
	if (level == 0)
		return;
	ndr_wstring(o, s->comment);
	if (level == 2) {
		char *d = dos_path(s->path);
		ndr_wstring(o, d ? d : "");
		free(d);
	}
}

static bool level_ok(uint32_t level, bool enumerating)
{
	return level == 0 || level == 1 || level == 2 || (!enumerating && (level == 501 ||
									   level == 1005));
}

/* opnum 15: NetrShareEnum(ServerName, InfoStruct, PreferedMaximumLength, TotalEntries,
 * ResumeHandle) (MS-SRVS 3.1.4.8). */
static uint32_t share_enum(struct rpc_call *c)
{
	char *server = NULL;
	ndr_rd_unique_wstring(&c->in, &server);
	free(server);
	uint32_t level = ndr_rd_u32(&c->in);
	uint32_t sw = ndr_rd_u32(&c->in);
	if (!rd_ok(&c->in) || sw != level)
		return NCA_S_FAULT_NDR;
	/* the input container (normally empty), the preferred size and the resume handle are
	   read past but not used: every listing is returned whole */
	struct ndr_out *o = &c->out;
	const struct rpc_env *e = c->env;
	ndr_u32(o, level);
	ndr_u32(o, level);
	if (!level_ok(level, true)) {
		ndr_ptr(o, false);
		ndr_u32(o, 0);    /* TotalEntries */
		ndr_ptr(o, false); /* ResumeHandle */
		ndr_u32(o, WERR_INVALID_LEVEL);
		return 0;
	}
	uint32_t n = 0;
	for (int i = 0; i < e->nshares; i++)
		n += listed(&e->shares[i]);
	ndr_ptr(o, true); /* container */
	ndr_u32(o, n);    /* EntriesRead */
	ndr_ptr(o, n > 0);
	if (n > 0) {
		ndr_u32(o, n); /* conformant array size */
		for (int i = 0; i < e->nshares; i++)
			if (listed(&e->shares[i]))
				share_fixed(o, &e->shares[i], level);
		for (int i = 0; i < e->nshares; i++)
			if (listed(&e->shares[i]))
				share_deferred(o, &e->shares[i], level);
	}
	ndr_u32(o, n);    /* TotalEntries */
	ndr_ptr(o, true); /* ResumeHandle */
	ndr_u32(o, 0);
	ndr_u32(o, WERR_OK);
	return 0;
}

/* opnum 16: NetrShareGetInfo(ServerName, NetName, Level, InfoStruct) (3.1.4.10). */
static uint32_t share_get_info(struct rpc_call *c)
{
	char *server = NULL, *name = NULL;
	ndr_rd_unique_wstring(&c->in, &server);
	ndr_rd_wstring(&c->in, &name);
	uint32_t level = ndr_rd_u32(&c->in);
	free(server);
	if (!rd_ok(&c->in)) {
		free(name);
		return NCA_S_FAULT_NDR;
	}
	const struct rpc_share_info *s = NULL;
	for (int i = 0; i < c->env->nshares && name; i++)
		if (!strcasecmp(c->env->shares[i].name, name))
			s = &c->env->shares[i];
	free(name);
	struct ndr_out *o = &c->out;
	ndr_u32(o, level);
	if (!level_ok(level, false) || !s) {
		ndr_ptr(o, false);
		ndr_u32(o, !s ? NERR_NET_NAME_NOT_FOUND : WERR_INVALID_LEVEL);
		return 0;
	}
	ndr_ptr(o, true);
	share_fixed(o, s, level);
	share_deferred(o, s, level);
	ndr_u32(o, WERR_OK);
	return 0;
}

/* opnum 21: NetrServerGetInfo(ServerName, Level, InfoStruct) (3.1.4.17). */
static uint32_t server_get_info(struct rpc_call *c)
{
	char *server = NULL;
	ndr_rd_unique_wstring(&c->in, &server);
	uint32_t level = ndr_rd_u32(&c->in);
	free(server);
	if (!rd_ok(&c->in))
		return NCA_S_FAULT_NDR;
	struct ndr_out *o = &c->out;
	ndr_u32(o, level);
	if (level != 100 && level != 101) {
		ndr_ptr(o, false);
		ndr_u32(o, WERR_INVALID_LEVEL);
		return 0;
	}
	ndr_ptr(o, true);
	ndr_u32(o, PLATFORM_ID_NT);
	ndr_ptr(o, true); /* name */
	if (level == 101) {
		ndr_u32(o, 10); /* version: as Windows Server 2016 and later report */
		ndr_u32(o, 0);
		ndr_u32(o, SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_SERVER_NT);
		ndr_ptr(o, true); /* comment */
	}
	ndr_wstring(o, c->env->server_name);
	if (level == 101)
		ndr_wstring(o, c->env->server_comment);
	ndr_u32(o, WERR_OK);
	return 0;
}

static const rpc_op_fn srvsvc_ops[] = {
	[15] = share_enum,
	[16] = share_get_info,
	[21] = server_get_info,
};

static const char *const srvsvc_pipes[] = {"srvsvc", NULL};

/* 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 */
const struct rpc_iface rpc_srvsvc_iface = {
	.name = "srvsvc",
	.pipes = srvsvc_pipes,
	.uuid = {0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf,
		 0x6e, 0xe1, 0x88},
	.vers_major = 3,
	.vers_minor = 0,
	.ops = srvsvc_ops,
	.nops = sizeof(srvsvc_ops) / sizeof(srvsvc_ops[0]),
};
