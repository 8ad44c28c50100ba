/* LOCK (MS-SMB2 2.2.26/2.2.27, 3.3.5.14): byte-range locks and unlocks on the open's record in
 * the state layer (state.h states the MS-FSA conflict rules).
 *
 * - The first element decides: UNLOCK starts a series of unlocks, processed in order; the first
 *   failure stops the series and earlier unlocks stay done (3.3.5.14.1).
 * - Otherwise every element must be SHARED or EXCLUSIVE, optionally with FAIL_IMMEDIATELY, and
 *   a request of several elements must set FAIL_IMMEDIATELY on all of them (3.3.5.14.2, as
 *   Windows); all elements are checked before any is applied, then the state layer grants them
 *   all or none, so a conflict never leaves a part of the request locked.
 * - A conflict with FAIL_IMMEDIATELY answers STATUS_LOCK_NOT_GRANTED (never the SMB1-era
 *   STATUS_FILE_LOCK_CONFLICT, which is READ/WRITE's answer); without it the request (then
 *   always a single element) waits asynchronously (smb2_async.h) on the file's waiter list until
 *   it is granted, cancelled (STATUS_CANCELLED) or its open, tree or session goes away
 *   (STATUS_RANGE_NOT_LOCKED, as Windows answers a lock whose handle was closed under it).
 * - LockSequence (3.3.5.14) is verified on resilient and durable opens, and on every open of an
 *   SMB 3.x connection when the server announces multichannel; the 64 entries live in the
 *   state layer with the open's record. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/log.h"
#include "smb2/smb2_async.h"
#include "smb2/smb2_file.h"
#include "state/lease.h"

#define SMB2_LOCKFLAG_SHARED 0x01u
#define SMB2_LOCKFLAG_EXCLUSIVE 0x02u
#define SMB2_LOCKFLAG_UNLOCK 0x04u
#define SMB2_LOCKFLAG_FAIL_IMMEDIATELY 0x10u

/* SMB2_LOCK_ELEMENT (2.2.26.1) */
struct lock_element {
	uint64_t off, len;
	uint32_t flags;
};

struct lock_request {
	uint32_t sequence;
	struct smb2_open *op;
	int count;
	struct lock_element *el; /* count elements, malloc'd */
};

/* A blocked lock request (the pending request's priv). The state layer calls wake() with its
 * mutex held while the waiter is registered; p is published after smb2_go_async returns, so a
 * wake that comes earlier only sets woken and the handler wakes the request itself. */
struct lock_wait {
	struct state_lock_waiter waiter;
	struct smb2_open *op; /* valid until cancel: the open's close cancels the request first */
	struct state_lock_range range;
	uint32_t sequence;
	_Atomic(struct smb2_pending *) p;
	atomic_bool woken;
};

static NTSTATUS lock_parse(struct smb2_req *req, struct lock_request *lr)
{
	struct rd b = req->body;
	rd_skip(&b, 2); /* StructureSize */
	uint16_t count = rd_u16(&b);
	lr->sequence = rd_u32(&b);
	NTSTATUS st = smb2_open_from_body(req, &b, &lr->op);
	if (!st && !rd_ok(&b))
		st = STATUS_INVALID_PARAMETER;
	if (st)
		return st;
	/* 3.3.5.14: at least one element, all inside the request */
	if (count == 0 || rd_left(&b) < (size_t)count * 24)
		return STATUS_INVALID_PARAMETER;
	lr->el = malloc(sizeof(*lr->el) * count);
	if (!lr->el)
		return STATUS_NO_MEMORY;
	for (int i = 0; i < count; i++) {
		lr->el[i].off = rd_u64(&b);
		lr->el[i].len = rd_u64(&b);
		lr->el[i].flags = rd_u32(&b);
		rd_skip(&b, 4); /* Reserved */
	}
	lr->count = count;
	return rd_ok(&b) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

/* 3.3.5.14: when LockSequence is verified. */
static bool lock_seq_applies(const struct smb2_req *req, const struct smb2_open *op)
{
	uint16_t d = req->conn->dialect;
	if (d == SMB2_DIALECT_202)
		return false;
	if (op->is_resilient || op->is_durable)
		return true;
	return d >= SMB2_DIALECT_300 &&
	       (smb2_server_caps(req->conn, d) & SMB2_GLOBAL_CAP_MULTI_CHANNEL);
}

static NTSTATUS lock_reply(struct smb2_req *req)
{
	wr_u16(req->out, 4);
	wr_u16(req->out, 0);
	return STATUS_SUCCESS;
}

static NTSTATUS lock_status(int rc)
{
	switch (rc) {
	case -EAGAIN:
		return STATUS_LOCK_NOT_GRANTED;
	case -EINVAL:
		return STATUS_INVALID_LOCK_RANGE;
	case -ENOLCK:
		return STATUS_INSUFFICIENT_RESOURCES;
	default:
		return STATUS_NO_MEMORY;
	}
}

/* 3.3.5.14.1 */
static NTSTATUS do_unlocks(struct smb2_req *req, const struct lock_request *lr, bool seq)
{
	struct state_open *rec = lr->op->state_rec;
	for (int i = 0; i < lr->count; i++) {
		/* FAIL_IMMEDIATELY with UNLOCK is refused too, as Windows does (the spec allows
		   ignoring it) */
		if (lr->el[i].flags != SMB2_LOCKFLAG_UNLOCK)
			return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
		if (state_unlock(rec, lr->el[i].off, lr->el[i].len) < 0)
			return SMB2_ERR(req, STATUS_RANGE_NOT_LOCKED);
	}
	if (seq)
		state_lock_seq_store(rec, lr->sequence);
	return lock_reply(req);
}

/* ---- blocking locks ---- */

static void lock_wait_wake(void *arg)
{
	struct lock_wait *lw = arg;
	atomic_store(&lw->woken, true);
	struct smb2_pending *p = atomic_load(&lw->p);
	if (p)
		smb2_pending_wake(p);
}

static NTSTATUS lock_wait_retry(struct smb2_req *req, void *priv)
{
	struct lock_wait *lw = priv;
	struct smb2_open *op = lw->op;
	int rc = state_lock_ranges(op->state_rec, &lw->range, 1, &lw->waiter, NULL);
	if (rc == -EAGAIN)
		return STATUS_PENDING;
	if (rc) {
		state_lock_waiter_remove(&lw->waiter);
		return SMB2_ERR(req, lock_status(rc));
	}
	if (lock_seq_applies(req, op))
		state_lock_seq_store(op->state_rec, lw->sequence);
	return lock_reply(req);
}

static NTSTATUS lock_wait_cancel(struct smb2_req *req, void *priv, NTSTATUS reason)
{
	(void)req;
	struct lock_wait *lw = priv;
	state_lock_waiter_remove(&lw->waiter);
	/* CANCEL: STATUS_CANCELLED; the handle, tree or session closed under the request:
	   Windows answers STATUS_RANGE_NOT_LOCKED */
	return reason == STATUS_CANCELLED ? STATUS_CANCELLED : STATUS_RANGE_NOT_LOCKED;
}

static void lock_wait_free(void *priv)
{
	struct lock_wait *lw = priv;
	if (!lw)
		return;
	state_lock_waiter_remove(&lw->waiter);
	free(lw);
}

static const struct smb2_async_ops lock_wait_ops = {
	.retry = lock_wait_retry,
	.cancel = lock_wait_cancel,
	.free = lock_wait_free,
};

/* A single lock without FAIL_IMMEDIATELY: granted now, or registered on the file's waiter list
 * (in the same state-layer step as the failed attempt) and made asynchronous. */
static NTSTATUS lock_blocking(struct smb2_req *req, const struct lock_request *lr,
			      const struct state_lock_range *r)
{
	struct lock_wait *lw = calloc(1, sizeof(*lw));
	if (!lw)
		return SMB2_ERR(req, STATUS_NO_MEMORY);
	lw->waiter.wake = lock_wait_wake;
	lw->waiter.arg = lw;
	lw->op = lr->op;
	lw->range = *r;
	lw->sequence = lr->sequence;
	int rc = state_lock_ranges(lr->op->state_rec, r, 1, &lw->waiter, NULL);
	if (rc != -EAGAIN) {
		lock_wait_free(lw);
		if (rc)
			return SMB2_ERR(req, lock_status(rc));
		if (lock_seq_applies(req, lr->op))
			state_lock_seq_store(lr->op->state_rec, lr->sequence);
		return lock_reply(req);
	}
	struct smb2_pending *p = NULL;
	NTSTATUS st = smb2_go_async(req, &lock_wait_ops, lw, lr->op, 0, &p);
	if (st != STATUS_PENDING)
		return SMB2_ERR(req, st); /* lw was freed (and unregistered) by go_async */
	atomic_store(&lw->p, p);
	if (atomic_load(&lw->woken))
		smb2_pending_wake(p); /* a lock went away before p was published */
	return STATUS_PENDING;
}

/* 3.3.5.14.2 */
static NTSTATUS do_locks(struct smb2_req *req, const struct lock_request *lr, bool seq)
{
	struct smb2_open *op = lr->op;
	/* LockFileEx needs read or write access on the handle */
	if (!(op->access & (FILE_READ_DATA | FILE_WRITE_DATA)))
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	struct state_lock_range *r = malloc(sizeof(*r) * (size_t)lr->count);
	if (!r)
		return SMB2_ERR(req, STATUS_NO_MEMORY);
	NTSTATUS st = STATUS_SUCCESS;
	bool wait = false;
	for (int i = 0; i < lr->count && !st; i++) {
		uint32_t f = lr->el[i].flags;
		uint32_t kind = f & ~SMB2_LOCKFLAG_FAIL_IMMEDIATELY;
		if (kind != SMB2_LOCKFLAG_SHARED && kind != SMB2_LOCKFLAG_EXCLUSIVE)
			st = STATUS_INVALID_PARAMETER;
		else if (!(f & SMB2_LOCKFLAG_FAIL_IMMEDIATELY) && lr->count > 1)
			st = STATUS_INVALID_PARAMETER;
		else if (!state_lock_range_valid(lr->el[i].off, lr->el[i].len))
			st = STATUS_INVALID_LOCK_RANGE;
		r[i] = (struct state_lock_range){lr->el[i].off, lr->el[i].len,
						 kind == SMB2_LOCKFLAG_EXCLUSIVE};
		wait = !(f & SMB2_LOCKFLAG_FAIL_IMMEDIATELY);
	}
	if (st) {
		free(r);
		return SMB2_ERR(req, st);
	}
	/* MS-FSA 2.1.5.7: a lock request breaks level II oplocks (the requester's own too) and
	   other lease keys' read caching before it is tried (operation RANGE_LOCK) */
	state_oplock_break_on_write(op->oplock);
	if (wait) {
		st = lock_blocking(req, lr, &r[0]);
		free(r);
		return st;
	}
	int rc = state_lock_ranges(op->state_rec, r, lr->count, NULL, NULL);
	free(r);
	if (rc)
		return SMB2_ERR(req, lock_status(rc));
	if (seq)
		state_lock_seq_store(op->state_rec, lr->sequence);
	return lock_reply(req);
}

NTSTATUS smb2_lock(struct smb2_req *req)
{
	struct lock_request lr = {0};
	NTSTATUS st = lock_parse(req, &lr);
	if (st) {
		free(lr.el);
		return SMB2_ERR(req, st);
	}
	struct smb2_open *op = lr.op;
	if (op->pipe || !op->file)
		st = STATUS_INVALID_DEVICE_REQUEST;
	else if (op->is_dir)
		st = STATUS_INVALID_PARAMETER; /* MS-FSA 2.1.5.7: not on a directory */
	else if (!op->state_rec)
		st = STATUS_INVALID_HANDLE;
	if (st) {
		free(lr.el);
		return SMB2_ERR(req, st);
	}
	bool seq = lock_seq_applies(req, op);
	if (seq && state_lock_seq_replay(op->state_rec, lr.sequence)) {
		/* 3.3.5.14: this lock/unlock was already processed: success, nothing done */
		free(lr.el);
		return lock_reply(req);
	}
	if (lr.el[0].flags == SMB2_LOCKFLAG_UNLOCK)
		st = do_unlocks(req, &lr, seq);
	else
		st = do_locks(req, &lr, seq);
	free(lr.el);
	return st;
}
