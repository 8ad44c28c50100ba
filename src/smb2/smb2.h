/* SMB2/3 protocol core: wire constants, the connection/session/tree/open objects, the request
 * context handed to command handlers, and the dispatch table (MS-SMB2).
 *
 * Ownership (get/put refcounts):
 *  - struct smb2_conn is owned by its event loop; a job running in a worker holds a reference.
 *  - sessions are owned by their connection's session table; a request holds a reference to the
 *    session it resolved (req->session) until the response is sent.
 *  - trees are owned by their session; opens are owned by their session's open table and point
 *    at their tree (which holds a reference count of opens so it is freed last).
 * Per-request memory: the response chain is one growable buffer (struct wr) freed after send;
 * READ data is read straight into it and encrypted in place there. */
#ifndef SHOAL_SMB2_H
#define SHOAL_SMB2_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth/idmap.h"
#include "auth/spnego.h"
#include "auth/userdb.h"
#include "crypto/crypto.h"
#include "lib/buf.h"
#include "lib/conf.h"
#include "lib/ntstatus.h"
#include "vfs/vfs.h"

#include "smb2/smb2_wire.h"

/* ---- objects ---- */

struct smb2_server;
struct smb2_conn;
struct smb2_session;
struct smb2_tree;
struct smb2_open;
struct rpc_pipe;
struct state_watch;
struct state_notify;
struct state_oplock;
struct state_lease_db;
struct state_durable;
struct state_durable_db;


struct smb2_tree {
	uint32_t id;
	atomic_int refs;
	struct smb2_session *session; /* not counted: the session outlives its trees */
	char *share_name;
	bool is_ipc;
	bool read_only;
	uint32_t share_flags;  /* 2.2.10 ShareFlags */
	uint32_t max_access;   /* MaximalAccess granted on the share */
	struct vfs_share *vfs; /* NULL for IPC$ */
	bool encrypt;          /* share requires encryption (issue 3) */
	bool durable_handles;  /* the share's "durable handles" (default yes) */
};

struct smb2_open {
	uint64_t persistent_id;
	uint64_t volatile_id;
	struct smb2_tree *tree; /* holds a tree reference */
	struct smb2_session *session;
	uint32_t access;       /* granted access mask */
	uint32_t share_access;
	uint32_t create_options;
	bool is_dir;
	bool delete_on_close;
	struct vfs_file *file;  /* NULL for pipes */
	struct rpc_pipe *pipe;  /* named pipe on IPC$ */
	void *dir_state;        /* QUERY_DIRECTORY enumeration state, owned by smb2_dir.c */
	void (*dir_state_free)(void *);
	void *state_rec;        /* share-mode record handle, owned by the state layer */
	struct state_oplock *oplock; /* oplock/lease entry (state/lease.h), NULL for pipes */
	struct state_watch *watch; /* change notification, from the first CHANGE_NOTIFY to close */
	uint32_t watch_max;        /* the first CHANGE_NOTIFY's OutputBufferLength */
	char *name;             /* path relative to the share root, '/' separated, "" = root */
	uint64_t position;      /* FilePositionInformation */
	uint32_t mode;          /* FileModeInformation */
	bool have_resume_key;   /* FSCTL_SRV_REQUEST_RESUME_KEY was asked (smb2_copychunk.c) */
	uint8_t resume_key[24];
	/* Open.IsResilient / Open.IsDurable (MS-SMB2 3.3.1.10): LOCK verifies LockSequence on such
	   opens (smb2_lock.c); set by FSCTL_LMR_REQUEST_RESILIENCY and the durable-handle create
	   contexts once those exist (issue 6) */
	bool is_resilient;
	bool is_durable;
	/* Requests in flight on this open that its CLOSE must wait for rather than cancel
	   (smb2_open_hold); the CLOSE that waits is close_waiter. Worker-only. */
	int holds;
	struct smb2_pending *close_waiter;
	/* durable handles (smb2_durable.c): the record in the server's durable table, NULL when
	   the open is not durable; detached is set (before session goes NULL) when the open
	   survives its connection, and cleared when a reconnect attaches it to a new session */
	struct state_durable *durable;
	struct state_durable_db *durable_db; /* the server's table (break callbacks reach it) */
	atomic_bool detached;
	struct vfs_ident owner_ident; /* the identity closing a detached open runs under */
	uint32_t create_action;       /* CREATE's answer, repeated to a replay of it */
	bool replay_eligible;         /* no other request has used it since its CREATE */
	uint16_t channel_sequence;    /* Open.ChannelSequence (3.3.5.2.10) */
	bool owner_as_user;
};

enum smb2_sess_state { SESS_IN_PROGRESS, SESS_VALID, SESS_EXPIRED };

struct smb2_session {
	uint64_t id;
	atomic_int refs;
	pthread_mutex_t lock; /* guards the tree and open tables */
	/* Serialises the session's work across its channels (recursive): every handler of a
	   request on the session, its asynchronous retries and cancels, and its teardown hold it,
	   so a request on one channel never sees an open that another channel is closing. Taken
	   before any other lock (conns_lock, a connection's lock, lock above, the state layer's). */
	pthread_mutex_t run_lock;
	/* The connection that created the session (Session.Connection): owns it in its session
	   table, receives its oplock/lease breaks and asynchronous requests; its end ends the
	   session. Other connections reach the session through their channel table (struct
	   smb2_channel, MS-SMB2 3.3.1.8 Session.ChannelList). When it ends while a channel is
	   bound, the session moves to that channel's connection (smb2_session_migrate). */
	struct smb2_conn *_Atomic conn;
	/* guards conn for those that read it without run_lock (oplock and lease breaks): it
	   changes when the first connection ends while a bound channel lives on */
	pthread_mutex_t send_lock;
	atomic_int nbound; /* channel entries of other connections that name this session */
	struct smb2_session *hnext; /* the server's session_hash bucket (under sessions_lock) */
	/* the connections of those entries (guarded by lock): where the session's asynchronous
	   requests may wait besides conn */
	struct smb2_conn **chan_conns;
	int nchan_conns, chan_conns_cap;
	/* the first connection's parameters a binding must match (3.3.5.5.2), copied so that a
	   channel never reads the first connection after it is gone */
	uint16_t dialect;
	enum smb2_sign_alg sign_alg;
	enum smb2_cipher cipher;
	enum smb2_sess_state state;
	struct spnego_server *auth; /* during setup */
	bool anonymous, guest;
	char user[USERDB_NAME_MAX + 1];
	char domain[64];
	struct vfs_ident ident;
	struct sid user_sid;
	uint8_t session_key[16];
	uint8_t signing_key[16];
	uint8_t app_key[16];
	uint8_t enc_key[32];   /* server -> client (ServerOut / S2C) */
	uint8_t dec_key[32];   /* client -> server (ServerIn / C2S) */
	bool signing_required;
	bool encrypt_data;
	atomic_bool teardown_requested; /* another connection's reconnect ended it (3.3.5.5.3), or a
					   LOGOFF or failed re-authentication on a bound channel */
	/* A failed re-authentication ended it: its trees and opens are closed but the record stays
	   in its connection's table (state EXPIRED, keys kept) until the connection ends, so that
	   refusals of requests naming it are signed as the client requires (as Windows). */
	atomic_bool deleted;
	uint8_t preauth_hash[64]; /* 3.1.1 session preauth integrity hash */
	atomic_uint_fast64_t nonce_ctr; /* transform nonces: counter || salt, unique per key */
	uint8_t nonce_salt[4];
	/* trees and opens: small tables, searched linearly for now (hundreds per session at most
	   in this issue; the maxfid work replaces them with hash tables) */
	struct smb2_tree **trees;
	int ntrees, trees_cap;
	uint32_t next_tree_id;
	struct smb2_open **opens;
	int nopens, opens_cap;
	uint64_t next_volatile_id;
};

/* A session of another connection bound to this one by SESSION_SETUP with
 * SMB2_SESSION_FLAG_BINDING (MS-SMB2 3.3.1.14 Channel, 3.3.5.5.2). Owned by the connection's
 * channel table; only the connection's worker reads its keys and authentication state. Another
 * thread ending the session only sets gone (under the connection's lock); the entry is freed by
 * its connection (the next binding, or the connection's end). */
struct smb2_channel {
	struct smb2_session *session; /* counted */
	bool valid;                   /* the binding completed: signing_key is set */
	bool gone;                    /* the session ended: the entry no longer resolves */
	uint8_t signing_key[16];      /* Channel.SigningKey: signs and verifies on this connection */
	uint8_t preauth_hash[64];     /* 3.1.1: the binding's preauth integrity hash */
	struct spnego_server *auth;   /* the binding's authentication in progress */
};

struct smb2_conn {
	atomic_int refs;
	struct smb2_server *srv;
	int fd;
	char peer[64]; /* "127.0.0.1:5555" */
	pthread_mutex_t lock; /* guards sessions, the output queue and the credit window */
	/* negotiated */
	bool negotiated;
	uint16_t dialect;
	uint16_t client_security_mode;
	uint32_t client_caps;
	uint8_t client_guid[16];
	uint16_t client_dialects[16];
	int nclient_dialects;
	bool signing_required; /* server signing = mandatory, or the client required it */
	enum smb2_sign_alg sign_alg;
	enum smb2_cipher cipher;
	uint16_t preauth_alg; /* 1 = SHA-512 when 3.1.1 */
	uint8_t preauth_hash[64];
	uint32_t max_trans, max_read, max_write;
	/* credits (MS-SMB2 3.3.1.1): the window of message ids the client may use */
	uint64_t seq_low;       /* lowest message id not yet used */
	uint8_t *seq_bitmap;    /* used ids >= seq_low within the window */
	uint32_t credits_granted; /* size of the window: ids [seq_low, seq_low + granted) valid */
	/* sessions */
	struct smb2_session **sessions;
	int nsessions, sessions_cap;
	/* sessions of other connections bound to this one (guarded by lock) */
	struct smb2_channel **channels;
	int nchannels, channels_cap;
	/* set once a session of this connection has authenticated; read by the transport (any
	   thread) for "handshake timeout" */
	atomic_bool authenticated;
	/* the event loop's part lives in server/, reached through these */
	void *loop_priv;
	const struct smb2_transport *tp; /* NULL: asynchronous responses are dropped (unit tests) */
	/* asynchronous requests (smb2_async.c): touched only by the connection's worker */
	struct smb2_pending *pending, *pending_tail; /* oldest first */
	/* taken by the worker to change the pending list, and by other threads to read it (a
	   close on another channel of a session looks for the requests waiting on the open) */
	pthread_mutex_t pending_lock;
	/* requests moved here from another channel of their session when it ended (under
	   pending_lock; the worker splices them into its list), and whether this connection is
	   ending itself (then nothing more is moved here) */
	struct smb2_pending *adopted, *adopted_tail;
	bool closing;
	int npending;
	/* compounds whose CREATE went asynchronous in the middle: the rest of the chain runs after
	   the create's final response (smb2_conn_run_resumes), oldest first; worker only */
	struct smb2_resume *resumes, *resumes_tail;
	bool dead; /* set when the connection must be torn down */
	/* bytes of padding between a READ response's fixed part and its data (0 unless the test-only
	   FSCTL_SMBTORTURE_GLOBAL_READ_RESPONSE_BODY_PADDING8 asked for 8; smb2_torture.c) */
	uint8_t read_body_pad;
	/* FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT (smb2_torture.c): the connection behaves as if
	   the client never acknowledged the oplock and lease breaks sent on it; unacked_drop_ms is
	   when the transport drops it (0: no break sent yet) */
	atomic_bool force_unacked;
	_Atomic uint64_t unacked_drop_ms;
	/* the server's list of connections (smb2_server.conns), guarded by srv->conns_lock */
	struct smb2_conn *list_prev, *list_next;
};

/* What the transport offers the protocol layer for messages that are not the answer to the frame
 * being processed (final responses of asynchronous requests, later oplock breaks). */
struct smb2_transport {
	/* Schedules smb2_conn_run_async() on the connection's worker. Any thread; never blocks. */
	void (*wake)(void *loop_priv);
	/* Sends the message held in w from offset start (start >= 4: the 4 bytes before it are free
	   for the transport's framing); takes w's buffer. Any thread. */
	void (*send)(void *loop_priv, struct wr *w, size_t start);
};

/* The request context handed to handlers. */
struct smb2_req {
	struct smb2_conn *conn;
	struct smb2_server *srv;
	struct smb2_session *session; /* resolved from SessionId (or the compound's previous) */
	struct smb2_tree *tree;       /* resolved from TreeId when the command needs a tree */
	struct rd msg;  /* the whole request message, header included: offsets in requests are
			   relative to the header start, so use rd_sub(&req->msg, off, len) */
	struct rd body; /* the body after the 64-byte header */
	uint16_t cmd;
	uint32_t hdr_flags;
	uint64_t msg_id;
	uint64_t session_id;
	uint32_t tree_id;
	uint16_t credit_charge, credit_request;
	/* compound: a related request may use FileId 0xFFFF...FFFF for the previous create's id */
	bool related;
	uint64_t *compound_fid; /* [2] persistent, volatile of the last CREATE in the chain */
	bool *compound_fid_valid;
	/* response */
	struct wr *out; /* the response chain: the handler appends its body at out->len */
	size_t body_off; /* where this response's body starts in out */
	bool keep_body;  /* send the written body even though the status is an error */
	NTSTATUS status;
	const struct vfs_ident *ident; /* identity for file system calls (session's, or NULL = server) */
	/* set by handlers that need more of the dispatcher */
	uint8_t *preauth_hash_resp;   /* hash the response into this 3.1.1 preauth hash */
	struct smb2_session *sign_with; /* sign the response with this session's key (+ reference) */
	bool no_response;  /* CANCEL: send nothing */
	bool encrypted;    /* the request arrived in a transform message */
	bool disconnect;   /* drop the connection after this request (e.g. VALIDATE_NEGOTIATE) */
	bool session_failed; /* the session or tree of the request could not be resolved */
	NTSTATUS chain_status; /* status of the previous request in a compound chain */
	/* asynchronous requests (smb2_async.h) */
	struct smb2_pending *pending;     /* set by smb2_go_async, or the request a retry runs for */
	bool timed_out;                   /* retry: woken by the timeout */
	/* set for a lone plaintext request when the transport can send a file's data after the
	   response (smb2_conn_input_tail); the READ handler may fill it */
	struct smb2_tail *tail;
};

/* A command handler parses req->body, does the work, appends the response body to req->out and
 * returns the status. On an error status (unless keep_body) the dispatcher truncates what the
 * handler wrote and sends the standard error response (2.2.2). */
typedef NTSTATUS (*smb2_handler_fn)(struct smb2_req *req);

struct smb2_cmd_desc {
	const char *name;
	uint16_t struct_size;   /* the request's StructureSize: checked before the handler runs */
	bool need_session;      /* a VALID session is required */
	bool need_tree;         /* a tree connect is required */
	bool need_negotiate;    /* the connection must have negotiated */
	smb2_handler_fn fn;
};

extern const struct smb2_cmd_desc smb2_cmds[SMB2_NCMDS];

/* ---- handlers (one file per command family) ---- */
NTSTATUS smb2_negotiate(struct smb2_req *req);       /* smb2_negotiate.c */
NTSTATUS smb2_session_setup(struct smb2_req *req);   /* smb2_session.c */
NTSTATUS smb2_logoff(struct smb2_req *req);
NTSTATUS smb2_tree_connect(struct smb2_req *req);    /* smb2_tree.c */
NTSTATUS smb2_tree_disconnect(struct smb2_req *req);
/* MS-SMB2 3.3.5.7: a 3.1.1 TREE_CONNECT of an authenticated (neither anonymous nor guest)
   session that is neither signed nor encrypted ends the connection. */
/* Whether the response to req goes out unsigned (3.3.4.1.1), as the dispatcher will decide. */
bool smb2_response_unsigned(struct smb2_req *req);
bool smb2_tcon_unprotected(uint16_t dialect, bool anonymous, bool guest, bool is_signed,
			   bool encrypted);
NTSTATUS smb2_create(struct smb2_req *req);          /* smb2_create.c */
NTSTATUS smb2_close(struct smb2_req *req);
NTSTATUS smb2_flush(struct smb2_req *req);           /* smb2_rw.c */
NTSTATUS smb2_read(struct smb2_req *req);
NTSTATUS smb2_write(struct smb2_req *req);
NTSTATUS smb2_lock(struct smb2_req *req);            /* smb2_lock.c */
NTSTATUS smb2_ioctl(struct smb2_req *req);           /* smb2_ioctl.c */
/* FSCTLs on files (smb2_copychunk.c, smb2_sparse.c): in is the input buffer, max_out the
   client's MaxOutputResponse; output bytes are appended to out. */
NTSTATUS smb2_fsctl_resume_key(struct smb2_req *req, struct smb2_open *op, uint32_t max_out,
			       struct wr *out);
NTSTATUS smb2_fsctl_copychunk(struct smb2_req *req, struct smb2_open *op, uint32_t ctl,
			      struct rd in, uint32_t max_out, struct wr *out);
NTSTATUS smb2_fsctl_file(struct smb2_req *req, struct smb2_open *op, uint32_t ctl,
			 struct rd in, uint32_t max_out, struct wr *out);
/* FSCTL_QUERY_NETWORK_INTERFACE_INFO (smb2_netif.c); the FileId must be all ones. */
NTSTATUS smb2_fsctl_netif(uint64_t fid0, uint64_t fid1, uint32_t max_out, struct wr *out);
/* The test-only FSCTL_SMBTORTURE_* codes (smb2_torture.c), answered only with "smbtorture fsctls
   = yes": true when ctl is one of them. smb2_fsctl_torture handles one; *body_pad receives the
   bytes of padding to put between the IOCTL response's fixed part and its buffers. */
bool smb2_fsctl_is_torture(uint32_t ctl);
/* Whether the IOCTL request body b asks for the one torture FSCTL that needs no session or tree
   (FORCE_UNACKED_TIMEOUT, sent before any, on the connection itself) and the server allows it. */
bool smb2_fsctl_torture_sessionless(struct smb2_server *srv, struct rd b);
/* A break was sent on c: with FORCE_UNACKED_TIMEOUT in force, the connection is to be dropped
   soon, as after a break the client's TCP never acknowledged. */
void smb2_torture_break_sent(struct smb2_conn *c);
/* True once c must be dropped for such a break (now_ms: CLOCK_MONOTONIC milliseconds); the
   transport checks it about every second. */
bool smb2_torture_unacked_expired(struct smb2_conn *c, uint64_t now_ms);
NTSTATUS smb2_fsctl_torture(struct smb2_req *req, uint32_t ctl, const uint64_t fid[2],
			    struct rd in, uint32_t max_out, struct wr *out, uint32_t *body_pad);
/* Writes the fixed part of an IOCTL response (2.2.32) for ctl and fid, buffers right after it;
   returns where it starts (OutputCount is patched by smb2_ioctl_end_body). */
size_t smb2_ioctl_begin_body(struct wr *w, uint32_t ctl, const uint64_t fid[2]);
/* Patches OutputCount of the response begun at start: output bytes are those after out_start. */
void smb2_ioctl_end_body(struct wr *w, size_t start, size_t out_start);
/* An open's CLOSE waits for the requests that hold it (smb2_async.c): hold while such a request
   is in flight, release when it ends (wakes a waiting CLOSE at the last release). smb2_close_wait
   is called by CLOSE: STATUS_SUCCESS when nothing holds op (go on closing), else the request goes
   (or stays) pending, or an error status to answer. Worker-only. */
void smb2_open_hold(struct smb2_open *op);
void smb2_open_release(struct smb2_open *op);
NTSTATUS smb2_close_wait(struct smb2_req *req, struct smb2_open *op);
NTSTATUS smb2_cancel(struct smb2_req *req);          /* smb2_misc.c */
NTSTATUS smb2_echo(struct smb2_req *req);
NTSTATUS smb2_query_directory(struct smb2_req *req); /* smb2_dir.c */
NTSTATUS smb2_change_notify(struct smb2_req *req);   /* smb2_notify.c */
NTSTATUS smb2_query_info(struct smb2_req *req);      /* smb2_info.c */
NTSTATUS smb2_set_info(struct smb2_req *req);
NTSTATUS smb2_oplock_break(struct smb2_req *req);    /* smb2_oplock.c */
/* The state layer's break callback (smb2_oplock.c): sends an OPLOCK_BREAK notification to the
 * connection of the open owner (a struct smb2_open). See state/lease.h for why the open, its
 * session and its connection are valid during the call. */
struct state_break;
void smb2_oplock_send_break(void *owner, const struct state_break *b);
/* A request held by oplock or lease breaks of a file (its check in src/state/lease.c returned
 * -EAGAIN): the first call makes it asynchronous (op: the open whose close cancels it, or
 * NULL) and returns STATUS_PENDING; every change of the file's record in the lease table (an
 * acknowledgement, a close, a break's timeout) then calls run(req, wait), which runs the request
 * again and, when it must still wait, calls this again with that wait (STATUS_PENDING: keeps
 * waiting). done (may be NULL; first call only) is called with arg when the wait ends, however
 * it ends (also at once when this fails). Runs on the connection's worker. */
struct state_key;
struct smb2_break_wait;
typedef NTSTATUS (*smb2_break_run_fn)(struct smb2_req *req, struct smb2_break_wait *wait);
NTSTATUS smb2_break_wait(struct smb2_req *req, const struct state_key *key, struct smb2_open *op,
			 smb2_break_run_fn run, struct smb2_break_wait *wait,
			 void (*done)(void *arg), void *arg);

/* ---- named pipes on IPC$ (smb2_pipe.c) ---- */
/* Called by CREATE on an IPC$ tree: opens the named pipe and fills open->pipe. */
NTSTATUS smb2_pipe_open(struct smb2_req *req, struct smb2_open *op, const char *name);
NTSTATUS smb2_pipe_read(struct smb2_req *req, struct smb2_open *op, uint32_t len);
NTSTATUS smb2_pipe_write(struct smb2_req *req, struct smb2_open *op, const uint8_t *data,
			 uint32_t len);

/* ---- objects (smb2_objects.c) ---- */
/* Finds the open for a FileId in the request's session (and tree: an open of another tree is
 * STATUS_FILE_CLOSED), handling the compound's 0xFFFFFFFFFFFFFFFF id. Fills *out (no reference:
 * the session lock serialises closes with the request, which runs on the connection's single
 * worker). Returns STATUS_FILE_CLOSED when not found. */
NTSTATUS smb2_open_lookup(struct smb2_req *req, uint64_t persistent, uint64_t volatile_id,
			  struct smb2_open **out);
/* Reads a 16-byte FileId from the body cursor and looks it up. */
NTSTATUS smb2_open_from_body(struct smb2_req *req, struct rd *r, struct smb2_open **out);
/* STATUS_TOO_MANY_OPENED_FILES when the session holds "max open files" opens already. */
NTSTATUS smb2_open_limit(struct smb2_req *req);
/* Allocates an open in the request's session/tree with fresh ids (not yet visible to lookups
 * until smb2_open_publish). */
struct smb2_open *smb2_open_new(struct smb2_req *req);
int smb2_open_publish(struct smb2_req *req, struct smb2_open *op); /* 0 or -ENOMEM */
void smb2_open_unpublish(struct smb2_open *op); /* out of its session's table (if any) */
/* The request's ChannelSequence (SMB 3.x; 0 before). */
uint16_t smb2_req_channel_sequence(const struct smb2_req *req);
/* Closes the open (delete-on-close, share-mode release, vfs close) and frees it; unlinks it from
 * the session table when published. */
void smb2_open_close(struct smb2_open *op);
/* Whether any open of the server (any connection) lies beneath the directory open dir on the
 * same share: 1, 0 or -ENOMEM. Takes the locks itself (call with none held). */
int smb2_opens_below(struct smb2_server *srv, const struct smb2_open *dir);
/* Writes the 16-byte FileId. */
void smb2_write_fileid(struct wr *w, const struct smb2_open *op);

/* Where an error reply was raised, logged at debug level (CONVENTIONS 9). */
#define SMB2_ERR(req, st)                                                                         \
	smb2_log_status((req), (st), __FILE__, __LINE__)
NTSTATUS smb2_log_status(struct smb2_req *req, NTSTATUS st, const char *file, int line);


/* ---- the SMB2 service of one server (one per node; several may live in a test process) ---- */
struct state_db;

struct smb2_server {
	pthread_mutex_t conf_lock;
	struct shoal_conf *conf; /* current configuration; swapped on reload */
	struct userdb *users;
	struct idmap *idmap;
	struct state_db *state; /* cross-connection state (share modes; later locks, leases) */
	uint8_t server_guid[16];
	uint64_t start_time;    /* FILETIME */
	atomic_uint_fast64_t next_session_id;
	atomic_uint_fast64_t next_persistent_id;
	atomic_uint_fast64_t next_async_id; /* AsyncIds, unique across the server's connections */
	atomic_int nconns;
	/* every live connection, for the status API: linked by smb2_conn_new, unlinked by
	   smb2_conn_free before anything of the connection is freed. conns_lock is taken before a
	   connection's or a session's lock, never while holding one. */
	pthread_mutex_t conns_lock;
	struct smb2_conn *conns;
	/* every session in a connection's table, by id (MS-SMB2 GlobalSessionTable): requests
	   naming a session of another connection (a binding) find it here. Buckets chained by
	   smb2_session.hnext; sessions_lock is a leaf (nothing else is taken under it). */
	pthread_mutex_t sessions_lock;
	struct smb2_session **session_hash; /* SMB2_SESSION_HASH_SIZE buckets */
	struct smb2_timers *timers; /* deadlines of asynchronous requests */
	struct state_notify *notify; /* change notification watches */
	struct state_lease_db *leases; /* oplocks and leases (smb2_oplock.c sends their breaks) */
	struct state_durable_db *durable; /* durable opens, attached or disconnected */
};

#define SMB2_SESSION_HASH_SIZE 1024 /* buckets of smb2_server.session_hash (a power of two) */

/* Room kept in front of a response chain: 4 bytes NetBIOS session header + 52 bytes transform
 * header, so a response can be framed or encrypted in place without moving it. */
#define SMB2_OUT_HEADROOM 56

/* Creates the service context: opens the user database and the idmap under the configured state
 * directory. Takes a reference on conf. NULL with *err filled on failure. */
struct smb2_server *smb2_server_new(struct shoal_conf *conf, char *err, size_t errlen);
void smb2_server_free(struct smb2_server *srv);
/* Returns the current configuration with a reference (conf_put when done). */
struct shoal_conf *smb2_server_conf(struct smb2_server *srv);
/* Installs a new configuration (takes the caller's reference). */
void smb2_server_set_conf(struct smb2_server *srv, struct shoal_conf *conf);

struct smb2_conn *smb2_conn_new(struct smb2_server *srv, int fd, const char *peer);
/* Tears down every session of the connection (closing their opens) and frees it. Called once,
 * by the transport, when the connection has ended and no request is running. */
void smb2_conn_free(struct smb2_conn *c);
/* Processes one received frame (without the 4-byte session header). out must be an initialised
 * writer holding SMB2_OUT_HEADROOM bytes; the response chain (if any) is appended after them and,
 * when encrypted, its transform header written in the headroom. *start receives the offset in out
 * where the message to frame begins (the transport writes the 4-byte session header in front).
 * Returns 0, or -1 when the connection must be dropped (a protocol violation); out is then
 * left as it came, so nothing is sent. */
int smb2_conn_input(struct smb2_conn *c, uint8_t *frame, size_t len, struct wr *out,
		    size_t *start);
/* The data of a READ response left in a file for the transport to send after the message
 * (sendfile): len bytes of fd (a descriptor of its own, which the transport closes) from off. */
struct smb2_tail {
	int fd;
	uint64_t off;
	uint32_t len;
};
/* smb2_conn_input for a transport that can send a tail: a lone, plaintext READ whose response
 * is not signed may leave its data in the file; tail->fd is then >= 0 and the message framed
 * from *start is followed by tail->len bytes of the file. tail->fd is -1 otherwise. */
int smb2_conn_input_tail(struct smb2_conn *c, uint8_t *frame, size_t len, struct wr *out,
			 size_t *start, struct smb2_tail *tail);
/* Largest frame the connection accepts (bytes after the session header). */
size_t smb2_conn_max_frame(const struct smb2_conn *c);
/* Whether a received frame may run alongside the connection's other such frames, on another
 * worker and finishing in any order: a single request (not compounded, not encrypted: the
 * command of an encrypted frame is not known before it is decrypted) that is a READ, or a
 * WRITE at an offset (not appending), of an open regular file of the frame's session: not a
 * named pipe, whose messages are ordered, nor an alternate data stream, whose writes rewrite
 * an xattr. Everything else runs alone and in order (net.c). Looks at the session's
 * opens under their lock; no file system call. Any thread. */
bool smb2_conn_frame_parallel(struct smb2_conn *c, const uint8_t *frame, size_t len);

/* The Capabilities the server announced in NEGOTIATE (also echoed by VALIDATE_NEGOTIATE_INFO). */
uint32_t smb2_server_caps(const struct smb2_conn *c, uint16_t dialect);

/* Runs the retries of the connection's woken asynchronous requests and sends their final
 * responses (smb2_async.c). Called by the transport on the connection's worker after
 * tp->wake. Returns 0, or -1 when the connection must be dropped. */
int smb2_conn_run_async(struct smb2_conn *c);
/* The connection is ending: its pending requests of sessions that live on on another channel
 * move to that session's connection and run to their end there, unanswered (their MessageIds
 * belong to the lost channel; the client replays them: a replayed create finds the open the
 * moved one made, or gets FILE_NOT_AVAILABLE while it still waits) (smb2_async.c). */
void smb2_conn_rehome_pending(struct smb2_conn *c);
/* Ends every pending request without a response (the connection is gone). */
void smb2_conn_cancel_all(struct smb2_conn *c);

/* The rest of a compound whose CREATE went asynchronous before the chain's end (MS-SMB2
 * 3.3.5.2.7 and <206>: only a create that waits for an oplock or lease break may). When the
 * create completes, its final response (at hdr_off in out, header written) is followed by the
 * responses of the remaining requests, which run then: related ones inherit the create's FileId,
 * session, tree and status, as in a chain that never waited. */
struct smb2_resume {
	struct smb2_resume *next;
	struct wr out;                /* the final create response, the rest is appended */
	size_t hdr_off;
	struct smb2_session *session; /* counted: signs or encrypts the responses */
	bool sign, encrypt;
	uint8_t *rest; /* the requests after the create, as received */
	size_t rest_len;
	uint64_t fid[2];
	bool fid_valid;
	uint64_t session_id;
	uint32_t tree_id;
	NTSTATUS status;
};
/* Runs the queued resumes and sends their responses (smb2_conn.c); -1: drop the connection. */
int smb2_conn_run_resumes(struct smb2_conn *c);
/* Keeps the remaining requests of a chain with a pending CREATE (smb2_async.c); -1 on no memory. */
int smb2_pending_set_rest(struct smb2_pending *p, const uint8_t *rest, size_t len);
/* Signs a complete message with the session's key on this connection (its channel's key on a
 * bound connection; smb2_conn.c; used for asynchronous responses too). */
void smb2_sign_message(struct smb2_conn *c, struct smb2_session *s, uint8_t *msg, size_t len);
/* Writes the 64-byte response header for req at hdr_off in req->out (smb2_conn.c). */
void smb2_write_response_header(struct smb2_req *req, size_t hdr_off, uint16_t credits);
/* Appends the standard error body (2.2.2). */
void smb2_write_error_body(struct wr *w);
/* Server-wide timers for asynchronous requests (smb2_async.c). */
struct smb2_timers;
struct smb2_timers *smb2_timers_new(void);
void smb2_timers_free(struct smb2_timers *t);

/* SMB1 multi-protocol NEGOTIATE upgraded to SMB2 (smb2_negotiate.c); -1 drops the connection. */
int smb1_negotiate(struct smb2_conn *c, struct rd *frame, struct wr *out);

/* Transform and algorithm preferences (smb2_crypt.c). */
const char *smb2_cipher_name(enum smb2_cipher c);
const char *smb2_sign_alg_name(enum smb2_sign_alg a);
int smb2_cipher_prefs(const struct shoal_conf *conf, enum smb2_cipher out[4]);
int smb2_sign_prefs(const struct shoal_conf *conf, enum smb2_sign_alg out[3]);
bool smb2_conn_can_encrypt(const struct smb2_conn *c);
int smb2_transform_decrypt(struct smb2_conn *c, uint8_t *frame, size_t len,
			   struct smb2_session **sess, size_t *plain_len);
int smb2_transform_encrypt(struct smb2_conn *c, struct smb2_session *s, struct wr *out,
			   size_t start);

/* Session helpers (smb2_session.c). */
/* The session with this id on c: its own, or one bound to c by a completed binding (+ reference). */
struct smb2_session *smb2_session_lookup(struct smb2_conn *c, uint64_t id);
/* For a binding SESSION_SETUP: a session of c, one whose binding to c is in progress, or any
 * connection's (+ reference). */
struct smb2_session *smb2_session_lookup_bind(struct smb2_conn *c, uint64_t id);
void smb2_session_put(struct smb2_session *s);
/* Closes the session's trees and opens, unlinks it from its connection and ends its channels.
 * Runs on the worker of s->conn (takes s->run_lock). */
void smb2_session_teardown(struct smb2_session *s);
/* The key and algorithm that sign and verify s's messages on c: Session.SigningKey on the
 * session's own connection, Channel.SigningKey on a bound one, and the session's key with the
 * session's algorithm while the binding is in progress (3.3.5.2.4, 3.3.4.1.1). */
void smb2_signing_key_for(struct smb2_conn *c, struct smb2_session *s, uint8_t key[16],
			  enum smb2_sign_alg *alg);
/* The signing algorithm of a connection's dialect (HMAC-SHA256 before 3.0). */
enum smb2_sign_alg smb2_conn_sign_alg(const struct smb2_conn *c);
/* Frees c's channel table (the connection ends; the sessions live on). */
void smb2_conn_free_channels(struct smb2_conn *c);
/* The session's connection s->conn is ending: moves s to the connection of one of its bound
 * channels (true), or returns false when it has none (the caller tears it down). */
bool smb2_session_migrate(struct smb2_session *s);
struct smb2_tree *smb2_tree_lookup(struct smb2_session *s, uint32_t id); /* no reference */
void smb2_tree_teardown(struct smb2_tree *t); /* closes the tree's opens, frees it */
/* The session is going (logoff, connection lost, reconnect elsewhere): durable opens are
 * detached and kept, the others closed; the tree lives on while detached opens use it. */
void smb2_tree_detach(struct smb2_tree *t);
/* Drops a reference of the tree (an open's, or the session's at teardown); the last frees it. */
void smb2_tree_put(struct smb2_tree *t);

/* ---- durable handles (smb2_durable.c) ---- */
/* Detaches a durable open from its session (kept in the durable table until reconnected or
 * expired); returns false when the open must be closed instead (not durable, or a break of it is
 * in progress that nobody could acknowledge). */
bool smb2_durable_detach(struct smb2_open *op);
/* The durable table's expire callback: closes a disconnected open. */
void smb2_durable_expire(void *owner);

/* ---- status snapshot for the management API (smb2_status.c) ---- */

/* One session, copied out under the locks so the caller may format it at leisure. */
struct smb2_session_status {
	uint64_t id;
	char user[USERDB_NAME_MAX + 1];
	char domain[64];
	char client[64];       /* the connection's peer, "ADDR:PORT" */
	uint16_t dialect;      /* 0x0311 etc. */
	const char *signing;   /* "AES-128-GMAC", "AES-128-CMAC", "HMAC-SHA256" (static strings) */
	const char *cipher;    /* "AES-128-GCM" ... or "none" */
	const char *state;     /* "in_progress", "valid", "expired" */
	bool encrypt_data;     /* the server requires every message of the session encrypted */
	uint64_t encrypted_out; /* responses encrypted so far (the client may encrypt unasked) */
	bool signing_required;
	bool anonymous, guest;
	int ntrees, nopens;
};

/* Fills *out (malloc'd array, free() it) with every session of every connection of srv.
 * Returns the count, or -ENOMEM. Takes only short locks and never blocks on I/O. */
int smb2_status_sessions(struct smb2_server *srv, struct smb2_session_status **out);

#endif
