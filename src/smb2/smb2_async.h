/* Asynchronous requests (MS-SMB2 3.3.4.2, 3.3.5.16): a request that must wait (a blocking byte-range
 * lock, a change notification, a create held by an oplock or lease break) goes "pending".
 *
 * How a handler uses it:
 *   1. it decides it must wait, registers itself wherever the wake will come from (a lock's waiter
 *      list, a directory's watch list ...) and calls smb2_go_async(), returning what it returns
 *      (STATUS_PENDING);
 *   2. the dispatcher answers at once with an interim response (STATUS_PENDING, the
 *      SMB2_FLAGS_ASYNC_COMMAND flag and an AsyncId), granting the request's credits;
 *   3. whoever can make progress calls smb2_pending_wake() (any thread). The connection's worker then
 *      calls ops->retry() with a request context rebuilt from a copy of the original message (same
 *      session, tree, body cursor); retry does the work like a handler (appends its response body to
 *      req->out) and returns the final status, or STATUS_PENDING to keep waiting;
 *   4. CANCEL naming the request (by AsyncId, or by MessageId before the interim arrived), the
 *      open/tree/session going away, or the connection ending call ops->cancel() instead; cancel
 *      must unregister the request from every wait list before it returns, and returns the final
 *      status to send (STATUS_CANCELLED for CANCEL; nothing is sent when the connection is gone).
 *   The final response carries the AsyncId, is signed and encrypted like a synchronous one, and
 *   grants no credits (the interim did).
 *
 * Threads: retry, cancel and free run on the connection's worker, serialised with its other
 * requests and under the session's run_lock (struct smb2_session), so they may touch the
 * session's opens like handlers do. The one exception: a close or the session's end on another
 * channel of the session runs cancel on that channel's worker (under the same run_lock). smb2_pending_wake is the only
 * function that may be called from another thread; it must be called while the pending request is
 * still registered with the caller (under the caller's lock that cancel also takes to unregister),
 * which is what keeps the pointer valid: after cancel has unregistered it, nobody wakes it.
 *
 * Ownership: the connection owns its pending requests (a list in struct smb2_conn); priv belongs to
 * the pending request from smb2_go_async until ops->free(priv). */
#ifndef SHOAL_SMB2_ASYNC_H
#define SHOAL_SMB2_ASYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/ntstatus.h"

struct smb2_req;
struct smb2_open;
struct smb2_pending;
struct smb2_conn;
struct smb2_session;

struct smb2_async_ops {
	/* Woken or timed out (smb2_pending_timed_out): final status, or STATUS_PENDING. */
	NTSTATUS (*retry)(struct smb2_req *req, void *priv);
	/* Ends the wait without success: reason is STATUS_CANCELLED (CANCEL), STATUS_FILE_CLOSED
	   (its open was closed), STATUS_USER_SESSION_DELETED / STATUS_NETWORK_NAME_DELETED (session
	   or tree gone) or STATUS_CONNECTION_DISCONNECTED (connection gone: the returned status is
	   not sent). Must unregister from every wait list. Returns the status to send; it may append
	   a response body to req->out (and set req->keep_body) like a handler. */
	NTSTATUS (*cancel)(struct smb2_req *req, void *priv, NTSTATUS reason);
	/* Frees priv (may be NULL). */
	void (*free)(void *priv);
};

/* Makes the running request asynchronous. op is the open the request waits on (its close cancels
 * the request), or NULL. timeout_ms > 0 wakes the request after that long with
 * smb2_pending_timed_out() true (0: no timeout). *out (may be NULL) receives the pending request
 * for the caller's wait list. Returns STATUS_PENDING for the handler to return, or an error status
 * (STATUS_INSUFFICIENT_RESOURCES: out of memory or the connection's cap on pending requests) in
 * which case nothing was kept and ops->free(priv) was already called. */
NTSTATUS smb2_go_async(struct smb2_req *req, const struct smb2_async_ops *ops, void *priv,
		       struct smb2_open *op, uint32_t timeout_ms, struct smb2_pending **out);

/* Asks the connection's worker to run the request's retry soon. Thread-safe; see above for the
 * rule that keeps the pointer valid. Waking an already woken request is harmless. */
void smb2_pending_wake(struct smb2_pending *p);

/* Sets a new timeout (ms from now; 0 = none) for a pending request whose earlier one fired or
 * no longer fits (a create that waits for a second round of oplock breaks). Runs on the
 * connection's worker (retry). */
void smb2_pending_set_timeout(struct smb2_pending *p, uint32_t timeout_ms);

/* True inside retry when the wake came from the request's timeout. */
bool smb2_pending_timed_out(const struct smb2_req *req);
/* The pending request a retry or cancel runs for (NULL in a synchronous request). */
struct smb2_pending *smb2_req_pending(const struct smb2_req *req);
/* The AsyncId of a pending request (for logs and tests). */
uint64_t smb2_pending_async_id(const struct smb2_pending *p);

/* Ends (with cancel(reason)) every pending request waiting on op, on every channel of its
 * session; called by the close path before the open is freed. Returns how many were ended.
 * Runs on the worker of any connection of the session (c is unused: the session's connections
 * are looked up). Requests of the connection this thread serves end at once; those of another
 * channel run their cancel here and their final response is sent by that channel's worker. */
int smb2_pending_cancel_open(struct smb2_conn *c, struct smb2_open *op, NTSTATUS reason);
/* The same for every pending request of a session (LOGOFF, session teardown). */
int smb2_pending_cancel_session(struct smb2_conn *c, struct smb2_session *s, NTSTATUS reason);

/* Marks the current thread as the worker of c while it runs c's requests, asynchronous work or
 * teardown (smb2_conn.c); returns the previous mark for smb2_async_leave. */
struct smb2_conn *smb2_async_enter(struct smb2_conn *c);
void smb2_async_leave(struct smb2_conn *prev);

/* Internal to the dispatcher (smb2_conn.c): CANCEL, and a pending request whose handler did not
 * return STATUS_PENDING (ended at once, nothing sent). */
void smb2_pending_cancel_request(struct smb2_conn *c, bool by_async_id, uint64_t async_id,
				 uint64_t msg_id);
void smb2_pending_drop(struct smb2_conn *c, struct smb2_pending *p);

#endif
