/* Open objects: FileId allocation and lookup (MS-SMB2 3.3.5.2.7.2 for the compound FileId),
 * publication in the session's open table, and the close path shared by CLOSE, TREE_DISCONNECT,
 * LOGOFF and connection teardown (share-mode release, delete on close, VFS close). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "rpc/rpc.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"
#include "state/durable.h"
#include "state/notify.h"
#include "state/lease.h"
#include "state/state.h"

#define FID_COMPOUND UINT64_MAX

uint16_t smb2_req_channel_sequence(const struct smb2_req *req)
{
	if (req->conn->dialect < SMB2_DIALECT_300 || req->msg.len < 10)
		return 0;
	return get_le16(req->msg.p + 8);
}

/* 3.3.5.2.10: requests of 3.x carry the ChannelSequence of the client's current channel; a
 * newer one than the open's (a channel failed over) becomes the open's, and a WRITE, IOCTL or
 * SET_INFO with an older one (sent before the failover) is refused. */
static bool channel_sequence_ok(struct smb2_req *req, struct smb2_open *op)
{
	if (req->conn->dialect < SMB2_DIALECT_300)
		return true;
	uint16_t csn = smb2_req_channel_sequence(req);
	uint16_t diff = (uint16_t)(csn - op->channel_sequence);
	if (diff == 0)
		return true;
	if (diff <= 0x7FFF) {
		op->channel_sequence = csn;
		return true;
	}
	return req->cmd != SMB2_WRITE && req->cmd != SMB2_IOCTL && req->cmd != SMB2_SET_INFO;
}

NTSTATUS smb2_open_lookup(struct smb2_req *req, uint64_t persistent, uint64_t volatile_id,
			  struct smb2_open **out)
{
	if (persistent == FID_COMPOUND && volatile_id == FID_COMPOUND) {
		/* 3.3.5.2.7.2: in a related chain, the id of the last CREATE */
		if (!req->related || !req->compound_fid_valid || !*req->compound_fid_valid)
			return STATUS_FILE_CLOSED;
		persistent = req->compound_fid[0];
		volatile_id = req->compound_fid[1];
	}
	struct smb2_session *s = req->session;
	struct smb2_open *found = NULL;
	if (!s)
		return STATUS_FILE_CLOSED;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nopens; i++) {
		struct smb2_open *op = s->opens[i];
		if (op->volatile_id == volatile_id && op->persistent_id == persistent) {
			found = op;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!found || (req->tree && found->tree != req->tree))
		return STATUS_FILE_CLOSED;
	found->replay_eligible = false; /* a replay of its CREATE now makes a new open */
	if (!channel_sequence_ok(req, found))
		return STATUS_FILE_NOT_AVAILABLE;
	*out = found;
	return STATUS_SUCCESS;
}

NTSTATUS smb2_open_from_body(struct smb2_req *req, struct rd *r, struct smb2_open **out)
{
	uint64_t p = rd_u64(r);
	uint64_t v = rd_u64(r);
	if (!rd_ok(r))
		return STATUS_INVALID_PARAMETER;
	return smb2_open_lookup(req, p, v, out);
}

NTSTATUS smb2_open_limit(struct smb2_req *req)
{
	struct shoal_conf *conf = smb2_server_conf(req->srv);
	int max = conf->max_open_files;
	conf_put(conf);
	struct smb2_session *s = req->session;
	pthread_mutex_lock(&s->lock);
	bool full = max > 0 && s->nopens >= max;
	pthread_mutex_unlock(&s->lock);
	return full ? STATUS_TOO_MANY_OPENED_FILES : STATUS_SUCCESS;
}

struct smb2_open *smb2_open_new(struct smb2_req *req)
{
	struct smb2_open *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	struct smb2_session *s = req->session;
	op->session = s;
	op->tree = req->tree;
	atomic_fetch_add(&req->tree->refs, 1);
	do
		op->persistent_id = atomic_fetch_add(&req->srv->next_persistent_id, 1);
	while (op->persistent_id == 0 || op->persistent_id == FID_COMPOUND);
	pthread_mutex_lock(&s->lock);
	do
		op->volatile_id = s->next_volatile_id++;
	while (op->volatile_id == 0 || op->volatile_id == FID_COMPOUND);
	pthread_mutex_unlock(&s->lock);
	return op;
}

int smb2_open_publish(struct smb2_req *req, struct smb2_open *op)
{
	struct smb2_session *s = req->session;
	pthread_mutex_lock(&s->lock);
	if (s->nopens == s->opens_cap) {
		int ncap = s->opens_cap ? s->opens_cap * 2 : 8;
		void *n = realloc(s->opens, sizeof(*s->opens) * (size_t)ncap);
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		s->opens = n;
		s->opens_cap = ncap;
	}
	s->opens[s->nopens++] = op;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void smb2_open_unpublish(struct smb2_open *op)
{
	struct smb2_session *s = op->session;
	if (!s)
		return; /* a detached durable open is in no session */
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nopens; i++)
		if (s->opens[i] == op) {
			s->opens[i] = s->opens[--s->nopens];
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

/* Releases the share mode; the last close of a delete-pending file removes its name. Runs
 * under the session's identity even when called from teardown outside a request. */
static void release_file(struct smb2_open *op)
{
	struct vfs_ident saved;
	vfs_ident_get(&saved);
	const struct smb2_session *s = op->session;
	bool as_user = s ? !(s->anonymous && s->ident.uid == 0) : op->owner_as_user;
	if (as_user)
		vfs_ident_apply(s ? &s->ident : &op->owner_ident);
	int del = state_share_remove(op->state_rec);
	op->state_rec = NULL;
	/* a stream open deletes its stream, or (the last open of a delete-pending file) the file
	   with all its streams: vfs_unlink of a stream handle removes its file's name */
	int rc = 0;
	/* the oplock entry stays until the close ends (smb2_open_close) but no longer counts: a
	   create may make a new file of the freed inode meanwhile (smb2.durable-open.delete_on_close1
	   under load got a lower oplock from this open's entry) */
	if (del == STATE_DELETE_STREAM || del == STATE_DELETE_FILE)
		state_oplock_retire(op->oplock);
	if (del == STATE_DELETE_STREAM)
		rc = vfs_stream_delete(op->file);
	else if (del == STATE_DELETE_FILE)
		rc = vfs_unlink(op->file);
	/* a non-empty directory stays, as on Windows where the delete fails at close */
	if (rc < 0)
		LOG_INFO(LOG_SMB2, "delete on close of '%s': %s", op->file->path, strerror(-rc));
	vfs_close(op->file);
	op->file = NULL;
	if (as_user)
		vfs_ident_apply(saved.uid || saved.gid || saved.ngroups ? &saved : NULL);
}

void smb2_open_close(struct smb2_open *op)
{
	if (!op)
		return;
	/* requests waiting on the open end first (a change notify answers STATUS_NOTIFY_CLEANUP) */
	if (op->session && op->session->conn)
		smb2_pending_cancel_open(op->session->conn, op, STATUS_FILE_CLOSED);
	if (op->watch && op->state_rec)
		state_open_on_delete_pending(op->state_rec, NULL, NULL);
	state_watch_free(op->watch);
	op->watch = NULL;
	smb2_open_unpublish(op);
	if (op->dir_state && op->dir_state_free)
		op->dir_state_free(op->dir_state);
	op->dir_state = NULL;
	state_durable_remove(op->durable);
	op->durable = NULL;
	if (op->file)
		release_file(op);
	else if (op->state_rec)
		state_share_remove(op->state_rec);
	/* the oplock entry goes last: removing it wakes the creates waiting for this open's
	   break, and their retry (on another thread at once) must find the share-mode entry
	   gone too, or it fails with a sharing violation (smb2.oplock.batch3) */
	state_oplock_remove(op->oplock);
	op->oplock = NULL;
	if (op->pipe)
		rpc_pipe_close(op->pipe);
	if (op->tree)
		smb2_tree_put(op->tree);
	free(op->name);
	free(op);
}

void smb2_write_fileid(struct wr *w, const struct smb2_open *op)
{
	wr_u64(w, op->persistent_id);
	wr_u64(w, op->volatile_id);
}

/* Collects a reference to every session of the server (the status snapshot's pattern: the
 * session locks are taken later with no other lock held). */
static int all_sessions(struct smb2_server *srv, struct smb2_session ***out)
{
	struct smb2_session **v = NULL;
	int n = 0, cap = 0, rc = 0;
	pthread_mutex_lock(&srv->conns_lock);
	for (struct smb2_conn *c = srv->conns; c && !rc; c = c->list_next) {
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < c->nsessions && !rc; i++) {
			if (n == cap) {
				int ncap = cap ? cap * 2 : 16;
				void *nv = realloc(v, sizeof(*v) * (size_t)ncap);
				if (!nv) {
					rc = -ENOMEM;
					break;
				}
				v = nv;
				cap = ncap;
			}
			atomic_fetch_add(&c->sessions[i]->refs, 1);
			v[n++] = c->sessions[i];
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&srv->conns_lock);
	*out = v;
	return rc < 0 ? rc : n;
}

int smb2_opens_below(struct smb2_server *srv, const struct smb2_open *dir)
{
	struct smb2_session **v;
	int n = all_sessions(srv, &v);
	size_t len = strlen(dir->name);
	int found = 0;
	for (int i = 0; i < (n < 0 ? 0 : n); i++) {
		struct smb2_session *s = v[i];
		pthread_mutex_lock(&s->lock);
		for (int j = 0; j < s->nopens && !found; j++) {
			const struct smb2_open *o = s->opens[j];
			if (!o->file || !o->tree || o->tree->vfs == NULL ||
			    strcasecmp(o->tree->share_name, dir->tree->share_name))
				continue;
			found = !strncmp(o->name, dir->name, len) && o->name[len] == '/';
		}
		pthread_mutex_unlock(&s->lock);
		smb2_session_put(s);
	}
	free(v);
	return n < 0 ? n : found;
}
