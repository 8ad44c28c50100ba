/* Asynchronous requests: the pending list of a connection, interim/final responses, CANCEL, and
 * the server's timer thread for their deadlines. The contract is in smb2_async.h. */
#include "smb2/smb2_async.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "smb2/smb2.h"


struct smb2_pending {
	/* the connection's list: changed only by its worker, under conn->pending_lock, which
	   other threads take to read it (cancel_matching) */
	struct smb2_pending *next, *prev;
	/* changes (under wake_lock and the session's run_lock) when the request moves to another
	   channel of its session (smb2_conn_rehome_pending) */
	struct smb2_conn *conn;
	pthread_mutex_t wake_lock;
	/* moved from a channel that ended: it runs to its end (a create makes its open, which a
	   replay of it finds) but its final response, whose MessageId belongs to the lost
	   channel, is not sent */
	bool orphan;
	struct smb2_session *session; /* counted */
	struct smb2_open *op;
	uint64_t async_id;
	uint64_t msg_id, session_id;
	uint32_t tree_id, hdr_flags;
	uint16_t cmd, credit_charge;
	bool encrypted;
	atomic_bool woken;
	atomic_bool timed_out;
	const struct smb2_async_ops *ops;
	void *priv;
	uint8_t *msg; /* copy of the request message, header included */
	size_t msg_len;
	/* a CREATE that went asynchronous inside a compound: the requests after it, and the FileId
	   its retry leaves for them (struct smb2_resume) */
	uint8_t *rest;
	size_t rest_len;
	uint64_t fid[2];
	bool fid_valid;
	/* Ended by another thread (a close or the session's end on another channel of the
	   session, under the session's run_lock): its cancel ran there, which also built the final
	   response; this connection's worker sends it (so it never overtakes the interim) and frees
	   the request. */
	atomic_bool done;
	bool done_send; /* false: nothing to send */
	bool priv_freed; /* ops->free already ran (with cancel, while the open was there) */
	bool done_sign, done_encrypt;
	NTSTATUS done_status;
	bool done_keep_body;
	size_t done_body_off;
	struct wr done_out;
	/* timers: guarded by the server's timer lock */
	struct smb2_pending *t_next, *t_prev;
	uint64_t deadline_ms;
	bool in_timers;
};

/* The connection whose worker the current thread is running (smb2_async_enter): its pending
 * list may be changed here directly; another connection's requests are ended through their
 * done state. */
static _Thread_local struct smb2_conn *worker_conn;

struct smb2_conn *smb2_async_enter(struct smb2_conn *c)
{
	struct smb2_conn *prev = worker_conn;
	worker_conn = c;
	return prev;
}

void smb2_async_leave(struct smb2_conn *prev)
{
	worker_conn = prev;
}

/* ---- timers ---- */

struct smb2_timers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct smb2_pending *head; /* sorted by deadline */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *timers_main(void *arg)
{
	struct smb2_timers *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		uint64_t now = now_ms();
		while (t->head && t->head->deadline_ms <= now) {
			struct smb2_pending *p = t->head;
			t->head = p->t_next;
			if (t->head)
				t->head->t_prev = NULL;
			p->in_timers = false;
			/* still registered here (cancel takes this lock to unregister): valid */
			atomic_store(&p->timed_out, true);
			smb2_pending_wake(p);
		}
		if (!t->head) {
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait = t->head->deadline_ms - now;
		ts.tv_sec += (time_t)(wait / 1000u);
		ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct smb2_timers *smb2_timers_new(void)
{
	struct smb2_timers *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	return t;
}

void smb2_timers_free(struct smb2_timers *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	bool running = t->running;
	pthread_mutex_unlock(&t->lock);
	if (running)
		pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Adds p with a deadline; the thread starts with the first timer. -1 when it cannot start. */
static int timer_add(struct smb2_timers *t, struct smb2_pending *p, uint32_t ms)
{
	pthread_mutex_lock(&t->lock);
	if (!t->running) {
		if (pthread_create(&t->thread, NULL, timers_main, t) != 0) {
			pthread_mutex_unlock(&t->lock);
			return -1;
		}
		t->running = true;
	}
	p->deadline_ms = now_ms() + ms;
	struct smb2_pending **pp = &t->head, *prev = NULL;
	while (*pp && (*pp)->deadline_ms <= p->deadline_ms) {
		prev = *pp;
		pp = &(*pp)->t_next;
	}
	p->t_next = *pp;
	p->t_prev = prev;
	if (*pp)
		(*pp)->t_prev = p;
	*pp = p;
	p->in_timers = true;
	if (t->head == p)
		pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void timer_del(struct smb2_timers *t, struct smb2_pending *p)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	if (p->in_timers) {
		if (p->t_prev)
			p->t_prev->t_next = p->t_next;
		else
			t->head = p->t_next;
		if (p->t_next)
			p->t_next->t_prev = p->t_prev;
		p->in_timers = false;
	}
	pthread_mutex_unlock(&t->lock);
}

void smb2_pending_set_timeout(struct smb2_pending *p, uint32_t timeout_ms)
{
	struct smb2_timers *t = p->conn->srv->timers;
	timer_del(t, p);
	atomic_store(&p->timed_out, false);
	if (timeout_ms && timer_add(t, p, timeout_ms) < 0)
		LOG_WARN(LOG_SMB2, "cannot arm the timeout of a pending request");
}

/* ---- the pending list ---- */

uint64_t smb2_pending_async_id(const struct smb2_pending *p)
{
	return p->async_id;
}

bool smb2_pending_timed_out(const struct smb2_req *req)
{
	return req->timed_out;
}

struct smb2_pending *smb2_req_pending(const struct smb2_req *req)
{
	return req->pending;
}

void smb2_pending_wake(struct smb2_pending *p)
{
	if (atomic_exchange(&p->woken, true))
		return;
	pthread_mutex_lock(&p->wake_lock);
	struct smb2_conn *c = p->conn;
	if (c->tp && c->tp->wake)
		c->tp->wake(c->loop_priv);
	pthread_mutex_unlock(&p->wake_lock);
}

/* ---- the lists of pending requests; the caller holds the owning connection's pending_lock ---- */

/* Appends p to the list *head..*tail (a connection's pending or adopted list). */
static void pending_list_append(struct smb2_pending **head, struct smb2_pending **tail,
				struct smb2_pending *p)
{
	p->next = NULL;
	p->prev = *tail;
	if (*tail)
		(*tail)->next = p;
	else
		*head = p;
	*tail = p;
}

/* Takes p out of c's pending list and its count; p's own links are left as they were. */
static void pending_list_unlink(struct smb2_conn *c, struct smb2_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		c->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		c->pending_tail = p->prev;
	c->npending--;
}

NTSTATUS smb2_go_async(struct smb2_req *req, const struct smb2_async_ops *ops, void *priv,
		       struct smb2_open *op, uint32_t timeout_ms, struct smb2_pending **out)
{
	struct smb2_conn *c = req->conn;
	struct smb2_pending *p = NULL;
	/* `max async requests` (default 4096): a busy client keeps tens waiting (change
	   notifications, blocked locks); past the cap the request is refused, the others stay */
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	int cap = conf->max_async_requests > 0 ? conf->max_async_requests : INT_MAX; /* 0: none */
	conf_put(conf);
	if (req->pending || c->npending >= cap || !req->session)
		goto fail;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->msg_len = req->msg.len;
	p->msg = malloc(p->msg_len ? p->msg_len : 1);
	if (!p->msg)
		goto fail;
	memcpy(p->msg, req->msg.p, p->msg_len);
	p->conn = c;
	pthread_mutex_init(&p->wake_lock, NULL);
	p->session = req->session;
	atomic_fetch_add(&p->session->refs, 1);
	p->op = op;
	p->async_id = atomic_fetch_add(&c->srv->next_async_id, 1) + 1;
	p->msg_id = req->msg_id;
	p->session_id = req->session_id;
	p->tree_id = req->tree_id;
	p->hdr_flags = req->hdr_flags;
	p->cmd = req->cmd;
	p->credit_charge = req->credit_charge;
	p->encrypted = req->encrypted;
	p->ops = ops;
	p->priv = priv;
	atomic_init(&p->woken, false);
	atomic_init(&p->timed_out, false);
	if (timeout_ms && timer_add(c->srv->timers, p, timeout_ms) < 0) {
		smb2_session_put(p->session);
		goto fail;
	}
	/* appended: woken requests run oldest first, as clients expect (two CHANGE_NOTIFYs on one
	   handle complete in the order they were sent) */
	atomic_init(&p->done, false);
	pthread_mutex_lock(&c->pending_lock);
	pending_list_append(&c->pending, &c->pending_tail, p);
	c->npending++;
	pthread_mutex_unlock(&c->pending_lock);
	req->pending = p;
	if (out)
		*out = p;
	return STATUS_PENDING;
fail:
	if (p)
		free(p->msg);
	free(p);
	if (ops->free)
		ops->free(priv);
	return SMB2_ERR(req, STATUS_INSUFFICIENT_RESOURCES);
}

/* Splices the requests moved here from other channels into c's own list (c's worker). */
static void adopt_moved(struct smb2_conn *c)
{
	pthread_mutex_lock(&c->pending_lock);
	struct smb2_pending *a = c->adopted;
	c->adopted = c->adopted_tail = NULL;
	while (a) {
		struct smb2_pending *next = a->next;
		pending_list_append(&c->pending, &c->pending_tail, a);
		c->npending++;
		a = next;
	}
	pthread_mutex_unlock(&c->pending_lock);
}

/* Unlinks and frees p: on its connection's worker, under p->session->run_lock. */
static void pending_unlink_free(struct smb2_conn *c, struct smb2_pending *p)
{
	timer_del(c->srv->timers, p);
	pthread_mutex_lock(&c->pending_lock);
	pending_list_unlink(c, p);
	pthread_mutex_unlock(&c->pending_lock);
	if (p->done_send)
		wr_free(&p->done_out);
	if (!p->priv_freed && p->ops->free)
		p->ops->free(p->priv);
	pthread_mutex_destroy(&p->wake_lock);
	smb2_session_put(p->session);
	free(p->msg);
	free(p->rest);
	free(p);
}

int smb2_pending_set_rest(struct smb2_pending *p, const uint8_t *rest, size_t len)
{
	free(p->rest);
	p->rest = malloc(len ? len : 1);
	if (!p->rest)
		return -1;
	memcpy(p->rest, rest, len);
	p->rest_len = len;
	return 0;
}

void smb2_pending_drop(struct smb2_conn *c, struct smb2_pending *p)
{
	struct smb2_req req = {.conn = c, .srv = c->srv, .session = p->session, .pending = p};
	struct wr scratch;
	wr_init(&scratch, 64);
	req.out = &scratch;
	struct smb2_session *s = p->session;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_lock(&s->run_lock);
	if (!atomic_load(&p->done))
		p->ops->cancel(&req, p->priv, STATUS_CONNECTION_DISCONNECTED);
	wr_free(&scratch);
	pending_unlink_free(c, p);
	pthread_mutex_unlock(&s->run_lock);
	smb2_session_put(s);
}

/* Rebuilds the request context of p, with a fresh response buffer holding the headroom and the
 * 64-byte header slot. */
static bool pending_req(struct smb2_conn *c, struct smb2_pending *p, struct smb2_req *req,
			struct wr *out)
{
	memset(req, 0, sizeof(*req));
	req->conn = c;
	req->srv = c->srv;
	req->session = p->session;
	req->msg = rd_make(p->msg, p->msg_len);
	req->body = rd_sub(&req->msg, SMB2_HDR_LEN, p->msg_len - SMB2_HDR_LEN);
	req->cmd = p->cmd;
	req->hdr_flags = p->hdr_flags & ~SMB2_FLAGS_RELATED_OPERATIONS;
	req->msg_id = p->msg_id;
	req->session_id = p->session_id;
	req->tree_id = p->tree_id;
	req->credit_charge = p->credit_charge;
	req->encrypted = p->encrypted;
	req->pending = p;
	req->timed_out = atomic_load(&p->timed_out);
	req->compound_fid = p->fid;
	req->compound_fid_valid = &p->fid_valid;
	wr_init(out, 256);
	wr_space(out, SMB2_OUT_HEADROOM);
	req->out = out;
	if (wr_space(out, SMB2_HDR_LEN) == (size_t)-1)
		return false;
	req->body_off = out->len;
	pthread_mutex_lock(&p->session->lock);
	req->tree = smb2_tree_lookup(p->session, p->tree_id);
	pthread_mutex_unlock(&p->session->lock);
	struct smb2_session *s = p->session;
	if (s->state == SESS_VALID && (!s->anonymous || s->ident.uid != 0))
		req->ident = &s->ident;
	return true;
}

/* The final response of a CREATE that waited inside a compound: the rest of the chain runs next
 * (smb2_conn_run_resumes), not here, where the pending list may be in the middle of a walk. */
static int queue_resume(struct smb2_conn *c, struct smb2_pending *p, struct smb2_req *req,
			struct wr *out, bool sign, bool encrypt)
{
	struct smb2_resume *r = calloc(1, sizeof(*r));
	if (!r) {
		wr_free(out);
		return -1;
	}
	r->out = *out;
	r->hdr_off = SMB2_OUT_HEADROOM;
	r->session = p->session;
	atomic_fetch_add(&r->session->refs, 1);
	r->sign = sign;
	r->encrypt = encrypt;
	r->rest = p->rest;
	r->rest_len = p->rest_len;
	p->rest = NULL;
	r->fid[0] = p->fid[0];
	r->fid[1] = p->fid[1];
	r->fid_valid = p->fid_valid;
	r->session_id = req->session_id;
	r->tree_id = req->tree_id;
	r->status = req->status;
	if (c->resumes_tail)
		c->resumes_tail->next = r;
	else
		c->resumes = r;
	c->resumes_tail = r;
	if (c->tp && c->tp->wake)
		c->tp->wake(c->loop_priv);
	return 0;
}

/* Whether the final response of req is signed and encrypted. */
static void pending_protect(const struct smb2_pending *p, const struct smb2_req *req, bool *sign,
			    bool *encrypt)
{
	struct smb2_session *s = p->session;
	*encrypt = s->state == SESS_VALID &&
		   (p->encrypted || s->encrypt_data || (req->tree && req->tree->encrypt));
	*sign = !*encrypt && s->state == SESS_VALID && !s->anonymous && !s->guest &&
		((p->hdr_flags & SMB2_FLAGS_SIGNED) || s->signing_required);
}

/* Writes the final response of req (status set) and hands it to the transport. */
static int pending_send_as(struct smb2_conn *c, struct smb2_pending *p, struct smb2_req *req,
			   struct wr *out, bool sign, bool encrypt)
{
	size_t hdr_off = SMB2_OUT_HEADROOM;
	if (nt_is_error(req->status) && !req->keep_body) {
		out->len = req->body_off;
		smb2_write_error_body(out);
	}
	smb2_write_response_header(req, hdr_off, 0);
	struct smb2_session *s = p->session;
	if (!wr_ok(out)) {
		wr_free(out);
		return -1;
	}
	if (p->orphan) {
		wr_free(out);
		return 0;
	}
	if (p->rest)
		return queue_resume(c, p, req, out, sign, encrypt);
	size_t start = hdr_off;
	if (sign)
		smb2_sign_message(c, s, out->p + hdr_off, out->len - hdr_off);
	if (encrypt) {
		if (smb2_transform_encrypt(c, s, out, hdr_off) < 0) {
			wr_free(out);
			return -1;
		}
		start = hdr_off - 52;
	}
	if (c->tp && c->tp->send)
		c->tp->send(c->loop_priv, out, start);
	else
		wr_free(out);
	return 0;
}

static int pending_send(struct smb2_conn *c, struct smb2_pending *p, struct smb2_req *req,
			struct wr *out)
{
	bool sign, encrypt;
	pending_protect(p, req, &sign, &encrypt);
	return pending_send_as(c, p, req, out, sign, encrypt);
}

/* Sends the final response another thread built for p (its done state), on p's connection's
 * worker under p->session->run_lock; send false drops it (the connection is gone). */
static int pending_send_done(struct smb2_conn *c, struct smb2_pending *p, bool send)
{
	if (!p->done_send || !send)
		return 0;
	struct smb2_req req;
	struct wr scratch;
	bool ok = pending_req(c, p, &req, &scratch);
	wr_free(&scratch);
	p->done_send = false;
	if (!ok) {
		wr_free(&p->done_out);
		return -1;
	}
	req.tree = NULL;
	req.out = &p->done_out;
	req.body_off = p->done_body_off;
	req.status = p->done_status;
	req.keep_body = p->done_keep_body;
	return pending_send_as(c, p, &req, &p->done_out, p->done_sign, p->done_encrypt);
}

/* Ends p, a request of a connection whose worker this thread is not, with cancel(reason):
 * under p->session->run_lock, held by the caller (which keeps p and its connection alive: only
 * they free p, under the same lock). The final response is built now and sent by p's
 * connection's worker, woken for it. */
static void pending_end_foreign(struct smb2_pending *p, NTSTATUS reason)
{
	if (atomic_load(&p->done))
		return;
	struct smb2_conn *c = p->conn;
	struct smb2_req req;
	struct wr out;
	if (!pending_req(c, p, &req, &out)) {
		p->ops->cancel(&req, p->priv, STATUS_CONNECTION_DISCONNECTED);
		wr_free(&out);
	} else {
		if (req.ident)
			vfs_ident_apply(req.ident);
		req.status = p->ops->cancel(&req, p->priv, reason);
		if (req.ident)
			vfs_ident_apply(NULL);
		pending_protect(p, &req, &p->done_sign, &p->done_encrypt);
		p->done_status = req.status;
		p->done_keep_body = req.keep_body;
		p->done_body_off = req.body_off;
		p->done_out = out;
		p->done_send = true;
	}
	/* priv may point into the open, which goes right after this */
	if (p->ops->free)
		p->ops->free(p->priv);
	p->priv_freed = true;
	atomic_store(&p->done, true);
	if (c->tp && c->tp->wake)
		c->tp->wake(c->loop_priv);
}

/* Ends p with cancel(reason) and sends the final response unless the connection is gone. */
static int pending_end_locked(struct smb2_conn *c, struct smb2_pending *p, NTSTATUS reason);

/* The session's run_lock is held around retry and cancel (struct smb2_session). */
static int pending_end(struct smb2_conn *c, struct smb2_pending *p, NTSTATUS reason)
{
	struct smb2_session *s = p->session;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_lock(&s->run_lock);
	int rc = pending_end_locked(c, p, reason);
	pthread_mutex_unlock(&s->run_lock);
	smb2_session_put(s);
	return rc;
}

static int pending_end_locked(struct smb2_conn *c, struct smb2_pending *p, NTSTATUS reason)
{
	struct smb2_req req;
	struct wr out;
	int rc = 0;
	if (atomic_load(&p->done)) {
		rc = pending_send_done(c, p, reason != STATUS_CONNECTION_DISCONNECTED);
		pending_unlink_free(c, p);
		return rc;
	}
	if (!pending_req(c, p, &req, &out)) {
		p->ops->cancel(&req, p->priv, STATUS_CONNECTION_DISCONNECTED);
		wr_free(&out);
		pending_unlink_free(c, p);
		return -1;
	}
	if (req.ident)
		vfs_ident_apply(req.ident);
	req.status = p->ops->cancel(&req, p->priv, reason);
	if (req.ident)
		vfs_ident_apply(NULL);
	if (reason == STATUS_CONNECTION_DISCONNECTED)
		wr_free(&out);
	else
		rc = pending_send(c, p, &req, &out);
	pending_unlink_free(c, p);
	return rc;
}

/* Sessions another connection's reconnect asked to end (smb2_session.c expire_previous). */
static void teardown_requested_sessions(struct smb2_conn *c)
{
	for (;;) {
		struct smb2_session *s = NULL;
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < c->nsessions && !s; i++)
			if (atomic_load(&c->sessions[i]->teardown_requested))
				s = c->sessions[i];
		pthread_mutex_unlock(&c->lock);
		if (!s)
			return;
		LOG_INFO(LOG_SMB2, "%s: session %llx ended by the client's reconnect", c->peer,
			 (unsigned long long)s->id);
		smb2_session_teardown(s);
	}
}

static int run_async(struct smb2_conn *c);

int smb2_conn_run_async(struct smb2_conn *c)
{
	vfs_ident_apply(NULL); /* not a request: each retry applies its own (see run_locked) */
	struct smb2_conn *prev = smb2_async_enter(c);
	int rc = run_async(c);
	smb2_async_leave(prev);
	return rc;
}

static int run_async(struct smb2_conn *c)
{
	int rc = 0;
	adopt_moved(c);
	teardown_requested_sessions(c);
	bool again = true;
	while (again && rc == 0) {
		again = false;
		for (struct smb2_pending *p = c->pending; p; p = p->next) {
			bool woken = atomic_exchange(&p->woken, false);
			if (!woken && !atomic_load(&p->done))
				continue;
			struct smb2_req req;
			struct wr out;
			struct smb2_session *s = p->session;
			atomic_fetch_add(&s->refs, 1);
			pthread_mutex_lock(&s->run_lock);
			if (atomic_load(&p->done)) {
				/* ended by another channel: send what it built */
				rc = pending_send_done(c, p, true);
				pending_unlink_free(c, p);
				pthread_mutex_unlock(&s->run_lock);
				smb2_session_put(s);
				again = true;
				break;
			}
			if (!pending_req(c, p, &req, &out)) {
				pthread_mutex_unlock(&s->run_lock);
				smb2_session_put(s);
				wr_free(&out);
				rc = -1;
				break;
			}
			if (req.ident)
				vfs_ident_apply(req.ident);
			req.status = p->ops->retry(&req, p->priv);
			if (req.ident)
				vfs_ident_apply(NULL);
			if (req.status == STATUS_PENDING) {
				pthread_mutex_unlock(&s->run_lock);
				smb2_session_put(s);
				wr_free(&out);
				continue;
			}
			rc = pending_send(c, p, &req, &out);
			pending_unlink_free(c, p);
			pthread_mutex_unlock(&s->run_lock);
			smb2_session_put(s);
			/* the list changed under the iteration: start over */
			again = true;
			break;
		}
		if (rc == 0 && c->resumes) {
			rc = smb2_conn_run_resumes(c);
			again = true;
		}
	}
	return rc;
}

void smb2_pending_cancel_request(struct smb2_conn *c, bool by_async_id, uint64_t async_id,
				 uint64_t msg_id)
{
	adopt_moved(c);
	for (struct smb2_pending *p = c->pending; p; p = p->next) {
		if (by_async_id ? p->async_id == async_id : p->msg_id == msg_id) {
			LOG_DBG(LOG_SMB2, "%s: CANCEL of %s mid %llu", c->peer, smb2_cmds[p->cmd].name,
				  (unsigned long long)p->msg_id);
			pending_end(c, p, STATUS_CANCELLED);
			return;
		}
	}
}

/* Ends, with cancel(reason), every pending request of session s (waiting on op, when op is not
 * NULL) on every connection of the session: its own and its bound channels. Those of the
 * connection this thread serves end at once; the others through their done state. The caller
 * holds s->run_lock. */
static int cancel_matching(struct smb2_session *s, struct smb2_open *op, NTSTATUS reason)
{
	int n = 0;
	struct smb2_conn *self = worker_conn;
	/* the session's own connection directly when this thread is its worker, or serves no
	   connection (a caller outside the request path, which the session's connection
	   serialises with its work as before channels existed) */
	bool direct = self == s->conn || !self;
	if (direct) {
		adopt_moved(s->conn);
		struct smb2_conn *c = s->conn;
		struct smb2_pending *p = c->pending;
		while (p) {
			struct smb2_pending *next = p->next;
			if (p->session == s && (!op || p->op == op)) {
				pending_end(c, p, reason);
				n++;
			}
			p = next;
		}
		if (atomic_load(&s->nbound) == 0)
			return n;
	}
	/* the other connections: collect under s->lock (which keeps them from leaving the
	   channel list, so alive) and their pending_lock; the requests found stay linked, and
	   only their own worker frees them under s->run_lock, held here */
	struct smb2_pending **found = NULL;
	int nfound = 0, cap = 0;
	pthread_mutex_lock(&s->lock);
	for (int i = -1; i < s->nchan_conns; i++) {
		struct smb2_conn *c = i < 0 ? s->conn : s->chan_conns[i];
		if ((i < 0 && direct) || (i >= 0 && c == s->conn))
			continue; /* done above, or the session's own (it moved to a channel's) */
		pthread_mutex_lock(&c->pending_lock);
		for (struct smb2_pending *p = c->pending ? c->pending : c->adopted; p;
		     p = p->next ? p->next : (p == c->pending_tail ? c->adopted : NULL)) {
			if (p->session != s || (op && p->op != op) || atomic_load(&p->done))
				continue;
			if (nfound == cap) {
				int ncap = cap ? cap * 2 : 8;
				void *nn = realloc(found, sizeof(*found) * (size_t)ncap);
				if (!nn)
					break; /* out of memory: the rest keep waiting */
				found = nn;
				cap = ncap;
			}
			found[nfound++] = p;
		}
		pthread_mutex_unlock(&c->pending_lock);
	}
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < nfound; i++) {
		struct smb2_pending *p = found[i];
		if (p->conn == self)
			pending_end(self, p, reason);
		else
			pending_end_foreign(p, reason);
		n++;
	}
	free(found);
	return n;
}

int smb2_pending_cancel_open(struct smb2_conn *c, struct smb2_open *op, NTSTATUS reason)
{
	(void)c;
	struct smb2_session *s = op->session;
	pthread_mutex_lock(&s->run_lock);
	int n = cancel_matching(s, op, reason);
	pthread_mutex_unlock(&s->run_lock);
	return n;
}

int smb2_pending_cancel_session(struct smb2_conn *c, struct smb2_session *s, NTSTATUS reason)
{
	(void)c;
	pthread_mutex_lock(&s->run_lock);
	int n = cancel_matching(s, NULL, reason);
	pthread_mutex_unlock(&s->run_lock);
	return n;
}

void smb2_conn_cancel_all(struct smb2_conn *c)
{
	pthread_mutex_lock(&c->pending_lock);
	c->closing = true;
	pthread_mutex_unlock(&c->pending_lock);
	adopt_moved(c);
	while (c->pending)
		pending_end(c, c->pending, STATUS_CONNECTION_DISCONNECTED);
	while (c->resumes) {
		struct smb2_resume *r = c->resumes;
		c->resumes = r->next;
		wr_free(&r->out);
		smb2_session_put(r->session);
		free(r->rest);
		free(r);
	}
	c->resumes_tail = NULL;
}

/* ---- CLOSE waiting for the requests that hold its open ---- */

void smb2_open_hold(struct smb2_open *op)
{
	op->holds++;
}

void smb2_open_release(struct smb2_open *op)
{
	if (--op->holds == 0 && op->close_waiter)
		smb2_pending_wake(op->close_waiter);
}

/* priv is the open; the waiting CLOSE is registered with it, so closing it any other way
 * cancels the CLOSE while the open is still valid. */
static NTSTATUS close_wait_retry(struct smb2_req *req, void *priv)
{
	struct smb2_open *op = priv;
	if (op->holds > 0)
		return STATUS_PENDING;
	op->close_waiter = NULL;
	/* the CLOSE now frees the open, which ends the requests registered with it: not this one */
	req->pending->op = NULL;
	return smb2_close(req);
}

static NTSTATUS close_wait_cancel(struct smb2_req *req, void *priv, NTSTATUS reason)
{
	(void)req;
	struct smb2_open *op = priv;
	op->close_waiter = NULL;
	return reason;
}

static const struct smb2_async_ops close_wait_ops = {
    .retry = close_wait_retry,
    .cancel = close_wait_cancel,
};

NTSTATUS smb2_close_wait(struct smb2_req *req, struct smb2_open *op)
{
	if (op->holds == 0)
		return STATUS_SUCCESS;
	/* one CLOSE waits; another one of the same handle meanwhile finds it closing */
	if (op->close_waiter || req->pending)
		return SMB2_ERR(req, STATUS_FILE_CLOSED);
	return smb2_go_async(req, &close_wait_ops, op, op, 0, &op->close_waiter);
}

/* ---- requests of a channel that ends ---- */

void smb2_conn_rehome_pending(struct smb2_conn *c)
{
	pthread_mutex_lock(&c->pending_lock);
	c->closing = true; /* nothing is moved here any more */
	pthread_mutex_unlock(&c->pending_lock);
	adopt_moved(c);
	struct smb2_pending *p = c->pending;
	while (p) {
		struct smb2_pending *next = p->next;
		struct smb2_session *s = p->session;
		pthread_mutex_lock(&s->run_lock);
		/* the session lives on elsewhere: its connection (after a move, smb2_session_migrate)
		   or the first one of a bound channel. Valid under run_lock, it is alive. */
		struct smb2_conn *to = s->conn;
		bool move = to != c && s->state == SESS_VALID && !atomic_load(&s->teardown_requested) &&
			    !atomic_load(&p->done);
		if (move) {
			pthread_mutex_lock(&to->pending_lock);
			move = !to->closing;
			if (move) {
				pthread_mutex_lock(&c->pending_lock);
				pending_list_unlink(c, p);
				pthread_mutex_unlock(&c->pending_lock);
				pending_list_append(&to->adopted, &to->adopted_tail, p);
				pthread_mutex_lock(&p->wake_lock);
				p->conn = to;
				pthread_mutex_unlock(&p->wake_lock);
				p->orphan = true;
			}
			pthread_mutex_unlock(&to->pending_lock);
		}
		if (move) {
			LOG_DBG(LOG_SMB2, "%s: %s mid %llu goes on on %s, unanswered", c->peer,
				smb2_cmds[p->cmd].name, (unsigned long long)p->msg_id, to->peer);
			if (to->tp && to->tp->wake)
				to->tp->wake(to->loop_priv);
		}
		pthread_mutex_unlock(&s->run_lock);
		p = next;
	}
}
