/* srvsvc (MS-SRVS): NetrShareEnum (the "NetShareEnumAll" of clients), NetrShareGetInfo and
 * NetrServerGetInfo, enough for share browsing (smbclient -L, Explorer, net view).
 *
 * Simplifications, all allowed by the IDL: a share's path (level 2) is its POSIX path with '/'
 * turned into '\\' rather than a "C:\\..." path; share flags (501, 1005) are 0 (manual caching);
 * NetrShareEnum returns every entry from the resume handle on, whatever PreferedMaximumLength
 * says, so it never answers ERROR_MORE_DATA. */
#include <stdlib.h>
#include <string.h>

#include "lib/utf16.h"
#include "rpc/rpc_internal.h"

/* NET_API_STATUS values (MS-ERREF 2.2, MS-SRVS 3.1.4) */
#define WERR_OK 0u
#define WERR_ACCESS_DENIED 5u
#define WERR_INVALID_LEVEL 124u
#define NERR_NET_NAME_NOT_FOUND 2310u

/* SERVER_INFO_101 fields (MS-SRVS 2.2.4), share types (2.2.2.4) */
#define SV_TYPE_WORKSTATION 0x00000001u
#define SV_TYPE_SERVER 0x00000002u
#define SV_TYPE_SERVER_NT 0x00008000u
#define PLATFORM_ID_NT 500u
#define STYPE_MASK 0x0000000Fu /* the type proper, without STYPE_SPECIAL / STYPE_TEMPORARY */
#define STYPE_IPC 3u

#define OP_SHARE_ENUM 15
#define OP_SHARE_GET_INFO 16
#define OP_SERVER_GET_INFO 21

/* The shares a listing shows: browseable ones, IPC$ included (as Windows lists it). */
static bool listed(const struct rpc_share_info *s)
{
	return s->browseable || (s->type & STYPE_MASK) == STYPE_IPC;
}

/* Writes the fixed part of a SHARE_INFO_<level> (MS-SRVS 2.2.4), the strings as
 * referent ids whose pointees share_deferred writes. */
static void share_fixed(struct ndr_out *o, const struct rpc_share_info *s, uint32_t level)
{
	if (level == 1005) {
		ndr_u32(o, 0); /* shi1005_flags */
		return;
	}
	ndr_ptr(o, true); /* netname */
	if (level == 0)
		return;
	ndr_u32(o, s->type);
	ndr_ptr(o, true); /* remark */
	if (level == 2) {
		ndr_u32(o, 0);		/* permissions: ignored by servers in user-level security */
		ndr_u32(o, 0xFFFFFFFF); /* max uses: unlimited */
		ndr_u32(o, 0);		/* current uses */
		ndr_ptr(o, true);	/* path */
		ndr_ptr(o, false);	/* password */
	} else if (level == 501) {
		ndr_u32(o, 0); /* shi501_flags: manual caching */
	}
}

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
		if (!d)
			o->w->err = true;
		else
			ndr_wstring(o, d);
		free(d);
	}
}

/* ---- opnum 15: NetrShareEnum (MS-SRVS 3.1.4.8) ---- */

struct share_enum_in {
	uint32_t level;
	bool has_resume;
	uint32_t resume;
};

/* NetrShareEnum([in, string, unique] ServerName, [in, out] LPSHARE_ENUM_STRUCT InfoStruct,
 * [in] PreferedMaximumLength, [out] TotalEntries, [in, out, unique] ResumeHandle). */
static uint32_t share_enum_parse(struct rd *r, struct share_enum_in *q)
{
	char *server = NULL;
	ndr_rd_unique_wstring(r, &server);
	free(server);
	q->level = ndr_rd_u32(r);
	uint32_t tag = ndr_rd_u32(r); /* SHARE_ENUM_UNION's discriminant */
	if (!rd_ok(r) || tag != q->level)
		return NCA_S_FAULT_NDR;
	if (tag > 2 && (tag < 501 || tag > 503))
		return NCA_S_FAULT_INVALID_TAG; /* SHARE_ENUM_UNION has no arm for it */
	if (ndr_rd_ptr(r)) {
		/* the container: EntriesRead, then Buffer, which clients send as NULL; an array
		   there would only be read past, so it is refused rather than decoded */
		ndr_rd_u32(r);
		if (ndr_rd_ptr(r))
			return NCA_S_FAULT_NDR;
	}
	ndr_rd_u32(r); /* PreferedMaximumLength: see the file comment */
	q->has_resume = ndr_rd_ptr(r) != 0;
	q->resume = q->has_resume ? ndr_rd_u32(r) : 0;
	return rd_ok(r) ? 0 : NCA_S_FAULT_NDR;
}

/* SHARE_INFO_<level>_CONTAINER pointee: EntriesRead, Buffer, then the array's conformance,
 * every fixed part, and every element's strings (C706 14.3.12.3). */
static uint32_t share_container(struct ndr_out *o, const struct rpc_env *e, uint32_t level,
				uint32_t skip)
{
	uint32_t total = 0, n = 0;
	for (int i = 0; i < e->nshares; i++)
		total += listed(&e->shares[i]);
	n = skip < total ? total - skip : 0;
	ndr_u32(o, n);
	ndr_ptr(o, n > 0);
	if (!n)
		return total;
	ndr_u32(o, n);
	for (int pass = 0; pass < 2; pass++) {
		uint32_t k = 0;
		for (int i = 0; i < e->nshares; i++) {
			if (!listed(&e->shares[i]) || k++ < skip)
				continue;
			if (pass == 0)
				share_fixed(o, &e->shares[i], level);
			else
				share_deferred(o, &e->shares[i], level);
		}
	}
	return total;
}

static uint32_t share_enum(struct rpc_call *c)
{
	struct share_enum_in q;
	uint32_t fault = share_enum_parse(&c->in, &q);
	if (fault)
		return fault;
	struct ndr_out *o = &c->out;
	uint32_t status = WERR_OK, total = 0;
	ndr_u32(o, q.level);
	ndr_u32(o, q.level);
	if (q.level == 502 || q.level == 503) {
		/* security descriptors and scoped names are administrators' business */
		status = WERR_ACCESS_DENIED;
		ndr_ptr(o, false);
	} else {
		ndr_ptr(o, true);
		total = share_container(o, c->env, q.level, q.resume);
	}
	ndr_u32(o, total); /* TotalEntries */
	ndr_ptr(o, q.has_resume);
	if (q.has_resume)
		ndr_u32(o, 0); /* everything was returned */
	ndr_u32(o, status);
	return 0;
}

/* ---- opnum 16: NetrShareGetInfo (MS-SRVS 3.1.4.10) ---- */

static bool get_info_level_ok(uint32_t level)
{
	return level == 0 || level == 1 || level == 2 || level == 501 || level == 1005;
}

static const struct rpc_share_info *find_share(const struct rpc_env *e, const char *name)
{
	for (int i = 0; name && i < e->nshares; i++)
		if (utf8_case_equal(e->shares[i].name, name))
			return &e->shares[i];
	return NULL;
}

/* NetrShareGetInfo([in, string, unique] ServerName, [in, string] NetName, [in] Level,
 * [out, switch_is(Level)] LPSHARE_INFO InfoStruct). */
static uint32_t share_get_info(struct rpc_call *c)
{
	char *server = NULL, *name = NULL;
	ndr_rd_unique_wstring(&c->in, &server);
	free(server);
	ndr_rd_wstring(&c->in, &name);
	uint32_t level = ndr_rd_u32(&c->in);
	if (!rd_ok(&c->in)) {
		free(name);
		return NCA_S_FAULT_NDR;
	}
	const struct rpc_share_info *s = find_share(c->env, name);
	free(name);
	struct ndr_out *o = &c->out;
	ndr_u32(o, level); /* the union's discriminant */
	uint32_t status = WERR_OK;
	if (!get_info_level_ok(level))
		status = WERR_INVALID_LEVEL;
	else if (!s)
		status = NERR_NET_NAME_NOT_FOUND;
	ndr_ptr(o, status == WERR_OK);
	if (status == WERR_OK) {
		share_fixed(o, s, level);
		share_deferred(o, s, level);
	}
	ndr_u32(o, status);
	return 0;
}

/* ---- opnum 21: NetrServerGetInfo (MS-SRVS 3.1.4.17) ---- */

/* NetrServerGetInfo([in, string, unique] ServerName, [in] Level,
 * [out, switch_is(Level)] LPSERVER_INFO InfoStruct): SERVER_INFO_100 and _101 (2.2.4). */
static uint32_t server_get_info(struct rpc_call *c)
{
	char *server = NULL;
	ndr_rd_unique_wstring(&c->in, &server);
	free(server);
	uint32_t level = ndr_rd_u32(&c->in);
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
		ndr_u32(o, 10); /* version 10.0, as Windows Server 2016 and later report */
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
    [OP_SHARE_ENUM] = share_enum,
    [OP_SHARE_GET_INFO] = share_get_info,
    [OP_SERVER_GET_INFO] = server_get_info,
};

static const char *const srvsvc_pipes[] = {"srvsvc", NULL};

/* 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 (MS-SRVS 1.9) */
const struct rpc_iface rpc_srvsvc_iface = {
    .name = "srvsvc",
    .pipes = srvsvc_pipes,
    .uuid = {0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e,
	     0xe1, 0x88},
    .vers_major = 3,
    .vers_minor = 0,
    .ops = srvsvc_ops,
    .nops = sizeof(srvsvc_ops) / sizeof(srvsvc_ops[0]),
};
