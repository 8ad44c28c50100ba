/* Security descriptors of files: what QUERY_INFO / SET_INFO SECURITY show and change, what CREATE
 * inherits and checks (MS-SMB2 3.3.5.20.3, 3.3.5.21.3; MS-FSA 2.1.5.1, 2.1.5.13, 2.1.5.16; the
 * descriptor format and algorithms are MS-DTYP's, in src/sec).
 *
 * Where a descriptor comes from:
 *  - A descriptor set by a client (SET_INFO, the SecD create context) or inherited at creation is
 *    stored with the file in the descriptor record (an xattr, trusted.* when the server runs as
 *    root so that local users can neither read nor forge it, see vfs.h): version, the file's mode,
 * uid, gid and a fingerprint of its POSIX ACL as they were right after the store, then the
 * self-relative descriptor.
 *  - Otherwise, and when the recorded mode/uid/gid/ACL no longer match the file (a chmod, chown
 *    or setfacl on the server since), the descriptor is derived from the POSIX owner, group,
 *    mode and ACL: allow ACEs for the owner, each named user and group of the ACL (limited by
 *    its mask), the owning group and Everyone. So a change on the POSIX side shows in the DACL.
 *
 * POSIX follows NT: storing a descriptor maps its DACL onto the mode bits (the rights the DACL
 * gives the owner, the group and everyone become r/w/x of user, group and other; directories get
 * x with any right, as Windows users traverse without a check) and its owner/group onto uid/gid
 * when the SIDs map to POSIX ids (the user database and the S-1-22 SIDs of the idmap); every
 * other SID of an effective ACE that maps to a uid or gid becomes a named entry of the POSIX
 * access ACL with the rights the DACL gives that SID (with Everyone's). So a local user gets
 * the read/write/execute a client gave him. Not mapped: inheritable ACEs (no default ACL is
 * written), rights other than r/w/x (delete, change permissions...), deny ACEs for a group
 * (POSIX cannot take rights from a group's members who are named nowhere else).
 *
 * Access checks (the choice of issue 5): where a current descriptor is stored, CREATE checks the
 * desired access against it (MS-DTYP AccessCheck with MAXIMUM_ALLOWED, the owner's implicit
 * READ_CONTROL | WRITE_DAC, OWNER RIGHTS; DELETE also when the parent grants DELETE_CHILD and
 * FILE_READ_ATTRIBUTES when it grants FILE_LIST_DIRECTORY, MS-FSA 2.1.5.1.2.1), and the file is
 * still opened under the user's identity, so the POSIX permissions must allow the data access
 * too: both must agree, and the mapping above makes them agree for owner, group and others.
 * Files without a stored descriptor keep the POSIX check of smb2_create.c, whose answer is what
 * the derived DACL says.
 *
 * The record is read and written with the server's identity (the VFS does that): the checks
 * here (READ_CONTROL, WRITE_DAC, WRITE_OWNER on the open) decide who may, and a DACL that
 * denies the owner everything leaves a mode 000 file whose descriptor must still be shown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "smb2/smb2_file.h"

#define NTACL_VERSION 1
#define NTACL_HDR_LEN 20

/* ---- SIDs of the request's user and of POSIX ids ---- */

static void owner_sid_of(struct smb2_req *req, uint32_t uid, struct sid *out)
{
	const struct smb2_session *s = req->session;
	/* the session's own files carry its domain SID, as the client knows it */
	if (s && !s->anonymous && uid == s->ident.uid)
		*out = s->user_sid;
	else
		idmap_uid_to_sid(req->srv->idmap, uid, out);
}

static void token_of(struct smb2_req *req, struct sec_token *t)
{
	const struct smb2_session *s = req->session;
	struct sid sid;
	t->n = 0;
	if (!s)
		return;
	sec_token_add(t, &s->user_sid);
	if (!s->anonymous) {
		idmap_uid_to_sid(req->srv->idmap, s->ident.uid, &sid);
		sec_token_add(t, &sid);
		idmap_gid_to_sid(req->srv->idmap, s->ident.gid, &sid);
		sec_token_add(t, &sid);
		for (int i = 0; i < s->ident.ngroups && i < 32; i++) {
			idmap_gid_to_sid(req->srv->idmap, s->ident.groups[i], &sid);
			sec_token_add(t, &sid);
		}
		sec_token_add(t, &sec_sid_authenticated_users);
	}
	sec_token_add(t, &sec_sid_world);
	sec_token_add(t, &sec_sid_network);
}

/* SID -> POSIX id: the session's own SID, then the idmap. 0 or -ENOENT. */
static int sid_to_id(struct smb2_req *req, const struct sid *sid, bool group, uint32_t *id)
{
	const struct smb2_session *s = req->session;
	if (!group && s && !s->anonymous && sid_equal(sid, &s->user_sid)) {
		*id = s->ident.uid;
		return 0;
	}
	bool is_group = false;
	if (idmap_sid_to_unix(req->srv->idmap, sid, id, &is_group) < 0 || is_group != group)
		return -ENOENT;
	return 0;
}

static bool in_groups(const struct smb2_session *s, uint32_t gid)
{
	if (gid == s->ident.gid)
		return true;
	for (int i = 0; i < s->ident.ngroups && i < 32; i++)
		if (s->ident.groups[i] == gid)
			return true;
	return false;
}

/* ---- mode <-> DACL ---- */

static int add_allow(struct sec_acl *acl, uint32_t mask, const struct sid *sid)
{
	struct sec_ace a = {.type = SEC_ACE_ALLOWED, .mask = mask, .sid = *sid};
	return mask ? sec_acl_add(acl, &a) : 0;
}

/* The descriptor a file without a (current) stored one shows. */
static struct sec_desc *derive(struct smb2_req *req, struct vfs_file *f, const struct vfs_stat *st)
{
	struct vfs_posix_acl pa;
	if (!f || vfs_get_posix_acl(f, &pa) < 0) {
		memset(&pa, 0, sizeof(pa));
		pa.group_obj = (st->mode >> 3) & 7;
		pa.mask = 7;
	}
	struct sec_desc *sd = calloc(1, sizeof(*sd));
	if (!sd || !(sd->dacl = calloc(1, sizeof(*sd->dacl)))) {
		free(sd);
		return NULL;
	}
	sd->control = SE_DACL_PRESENT;
	sd->has_owner = sd->has_group = true;
	owner_sid_of(req, st->uid, &sd->owner);
	idmap_gid_to_sid(req->srv->idmap, st->gid, &sd->group);
	sd->dacl->revision = 2;
	uint32_t owner = sec_rwx_rights((st->mode >> 6) & 7) | SEC_STD_READ_CONTROL |
			 SEC_STD_WRITE_DAC | SEC_STD_WRITE_OWNER | SEC_FILE_READ_ATTRIBUTES |
			 SEC_FILE_WRITE_ATTRIBUTES | SEC_STD_SYNCHRONIZE;
	int rc = add_allow(sd->dacl, owner, &sd->owner);
	for (int i = 0; i < pa.n && !rc; i++) {
		struct sid sid;
		if (pa.e[i].group)
			idmap_gid_to_sid(req->srv->idmap, pa.e[i].id, &sid);
		else
			owner_sid_of(req, pa.e[i].id, &sid);
		rc = add_allow(sd->dacl, sec_rwx_rights(pa.e[i].perm & pa.mask), &sid);
	}
	if (!rc)
		rc = add_allow(sd->dacl, sec_rwx_rights(pa.group_obj & pa.mask), &sd->group);
	if (!rc)
		rc = add_allow(sd->dacl, sec_rwx_rights(st->mode & 7), &sec_sid_world);
	if (rc < 0) {
		sec_desc_free(sd);
		return NULL;
	}
	return sd;
}

/* Permission bits that give the owner, the group and others what the DACL gives them. */
static uint32_t dacl_to_mode(struct smb2_req *req, const struct sec_desc *sd, uint32_t uid,
			     uint32_t gid, bool dir)
{
	struct sec_token u = {0}, g = {0};
	struct sid s;
	sec_token_add(&u, &sd->owner);
	idmap_uid_to_sid(req->srv->idmap, uid, &s);
	sec_token_add(&u, &s);
	if (sd->has_group)
		sec_token_add(&g, &sd->group);
	idmap_gid_to_sid(req->srv->idmap, gid, &s);
	sec_token_add(&g, &s);
	return sec_dacl_mode(sd, &u, &g, dir);
}

/* ---- POSIX ACL <-> DACL ---- */

/* FNV-1a over what the ACL says: the record's fingerprint of it (0 without ACL support). */
static uint32_t acl_print(struct vfs_file *f)
{
	struct vfs_posix_acl a;
	if (vfs_get_posix_acl(f, &a) < 0)
		return 0;
	uint32_t h = 2166136261u;
	uint8_t head[2] = {a.group_obj, a.mask};
	for (int i = 0; i < 2; i++)
		h = (h ^ head[i]) * 16777619u;
	for (int i = 0; i < a.n; i++) {
		uint8_t b[6] = {a.e[i].group, a.e[i].perm};
		put_le32(b + 2, a.e[i].id);
		for (int k = 0; k < 6; k++)
			h = (h ^ b[k]) * 16777619u;
	}
	return h;
}

/* The named entries that give each other mapped SID of the DACL its rights. */
static void dacl_to_named(struct smb2_req *req, const struct sec_desc *sd, uint32_t uid,
			  uint32_t gid, bool dir, struct vfs_posix_acl *out)
{
	memset(out, 0, sizeof(*out));
	if (!(sd->control & SE_DACL_PRESENT) || !sd->dacl)
		return;
	for (int i = 0; i < sd->dacl->count && out->n < VFS_ACL_MAX; i++) {
		const struct sec_ace *a = &sd->dacl->aces[i];
		uint32_t id;
		bool group = false;
		if (a->flags & SEC_ACE_INHERIT_ONLY)
			continue;
		if (a->type != SEC_ACE_ALLOWED && a->type != SEC_ACE_DENIED)
			continue;
		if (sid_to_id(req, &a->sid, false, &id) == 0) {
			if (id == uid)
				continue;
		} else if (sid_to_id(req, &a->sid, true, &id) == 0) {
			if (id == gid)
				continue;
			group = true;
		} else {
			continue;
		}
		bool dup = false;
		for (int k = 0; k < out->n; k++)
			dup |= out->e[k].group == group && out->e[k].id == id;
		if (dup)
			continue;
		struct sec_token t = {0};
		sec_token_add(&t, &a->sid);
		sec_token_add(&t, &sec_sid_world);
		sec_token_add(&t, &sec_sid_authenticated_users);
		out->e[out->n].group = group;
		out->e[out->n].id = id;
		out->e[out->n].perm = (uint8_t)sec_rights_rwx(sec_access_maximal(sd, &t), dir);
		out->n++;
	}
}

/* ---- the stored record ---- */

/* 1 and *out: a current stored descriptor; 0: none (or stale, or unreadable); -ENOMEM. */
static int load_stored(struct vfs_file *f, const struct vfs_stat *st, struct sec_desc **out)
{
	*out = NULL;
	uint8_t small[512], *buf = small;
	ssize_t n = vfs_get_ntacl(f, small, sizeof(small));
	if (n == -ERANGE) {
		n = vfs_get_ntacl(f, NULL, 0);
		if (n > 0 && !(buf = malloc((size_t)n)))
			return -ENOMEM;
		if (n > 0)
			n = vfs_get_ntacl(f, buf, (size_t)n);
	}
	int rc = 0;
	if (n >= NTACL_HDR_LEN && buf[0] == NTACL_VERSION) {
		uint32_t mode = get_le32(buf + 4), uid = get_le32(buf + 8),
			 gid = get_le32(buf + 12);
		if (mode == (st->mode & 07777) && uid == st->uid && gid == st->gid &&
		    get_le32(buf + 16) == acl_print(f)) {
			rc = sec_desc_decode(buf + NTACL_HDR_LEN, (size_t)n - NTACL_HDR_LEN, out);
			if (rc == -EINVAL)
				LOG_INFO(LOG_SMB2, "%s: malformed stored descriptor ignored",
					 f->path);
			rc = rc == 0 ? 1 : rc == -ENOMEM ? -ENOMEM : 0;
		}
	} else if (n > 0) {
		LOG_INFO(LOG_SMB2, "%s: unknown descriptor record ignored", f->path);
	}
	if (buf != small)
		free(buf);
	return rc;
}

int smb2_secdesc_load(struct smb2_req *req, struct vfs_file *f, const struct vfs_stat *st,
		      struct sec_desc **out, bool *stored)
{
	int rc = load_stored(f, st, out);
	if (rc < 0)
		return rc;
	*stored = rc == 1;
	if (!*stored && !(*out = derive(req, f, st)))
		return -ENOMEM;
	return 0;
}

/* Maps sd onto the file's owner, group and mode, then stores it with what they became. */
static NTSTATUS store(struct smb2_req *req, struct vfs_file *f, const struct sec_desc *sd)
{
	struct vfs_stat st;
	int rc = vfs_fstat(f, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	uint32_t uid = UINT32_MAX, gid = UINT32_MAX, id;
	if (sd->has_owner && sid_to_id(req, &sd->owner, false, &id) == 0 && id != st.uid)
		uid = id;
	/* like chgrp: only to a group the user is in */
	if (sd->has_group && sid_to_id(req, &sd->group, true, &id) == 0 && id != st.gid &&
	    req->session && in_groups(req->session, id))
		gid = id;
	uint32_t nuid = uid != UINT32_MAX ? uid : st.uid, ngid = gid != UINT32_MAX ? gid : st.gid;
	bool dir = S_ISDIR(st.mode);
	uint32_t mode = (st.mode & 07000) | dacl_to_mode(req, sd, nuid, ngid, dir);
	struct vfs_posix_acl named;
	dacl_to_named(req, sd, nuid, ngid, dir, &named);
	if (uid != UINT32_MAX || gid != UINT32_MAX)
		rc = vfs_set_perms(f, UINT32_MAX, uid, gid);
	if (!rc)
		rc = vfs_set_posix_acl(f, mode, &named);
	if (rc == -EOPNOTSUPP) {
		/* no POSIX ACLs here: owner, group and others still get their rights */
		LOG_DBG(LOG_SMB2, "%s: no POSIX ACLs, %d named entries not mapped", f->path,
			named.n);
		rc = vfs_set_perms(f, mode, UINT32_MAX, UINT32_MAX);
	}
	if (!rc)
		rc = vfs_fstat(f, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	struct wr w;
	wr_init(&w, NTACL_HDR_LEN + sec_desc_encoded_len(sd, SEC_INFO_ALL));
	wr_u8(&w, NTACL_VERSION);
	wr_zero(&w, 3);
	wr_u32(&w, st.mode & 07777);
	wr_u32(&w, st.uid);
	wr_u32(&w, st.gid);
	wr_u32(&w, acl_print(f));
	sec_desc_encode(sd, SEC_INFO_ALL, &w);
	rc = wr_ok(&w) ? vfs_set_ntacl(f, w.p, w.len) : -ENOMEM;
	wr_free(&w);
	if (rc < 0)
		LOG_INFO(LOG_SMB2, "%s: cannot store the security descriptor: %d", f->path, rc);
	return rc == -ENOTSUP ? STATUS_NOT_SUPPORTED : smb2_file_status(rc);
}

/* ---- QUERY_INFO / SET_INFO SECURITY ---- */

NTSTATUS smb2_secdesc_query(struct smb2_req *req, struct smb2_open *op, uint32_t addinfo,
			    struct wr *w)
{
	if (!op->file)
		return STATUS_NOT_SUPPORTED;
	/* MS-FSA 2.1.5.13 */
	if ((addinfo & (SEC_INFO_OWNER | SEC_INFO_GROUP | SEC_INFO_DACL | SEC_INFO_LABEL)) &&
	    !(op->access & READ_CONTROL))
		return STATUS_ACCESS_DENIED;
	if ((addinfo & SEC_INFO_SACL) && !(op->access & ACCESS_SYSTEM_SECURITY))
		return STATUS_ACCESS_DENIED;
	struct vfs_stat st;
	int rc = vfs_fstat(op->file, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	struct sec_desc *sd;
	bool stored;
	rc = smb2_secdesc_load(req, op->file, &st, &sd, &stored);
	if (rc < 0)
		return smb2_file_status(rc);
	sec_desc_encode(sd, addinfo & SEC_INFO_ALL, w);
	sec_desc_free(sd);
	return wr_ok(w) ? STATUS_SUCCESS : STATUS_NO_MEMORY;
}

/* The owner a client may give: itself or one of its groups (as Windows, without privileges). */
static bool owner_allowed(struct smb2_req *req, const struct sid *owner)
{
	struct sec_token t;
	token_of(req, &t);
	return sec_token_has(&t, owner);
}

/* Takes the DACL (or SACL) part of src into dst (MS-DTYP 2.5.3.4.x for the control bits:
 * AUTO_INHERITED stays only with AUTO_INHERIT_REQ, the request bit itself is not kept). */
static int take_acl(struct sec_desc *dst, const struct sec_desc *src, bool dacl)
{
	uint16_t bits = dacl ? SE_DACL_BITS : SE_SACL_BITS;
	uint16_t present = dacl ? SE_DACL_PRESENT : SE_SACL_PRESENT;
	uint16_t req_bit = dacl ? SE_DACL_AUTO_INHERIT_REQ : SE_SACL_AUTO_INHERIT_REQ;
	uint16_t inh = dacl ? SE_DACL_AUTO_INHERITED : SE_SACL_AUTO_INHERITED;
	uint16_t keep = dacl ? SE_DACL_PRESENT | SE_DACL_PROTECTED | SE_DACL_DEFAULTED
			     : SE_SACL_PRESENT | SE_SACL_PROTECTED | SE_SACL_DEFAULTED;
	struct sec_acl *acl = NULL, *src_acl = dacl ? src->dacl : src->sacl;
	if ((src->control & present) && src_acl && !(acl = sec_acl_dup(src_acl)))
		return -ENOMEM;
	sec_acl_map_generic(acl);
	uint16_t c = (uint16_t)(dst->control & ~bits);
	c |= src->control & keep;
	/* a DACL set without the PRESENT bit is a NULL DACL, as on Windows */
	if (dacl)
		c |= SE_DACL_PRESENT;
	if ((src->control & (req_bit | inh)) == (req_bit | inh))
		c |= inh;
	dst->control = c;
	struct sec_acl **slot = dacl ? &dst->dacl : &dst->sacl;
	sec_acl_free(*slot);
	*slot = acl;
	return 0;
}

static NTSTATUS decode_status(int rc)
{
	return rc == -ENOMEM ? STATUS_NO_MEMORY : STATUS_INVALID_SECURITY_DESCR;
}

NTSTATUS smb2_secdesc_set(struct smb2_req *req, struct smb2_open *op, uint32_t addinfo,
			  const struct rd *in)
{
	if (!op->file)
		return STATUS_NOT_SUPPORTED;
	/* MS-FSA 2.1.5.16 */
	uint32_t need = 0;
	if (addinfo & (SEC_INFO_OWNER | SEC_INFO_GROUP | SEC_INFO_LABEL))
		need |= WRITE_OWNER;
	if (addinfo & SEC_INFO_DACL)
		need |= WRITE_DAC;
	if (addinfo & SEC_INFO_SACL)
		need |= ACCESS_SYSTEM_SECURITY;
	if ((op->access & need) != need || req->tree->read_only)
		return STATUS_ACCESS_DENIED;
	if (!(addinfo & SEC_INFO_ALL))
		return STATUS_SUCCESS; /* nothing this server keeps (labels, attributes) */
	struct sec_desc *nsd, *cur;
	int rc = sec_desc_decode(in->p, in->len, &nsd);
	if (rc < 0)
		return decode_status(rc);
	NTSTATUS st = STATUS_SUCCESS;
	if ((addinfo & SEC_INFO_OWNER) && (!nsd->has_owner || !owner_allowed(req, &nsd->owner)))
		st = STATUS_INVALID_OWNER;
	else if ((addinfo & SEC_INFO_GROUP) && !nsd->has_group)
		st = STATUS_INVALID_PRIMARY_GROUP;
	struct vfs_stat vs;
	bool stored;
	if (!st && (rc = vfs_fstat(op->file, &vs)) == 0)
		rc = smb2_secdesc_load(req, op->file, &vs, &cur, &stored);
	if (!st && rc < 0)
		st = smb2_file_status(rc);
	if (st) {
		sec_desc_free(nsd);
		return st;
	}
	if (addinfo & SEC_INFO_OWNER)
		cur->owner = nsd->owner;
	if (addinfo & SEC_INFO_GROUP) {
		cur->group = nsd->group;
		cur->has_group = true;
	}
	rc = 0;
	if (addinfo & SEC_INFO_DACL)
		rc = take_acl(cur, nsd, true);
	if (!rc && (addinfo & SEC_INFO_SACL))
		rc = take_acl(cur, nsd, false);
	st = rc < 0 ? STATUS_NO_MEMORY : store(req, op->file, cur);
	sec_desc_free(nsd);
	sec_desc_free(cur);
	return st;
}

/* ---- CREATE ---- */

NTSTATUS smb2_secdesc_parse_ctx(const uint8_t *p, size_t len, struct sec_desc **out)
{
	int rc = sec_desc_decode(p, len, out);
	if (rc < 0)
		return decode_status(rc);
	/* a SACL needs SeSecurityPrivilege, which no user of this server holds */
	if ((*out)->control & SE_SACL_PRESENT) {
		sec_desc_free(*out);
		*out = NULL;
		return STATUS_PRIVILEGE_NOT_HELD;
	}
	return STATUS_SUCCESS;
}

/* The parent directory of a share-relative path, opened for its metadata. */
static int open_parent(struct smb2_req *req, const char *path, struct vfs_file **out)
{
	const char *slash = strrchr(path, '/');
	char *parent = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
	if (!parent)
		return -ENOMEM;
	int rc = vfs_open(req->tree->vfs, parent, VFS_O_DIR, 0, out);
	free(parent);
	return rc;
}

/* The parent's stored descriptor, or NULL (none, the root's parent, or unreadable). */
static int parent_stored(struct smb2_req *req, const char *path, struct sec_desc **out)
{
	*out = NULL;
	if (!*path)
		return 0;
	struct vfs_file *pf;
	struct vfs_stat st;
	if (open_parent(req, path, &pf) < 0)
		return 0;
	int rc = vfs_fstat(pf, &st);
	rc = rc < 0 ? 0 : load_stored(pf, &st, out);
	vfs_close(pf);
	return rc < 0 ? rc : 0;
}

int smb2_secdesc_open_access(struct smb2_req *req, struct vfs_file *f, const struct vfs_stat *st,
			     unsigned posix_acc, uint32_t *maximal)
{
	struct sec_desc *sd, *psd;
	int rc = load_stored(f, st, &sd);
	if (rc <= 0)
		return rc;
	struct sec_token t;
	token_of(req, &t);
	uint32_t m = sec_access_maximal(sd, &t);
	sec_desc_free(sd);
	/* MS-FSA 2.1.5.1.2.1: what the parent grants on its children */
	rc = parent_stored(req, f->path, &psd);
	if (rc < 0)
		return rc;
	uint32_t pm =
	    psd ? sec_access_maximal(psd, &t)
		: FILE_LIST_DIRECTORY | ((posix_acc & VFS_ACC_DELETE) ? FILE_DELETE_CHILD : 0);
	sec_desc_free(psd);
	if (*f->path && (pm & FILE_DELETE_CHILD))
		m |= DELETE_ACCESS;
	if (pm & FILE_LIST_DIRECTORY)
		m |= FILE_READ_ATTRIBUTES;
	*maximal = m;
	return 1;
}

NTSTATUS smb2_secdesc_check_create(struct smb2_req *req, const char *path, bool dir)
{
	struct sec_desc *psd;
	int rc = parent_stored(req, path, &psd);
	if (rc < 0)
		return smb2_file_status(rc);
	if (!psd)
		return STATUS_SUCCESS; /* the POSIX permissions of the parent decide */
	struct sec_token t;
	token_of(req, &t);
	uint32_t m = sec_access_maximal(psd, &t);
	sec_desc_free(psd);
	return (m & (dir ? FILE_ADD_SUBDIRECTORY : FILE_ADD_FILE)) ? STATUS_SUCCESS
								   : STATUS_ACCESS_DENIED;
}

NTSTATUS smb2_secdesc_new_file(struct smb2_req *req, struct vfs_file *f,
			       const struct sec_desc *creator)
{
	if (creator && creator->has_owner && !owner_allowed(req, &creator->owner))
		return STATUS_INVALID_OWNER;
	struct sec_desc *psd, *sd = NULL;
	int rc = parent_stored(req, f->path, &psd);
	struct vfs_stat st;
	if (!rc)
		rc = vfs_fstat(f, &st);
	if (rc < 0) {
		sec_desc_free(psd);
		return smb2_file_status(rc);
	}
	struct sid owner, group;
	owner_sid_of(req, st.uid, &owner);
	idmap_gid_to_sid(req->srv->idmap, st.gid, &group);
	rc = sec_inherit(psd, creator, f->is_dir, &owner, &group, &sd);
	sec_desc_free(psd);
	if (rc == 0 && creator && (creator->has_owner || creator->has_group)) {
		/* an owner or group without a DACL: the default DACL with them */
		if (!(sd = derive(req, f, &st)))
			return STATUS_NO_MEMORY;
		if (creator->has_owner)
			sd->owner = creator->owner;
		if (creator->has_group)
			sd->group = creator->group;
		rc = 1;
	}
	if (rc < 0)
		return rc == -ENOMEM ? STATUS_NO_MEMORY : STATUS_INVALID_ACL;
	NTSTATUS status = rc == 1 ? store(req, f, sd) : STATUS_SUCCESS;
	sec_desc_free(sd);
	return status;
}

bool smb2_secdesc_can_read(struct smb2_req *req, const char *path)
{
	const uint32_t need = FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA;
	struct vfs_file *f;
	if (vfs_open(req->tree->vfs, path, 0, 0, &f) < 0)
		return false;
	struct vfs_stat st;
	unsigned acc = 0;
	bool ok = false;
	if (vfs_fstat(f, &st) == 0 && vfs_access(f, &acc) == 0) {
		struct sec_desc *sd;
		int rc = load_stored(f, &st, &sd);
		if (rc == 1) {
			struct sec_token t;
			token_of(req, &t);
			ok = (sec_access_maximal(sd, &t) & need) == need;
			sec_desc_free(sd);
		} else if (rc == 0) {
			ok = acc & VFS_ACC_READ;
		}
	}
	vfs_close(f);
	return ok;
}
