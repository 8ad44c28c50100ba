/* NTLMSSP client side (MS-NLMP 3.1.5): NEGOTIATE, then an AUTHENTICATE with an NTLMv2 response
 * built on the server's TargetInfo, MsvAvFlags announcing a MIC, the MIC, and KEY_EXCH with a
 * random session key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ntlmssp.h"
#include "auth/ntlmssp_priv.h"
#include "lib/ntime.h"
#include "lib/utf16.h"

#define CLIENT_FLAGS                                                                               \
	(NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_OEM | NTLMSSP_REQUEST_TARGET |              \
	 NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL | NTLMSSP_NEGOTIATE_NTLM |                \
	 NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |              \
	 NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_KEY_EXCH |          \
	 NTLMSSP_NEGOTIATE_56)

enum cli_state { CLI_INIT, CLI_NEGOTIATED, CLI_DONE, CLI_FAILED };

struct ntlmssp_client {
	char *user, *domain, *workstation;
	uint8_t nt_hash[16];
	enum cli_state state;
	uint8_t *neg;
	size_t neglen;
	uint8_t session_key[16];
	struct ntlmssp_keys keys;
};

/* What the client learns from a CHALLENGE_MESSAGE (2.2.1.2). */
struct chal_info {
	uint32_t flags;
	uint8_t server_chal[8];
	struct ntlmssp_field target_info;
};

struct ntlmssp_client *ntlmssp_client_new(const struct ntlmssp_client_cfg *cfg)
{
	struct ntlmssp_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->user = strdup(cfg->user ? cfg->user : "");
	c->domain = strdup(cfg->domain ? cfg->domain : "");
	c->workstation = strdup(cfg->workstation ? cfg->workstation : "");
	if (!c->user || !c->domain || !c->workstation)
		goto fail;
	if (cfg->nt_hash)
		memcpy(c->nt_hash, cfg->nt_hash, 16);
	else if (c->user[0] && ntlm_nt_hash(cfg->password ? cfg->password : "", c->nt_hash) < 0)
		goto fail;
	return c;
fail:
	ntlmssp_client_free(c);
	return NULL;
}

void ntlmssp_client_free(struct ntlmssp_client *c)
{
	if (!c)
		return;
	free(c->user);
	free(c->domain);
	free(c->workstation);
	free(c->neg);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* NEGOTIATE_MESSAGE (2.2.1.1) without domain or workstation. */
static int build_negotiate(struct ntlmssp_client *c, uint8_t **out, size_t *outlen)
{
	struct wr w;
	wr_init(&w, 40);
	wr_bytes(&w, ntlmssp_signature, 8);
	wr_u32(&w, NTLMSSP_NEGOTIATE);
	wr_u32(&w, CLIENT_FLAGS);
	wr_zero(&w, 16); /* DomainNameFields, WorkstationFields: empty */
	ntlmssp_put_version(&w);
	uint8_t *msg = wr_take(&w, outlen);
	if (!msg)
		return -ENOMEM;
	c->neg = malloc(*outlen);
	if (!c->neg) {
		free(msg);
		return -ENOMEM;
	}
	memcpy(c->neg, msg, *outlen);
	c->neglen = *outlen;
	*out = msg;
	return 1;
}

static int parse_challenge(const uint8_t *in, size_t inlen, struct chal_info *ci)
{
	struct rd r = rd_make(in, inlen);
	struct ntlmssp_field name, dummy;
	const uint8_t *sig = rd_ptr(&r, 8);
	if (!sig || memcmp(sig, ntlmssp_signature, 8) != 0 || rd_u32(&r) != NTLMSSP_CHALLENGE)
		return -EINVAL;
	if (ntlmssp_read_field(&r, &r, &name) < 0)
		return -EINVAL;
	ci->flags = rd_u32(&r);
	rd_bytes(&r, ci->server_chal, 8);
	rd_skip(&r, 8); /* Reserved */
	if (ntlmssp_read_field(&r, &r, &ci->target_info) < 0)
		return -EINVAL;
	/* NTLMv2 needs the TargetInfo, and it must be a well-formed AV_PAIR list */
	if (!ci->target_info.len)
		return -EINVAL;
	if (ntlmssp_av_find(ci->target_info.p, ci->target_info.len, MSV_AV_EOL, &dummy) != -ENOENT)
		return -EINVAL;
	return 0;
}

/* NTLMv2_CLIENT_CHALLENGE (2.2.2.7): the server's AV pairs with MsvAvFlags = MIC present added
 * (or or'ed into an existing one), then Z(4). *ts_from_server: the server's timestamp was used. */
static void build_blob(struct wr *w, const struct chal_info *ci, const uint8_t cchal[8],
		       bool *ts_from_server)
{
	struct ntlmssp_field ts;
	uint64_t now = nttime_now();
	*ts_from_server = false;
	if (ntlmssp_av_find(ci->target_info.p, ci->target_info.len, MSV_AV_TIMESTAMP, &ts) == 0 &&
	    ts.len == 8) {
		now = get_le64(ts.p);
		*ts_from_server = true;
	}
	wr_u8(w, 1); /* RespType */
	wr_u8(w, 1); /* HiRespType */
	wr_zero(w, 6);
	wr_u64(w, now);
	wr_bytes(w, cchal, 8);
	wr_zero(w, 4);
	uint32_t avflags = MSV_AV_FLAG_MIC_PRESENT;
	struct rd r = rd_make(ci->target_info.p, ci->target_info.len);
	for (;;) {
		uint16_t id = rd_u16(&r), len = rd_u16(&r);
		const uint8_t *v = rd_ptr(&r, len);
		if (!rd_ok(&r) || id == MSV_AV_EOL)
			break;
		if (id == MSV_AV_FLAGS && len == 4) {
			avflags |= get_le32(v);
			continue;
		}
		wr_u16(w, id);
		wr_u16(w, len);
		wr_bytes(w, v, len);
	}
	wr_u16(w, MSV_AV_FLAGS);
	wr_u16(w, 4);
	wr_u32(w, avflags);
	wr_u16(w, MSV_AV_EOL);
	wr_u16(w, 0);
	wr_zero(w, 4);
}

/* The LM and NT responses and the SessionBaseKey (3.3.2). lm is 24 bytes. */
static int compute_responses(struct ntlmssp_client *c, const struct chal_info *ci, struct wr *nt,
			     uint8_t lm[24], uint8_t base_key[16])
{
	uint8_t owf[16], cchal[8], proof[16];
	bool ts_from_server;
	int rc = crypto_random(cchal, 8);
	if (rc == 0)
		rc = ntlm_ntowfv2(c->nt_hash, c->user, c->domain, owf);
	if (rc < 0)
		return rc;
	wr_zero(nt, 16); /* NTProofStr, filled in below */
	build_blob(nt, ci, cchal, &ts_from_server);
	if (!wr_ok(nt))
		return -ENOMEM;
	rc = ntlmssp_v2_proof(owf, ci->server_chal, nt->p + 16, nt->len - 16, proof);
	if (rc == 0) {
		memcpy(nt->p, proof, 16);
		struct iovec iov = {proof, 16};
		rc = crypto_hmac_md5(owf, 16, &iov, 1, base_key);
	}
	/* 3.1.5.1.2: with a server timestamp the LMv2 response is replaced by Z(24) */
	memset(lm, 0, 24);
	if (rc == 0 && !ts_from_server) {
		struct iovec iov[2] = {{(void *)ci->server_chal, 8}, {cchal, 8}};
		rc = crypto_hmac_md5(owf, 16, iov, 2, lm);
		memcpy(lm + 16, cchal, 8);
	}
	explicit_bzero(owf, sizeof(owf));
	return rc;
}

/* Appends one payload field and patches its (Len, MaxLen, BufferOffset) at hdr_off. */
static void put_field(struct wr *w, size_t hdr_off, const void *p, size_t n)
{
	if (n > 0xffff)
		w->err = true;
	wr_set_u16(w, hdr_off, (uint16_t)n);
	wr_set_u16(w, hdr_off + 2, (uint16_t)n);
	wr_set_u32(w, hdr_off + 4, (uint32_t)w->len);
	wr_bytes(w, p, n);
}

static void put_field_str(struct wr *w, size_t hdr_off, const char *s)
{
	size_t start = w->len;
	long n = wr_utf16(w, s);
	if (n < 0 || n > 0xffff) {
		w->err = true;
		return;
	}
	wr_set_u16(w, hdr_off, (uint16_t)n);
	wr_set_u16(w, hdr_off + 2, (uint16_t)n);
	wr_set_u32(w, hdr_off + 4, (uint32_t)start);
}

/* The KEY_EXCH step (3.1.5.1.2): a random exported key sent RC4-encrypted under the
 * KeyExchangeKey (the SessionBaseKey for NTLMv2). */
static int key_exchange(struct ntlmssp_client *c, uint32_t flags, const uint8_t base_key[16],
			uint8_t enc[16])
{
	if (!(flags & NTLMSSP_NEGOTIATE_KEY_EXCH)) {
		memcpy(c->session_key, base_key, 16);
		return 0;
	}
	int rc = crypto_random(c->session_key, 16);
	memcpy(enc, c->session_key, 16);
	crypto_rc4(base_key, 16, enc, 16);
	return rc;
}

static int build_authenticate(struct ntlmssp_client *c, const uint8_t *in, size_t inlen,
			      uint8_t **out, size_t *outlen)
{
	struct chal_info ci;
	struct wr nt, w;
	uint8_t lm[24], base_key[16], enc[16], mic[16];
	bool anon = !c->user[0];
	if (parse_challenge(in, inlen, &ci) < 0)
		return -EINVAL;
	uint32_t flags = ci.flags & CLIENT_FLAGS;
	if (anon)
		flags = (flags & ~NTLMSSP_NEGOTIATE_KEY_EXCH) | NTLMSSP_NEGOTIATE_ANONYMOUS;
	wr_init(&nt, 256);
	int rc = anon ? 0 : compute_responses(c, &ci, &nt, lm, base_key);
	if (rc == 0 && !anon)
		rc = key_exchange(c, flags, base_key, enc);
	wr_init(&w, 512);
	wr_bytes(&w, ntlmssp_signature, 8);
	wr_u32(&w, NTLMSSP_AUTH);
	wr_zero(&w, 48); /* six field triples, patched below */
	wr_u32(&w, flags);
	ntlmssp_put_version(&w);
	wr_zero(&w, 16); /* MIC */
	put_field_str(&w, 28, c->domain);
	put_field_str(&w, 36, c->user);
	put_field_str(&w, 44, c->workstation);
	put_field(&w, 12, anon ? (const uint8_t *)"" : lm, anon ? 1 : 24);
	put_field(&w, 20, nt.p, anon ? 0 : nt.len);
	bool kx = !anon && (flags & NTLMSSP_NEGOTIATE_KEY_EXCH);
	put_field(&w, 52, enc, kx ? 16 : 0);
	wr_free(&nt);
	if (rc == 0 && !wr_ok(&w))
		rc = -ENOMEM;
	if (rc == 0 && !anon)
		rc = ntlmssp_mic(c->session_key, c->neg, c->neglen, in, inlen, w.p, w.len, mic);
	if (rc == 0 && !anon)
		memcpy(w.p + NTLMSSP_AUTH_MIC_OFF, mic, 16);
	if (rc == 0 && !anon)
		rc = ntlmssp_derive_keys(&c->keys, c->session_key, flags);
	explicit_bzero(base_key, sizeof(base_key));
	if (rc < 0) {
		wr_free(&w);
		return rc;
	}
	*out = wr_take(&w, outlen);
	return *out ? 0 : -ENOMEM;
}

int ntlmssp_client_step(struct ntlmssp_client *c, const uint8_t *in, size_t inlen, uint8_t **out,
			size_t *outlen)
{
	int rc;
	*out = NULL;
	*outlen = 0;
	switch (c->state) {
	case CLI_INIT:
		rc = build_negotiate(c, out, outlen);
		if (rc == 1)
			c->state = CLI_NEGOTIATED;
		break;
	case CLI_NEGOTIATED:
		rc = in ? build_authenticate(c, in, inlen, out, outlen) : -EINVAL;
		if (rc == 0)
			c->state = CLI_DONE;
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0) {
		c->state = CLI_FAILED;
		explicit_bzero(c->session_key, 16);
	}
	return rc;
}

const uint8_t *ntlmssp_client_session_key(const struct ntlmssp_client *c)
{
	return c->session_key;
}

struct ntlmssp_keys *ntlmssp_client_keys(struct ntlmssp_client *c)
{
	return &c->keys;
}
