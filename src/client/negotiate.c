/* NEGOTIATE (MS-SMB2 2.2.3, 2.2.4) with the 3.1.1 negotiate contexts: preauth integrity
 * (SHA-512), encryption (the cipher order of the options) and signing capabilities. */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"

#define CTX_PREAUTH 0x0001
#define CTX_ENCRYPTION 0x0002
#define CTX_SIGNING 0x0008
#define HASH_SHA512 0x0001

static const uint16_t all_dialects[] = {SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
					SMB2_DIALECT_302, SMB2_DIALECT_311};
static const uint16_t default_ciphers[] = {SMBC_CIPHER_AES256_GCM, SMBC_CIPHER_AES128_GCM,
					   SMBC_CIPHER_AES256_CCM, SMBC_CIPHER_AES128_CCM};
static const uint16_t default_sign_algs[] = {SMB2_SIGN_AES_GMAC, SMB2_SIGN_AES_CMAC,
					     SMB2_SIGN_HMAC_SHA256};

/* The signing algorithms offered, in order; returns the count. */
static int offered_sign_algs(const struct smbc_conn *c, uint16_t out[3])
{
	int n = 0;
	for (int i = 0; i < c->o.nsign_algs && i < 3; i++)
		if (c->o.sign_algs[i] <= SMB2_SIGN_AES_GMAC)
			out[n++] = c->o.sign_algs[i];
	if (!n) {
		memcpy(out, default_sign_algs, sizeof(default_sign_algs));
		n = 3;
	}
	return n;
}

static bool wants_encryption(const struct smbc_conn *c)
{
	return c->o.encrypt_enabled || c->o.encrypt_required;
}

/* The ciphers offered, in order; returns the count. */
static int offered_ciphers(const struct smbc_conn *c, uint16_t out[4])
{
	int n = 0;
	for (int i = 0; i < 4; i++)
		if (c->o.ciphers[i] >= 1 && c->o.ciphers[i] <= 4)
			out[n++] = c->o.ciphers[i];
	if (!n) {
		memcpy(out, default_ciphers, sizeof(default_ciphers));
		n = 4;
	}
	return n;
}

static void put_ctx(struct wr *w, uint16_t type, const struct wr *data)
{
	wr_align(w, 8);
	wr_u16(w, type);
	wr_u16(w, (uint16_t)data->len);
	wr_u32(w, 0);
	wr_bytes(w, data->p, data->len);
}

static void put_contexts(const struct smbc_conn *c, struct wr *w, const uint8_t salt[32],
			 uint16_t *count)
{
	struct wr d;
	wr_init(&d, 64);
	wr_u16(&d, 1);
	wr_u16(&d, 32);
	wr_u16(&d, HASH_SHA512);
	wr_bytes(&d, salt, 32);
	put_ctx(w, CTX_PREAUTH, &d);
	(*count)++;
	if (wants_encryption(c)) {
		uint16_t ciph[4];
		int n = offered_ciphers(c, ciph);
		d.len = 0;
		wr_u16(&d, (uint16_t)n);
		for (int i = 0; i < n; i++)
			wr_u16(&d, ciph[i]);
		put_ctx(w, CTX_ENCRYPTION, &d);
		(*count)++;
	}
	uint16_t algs[3];
	int nalg = offered_sign_algs(c, algs);
	d.len = 0;
	wr_u16(&d, (uint16_t)nalg);
	for (int i = 0; i < nalg; i++)
		wr_u16(&d, algs[i]);
	put_ctx(w, CTX_SIGNING, &d);
	(*count)++;
	if (!wr_ok(&d))
		w->err = true;
	wr_free(&d);
}

/* Body of the request (after the header); offsets inside are from the header's start. */
size_t smbc_negotiate_encode(const struct smbc_conn *c, struct wr *w, const uint8_t salt[32])
{
	uint16_t lo = c->o.min_dialect ? c->o.min_dialect : SMB2_DIALECT_202;
	uint16_t hi = c->o.max_dialect ? c->o.max_dialect : SMB2_DIALECT_311;
	uint16_t d[5];
	uint16_t nd = 0;
	for (int i = 0; i < 5; i++)
		if (all_dialects[i] >= lo && all_dialects[i] <= hi)
			d[nd++] = all_dialects[i];
	uint32_t caps = SMB2_GLOBAL_CAP_LARGE_MTU;
	if (hi >= SMB2_DIALECT_300 && wants_encryption(c))
		caps |= SMB2_GLOBAL_CAP_ENCRYPTION;
	wr_u16(w, 36);
	wr_u16(w, nd);
	wr_u16(w, c->o.signing_required ? SMB2_NEGOTIATE_SIGNING_REQUIRED
					: SMB2_NEGOTIATE_SIGNING_ENABLED);
	wr_u16(w, 0);
	wr_u32(w, caps);
	wr_bytes(w, c->client_guid, 16);
	size_t ctx_off_at = w->len;
	wr_u32(w, 0); /* NegotiateContextOffset, or ClientStartTime when there are none */
	wr_u16(w, 0);
	wr_u16(w, 0);
	for (int i = 0; i < nd; i++)
		wr_u16(w, d[i]);
	if (hi >= SMB2_DIALECT_311) {
		uint16_t count = 0;
		wr_align(w, 8);
		wr_set_u32(w, ctx_off_at, (uint32_t)(SMB2_HDR_LEN + w->len));
		put_contexts(c, w, salt, &count);
		wr_set_u16(w, ctx_off_at + 4, count);
	}
	return nd;
}

static bool offered_dialect(const struct smbc_conn *c, uint16_t d)
{
	uint16_t lo = c->o.min_dialect ? c->o.min_dialect : SMB2_DIALECT_202;
	uint16_t hi = c->o.max_dialect ? c->o.max_dialect : SMB2_DIALECT_311;
	for (int i = 0; i < 5; i++)
		if (all_dialects[i] == d)
			return d >= lo && d <= hi;
	return false;
}

/* One negotiate context of the reply (MS-SMB2 2.2.4.1). */
static uint32_t parse_ctx(struct smbc_conn *c, uint16_t type, struct rd *d, bool *have_preauth)
{
	uint16_t n, v;
	switch (type) {
	case CTX_PREAUTH:
		n = rd_u16(d);
		rd_u16(d); /* salt length; the salt itself does not matter to us */
		v = rd_u16(d);
		if (!rd_ok(d) || n != 1 || v != HASH_SHA512)
			return STATUS_INVALID_NETWORK_RESPONSE;
		*have_preauth = true;
		return STATUS_SUCCESS;
	case CTX_ENCRYPTION: {
		n = rd_u16(d);
		v = rd_u16(d);
		uint16_t ciph[4];
		int k = offered_ciphers(c, ciph);
		bool ok = v == 0;
		for (int i = 0; i < k; i++)
			ok = ok || ciph[i] == v;
		if (!rd_ok(d) || n != 1 || !ok || !wants_encryption(c))
			return STATUS_INVALID_NETWORK_RESPONSE;
		c->cipher = v;
		return STATUS_SUCCESS;
	}
	case CTX_SIGNING: {
		n = rd_u16(d);
		v = rd_u16(d);
		uint16_t algs[3];
		int k = offered_sign_algs(c, algs);
		bool ok = false;
		for (int i = 0; i < k; i++)
			ok = ok || algs[i] == v;
		if (!rd_ok(d) || n != 1 || !ok)
			return STATUS_INVALID_NETWORK_RESPONSE;
		c->sign_alg = (enum smb2_sign_alg)v;
		return STATUS_SUCCESS;
	}
	default:
		return STATUS_SUCCESS; /* unknown contexts are ignored (MS-SMB2 3.2.5.2) */
	}
}

static uint32_t parse_contexts(struct smbc_conn *c, const struct rd *msg, uint32_t off, uint16_t n)
{
	bool have_preauth = false;
	struct rd r = rd_sub(msg, off, msg->len >= off ? msg->len - off : 0);
	for (uint16_t i = 0; i < n; i++) {
		if (i)
			rd_skip(&r, (8 - r.off % 8) % 8);
		uint16_t type = rd_u16(&r);
		uint16_t len = rd_u16(&r);
		rd_skip(&r, 4);
		const uint8_t *p = rd_ptr(&r, len);
		if (!rd_ok(&r))
			return STATUS_INVALID_NETWORK_RESPONSE;
		struct rd d = rd_make(p, len);
		uint32_t st = parse_ctx(c, type, &d, &have_preauth);
		if (st)
			return st;
	}
	return have_preauth ? STATUS_SUCCESS : STATUS_INVALID_NETWORK_RESPONSE;
}

/* Fills the connection from the reply (msg = header + body). */
uint32_t smbc_negotiate_parse(struct smbc_conn *c, const uint8_t *msg, size_t len)
{
	struct rd m = rd_make(msg, len);
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	c->server_sec_mode = rd_u16(&r);
	uint16_t dialect = rd_u16(&r);
	uint16_t nctx = rd_u16(&r);
	rd_bytes(&r, c->server_guid, 16);
	c->server_caps = rd_u32(&r);
	c->max_transact = rd_u32(&r);
	c->max_read = rd_u32(&r);
	c->max_write = rd_u32(&r);
	rd_skip(&r, 16);
	uint16_t boff = rd_u16(&r);
	uint16_t blen = rd_u16(&r);
	uint32_t ctx_off = rd_u32(&r);
	struct rd blob = rd_sub(&m, boff, blen);
	if (!rd_ok(&r) || ss != 65 || !rd_ok(&blob) || !offered_dialect(c, dialect))
		return STATUS_INVALID_NETWORK_RESPONSE;
	c->dialect = dialect;
	c->cipher = 0;
	c->sign_alg = dialect >= SMB2_DIALECT_300 ? SMB2_SIGN_AES_CMAC : SMB2_SIGN_HMAC_SHA256;
	if (dialect == SMB2_DIALECT_311) {
		uint32_t st = parse_contexts(c, &m, ctx_off, nctx);
		if (st)
			return st;
	} else if (dialect >= SMB2_DIALECT_300 && (c->server_caps & SMB2_GLOBAL_CAP_ENCRYPTION) &&
		   wants_encryption(c)) {
		uint16_t ciph[4];
		int k = offered_ciphers(c, ciph);
		for (int i = 0; i < k; i++)
			if (ciph[i] == SMBC_CIPHER_AES128_CCM)
				c->cipher = SMBC_CIPHER_AES128_CCM; /* the only 3.0 cipher */
	}
	if (!(c->server_caps & SMB2_GLOBAL_CAP_LARGE_MTU) || dialect == SMB2_DIALECT_202) {
		c->max_read = c->max_read > 65536 ? 65536 : c->max_read;
		c->max_write = c->max_write > 65536 ? 65536 : c->max_write;
		c->max_transact = c->max_transact > 65536 ? 65536 : c->max_transact;
	}
	if (c->max_read < 4096 || c->max_write < 4096 || c->max_transact < 4096)
		return STATUS_INVALID_NETWORK_RESPONSE;
	free(c->neg_blob);
	c->neg_blob = NULL;
	c->neg_bloblen = blen;
	if (blen) {
		c->neg_blob = malloc(blen);
		if (!c->neg_blob)
			return STATUS_NO_MEMORY;
		rd_bytes(&blob, c->neg_blob, blen);
	}
	return STATUS_SUCCESS;
}

uint32_t smbc_negotiate(struct smbc_conn *c)
{
	uint8_t salt[32];
	struct wr w;
	if (crypto_random(salt, sizeof(salt)))
		return STATUS_INTERNAL_ERROR;
	wr_init(&w, 256);
	if (!smbc_negotiate_encode(c, &w, salt) || !wr_ok(&w)) {
		wr_free(&w);
		smbc_seterr(c, "no dialect between the minimum and MaxSmb2DialectVersion");
		return STATUS_INVALID_PARAMETER;
	}
	struct smbc_reply rep;
	uint32_t st =
	    smbc_call(c, NULL, SMB2_NEGOTIATE, w.p, w.len, NULL, 0, 0, SMBC_SUB_PREAUTH, &rep);
	wr_free(&w);
	if (!st)
		st = smbc_negotiate_parse(c, rep.buf, rep.len);
	if (!st && c->dialect == SMB2_DIALECT_311) {
		struct iovec iov = {rep.buf, rep.len};
		if (crypto_preauth_update(c->preauth, &iov, 1))
			st = STATUS_INTERNAL_ERROR;
	}
	if (st && !c->err[0])
		smbc_seterr(c, "negotiate failed");
	smbc_reply_free(&rep);
	return st;
}
