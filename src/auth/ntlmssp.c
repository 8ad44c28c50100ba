/* NTLMSSP (MS-NLMP): the parts both sides share (field and AV pair parsing, NTLMv2 response,
 * MIC, session security keys, message signatures) and the server side. The client side is in
 * ntlmssp_client.c. */
#include "auth/ntlmssp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ntlmssp_priv.h"
#include "lib/log.h"
#include "lib/ntime.h"
#include "lib/utf16.h"

const uint8_t ntlmssp_signature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

#define CHALLENGE_HDR_LEN 56 /* CHALLENGE_MESSAGE fixed part with Version (2.2.1.2) */
#define NEGOTIATE_MIN_LEN 32 /* NEGOTIATE_MESSAGE without Version (2.2.1.1) */

/* ---- shared helpers ---------------------------------------------------------------------- */

int ntlmssp_read_field(struct rd *r, const struct rd *msg, struct ntlmssp_field *f)
{
	uint16_t len = rd_u16(r);
	rd_skip(r, 2); /* MaxLen */
	uint32_t off = rd_u32(r);
	f->p = NULL;
	f->len = 0;
	if (!rd_ok(r))
		return -EINVAL;
	if (len == 0)
		return 0; /* the offset of an empty field means nothing */
	struct rd s = rd_sub(msg, off, len);
	if (!rd_ok(&s))
		return -EINVAL;
	f->p = s.p;
	f->len = len;
	return 0;
}

int ntlmssp_field_str(const struct ntlmssp_field *f, bool unicode, char **out)
{
	*out = NULL;
	if (unicode) {
		if (f->len % 2)
			return -EINVAL;
		if (f->len == 0) {
			*out = strdup("");
			return *out ? 0 : -ENOMEM;
		}
		return utf16le_to_utf8(f->p, f->len, out);
	}
	/* OEM strings: only 7-bit text is unambiguous without the client's code page */
	char *s = malloc(f->len + 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < f->len; i++) {
		if (f->p[i] == 0 || f->p[i] >= 0x80) {
			free(s);
			return -EINVAL;
		}
		s[i] = (char)f->p[i];
	}
	s[f->len] = 0;
	*out = s;
	return 0;
}

int ntlmssp_av_find(const uint8_t *p, size_t len, uint16_t id, struct ntlmssp_field *val)
{
	struct rd r = rd_make(p, len);
	int found = -ENOENT;
	for (;;) {
		uint16_t avid = rd_u16(&r);
		uint16_t avlen = rd_u16(&r);
		const uint8_t *v = rd_ptr(&r, avlen);
		if (!rd_ok(&r))
			return -EINVAL; /* ran off the end before MsvAvEOL */
		if (avid == MSV_AV_EOL)
			return found;
		if (avid == id && found == -ENOENT) {
			val->p = v;
			val->len = avlen;
			found = 0;
		}
	}
}

void ntlmssp_put_version(struct wr *w)
{
	/* 2.2.2.10: version 10.0 build 20348, Reserved, NTLMSSP_REVISION_W2K3 */
	static const uint8_t v[8] = {10, 0, 0x4c, 0x4f, 0, 0, 0, 0x0f};
	wr_bytes(w, v, sizeof(v));
}

int ntlmssp_v2_proof(const uint8_t owf[16], const uint8_t server_chal[8], const uint8_t *blob,
		     size_t bloblen, uint8_t proof[16])
{
	struct iovec iov[2] = {{(void *)server_chal, 8}, {(void *)blob, bloblen}};
	return crypto_hmac_md5(owf, 16, iov, 2, proof);
}

int ntlmssp_v2_verify(const uint8_t owf[16], const uint8_t server_chal[8], const uint8_t *nt,
		      size_t ntlen, uint8_t base_key[16])
{
	uint8_t proof[16];
	if (ntlen < 16 + NTLMV2_BLOB_HDR_LEN)
		return -EACCES;
	int rc = ntlmssp_v2_proof(owf, server_chal, nt + 16, ntlen - 16, proof);
	if (rc < 0)
		return rc;
	if (crypto_memcmp(proof, nt, 16) != 0)
		return -EACCES;
	struct iovec iov = {(void *)nt, 16};
	return crypto_hmac_md5(owf, 16, &iov, 1, base_key);
}

int ntlmssp_mic(const uint8_t key[16], const uint8_t *neg, size_t neglen, const uint8_t *chal,
		size_t challen, const uint8_t *auth, size_t authlen, uint8_t mic[16])
{
	static const uint8_t zero[16];
	if (authlen < NTLMSSP_AUTH_HDR_LEN)
		return -EINVAL;
	struct iovec iov[5] = {
	    {(void *)neg, neglen},
	    {(void *)chal, challen},
	    {(void *)auth, NTLMSSP_AUTH_MIC_OFF},
	    {(void *)zero, 16},
	    {(void *)(auth + NTLMSSP_AUTH_HDR_LEN), authlen - NTLMSSP_AUTH_HDR_LEN},
	};
	return crypto_hmac_md5(key, 16, iov, 5, mic);
}

/* MD5(key || magic) where magic includes its terminating NUL (3.4.5.2, 3.4.5.3). */
static int key_magic(const uint8_t *key, size_t keylen, const char *magic, uint8_t out[16])
{
	uint8_t buf[16 + 64];
	size_t mlen = strlen(magic) + 1;
	memcpy(buf, key, keylen);
	memcpy(buf + keylen, magic, mlen);
	int rc = crypto_md5(buf, keylen + mlen, out);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int ntlmssp_derive_keys(struct ntlmssp_keys *k, const uint8_t exported[16], uint32_t flags)
{
	/* SEALKEY weakening by the negotiated strength (3.4.5.3) */
	size_t seal_len = (flags & NTLMSSP_NEGOTIATE_128)  ? 16
			  : (flags & NTLMSSP_NEGOTIATE_56) ? 7
							   : 5;
	int rc = 0;
	memset(k, 0, sizeof(*k));
	k->flags = flags;
	rc |= key_magic(exported, 16, "session key to client-to-server signing key magic constant",
			k->client_sign);
	rc |= key_magic(exported, 16, "session key to server-to-client signing key magic constant",
			k->server_sign);
	rc |=
	    key_magic(exported, seal_len,
		      "session key to client-to-server sealing key magic constant", k->client_seal);
	rc |=
	    key_magic(exported, seal_len,
		      "session key to server-to-client sealing key magic constant", k->server_seal);
	if (rc)
		return -EIO;
	crypto_rc4_init(&k->client_rc4, k->client_seal, 16);
	crypto_rc4_init(&k->server_rc4, k->server_seal, 16);
	return 0;
}

/* NTLMSSP_MESSAGE_SIGNATURE with extended session security (2.2.2.9.2, 3.4.4.2). */
static int ntlm_mac(struct ntlmssp_keys *k, bool from_server, uint32_t seq, const uint8_t *msg,
		    size_t len, uint8_t sig[16])
{
	if (!(k->flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY))
		return -EOPNOTSUPP; /* the pre-ESS CRC32 scheme is not implemented */
	uint8_t seqb[4], mac[16];
	put_le32(seqb, seq);
	struct iovec iov[2] = {{seqb, 4}, {(void *)msg, len}};
	int rc = crypto_hmac_md5(from_server ? k->server_sign : k->client_sign, 16, iov, 2, mac);
	if (rc < 0)
		return rc;
	if (k->flags & NTLMSSP_NEGOTIATE_KEY_EXCH)
		crypto_rc4_crypt(from_server ? &k->server_rc4 : &k->client_rc4, mac, 8);
	put_le32(sig, 1);
	memcpy(sig + 4, mac, 8);
	put_le32(sig + 12, seq);
	return 0;
}

int ntlmssp_sign(struct ntlmssp_keys *k, bool from_server, const uint8_t *msg, size_t len,
		 uint8_t sig[16])
{
	uint32_t *seq = from_server ? &k->server_seq : &k->client_seq;
	int rc = ntlm_mac(k, from_server, *seq, msg, len, sig);
	if (rc == 0)
		(*seq)++;
	return rc;
}

int ntlmssp_check(struct ntlmssp_keys *k, bool from_server, const uint8_t *msg, size_t len,
		  const uint8_t sig[16])
{
	uint32_t *seq = from_server ? &k->server_seq : &k->client_seq;
	uint8_t want[16];
	int rc = ntlm_mac(k, from_server, *seq, msg, len, want);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -EBADMSG : rc;
	(*seq)++;
	return crypto_memcmp(want, sig, 16) ? -EBADMSG : 0;
}

/* ---- server ------------------------------------------------------------------------------ */

enum srv_state { SRV_INIT, SRV_CHALLENGED, SRV_DONE, SRV_FAILED };

struct ntlmssp_server {
	char *netbios_name, *netbios_domain, *dns_name, *dns_domain;
	ntlmssp_lookup_fn lookup;
	void *lookup_arg;
	enum srv_state state;
	bool implicit_negotiate; /* CHALLENGE sent without a NEGOTIATE (see server_negotiate) */
	uint8_t *neg, *chal;	 /* kept for the MIC */
	size_t neglen, challen;
	uint8_t server_chal[8];
	uint32_t chal_flags;
	char *user, *domain;
	bool anonymous;
	uint8_t session_key[16];
	struct ntlmssp_keys keys;
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

struct ntlmssp_server *ntlmssp_server_new(const struct ntlmssp_server_cfg *cfg)
{
	struct ntlmssp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->netbios_name = dup_or_empty(cfg->netbios_name);
	s->netbios_domain = dup_or_empty(cfg->netbios_domain);
	s->dns_name = dup_or_empty(cfg->dns_name);
	s->dns_domain = dup_or_empty(cfg->dns_domain);
	s->lookup = cfg->lookup;
	s->lookup_arg = cfg->lookup_arg;
	if (!s->netbios_name || !s->netbios_domain || !s->dns_name || !s->dns_domain) {
		ntlmssp_server_free(s);
		return NULL;
	}
	return s;
}

void ntlmssp_server_free(struct ntlmssp_server *s)
{
	if (!s)
		return;
	free(s->netbios_name);
	free(s->netbios_domain);
	free(s->dns_name);
	free(s->dns_domain);
	free(s->neg);
	free(s->chal);
	free(s->user);
	free(s->domain);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* Checks Signature and MessageType; 0 or -EINVAL. */
static int check_header(struct rd *r, uint32_t type)
{
	const uint8_t *sig = rd_ptr(r, 8);
	uint32_t t = rd_u32(r);
	if (!rd_ok(r) || memcmp(sig, ntlmssp_signature, 8) != 0 || t != type)
		return -EINVAL;
	return 0;
}

/* NEGOTIATE_MESSAGE (2.2.1.1): only the flags matter, the rest is validated and ignored. */
static int parse_negotiate(const uint8_t *in, size_t inlen, uint32_t *flags)
{
	struct rd r = rd_make(in, inlen);
	struct ntlmssp_field dom, ws;
	if (inlen < NEGOTIATE_MIN_LEN || check_header(&r, NTLMSSP_NEGOTIATE) < 0)
		return -EINVAL;
	*flags = rd_u32(&r);
	if (ntlmssp_read_field(&r, &r, &dom) < 0 || ntlmssp_read_field(&r, &r, &ws) < 0)
		return -EINVAL;
	return 0;
}

/* What the CHALLENGE offers: shoal's fixed capabilities plus the optional ones the client asked
 * for. UNICODE is always chosen: every client that matters supports it. */
static uint32_t challenge_flags(uint32_t asked)
{
	uint32_t f = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_NTLM |
		     NTLMSSP_TARGET_TYPE_SERVER | NTLMSSP_NEGOTIATE_TARGET_INFO;
	f |= asked & (NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
		      NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_56 |
		      NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL);
	return f;
}

static void put_av_str(struct wr *w, uint16_t id, const char *s)
{
	wr_u16(w, id);
	size_t lenoff = w->len;
	wr_u16(w, 0);
	long n = wr_utf16(w, s);
	if (n < 0 || n > 0xffff)
		w->err = true;
	else
		wr_set_u16(w, lenoff, (uint16_t)n);
}

static void put_target_info(const struct ntlmssp_server *s, struct wr *w)
{
	put_av_str(w, MSV_AV_NB_DOMAIN_NAME, s->netbios_domain);
	put_av_str(w, MSV_AV_NB_COMPUTER_NAME, s->netbios_name);
	if (s->dns_domain[0])
		put_av_str(w, MSV_AV_DNS_DOMAIN_NAME, s->dns_domain);
	if (s->dns_name[0])
		put_av_str(w, MSV_AV_DNS_COMPUTER_NAME, s->dns_name);
	wr_u16(w, MSV_AV_TIMESTAMP);
	wr_u16(w, 8);
	wr_u64(w, nttime_now());
	wr_u16(w, MSV_AV_EOL);
	wr_u16(w, 0);
}

/* CHALLENGE_MESSAGE (2.2.1.2): fixed part, then TargetName and TargetInfo. */
static int build_challenge(struct ntlmssp_server *s, uint8_t **out, size_t *outlen)
{
	struct wr w;
	wr_init(&w, 256);
	wr_bytes(&w, ntlmssp_signature, 8);
	wr_u32(&w, NTLMSSP_CHALLENGE);
	wr_zero(&w, 8); /* TargetNameFields, patched below */
	wr_u32(&w, s->chal_flags);
	wr_bytes(&w, s->server_chal, 8);
	wr_zero(&w, 8); /* Reserved */
	wr_zero(&w, 8); /* TargetInfoFields */
	ntlmssp_put_version(&w);
	size_t name_off = w.len;
	long name_len = wr_utf16(&w, s->netbios_name);
	size_t info_off = w.len;
	put_target_info(s, &w);
	size_t info_len = w.len - info_off;
	if (name_len < 0 || name_len > 0xffff || info_len > 0xffff)
		w.err = true;
	wr_set_u16(&w, 12, (uint16_t)name_len);
	wr_set_u16(&w, 14, (uint16_t)name_len);
	wr_set_u32(&w, 16, (uint32_t)name_off);
	wr_set_u16(&w, 40, (uint16_t)info_len);
	wr_set_u16(&w, 42, (uint16_t)info_len);
	wr_set_u32(&w, 44, (uint32_t)info_off);
	uint8_t *msg = wr_take(&w, outlen);
	if (!msg)
		return -ENOMEM;
	/* a copy stays here for the MIC, which covers the CHALLENGE as sent */
	free(s->chal);
	s->chal = malloc(*outlen);
	if (!s->chal) {
		free(msg);
		return -ENOMEM;
	}
	memcpy(s->chal, msg, *outlen);
	s->challen = *outlen;
	*out = msg;
	return 1;
}

/* Answers a NEGOTIATE with a CHALLENGE. An empty input stands for a NEGOTIATE that was never
 * sent: SPNEGO picks NTLMSSP after the client's optimistic token for another mechanism, and the
 * CHALLENGE then goes out with default flags. If the client sends its NEGOTIATE after all, the
 * exchange restarts from it (see ntlmssp_server_step). */
static int server_negotiate(struct ntlmssp_server *s, const uint8_t *in, size_t inlen,
			    uint8_t **out, size_t *outlen)
{
	uint32_t asked = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
			 NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | NTLMSSP_NEGOTIATE_VERSION |
			 NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_56 | NTLMSSP_NEGOTIATE_KEY_EXCH |
			 NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL;
	if (inlen && parse_negotiate(in, inlen, &asked) < 0)
		return -EINVAL;
	free(s->neg);
	s->neg = malloc(inlen ? inlen : 1);
	if (!s->neg)
		return -ENOMEM;
	if (inlen)
		memcpy(s->neg, in, inlen);
	s->neglen = inlen;
	s->implicit_negotiate = inlen == 0;
	s->chal_flags = challenge_flags(asked);
	if (crypto_random(s->server_chal, 8) < 0)
		return -EIO;
	int rc = build_challenge(s, out, outlen);
	if (rc == 1)
		s->state = SRV_CHALLENGED;
	return rc;
}

/* AUTHENTICATE_MESSAGE (2.2.1.3): every field range is checked against the message. */
int ntlmssp_parse_authenticate(const uint8_t *msg, size_t len, struct ntlmssp_auth_msg *am)
{
	struct rd r = rd_make(msg, len);
	memset(am, 0, sizeof(*am));
	if (check_header(&r, NTLMSSP_AUTH) < 0)
		return -EINVAL;
	struct ntlmssp_field *f[6] = {&am->lm,	 &am->nt,	   &am->domain,
				      &am->user, &am->workstation, &am->enc_key};
	size_t start = len;
	for (int i = 0; i < 6; i++) {
		if (ntlmssp_read_field(&r, &r, f[i]) < 0)
			return -EINVAL;
		if (f[i]->len && (size_t)(f[i]->p - msg) < start)
			start = (size_t)(f[i]->p - msg);
	}
	am->flags = rd_u32(&r);
	if (!rd_ok(&r) || start < r.off)
		return -EINVAL; /* a payload field overlapping the fixed part */
	am->payload_start = start;
	return 0;
}

static void set_anonymous(struct ntlmssp_server *s)
{
	s->anonymous = true;
	memset(s->session_key, 0, 16);
	memset(&s->keys, 0, sizeof(s->keys));
	free(s->user);
	s->user = strdup("");
	free(s->domain);
	s->domain = strdup("");
}

/* Tries the domain as sent, then the empty domain: clients differ in which one they hash
 * (3.3.2 leaves UserDom to the client) while the user database is keyed by user only. */
static int verify_user(struct ntlmssp_server *s, const struct ntlmssp_auth_msg *am,
		       const char *user, const char *domain, uint8_t base_key[16])
{
	uint8_t nt_hash[16], owf[16];
	if (!s->lookup || s->lookup(s->lookup_arg, user, domain, nt_hash) < 0) {
		LOG_INFO(LOG_AUTH, "ntlmssp: unknown user '%s'", user);
		return -EACCES;
	}
	int rc = -EACCES;
	const char *doms[2] = {domain, ""};
	for (int i = 0; i < (domain[0] ? 2 : 1) && rc == -EACCES; i++) {
		rc = ntlm_ntowfv2(nt_hash, user, doms[i], owf);
		if (rc == 0)
			rc = ntlmssp_v2_verify(owf, s->server_chal, am->nt.p, am->nt.len, base_key);
	}
	explicit_bzero(nt_hash, sizeof(nt_hash));
	explicit_bzero(owf, sizeof(owf));
	if (rc == -EACCES)
		LOG_INFO(LOG_AUTH, "ntlmssp: wrong password for '%s'", user);
	return rc < 0 && rc != -ENOMEM ? -EACCES : rc;
}

/* Whether the client's AV pairs (in the NTLMv2 blob) say a MIC is present; -EINVAL when they
 * are malformed. */
static int blob_has_mic(const struct ntlmssp_auth_msg *am)
{
	const uint8_t *av = am->nt.p + 16 + NTLMV2_BLOB_HDR_LEN;
	size_t avlen = am->nt.len - 16 - NTLMV2_BLOB_HDR_LEN;
	struct ntlmssp_field v;
	int rc = ntlmssp_av_find(av, avlen, MSV_AV_FLAGS, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || v.len != 4)
		return -EINVAL;
	return (get_le32(v.p) & MSV_AV_FLAG_MIC_PRESENT) != 0;
}

static int check_mic(struct ntlmssp_server *s, const struct ntlmssp_auth_msg *am, const uint8_t *in,
		     size_t inlen)
{
	uint8_t mic[16];
	if (inlen < NTLMSSP_AUTH_HDR_LEN || am->payload_start < NTLMSSP_AUTH_HDR_LEN)
		return -EINVAL; /* no room for the MIC the blob announces */
	int rc =
	    ntlmssp_mic(s->session_key, s->neg, s->neglen, s->chal, s->challen, in, inlen, mic);
	if (rc < 0)
		return rc;
	if (crypto_memcmp(mic, in + NTLMSSP_AUTH_MIC_OFF, 16) != 0) {
		LOG_INFO(LOG_AUTH, "ntlmssp: MIC mismatch for '%s'", s->user);
		return -EACCES;
	}
	return 0;
}

/* KeyExchangeKey is the SessionBaseKey for NTLMv2 (3.4.5.1); with KEY_EXCH the client sends
 * the exported key RC4-encrypted under it (3.2.5.1.2). */
static int unwrap_session_key(struct ntlmssp_server *s, const struct ntlmssp_auth_msg *am,
			      uint32_t flags, const uint8_t base_key[16])
{
	memcpy(s->session_key, base_key, 16);
	if (!(flags & NTLMSSP_NEGOTIATE_KEY_EXCH))
		return 0;
	if (am->enc_key.len != 16)
		return -EINVAL;
	memcpy(s->session_key, am->enc_key.p, 16);
	crypto_rc4(base_key, 16, s->session_key, 16);
	return 0;
}

static int server_authenticate(struct ntlmssp_server *s, const uint8_t *in, size_t inlen)
{
	struct ntlmssp_auth_msg am;
	uint8_t base_key[16];
	if (ntlmssp_parse_authenticate(in, inlen, &am) < 0)
		return -EINVAL;
	bool unicode =
	    (am.flags & NTLMSSP_NEGOTIATE_UNICODE) || !(am.flags & NTLMSSP_NEGOTIATE_OEM);
	free(s->user);
	free(s->domain);
	s->user = s->domain = NULL;
	int rc = ntlmssp_field_str(&am.user, unicode, &s->user);
	if (rc == 0)
		rc = ntlmssp_field_str(&am.domain, unicode, &s->domain);
	if (rc < 0)
		return rc;
	bool lm_empty = am.lm.len == 0 || (am.lm.len == 1 && am.lm.p[0] == 0);
	if (!s->user[0] && am.nt.len == 0 && lm_empty) {
		set_anonymous(s);
		return s->user && s->domain ? 0 : -ENOMEM;
	}
	if (!s->user[0] || am.nt.len == 0 || am.nt.len == 24) {
		LOG_INFO(LOG_AUTH, "ntlmssp: LM/NTLMv1 response refused for '%s'", s->user);
		return -EACCES;
	}
	if (am.nt.len < 16 + NTLMV2_BLOB_HDR_LEN)
		return -EINVAL;
	int has_mic = blob_has_mic(&am);
	if (has_mic < 0)
		return has_mic;
	rc = verify_user(s, &am, s->user, s->domain, base_key);
	uint32_t flags = s->chal_flags & am.flags;
	if (rc == 0)
		rc = unwrap_session_key(s, &am, flags, base_key);
	explicit_bzero(base_key, sizeof(base_key));
	if (rc == 0 && has_mic)
		rc = check_mic(s, &am, in, inlen);
	if (rc == 0)
		rc = ntlmssp_derive_keys(&s->keys, s->session_key, flags);
	return rc;
}

int ntlmssp_server_step(struct ntlmssp_server *s, const uint8_t *in, size_t inlen, uint8_t **out,
			size_t *outlen)
{
	int rc;
	*out = NULL;
	*outlen = 0;
	if (!in)
		inlen = 0;
	switch (s->state) {
	case SRV_INIT:
		rc = server_negotiate(s, in, inlen, out, outlen);
		break;
	case SRV_CHALLENGED:
		if (s->implicit_negotiate && inlen >= 12 && get_le32(in + 8) == NTLMSSP_NEGOTIATE) {
			rc = server_negotiate(s, in, inlen, out, outlen);
			break;
		}
		rc = server_authenticate(s, in, inlen);
		if (rc == 0) {
			s->state = SRV_DONE;
			return 0;
		}
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0) {
		s->state = SRV_FAILED;
		s->anonymous = false;
		explicit_bzero(s->session_key, 16);
		explicit_bzero(&s->keys, sizeof(s->keys));
	}
	return rc;
}

const char *ntlmssp_server_user(const struct ntlmssp_server *s)
{
	return s->state == SRV_DONE && s->user ? s->user : "";
}

const char *ntlmssp_server_domain(const struct ntlmssp_server *s)
{
	return s->state == SRV_DONE && s->domain ? s->domain : "";
}

bool ntlmssp_server_anonymous(const struct ntlmssp_server *s)
{
	return s->state == SRV_DONE && s->anonymous;
}

const uint8_t *ntlmssp_server_session_key(const struct ntlmssp_server *s)
{
	return s->session_key;
}

struct ntlmssp_keys *ntlmssp_server_keys(struct ntlmssp_server *s)
{
	return &s->keys;
}
