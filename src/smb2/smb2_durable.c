/* Durable handles (see smb2_durable.h and state/durable.h).
 *
 * Life of a durable open: CREATE grants it (smb2_durable_grant adds its record to the server's
 * table, attached). When its session ends without a CLOSE or TREE_DISCONNECT (the connection is
 * lost, LOGOFF, a reconnect elsewhere with PreviousSessionId) the open is detached
 * (smb2_durable_detach): it leaves the session's table but keeps its file, share mode, locks and
 * oplock or lease, and its tree (the share) stays alive for it. A reconnect attaches it to the new
 * session and tree; the table's thread closes it when its timeout passes, or at once when a
 * break it cannot acknowledge is needed (smb2_oplock_send_break dooms it), so other clients are
 * held no longer than necessary.
 *
 * Threads: detach runs on the worker tearing down the session; a break may be sent to the open
 * from any worker with the lease table's mutex held. The open is marked detached before its
 * session pointer is cleared, and state_oplock_detach (which takes that mutex) runs in between,
 * so a break callback either saw the open attached and finished, or sees it detached and never
 * follows the session. A detached open is touched only by whoever holds its record: the table's
 * thread after removing it (expiry), or a reconnect after state_durable_take. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "smb2/smb2_async.h"
#include "smb2/smb2_durable.h"
#include "smb2/smb2_file.h"
#include "state/durable.h"
#include "state/notify.h"

_Static_assert(sizeof(struct sid) <= STATE_DURABLE_OWNER_MAX, "owner SID fits the record");

/* ---- contexts ---- */

NTSTATUS smb2_dh_parse(struct smb2_dh_req *d, const uint8_t *tag, struct rd data,
		       uint16_t dialect)
{
	if (!memcmp(tag, "DHnQ", 4)) {
		if (data.len != 16)
			return STATUS_INVALID_PARAMETER;
		d->dhnq = true;
	} else if (!memcmp(tag, "DHnC", 4)) {
		if (data.len != 16)
			return STATUS_INVALID_PARAMETER;
		d->dhnc = true;
		d->fid_persistent = rd_u64(&data);
		d->fid_volatile = rd_u64(&data);
	} else if (!memcmp(tag, "DH2Q", 4)) {
		if (dialect < SMB2_DIALECT_300)
			return STATUS_SUCCESS;
		if (data.len != 32)
			return STATUS_INVALID_PARAMETER;
		d->dh2q = true;
		d->timeout = rd_u32(&data);
		d->flags = rd_u32(&data);
		rd_skip(&data, 8);
		rd_bytes(&data, d->create_guid, 16);
	} else if (!memcmp(tag, "DH2C", 4)) {
		if (dialect < SMB2_DIALECT_300)
			return STATUS_SUCCESS;
		if (data.len != 36)
			return STATUS_INVALID_PARAMETER;
		d->dh2c = true;
		d->fid_persistent = rd_u64(&data);
		d->fid_volatile = rd_u64(&data);
		rd_bytes(&data, d->create_guid, 16);
		d->flags = rd_u32(&data);
	}
	return STATUS_SUCCESS;
}

NTSTATUS smb2_dh_check(struct smb2_dh_req *d, bool *reconnect)
{
	/* 3.3.5.9.10: DH2Q beside DHnQ or DHnC; 3.3.5.9.12: DH2C beside DHnQ, DHnC or DH2Q */
	if (d->dh2q && (d->dhnq || d->dhnc))
		return STATUS_INVALID_PARAMETER;
	if (d->dh2c && (d->dhnq || d->dhnc || d->dh2q))
		return STATUS_INVALID_PARAMETER;
	/* 3.3.5.9.7: a reconnect ignores a DHnQ beside it */
	if (d->dhnc)
		d->dhnq = false;
	*reconnect = d->dhnc || d->dh2c;
	return STATUS_SUCCESS;
}

/* ---- grant ---- */

struct dh_conf {
	bool enabled;
	uint32_t timeout_ms, max_timeout_ms;
};

static void dh_conf(struct smb2_req *req, struct dh_conf *out)
{
	struct shoal_conf *conf = smb2_server_conf(req->srv);
	/* the share's "durable handles" (Samba's name; default yes) */
	out->enabled = req->tree && req->tree->durable_handles;
	out->timeout_ms = (uint32_t)conf->durable_timeout * 1000u;
	out->max_timeout_ms = (uint32_t)conf->durable_max_timeout * 1000u;
	conf_put(conf);
}

int smb2_durable_grant(struct smb2_req *req, struct smb2_open *op, const struct smb2_dh_req *d,
		       const struct state_oplock_grant *g, const uint8_t lease_key[16],
		       uint32_t *timeout_ms)
{
	if (!d->dhnq && !d->dh2q)
		return 0;
	struct dh_conf c;
	dh_conf(req, &c);
	if (!c.enabled || !op->file || !req->srv->durable)
		return 0;
	uint64_t pid;
	bool attached;
	if (d->dh2q && !(req->hdr_flags & SMB2_FLAGS_REPLAY_OPERATION) &&
	    state_durable_find_guid(req->srv->durable, req->conn->client_guid, d->create_guid,
				    &pid, &attached))
		return -1; /* 3.3.5.9.10: the CreateGuid is in use (STATUS_DUPLICATE_OBJECTID) */
	/* 3.3.5.9.6 / 3.3.5.9.10: a batch oplock or a lease with handle caching (persistent
	   handles would not need one, but no share is continuously available) */
	bool lease = g->level == STATE_OPLOCK_LEASE;
	bool can = g->level == STATE_OPLOCK_BATCH || (lease && (g->lease_state & STATE_LEASE_H));
	if (!can && !d->dh2q)
		return 0;
	/* a DH2Q open that cannot be durable is still known by its CreateGuid, for replays */
	struct state_durable_rec rec = {0};
	rec.replay_only = !can;
	rec.persistent_id = op->persistent_id;
	rec.version = d->dh2q ? 2 : 1;
	memcpy(rec.client_guid, req->conn->client_guid, 16);
	uint32_t t = c.timeout_ms;
	if (d->dh2q) {
		memcpy(rec.create_guid, d->create_guid, 16);
		if (d->timeout)
			t = d->timeout < c.max_timeout_ms ? d->timeout : c.max_timeout_ms;
		else if (t > c.max_timeout_ms)
			t = c.max_timeout_ms;
	}
	rec.timeout_ms = t;
	snprintf(rec.share, sizeof(rec.share), "%s", op->tree->share_name);
	struct state_key key = {0};
	struct vfs_stat st;
	if (vfs_fstat(op->file, &st) == 0) {
		key.dev = st.dev;
		key.ino = st.ino;
	}
	rec.key = key;
	rec.access = op->access;
	rec.share_access = op->share_access;
	rec.create_options = op->create_options;
	rec.oplock_level = g->level;
	if (lease)
		memcpy(rec.lease_key, lease_key, 16);
	memcpy(rec.owner, &req->session->user_sid, sizeof(struct sid));
	rec.owner_len = (uint8_t)sizeof(struct sid);
	rec.session_id = req->session->id;
	int rc = state_durable_add(req->srv->durable, &rec, op, &op->durable);
	if (rc == -EEXIST && !(req->hdr_flags & SMB2_FLAGS_REPLAY_OPERATION))
		return -1; /* 3.3.5.9.10: the CreateGuid is in use (STATUS_DUPLICATE_OBJECTID) */
	if (rc < 0)
		return 0;
	op->durable_db = req->srv->durable;
	if (rec.replay_only)
		return 0;
	op->is_durable = true;
	*timeout_ms = t;
	return rec.version;
}

/* ---- detach and expiry ---- */

bool smb2_durable_detach(struct smb2_open *op)
{
	if (!op->durable || !op->is_durable || !op->file || !op->oplock)
		return false;
	atomic_store(&op->detached, true);
	/* a break of it in flight could never be acknowledged: close it now instead */
	if (state_oplock_detach(op->oplock, NULL)) {
		atomic_store(&op->detached, false);
		return false;
	}
	const struct smb2_session *s = op->session;
	op->owner_ident = s->ident;
	op->owner_as_user = !(s->anonymous && s->ident.uid == 0);
	if (op->watch && op->state_rec)
		state_open_on_delete_pending(op->state_rec, NULL, NULL);
	state_watch_free(op->watch);
	op->watch = NULL;
	if (op->dir_state && op->dir_state_free)
		op->dir_state_free(op->dir_state);
	op->dir_state = NULL;
	smb2_open_unpublish(op);
	op->session = NULL;
	LOG_DBG(LOG_SMB2, "durable open '%s' (0x%llx) disconnected", op->name,
		(unsigned long long)op->persistent_id);
	state_durable_detach(op->durable);
	return true;
}

void smb2_durable_expire(void *owner)
{
	struct smb2_open *op = owner;
	LOG_DBG(LOG_SMB2, "durable open '%s' (0x%llx) closed while disconnected", op->name,
		(unsigned long long)op->persistent_id);
	op->durable = NULL; /* the table has removed its record */
	smb2_open_close(op);
}

/* ---- reconnect ---- */

/* 3.3.5.9.7 / 3.3.5.9.12: whether this request may reconnect the open of rec. */
static NTSTATUS reconnect_check(struct smb2_req *req, const struct smb2_dh_req *d,
				const struct smb2_dh_lease *lease, struct rd name,
				const struct state_durable_rec *rec, const struct smb2_open *op)
{
	/* DH2C names the CreateGuid (a v1 open has none: all zeros, as Windows matches it) */
	if (d->dh2c && memcmp(rec->create_guid, d->create_guid, 16))
		return STATUS_OBJECT_NAME_NOT_FOUND;
	bool has_lease = rec->oplock_level == STATE_OPLOCK_LEASE;
	if (has_lease != lease->present)
		return STATUS_OBJECT_NAME_NOT_FOUND;
	if (has_lease) {
		/* a lease is the client's: same ClientGuid and LeaseKey, and the same file name */
		if (memcmp(rec->client_guid, req->conn->client_guid, 16) ||
		    memcmp(rec->lease_key, lease->key, 16))
			return STATUS_OBJECT_NAME_NOT_FOUND;
		char *path = NULL;
		NTSTATUS st = smb2_wire_path(name.p, name.len, &path);
		bool same = !st && op->name && !strcasecmp(path, op->name);
		free(path);
		if (!same)
			return STATUS_INVALID_PARAMETER;
	}
	if (rec->owner_len != sizeof(struct sid) ||
	    memcmp(rec->owner, &req->session->user_sid, sizeof(struct sid)))
		return STATUS_ACCESS_DENIED;
	if (!req->tree || req->tree->is_ipc || strcasecmp(rec->share, req->tree->share_name))
		return STATUS_OBJECT_NAME_NOT_FOUND;
	return STATUS_SUCCESS;
}

/* Takes the record; a session being torn down on another connection (a reconnect with
 * PreviousSessionId, or a connection just lost) may still hold the open for a moment: wait for
 * it to let go. An open the requesting session itself holds is not found. */
static int take_record(struct smb2_req *req, uint64_t pid, struct state_durable_rec *rec,
		       void **owner, struct state_durable **h)
{
	for (int tries = 0;; tries++) {
		int rc = state_durable_take(req->srv->durable, pid, req->session->id, rec, owner,
					    h);
		/* a session of a connection the server has not yet seen go may hold it as well:
		   wait up to 2 s for any other session */
		if (rc != -EBUSY || rec->session_id == req->session->id || tries >= 200)
			return rc;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
}

NTSTATUS smb2_durable_reconnect(struct smb2_req *req, const struct smb2_dh_req *d,
				const struct smb2_dh_lease *lease, struct rd name,
				struct smb2_open **out, struct state_oplock_grant *cur)
{
	struct dh_conf c;
	dh_conf(req, &c);
	if (!c.enabled || !req->srv->durable)
		return STATUS_OBJECT_NAME_NOT_FOUND;
	struct state_durable_rec rec;
	void *owner = NULL;
	struct state_durable *h = NULL;
	if (take_record(req, d->fid_persistent, &rec, &owner, &h) < 0)
		return STATUS_OBJECT_NAME_NOT_FOUND;
	struct smb2_open *op = owner;
	NTSTATUS st = reconnect_check(req, d, lease, name, &rec, op);
	if (st) {
		state_durable_untake(h);
		return st;
	}
	/* attach: the new tree's share replaces the old one, a new volatile id */
	struct smb2_session *s = req->session;
	struct smb2_tree *old = op->tree;
	atomic_fetch_add(&req->tree->refs, 1);
	op->tree = req->tree;
	op->file->sh = req->tree->vfs;
	op->session = s;
	pthread_mutex_lock(&s->lock);
	do
		op->volatile_id = s->next_volatile_id++;
	while (op->volatile_id == 0 || op->volatile_id == UINT64_MAX);
	pthread_mutex_unlock(&s->lock);
	if (smb2_open_publish(req, op) < 0) {
		/* cannot be attached: it goes as if the client had closed it */
		atomic_store(&op->detached, false);
		smb2_tree_put(old);
		smb2_open_close(op);
		return STATUS_NO_MEMORY;
	}
	atomic_store(&op->detached, false);
	smb2_tree_put(old);
	op->channel_sequence = smb2_req_channel_sequence(req);
	op->replay_eligible = false;
	state_oplock_detach(op->oplock, cur);
	LOG_DBG(LOG_SMB2, "durable open '%s' (0x%llx) reconnected", op->name,
		(unsigned long long)op->persistent_id);
	*out = op;
	return STATUS_SUCCESS;
}

/* ---- create replay ---- */

NTSTATUS smb2_durable_replay(struct smb2_req *req, const struct smb2_dh_req *d,
			     const struct smb2_dh_lease *lease, struct smb2_open **out,
			     struct state_oplock_grant *cur, uint32_t *timeout_ms)
{
	*out = NULL;
	if (!d->dh2q || !(req->hdr_flags & SMB2_FLAGS_REPLAY_OPERATION) || !req->srv->durable)
		return STATUS_SUCCESS;
	uint64_t pid;
	bool attached;
	if (!state_durable_find_guid(req->srv->durable, req->conn->client_guid, d->create_guid,
				     &pid, &attached) ||
	    !attached)
		return STATUS_SUCCESS;
	/* the open answered before is in this session (a replay comes on the same session,
	   maybe through another channel); found there it is safe to use, the session's worker
	   being the only one that closes it */
	struct smb2_session *s = req->session;
	struct smb2_open *op = NULL;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nopens && !op; i++)
		if (s->opens[i]->persistent_id == pid && s->opens[i]->durable &&
		    s->opens[i]->replay_eligible)
			op = s->opens[i];
	pthread_mutex_unlock(&s->lock);
	if (!op)
		return STATUS_SUCCESS;
	struct state_durable_rec rec;
	state_durable_get(op->durable, &rec);
	/* 3.3.5.9.10: the replay must ask for the same kind of caching on the same lease */
	bool has_lease = rec.oplock_level == STATE_OPLOCK_LEASE;
	if (has_lease != lease->present || (has_lease && memcmp(rec.lease_key, lease->key, 16)))
		return STATUS_ACCESS_DENIED;
	state_oplock_detach(op->oplock, cur);
	*timeout_ms = rec.replay_only ? 0 : rec.timeout_ms;
	*out = op;
	return STATUS_SUCCESS;
}
