/* Oplock and lease breaks on the wire (MS-SMB2 2.2.23-2.2.25, 3.3.4.6, 3.3.4.7, 3.3.5.22): the
 * notification the state layer asks for when another open conflicts, and the acknowledgements.
 * The grant and break rules themselves are in src/state/lease.c.
 *
 * Sending to another connection: smb2_oplock_send_break runs on whatever thread broke the
 * oplock (another connection's worker), with the lease table's mutex held. The open it is given
 * is still in that table, so it has not been closed: its session and connection are alive
 * (connection teardown closes every open, which takes the same mutex, before freeing anything;
 * a session that moves to another channel's connection does so under its send_lock),
 * and the transport's send hook may be called from any thread. The notification is built
 * without touching the connection's worker-only state (credits, pending list). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"
#include "state/durable.h"
#include "state/lease.h"

#define SMB2_LEASE_BREAK_ACK_REQUIRED 0x01u

static bool break_encrypted(const struct smb2_open *op)
{
	const struct smb2_session *s = op->session;
	return s->state == SESS_VALID && (s->encrypt_data || (op->tree && op->tree->encrypt));
}

static void send_break(struct smb2_conn *c, struct smb2_open *op, const struct state_break *b)
{
	struct smb2_session *s = op->session;
	if (!c || !c->tp || !c->tp->send)
		return;
	struct wr w;
	wr_init(&w, 160);
	wr_space(&w, SMB2_OUT_HEADROOM);
	size_t hdr = w.len;
	/* 3.3.4.6/3.3.4.7: unsolicited, MessageId all ones, no session, tree or credits */
	wr_u32(&w, SMB2_PROTOCOL_ID);
	wr_u16(&w, 64);
	wr_u16(&w, 0);
	wr_u32(&w, 0);
	wr_u16(&w, SMB2_OPLOCK_BREAK);
	wr_u16(&w, 0);
	wr_u32(&w, SMB2_FLAGS_SERVER_TO_REDIR);
	wr_u32(&w, 0);
	wr_u64(&w, UINT64_MAX);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_u64(&w, 0);
	wr_zero(&w, 16);
	if (b->lease) {
		/* 2.2.23.2 */
		wr_u16(&w, 44);
		wr_u16(&w, b->version == 2 ? b->epoch : 0);
		wr_u32(&w, b->ack_required ? SMB2_LEASE_BREAK_ACK_REQUIRED : 0);
		wr_bytes(&w, b->key, 16);
		wr_u32(&w, b->cur);
		wr_u32(&w, b->new_state);
		wr_zero(&w, 12); /* BreakReason, AccessMaskHint, ShareMaskHint */
	} else {
		/* 2.2.23.1 */
		wr_u16(&w, 24);
		wr_u8(&w, b->oplock_level);
		wr_u8(&w, 0);
		wr_u32(&w, 0);
		smb2_write_fileid(&w, op);
	}
	if (!wr_ok(&w)) {
		wr_free(&w);
		return;
	}
	size_t start = hdr;
	if (break_encrypted(op)) {
		if (smb2_transform_encrypt(c, s, &w, hdr) < 0) {
			wr_free(&w);
			return;
		}
		start = hdr - 52;
	}
	LOG_DBG(LOG_SMB2, "%s: %s break of '%s' to 0x%x", c->peer, b->lease ? "lease" : "oplock",
		op->name ? op->name : "", b->lease ? b->new_state : b->oplock_level);
	c->tp->send(c->loop_priv, &w, start);
	smb2_torture_break_sent(c);
}

void smb2_oplock_send_break(void *owner, const struct state_break *b)
{
	struct smb2_open *op = owner;
	if (atomic_load(&op->detached)) {
		/* a disconnected durable open cannot acknowledge: it is closed instead (3.3.4.6),
		   which lets the waiting open go on */
		if (b->ack_required)
			state_durable_doom(op->durable_db, op->persistent_id);
		return;
	}
	struct smb2_session *s = op->session;
	if (!s)
		return;
	/* the session's connection changes when its first one ends while another channel lives
	   on (smb2_session_migrate): send_lock keeps the one read here alive until it is used */
	pthread_mutex_lock(&s->send_lock);
	struct smb2_conn *c = s->conn;
	if (!b->lease || !c || break_encrypted(op)) {
		send_break(c, op, b);
		pthread_mutex_unlock(&s->send_lock);
		return;
	}
	struct smb2_server *srv = c->srv;
	uint8_t guid[16];
	memcpy(guid, c->client_guid, 16);
	pthread_mutex_unlock(&s->send_lock);
	/* a lease is the client's, not one connection's: its breaks go to the client's first
	   connection still up (as Windows; smb2.lease.v2_complex1), the session's own when no
	   other qualifies. conns_lock (taken after send_lock is released: migration takes them
	   the other way round) keeps every listed connection alive (smb2_conn_free unlinks under
	   it first) and s->conn stable (migration changes it under it); client_guid and dialect
	   are set before a connection's authenticated flag, read with acquire ordering. */
	pthread_mutex_lock(&srv->conns_lock);
	struct smb2_conn *first = s->conn;
	for (struct smb2_conn *oc = srv->conns; oc; oc = oc->list_next)
		if (atomic_load(&oc->authenticated) && oc->tp && oc->tp->send &&
		    oc->dialect >= SMB2_DIALECT_210 && !memcmp(oc->client_guid, guid, 16))
			first = oc; /* the list is newest first */
	send_break(first, op, b);
	pthread_mutex_unlock(&srv->conns_lock);
}

/* ---- requests waiting for breaks (create, rename) ---- */

struct smb2_break_wait {
	struct state_lease_db *db;
	struct state_key key;
	struct smb2_pending *p;
	bool registered;
	smb2_break_run_fn run;
	void (*done)(void *arg);
	void *done_arg;
};

static void break_wake(void *arg)
{
	struct smb2_break_wait *bw = arg;
	smb2_pending_wake(bw->p);
}

static void break_unwait(struct smb2_break_wait *bw)
{
	if (bw->registered)
		state_oplock_del_waiter(bw->db, &bw->key, bw);
	bw->registered = false;
}

static NTSTATUS break_retry(struct smb2_req *req, void *priv)
{
	struct smb2_break_wait *bw = priv;
	return bw->run(req, bw);
}

static NTSTATUS break_cancel(struct smb2_req *req, void *priv, NTSTATUS reason)
{
	(void)req;
	break_unwait(priv);
	return reason;
}

static void break_free(void *priv)
{
	struct smb2_break_wait *bw = priv;
	if (!bw)
		return;
	break_unwait(bw);
	if (bw->done)
		bw->done(bw->done_arg);
	free(bw);
}

static const struct smb2_async_ops break_wait_ops = {break_retry, break_cancel, break_free};

NTSTATUS smb2_break_wait(struct smb2_req *req, const struct state_key *key, struct smb2_open *op,
			 smb2_break_run_fn run, struct smb2_break_wait *bw,
			 void (*done)(void *arg), void *arg)
{
	struct state_lease_db *db = req->srv->leases;
	/* a little past the break's own deadline, so the retry finds it expired */
	uint32_t timeout = state_lease_db_timeout(db) + 50;
	if (bw) {
		if (!bw->registered || bw->key.dev != key->dev || bw->key.ino != key->ino ||
		    bw->key.stream != key->stream) {
			break_unwait(bw);
			bw->key = *key;
			if (state_oplock_add_waiter(db, key, break_wake, bw) < 0)
				return SMB2_ERR(req, STATUS_INSUFFICIENT_RESOURCES);
			bw->registered = true;
		}
		if (req->timed_out)
			smb2_pending_set_timeout(bw->p, timeout);
		return STATUS_PENDING;
	}
	bw = calloc(1, sizeof(*bw));
	if (!bw) {
		if (done)
			done(arg);
		return SMB2_ERR(req, STATUS_NO_MEMORY);
	}
	bw->db = db;
	bw->key = *key;
	bw->run = run;
	bw->done = done;
	bw->done_arg = arg;
	NTSTATUS st = smb2_go_async(req, &break_wait_ops, bw, op, timeout, &bw->p);
	if (st != STATUS_PENDING)
		return st;
	if (state_oplock_add_waiter(db, key, break_wake, bw) == 0)
		bw->registered = true;
	/* an acknowledgement may have come before the waiter was in place: look again now */
	smb2_pending_wake(bw->p);
	return STATUS_PENDING;
}

/* 2.2.24.1 -> 2.2.25.1 */
static NTSTATUS oplock_ack(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint8_t level = rd_u8(&b);
	rd_skip(&b, 5);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	if (st)
		return SMB2_ERR(req, st);
	if (!op->oplock)
		return SMB2_ERR(req, STATUS_INVALID_OPLOCK_PROTOCOL);
	uint8_t granted = 0;
	int rc = state_oplock_ack(op->oplock, level, &granted);
	if (rc == -EINVAL)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (rc < 0)
		return SMB2_ERR(req, STATUS_INVALID_OPLOCK_PROTOCOL);
	struct wr *w = req->out;
	wr_u16(w, 24);
	wr_u8(w, granted);
	wr_u8(w, 0);
	wr_u32(w, 0);
	smb2_write_fileid(w, op);
	return STATUS_SUCCESS;
}

/* 2.2.24.2 -> 2.2.25.2 (3.3.5.22.2) */
static NTSTATUS lease_ack(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 4); /* StructureSize, Reserved */
	rd_skip(&b, 4); /* Flags */
	uint8_t key[16];
	rd_bytes(&b, key, 16);
	uint32_t state = rd_u32(&b);
	rd_skip(&b, 8); /* LeaseDuration */
	if (!rd_ok(&b))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (req->conn->dialect < SMB2_DIALECT_210)
		return SMB2_ERR(req, STATUS_NOT_SUPPORTED);
	uint32_t granted = 0;
	int rc = state_lease_ack(req->srv->leases, req->conn->client_guid, key, state, &granted);
	if (rc == -ENOENT)
		return SMB2_ERR(req, STATUS_OBJECT_NAME_NOT_FOUND);
	if (rc == -EPROTO)
		return SMB2_ERR(req, STATUS_UNSUCCESSFUL);
	if (rc < 0)
		return SMB2_ERR(req, STATUS_REQUEST_NOT_ACCEPTED);
	struct wr *w = req->out;
	wr_u16(w, 36);
	wr_u16(w, 0);
	wr_u32(w, 0); /* Flags: reserved in the response */
	wr_bytes(w, key, 16);
	wr_u32(w, granted);
	wr_u64(w, 0);
	return STATUS_SUCCESS;
}

NTSTATUS smb2_oplock_break(struct smb2_req *req)
{
	struct rd b = req->body;
	uint16_t ss = rd_u16(&b);
	return ss == 36 ? lease_ack(req) : oplock_ack(req);
}
