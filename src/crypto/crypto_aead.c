/* SMB3 transform encryption (MS-SMB2 3.1.4.3, 3.3.5.2.1.1): AES-CCM and AES-GCM, 128 and 256-bit
 * keys, over scattered data encrypted in place.
 *
 * GCM uses OpenSSL's AEAD directly: it streams, so each iovec is one update.
 * CCM over one contiguous buffer (every message the server encrypts or decrypts: a frame, a
 * response chain) uses OpenSSL's CCM, which takes the whole message in a single update and runs
 * the CBC-MAC and the counter mode interleaved in one pass (1.44 against 1.26 GB/s for the two
 * passes below on the development VM, docs/PERFORMANCE.md). Scattered data (more than one iovec) would have to be
 * copied into one buffer for it, so there CCM is built from AES-CBC (the CBC-MAC) and AES-CTR as
 * NIST SP800-38C / RFC 3610 define it. The tests hold both to each other, to OpenSSL's own CCM
 * and to Microsoft's published SMB 3.0 vector.
 *
 * One EVP context per call for now; the run functions take the contexts as arguments so that a
 * per-session cache (keyed once, reinitialised with only a new nonce) can replace the _new/_free.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>

#include "crypto/crypto_priv.h"

#define AEAD_TAG_LEN 16
#define CCM_NONCE_LEN 11
#define CCM_L (15 - CCM_NONCE_LEN) /* bytes of the length field: messages below 4 GiB */
#define GCM_NONCE_LEN 12
/* EVP update lengths are ints; feed at most this much at a time (a multiple of the block size) */
#define EVP_CHUNK (1u << 30)
#define CBCMAC_SCRATCH 4096

size_t smb2_cipher_keylen(enum smb2_cipher c)
{
	switch (c) {
	case SMB2_CIPHER_AES128_CCM:
	case SMB2_CIPHER_AES128_GCM:
		return 16;
	case SMB2_CIPHER_AES256_CCM:
	case SMB2_CIPHER_AES256_GCM:
		return 32;
	default:
		return 0;
	}
}

size_t smb2_cipher_noncelen(enum smb2_cipher c)
{
	switch (c) {
	case SMB2_CIPHER_AES128_CCM:
	case SMB2_CIPHER_AES256_CCM:
		return CCM_NONCE_LEN;
	case SMB2_CIPHER_AES128_GCM:
	case SMB2_CIPHER_AES256_GCM:
		return GCM_NONCE_LEN;
	default:
		return 0;
	}
}

static bool is_gcm(enum smb2_cipher c)
{
	return c == SMB2_CIPHER_AES128_GCM || c == SMB2_CIPHER_AES256_GCM;
}

/* Runs in -> out (which may be the same buffer) through an initialised cipher context. */
static int evp_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len) {
		int n = (int)(len < EVP_CHUNK ? len : EVP_CHUNK), outl = 0;

		if (EVP_CipherUpdate(ctx, out, &outl, in, n) != 1 || outl != n)
			return -EIO;
		in += n;
		if (out)
			out += n;
		len -= (size_t)n;
	}
	return 0;
}

static int evp_update_iov(EVP_CIPHER_CTX *ctx, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		int rc = evp_update(ctx, iov[i].iov_base, iov[i].iov_base, iov[i].iov_len);
		if (rc)
			return rc;
	}
	return 0;
}

/* Decrypted data that failed authentication must not reach anyone. */
static void wipe_iov(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		OPENSSL_cleanse(iov[i].iov_base, iov[i].iov_len);
}

/* ---- GCM ---- */

static int gcm_run(EVP_CIPHER_CTX *ctx, enum smb2_cipher c, int enc, const uint8_t *key,
		   const uint8_t *nonce, const uint8_t *aad, size_t aadlen, const struct iovec *iov,
		   int iovcnt, uint8_t *tag)
{
	const EVP_CIPHER *ciph =
	    c == SMB2_CIPHER_AES128_GCM ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	uint8_t fin[16];
	int outl = 0, rc;

	/* the default GCM IV length is the 12 bytes SMB uses */
	if (EVP_CipherInit_ex(ctx, ciph, NULL, key, nonce, enc) != 1)
		return -EIO;
	rc = aadlen ? evp_update(ctx, NULL, aad, aadlen) : 0;
	if (!rc)
		rc = evp_update_iov(ctx, iov, iovcnt);
	if (rc)
		return rc;
	if (!enc) {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
			return -EIO;
		return EVP_CipherFinal_ex(ctx, fin, &outl) == 1 ? 0 : -EBADMSG;
	}
	if (EVP_CipherFinal_ex(ctx, fin, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

/* ---- CCM (SP800-38C with a 16-byte tag and an 11-byte nonce, so a 4-byte length field) ---- */

struct cbcmac {
	EVP_CIPHER_CTX *ctx; /* AES-CBC, zero IV, no padding: its last output block is the MAC */
	uint8_t x[16];
	size_t fed; /* bytes fed since the last zero padding, to pad to a block */
};

static int cbcmac_feed(struct cbcmac *m, const uint8_t *p, size_t len)
{
	uint8_t out[CBCMAC_SCRATCH + 16];

	m->fed += len;
	while (len) {
		int n = (int)(len < CBCMAC_SCRATCH ? len : CBCMAC_SCRATCH), outl = 0;

		if (EVP_EncryptUpdate(m->ctx, out, &outl, p, n) != 1)
			return -EIO;
		if (outl >= 16)
			memcpy(m->x, out + outl - 16, 16);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cbcmac_pad(struct cbcmac *m)
{
	static const uint8_t zero[16];
	size_t rem = m->fed % 16;
	int rc = rem ? cbcmac_feed(m, zero, 16 - rem) : 0;

	m->fed = 0;
	return rc;
}

/* B0 and the encoded AAD (SP800-38C A.2.1, A.2.2). */
/* ---- AES-CMAC (RFC 4493) on the CBC-MAC above ----
 * OpenSSL's CMAC (EVP_MAC "CMAC") runs its cipher once per 16-byte block, which made CMAC
 * signing of a 1 MiB READ cost 2-3 ms; CMAC is CBC-MAC with a tweaked last block, so every block
 * but the last goes through AES-CBC in 4 KiB calls, and the last, XORed with the subkey K1 (whole)
 * or padded and XORed with K2 (partial), is the final CBC step, whose output is the tag. */

static void cmac_dbl(uint8_t k[16])
{
	uint8_t carry = k[0] >> 7;
	for (int i = 0; i < 15; i++)
		k[i] = (uint8_t)(k[i] << 1 | k[i + 1] >> 7);
	k[15] = (uint8_t)(k[15] << 1 ^ (carry ? 0x87 : 0));
}

int crypto_aes_cmac(const uint8_t key[16], const struct iovec *iov, int iovcnt, uint8_t out[16])
{
	if (key == NULL || out == NULL || !crypto_iov_ok(iov, iovcnt))
		return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	static const uint8_t zero[16];
	uint8_t l[16], last[16] = {0};
	struct cbcmac m = {.ctx = ctx};
	int rc = -EIO, outl = 0;
	/* L = AES(K, 0): the subkeys' root */
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 || EVP_EncryptUpdate(ctx, l, &outl, zero, 16) != 1 ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, zero) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
		goto out;
	/* every byte before the last block (of 1 to 16 bytes; none for an empty message) */
	size_t head = total ? (total - 1) / 16 * 16 : 0, lastlen = total - head;
	rc = 0;
	for (int i = 0; i < iovcnt && !rc; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len, take = n < head ? n : head;
		if (take)
			rc = cbcmac_feed(&m, p, take);
		head -= take;
	}
	if (rc)
		goto out;
	/* gather the last block's bytes from the end of the message */
	size_t need = lastlen;
	for (int i = iovcnt - 1; i >= 0 && need; i--) {
		size_t n = iov[i].iov_len, take = n < need ? n : need;
		memcpy(last + need - take, (const uint8_t *)iov[i].iov_base + n - take, take);
		need -= take;
	}
	cmac_dbl(l); /* K1 */
	if (lastlen < 16) {
		last[lastlen] = 0x80;
		cmac_dbl(l); /* K2 */
	}
	for (int i = 0; i < 16; i++)
		last[i] ^= l[i];
	rc = cbcmac_feed(&m, last, 16);
	if (!rc)
		memcpy(out, m.x, 16);
out:
	OPENSSL_cleanse(l, sizeof(l));
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

static int ccm_mac_head(struct cbcmac *m, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
			size_t total)
{
	uint8_t b0[16], alen[6];
	size_t alen_len;
	int rc;

	b0[0] = (uint8_t)((aadlen ? 0x40 : 0) | ((AEAD_TAG_LEN - 2) / 2) << 3 | (CCM_L - 1));
	memcpy(b0 + 1, nonce, CCM_NONCE_LEN);
	for (int i = 0; i < CCM_L; i++)
		b0[15 - i] = (uint8_t)(total >> (8 * i));
	rc = cbcmac_feed(m, b0, sizeof(b0));
	if (rc || aadlen == 0)
		return rc;
	if (aadlen < 0xFF00) {
		alen[0] = (uint8_t)(aadlen >> 8), alen[1] = (uint8_t)aadlen;
		alen_len = 2;
	} else {
		alen[0] = 0xFF, alen[1] = 0xFE;
		for (int i = 0; i < 4; i++)
			alen[2 + i] = (uint8_t)(aadlen >> (24 - 8 * i));
		alen_len = 6;
	}
	m->fed = 0;
	rc = cbcmac_feed(m, alen, alen_len);
	if (!rc)
		rc = cbcmac_feed(m, aad, aadlen);
	return rc ? rc : cbcmac_pad(m);
}

static int cbcmac_iov(struct cbcmac *m, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		int rc = cbcmac_feed(m, iov[i].iov_base, iov[i].iov_len);
		if (rc)
			return rc;
	}
	return cbcmac_pad(m);
}

static int ccm_run(EVP_CIPHER_CTX *mac, EVP_CIPHER_CTX *ctr, enum smb2_cipher c, int enc,
		   const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
		   const struct iovec *iov, int iovcnt, size_t total, uint8_t *tag)
{
	bool k128 = c == SMB2_CIPHER_AES128_CCM;
	const EVP_CIPHER *cbc = k128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
	const EVP_CIPHER *ctrc = k128 ? EVP_aes_128_ctr() : EVP_aes_256_ctr();
	uint8_t a0[16] = {0}, s0[16] = {0}, t[16];
	struct cbcmac m = {.ctx = mac};
	int rc;

	/* counter block A0 = flags(L-1) || nonce || 0; its keystream S0 masks the tag and the
	 * data uses A1, A2, ... which is where the CTR stream continues after S0 */
	a0[0] = CCM_L - 1;
	memcpy(a0 + 1, nonce, CCM_NONCE_LEN);
	if (EVP_EncryptInit_ex(ctr, ctrc, NULL, key, a0) != 1 ||
	    EVP_EncryptInit_ex(mac, cbc, NULL, key, m.x) != 1 ||
	    EVP_CIPHER_CTX_set_padding(mac, 0) != 1)
		return -EIO;
	rc = evp_update(ctr, s0, s0, sizeof(s0));
	if (!rc)
		rc = ccm_mac_head(&m, nonce, aad, aadlen, total);
	/* the MAC is over the plaintext: before encrypting, after decrypting */
	if (!rc && enc)
		rc = cbcmac_iov(&m, iov, iovcnt);
	if (!rc)
		rc = evp_update_iov(ctr, iov, iovcnt);
	if (!rc && !enc)
		rc = cbcmac_iov(&m, iov, iovcnt);
	if (rc)
		return rc;
	for (int i = 0; i < AEAD_TAG_LEN; i++)
		t[i] = m.x[i] ^ s0[i];
	if (enc)
		memcpy(tag, t, AEAD_TAG_LEN);
	else if (CRYPTO_memcmp(t, tag, AEAD_TAG_LEN) != 0)
		rc = -EBADMSG;
	OPENSSL_cleanse(s0, sizeof(s0));
	OPENSSL_cleanse(&m, sizeof(m));
	return rc;
}

/* CCM in one pass with OpenSSL's own mode, over a single buffer (see the top of the file). */
static int ccm_run_one(EVP_CIPHER_CTX *ctx, enum smb2_cipher c, int enc, const uint8_t *key,
		       const uint8_t *nonce, const uint8_t *aad, size_t aadlen, uint8_t *buf,
		       size_t len, uint8_t *tag)
{
	const EVP_CIPHER *ciph = c == SMB2_CIPHER_AES128_CCM ? EVP_aes_128_ccm() : EVP_aes_256_ccm();
	int outl = 0;

	if (len > INT_MAX || aadlen > INT_MAX)
		return -EINVAL;
	if (EVP_CipherInit_ex(ctx, ciph, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, CCM_NONCE_LEN, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, enc ? NULL : tag) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, NULL, (int)len) != 1)
		return -EIO;
	if (aadlen && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
		return -EIO;
	/* decrypting, the update itself checks the tag */
	if (EVP_CipherUpdate(ctx, buf, &outl, buf, (int)len) != 1)
		return enc ? -EIO : -EBADMSG;
	if (!enc)
		return 0;
	uint8_t fin[16];
	if (EVP_CipherFinal_ex(ctx, fin, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

/* ---- entry points ---- */

static int aead(enum smb2_cipher c, int enc, const uint8_t *key, const uint8_t *nonce,
		const uint8_t *aad, size_t aadlen, const struct iovec *iov, int iovcnt,
		uint8_t *tag)
{
	EVP_CIPHER_CTX *a, *b = NULL;
	size_t total = 0;
	int rc;

	if (smb2_cipher_keylen(c) == 0 || key == NULL || nonce == NULL || tag == NULL ||
	    (aad == NULL && aadlen) || aadlen > UINT32_MAX || !crypto_iov_ok(iov, iovcnt))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > UINT32_MAX - total)
			return -EINVAL; /* CCM's length field; SMB messages are far smaller */
		total += iov[i].iov_len;
	}
	bool one = !is_gcm(c) && iovcnt == 1 && total > 0;
	a = EVP_CIPHER_CTX_new();
	if (!is_gcm(c) && !one)
		b = EVP_CIPHER_CTX_new();
	if (a == NULL || (!is_gcm(c) && !one && b == NULL)) {
		rc = -ENOMEM;
	} else if (is_gcm(c)) {
		rc = gcm_run(a, c, enc, key, nonce, aad, aadlen, iov, iovcnt, tag);
	} else if (one) {
		rc = ccm_run_one(a, c, enc, key, nonce, aad, aadlen, iov[0].iov_base, total, tag);
	} else {
		rc = ccm_run(a, b, c, enc, key, nonce, aad, aadlen, iov, iovcnt, total, tag);
	}
	EVP_CIPHER_CTX_free(a);
	EVP_CIPHER_CTX_free(b);
	if (rc && !enc)
		wipe_iov(iov, iovcnt);
	return rc;
}

int smb2_aead_encrypt(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *aad, size_t aadlen, const struct iovec *iov, int iovcnt,
		      uint8_t tag[16])
{
	return aead(c, 1, key, nonce, aad, aadlen, iov, iovcnt, tag);
}

int smb2_aead_decrypt(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *aad, size_t aadlen, const struct iovec *iov, int iovcnt,
		      const uint8_t tag[16])
{
	return aead(c, 0, key, nonce, aad, aadlen, iov, iovcnt, (uint8_t *)tag);
}
