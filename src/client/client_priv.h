/* Private state of the client library (src/client), shared by its files. The public API is
 * include/shoal/smbclient.h.
 *
 * Files: conn.c (socket, framing, credits, message ids, signing and the transform),
 * negotiate.c, session.c (SPNEGO and key derivation), tree.c, create.c (create/close/flush),
 * rw.c (read/write and the pipelined transfers), dir.c, info.c (query/set info, ioctl),
 * sync.c (poll loop and one-request calls), pipe.c (named pipes and DCE/RPC), srvsvc.c,
 * opts.c (settings and names). */
#ifndef SHOAL_CLIENT_PRIV_H
#define SHOAL_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "lib/buf.h"
#include "lib/ntstatus.h"
#include "rpc/pdu.h"
#include "shoal/smbclient.h"
#include "smb2/smb2_wire.h"

#define SMBC_NBSS_LEN 4
#define SMBC_TF_LEN 52 /* transform header, MS-SMB2 2.2.41 */
#define SMBC_HEADROOM (SMBC_NBSS_LEN + SMBC_TF_LEN)
#define SMBC_MAX_FRAME 0xFFFFFFu /* Direct TCP length is 24 bits (MS-SMB2 2.1) */
#define SMBC_BUCKETS 64
#define SMBC_SHARE_FLAG_ENCRYPT_DATA 0x00008000u /* MS-SMB2 2.2.10 */
#define SMBC_TF_FLAG_ENCRYPTED 0x0001u

struct smbc_req {
	struct smbc_req *next;
	uint64_t mid;
	uint16_t cmd;
	uint16_t charge;
	uint32_t tid;
	bool encrypt, preauth;
	uint8_t *buf;  /* SMBC_HEADROOM + message */
	size_t msglen; /* header + body + payload */
	smbc_cb cb;
	void *arg;
};

struct smbc_obuf {
	struct smbc_obuf *next;
	uint8_t *p;
	size_t len, off;
};

struct smbc_tree {
	struct smbc_tree *next;
	struct smbc_conn *conn;
	uint32_t tid;
	uint8_t type;
	uint32_t flags, caps, maximal_access;
	bool encrypt;
	struct smbc_file *files;
};

struct smbc_file {
	struct smbc_file *next;
	struct smbc_tree *tree;
	struct smbc_create_result cr;
};

struct smbc_conn {
	struct smbc_opts o;
	char *host, *user, *domain, *password, *workstation; /* owned copies of o's strings */
	int fd;
	bool connecting;
	uint32_t dead; /* nonzero: the status that broke the connection */

	/* message ids and credits (MS-SMB2 3.2.4.1.5, 3.2.5.1.4) */
	uint64_t next_mid;
	uint32_t credits;
	unsigned inflight, npending;
	struct smbc_req *waitq, *waitq_tail;
	struct smbc_req *sent[SMBC_BUCKETS];

	struct smbc_obuf *out, *out_tail;
	uint8_t *rbuf;
	size_t rlen, rcap;

	/* negotiated */
	uint16_t dialect;
	uint16_t server_sec_mode;
	uint32_t server_caps;
	uint32_t max_read, max_write, max_transact;
	uint8_t client_guid[16], server_guid[16];
	uint16_t cipher;
	enum smb2_sign_alg sign_alg;
	uint8_t preauth[64];
	uint8_t *neg_blob;
	size_t neg_bloblen;

	/* session (one per connection) */
	uint64_t session_id;
	bool session_ready, signing, encrypt_all, guest, anonymous;
	uint8_t session_key[16];
	uint8_t sign_key[16];
	uint8_t enc_key[32], dec_key[32];
	uint64_t nonce_ctr;
	uint8_t nonce_salt[4];

	struct smbc_tree *trees;
	char err[256]; /* why the last blocking call failed, when the status alone does not say */
};

/* conn.c */
uint32_t smbc_conn_flush(struct smbc_conn *c);
void smbc_conn_fail(struct smbc_conn *c, uint32_t status);
/* Like smbc_submit, with per-request flags. */
#define SMBC_SUB_PREAUTH 0x1 /* add the request to the 3.1.1 preauth hash when sent */
uint32_t smbc_submit_ex(struct smbc_conn *c, struct smbc_tree *tree, uint16_t cmd, const void *body,
			size_t bodylen, const void *payload, size_t paylen, size_t charge_len,
			unsigned flags, smbc_cb cb, void *arg);
/* Parses one SMB2 message of a (decrypted) frame; exported for the unit tests. Returns the
 * status that should break the connection, or STATUS_SUCCESS. */
uint32_t smbc_conn_process_frame(struct smbc_conn *c, uint8_t *frame, size_t len);
/* Decrypts a transform frame in place; msg and msglen get the plaintext. 0 or a status. */
uint32_t smbc_decrypt_frame(struct smbc_conn *c, uint8_t *frame, size_t len, uint8_t **msg,
			    size_t *msglen);
/* Allocates a connection without a socket (fd = -1), for tests. */
struct smbc_conn *smbc_conn_alloc(const struct smbc_opts *o);

/* sync.c: one request, waited for; rep->buf holds header + body (malloc'ed). */
struct smbc_reply {
	uint32_t status;
	uint8_t *buf;
	size_t len;
	bool done;
};
uint32_t smbc_call(struct smbc_conn *c, struct smbc_tree *tree, uint16_t cmd, const void *body,
		   size_t bodylen, const void *payload, size_t paylen, size_t charge_len,
		   unsigned flags, struct smbc_reply *rep);
void smbc_reply_free(struct smbc_reply *rep);
void smbc_seterr(struct smbc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* negotiate.c */
size_t smbc_negotiate_encode(const struct smbc_conn *c, struct wr *w, const uint8_t salt[32]);
uint32_t smbc_negotiate_parse(struct smbc_conn *c, const uint8_t *msg, size_t len);
uint32_t smbc_negotiate(struct smbc_conn *c);

/* session.c */
uint32_t smbc_session_setup(struct smbc_conn *c);
uint32_t smbc_derive_keys(struct smbc_conn *c);
uint32_t smbc_session_setup_parse(const uint8_t *msg, size_t len, uint16_t *flags,
				  const uint8_t **blob, size_t *bloblen);

/* parsers used by the blocking wrappers, exported for the unit tests */
uint32_t smbc_tree_connect_parse(const uint8_t *msg, size_t len, struct smbc_tree *t);
uint32_t smbc_create_parse(const uint8_t *msg, size_t len, struct smbc_create_result *res);
uint32_t smbc_read_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen);
uint32_t smbc_write_parse(const uint8_t *msg, size_t len, uint32_t *count);
uint32_t smbc_dir_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen);
uint32_t smbc_dirents_parse(const uint8_t *data, size_t len, struct smbc_dirent **out,
			    size_t *count, size_t *cap);
uint32_t smbc_info_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen);
uint32_t smbc_all_info_parse(const uint8_t *data, size_t len, struct smbc_stat *st);
uint32_t smbc_ioctl_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen);
/* The read request body (49 bytes incl. one buffer byte) for len bytes at off. */
void smbc_read_encode(struct wr *w, const uint8_t fid[16], uint64_t off, uint32_t len);
void smbc_write_encode(struct wr *w, const uint8_t fid[16], uint64_t off, uint32_t len);

/* pipe.c: the PDUs themselves are rpc/pdu.h's. A BIND_ACK or BIND_NAK answering our bind
 * (a NAK gives *result = 2 and its reason); exported for the unit tests. 0 or
 * STATUS_INVALID_NETWORK_RESPONSE. */
uint32_t smbc_rpc_bind_ack_parse(const uint8_t *p, size_t len, uint16_t *max_xmit,
				 uint16_t *max_recv, uint16_t *result, uint16_t *reason);

/* srvsvc.c */
size_t smbc_srvsvc_share_enum_encode(struct wr *w, const char *server);
uint32_t smbc_srvsvc_share_enum_parse(const uint8_t *p, size_t len, struct smbc_share **out,
				      size_t *count);

#endif
