/* CHANGE_NOTIFY (MS-SMB2 2.2.35/2.2.36, 3.3.5.19): the first request on a directory handle starts
 * a watch (src/state/notify.h) that lives until the handle is closed and collects changes between
 * requests; a request finds the changes already buffered and completes at once, or goes
 * asynchronous until changes arrive. Closing the handle completes a waiting request with
 * STATUS_NOTIFY_CLEANUP, CANCEL with STATUS_CANCELLED; changes that do not fit the client's buffer
 * give STATUS_NOTIFY_ENUM_DIR (the client re-reads the directory). */
#include <errno.h>
#include <stdlib.h>

#include "lib/log.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"
#include "state/notify.h"
#include "state/state.h"

#define SMB2_WATCH_TREE 0x0001u
#define FILE_LIST_DIRECTORY 0x00000001u

struct notify_wait {
	struct smb2_open *op;
	uint32_t max_out;
	struct smb2_pending *p;
	bool no_waiter; /* registering the waiter failed: the retry answers at once */
};

/* Appends the response body with the changes that answer the request (nw: its waiter, NULL
 * before it has one); STATUS_PENDING when there are none. */
static NTSTATUS notify_reply(struct smb2_req *req, struct smb2_open *op, uint32_t max_out,
			     struct notify_wait *nw)
{
	struct wr *w = req->out;
	size_t base = w->len;
	wr_u16(w, 9);
	wr_u16(w, SMB2_HDR_LEN + 8); /* OutputBufferOffset, from the header */
	wr_u32(w, 0);
	size_t data = w->len;
	long n = 0;
	if (max_out) {
		if (wr_space(w, max_out) == (size_t)-1)
			return SMB2_ERR(req, STATUS_NO_MEMORY);
		n = state_watch_take(op->watch, nw, w->p + data, max_out);
	} else {
		/* no room at all: anything buffered is an overflow */
		uint8_t none[1];
		n = state_watch_take(op->watch, nw, none, 0);
	}
	if (n == 0) {
		w->len = base;
		return STATUS_PENDING;
	}
	if (n == -EIDRM) {
		w->len = base;
		return SMB2_ERR(req, STATUS_DELETE_PENDING);
	}
	if (n < 0) {
		w->len = data;
		wr_u8(w, 0);
		return STATUS_NOTIFY_ENUM_DIR;
	}
	w->len = data + (size_t)n;
	wr_set_u32(w, base + 4, (uint32_t)n);
	return STATUS_SUCCESS;
}

/* Empty response body for the informational completions (NOTIFY_CLEANUP). */
static void empty_reply(struct smb2_req *req)
{
	wr_u16(req->out, 9);
	wr_u16(req->out, 0);
	wr_u32(req->out, 0);
	wr_u8(req->out, 0);
}

/* the directory became delete pending (state table lock held) */
static void notify_deleted(void *arg)
{
	state_watch_mark_deleted(arg);
}

static void notify_wake(void *arg)
{
	struct notify_wait *nw = arg;
	smb2_pending_wake(nw->p);
}

static NTSTATUS notify_retry(struct smb2_req *req, void *priv)
{
	struct notify_wait *nw = priv;
	NTSTATUS st = notify_reply(req, nw->op, nw->max_out, nw);
	if (st == STATUS_PENDING && nw->no_waiter)
		return SMB2_ERR(req, STATUS_INSUFFICIENT_RESOURCES);
	return st;
}

static NTSTATUS notify_cancel(struct smb2_req *req, void *priv, NTSTATUS reason)
{
	struct notify_wait *nw = priv;
	state_watch_del_waiter(nw->op->watch, nw);
	if (reason == STATUS_CANCELLED)
		return STATUS_CANCELLED;
	empty_reply(req);
	return STATUS_NOTIFY_CLEANUP;
}

static void notify_free(void *priv)
{
	struct notify_wait *nw = priv;
	if (nw->op->watch)
		state_watch_del_waiter(nw->op->watch, nw);
	free(nw);
}

static const struct smb2_async_ops notify_ops = {notify_retry, notify_cancel, notify_free};

NTSTATUS smb2_change_notify(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint16_t flags = rd_u16(&b);
	uint32_t max_out = rd_u32(&b);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	uint32_t filter = rd_u32(&b);
	if (st)
		return SMB2_ERR(req, st);
	if (!rd_ok(&b) || max_out > req->conn->max_trans)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (!op->file || !op->is_dir)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (!(op->access & FILE_LIST_DIRECTORY))
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	if (!op->watch) {
		int fd = vfs_watch_fd(op->file);
		if (fd < 0)
			return SMB2_ERR(req, STATUS_NOT_SUPPORTED);
		int rc = state_watch_new(req->srv->notify, fd, flags & SMB2_WATCH_TREE, filter,
					 &op->watch);
		if (rc < 0) {
			LOG_WARN(LOG_SMB2, "%s: cannot watch %s: %s", req->conn->peer, op->name,
				 strerror(-rc));
			return SMB2_ERR(req, STATUS_INSUFFICIENT_RESOURCES);
		}
		if (op->state_rec) {
			state_open_on_delete_pending(op->state_rec, notify_deleted, op->watch);
			/* it may have become delete pending before this request arrived (another
			   connection's rmdir raced it): registered first, then checked, so
			   neither order is missed */
			if (state_delete_pending(op->state_rec))
				state_watch_mark_deleted(op->watch);
		}
		op->watch_max = max_out;
	}
	/* like the filter, the first request's buffer size bounds the handle's later ones (if the
	   first answers NOTIFY_ENUM_DIR, all do: smbtorture smb2.notify.valid-req) */
	if (max_out > op->watch_max)
		max_out = op->watch_max;
	/* the filter and WATCH_TREE of the first request stay until the handle is closed, as
	   Windows does (smbtorture smb2.notify.mask-change); later requests' values are ignored */
	st = notify_reply(req, op, max_out, NULL);
	if (st != STATUS_PENDING)
		return st;
	struct notify_wait *nw = calloc(1, sizeof(*nw));
	if (!nw)
		return SMB2_ERR(req, STATUS_NO_MEMORY);
	nw->op = op;
	nw->max_out = max_out;
	st = smb2_go_async(req, &notify_ops, nw, op, 0, &nw->p);
	if (st != STATUS_PENDING)
		return st;
	if (state_watch_add_waiter(op->watch, notify_wake, nw) < 0) {
		nw->no_waiter = true;
		smb2_pending_wake(nw->p);
	}
	return STATUS_PENDING;
}
