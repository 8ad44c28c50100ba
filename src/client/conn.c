/* The asynchronous core: a non-blocking socket, Direct TCP framing (MS-SMB2 2.1), message ids and
 * credits (MS-SMB2 3.2.4.1.5, 3.2.5.1.4), signing and the transform header (3.2.4.1.8), and the
 * matching of replies to requests. The caller owns the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_priv.h"
#include "lib/log.h"

#define CREDIT_TARGET 512 /* credits we try to hold, enough for 16 x 1 MiB plus small requests */
#define READ_CHUNK (256 * 1024)

static char *dup_opt(const char *s, const char *def)
{
	return strdup(s ? s : def);
}

struct smbc_conn *smbc_conn_alloc(const struct smbc_opts *o)
{
	struct smbc_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->o = *o;
	c->host = dup_opt(o->host, "");
	c->user = dup_opt(o->user, "");
	c->domain = dup_opt(o->domain, "");
	c->password = dup_opt(o->password, "");
	c->workstation = dup_opt(o->workstation, "SHOAL-SMB");
	c->fd = -1;
	c->credits = 1;
	if (!c->host || !c->user || !c->domain || !c->password || !c->workstation ||
	    crypto_random(c->client_guid, 16) || crypto_random(c->nonce_salt, 4)) {
		smbc_conn_free(c);
		return NULL;
	}
	c->o.host = c->host;
	c->o.user = c->user;
	c->o.domain = c->domain;
	c->o.password = c->password;
	c->o.workstation = c->workstation;
	return c;
}

static int start_connect(struct smbc_conn *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char port[8];
	snprintf(port, sizeof(port), "%u", c->o.port ? c->o.port : 445);
	int rc = getaddrinfo(c->host, port, &hints, &res);
	if (rc) {
		smbc_seterr(c, "%s: %s", c->host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	rc = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			c->fd = fd;
			c->connecting = true;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

struct smbc_conn *smbc_conn_new(const struct smbc_opts *o, uint32_t *status)
{
	struct smbc_conn *c = smbc_conn_alloc(o);
	if (!c) {
		*status = STATUS_NO_MEMORY;
		return NULL;
	}
	if (start_connect(c)) {
		*status = STATUS_HOST_UNREACHABLE;
		smbc_conn_free(c);
		return NULL;
	}
	*status = STATUS_SUCCESS;
	return c;
}

static void req_free(struct smbc_req *r)
{
	free(r->buf);
	free(r);
}

static void complete_local(struct smbc_conn *c, struct smbc_req *r, uint32_t status)
{
	struct smbc_msg m = {.status = status, .command = r->cmd};
	c->npending--;
	r->cb(c, &m, r->arg);
	req_free(r);
}

/* Completes every request with status; the callbacks may not submit (the connection is dead). */
void smbc_conn_fail(struct smbc_conn *c, uint32_t status)
{
	if (!c->dead)
		c->dead = status ? status : STATUS_CONNECTION_DISCONNECTED;
	while (c->waitq) {
		struct smbc_req *r = c->waitq;
		c->waitq = r->next;
		complete_local(c, r, c->dead);
	}
	c->waitq_tail = NULL;
	for (int i = 0; i < SMBC_BUCKETS; i++) {
		while (c->sent[i]) {
			struct smbc_req *r = c->sent[i];
			c->sent[i] = r->next;
			c->inflight--;
			complete_local(c, r, c->dead);
		}
	}
	while (c->out) {
		struct smbc_obuf *b = c->out;
		c->out = b->next;
		free(b->p);
		free(b);
	}
	c->out_tail = NULL;
}

void smbc_conn_free(struct smbc_conn *c)
{
	if (!c)
		return;
	smbc_conn_fail(c, STATUS_CONNECTION_DISCONNECTED);
	while (c->trees) {
		struct smbc_tree *t = c->trees;
		c->trees = t->next;
		while (t->files) {
			struct smbc_file *f = t->files;
			t->files = f->next;
			free(f);
		}
		free(t);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->rbuf);
	free(c->neg_blob);
	free(c->host);
	free(c->user);
	free(c->domain);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->workstation);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

int smbc_conn_fd(const struct smbc_conn *c)
{
	return c->fd;
}

bool smbc_conn_want_write(const struct smbc_conn *c)
{
	return c->connecting || c->out != NULL;
}

unsigned smbc_conn_pending(const struct smbc_conn *c)
{
	return c->npending;
}

/* ---- sending ---------------------------------------------------------------------------- */

static uint16_t credit_charge(const struct smbc_conn *c, size_t len)
{
	if (c->dialect < SMB2_DIALECT_210 || !(c->server_caps & SMB2_GLOBAL_CAP_LARGE_MTU) || !len)
		return 1;
	return (uint16_t)(1 + (len - 1) / 65536);
}

static uint32_t encrypt_msg(struct smbc_conn *c, struct smbc_req *r)
{
	uint8_t *tf = r->buf + SMBC_NBSS_LEN;
	size_t nlen = smb2_cipher_noncelen(c->cipher);
	memset(tf, 0, SMBC_TF_LEN);
	put_le32(tf, SMB2_TRANSFORM_ID);
	/* A counter makes nonces unique per key; the random salt keeps two connections that
	 * happen to share a key (they cannot with NTLM, but cheap) apart. */
	put_le64(tf + 20, ++c->nonce_ctr);
	memcpy(tf + 28, c->nonce_salt, nlen - 8);
	put_le32(tf + 36, (uint32_t)r->msglen);
	put_le16(tf + 42, SMBC_TF_FLAG_ENCRYPTED);
	put_le64(tf + 44, c->session_id);
	struct iovec iov = {r->buf + SMBC_HEADROOM, r->msglen};
	if (smb2_aead_encrypt((enum smb2_cipher)c->cipher, c->enc_key, tf + 20, tf + 20, 32, &iov,
			      1, tf + 4))
		return STATUS_ENCRYPTION_FAILED;
	return STATUS_SUCCESS;
}

static void fill_header(struct smbc_conn *c, struct smbc_req *r)
{
	uint8_t *h = r->buf + SMBC_HEADROOM;
	uint32_t held = c->credits + c->inflight;
	uint16_t ask = r->charge;
	if (held < CREDIT_TARGET)
		ask =
		    (uint16_t)(r->charge + (CREDIT_TARGET - held < 64 ? CREDIT_TARGET - held : 64));
	memset(h, 0, SMB2_HDR_LEN);
	put_le32(h + HDR_OFF_PROTOCOL, SMB2_PROTOCOL_ID);
	put_le16(h + HDR_OFF_STRUCT_SIZE, SMB2_HDR_LEN);
	put_le16(h + HDR_OFF_CREDIT_CHARGE, c->dialect > SMB2_DIALECT_202 ? r->charge : 0);
	put_le16(h + HDR_OFF_COMMAND, r->cmd);
	put_le16(h + HDR_OFF_CREDIT, ask);
	put_le64(h + HDR_OFF_MESSAGE_ID, r->mid);
	put_le32(h + HDR_OFF_ASYNC_ID, 0xFEFF); /* ProcessId, as Windows sends */
	put_le32(h + HDR_OFF_TREE_ID, r->tid);
	put_le64(h + HDR_OFF_SESSION_ID, r->cmd == SMB2_NEGOTIATE ? 0 : c->session_id);
}

static uint32_t seal(struct smbc_conn *c, struct smbc_req *r)
{
	uint8_t *h = r->buf + SMBC_HEADROOM;
	struct iovec iov = {h, r->msglen};
	if (r->preauth && crypto_preauth_update(c->preauth, &iov, 1))
		return STATUS_INTERNAL_ERROR;
	if (r->encrypt)
		return encrypt_msg(c, r);
	/* 3.1.1 signs TREE_CONNECT even on a session that does not sign (MS-SMB2 3.2.4.1.1) */
	bool sign = c->signing || (r->cmd == SMB2_TREE_CONNECT && c->dialect == SMB2_DIALECT_311 &&
				   !c->guest && !c->anonymous);
	if (sign && c->session_ready && r->cmd != SMB2_NEGOTIATE) {
		put_le32(h + HDR_OFF_FLAGS, get_le32(h + HDR_OFF_FLAGS) | SMB2_FLAGS_SIGNED);
		if (smb2_sign(c->sign_alg, c->sign_key, &iov, 1, h + HDR_OFF_SIGNATURE))
			return STATUS_INTERNAL_ERROR;
	}
	return STATUS_SUCCESS;
}

static uint32_t queue_out(struct smbc_conn *c, struct smbc_req *r)
{
	struct smbc_obuf *b = calloc(1, sizeof(*b));
	if (!b)
		return STATUS_NO_MEMORY;
	size_t skip = r->encrypt ? 0 : SMBC_TF_LEN;
	size_t flen = r->msglen + (r->encrypt ? SMBC_TF_LEN : 0);
	/* The frame is sent from the request's buffer; copy it so the request can be freed when its
	 * reply comes, even before the last byte left (a reply cannot precede its request, but a
	 * local failure can). Large payloads are the cost of one memcpy, small against the AEAD. */
	b->p = malloc(SMBC_NBSS_LEN + flen);
	if (!b->p) {
		free(b);
		return STATUS_NO_MEMORY;
	}
	put_be32(b->p, (uint32_t)flen);
	memcpy(b->p + SMBC_NBSS_LEN, r->buf + SMBC_NBSS_LEN + skip, flen);
	b->len = SMBC_NBSS_LEN + flen;
	if (c->out_tail)
		c->out_tail->next = b;
	else
		c->out = b;
	c->out_tail = b;
	return STATUS_SUCCESS;
}

/* Sends queued requests in order while credits allow (MS-SMB2 3.2.4.1.5). */
static uint32_t dispatch(struct smbc_conn *c)
{
	while (c->waitq && !c->dead) {
		struct smbc_req *r = c->waitq;
		if (r->charge > c->credits) {
			if (c->inflight == 0) /* nothing in flight will ever grant more */
				return STATUS_INSUFFICIENT_RESOURCES;
			break;
		}
		c->waitq = r->next;
		if (!c->waitq)
			c->waitq_tail = NULL;
		r->next = NULL;
		r->mid = c->next_mid;
		c->next_mid += r->charge;
		c->credits -= r->charge;
		fill_header(c, r);
		uint32_t st = seal(c, r);
		if (!st)
			st = queue_out(c, r);
		if (st) {
			complete_local(c, r, st);
			continue;
		}
		free(r->buf); /* the frame now lives in the output queue */
		r->buf = NULL;
		r->next = c->sent[r->mid % SMBC_BUCKETS];
		c->sent[r->mid % SMBC_BUCKETS] = r;
		c->inflight++;
		LOG_DBG(LOG_CLIENT, "sent cmd %u mid %llu charge %u, credits left %u, in flight %u",
			r->cmd, (unsigned long long)r->mid, r->charge, c->credits, c->inflight);
	}
	return STATUS_SUCCESS;
}

uint32_t smbc_submit_ex(struct smbc_conn *c, struct smbc_tree *tree, uint16_t cmd, const void *body,
			size_t bodylen, const void *payload, size_t paylen, size_t charge_len,
			unsigned flags, smbc_cb cb, void *arg)
{
	if (c->dead)
		return c->dead;
	if (SMB2_HDR_LEN + bodylen + paylen + SMBC_TF_LEN > SMBC_MAX_FRAME)
		return STATUS_INVALID_PARAMETER;
	struct smbc_req *r = calloc(1, sizeof(*r));
	if (!r)
		return STATUS_NO_MEMORY;
	r->msglen = SMB2_HDR_LEN + bodylen + paylen;
	r->buf = malloc(SMBC_HEADROOM + r->msglen);
	if (!r->buf) {
		free(r);
		return STATUS_NO_MEMORY;
	}
	uint8_t *m = r->buf + SMBC_HEADROOM;
	memcpy(m + SMB2_HDR_LEN, body, bodylen);
	if (paylen)
		memcpy(m + SMB2_HDR_LEN + bodylen, payload, paylen);
	r->cmd = cmd;
	r->charge = credit_charge(c, charge_len > bodylen + paylen ? charge_len : bodylen + paylen);
	r->tid = tree ? tree->tid : 0;
	r->encrypt = c->session_ready && c->cipher && (c->encrypt_all || (tree && tree->encrypt));
	r->preauth = (flags & SMBC_SUB_PREAUTH) != 0;
	r->cb = cb;
	r->arg = arg;
	if (c->waitq_tail)
		c->waitq_tail->next = r;
	else
		c->waitq = r;
	c->waitq_tail = r;
	c->npending++;
	uint32_t st = dispatch(c);
	if (!st)
		st = smbc_conn_flush(c);
	if (st) {
		smbc_conn_fail(c, st);
		return STATUS_SUCCESS; /* the callback has run with the status */
	}
	return STATUS_SUCCESS;
}

uint32_t smbc_submit(struct smbc_conn *c, struct smbc_tree *tree, uint16_t cmd, const void *body,
		     size_t bodylen, const void *payload, size_t paylen, size_t charge_len,
		     smbc_cb cb, void *arg)
{
	return smbc_submit_ex(c, tree, cmd, body, bodylen, payload, paylen, charge_len, 0, cb, arg);
}

/* Writes what the socket takes now. */
uint32_t smbc_conn_flush(struct smbc_conn *c)
{
	while (c->out && !c->connecting) {
		struct iovec iov[16];
		int n = 0;
		for (struct smbc_obuf *b = c->out; b && n < 16; b = b->next, n++)
			iov[n] = (struct iovec){b->p + b->off, b->len - b->off};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return STATUS_SUCCESS;
			smbc_seterr(c, "send: %s", strerror(errno));
			return STATUS_CONNECTION_RESET;
		}
		while (w > 0 && c->out) {
			struct smbc_obuf *b = c->out;
			size_t k = b->len - b->off < (size_t)w ? b->len - b->off : (size_t)w;
			b->off += k;
			w -= (ssize_t)k;
			if (b->off == b->len) {
				c->out = b->next;
				if (!c->out)
					c->out_tail = NULL;
				free(b->p);
				free(b);
			}
		}
	}
	return STATUS_SUCCESS;
}

uint32_t smbc_conn_on_writable(struct smbc_conn *c)
{
	if (c->dead)
		return c->dead;
	if (c->connecting) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) || err) {
			smbc_seterr(c, "connect to %s: %s", c->host, strerror(err ? err : errno));
			smbc_conn_fail(c, STATUS_HOST_UNREACHABLE);
			return c->dead;
		}
		c->connecting = false;
	}
	uint32_t st = smbc_conn_flush(c);
	if (st)
		smbc_conn_fail(c, st);
	return c->dead;
}

/* ---- receiving -------------------------------------------------------------------------- */

uint32_t smbc_decrypt_frame(struct smbc_conn *c, uint8_t *frame, size_t len, uint8_t **msg,
			    size_t *msglen)
{
	struct rd r = rd_make(frame, len);
	rd_skip(&r, 4);
	const uint8_t *sig = rd_ptr(&r, 16);
	rd_skip(&r, 16); /* nonce */
	uint32_t orig = rd_u32(&r);
	rd_skip(&r, 2);
	uint16_t flags = rd_u16(&r);
	uint64_t sid = rd_u64(&r);
	if (!rd_ok(&r) || orig != rd_left(&r) || orig < SMB2_HDR_LEN ||
	    flags != SMBC_TF_FLAG_ENCRYPTED)
		return STATUS_INVALID_NETWORK_RESPONSE;
	if (!c->cipher || !c->session_ready || sid != c->session_id)
		return STATUS_ACCESS_DENIED;
	uint8_t tag[16];
	memcpy(tag, sig, 16);
	struct iovec iov = {frame + SMBC_TF_LEN, orig};
	if (smb2_aead_decrypt((enum smb2_cipher)c->cipher, c->dec_key, frame + 20, frame + 20, 32,
			      &iov, 1, tag))
		return STATUS_DECRYPTION_FAILED;
	*msg = frame + SMBC_TF_LEN;
	*msglen = orig;
	return STATUS_SUCCESS;
}

static struct smbc_req *take_sent(struct smbc_conn *c, uint64_t mid)
{
	for (struct smbc_req **pp = &c->sent[mid % SMBC_BUCKETS]; *pp; pp = &(*pp)->next) {
		if ((*pp)->mid == mid) {
			struct smbc_req *r = *pp;
			*pp = r->next;
			return r;
		}
	}
	return NULL;
}

static bool find_sent(struct smbc_conn *c, uint64_t mid)
{
	for (struct smbc_req *r = c->sent[mid % SMBC_BUCKETS]; r; r = r->next)
		if (r->mid == mid)
			return true;
	return false;
}

/* Verifies a reply's signature when the session signs; the final SESSION_SETUP reply is checked
 * by session.c, which derives the key it is signed with. */
static uint32_t check_signature(struct smbc_conn *c, const uint8_t *m, size_t len, bool sealed,
				uint32_t status, uint16_t cmd, uint32_t flags)
{
	if (sealed || !c->session_ready || !c->signing || cmd == SMB2_SESSION_SETUP)
		return STATUS_SUCCESS;
	if (!(flags & SMB2_FLAGS_SIGNED)) {
		/* interim replies and some errors go unsigned (MS-SMB2 3.3.4.1.1) */
		if (status == STATUS_PENDING || nt_is_error(status))
			return STATUS_SUCCESS;
		return STATUS_ACCESS_DENIED;
	}
	struct iovec iov = {(void *)m, len};
	return smb2_sign_verify(c->sign_alg, c->sign_key, &iov, 1) ? STATUS_INVALID_SIGNATURE
								   : STATUS_SUCCESS;
}

static uint32_t process_msg(struct smbc_conn *c, const uint8_t *m, size_t len, bool sealed)
{
	struct rd r = rd_make(m, len);
	uint32_t proto = rd_u32(&r);
	uint16_t ss = rd_u16(&r);
	rd_skip(&r, 2);
	uint32_t status = rd_u32(&r);
	uint16_t cmd = rd_u16(&r);
	uint16_t granted = rd_u16(&r);
	uint32_t flags = rd_u32(&r);
	rd_skip(&r, 4);
	uint64_t mid = rd_u64(&r);
	if (!rd_ok(&r) || proto != SMB2_PROTOCOL_ID || ss != SMB2_HDR_LEN ||
	    !(flags & SMB2_FLAGS_SERVER_TO_REDIR))
		return STATUS_INVALID_NETWORK_RESPONSE;
	if (mid == UINT64_MAX && cmd == SMB2_OPLOCK_BREAK)
		return STATUS_SUCCESS; /* we ask for no oplocks or leases; nothing to acknowledge */
	if (!find_sent(c, mid))
		return STATUS_INVALID_NETWORK_RESPONSE;
	if (c->encrypt_all && c->session_ready && !sealed && status != STATUS_PENDING)
		return STATUS_ACCESS_DENIED; /* MS-SMB2 3.2.5.1.1: the session requires encryption
					      */
	uint32_t st = check_signature(c, m, len, sealed, status, cmd, flags);
	if (st)
		return st;
	c->credits += granted;
	LOG_DBG(LOG_CLIENT, "reply cmd %u mid %llu status 0x%08x granted %u -> credits %u", cmd,
		(unsigned long long)mid, status, granted, c->credits);
	if (status == STATUS_PENDING && (flags & SMB2_FLAGS_ASYNC_COMMAND))
		return STATUS_SUCCESS; /* the final reply follows with the same message id */
	struct smbc_req *req = take_sent(c, mid);
	c->inflight--;
	c->npending--;
	struct smbc_msg msg = {.status = req->cmd == cmd ? status : STATUS_INVALID_NETWORK_RESPONSE,
			       .command = cmd,
			       .hdr = m,
			       .body = m + SMB2_HDR_LEN,
			       .bodylen = len - SMB2_HDR_LEN};
	req->cb(c, &msg, req->arg);
	req_free(req);
	return STATUS_SUCCESS;
}

/* Walks a (decrypted) frame's compounded replies (MS-SMB2 3.2.5.1.9). */
uint32_t smbc_conn_process_frame(struct smbc_conn *c, uint8_t *frame, size_t len)
{
	bool sealed = false;
	if (len >= 4 && get_le32(frame) == SMB2_TRANSFORM_ID) {
		uint32_t st = smbc_decrypt_frame(c, frame, len, &frame, &len);
		if (st)
			return st;
		sealed = true;
	}
	while (len) {
		if (len < SMB2_HDR_LEN)
			return STATUS_INVALID_NETWORK_RESPONSE;
		uint32_t next = get_le32(frame + HDR_OFF_NEXT_COMMAND);
		size_t mlen = len;
		if (next) {
			if (next % 8 || next < SMB2_HDR_LEN || next > len)
				return STATUS_INVALID_NETWORK_RESPONSE;
			mlen = next;
		}
		uint32_t st = process_msg(c, frame, mlen, sealed);
		if (st)
			return st;
		if (c->dead)
			return c->dead;
		frame += mlen;
		len -= mlen;
	}
	return STATUS_SUCCESS;
}

/* Reads what is available and handles every complete frame. */
static uint32_t read_frames(struct smbc_conn *c)
{
	/* A bounded number of reads per call keeps one busy connection from starving the caller's
	 * other work; a complete frame is always handled before returning (poll would not wake us
	 * for bytes already read). */
	for (int reads = 0;; reads++) {
		size_t need = SMBC_NBSS_LEN;
		if (c->rlen >= SMBC_NBSS_LEN) {
			if (c->rbuf[0] != 0)
				return STATUS_INVALID_NETWORK_RESPONSE;
			need += ((size_t)c->rbuf[1] << 16) | ((size_t)c->rbuf[2] << 8) | c->rbuf[3];
		}
		if (c->rlen == need && need > SMBC_NBSS_LEN) {
			uint32_t st = smbc_conn_process_frame(c, c->rbuf + SMBC_NBSS_LEN,
							      need - SMBC_NBSS_LEN);
			c->rlen = 0;
			if (st)
				return st;
			continue;
		}
		if (need == SMBC_NBSS_LEN && c->rlen == need) {
			c->rlen = 0; /* empty frame (keep-alive) */
			continue;
		}
		if (reads >= 64)
			return STATUS_SUCCESS;
		size_t want = need > SMBC_NBSS_LEN ? need : READ_CHUNK;
		if (c->rcap < want) {
			uint8_t *nb = realloc(c->rbuf, want);
			if (!nb)
				return STATUS_NO_MEMORY;
			c->rbuf = nb;
			c->rcap = want;
		}
		/* Before the length is known read only the 4 bytes, so one frame is in rbuf at a
		 * time. */
		ssize_t n = read(c->fd, c->rbuf + c->rlen, need - c->rlen);
		if (n == 0) {
			smbc_seterr(c, "the server closed the connection");
			return STATUS_CONNECTION_DISCONNECTED;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return STATUS_SUCCESS;
			smbc_seterr(c, "receive: %s", strerror(errno));
			return STATUS_CONNECTION_RESET;
		}
		c->rlen += (size_t)n;
	}
	return STATUS_SUCCESS;
}

uint32_t smbc_conn_on_readable(struct smbc_conn *c)
{
	if (c->dead)
		return c->dead;
	uint32_t st = read_frames(c);
	if (!st)
		st = dispatch(c);
	if (!st)
		st = smbc_conn_flush(c);
	if (st)
		smbc_conn_fail(c, st);
	return c->dead;
}
