/* TREE_CONNECT and TREE_DISCONNECT (MS-SMB2 2.2.9-2.2.12, 3.3.5.7, 3.3.5.8). */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/utf16.h"
#include "smb2/smb2.h"

#define SMB2_SHAREFLAG_NO_CACHING 0x00000030u
#define SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM 0x00000800u
#define SMB2_SHAREFLAG_ENCRYPT_DATA 0x00008000u
#define SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT 0x0004
#define MAX_ACCESS_READ 0x001200A9u /* read data/EA/attributes, execute, read control, sync */

struct smb2_tree *smb2_tree_lookup(struct smb2_session *s, uint32_t id)
{
	for (int i = 0; i < s->ntrees; i++)
		if (s->trees[i]->id == id)
			return s->trees[i];
	return NULL;
}

void smb2_tree_put(struct smb2_tree *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	if (t->vfs)
		vfs_share_close(t->vfs);
	free(t->share_name);
	free(t);
}

static void tree_end(struct smb2_tree *t, bool keep_durable)
{
	struct smb2_session *s = t->session;
	for (;;) {
		struct smb2_open *op = NULL;
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->nopens; i++)
			if (s->opens[i]->tree == t) {
				op = s->opens[i];
				break;
			}
		pthread_mutex_unlock(&s->lock);
		if (!op)
			break;
		if (!keep_durable || !smb2_durable_detach(op))
			smb2_open_close(op);
	}
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->ntrees; i++)
		if (s->trees[i] == t) {
			s->trees[i] = s->trees[--s->ntrees];
			break;
		}
	pthread_mutex_unlock(&s->lock);
	/* detached opens keep the tree (its share) until they are reconnected or closed */
	t->session = NULL;
	smb2_tree_put(t);
}

void smb2_tree_teardown(struct smb2_tree *t)
{
	tree_end(t, false);
}

void smb2_tree_detach(struct smb2_tree *t)
{
	tree_end(t, true);
}

/* Group names of the session's identity, for "valid users = @group". */
static int group_names(const struct vfs_ident *id, char **names, int max)
{
	int n = 0;
	for (int i = -1; i < id->ngroups && n < max; i++) {
		gid_t g = i < 0 ? id->gid : id->groups[i];
		struct group gr, *res = NULL;
		char buf[2048];
		if (!getgrgid_r(g, &gr, buf, sizeof(buf), &res) && res)
			names[n++] = strdup(res->gr_name);
	}
	return n;
}

static NTSTATUS check_access(struct smb2_session *s, const struct conf_share *sh)
{
	if (s->anonymous && !sh->is_ipc)
		return STATUS_ACCESS_DENIED; /* anonymous sessions may only list shares over IPC$ */
	if (!sh->valid_users || sh->is_ipc)
		return STATUS_SUCCESS;
	char *names[34] = {0};
	int n = group_names(&s->ident, names, 33);
	bool ok = conf_user_allowed(sh, s->user, (const char *const *)names);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return ok ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
}

/* Trees per session: far more than any client uses (one per share it maps); the table is
 * searched linearly on every request, so it must not grow without bound. */
#define SMB2_MAX_TREES_PER_SESSION 1024

static NTSTATUS add_tree(struct smb2_session *s, struct smb2_tree *t)
{
	pthread_mutex_lock(&s->lock);
	if (s->ntrees >= SMB2_MAX_TREES_PER_SESSION) {
		pthread_mutex_unlock(&s->lock);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	if (s->ntrees == s->trees_cap) {
		int ncap = s->trees_cap ? s->trees_cap * 2 : 4;
		void *n = realloc(s->trees, sizeof(*s->trees) * (size_t)ncap);
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			return STATUS_INSUFFICIENT_RESOURCES;
		}
		s->trees = n;
		s->trees_cap = ncap;
	}
	do
		t->id = s->next_tree_id++;
	while (t->id == 0 || t->id == UINT32_MAX || smb2_tree_lookup(s, t->id));
	s->trees[s->ntrees++] = t;
	pthread_mutex_unlock(&s->lock);
	return STATUS_SUCCESS;
}

/* "\\server\share" -> "share" (UTF-8, malloc'ed). */
static NTSTATUS parse_share_name(struct rd *path, char **out)
{
	char *full = NULL;
	if (path->len == 0 || path->len % 2 || utf16le_to_utf8(path->p, path->len, &full) < 0)
		return STATUS_BAD_NETWORK_NAME;
	const char *p = full;
	if (p[0] == '\\' && p[1] == '\\') {
		p = strchr(p + 2, '\\');
		if (!p) {
			free(full);
			return STATUS_BAD_NETWORK_NAME;
		}
		p++;
	}
	if (!*p || strchr(p, '\\')) {
		free(full);
		return STATUS_BAD_NETWORK_NAME;
	}
	*out = strdup(p);
	free(full);
	return *out ? STATUS_SUCCESS : STATUS_NO_MEMORY;
}

static NTSTATUS open_tree(struct smb2_req *req, const struct conf_share *sh, struct smb2_tree *t)
{
	t->is_ipc = sh->is_ipc;
	t->read_only = sh->read_only;
	t->durable_handles = sh->durable_handles;
	t->max_access = sh->read_only ? MAX_ACCESS_READ : FILE_ALL_ACCESS;
	/* per-share "smb encrypt" (3.3.5.7): required refuses clients that cannot encrypt */
	if (sh->smb_encrypt == CONF_ENC_REQUIRED || sh->smb_encrypt == CONF_ENC_DESIRED) {
		if (smb2_conn_can_encrypt(req->conn)) {
			t->encrypt = true;
			t->share_flags |= SMB2_SHAREFLAG_ENCRYPT_DATA;
		} else if (sh->smb_encrypt == CONF_ENC_REQUIRED) {
			return STATUS_ACCESS_DENIED;
		}
	}
	if (sh->is_ipc) {
		t->share_flags |= SMB2_SHAREFLAG_NO_CACHING;
		return STATUS_SUCCESS;
	}
	/* "hide unreadable": access-based enumeration (smb2_dir.c filters the entries) */
	if (sh->hide_unreadable)
		t->share_flags |= SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM;
	struct vfs_share_opts o = {
		.read_only = sh->read_only,
		.case_sensitive = sh->case_sensitive,
		.create_mask = sh->create_mask,
		.directory_mask = sh->directory_mask,
	};
	vfs_ident_apply(&req->session->ident);
	int rc = vfs_share_open(sh->path, &o, &t->vfs);
	vfs_ident_apply(NULL);
	if (rc < 0) {
		LOG_WARN(LOG_SMB2, "share [%s]: cannot open %s: %s", sh->name, sh->path,
			 strerror(-rc));
		return rc == -EACCES || rc == -EPERM ? STATUS_ACCESS_DENIED : STATUS_BAD_NETWORK_NAME;
	}
	return STATUS_SUCCESS;
}

bool smb2_tcon_unprotected(uint16_t dialect, bool anonymous, bool guest, bool is_signed,
			   bool encrypted)
{
	return dialect == SMB2_DIALECT_311 && !anonymous && !guest && !is_signed && !encrypted;
}

NTSTATUS smb2_tree_connect(struct smb2_req *req)
{
	/* 3.3.5.7: on 3.1.1 an authenticated user's TREE_CONNECT comes signed (3.2.4.1.1) or
	   encrypted; one that is neither may have been stripped of its signature on the way
	   (downgrading the session to unsigned), so the connection ends */
	struct smb2_session *sess = req->session;
	if (smb2_tcon_unprotected(req->conn->dialect, sess->anonymous, sess->guest,
				  req->hdr_flags & SMB2_FLAGS_SIGNED, req->encrypted)) {
		LOG_WARN(LOG_SMB2, "%s: unsigned 3.1.1 TREE_CONNECT of user %s: disconnecting",
			 req->conn->peer, sess->user);
		req->disconnect = true;
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	}
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint16_t flags = rd_u16(&b);
	uint16_t poff = rd_u16(&b);
	uint16_t plen = rd_u16(&b);
	struct rd path = rd_sub(&req->msg, poff, plen);
	if (!rd_ok(&b) || !rd_ok(&path))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (flags & SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT && req->conn->dialect >= 0x0311) {
		/* 2.2.9.1: the path is then found through the extension's PathOffset */
		struct rd ext = path;
		rd_skip(&ext, 4);
		uint32_t off2 = rd_u32(&ext);
		(void)off2;
		return SMB2_ERR(req, STATUS_NOT_SUPPORTED);
	}
	char *name = NULL;
	NTSTATUS st = parse_share_name(&path, &name);
	if (st)
		return SMB2_ERR(req, st);
	struct shoal_conf *conf = smb2_server_conf(req->srv);
	const struct conf_share *sh = conf_find_share(conf, name);
	struct smb2_tree *t = NULL;
	if (!sh) {
		st = STATUS_BAD_NETWORK_NAME;
		goto out;
	}
	st = check_access(req->session, sh);
	if (st)
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->share_name = strdup(sh->name))) {
		st = STATUS_NO_MEMORY;
		goto out;
	}
	atomic_init(&t->refs, 1);
	t->session = req->session;
	st = open_tree(req, sh, t);
	if (st)
		goto out;
	st = add_tree(req->session, t);
	if (st)
		goto out;
	req->tree_id = t->id;
	struct wr *w = req->out;
	wr_u16(w, 16);
	wr_u8(w, t->is_ipc ? SMB2_SHARE_TYPE_PIPE : SMB2_SHARE_TYPE_DISK);
	wr_u8(w, 0);
	wr_u32(w, t->share_flags);
	wr_u32(w, 0); /* Capabilities: no DFS, continuous availability or scale-out yet */
	wr_u32(w, t->max_access);
	LOG_INFO(LOG_SMB2, "%s: user '%s' connected to [%s] (tree %u)", req->conn->peer,
		 req->session->user, t->share_name, t->id);
	t = NULL;
out:
	if (t) {
		if (t->vfs)
			vfs_share_close(t->vfs);
		free(t->share_name);
		free(t);
	}
	if (st && st != STATUS_BAD_NETWORK_NAME)
		LOG_INFO(LOG_SMB2, "%s: tree connect to '%s' refused: %s", req->conn->peer, name,
			 ntstatus_name(st));
	free(name);
	conf_put(conf);
	return st;
}

NTSTATUS smb2_tree_disconnect(struct smb2_req *req)
{
	smb2_tree_teardown(req->tree);
	req->tree = NULL;
	wr_u16(req->out, 4);
	wr_u16(req->out, 0);
	return STATUS_SUCCESS;
}
