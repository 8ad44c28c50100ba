/* SESSION_SETUP and LOGOFF (MS-SMB2 2.2.5-2.2.8, 3.3.5.5, 3.3.5.6), session objects and the
 * SMB 3.x key derivation (3.3.5.5.3). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"

#define SMB2_SESSION_FLAG_BINDING 0x01
#define NOBODY_ID 65534u

/* ---- session objects ---- */

struct smb2_session *smb2_session_lookup(struct smb2_conn *c, uint64_t id)
{
	struct smb2_session *found = NULL;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nsessions; i++)
		if (c->sessions[i]->id == id) {
			found = c->sessions[i];
			atomic_fetch_add(&found->refs, 1);
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return found;
}

void smb2_session_put(struct smb2_session *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	spnego_server_free(s->auth);
	free(s->trees);
	free(s->opens);
	pthread_mutex_destroy(&s->lock);
	/* keys are secrets: do not leave them in freed memory */
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* "max sessions per connection": sessions in progress count too, so a client cannot pile up
 * half-authenticated sessions either. */
static bool session_limit_reached(struct smb2_conn *c)
{
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	int max = conf->max_sessions_per_conn;
	conf_put(conf);
	pthread_mutex_lock(&c->lock);
	bool full = max > 0 && c->nsessions >= max;
	pthread_mutex_unlock(&c->lock);
	return full;
}

static struct smb2_session *session_new(struct smb2_conn *c)
{
	struct smb2_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1); /* the connection's table */
	pthread_mutex_init(&s->lock, NULL);
	s->conn = c;
	s->state = SESS_IN_PROGRESS;
	s->next_tree_id = 1;
	s->next_volatile_id = 1;
	crypto_random(s->nonce_salt, sizeof(s->nonce_salt));
	do
		s->id = atomic_fetch_add(&c->srv->next_session_id, 1);
	while (s->id == 0 || s->id == UINT64_MAX);
	pthread_mutex_lock(&c->lock);
	if (c->nsessions == c->sessions_cap) {
		int ncap = c->sessions_cap ? c->sessions_cap * 2 : 4;
		void *n = realloc(c->sessions, sizeof(*c->sessions) * (size_t)ncap);
		if (!n) {
			pthread_mutex_unlock(&c->lock);
			smb2_session_put(s);
			return NULL;
		}
		c->sessions = n;
		c->sessions_cap = ncap;
	}
	c->sessions[c->nsessions++] = s;
	pthread_mutex_unlock(&c->lock);
	return s;
}

void smb2_session_teardown(struct smb2_session *s)
{
	struct smb2_conn *c = s->conn;
	bool found = false;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nsessions; i++)
		if (c->sessions[i] == s) {
			c->sessions[i] = c->sessions[--c->nsessions];
			found = true;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (!found)
		return;
	smb2_pending_cancel_session(c, s, STATUS_USER_SESSION_DELETED);
	for (;;) {
		pthread_mutex_lock(&s->lock);
		struct smb2_tree *t = s->ntrees ? s->trees[s->ntrees - 1] : NULL;
		pthread_mutex_unlock(&s->lock);
		if (!t)
			break;
		smb2_tree_detach(t); /* durable opens outlive the session (logoff too, as Windows) */
	}
	s->state = SESS_EXPIRED;
	smb2_session_put(s);
}

/* ---- authentication ---- */

static int lookup_user(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	struct smb2_server *srv = arg;
	struct userdb_entry e;
	(void)domain;
	if (userdb_lookup(srv->users, user, &e) < 0 || e.disabled)
		return -ENOENT;
	memcpy(nt_hash, e.nt_hash, 16);
	explicit_bzero(&e, sizeof(e));
	return 0;
}

static void fill_groups(struct vfs_ident *id)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	id->ngroups = 0;
	if (getpwuid_r(id->uid, &pw, buf, sizeof(buf), &res) || !res)
		return;
	gid_t groups[32];
	int n = 32;
	if (getgrouplist(res->pw_name, id->gid, groups, &n) < 0)
		n = 32; /* truncated: keep the first 32 */
	for (int i = 0; i < n && i < 32; i++)
		id->groups[id->ngroups++] = groups[i];
}

static void derive_keys(struct smb2_conn *c, struct smb2_session *s)
{
	const uint8_t *sk = s->session_key;
	if (c->dialect < SMB2_DIALECT_300) {
		memcpy(s->signing_key, sk, 16);
		memcpy(s->app_key, sk, 16);
		return;
	}
	if (c->dialect < SMB2_DIALECT_311) {
		crypto_kdf(sk, 16, "SMB2AESCMAC", 12, "SmbSign", 8, s->signing_key, 16);
		crypto_kdf(sk, 16, "SMB2APP", 8, "SmbRpc", 7, s->app_key, 16);
		crypto_kdf(sk, 16, "SMB2AESCCM", 11, "ServerOut", 10, s->enc_key, 16);
		crypto_kdf(sk, 16, "SMB2AESCCM", 11, "ServerIn ", 10, s->dec_key, 16);
		return;
	}
	size_t klen = smb2_cipher_keylen(c->cipher) == 32 ? 32 : 16;
	crypto_kdf(sk, 16, "SMBSigningKey", 14, s->preauth_hash, 64, s->signing_key, 16);
	crypto_kdf(sk, 16, "SMBAppKey", 10, s->preauth_hash, 64, s->app_key, 16);
	crypto_kdf(sk, 16, "SMBS2CCipherKey", 16, s->preauth_hash, 64, s->enc_key, klen);
	crypto_kdf(sk, 16, "SMBC2SCipherKey", 16, s->preauth_hash, 64, s->dec_key, klen);
}

/* Fills the session's identity after NTLMSSP accepted the credentials. */
static NTSTATUS session_complete(struct smb2_req *req, struct smb2_session *s)
{
	struct smb2_conn *c = req->conn;
	struct ntlmssp_server *n = spnego_server_ntlmssp(s->auth);
	if (ntlmssp_server_anonymous(n)) {
		s->anonymous = true;
		s->user[0] = 0;
		s->ident.uid = s->ident.gid = NOBODY_ID;
		s->ident.ngroups = 0;
		sid_parse("S-1-5-7", &s->user_sid);
	} else {
		struct userdb_entry e;
		if (userdb_lookup(c->srv->users, ntlmssp_server_user(n), &e) < 0)
			return STATUS_LOGON_FAILURE;
		snprintf(s->user, sizeof(s->user), "%s", e.name);
		snprintf(s->domain, sizeof(s->domain), "%s", ntlmssp_server_domain(n));
		s->ident.uid = e.uid;
		s->ident.gid = e.gid;
		fill_groups(&s->ident);
		idmap_rid_to_sid(c->srv->idmap, e.rid, &s->user_sid);
		explicit_bzero(&e, sizeof(e));
	}
	if (s->state == SESS_VALID)
		return STATUS_SUCCESS; /* re-authentication keeps the keys (3.3.5.5.3) */
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	enum conf_encrypt pol = conf->server_encrypt;
	conf_put(conf);
	if (pol == CONF_ENC_REQUIRED && (s->anonymous || !smb2_conn_can_encrypt(c))) {
		LOG_INFO(LOG_AUTH, "%s: encryption is required but the client cannot encrypt",
			 c->peer);
		return STATUS_ACCESS_DENIED;
	}
	memcpy(s->session_key, ntlmssp_server_session_key(n), 16);
	derive_keys(c, s);
	s->signing_required = !s->anonymous && c->signing_required;
	s->encrypt_data = !s->anonymous && smb2_conn_can_encrypt(c) &&
			  (pol == CONF_ENC_REQUIRED || pol == CONF_ENC_DESIRED);
	s->state = SESS_VALID;
	atomic_store(&s->conn->authenticated, true);
	LOG_INFO(LOG_AUTH, "%s: session %llx: user '%s'%s", c->peer, (unsigned long long)s->id,
		 s->user, s->anonymous ? " (anonymous)" : "");
	return STATUS_SUCCESS;
}

/* 3.3.5.5.3: a client that reconnects names its previous session, which the server ends (its
 * opens are closed: durable handles, when they come, survive for the reconnect). Only a session
 * of the same user is ended. One on this connection goes at once; one on another connection is
 * flagged and that connection's worker tears it down (smb2_conn_run_async), since only it may
 * touch its sessions. */
static void expire_previous(struct smb2_conn *c, struct smb2_session *s, uint64_t prev_id)
{
	struct smb2_session *old = smb2_session_lookup(c, prev_id);
	if (old) {
		if (!old->anonymous && strcmp(old->user, s->user) == 0 &&
		    strcasecmp(old->domain, s->domain) == 0) {
			LOG_INFO(LOG_AUTH, "%s: session %llx replaces session %llx", c->peer,
				 (unsigned long long)s->id, (unsigned long long)prev_id);
			smb2_session_teardown(old);
		}
		smb2_session_put(old);
		return;
	}
	struct smb2_server *srv = c->srv;
	pthread_mutex_lock(&srv->conns_lock);
	for (struct smb2_conn *oc = srv->conns; oc; oc = oc->list_next) {
		if (oc == c)
			continue;
		bool found = false;
		pthread_mutex_lock(&oc->lock);
		for (int i = 0; i < oc->nsessions; i++) {
			struct smb2_session *o = oc->sessions[i];
			if (o->id == prev_id && !o->anonymous && strcmp(o->user, s->user) == 0 &&
			    strcasecmp(o->domain, s->domain) == 0) {
				atomic_store(&o->teardown_requested, true);
				found = true;
			}
		}
		pthread_mutex_unlock(&oc->lock);
		if (found) {
			/* conns_lock keeps oc and its transport alive (smb2_conn_free unlinks
			   under it first) */
			if (oc->tp && oc->tp->wake)
				oc->tp->wake(oc->loop_priv);
			break;
		}
	}
	pthread_mutex_unlock(&srv->conns_lock);
}

static void write_setup_response(struct smb2_req *req, uint16_t flags, const uint8_t *blob,
				 size_t len)
{
	struct wr *w = req->out;
	size_t base = req->body_off - SMB2_HDR_LEN;
	wr_u16(w, 9);
	wr_u16(w, flags);
	wr_u16(w, (uint16_t)(w->len + 4 - base));
	wr_u16(w, (uint16_t)len);
	wr_bytes(w, blob, len);
	if (len == 0)
		wr_u8(w, 0); /* the buffer is variable: at least one byte (2.2.6) */
}

NTSTATUS smb2_session_setup(struct smb2_req *req)
{
	struct smb2_conn *c = req->conn;
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint8_t flags = rd_u8(&b);
	uint8_t secmode = rd_u8(&b);
	rd_skip(&b, 8); /* Capabilities, Channel */
	uint16_t boff = rd_u16(&b);
	uint16_t blen = rd_u16(&b);
	uint64_t prev_id = rd_u64(&b);
	struct rd sec = rd_sub(&req->msg, boff, blen);
	if (!rd_ok(&b) || !rd_ok(&sec))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if ((flags & SMB2_SESSION_FLAG_BINDING) && c->dialect >= SMB2_DIALECT_300)
		return SMB2_ERR(req, STATUS_REQUEST_NOT_ACCEPTED); /* no multichannel yet */
	if (secmode & SMB2_NEGOTIATE_SIGNING_REQUIRED)
		c->signing_required = true;

	struct smb2_session *s = req->session;
	bool fresh = false;
	if (!s) {
		if (session_limit_reached(c)) {
			LOG_WARN(LOG_SMB2, "%s: session limit reached", c->peer);
			return SMB2_ERR(req, STATUS_INSUFFICIENT_RESOURCES);
		}
		s = session_new(c);
		if (!s)
			return STATUS_INSUFFICIENT_RESOURCES;
		atomic_fetch_add(&s->refs, 1);
		req->session = s;
		fresh = true;
		if (c->dialect == SMB2_DIALECT_311)
			memcpy(s->preauth_hash, c->preauth_hash, 64);
	} else if (s->state == SESS_EXPIRED) {
		return STATUS_NETWORK_SESSION_EXPIRED;
	}
	req->session_id = s->id;
	if (!s->auth) {
		struct shoal_conf *conf = smb2_server_conf(c->srv);
		struct ntlmssp_server_cfg cfg = {
			.netbios_name = conf->netbios_name,
			.netbios_domain = conf->workgroup,
			.dns_name = conf->netbios_name,
			.dns_domain = "",
			.lookup = lookup_user,
			.lookup_arg = c->srv,
		};
		s->auth = spnego_server_new(&cfg);
		conf_put(conf);
		if (!s->auth)
			goto fail_mem;
	}
	bool hash = c->dialect == SMB2_DIALECT_311 && s->state == SESS_IN_PROGRESS;
	if (hash) {
		struct iovec iov = {(void *)req->msg.p, req->msg.len};
		crypto_preauth_update(s->preauth_hash, &iov, 1);
	}
	uint8_t *outblob = NULL;
	size_t outlen = 0;
	int rc = spnego_server_step(s->auth, sec.p, sec.len, &outblob, &outlen);
	NTSTATUS st;
	if (rc == 1) {
		write_setup_response(req, 0, outblob, outlen);
		free(outblob);
		if (hash)
			req->preauth_hash_resp = s->preauth_hash;
		req->keep_body = true;
		return STATUS_MORE_PROCESSING_REQUIRED;
	}
	if (rc == 0) {
		bool first_auth = s->state == SESS_IN_PROGRESS;
		st = session_complete(req, s);
		if (st == STATUS_SUCCESS) {
			uint16_t sflags = s->anonymous ? SMB2_SESSION_FLAG_IS_NULL : 0;
			if (s->encrypt_data)
				sflags |= SMB2_SESSION_FLAG_ENCRYPT_DATA;
			write_setup_response(req, sflags, outblob, outlen);
			free(outblob);
			spnego_server_free(s->auth);
			s->auth = NULL;
			if (!s->anonymous && (c->dialect >= SMB2_DIALECT_311 || s->signing_required ||
					      (req->hdr_flags & SMB2_FLAGS_SIGNED))) {
				atomic_fetch_add(&s->refs, 1);
				req->sign_with = s;
			}
			if (first_auth && prev_id && prev_id != s->id && !s->anonymous)
				expire_previous(c, s, prev_id);
			return STATUS_SUCCESS;
		}
	} else {
		st = rc == -EACCES ? STATUS_LOGON_FAILURE
		     : rc == -ENOMEM ? STATUS_NO_MEMORY
				     : STATUS_INVALID_PARAMETER;
		LOG_INFO(LOG_AUTH, "%s: session setup failed: %s", c->peer, ntstatus_name(st));
	}
	free(outblob);
	spnego_server_free(s->auth);
	s->auth = NULL;
	/* a failed re-authentication ends the session too (its opens are closed and waiting
	   requests answered), as Windows does (smbtorture smb2.notify.invalid-reauth) */
	smb2_session_teardown(s);
	return st;
fail_mem:
	if (fresh)
		smb2_session_teardown(s);
	return STATUS_NO_MEMORY;
}

NTSTATUS smb2_logoff(struct smb2_req *req)
{
	struct smb2_session *s = req->session;
	if ((req->hdr_flags & SMB2_FLAGS_SIGNED) || s->signing_required) {
		if (!s->anonymous) {
			atomic_fetch_add(&s->refs, 1);
			req->sign_with = s;
		}
	}
	smb2_session_teardown(s);
	wr_u16(req->out, 4);
	wr_u16(req->out, 0);
	return STATUS_SUCCESS;
}
