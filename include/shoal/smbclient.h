/* shoal's SMB2/3 client library (the redirector).
 *
 * Two layers:
 *  - an asynchronous core that never owns the event loop: the caller polls smbc_conn_fd() for
 *    reading (and for writing when smbc_conn_want_write()), and calls smbc_conn_on_readable() /
 *    smbc_conn_on_writable(). Requests are submitted with a completion callback; the core assigns
 *    message ids, charges and asks for credits, signs or encrypts, and keeps as many requests in
 *    flight as the granted credits allow.
 *  - blocking wrappers (smbc_connect(), smbc_tree_connect(), smbc_open(), ...) that submit one
 *    request, or a window of them for large reads and writes, and run a small poll() loop.
 *
 * Errors are NTSTATUS values (lib/ntstatus.h; ntstatus_name() gives the text). Local failures are
 * mapped: out of memory STATUS_NO_MEMORY, socket errors STATUS_CONNECTION_DISCONNECTED, a reply
 * that does not parse STATUS_INVALID_NETWORK_RESPONSE, a bad signature STATUS_INVALID_SIGNATURE.
 *
 * Ownership: a connection owns its session, trees and files; smbc_conn_free() releases all of
 * them without sending anything. Trees and files are freed by smbc_tree_disconnect() /
 * smbc_close() (which free the object even when the server answers with an error). Not thread
 * safe: one connection is used by one thread at a time. */
#ifndef SHOAL_SMBCLIENT_H
#define SHOAL_SMBCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct smbc_conn;
struct smbc_tree;
struct smbc_file;

/* ---- options ---- */

/* Cipher ids as in the 3.1.1 ENCRYPTION_CAPABILITIES context (MS-SMB2 2.2.3.1.2). */
#define SMBC_CIPHER_AES128_CCM 1
#define SMBC_CIPHER_AES128_GCM 2
#define SMBC_CIPHER_AES256_CCM 3
#define SMBC_CIPHER_AES256_GCM 4

struct smbc_opts {
	const char *host;   /* name or address */
	uint16_t port;	    /* 0 = 445 */
	const char *user;   /* "" or NULL = anonymous */
	const char *domain; /* NULL = "" (the server's own) */
	const char *password;
	const char *workstation; /* NULL = "SHOAL-SMB" */
	uint16_t min_dialect;	 /* 0 = 0x0202 */
	uint16_t max_dialect;	 /* 0 = 0x0311 (MaxSmb2DialectVersion) */
	bool encrypt_enabled;	 /* Smb3EncryptionEnabled: encrypt when the server offers or asks */
	bool encrypt_required;	 /* Smb3EncryptionRequired: refuse a session that cannot encrypt */
	uint16_t ciphers[4];   /* preference order; all zero = GCM-256, GCM-128, CCM-256, CCM-128 */
	bool signing_required; /* refuse unsigned sessions */
	/* false: sign every request of an authenticated session; true: only when this client or
	 * the server requires signing (Session.SigningRequired, MS-SMB2 3.2.5.3.1), as Windows and
	 * smbclient do, so that a benchmark of unsigned traffic is possible */
	bool sign_only_when_required;
	/* 3.1.1 signing algorithms offered, in order: the first nsign_algs of sign_algs
	 * (SIGNING_CAPABILITIES ids, MS-SMB2 2.2.3.1.7: 0 HMAC-SHA256, 1 AES-CMAC, 2 AES-GMAC);
	 * nsign_algs 0 = AES-GMAC, AES-CMAC, HMAC-SHA256 */
	uint8_t nsign_algs;
	uint16_t sign_algs[3];
	int timeout_ms;	       /* blocking wrappers: per-operation limit; 0 = 60 s */
};

/* Fills the defaults above (encrypt_enabled = true). */
void smbc_opts_init(struct smbc_opts *o);
/* Sets one option by its administrator name (Smb3EncryptionEnabled, Smb3EncryptionRequired,
 * MaxSmb2DialectVersion, Smb3EncryptionAlgorithms); 0, or -EINVAL for an unknown name or bad
 * value, -ENOENT for an unknown name. */
int smbc_opts_set(struct smbc_opts *o, const char *name, const char *value);
/* "2.0.2" / "2.1" / "3.0" / "3.0.2" / "3.1.1" / "max" -> 0x0202 ...; 0 if unknown. */
uint16_t smbc_parse_dialect(const char *s);
const char *smbc_dialect_name(uint16_t d); /* 0x0311 -> "3.1.1" */
const char *smbc_cipher_name(uint16_t c);  /* 2 -> "AES-128-GCM"; "none" for 0 */
uint16_t smbc_parse_cipher(const char *s); /* "AES-128-GCM" -> 2; 0 if unknown */

/* ---- the asynchronous core ---- */

/* A response as the completion callback sees it; valid only during the callback. */
struct smbc_msg {
	uint32_t status; /* NTSTATUS of the reply, or a local failure (no reply) */
	uint16_t command;
	const uint8_t *hdr;  /* 64-byte header, NULL for a local failure */
	const uint8_t *body; /* the bytes after the header, up to the end of this reply */
	size_t bodylen;
};
typedef void (*smbc_cb)(struct smbc_conn *c, const struct smbc_msg *m, void *arg);

/* Creates a connection object and starts a non-blocking TCP connect. NULL with *status set. */
struct smbc_conn *smbc_conn_new(const struct smbc_opts *o, uint32_t *status);
void smbc_conn_free(struct smbc_conn *c);
int smbc_conn_fd(const struct smbc_conn *c);
bool smbc_conn_want_write(const struct smbc_conn *c);
/* Return STATUS_SUCCESS, or the status that broke the connection (every pending request has then
 * been completed with it). */
uint32_t smbc_conn_on_readable(struct smbc_conn *c);
uint32_t smbc_conn_on_writable(struct smbc_conn *c);
/* Requests whose callback has not run yet. */
unsigned smbc_conn_pending(const struct smbc_conn *c);

/* Submits one request. body is the request body after the 64-byte header (StructureSize first);
 * payload (optional) follows it. tree may be NULL (negotiate, session, logoff). charge_len is
 * the larger of the bytes sent and expected back, for the credit charge. The callback always
 * runs exactly once (also on failure or smbc_conn_free). Returns 0 or a status. */
uint32_t smbc_submit(struct smbc_conn *c, struct smbc_tree *tree, uint16_t cmd, const void *body,
		     size_t bodylen, const void *payload, size_t paylen, size_t charge_len,
		     smbc_cb cb, void *arg);

/* ---- connection facts ---- */
struct smbc_info {
	uint16_t dialect;
	uint16_t cipher;      /* 0 when the session does not encrypt */
	const char *sign_alg; /* "HMAC-SHA256", "AES-128-CMAC", "AES-128-GMAC" or "none" */
	bool signing;	      /* requests are signed */
	bool encrypting;      /* session-wide encryption */
	bool guest;
	uint32_t max_read, max_write, max_transact;
	uint32_t server_caps;
	uint16_t credits; /* credits currently held */
};
void smbc_conn_info(const struct smbc_conn *c, struct smbc_info *out);

/* ---- blocking wrappers ---- */

/* Connects, negotiates and sets up the session. err (optional) gets a sentence saying why it
 * failed when the status alone does not tell (e.g. "the server cannot encrypt"). */
uint32_t smbc_connect(const struct smbc_opts *o, struct smbc_conn **out, char *err, size_t errlen);
/* Why the last call on c failed, or "". */
const char *smbc_conn_error(const struct smbc_conn *c);
/* Sends LOGOFF (best effort) and frees. */
void smbc_disconnect(struct smbc_conn *c);
/* Runs the poll loop until pred(arg) is true or the timeout passes. */
uint32_t smbc_wait(struct smbc_conn *c, bool (*pred)(void *arg), void *arg);

uint32_t smbc_tree_connect(struct smbc_conn *c, const char *share, struct smbc_tree **out);
uint32_t smbc_tree_disconnect(struct smbc_tree *t);
bool smbc_tree_encrypted(const struct smbc_tree *t);
uint8_t smbc_tree_type(const struct smbc_tree *t); /* 1 disk, 2 pipe, 3 print */

/* What CREATE returned (MS-SMB2 2.2.14). Times are FILETIME. */
struct smbc_stat {
	uint64_t create_time, access_time, write_time, change_time;
	uint64_t alloc_size, size;
	uint32_t attrs;
	uint32_t nlink;
	bool delete_pending, is_dir;
};
struct smbc_create_args {
	uint32_t access;      /* DesiredAccess */
	uint32_t attrs;	      /* FileAttributes */
	uint32_t share;	      /* ShareAccess; 0 = read|write|delete */
	uint32_t disposition; /* 0 SUPERSEDE 1 OPEN 2 CREATE 3 OPEN_IF 4 OVERWRITE 5 OVERWRITE_IF */
	uint32_t options;     /* CreateOptions */
	uint8_t oplock;	      /* RequestedOplockLevel */
};
struct smbc_create_result {
	uint8_t oplock, flags;
	uint32_t action;
	struct smbc_stat st;
	uint8_t file_id[16];
};
#define SMBC_FILE_DIRECTORY_FILE 0x00000001u
#define SMBC_FILE_NON_DIRECTORY_FILE 0x00000040u
#define SMBC_FILE_DELETE_ON_CLOSE 0x00001000u

/* path is UTF-8 with '/' or '\' separators, relative to the share ("" = its root). */
uint32_t smbc_create(struct smbc_tree *t, const char *path, const struct smbc_create_args *a,
		     struct smbc_file **out, struct smbc_create_result *res);
uint32_t smbc_close(struct smbc_file *f);
uint32_t smbc_flush(struct smbc_file *f);
const struct smbc_create_result *smbc_file_result(const struct smbc_file *f);

/* One read/write of at most max_read/max_write bytes. *done gets the bytes moved. */
uint32_t smbc_read(struct smbc_file *f, uint64_t off, void *buf, size_t len, size_t *done);
uint32_t smbc_write(struct smbc_file *f, uint64_t off, const void *buf, size_t len, size_t *done);

/* Pipelined transfers: many reads (writes) in flight, each of chunk bytes (0 = 1 MiB, clipped
 * to the server's maximum), at most window at once (0 = 16), further limited by credits.
 * get: sink(arg, off, data, len) for each piece (any order); returns nonzero to stop.
 * put: source(arg, off, buf, len) fills buf with the bytes at off; returns bytes given
 * (less than len only at the end), or negative to stop. progress (optional) after each piece. */
typedef int (*smbc_sink_fn)(void *arg, uint64_t off, const uint8_t *data, size_t len);
typedef long (*smbc_source_fn)(void *arg, uint64_t off, uint8_t *buf, size_t len);
typedef void (*smbc_progress_fn)(void *arg, uint64_t bytes_done);
struct smbc_xfer {
	size_t chunk;
	unsigned window;
	smbc_progress_fn progress;
	void *arg;
};
uint32_t smbc_get(struct smbc_file *f, uint64_t size, const struct smbc_xfer *x, smbc_sink_fn sink,
		  uint64_t *done);
uint32_t smbc_put(struct smbc_file *f, uint64_t size, const struct smbc_xfer *x,
		  smbc_source_fn source, uint64_t *done);

/* QUERY_DIRECTORY with FileDirectoryInformation, all entries (with "." and ".."). */
struct smbc_dirent {
	char *name; /* UTF-8 */
	struct smbc_stat st;
};
uint32_t smbc_list(struct smbc_file *dir, const char *pattern, struct smbc_dirent **out,
		   size_t *count);
void smbc_dirents_free(struct smbc_dirent *d, size_t count);

/* QUERY_INFO / SET_INFO with raw buffers (info_type 1 file, 2 fs, 3 security, 4 quota). */
uint32_t smbc_query_info(struct smbc_file *f, uint8_t info_type, uint8_t cls, uint32_t addl,
			 uint32_t max_out, uint8_t **out, size_t *outlen);
uint32_t smbc_set_info(struct smbc_file *f, uint8_t info_type, uint8_t cls, uint32_t addl,
		       const void *buf, size_t len);
/* FileAllInformation into st. */
uint32_t smbc_stat_file(struct smbc_file *f, struct smbc_stat *st);
/* FileDispositionInformation: delete on close. */
uint32_t smbc_set_delete(struct smbc_file *f, bool del);

/* IOCTL (MS-SMB2 2.2.31); *out gets the output (malloc'ed). */
uint32_t smbc_ioctl(struct smbc_file *f, uint32_t ctl, const void *in, size_t inlen,
		    uint32_t max_out, uint8_t **out, size_t *outlen);

/* ---- named pipes and DCE/RPC ---- */

/* Opens \PIPE\name on an IPC$ tree. */
uint32_t smbc_pipe_open(struct smbc_tree *ipc, const char *name, struct smbc_file **out);
/* FSCTL_PIPE_TRANSCEIVE, then READs while the server reports STATUS_BUFFER_OVERFLOW. */
uint32_t smbc_pipe_transceive(struct smbc_file *p, const void *in, size_t inlen, uint8_t **out,
			      size_t *outlen);

struct smbc_rpc;
struct smbc_rpc_iface {
	const char *name; /* "srvsvc" */
	uint8_t uuid[16]; /* wire order (MS-RPCE 2.2.2.4 / C706 A) */
	uint16_t vers, vers_minor;
};
/* The interface of a well-known pipe name (netlogon, lsarpc, samr, srvsvc), or NULL. */
const struct smbc_rpc_iface *smbc_rpc_iface_find(const char *pipe);
/* Binds iface over the pipe (which the rpc object then owns). *result gets the bind result
 * (0 acceptance, else the provider reason) for display. */
uint32_t smbc_rpc_bind(struct smbc_file *pipe, const struct smbc_rpc_iface *iface,
		       struct smbc_rpc **out, uint16_t *result);
/* One call: sends stub (fragmented as needed), returns the reassembled response stub. */
uint32_t smbc_rpc_call(struct smbc_rpc *r, uint16_t opnum, const uint8_t *stub, size_t len,
		       uint8_t **out, size_t *outlen);
uint16_t smbc_rpc_max_xmit(const struct smbc_rpc *r);
/* Closes the pipe and frees. */
void smbc_rpc_free(struct smbc_rpc *r);

struct smbc_share {
	char *name;
	uint32_t type; /* STYPE_* */
	char *comment;
};
/* srvsvc NetShareEnumAll level 1 on \\host. */
uint32_t smbc_net_share_enum(struct smbc_conn *c, struct smbc_share **out, size_t *count);
void smbc_shares_free(struct smbc_share *s, size_t count);

#ifdef __cplusplus
}
#endif
#endif
