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

#define NOBODY_ID 65534u
#define SMB2_MAX_CHANNELS 32

/* ---- session objects ---- */

static size_t hash_slot(uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 54) & (SMB2_SESSION_HASH_SIZE - 1);
}

static void hash_add(struct smb2_server *srv, struct smb2_session *s)
{
	size_t h = hash_slot(s->id);
	pthread_mutex_lock(&srv->sessions_lock);
	s->hnext = srv->session_hash[h];
	srv->session_hash[h] = s;
	pthread_mutex_unlock(&srv->sessions_lock);
}

static void hash_del(struct smb2_server *srv, struct smb2_session *s)
{
	pthread_mutex_lock(&srv->sessions_lock);
	for (struct smb2_session **pp = &srv->session_hash[hash_slot(s->id)]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	s->hnext = NULL;
	pthread_mutex_unlock(&srv->sessions_lock);
}

struct smb2_session *smb2_session_lookup(struct smb2_conn *c, uint64_t id)
{
	struct smb2_session *found = NULL;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nsessions; i++)
		if (c->sessions[i]->id == id) {
			/* one that LOGOFF on a channel or a reconnect ended is about to go */
			if (!atomic_load(&c->sessions[i]->teardown_requested) ||
			    atomic_load(&c->sessions[i]->deleted))
				found = c->sessions[i];
			break;
		}
	for (int i = 0; i < c->nchannels && !found; i++) {
		struct smb2_channel *ch = c->channels[i];
		if (ch->session->id == id && ch->valid && !ch->gone)
			found = ch->session;
	}
	if (found)
		atomic_fetch_add(&found->refs, 1);
	pthread_mutex_unlock(&c->lock);
	return found;
}

struct smb2_session *smb2_session_lookup_bind(struct smb2_conn *c, uint64_t id)
{
	struct smb2_session *found = smb2_session_lookup(c, id);
	if (found)
		return found;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nchannels && !found; i++) {
		struct smb2_channel *ch = c->channels[i];
		if (ch->session->id == id && !ch->gone)
			found = ch->session;
	}
	if (found)
		atomic_fetch_add(&found->refs, 1);
	pthread_mutex_unlock(&c->lock);
	if (found)
		return found;
	/* 3.3.5.5.2: the session table is global. One of c's own is not taken from there: the
	   local lookup skipped it because it is ending. */
	struct smb2_server *srv = c->srv;
	pthread_mutex_lock(&srv->sessions_lock);
	for (struct smb2_session *o = srv->session_hash[hash_slot(id)]; o; o = o->hnext)
		if (o->id == id) {
			if (o->conn != c) {
				found = o;
				atomic_fetch_add(&found->refs, 1);
			}
			break;
		}
	pthread_mutex_unlock(&srv->sessions_lock);
	return found;
}

enum smb2_sign_alg smb2_conn_sign_alg(const struct smb2_conn *c)
{
	return c->dialect >= SMB2_DIALECT_300 ? c->sign_alg : SMB2_SIGN_HMAC_SHA256;
}

void smb2_signing_key_for(struct smb2_conn *c, struct smb2_session *s, uint8_t key[16],
			  enum smb2_sign_alg *alg)
{
	bool bound = false;
	if (s->conn != c || atomic_load(&s->nbound) > 0) {
		pthread_mutex_lock(&c->lock);
		/* a gone entry still signs: LOGOFF on a channel answers after ending the
		   session; a session moved here from its first connection keeps this channel's
		   key */
		for (int i = 0; i < c->nchannels; i++) {
			struct smb2_channel *ch = c->channels[i];
			if (ch->session == s && ch->valid) {
				memcpy(key, ch->signing_key, 16);
				bound = true;
				break;
			}
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (bound || s->conn == c) {
		if (!bound)
			memcpy(key, s->signing_key, 16);
		*alg = smb2_conn_sign_alg(c);
		return;
	}
	memcpy(key, s->signing_key, 16);
	*alg = s->sign_alg;
}

bool smb2_session_migrate(struct smb2_session *s)
{
	struct smb2_conn *c = s->conn;
	bool moved = false;
	if (atomic_load(&s->nbound) == 0)
		return false;
	pthread_mutex_lock(&s->run_lock);
	if (s->state != SESS_VALID || atomic_load(&s->teardown_requested) ||
	    atomic_load(&s->deleted))
		goto out;
	struct smb2_server *srv = c->srv;
	/* under conns_lock: a connection found in the list has not started to end, so its
	   teardown will see the session in its table */
	pthread_mutex_lock(&srv->conns_lock);
	struct smb2_conn *to = NULL;
	for (struct smb2_conn *oc = srv->conns; oc && !to; oc = oc->list_next) {
		if (oc == c)
			continue;
		pthread_mutex_lock(&oc->lock);
		for (int i = 0; i < oc->nchannels; i++) {
			struct smb2_channel *ch = oc->channels[i];
			if (ch->session == s && ch->valid && !ch->gone) {
				to = oc;
				break;
			}
		}
		if (to && oc->nsessions == oc->sessions_cap) {
			int ncap = oc->sessions_cap ? oc->sessions_cap * 2 : 4;
			void *nn = realloc(oc->sessions, sizeof(*oc->sessions) * (size_t)ncap);
			if (nn) {
				oc->sessions = nn;
				oc->sessions_cap = ncap;
			} else {
				to = NULL;
			}
		}
		if (to)
			oc->sessions[oc->nsessions++] = s; /* the table's reference moves along */
		pthread_mutex_unlock(&oc->lock);
	}
	if (to) {
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < c->nsessions; i++)
			if (c->sessions[i] == s) {
				c->sessions[i] = c->sessions[--c->nsessions];
				break;
			}
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_lock(&s->send_lock);
		s->conn = to;
		pthread_mutex_unlock(&s->send_lock);
		moved = true;
		LOG_INFO(LOG_SMB2, "%s: session %llx lives on on channel %s", c->peer,
			 (unsigned long long)s->id, to->peer);
	}
	pthread_mutex_unlock(&srv->conns_lock);
out:
	pthread_mutex_unlock(&s->run_lock);
	return moved;
}

/* Adds or removes c in the session's list of channel connections (under s->lock: see
 * cancel_matching in smb2_async.c, which relies on it to keep c alive). */
static int chan_conns_add(struct smb2_session *s, struct smb2_conn *c)
{
	pthread_mutex_lock(&s->lock);
	if (s->nchan_conns == s->chan_conns_cap) {
		int ncap = s->chan_conns_cap ? s->chan_conns_cap * 2 : 2;
		void *nn = realloc(s->chan_conns, sizeof(*s->chan_conns) * (size_t)ncap);
		if (!nn) {
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		s->chan_conns = nn;
		s->chan_conns_cap = ncap;
	}
	s->chan_conns[s->nchan_conns++] = c;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void chan_conns_del(struct smb2_session *s, struct smb2_conn *c)
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nchan_conns; i++)
		if (s->chan_conns[i] == c) {
			s->chan_conns[i] = s->chan_conns[--s->nchan_conns];
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

static void channel_free(struct smb2_conn *c, struct smb2_channel *ch)
{
	chan_conns_del(ch->session, c);
	atomic_fetch_sub(&ch->session->nbound, 1);
	spnego_server_free(ch->auth);
	smb2_session_put(ch->session);
	explicit_bzero(ch, sizeof(*ch));
	free(ch);
}

/* Frees the entries of c that are gone (c's worker). */
static void channels_sweep(struct smb2_conn *c)
{
	for (;;) {
		struct smb2_channel *dead = NULL;
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < c->nchannels; i++)
			if (c->channels[i]->gone) {
				dead = c->channels[i];
				c->channels[i] = c->channels[--c->nchannels];
				break;
			}
		pthread_mutex_unlock(&c->lock);
		if (!dead)
			return;
		channel_free(c, dead);
	}
}

void smb2_conn_free_channels(struct smb2_conn *c)
{
	pthread_mutex_lock(&c->lock);
	struct smb2_channel **chs = c->channels;
	int n = c->nchannels;
	c->channels = NULL;
	c->nchannels = c->channels_cap = 0;
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < n; i++) {
		if (!chs[i]->gone)
			LOG_INFO(LOG_SMB2, "%s: channel of session %llx ends, the session stays",
				 c->peer, (unsigned long long)chs[i]->session->id);
		channel_free(c, chs[i]);
	}
	free(chs);
}

/* Marks every channel of s gone, on every connection (the session ended). */
static void session_unbind_all(struct smb2_session *s)
{
	if (atomic_load(&s->nbound) == 0)
		return;
	struct smb2_server *srv = s->conn ? s->conn->srv : NULL;
	if (!srv)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	for (struct smb2_conn *oc = srv->conns; oc; oc = oc->list_next) {
		pthread_mutex_lock(&oc->lock);
		for (int i = 0; i < oc->nchannels; i++)
			if (oc->channels[i]->session == s)
				oc->channels[i]->gone = true;
		pthread_mutex_unlock(&oc->lock);
	}
	pthread_mutex_unlock(&srv->conns_lock);
}

void smb2_session_put(struct smb2_session *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	spnego_server_free(s->auth);
	free(s->trees);
	free(s->opens);
	free(s->chan_conns);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->run_lock);
	pthread_mutex_destroy(&s->send_lock);
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
	pthread_mutex_init(&s->send_lock, NULL);
	pthread_mutexattr_t ra;
	pthread_mutexattr_init(&ra);
	pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->run_lock, &ra);
	pthread_mutexattr_destroy(&ra);
	atomic_init(&s->nbound, 0);
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
	hash_add(c->srv, s);
	return s;
}

void smb2_session_teardown(struct smb2_session *s)
{
	struct smb2_conn *c = s->conn;
	bool found = false;
	pthread_mutex_lock(&s->run_lock);
	bool keep = atomic_load(&s->deleted);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nsessions; i++)
		if (c->sessions[i] == s) {
			if (!keep)
				c->sessions[i] = c->sessions[--c->nsessions];
			found = !keep || s->state != SESS_EXPIRED;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (!found) {
		pthread_mutex_unlock(&s->run_lock);
		return;
	}
	if (!keep)
		hash_del(c->srv, s);
	session_unbind_all(s);
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
	atomic_store(&s->teardown_requested, false);
	pthread_mutex_unlock(&s->run_lock);
	if (!keep)
		smb2_session_put(s);
}

/* Ends s on all its channels from a request on connection c (LOGOFF, a failed
 * re-authentication; 3.3.5.6). On a bound channel the channels stop resolving s at once and its
 * own connection's worker closes its opens, since only it may touch its pending requests. The
 * caller holds s->run_lock with s valid, so its connection has not torn it down, nor ended. */
static void session_end(struct smb2_conn *c, struct smb2_session *s)
{
	if (s->conn == c) {
		smb2_session_teardown(s);
		return;
	}
	session_unbind_all(s);
	atomic_store(&s->teardown_requested, true);
	struct smb2_server *srv = c->srv;
	pthread_mutex_lock(&srv->conns_lock);
	for (struct smb2_conn *oc = srv->conns; oc; oc = oc->list_next)
		if (oc == s->conn && oc->tp && oc->tp->wake)
			oc->tp->wake(oc->loop_priv);
	pthread_mutex_unlock(&srv->conns_lock);
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
	s->dialect = c->dialect;
	s->sign_alg = smb2_conn_sign_alg(c);
	s->cipher = c->cipher;
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

/* ---- session binding (MS-SMB2 3.3.5.5.2): a second connection joins a session ---- */

/* The spnego context for a new authentication (NULL on out of memory). */
static struct spnego_server *auth_new(struct smb2_conn *c)
{
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	struct ntlmssp_server_cfg cfg = {
		.netbios_name = conf->netbios_name,
		.netbios_domain = conf->workgroup,
		.dns_name = conf->netbios_name,
		.dns_domain = "",
		.lookup = lookup_user,
		.lookup_arg = c->srv,
	};
	struct spnego_server *a = spnego_server_new(&cfg);
	conf_put(conf);
	return a;
}

/* The checks of 3.3.5.5.2 before any authentication, in the order Windows applies them
 * (smbtorture smb2.session.bind_negative_*). */
static NTSTATUS bind_check(struct smb2_req *req, struct smb2_session *s)
{
	struct smb2_conn *c = req->conn;
	enum smb2_sign_alg calg = smb2_conn_sign_alg(c);
	if (req->session_id == 0)
		return STATUS_INVALID_PARAMETER;
	if (!s || atomic_load(&s->deleted))
		return STATUS_USER_SESSION_DELETED;
	if (s->state != SESS_VALID)
		return STATUS_REQUEST_NOT_ACCEPTED;
	/* AES-GMAC signing cannot be mixed with another algorithm on one session, either way */
	if (s->sign_alg == SMB2_SIGN_AES_GMAC && calg != s->sign_alg)
		return STATUS_REQUEST_OUT_OF_SEQUENCE;
	if (calg == SMB2_SIGN_AES_GMAC && s->sign_alg != calg)
		return STATUS_NOT_SUPPORTED;
	if (c->dialect < SMB2_DIALECT_300)
		return STATUS_REQUEST_NOT_ACCEPTED;
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	bool mc = conf->multi_channel;
	conf_put(conf);
	if (!mc)
		return STATUS_REQUEST_NOT_ACCEPTED;
	if (!(req->hdr_flags & SMB2_FLAGS_SIGNED))
		return STATUS_INVALID_PARAMETER;
	if (s->dialect != c->dialect || s->cipher != c->cipher)
		return STATUS_INVALID_PARAMETER;
	if (s->conn == c)
		return STATUS_REQUEST_NOT_ACCEPTED;
	if (s->anonymous || s->guest)
		return STATUS_NOT_SUPPORTED;
	return STATUS_SUCCESS;
}

/* c's channel entry for s (not gone), created when missing; NULL with *st set on failure. */
static struct smb2_channel *channel_get(struct smb2_conn *c, struct smb2_session *s,
					NTSTATUS *st)
{
	channels_sweep(c);
	struct smb2_channel *ch = NULL;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nchannels && !ch; i++)
		if (c->channels[i]->session == s && !c->channels[i]->gone)
			ch = c->channels[i];
	pthread_mutex_unlock(&c->lock);
	if (ch) {
		/* a completed binding is not bound again */
		*st = ch->valid ? STATUS_REQUEST_NOT_ACCEPTED : STATUS_SUCCESS;
		return ch->valid ? NULL : ch;
	}
	*st = STATUS_INSUFFICIENT_RESOURCES;
	/* at most SMB2_MAX_CHANNELS channels, the session's own connection included, as Windows
	   (smbtorture smb2.multichannel.generic.num_channels) */
	if (atomic_load(&s->nbound) + 1 >= SMB2_MAX_CHANNELS) {
		LOG_INFO(LOG_AUTH, "%s: session %llx has %d channels already", c->peer,
			 (unsigned long long)s->id, SMB2_MAX_CHANNELS);
		return NULL;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	if (chan_conns_add(s, c) < 0) {
		free(ch);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	if (c->nchannels == c->channels_cap) {
		int ncap = c->channels_cap ? c->channels_cap * 2 : 2;
		void *nn = realloc(c->channels, sizeof(*c->channels) * (size_t)ncap);
		if (!nn) {
			pthread_mutex_unlock(&c->lock);
			chan_conns_del(s, c);
			free(ch);
			return NULL;
		}
		c->channels = nn;
		c->channels_cap = ncap;
	}
	ch->session = s;
	atomic_fetch_add(&s->refs, 1);
	atomic_fetch_add(&s->nbound, 1);
	memcpy(ch->preauth_hash, c->preauth_hash, 64);
	c->channels[c->nchannels++] = ch;
	pthread_mutex_unlock(&c->lock);
	*st = STATUS_SUCCESS;
	return ch;
}

static void channel_drop(struct smb2_conn *c, struct smb2_channel *ch)
{
	pthread_mutex_lock(&c->lock);
	ch->gone = true;
	pthread_mutex_unlock(&c->lock);
	channels_sweep(c);
}

/* 3.3.5.5.3 for a channel: Channel.SigningKey from this authentication's session key (3.1.1:
 * with the binding's preauth integrity hash). */
static void derive_channel_key(struct smb2_conn *c, struct smb2_channel *ch, const uint8_t sk[16])
{
	if (c->dialect >= SMB2_DIALECT_311)
		crypto_kdf(sk, 16, "SMBSigningKey", 14, ch->preauth_hash, 64, ch->signing_key, 16);
	else
		crypto_kdf(sk, 16, "SMB2AESCMAC", 12, "SmbSign", 8, ch->signing_key, 16);
}

static void write_setup_response(struct smb2_req *req, uint16_t flags, const uint8_t *blob,
				 size_t len);

static NTSTATUS session_bind(struct smb2_req *req, struct rd sec)
{
	struct smb2_conn *c = req->conn;
	struct smb2_session *s = req->session;
	NTSTATUS st = bind_check(req, s);
	if (st)
		return SMB2_ERR(req, st);
	struct smb2_channel *ch = channel_get(c, s, &st);
	if (!ch)
		return SMB2_ERR(req, st);
	/* only this worker touches the entry's auth and hash; another thread may only mark it gone */
	if (!ch->auth && !(ch->auth = auth_new(c))) {
		channel_drop(c, ch);
		return STATUS_NO_MEMORY;
	}
	if (c->dialect == SMB2_DIALECT_311) {
		struct iovec iov = {(void *)req->msg.p, req->msg.len};
		crypto_preauth_update(ch->preauth_hash, &iov, 1);
	}
	uint8_t *outblob = NULL;
	size_t outlen = 0;
	int rc = spnego_server_step(ch->auth, sec.p, sec.len, &outblob, &outlen);
	if (rc == 1) {
		write_setup_response(req, 0, outblob, outlen);
		free(outblob);
		if (c->dialect == SMB2_DIALECT_311)
			req->preauth_hash_resp = ch->preauth_hash;
		req->keep_body = true;
		return STATUS_MORE_PROCESSING_REQUIRED;
	}
	if (rc == 0) {
		/* the same user, authenticated again on this connection */
		struct ntlmssp_server *n = spnego_server_ntlmssp(ch->auth);
		struct userdb_entry e;
		st = STATUS_ACCESS_DENIED;
		if (!ntlmssp_server_anonymous(n) &&
		    userdb_lookup(c->srv->users, ntlmssp_server_user(n), &e) == 0) {
			if (strcmp(e.name, s->user) == 0)
				st = STATUS_SUCCESS;
			explicit_bzero(&e, sizeof(e));
		}
		if (st == STATUS_SUCCESS) {
			derive_channel_key(c, ch, ntlmssp_server_session_key(n));
			pthread_mutex_lock(&c->lock);
			ch->valid = true;
			pthread_mutex_unlock(&c->lock);
			spnego_server_free(ch->auth);
			ch->auth = NULL;
			uint16_t sflags = s->encrypt_data ? SMB2_SESSION_FLAG_ENCRYPT_DATA : 0;
			write_setup_response(req, sflags, outblob, outlen);
			free(outblob);
			/* signed with the new channel's key */
			atomic_fetch_add(&s->refs, 1);
			req->sign_with = s;
			atomic_store(&c->authenticated, true);
			LOG_INFO(LOG_AUTH, "%s: session %llx: channel bound (user '%s')", c->peer,
				 (unsigned long long)s->id, s->user);
			return STATUS_SUCCESS;
		}
		LOG_INFO(LOG_AUTH, "%s: binding of session %llx by another user refused", c->peer,
			 (unsigned long long)s->id);
	} else {
		st = rc == -EACCES ? STATUS_LOGON_FAILURE
		     : rc == -ENOMEM ? STATUS_NO_MEMORY
				     : STATUS_INVALID_PARAMETER;
		LOG_INFO(LOG_AUTH, "%s: binding failed: %s", c->peer, ntstatus_name(st));
	}
	free(outblob);
	/* a failed binding leaves the session as it was on its other channels */
	channel_drop(c, ch);
	return st;
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

/* The session a SESSION_SETUP authenticates: the request's own (a later leg, or a
 * re-authentication) or, with *fresh set, a new one. NULL, with *st, when there is none to use. */
static struct smb2_session *setup_session(struct smb2_req *req, bool *fresh, NTSTATUS *st)
{
	struct smb2_conn *c = req->conn;
	struct smb2_session *s = req->session;
	*fresh = false;
	if (s) {
		if (s->state != SESS_EXPIRED)
			return s;
		*st = STATUS_NETWORK_SESSION_EXPIRED;
		return NULL;
	}
	if (session_limit_reached(c)) {
		LOG_WARN(LOG_SMB2, "%s: session limit reached", c->peer);
		*st = SMB2_ERR(req, STATUS_INSUFFICIENT_RESOURCES);
		return NULL;
	}
	s = session_new(c);
	if (!s) {
		*st = STATUS_INSUFFICIENT_RESOURCES;
		return NULL;
	}
	atomic_fetch_add(&s->refs, 1);
	req->session = s;
	*fresh = true;
	if (c->dialect == SMB2_DIALECT_311)
		memcpy(s->preauth_hash, c->preauth_hash, 64);
	return s;
}

/* A leg that wants another: the response carries the next token (outblob, freed here); under
 * 3.1.1 it goes into the preauth hash of hash_of (NULL: none). */
static NTSTATUS setup_more(struct smb2_req *req, struct smb2_session *hash_of, uint8_t *outblob,
			   size_t outlen)
{
	write_setup_response(req, 0, outblob, outlen);
	free(outblob);
	if (hash_of)
		req->preauth_hash_resp = hash_of->preauth_hash;
	req->keep_body = true;
	return STATUS_MORE_PROCESSING_REQUIRED;
}

/* The last leg succeeded and session_complete accepted it: the response (with the final
 * token, outblob, freed here), its signature, and the end of the session the client names as
 * its previous one. */
static NTSTATUS setup_succeeded(struct smb2_req *req, struct smb2_session *s, uint64_t prev_id,
				bool first_auth, uint8_t *outblob, size_t outlen)
{
	struct smb2_conn *c = req->conn;
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

/* The authentication failed with st: the session's authentication state goes, and so does the
 * session (fresh: created by this request). */
static NTSTATUS setup_failed(struct smb2_req *req, struct smb2_session *s, bool fresh, NTSTATUS st)
{
	struct smb2_conn *c = req->conn;
	spnego_server_free(s->auth);
	s->auth = NULL;
	/* a failed re-authentication ends the session too (its opens are closed and waiting
	   requests answered), on all its channels, as Windows does (smbtorture
	   smb2.notify.invalid-reauth, smb2.session.bind_invalid_auth).
	   Only a session that had authenticated keeps its record (refusals on it are signed); one
	   whose first authentication failed in a later leg goes at once like a fresh one, or every
	   failed logon would hold a record until the connection ends (smbtorture smb2.secleak) */
	if (!fresh && s->state != SESS_IN_PROGRESS)
		atomic_store(&s->deleted, true);
	if (fresh || s->conn == c)
		smb2_session_teardown(s);
	else
		session_end(c, s);
	return st;
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
	if (flags & SMB2_SESSION_FLAG_BINDING)
		return session_bind(req, sec);
	if (secmode & SMB2_NEGOTIATE_SIGNING_REQUIRED)
		c->signing_required = true;

	bool fresh;
	NTSTATUS st;
	struct smb2_session *s = setup_session(req, &fresh, &st);
	if (!s)
		return st;
	req->session_id = s->id;
	if (!s->auth && !(s->auth = auth_new(c))) {
		if (fresh)
			smb2_session_teardown(s);
		return STATUS_NO_MEMORY;
	}
	bool hash = c->dialect == SMB2_DIALECT_311 && s->state == SESS_IN_PROGRESS;
	if (hash) {
		struct iovec iov = {(void *)req->msg.p, req->msg.len};
		crypto_preauth_update(s->preauth_hash, &iov, 1);
	}
	uint8_t *outblob = NULL;
	size_t outlen = 0;
	int rc = spnego_server_step(s->auth, sec.p, sec.len, &outblob, &outlen);
	if (rc == 1)
		return setup_more(req, hash ? s : NULL, outblob, outlen);
	if (rc == 0) {
		bool first_auth = s->state == SESS_IN_PROGRESS;
		st = session_complete(req, s);
		if (st == STATUS_SUCCESS)
			return setup_succeeded(req, s, prev_id, first_auth, outblob, outlen);
	} else {
		st = rc == -EACCES ? STATUS_LOGON_FAILURE
		     : rc == -ENOMEM ? STATUS_NO_MEMORY
				     : STATUS_INVALID_PARAMETER;
		LOG_INFO(LOG_AUTH, "%s: session setup failed: %s", c->peer, ntstatus_name(st));
	}
	free(outblob);
	return setup_failed(req, s, fresh, st);
}

NTSTATUS smb2_logoff(struct smb2_req *req)
{
	struct smb2_session *s = req->session;
	struct smb2_conn *c = req->conn;
	if ((req->hdr_flags & SMB2_FLAGS_SIGNED) || s->signing_required) {
		if (!s->anonymous) {
			atomic_fetch_add(&s->refs, 1);
			req->sign_with = s;
		}
	}
	session_end(c, s);
	if (s->conn != c)
		LOG_INFO(LOG_AUTH, "%s: session %llx logged off on a channel", c->peer,
			 (unsigned long long)s->id);
	wr_u16(req->out, 4);
	wr_u16(req->out, 0);
	return STATUS_SUCCESS;
}
