/* SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP, server and client side.
 *
 *   InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE { thisMech OID, NegotiationToken }
 *   NegotiationToken ::= CHOICE { negTokenInit [0] NegTokenInit, negTokenResp [1] NegTokenResp }
 *   NegTokenInit ::= SEQUENCE { mechTypes [0] MechTypeList, reqFlags [1] OPTIONAL,
 *                               mechToken [2] OCTET STRING OPTIONAL, mechListMIC [3] ... }
 *   (MS-SPNG 2.2.1 NegTokenInit2 puts negHints at [3] and mechListMIC at [4])
 *   NegTokenResp ::= SEQUENCE { negState [0] ENUMERATED OPTIONAL, supportedMech [1] OID OPTIONAL,
 *                               responseToken [2] OCTET STRING OPTIONAL,
 *                               mechListMIC [3] OCTET STRING OPTIONAL }
 */
#include "auth/spnego.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/asn1.h"
#include "auth/ntlmssp_priv.h"
#include "lib/log.h"

static const uint8_t oid_spnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}; /* 1.3.6.1.5.5.2 */
/* 1.3.6.1.4.1.311.2.2.10 */
static const uint8_t oid_ntlmssp[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};

enum neg_state { NEG_ACCEPT_COMPLETED = 0, NEG_ACCEPT_INCOMPLETE = 1, NEG_REJECT = 2 };

struct neg_init {
	struct rd mech_types; /* the whole MechTypeList encoding, which the mechListMIC covers */
	bool has_ntlm, ntlm_first;
	struct rd token;
	bool has_token;
};

struct neg_resp {
	int state; /* -1 when absent */
	bool has_mech, mech_is_ntlm;
	struct rd token, mic;
	bool has_token, has_mic;
};

static bool oid_is(const struct rd *v, const uint8_t *oid, size_t len)
{
	return v->len == len && memcmp(v->p, oid, len) == 0;
}

/* ---- decoding ---------------------------------------------------------------------------- */

static int parse_mech_types(struct rd *r, struct neg_init *ni)
{
	struct rd list, oid;
	uint8_t tag;
	if (asn1_get(r, &tag, &list, &ni->mech_types) < 0 || tag != ASN1_SEQUENCE || rd_left(r))
		return -EINVAL;
	for (int i = 0; rd_left(&list); i++) {
		if (asn1_expect(&list, ASN1_OID, &oid) < 0)
			return -EINVAL;
		if (oid_is(&oid, oid_ntlmssp, sizeof(oid_ntlmssp))) {
			ni->has_ntlm = true;
			ni->ntlm_first |= i == 0;
		}
	}
	return ni->mech_types.len > 2 ? 0 : -EINVAL; /* an empty list offers nothing */
}

/* NegTokenInit(2) contents: the SEQUENCE inside [0]. */
static int parse_init_seq(struct rd *r, struct neg_init *ni)
{
	struct rd seq, el;
	uint8_t tag, last = 0;
	memset(ni, 0, sizeof(*ni));
	if (asn1_expect(r, ASN1_SEQUENCE, &seq) < 0 || rd_left(r))
		return -EINVAL;
	while (rd_left(&seq)) {
		if (asn1_get(&seq, &tag, &el, NULL) < 0)
			return -EINVAL;
		/* context tags [0]..[4], each at most once and in order */
		if (tag < ASN1_CONTEXT(0) || tag > ASN1_CONTEXT(4) || (last && tag <= last))
			return -EINVAL;
		last = tag;
		if (tag == ASN1_CONTEXT(0) && parse_mech_types(&el, ni) < 0)
			return -EINVAL;
		if (tag == ASN1_CONTEXT(2)) {
			if (asn1_expect(&el, ASN1_OCTET_STRING, &ni->token) < 0 || rd_left(&el))
				return -EINVAL;
			ni->has_token = true;
		}
		/* reqFlags, mechListMIC or negHints, mechListMIC of NegTokenInit2: not used */
	}
	return ni->mech_types.p ? 0 : -EINVAL;
}

/* InitialContextToken carrying a negTokenInit. */
static int parse_initial(const uint8_t *in, size_t inlen, struct neg_init *ni)
{
	struct rd r = rd_make(in, inlen), app, oid, tok;
	if (asn1_expect(&r, ASN1_APPLICATION(0), &app) < 0 || rd_left(&r))
		return -EINVAL;
	if (asn1_expect(&app, ASN1_OID, &oid) < 0 || !oid_is(&oid, oid_spnego, sizeof(oid_spnego)))
		return -EINVAL;
	if (asn1_expect(&app, ASN1_CONTEXT(0), &tok) < 0 || rd_left(&app))
		return -EINVAL;
	return parse_init_seq(&tok, ni);
}

static int parse_resp_field(uint8_t tag, struct rd *el, struct neg_resp *nr)
{
	struct rd v;
	switch (tag) {
	case ASN1_CONTEXT(0):
		if (asn1_expect(el, ASN1_ENUMERATED, &v) < 0 || v.len != 1)
			return -EINVAL;
		nr->state = v.p[0];
		break;
	case ASN1_CONTEXT(1):
		if (asn1_expect(el, ASN1_OID, &v) < 0)
			return -EINVAL;
		nr->has_mech = true;
		nr->mech_is_ntlm = oid_is(&v, oid_ntlmssp, sizeof(oid_ntlmssp));
		break;
	case ASN1_CONTEXT(2):
		if (asn1_expect(el, ASN1_OCTET_STRING, &nr->token) < 0)
			return -EINVAL;
		nr->has_token = true;
		break;
	case ASN1_CONTEXT(3):
		if (asn1_expect(el, ASN1_OCTET_STRING, &nr->mic) < 0)
			return -EINVAL;
		nr->has_mic = true;
		break;
	default:
		return -EINVAL;
	}
	return rd_left(el) ? -EINVAL : 0;
}

/* A negTokenResp: [1] { SEQUENCE { ... } }. */
static int parse_resp(const uint8_t *in, size_t inlen, struct neg_resp *nr)
{
	struct rd r = rd_make(in, inlen), choice, seq, el;
	uint8_t tag, last = 0;
	memset(nr, 0, sizeof(*nr));
	nr->state = -1;
	if (asn1_expect(&r, ASN1_CONTEXT(1), &choice) < 0 || rd_left(&r))
		return -EINVAL;
	if (asn1_expect(&choice, ASN1_SEQUENCE, &seq) < 0 || rd_left(&choice))
		return -EINVAL;
	while (rd_left(&seq)) {
		if (asn1_get(&seq, &tag, &el, NULL) < 0 || (last && tag <= last))
			return -EINVAL;
		last = tag;
		if (parse_resp_field(tag, &el, nr) < 0)
			return -EINVAL;
	}
	return 0;
}

/* ---- encoding ---------------------------------------------------------------------------- */

static void put_explicit(struct wr *w, uint8_t ctx, uint8_t tag, const void *p, size_t n)
{
	size_t s = asn1_begin(w);
	asn1_put(w, tag, p, n);
	asn1_end(w, s, ctx);
}

static int finish(struct wr *w, uint8_t **out, size_t *outlen)
{
	*out = wr_take(w, outlen);
	return *out ? 0 : -ENOMEM;
}

/* negTokenResp with the given parts (state < 0, tok == NULL, mic == NULL leave them out). */
static int build_resp(int state, bool mech, const uint8_t *tok, size_t toklen, const uint8_t *mic,
		      uint8_t **out, size_t *outlen)
{
	struct wr w;
	wr_init(&w, toklen + 64);
	size_t choice = asn1_begin(&w);
	size_t seq = asn1_begin(&w);
	uint8_t st = (uint8_t)state;
	if (state >= 0)
		put_explicit(&w, ASN1_CONTEXT(0), ASN1_ENUMERATED, &st, 1);
	if (mech)
		put_explicit(&w, ASN1_CONTEXT(1), ASN1_OID, oid_ntlmssp, sizeof(oid_ntlmssp));
	if (tok)
		put_explicit(&w, ASN1_CONTEXT(2), ASN1_OCTET_STRING, tok, toklen);
	if (mic)
		put_explicit(&w, ASN1_CONTEXT(3), ASN1_OCTET_STRING, mic, 16);
	asn1_end(&w, seq, ASN1_SEQUENCE);
	asn1_end(&w, choice, ASN1_CONTEXT(1));
	return finish(&w, out, outlen);
}

static void put_mech_types(struct wr *w)
{
	size_t s = asn1_begin(w);
	asn1_put(w, ASN1_OID, oid_ntlmssp, sizeof(oid_ntlmssp));
	asn1_end(w, s, ASN1_SEQUENCE);
}

/* InitialContextToken { SPNEGO, negTokenInit { mechTypes, mechToken? } } with optional negHints
 * (NegTokenInit2, MS-SPNG 2.2.1). */
static int build_init(const uint8_t *tok, size_t toklen, bool hints, uint8_t **out, size_t *outlen)
{
	static const char hint[] = "not_defined_in_RFC4178@please_ignore";
	struct wr w;
	wr_init(&w, toklen + 96);
	size_t app = asn1_begin(&w);
	asn1_put(&w, ASN1_OID, oid_spnego, sizeof(oid_spnego));
	size_t choice = asn1_begin(&w);
	size_t seq = asn1_begin(&w);
	size_t mt = asn1_begin(&w);
	put_mech_types(&w);
	asn1_end(&w, mt, ASN1_CONTEXT(0));
	if (tok)
		put_explicit(&w, ASN1_CONTEXT(2), ASN1_OCTET_STRING, tok, toklen);
	if (hints) {
		size_t nh = asn1_begin(&w);
		size_t nhs = asn1_begin(&w);
		put_explicit(&w, ASN1_CONTEXT(0), ASN1_GENERAL_STRING, hint, sizeof(hint) - 1);
		asn1_end(&w, nhs, ASN1_SEQUENCE);
		asn1_end(&w, nh, ASN1_CONTEXT(3));
	}
	asn1_end(&w, seq, ASN1_SEQUENCE);
	asn1_end(&w, choice, ASN1_CONTEXT(0));
	asn1_end(&w, app, ASN1_APPLICATION(0));
	return finish(&w, out, outlen);
}

int spnego_negotiate_hint(uint8_t **out, size_t *outlen)
{
	return build_init(NULL, 0, true, out, outlen);
}

static int copy_rd(const struct rd *r, uint8_t **p, size_t *len)
{
	free(*p);
	*p = malloc(r->len ? r->len : 1);
	if (!*p)
		return -ENOMEM;
	if (r->len)
		memcpy(*p, r->p, r->len);
	*len = r->len;
	return 0;
}

/* ---- server ------------------------------------------------------------------------------ */

enum sp_state { SP_INIT, SP_RUNNING, SP_DONE, SP_FAILED };

struct spnego_server {
	struct ntlmssp_server *ntlm;
	enum sp_state state;
	bool raw;	 /* bare NTLMSSP, no SPNEGO framing */
	bool ntlm_first; /* NTLMSSP was the client's preferred mechanism */
	uint8_t *mech_types;
	size_t mech_types_len;
};

struct spnego_server *spnego_server_new(const struct ntlmssp_server_cfg *cfg)
{
	struct spnego_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ntlm = ntlmssp_server_new(cfg);
	if (!s->ntlm) {
		free(s);
		return NULL;
	}
	return s;
}

void spnego_server_free(struct spnego_server *s)
{
	if (!s)
		return;
	ntlmssp_server_free(s->ntlm);
	free(s->mech_types);
	free(s);
}

struct ntlmssp_server *spnego_server_ntlmssp(struct spnego_server *s)
{
	return s->ntlm;
}

static bool is_raw_ntlmssp(const uint8_t *in, size_t inlen)
{
	return inlen >= 8 && memcmp(in, ntlmssp_signature, 8) == 0;
}

/* negTokenInit: NTLMSSP must be offered. Its token is used only when NTLMSSP is the client's
 * first choice; an optimistic token for another mechanism is ignored and the CHALLENGE goes out
 * without a NEGOTIATE (RFC 4178 5 and 3.2 (c)). */
static int server_init(struct spnego_server *s, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen)
{
	struct neg_init ni;
	uint8_t *chal = NULL;
	size_t challen = 0;
	if (parse_initial(in, inlen, &ni) < 0)
		return -EINVAL;
	if (!ni.has_ntlm) {
		LOG_INFO(LOG_AUTH, "spnego: client offers no mechanism shoal supports");
		return -EINVAL;
	}
	if (copy_rd(&ni.mech_types, &s->mech_types, &s->mech_types_len) < 0)
		return -ENOMEM;
	s->ntlm_first = ni.ntlm_first;
	bool use = ni.ntlm_first && ni.has_token;
	int rc = ntlmssp_server_step(s->ntlm, use ? ni.token.p : NULL, use ? ni.token.len : 0,
				     &chal, &challen);
	if (rc == 0)
		rc = -EINVAL; /* a negTokenInit cannot complete NTLMSSP */
	if (rc == 1)
		rc = build_resp(NEG_ACCEPT_INCOMPLETE, true, chal, challen, NULL, out, outlen);
	free(chal);
	return rc < 0 ? rc : 1;
}

/* The mechListMIC exchange after NTLMSSP completed: the client's MIC is verified when sent, and
 * shoal's is sent when the client sent one or NTLMSSP was not its first choice (RFC 4178 5).
 * The NTLMSSP signing state is put back afterwards, so the first message the application signs
 * sees the same RC4 state and sequence number (MS-SPNG 3.3.5.1). */
static int server_mic(struct spnego_server *s, const struct neg_resp *nr, uint8_t mic[16],
		      bool *send)
{
	struct ntlmssp_keys *k = ntlmssp_server_keys(s->ntlm);
	struct ntlmssp_keys saved = *k;
	int rc = 0;
	*send = false;
	if (ntlmssp_server_anonymous(s->ntlm))
		return 0; /* no keys to sign with */
	if (nr->has_mic) {
		if (nr->mic.len != 16)
			rc = -EINVAL;
		else if (ntlmssp_check(k, false, s->mech_types, s->mech_types_len, nr->mic.p) < 0)
			rc = -EACCES;
	}
	if (rc == 0 && (nr->has_mic || !s->ntlm_first)) {
		rc = ntlmssp_sign(k, true, s->mech_types, s->mech_types_len, mic);
		*send = rc == 0;
		if (rc == -EOPNOTSUPP && !nr->has_mic)
			rc = 0; /* no extended session security: nothing to sign with */
	}
	*k = saved;
	explicit_bzero(&saved, sizeof(saved));
	if (rc == -EACCES)
		LOG_INFO(LOG_AUTH, "spnego: client mechListMIC does not verify");
	return rc;
}

static int server_resp(struct spnego_server *s, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen)
{
	struct neg_resp nr;
	uint8_t *tok = NULL, mic[16];
	size_t toklen = 0;
	bool send_mic;
	if (parse_resp(in, inlen, &nr) < 0 || !nr.has_token || nr.state == NEG_REJECT)
		return -EINVAL;
	int rc = ntlmssp_server_step(s->ntlm, nr.token.p, nr.token.len, &tok, &toklen);
	if (rc == 1) {
		/* the client sent its NEGOTIATE after all: a fresh CHALLENGE */
		rc = build_resp(NEG_ACCEPT_INCOMPLETE, false, tok, toklen, NULL, out, outlen);
		free(tok);
		return rc < 0 ? rc : 1;
	}
	free(tok);
	if (rc < 0)
		return rc;
	rc = server_mic(s, &nr, mic, &send_mic);
	if (rc == 0)
		rc = build_resp(NEG_ACCEPT_COMPLETED, false, NULL, 0, send_mic ? mic : NULL, out,
				outlen);
	return rc;
}

int spnego_server_step(struct spnego_server *s, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen)
{
	int rc;
	*out = NULL;
	*outlen = 0;
	if (!in)
		inlen = 0;
	if (s->state == SP_DONE || s->state == SP_FAILED)
		return -EINVAL;
	if (s->state == SP_INIT)
		s->raw = is_raw_ntlmssp(in, inlen);
	if (s->raw)
		rc = ntlmssp_server_step(s->ntlm, in, inlen, out, outlen);
	else if (s->state == SP_INIT)
		rc = server_init(s, in, inlen, out, outlen);
	else
		rc = server_resp(s, in, inlen, out, outlen);
	s->state = rc == 1 ? SP_RUNNING : rc == 0 ? SP_DONE : SP_FAILED;
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return rc;
}

/* ---- client ------------------------------------------------------------------------------ */

enum spc_state { SPC_INIT, SPC_SENT_INIT, SPC_SENT_AUTH, SPC_DONE, SPC_FAILED };

struct spnego_client {
	struct ntlmssp_client *ntlm;
	enum spc_state state;
	bool anonymous;
	uint8_t *mech_types;
	size_t mech_types_len;
	struct ntlmssp_keys saved; /* signing state right after NTLMSSP, restored after the MICs */
};

struct spnego_client *spnego_client_new(const struct ntlmssp_client_cfg *cfg)
{
	struct spnego_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ntlm = ntlmssp_client_new(cfg);
	if (!c->ntlm) {
		free(c);
		return NULL;
	}
	c->anonymous = !cfg->user || !cfg->user[0];
	return c;
}

void spnego_client_free(struct spnego_client *c)
{
	if (!c)
		return;
	ntlmssp_client_free(c->ntlm);
	free(c->mech_types);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

struct ntlmssp_client *spnego_client_ntlmssp(struct spnego_client *c)
{
	return c->ntlm;
}

static int client_init(struct spnego_client *c, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen)
{
	struct neg_init hint;
	uint8_t *neg = NULL;
	size_t neglen = 0;
	struct wr w;
	/* the server's hint, when given, must offer NTLMSSP */
	if (inlen && (parse_initial(in, inlen, &hint) < 0 || !hint.has_ntlm))
		return -EINVAL;
	wr_init(&w, 16);
	put_mech_types(&w);
	int rc = finish(&w, &c->mech_types, &c->mech_types_len);
	if (rc == 0)
		rc = ntlmssp_client_step(c->ntlm, NULL, 0, &neg, &neglen);
	if (rc == 1)
		rc = build_init(neg, neglen, false, out, outlen);
	free(neg);
	return rc < 0 ? rc : 1;
}

static int client_auth(struct spnego_client *c, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen)
{
	struct neg_resp nr;
	uint8_t *auth = NULL, mic[16];
	size_t authlen = 0;
	if (parse_resp(in, inlen, &nr) < 0 || !nr.has_token)
		return -EINVAL;
	if ((nr.state >= 0 && nr.state != NEG_ACCEPT_INCOMPLETE) ||
	    (nr.has_mech && !nr.mech_is_ntlm))
		return -EINVAL;
	int rc = ntlmssp_client_step(c->ntlm, nr.token.p, nr.token.len, &auth, &authlen);
	if (rc != 0)
		return rc < 0 ? rc : -EINVAL;
	struct ntlmssp_keys *k = ntlmssp_client_keys(c->ntlm);
	c->saved = *k;
	bool with_mic =
	    !c->anonymous && ntlmssp_sign(k, false, c->mech_types, c->mech_types_len, mic) == 0;
	rc = build_resp(-1, false, auth, authlen, with_mic ? mic : NULL, out, outlen);
	free(auth);
	return rc < 0 ? rc : 1;
}

static int client_final(struct spnego_client *c, const uint8_t *in, size_t inlen)
{
	struct neg_resp nr;
	struct ntlmssp_keys *k = ntlmssp_client_keys(c->ntlm);
	int rc = 0;
	if (inlen == 0)
		goto out; /* some servers end the exchange with an empty buffer */
	if (parse_resp(in, inlen, &nr) < 0) {
		rc = -EINVAL;
	} else if (nr.state == NEG_REJECT) {
		rc = -EACCES;
	} else if (nr.state != NEG_ACCEPT_COMPLETED) {
		rc = -EINVAL;
	} else if (nr.has_mic && !c->anonymous) {
		if (nr.mic.len != 16 ||
		    ntlmssp_check(k, true, c->mech_types, c->mech_types_len, nr.mic.p) < 0)
			rc = -EACCES;
	}
out:
	*k = c->saved;
	explicit_bzero(&c->saved, sizeof(c->saved));
	return rc;
}

int spnego_client_step(struct spnego_client *c, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen)
{
	int rc;
	*out = NULL;
	*outlen = 0;
	if (!in)
		inlen = 0;
	switch (c->state) {
	case SPC_INIT:
		rc = client_init(c, in, inlen, out, outlen);
		break;
	case SPC_SENT_INIT:
		rc = client_auth(c, in, inlen, out, outlen);
		break;
	case SPC_SENT_AUTH:
		rc = client_final(c, in, inlen);
		break;
	default:
		return -EINVAL;
	}
	c->state = rc == 1 ? c->state + 1 : rc == 0 ? SPC_DONE : SPC_FAILED;
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return rc;
}
