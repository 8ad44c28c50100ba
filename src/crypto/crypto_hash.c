/* Hashes, MACs, RC4 and randomness over OpenSSL 3 (EVP_Digest, EVP_MAC); MD4 (RFC 1320) and RC4
 * are written here because Debian's OpenSSL keeps them in the legacy provider, not loaded by
 * default. */
#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <string.h>

#include "crypto/crypto_priv.h"

bool crypto_iov_ok(const struct iovec *iov, int iovcnt)
{
	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL))
		return false;
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_base == NULL && iov[i].iov_len != 0)
			return false;
	return true;
}

/* ---- MD4 (RFC 1320) ---- */

static uint32_t rotl32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* RFC 1320 3.4: three rounds of 16 steps. v[] holds the words in the roles (a, b, c, d) of the
 * next step; after a step the roles rotate, so after every 4 steps v is (A, B, C, D) again. */
static void md4_block(uint32_t h[4], const uint8_t p[64])
{
	static const uint8_t order[3][16] = {
	    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	    {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15},
	    {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15},
	};
	static const uint8_t shift[3][4] = {{3, 7, 11, 19}, {3, 5, 9, 13}, {3, 9, 11, 15}};
	static const uint32_t add[3] = {0, 0x5A827999, 0x6ED9EBA1};
	uint32_t x[16], v[4] = {h[0], h[1], h[2], h[3]};

	for (int i = 0; i < 16; i++)
		x[i] = le32(p + 4 * i);
	for (int i = 0; i < 48; i++) {
		int r = i / 16;
		uint32_t a = v[0], b = v[1], c = v[2], d = v[3], f;

		if (r == 0)
			f = (b & c) | (~b & d);
		else if (r == 1)
			f = (b & c) | (b & d) | (c & d);
		else
			f = b ^ c ^ d;
		a = rotl32(a + f + x[order[r][i % 16]] + add[r], shift[r][i % 4]);
		v[0] = d;
		v[1] = a;
		v[2] = b;
		v[3] = c;
	}
	for (int i = 0; i < 4; i++)
		h[i] += v[i];
}

void crypto_md4_init(struct crypto_md4_ctx *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->len = 0;
}

void crypto_md4_update(struct crypto_md4_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t used = c->len % 64;

	c->len += len;
	if (used) {
		size_t n = 64 - used < len ? 64 - used : len;
		memcpy(c->buf + used, p, n);
		p += n;
		len -= n;
		if (used + n < 64)
			return;
		md4_block(c->h, c->buf);
	}
	for (; len >= 64; p += 64, len -= 64)
		md4_block(c->h, p);
	if (len)
		memcpy(c->buf, p, len);
}

void crypto_md4_final(struct crypto_md4_ctx *c, uint8_t out[16])
{
	static const uint8_t pad[64] = {0x80};
	uint64_t bits = c->len * 8;
	uint8_t lenle[8];
	size_t used = c->len % 64;

	for (int i = 0; i < 8; i++)
		lenle[i] = (uint8_t)(bits >> (8 * i));
	crypto_md4_update(c, pad, used < 56 ? 56 - used : 120 - used);
	crypto_md4_update(c, lenle, 8);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(c->h[i] >> (8 * j));
	OPENSSL_cleanse(c, sizeof(*c));
}

int crypto_md4(const void *data, size_t len, uint8_t out[16])
{
	struct crypto_md4_ctx c;

	if ((data == NULL && len) || out == NULL)
		return -EINVAL;
	crypto_md4_init(&c);
	crypto_md4_update(&c, data, len);
	crypto_md4_final(&c, out);
	return 0;
}

/* ---- digests ---- */

static int digest_iov(const EVP_MD *md, const struct iovec *pre, const struct iovec *iov,
		      int iovcnt, uint8_t *out)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (!crypto_iov_ok(iov, iovcnt) || out == NULL)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
	if (ok && pre != NULL)
		ok = EVP_DigestUpdate(ctx, pre->iov_base, pre->iov_len) == 1;
	for (int i = 0; ok && i < iovcnt; i++)
		ok = EVP_DigestUpdate(ctx, iov[i].iov_base, iov[i].iov_len) == 1;
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

int crypto_md5(const void *data, size_t len, uint8_t out[16])
{
	struct iovec iov = {(void *)data, len};

	return digest_iov(EVP_md5(), NULL, &iov, 1, out);
}

int crypto_sha512(const struct iovec *iov, int iovcnt, uint8_t out[64])
{
	return digest_iov(EVP_sha512(), NULL, iov, iovcnt, out);
}

int crypto_preauth_update(uint8_t hash[64], const struct iovec *iov, int iovcnt)
{
	uint8_t prev[64];
	struct iovec pre = {prev, sizeof(prev)};

	if (hash == NULL)
		return -EINVAL;
	memcpy(prev, hash, sizeof(prev));
	return digest_iov(EVP_sha512(), &pre, iov, iovcnt, hash);
}

/* ---- MACs ---- */

int crypto_mac_begin(EVP_MAC_CTX **out, enum crypto_mac_kind kind, const void *key, size_t keylen,
		     const void *iv, size_t ivlen)
{
	/* HMAC with an empty key must still be given a non-NULL key pointer to be keyed at all */
	static const uint8_t empty_key[1];
	const char *mac = "HMAC", *pname = OSSL_MAC_PARAM_DIGEST, *pval;
	OSSL_PARAM params[3];
	EVP_MAC *m;
	int n = 0;

	*out = NULL;
	switch (kind) {
	case CRYPTO_MAC_HMAC_MD5:
		pval = "MD5";
		break;
	case CRYPTO_MAC_HMAC_SHA256:
		pval = "SHA256";
		break;
	case CRYPTO_MAC_AES128_CMAC:
		mac = "CMAC", pname = OSSL_MAC_PARAM_CIPHER, pval = "AES-128-CBC";
		break;
	case CRYPTO_MAC_AES128_GMAC:
		mac = "GMAC", pname = OSSL_MAC_PARAM_CIPHER, pval = "AES-128-GCM";
		break;
	default:
		return -EINVAL;
	}
	if (key == NULL && keylen)
		return -EINVAL;
	params[n++] = OSSL_PARAM_construct_utf8_string(pname, (char *)pval, 0);
	if (iv != NULL)
		params[n++] =
		    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_IV, (void *)iv, ivlen);
	params[n] = OSSL_PARAM_construct_end();

	m = EVP_MAC_fetch(NULL, mac, NULL);
	if (m == NULL)
		return -EIO;
	*out = EVP_MAC_CTX_new(m);
	EVP_MAC_free(m); /* the context holds its own reference */
	if (*out == NULL)
		return -ENOMEM;
	if (EVP_MAC_init(*out, key ? key : empty_key, keylen, params) != 1) {
		EVP_MAC_CTX_free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

int crypto_mac_update(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_MAC_update(ctx, data, len) == 1 ? 0 : -EIO;
}

int crypto_mac_update_iov(EVP_MAC_CTX *ctx, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		int rc = crypto_mac_update(ctx, iov[i].iov_base, iov[i].iov_len);
		if (rc)
			return rc;
	}
	return 0;
}

int crypto_mac_end(EVP_MAC_CTX *ctx, uint8_t *out, size_t outlen)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	size_t got = 0;
	int rc = -EIO;

	if (EVP_MAC_final(ctx, full, &got, sizeof(full)) == 1 && got >= outlen) {
		memcpy(out, full, outlen);
		rc = 0;
	}
	OPENSSL_cleanse(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	return rc;
}

static int mac_iov(enum crypto_mac_kind kind, const void *key, size_t keylen,
		   const struct iovec *iov, int iovcnt, uint8_t *out, size_t outlen)
{
	EVP_MAC_CTX *ctx;
	int rc;

	if (!crypto_iov_ok(iov, iovcnt) || out == NULL)
		return -EINVAL;
	rc = crypto_mac_begin(&ctx, kind, key, keylen, NULL, 0);
	if (rc)
		return rc;
	rc = crypto_mac_update_iov(ctx, iov, iovcnt);
	if (rc) {
		EVP_MAC_CTX_free(ctx);
		return rc;
	}
	return crypto_mac_end(ctx, out, outlen);
}

int crypto_hmac_md5(const void *key, size_t keylen, const struct iovec *iov, int iovcnt,
		    uint8_t out[16])
{
	return mac_iov(CRYPTO_MAC_HMAC_MD5, key, keylen, iov, iovcnt, out, 16);
}

int crypto_hmac_sha256(const void *key, size_t keylen, const struct iovec *iov, int iovcnt,
		       uint8_t out[32])
{
	return mac_iov(CRYPTO_MAC_HMAC_SHA256, key, keylen, iov, iovcnt, out, 32);
}

/* ---- RC4 ---- */

void crypto_rc4_init(struct crypto_rc4 *st, const uint8_t *key, size_t keylen)
{
	uint8_t j = 0;

	for (int i = 0; i < 256; i++)
		st->s[i] = (uint8_t)i;
	for (int i = 0; keylen && i < 256; i++) {
		uint8_t t = st->s[i];
		j = (uint8_t)(j + t + key[i % keylen]);
		st->s[i] = st->s[j];
		st->s[j] = t;
	}
	st->i = st->j = 0;
}

void crypto_rc4_crypt(struct crypto_rc4 *st, uint8_t *buf, size_t len)
{
	uint8_t i = st->i, j = st->j;

	for (size_t n = 0; n < len; n++) {
		uint8_t t;
		i = (uint8_t)(i + 1);
		t = st->s[i];
		j = (uint8_t)(j + t);
		st->s[i] = st->s[j];
		st->s[j] = t;
		buf[n] ^= st->s[(uint8_t)(st->s[i] + t)];
	}
	st->i = i;
	st->j = j;
}

void crypto_rc4(const uint8_t *key, size_t keylen, uint8_t *buf, size_t len)
{
	struct crypto_rc4 st;

	crypto_rc4_init(&st, key, keylen);
	crypto_rc4_crypt(&st, buf, len);
	OPENSSL_cleanse(&st, sizeof(st));
}

/* ---- misc ---- */

int crypto_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	if (buf == NULL && len)
		return -EINVAL;
	while (len) {
		int n = len > INT_MAX ? INT_MAX : (int)len;
		if (RAND_bytes(p, n) != 1)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int crypto_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) != 0;
}
