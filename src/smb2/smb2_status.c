/* Status snapshots for the management API: the sessions of every connection, copied out under
 * the locks that guard them so that formatting and HTTP I/O happen with no lock held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/smb2.h"

static const char *state_name(enum smb2_sess_state st)
{
	switch (st) {
	case SESS_IN_PROGRESS:
		return "in_progress";
	case SESS_VALID:
		return "valid";
	default:
		return "expired";
	}
}

/* 2.x signs with HMAC-SHA256 whatever sign_alg says, and has no transform (MS-SMB2 3.1.4.1). */
static void fill_from_conn(struct smb2_session_status *st, const struct smb2_conn *c)
{
	bool smb3 = c->dialect >= SMB2_DIALECT_300;
	snprintf(st->client, sizeof(st->client), "%s", c->peer);
	st->dialect = c->dialect;
	st->signing = smb2_sign_alg_name(smb3 ? c->sign_alg : SMB2_SIGN_HMAC_SHA256);
	st->cipher = smb2_cipher_name(smb3 ? c->cipher : SMB2_CIPHER_NONE);
}

/* Grows *v to hold at least need entries. */
static int reserve(struct smb2_session_status **v, struct smb2_session **refs[], int *cap, int need)
{
	if (need <= *cap)
		return 0;
	int ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	struct smb2_session_status *nv = realloc(*v, (size_t)ncap * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	struct smb2_session **nr = realloc(*refs, (size_t)ncap * sizeof(**refs));
	if (!nr)
		return -ENOMEM;
	*refs = nr;
	*cap = ncap;
	return 0;
}

/* Copies the sessions of one connection; each copied session gets a reference in refs so its
 * tree and open counts can be read after the connection's lock is dropped. */
static int snap_conn(struct smb2_conn *c, struct smb2_session_status **v,
		     struct smb2_session **refs[], int *n, int *cap)
{
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (reserve(v, refs, cap, *n + c->nsessions) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < c->nsessions; i++) {
		struct smb2_session *s = c->sessions[i];
		struct smb2_session_status *st = &(*v)[*n];
		memset(st, 0, sizeof(*st));
		fill_from_conn(st, c);
		st->id = s->id;
		snprintf(st->user, sizeof(st->user), "%s", s->user);
		snprintf(st->domain, sizeof(st->domain), "%s", s->domain);
		st->state = state_name(s->state);
		st->encrypt_data = s->encrypt_data;
		/* each encrypted response takes one nonce, so the counter is the count */
		st->encrypted_out = atomic_load(&s->nonce_ctr);
		st->signing_required = s->signing_required;
		st->anonymous = s->anonymous;
		st->guest = s->guest;
		atomic_fetch_add(&s->refs, 1);
		(*refs)[(*n)++] = s;
	}
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int smb2_status_sessions(struct smb2_server *srv, struct smb2_session_status **out)
{
	struct smb2_session_status *v = NULL;
	struct smb2_session **refs = NULL;
	int n = 0, cap = 0, rc = 0;
	*out = NULL;
	/* conns_lock keeps every listed connection alive (smb2_conn_free unlinks first) */
	pthread_mutex_lock(&srv->conns_lock);
	for (struct smb2_conn *c = srv->conns; c && rc == 0; c = c->list_next)
		rc = snap_conn(c, &v, &refs, &n, &cap);
	pthread_mutex_unlock(&srv->conns_lock);
	/* the session lock guards the tree and open tables; taken with no other lock held */
	for (int i = 0; i < n; i++) {
		struct smb2_session *s = refs[i];
		pthread_mutex_lock(&s->lock);
		v[i].ntrees = s->ntrees;
		v[i].nopens = s->nopens;
		pthread_mutex_unlock(&s->lock);
		smb2_session_put(s);
	}
	free(refs);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	return n;
}
