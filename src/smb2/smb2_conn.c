/* The request path of one connection (DESIGN.md section 3): frame -> SMB1 upgrade or SMB2
 * header -> split compound -> credit check -> session/tree resolution -> signature check ->
 * dispatch table -> handler -> header + signature of each response. The transport (src/server)
 * owns the socket; this file sees only bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ntime.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"
#include "state/notify.h"

/* Largest credit window a connection may hold (MS-SMB2 3.3.1.1 leaves it to the server). */
#define SMB2_MAX_CREDITS 8192u
#define SMB2_SEQ_BITMAP_BYTES (SMB2_MAX_CREDITS / 8)

const struct smb2_cmd_desc smb2_cmds[SMB2_NCMDS] = {
	[SMB2_NEGOTIATE] = {"NEGOTIATE", 36, false, false, false, smb2_negotiate},
	[SMB2_SESSION_SETUP] = {"SESSION_SETUP", 25, false, false, true, smb2_session_setup},
	[SMB2_LOGOFF] = {"LOGOFF", 4, true, false, true, smb2_logoff},
	[SMB2_TREE_CONNECT] = {"TREE_CONNECT", 9, true, false, true, smb2_tree_connect},
	[SMB2_TREE_DISCONNECT] = {"TREE_DISCONNECT", 4, true, true, true, smb2_tree_disconnect},
	[SMB2_CREATE] = {"CREATE", 57, true, true, true, smb2_create},
	[SMB2_CLOSE] = {"CLOSE", 24, true, true, true, smb2_close},
	[SMB2_FLUSH] = {"FLUSH", 24, true, true, true, smb2_flush},
	[SMB2_READ] = {"READ", 49, true, true, true, smb2_read},
	[SMB2_WRITE] = {"WRITE", 49, true, true, true, smb2_write},
	[SMB2_LOCK] = {"LOCK", 48, true, true, true, smb2_lock},
	[SMB2_IOCTL] = {"IOCTL", 57, true, true, true, smb2_ioctl},
	[SMB2_CANCEL] = {"CANCEL", 4, false, false, true, smb2_cancel},
	[SMB2_ECHO] = {"ECHO", 4, false, false, true, smb2_echo},
	[SMB2_QUERY_DIRECTORY] = {"QUERY_DIRECTORY", 33, true, true, true, smb2_query_directory},
	[SMB2_CHANGE_NOTIFY] = {"CHANGE_NOTIFY", 32, true, true, true, smb2_change_notify},
	[SMB2_QUERY_INFO] = {"QUERY_INFO", 41, true, true, true, smb2_query_info},
	[SMB2_SET_INFO] = {"SET_INFO", 33, true, true, true, smb2_set_info},
	[SMB2_OPLOCK_BREAK] = {"OPLOCK_BREAK", 24, true, true, true, smb2_oplock_break},
};

NTSTATUS smb2_log_status(struct smb2_req *req, NTSTATUS st, const char *file, int line)
{
	if (LOG_ON(LOG_SMB2, 5)) {
		const char *cmd = req->cmd < SMB2_NCMDS ? smb2_cmds[req->cmd].name : "?";
		log_write(LOG_SMB2, 5, file, line, "%s mid %llu -> %s", cmd,
			  (unsigned long long)req->msg_id, ntstatus_name(st));
	}
	return st;
}

/* ---- connection objects ---- */

struct smb2_conn *smb2_conn_new(struct smb2_server *srv, int fd, const char *peer)
{
	struct smb2_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->seq_bitmap = calloc(1, SMB2_SEQ_BITMAP_BYTES);
	if (!c->seq_bitmap) {
		free(c);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->pending_lock, NULL);
	c->srv = srv;
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->seq_low = 0;
	c->credits_granted = 1; /* the window starts as {0} (3.3.1.1) */
	c->max_trans = c->max_read = c->max_write = 65536;
	atomic_fetch_add(&srv->nconns, 1);
	pthread_mutex_lock(&srv->conns_lock);
	c->list_next = srv->conns;
	if (srv->conns)
		srv->conns->list_prev = c;
	srv->conns = c;
	pthread_mutex_unlock(&srv->conns_lock);
	return c;
}

void smb2_conn_free(struct smb2_conn *c)
{
	vfs_ident_apply(NULL); /* not a request: as the server (see run_locked) */
	if (!c)
		return;
	/* first out of the server's list, so the status API never sees a half-freed connection */
	pthread_mutex_lock(&c->srv->conns_lock);
	if (c->list_prev)
		c->list_prev->list_next = c->list_next;
	else
		c->srv->conns = c->list_next;
	if (c->list_next)
		c->list_next->list_prev = c->list_prev;
	pthread_mutex_unlock(&c->srv->conns_lock);
	struct smb2_conn *prev_worker = smb2_async_enter(c);
	/* a session with a bound channel lives on there (MS-SMB2 3.3.7.1), and so do its
	   requests waiting here: they move to it and finish there, unanswered */
	for (int i = c->nsessions - 1; i >= 0; i--)
		if (i < c->nsessions)
			smb2_session_migrate(c->sessions[i]);
	smb2_conn_rehome_pending(c);
	/* the others next: their cancel unregisters them from every wait list, so no other
	   thread can wake them once the connection starts going away */
	smb2_conn_cancel_all(c);
	/* teardown unlinks each session from c->sessions */
	while (c->nsessions > 0) {
		struct smb2_session *s = c->sessions[c->nsessions - 1];
		atomic_store(&s->deleted, false); /* records of deleted sessions go too */
		smb2_session_teardown(s);
	}
	/* sessions of other connections bound here lose this channel and live on */
	smb2_conn_free_channels(c);
	smb2_async_leave(prev_worker);
	free(c->sessions);
	free(c->seq_bitmap);
	pthread_mutex_destroy(&c->pending_lock);
	pthread_mutex_destroy(&c->lock);
	atomic_fetch_sub(&c->srv->nconns, 1);
	free(c);
}

size_t smb2_conn_max_frame(const struct smb2_conn *c)
{
	uint32_t m = c->max_trans;
	if (c->max_read > m)
		m = c->max_read;
	if (c->max_write > m)
		m = c->max_write;
	/* a write or transact payload plus header, body and a few compounded requests */
	return (size_t)m + 65536;
}

bool smb2_conn_frame_parallel(struct smb2_conn *c, const uint8_t *frame, size_t len)
{
	struct rd r = rd_make(frame, len);
	uint32_t proto = rd_u32(&r);
	rd_seek(&r, HDR_OFF_COMMAND);
	uint16_t cmd = rd_u16(&r);
	rd_skip(&r, 2); /* CreditRequest */
	uint32_t flags = rd_u32(&r);
	uint32_t next = rd_u32(&r);
	rd_seek(&r, HDR_OFF_SESSION_ID);
	uint64_t session_id = rd_u64(&r);
	/* the body up to the FileId, which READ and WRITE lay out alike: Offset at 8, FileId at 16
	   (MS-SMB2 2.2.19, 2.2.21) */
	rd_seek(&r, SMB2_HDR_LEN + 8);
	uint64_t offset = rd_u64(&r);
	uint64_t persistent = rd_u64(&r), volatile_id = rd_u64(&r);
	if (!rd_ok(&r) || proto != SMB2_PROTOCOL_ID || next != 0)
		return false;
	if ((cmd != SMB2_READ && cmd != SMB2_WRITE) ||
	    (flags & (SMB2_FLAGS_RELATED_OPERATIONS | SMB2_FLAGS_ASYNC_COMMAND)))
		return false;
	if (cmd == SMB2_WRITE && offset == UINT64_MAX) /* appending */
		return false;
	struct smb2_session *s = smb2_session_lookup(c, session_id);
	if (!s)
		return false;
	bool par = false;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nopens; i++) {
		struct smb2_open *op = s->opens[i];
		if (op->volatile_id == volatile_id && op->persistent_id == persistent) {
			par = op->file && !op->pipe && !op->is_dir && !op->file->stream &&
			      (cmd == SMB2_READ || (op->access & FILE_WRITE_DATA));
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	smb2_session_put(s);
	return par;
}

/* ---- credits: MS-SMB2 3.3.1.1 and 3.3.5.2.3 ---- */

static bool seq_test(const struct smb2_conn *c, uint64_t id)
{
	uint64_t b = id % SMB2_MAX_CREDITS;
	return c->seq_bitmap[b / 8] & (1u << (b % 8));
}

static void seq_set(struct smb2_conn *c, uint64_t id, bool v)
{
	uint64_t b = id % SMB2_MAX_CREDITS;
	if (v)
		c->seq_bitmap[b / 8] |= (uint8_t)(1u << (b % 8));
	else
		c->seq_bitmap[b / 8] &= (uint8_t) ~(1u << (b % 8));
}

/* Consumes message ids [mid, mid + charge) from the window; false if any is outside it or used. */
static bool seq_consume(struct smb2_conn *c, uint64_t mid, uint16_t charge)
{
	uint64_t high = c->seq_low + c->credits_granted;
	if (charge == 0)
		charge = 1;
	if (mid < c->seq_low || mid > UINT64_MAX - charge || mid + charge > high)
		return false;
	for (uint64_t i = mid; i < mid + charge; i++)
		if (seq_test(c, i))
			return false;
	for (uint64_t i = mid; i < mid + charge; i++)
		seq_set(c, i, true);
	while (c->credits_granted > 0 && seq_test(c, c->seq_low)) {
		seq_set(c, c->seq_low, false);
		c->seq_low++;
		c->credits_granted--;
	}
	return true;
}

/* Grants credits for a response: what the client asked, at least one when the request consumed
 * the client's last credit, capped by the window size. */
static uint16_t seq_grant(struct smb2_conn *c, uint16_t charge, uint16_t requested)
{
	uint32_t outstanding = c->credits_granted; /* ids still usable or in flight */
	uint32_t room = SMB2_MAX_CREDITS > outstanding ? SMB2_MAX_CREDITS - outstanding : 0;
	uint32_t want = requested;
	if (want == 0)
		want = 1;
	if (want > room)
		want = room;
	/* never leave a client with no credit at all */
	if (want == 0 && outstanding == 0)
		want = 1;
	c->credits_granted += want;
	(void)charge;
	return (uint16_t)want;
}

/* 3.3.5.2.5: the credits a request of this size must be charged (0 = not checked). */
static uint32_t credits_needed(struct smb2_req *req)
{
	struct rd b = req->body;
	uint32_t payload = 0;
	switch (req->cmd) {
	case SMB2_READ:
		rd_skip(&b, 4);
		payload = rd_u32(&b);
		break;
	case SMB2_WRITE:
		rd_skip(&b, 4);
		payload = rd_u32(&b);
		break;
	case SMB2_IOCTL: {
		rd_skip(&b, 28); /* up to InputCount */
		uint32_t in = rd_u32(&b);
		uint32_t maxin = rd_u32(&b);
		rd_skip(&b, 8);
		uint32_t maxout = rd_u32(&b);
		payload = in > maxin ? in : maxin;
		if (maxout > payload)
			payload = maxout;
		break;
	}
	case SMB2_QUERY_DIRECTORY:
		rd_skip(&b, 28);
		payload = rd_u32(&b);
		break;
	default:
		return 1;
	}
	if (!rd_ok(&b))
		return 1;
	return payload ? (payload - 1) / 65536 + 1 : 1;
}

/* ---- signing ---- */

void smb2_sign_message(struct smb2_conn *c, struct smb2_session *s, uint8_t *msg, size_t len)
{
	struct iovec iov = {msg, len};
	uint8_t sig[16], key[16];
	enum smb2_sign_alg alg;
	put_le32(msg + HDR_OFF_FLAGS, get_le32(msg + HDR_OFF_FLAGS) | SMB2_FLAGS_SIGNED);
	smb2_signing_key_for(c, s, key, &alg);
	if (smb2_sign(alg, key, &iov, 1, sig) == 0)
		memcpy(msg + HDR_OFF_SIGNATURE, sig, 16);
	explicit_bzero(key, sizeof(key));
}

static bool verify_message(struct smb2_conn *c, struct smb2_session *s, const uint8_t *msg,
			   size_t len)
{
	struct iovec iov = {(void *)msg, len};
	uint8_t key[16];
	enum smb2_sign_alg alg;
	smb2_signing_key_for(c, s, key, &alg);
	bool ok = smb2_sign_verify(alg, key, &iov, 1) == 0;
	explicit_bzero(key, sizeof(key));
	return ok;
}

/* ---- responses ---- */

void smb2_write_response_header(struct smb2_req *req, size_t hdr_off, uint16_t credits)
{
	struct wr *w = req->out;
	uint8_t *h = wr_at(w, hdr_off);
	if (!h)
		return;
	memset(h, 0, SMB2_HDR_LEN);
	put_le32(h + HDR_OFF_PROTOCOL, SMB2_PROTOCOL_ID);
	put_le16(h + HDR_OFF_STRUCT_SIZE, 64);
	put_le16(h + HDR_OFF_CREDIT_CHARGE, req->credit_charge);
	put_le32(h + HDR_OFF_STATUS, req->status);
	put_le16(h + HDR_OFF_COMMAND, req->cmd);
	put_le16(h + HDR_OFF_CREDIT, credits);
	put_le32(h + HDR_OFF_FLAGS,
		 SMB2_FLAGS_SERVER_TO_REDIR | (req->hdr_flags & SMB2_FLAGS_RELATED_OPERATIONS) |
			 (req->hdr_flags & SMB2_FLAGS_PRIORITY_MASK));
	put_le64(h + HDR_OFF_MESSAGE_ID, req->msg_id);
	if (req->pending) {
		/* 2.2.1.1: the ASYNC header form carries the AsyncId where TreeId would be */
		put_le32(h + HDR_OFF_FLAGS, get_le32(h + HDR_OFF_FLAGS) | SMB2_FLAGS_ASYNC_COMMAND);
		put_le64(h + HDR_OFF_ASYNC_ID, smb2_pending_async_id(req->pending));
	} else {
		put_le32(h + HDR_OFF_TREE_ID, req->tree_id);
	}
	put_le64(h + HDR_OFF_SESSION_ID, req->session_id);
}

/* MS-SMB2 2.2.2: StructureSize 9, ErrorContextCount, Reserved, ByteCount, one byte of data. */
void smb2_write_error_body(struct wr *w)
{
	wr_u16(w, 9);
	wr_u8(w, 0);
	wr_u8(w, 0);
	wr_u32(w, 0);
	wr_u8(w, 0);
}

/* ---- one request ---- */

/* STATUS_USER_SESSION_DELETED for a request naming s, which cannot serve it here (another
 * connection's session, or a deleted one): signed with s's key when the request was and its
 * signature holds (takes the reference on s). */
static NTSTATUS refuse_signed(struct smb2_req *req, struct smb2_session *s)
{
	bool usable = s->state == SESS_VALID || atomic_load(&s->deleted);
	if (usable && !s->anonymous && !s->guest && (req->hdr_flags & SMB2_FLAGS_SIGNED) &&
	    verify_message(req->conn, s, req->msg.p, req->msg.len))
		req->session = s;
	else
		smb2_session_put(s);
	return STATUS_USER_SESSION_DELETED;
}

static NTSTATUS resolve_session(struct smb2_req *req, const struct smb2_cmd_desc *d)
{
	if (req->cmd == SMB2_NEGOTIATE || req->cmd == SMB2_ECHO || req->cmd == SMB2_CANCEL)
		return STATUS_SUCCESS;
	if (req->session_id == 0 || req->session_id == UINT64_MAX) {
		if (!d->need_session) /* SESSION_SETUP, the sessionless torture IOCTL */
			return STATUS_SUCCESS;
		return STATUS_USER_SESSION_DELETED;
	}
	struct smb2_session *s = smb2_session_lookup(req->conn, req->session_id);
	if (!s) {
		/* The session table is global (3.3.5.2.9 looks the id up in GlobalSessionTable):
		   a binding names a session of another connection (3.3.5.5.2), and the refusal of
		   any other request naming one is signed with its key when the request was, as
		   Windows answers (the client requires it: smbtorture smb2.session.bind2,
		   bind_negative_*) */
		bool binding = false;
		if (req->cmd == SMB2_SESSION_SETUP) {
			struct rd b = req->body;
			rd_skip(&b, 2);
			binding = rd_u8(&b) & SMB2_SESSION_FLAG_BINDING;
		}
		s = smb2_session_lookup_bind(req->conn, req->session_id);
		if (s && !binding)
			return refuse_signed(req, s);
	}
	if (!s)
		return STATUS_USER_SESSION_DELETED;
	if (atomic_load(&s->deleted))
		return refuse_signed(req, s);
	req->session = s;
	if (req->cmd == SMB2_SESSION_SETUP)
		return STATUS_SUCCESS;
	if (s->state == SESS_EXPIRED)
		return STATUS_NETWORK_SESSION_EXPIRED;
	if (d->need_session && s->state != SESS_VALID)
		return STATUS_USER_SESSION_DELETED;
	return STATUS_SUCCESS;
}

static NTSTATUS check_signature(struct smb2_req *req)
{
	struct smb2_session *s = req->session;
	if (!s || s->state != SESS_VALID || s->anonymous || s->guest || req->encrypted)
		return STATUS_SUCCESS;
	bool signed_msg = req->hdr_flags & SMB2_FLAGS_SIGNED;
	if (!signed_msg) {
		/* 3.3.5.2.4: unsigned requests on a session that requires signing are refused */
		if (s->signing_required && req->cmd != SMB2_CANCEL)
			return STATUS_ACCESS_DENIED;
		return STATUS_SUCCESS;
	}
	if (!verify_message(req->conn, s, req->msg.p, req->msg.len)) {
		LOG_WARN(LOG_SMB2, "%s: bad signature on %s mid %llu", req->conn->peer,
			 smb2_cmds[req->cmd].name, (unsigned long long)req->msg_id);
		return STATUS_ACCESS_DENIED;
	}
	return STATUS_SUCCESS;
}

/* The part of run_request that runs under the session's run_lock (when there is a session). */
static NTSTATUS run_locked(struct smb2_req *req, const struct smb2_cmd_desc *d)
{
	struct smb2_conn *c = req->conn;
	/* ended meanwhile by another channel's LOGOFF or its connection's end */
	if (d->need_session && req->session && req->session->state != SESS_VALID)
		return STATUS_USER_SESSION_DELETED;
	if (d->need_session && req->session && req->session->state == SESS_VALID) {
		if (!req->session->anonymous || req->session->ident.uid != 0)
			req->ident = &req->session->ident;
	}
	if (d->need_tree) {
		pthread_mutex_lock(&req->session->lock);
		req->tree = smb2_tree_lookup(req->session, req->tree_id);
		pthread_mutex_unlock(&req->session->lock);
		if (!req->tree) {
			req->session_failed = true;
			return STATUS_NETWORK_NAME_DELETED;
		}
	}
	/* 3.3.5.2.9: a session or share that requires encryption refuses plaintext requests */
	if (!req->encrypted && req->cmd != SMB2_SESSION_SETUP && req->session &&
	    (req->session->encrypt_data || (req->tree && req->tree->encrypt)))
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	if (c->dialect > SMB2_DIALECT_202 && (c->client_caps & SMB2_GLOBAL_CAP_LARGE_MTU)) {
		uint32_t need = credits_needed(req);
		if (need > 1 && req->credit_charge < need)
			return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	}
	/* Every request runs as its user, or as the server (root) when it has none. The identity
	 * stays on the thread when the handler returns: the next request of the same user costs
	 * no system call (the per-thread cache in vfs/ident.c). So every other entry point that
	 * reaches the file system applies the identity it needs itself, root by default: a
	 * connection's teardown (smb2_conn_free), asynchronous retries, the server's set-up and
	 * end (smb2_server_new/free); test_ident_lazy checks that none of them runs as the user
	 * the thread served last. */
	vfs_ident_apply(req->ident);
	NTSTATUS st = d->fn(req);
	/* changes made through the server reach the watches before the response (the create
	   settles its own, with the name it made) */
	if (req->cmd == SMB2_SET_INFO || req->cmd == SMB2_CLOSE || req->cmd == SMB2_IOCTL)
		state_notify_settle(req->srv->notify, NULL);
	return st;
}

/* The IOCTL smbtorture sends without a session or tree (smb2_fsctl_torture_sessionless). */
static const struct smb2_cmd_desc sessionless_ioctl = {"IOCTL", 57, false, false, true, smb2_ioctl};

static NTSTATUS run_request(struct smb2_req *req)
{
	const struct smb2_cmd_desc *d = &smb2_cmds[req->cmd];
	struct smb2_conn *c = req->conn;
	if (req->cmd == SMB2_IOCTL && (req->session_id == 0 || req->session_id == UINT64_MAX) &&
	    smb2_fsctl_torture_sessionless(req->srv, req->body))
		d = &sessionless_ioctl;
	if (!d->fn)
		return STATUS_INVALID_PARAMETER;
	if (d->need_negotiate && !c->negotiated)
		return STATUS_INVALID_PARAMETER;
	struct rd b = req->body;
	uint16_t ss = rd_u16(&b);
	/* OPLOCK_BREAK comes as an oplock (24) or a lease (36) acknowledgement (2.2.24) */
	bool ss_ok = ss == d->struct_size || (req->cmd == SMB2_OPLOCK_BREAK && ss == 36);
	if (!ss_ok || !rd_ok(&b))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (req->related && req->chain_status != STATUS_SUCCESS && nt_is_error(req->chain_status) &&
	    req->compound_fid_valid && !*req->compound_fid_valid)
		return req->chain_status;
	NTSTATUS st = resolve_session(req, d);
	if (st) {
		req->session_failed = true;
		return st;
	}
	st = check_signature(req);
	if (st)
		return st;
	/* a session's requests on all its channels are serialised (struct smb2_session) */
	struct smb2_session *rs = req->session;
	if (rs)
		pthread_mutex_lock(&rs->run_lock);
	st = run_locked(req, d);
	if (rs)
		pthread_mutex_unlock(&rs->run_lock);
	return st;
}

struct chain {
	uint64_t fid[2];
	bool fid_valid;
	uint64_t session_id;
	uint32_t tree_id;
	NTSTATUS status;
	size_t prev_hdr_off; /* header offset of the previous response, or SIZE_MAX */
	struct smb2_session *prev_sign; /* key that signs the previous response, or NULL */
	uint8_t *prev_preauth; /* preauth hash the previous response goes into, or NULL */
	bool prev_signed;
	struct smb2_session *enc; /* the chain arrived encrypted under this session */
	bool last; /* the request being handled is the chain's last */
	bool compound;            /* the frame holds more than one request */
	bool prev_session_failed; /* the previous request had no valid session or tree */
	struct smb2_pending *mid_async; /* a CREATE before the chain's end went asynchronous */
	struct smb2_tail *tail; /* the transport can send a READ's data from the file */
};

static void finish_prev_response(struct smb2_conn *c, struct wr *out, struct chain *ch, bool last)
{
	if (ch->prev_hdr_off == SIZE_MAX)
		return;
	if (!last) {
		wr_align(out, 8);
		wr_set_u32(out, ch->prev_hdr_off + HDR_OFF_NEXT_COMMAND,
			   (uint32_t)(out->len - ch->prev_hdr_off));
	} else if (ch->compound) {
		/* the last response of a compound is padded to 8 bytes too (as Windows) */
		wr_align(out, 8);
	}
	/* encrypted messages are not signed: the transform authenticates them */
	if (ch->prev_signed && ch->prev_sign && !ch->enc && wr_ok(out))
		smb2_sign_message(c, ch->prev_sign, out->p + ch->prev_hdr_off, out->len - ch->prev_hdr_off);
	/* 3.1.1 preauth integrity: the response as sent, signature included (a binding's
	   intermediate responses are signed) */
	if (ch->prev_preauth && wr_ok(out)) {
		struct iovec iov = {out->p + ch->prev_hdr_off, out->len - ch->prev_hdr_off};
		crypto_preauth_update(ch->prev_preauth, &iov, 1);
	}
	ch->prev_preauth = NULL;
	if (ch->prev_sign)
		smb2_session_put(ch->prev_sign);
	ch->prev_sign = NULL;
	ch->prev_hdr_off = SIZE_MAX;
}

/* Decides whether and with which session the response is signed (3.3.4.1.1). */
static struct smb2_session *response_signer(struct smb2_req *req)
{
	if (req->sign_with)
		return req->sign_with;
	struct smb2_session *s = req->session;
	if (!s || (s->state != SESS_VALID && !atomic_load(&s->deleted)) || s->anonymous || s->guest)
		return NULL;
	if ((req->hdr_flags & SMB2_FLAGS_SIGNED) || s->signing_required) {
		atomic_fetch_add(&s->refs, 1);
		return s;
	}
	return NULL;
}

/* Reads the header of the message at [off, off + len) of the frame into req; -1 when it is not
 * an SMB2 request (the connection is then dropped). */
static int request_read_header(struct smb2_req *req, struct rd *frame, size_t off, size_t len)
{
	req->msg = rd_sub(frame, off, len);
	struct rd h = req->msg;
	if (rd_u32(&h) != SMB2_PROTOCOL_ID || rd_u16(&h) != 64)
		return -1;
	req->credit_charge = rd_u16(&h);
	rd_skip(&h, 4); /* ChannelSequence/Status */
	req->cmd = rd_u16(&h);
	req->credit_request = rd_u16(&h);
	req->hdr_flags = rd_u32(&h);
	rd_skip(&h, 4); /* NextCommand */
	req->msg_id = rd_u64(&h);
	rd_skip(&h, 4);
	req->tree_id = rd_u32(&h);
	req->session_id = rd_u64(&h);
	if (!rd_ok(&h) || (req->hdr_flags & SMB2_FLAGS_SERVER_TO_REDIR))
		return -1;
	req->body = rd_sub(frame, off + SMB2_HDR_LEN, len - SMB2_HDR_LEN);
	req->related = req->hdr_flags & SMB2_FLAGS_RELATED_OPERATIONS;
	return 0;
}

/* Places req in its chain: the ids and FileId it inherits, and the errors that come from its
 * place in the chain (req->status); -1 to drop the connection. */
static int request_join_chain(struct smb2_req *req, struct chain *ch)
{
	req->compound_fid = ch->fid;
	req->compound_fid_valid = &ch->fid_valid;
	req->chain_status = ch->status;
	req->encrypted = ch->enc != NULL;
	req->tail = !ch->compound && !ch->enc ? ch->tail : NULL;
	/* 3.3.5.2.1.1: the inner SessionId must be the transform's; a related message takes the
	   chain's, except the first, which has none to take */
	if (ch->enc && req->session_id != ch->enc->id &&
	    (!req->related || ch->prev_hdr_off == SIZE_MAX))
		return -1;
	/* an unknown command is an invalid request (3.3.5.2.6), answered like Windows does */
	if (req->cmd >= SMB2_NCMDS)
		req->status = STATUS_INVALID_PARAMETER;
	if (req->related) {
		if (ch->prev_hdr_off == SIZE_MAX && ch->session_id == 0 && ch->tree_id == 0) {
			/* the first request of a chain cannot be related; its error response keeps
			   its own ids, there being none to inherit */
			req->status = STATUS_INVALID_PARAMETER;
		} else {
			req->session_id = ch->session_id;
			req->tree_id = ch->tree_id;
		}
		/* related to a request that had no session or tree: nothing to relate to */
		if (ch->prev_session_failed)
			req->status = STATUS_INVALID_PARAMETER;
	} else {
		/* 3.3.5.2.7.2: the FileId a related request inherits is the previous request's;
		   an unrelated request in between ends the chain's file */
		ch->fid_valid = false;
	}
	return 0;
}

/* 3.3.5.16: CANCEL takes no credit and gets no response of its own; it names a pending
 * request by AsyncId (async form) or by MessageId. */
static void request_cancel(struct smb2_conn *c, struct smb2_req *req)
{
	bool by_async_id = (req->hdr_flags & SMB2_FLAGS_ASYNC_COMMAND) != 0;
	uint64_t async_id = 0;
	if (by_async_id) {
		struct rd a = rd_sub(&req->msg, HDR_OFF_ASYNC_ID, 8);
		async_id = rd_u64(&a);
	}
	smb2_pending_cancel_request(c, by_async_id, async_id, req->msg_id);
}

/* Settles what the handler left in req: a request that went asynchronous where it may not is
 * answered now, and an interim or error response gets the error body. */
static void response_settle(struct smb2_conn *c, struct smb2_req *req, struct wr *out,
			    struct chain *ch)
{
	if (req->pending && req->status != STATUS_PENDING) {
		/* a handler that went async must return what smb2_go_async returned */
		LOG_ERR(LOG_SMB2, "%s: %s went async but returned %s", c->peer,
			smb2_cmds[req->cmd].name, ntstatus_name(req->status));
		smb2_pending_drop(c, req->pending);
		req->pending = NULL;
	}
	if (req->status == STATUS_PENDING && req->pending && !ch->last) {
		/* only the last request of a compound may go asynchronous, and a CREATE that waits
		   for an oplock or lease break (MS-SMB2 <206>): the rest of the chain then runs when
		   the create completes (run_chain, smb2_conn_run_resumes); any other request in the
		   middle fails, as Windows answers (<159>, smbtorture compound.interim2) */
		if (req->cmd == SMB2_CREATE) {
			ch->mid_async = req->pending;
		} else {
			smb2_pending_drop(c, req->pending);
			req->pending = NULL;
			req->status = SMB2_ERR(req, STATUS_INTERNAL_ERROR);
		}
	}
	if (req->status == STATUS_PENDING && req->pending) {
		/* 3.3.4.2: the interim response, with the AsyncId; the final one follows */
		out->len = req->body_off;
		smb2_write_error_body(out);
	} else if (nt_is_error(req->status) && !req->keep_body) {
		out->len = req->body_off;
		smb2_write_error_body(out);
	}
}

bool smb2_response_unsigned(struct smb2_req *req)
{
	struct smb2_session *s = response_signer(req);
	if (!s)
		return true;
	smb2_session_put(s);
	return false;
}

/* A response whose data a handler left in the file (req->tail) must be sent whole by the
 * transport; if it is to be signed after all, or failed, the data is read into it here. */
static void tail_settle(struct smb2_req *req, struct wr *out)
{
	struct smb2_tail *t = req->tail;
	if (!t || t->fd < 0)
		return;
	if (!nt_is_error(req->status) && smb2_response_unsigned(req)) {
		req->tail = NULL; /* the transport sends it */
		return;
	}
	if (!nt_is_error(req->status)) {
		size_t at = wr_space(out, t->len);
		if (at != (size_t)-1) {
			ssize_t n = pread(t->fd, wr_at(out, at), t->len, (off_t)t->off);
			if (n < (ssize_t)t->len) /* truncated meanwhile: what was announced, zeroed */
				memset(wr_at(out, at) + (n > 0 ? n : 0), 0, t->len - (size_t)(n > 0 ? n : 0));
		}
	}
	close(t->fd);
	t->fd = -1;
	req->tail = NULL;
}

/* Records the response just written (its header at hdr_off) as the chain's previous one, which
 * the next request inherits from and finish_prev_response completes. */
static void chain_note_response(struct chain *ch, struct smb2_req *req, size_t hdr_off)
{
	ch->prev_preauth = req->preauth_hash_resp;
	ch->prev_hdr_off = hdr_off;
	ch->prev_sign = response_signer(req);
	ch->prev_signed = ch->prev_sign != NULL;
	ch->session_id = req->session_id;
	ch->tree_id = req->tree_id;
	ch->status = req->status;
	ch->prev_session_failed = req->session_failed;
}

/* Handles the message at [off, off + len) of the frame; returns -1 to drop the connection. */
static int handle_one(struct smb2_conn *c, struct rd *frame, size_t off, size_t len,
		      struct wr *out, struct chain *ch)
{
	struct smb2_req req = {0};
	req.conn = c;
	req.srv = c->srv;
	req.out = out;
	if (request_read_header(&req, frame, off, len) < 0 || request_join_chain(&req, ch) < 0)
		return -1;
	if (req.cmd == SMB2_CANCEL) {
		request_cancel(c, &req);
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	bool seq_ok = seq_consume(c, req.msg_id, req.credit_charge);
	pthread_mutex_unlock(&c->lock);
	if (!seq_ok) {
		LOG_WARN(LOG_SMB2, "%s: message id %llu outside the credit window: disconnecting",
			 c->peer, (unsigned long long)req.msg_id);
		return -1;
	}

	finish_prev_response(c, out, ch, false);
	size_t hdr_off = wr_space(out, SMB2_HDR_LEN);
	if (hdr_off == (size_t)-1)
		return -1;
	req.body_off = out->len;
	if (!req.status)
		req.status = run_request(&req);
	if (req.disconnect) {
		if (req.session)
			smb2_session_put(req.session);
		if (req.sign_with)
			smb2_session_put(req.sign_with);
		return -1;
	}
	response_settle(c, &req, out, ch);
	tail_settle(&req, out);
	pthread_mutex_lock(&c->lock);
	uint16_t granted = seq_grant(c, req.credit_charge, req.credit_request);
	pthread_mutex_unlock(&c->lock);
	smb2_write_response_header(&req, hdr_off, granted);
	chain_note_response(ch, &req, hdr_off);
	if (req.session)
		smb2_session_put(req.session);
	return wr_ok(out) ? 0 : -1;
}

static int run_chain(struct smb2_conn *c, struct rd *f, size_t len, struct wr *out,
		     struct chain *ch)
{
	const uint8_t *frame = f->p;
	size_t off = 0;
	int rc = 0;
	while (off < len) {
		if (len - off < SMB2_HDR_LEN + 2) {
			rc = -1;
			break;
		}
		uint32_t next = get_le32(frame + off + HDR_OFF_NEXT_COMMAND);
		size_t mlen = len - off;
		if (next) {
			/* 3.3.5.2.7: each compounded request starts 8-byte aligned */
			if (next % 8 || next < SMB2_HDR_LEN + 2 || next > len - off) {
				rc = -1;
				break;
			}
			mlen = next;
			ch->compound = true;
		}
		ch->last = off + mlen >= len;
		rc = handle_one(c, f, off, mlen, out, ch);
		if (rc < 0)
			break;
		off += mlen;
		if (ch->mid_async) {
			/* its interim response ends this frame's responses; the rest waits with it */
			if (smb2_pending_set_rest(ch->mid_async, frame + off, len - off) < 0)
				rc = -1;
			ch->mid_async = NULL;
			break;
		}
	}
	finish_prev_response(c, out, ch, true);
	return rc;
}

int smb2_conn_run_resumes(struct smb2_conn *c)
{
	vfs_ident_apply(NULL); /* not a request (see run_locked) */
	int rc = 0;
	while (c->resumes && rc == 0) {
		struct smb2_resume *r = c->resumes;
		c->resumes = r->next;
		if (!c->resumes)
			c->resumes_tail = NULL;
		struct chain ch = {
			.fid = {r->fid[0], r->fid[1]},
			.fid_valid = r->fid_valid,
			.session_id = r->session_id,
			.tree_id = r->tree_id,
			.status = r->status,
			.prev_hdr_off = r->hdr_off,
			.prev_signed = r->sign,
			.enc = r->encrypt ? r->session : NULL,
			.compound = true,
		};
		if (r->sign) {
			ch.prev_sign = r->session;
			atomic_fetch_add(&r->session->refs, 1);
		}
		struct rd f = rd_make(r->rest, r->rest_len);
		rc = run_chain(c, &f, r->rest_len, &r->out, &ch);
		size_t start = r->hdr_off;
		if (rc == 0 && r->encrypt) {
			rc = smb2_transform_encrypt(c, r->session, &r->out, r->hdr_off);
			start = r->hdr_off - 52;
		}
		if (rc == 0 && c->tp && c->tp->send)
			c->tp->send(c->loop_priv, &r->out, start);
		else
			wr_free(&r->out);
		smb2_session_put(r->session);
		free(r->rest);
		free(r);
	}
	return rc;
}

static int conn_input(struct smb2_conn *c, uint8_t *frame, size_t len, struct wr *out,
		      size_t *start, struct smb2_tail *tail)
{
	struct rd f = rd_make(frame, len);
	struct rd p = f;
	uint32_t proto = rd_u32(&p);
	*start = SMB2_OUT_HEADROOM;
	if (!rd_ok(&p))
		return -1;
	if (proto == SMB1_PROTOCOL_ID)
		return c->negotiated ? -1 : smb1_negotiate(c, &f, out);
	struct chain ch = {.prev_hdr_off = SIZE_MAX};
	if (proto == SMB2_TRANSFORM_ID) {
		size_t plain = 0;
		if (smb2_transform_decrypt(c, frame, len, &ch.enc, &plain) < 0)
			return -1;
		struct rd inner = rd_make(frame + 52, plain);
		int rc = run_chain(c, &inner, plain, out, &ch);
		if (rc == 0 && out->len > SMB2_OUT_HEADROOM) {
			rc = smb2_transform_encrypt(c, ch.enc, out, SMB2_OUT_HEADROOM);
			*start = SMB2_OUT_HEADROOM - 52;
		}
		smb2_session_put(ch.enc);
		return rc;
	}
	if (proto != SMB2_PROTOCOL_ID)
		return -1;
	ch.tail = tail;
	return run_chain(c, &f, len, out, &ch);
}

/* A frame that ends in a disconnect gets no response at all: the chain built so far may hold a
 * reserved header that was never written (heap bytes) and, on an encrypted session, plaintext
 * responses that were never encrypted. */
int smb2_conn_input_tail(struct smb2_conn *c, uint8_t *frame, size_t len, struct wr *out,
			 size_t *start, struct smb2_tail *tail)
{
	size_t base = out->len;
	if (tail)
		tail->fd = -1;
	struct smb2_conn *prev_worker = smb2_async_enter(c);
	int rc = conn_input(c, frame, len, out, start, tail);
	smb2_async_leave(prev_worker);
	if (rc < 0) {
		out->len = base;
		*start = SMB2_OUT_HEADROOM;
		if (tail && tail->fd >= 0) {
			close(tail->fd);
			tail->fd = -1;
		}
	}
	return rc;
}

int smb2_conn_input(struct smb2_conn *c, uint8_t *frame, size_t len, struct wr *out,
		    size_t *start)
{
	return smb2_conn_input_tail(c, frame, len, out, start, NULL);
}
