/* SMB 3.x key derivation (MS-SMB2 3.1.4.2) and SMB2 message signing (MS-SMB2 3.1.4.1, 3.1.5.1). */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "crypto/crypto_priv.h"

/* SMB2 header (MS-SMB2 2.2.1): the fields signing reads. */
#define SMB2_HDR_LEN 64
#define SMB2_HDR_COMMAND 12
#define SMB2_HDR_FLAGS 16
#define SMB2_HDR_MESSAGE_ID 24
#define SMB2_HDR_SIGNATURE 48
#define SMB2_SIG_LEN 16
#define SMB2_CMD_CANCEL 0x000C
#define SMB2_FLAG_SERVER_TO_REDIR 0x00000001

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* SP800-108 counter mode, PRF = HMAC-SHA256, r = 32:
 * K(i) = PRF(Ki, [i]_32be || Label || 0x00 || Context || [L]_32be), L = outlen * 8 bits. */
int crypto_kdf(const uint8_t *key, size_t keylen, const void *label, size_t labellen,
	       const void *context, size_t contextlen, uint8_t *out, size_t outlen)
{
	uint8_t ctr[4], lbits[4], block[32], sep = 0;
	uint32_t i = 1;

	if ((key == NULL && keylen) || (label == NULL && labellen) ||
	    (context == NULL && contextlen) || out == NULL || outlen == 0 ||
	    outlen > UINT32_MAX / 8)
		return -EINVAL;
	put_be32(lbits, (uint32_t)(outlen * 8));
	for (size_t done = 0; done < outlen; i++) {
		struct iovec iov[5] = {{ctr, 4},
				       {(void *)label, labellen},
				       {&sep, 1},
				       {(void *)context, contextlen},
				       {lbits, 4}};
		size_t n = outlen - done < sizeof(block) ? outlen - done : sizeof(block);
		int rc;

		put_be32(ctr, i);
		rc = crypto_hmac_sha256(key, keylen, iov, 5, block);
		if (rc) {
			OPENSSL_cleanse(out, outlen);
			return rc;
		}
		memcpy(out + done, block, n);
		done += n;
	}
	OPENSSL_cleanse(block, sizeof(block));
	return 0;
}

/* AES-GMAC nonce (MS-SMB2 3.1.4.1): MessageId (8 bytes LE), then a 32-bit LE word whose bit 0 is
 * set when the sender is the server and bit 1 when the message is a CANCEL request. */
static void gmac_nonce(const uint8_t *hdr, uint8_t nonce[12])
{
	uint32_t flags = (uint32_t)hdr[SMB2_HDR_FLAGS] | (uint32_t)hdr[SMB2_HDR_FLAGS + 1] << 8 |
			 (uint32_t)hdr[SMB2_HDR_FLAGS + 2] << 16 |
			 (uint32_t)hdr[SMB2_HDR_FLAGS + 3] << 24;
	uint16_t cmd = (uint16_t)(hdr[SMB2_HDR_COMMAND] | hdr[SMB2_HDR_COMMAND + 1] << 8);
	uint32_t role = 0;

	if (flags & SMB2_FLAG_SERVER_TO_REDIR)
		role |= 1;
	if (cmd == SMB2_CMD_CANCEL)
		role |= 2;
	memcpy(nonce, hdr + SMB2_HDR_MESSAGE_ID, 8);
	for (int i = 0; i < 4; i++)
		nonce[8 + i] = (uint8_t)(role >> (8 * i));
}

int smb2_sign(enum smb2_sign_alg alg, const uint8_t key[16], const struct iovec *iov, int iovcnt,
	      uint8_t sig[16])
{
	static const uint8_t zero_sig[SMB2_SIG_LEN];
	enum crypto_mac_kind kind;
	uint8_t nonce[12];
	const uint8_t *hdr;
	EVP_MAC_CTX *ctx;
	int rc;

	if (key == NULL || sig == NULL || iovcnt < 1 || !crypto_iov_ok(iov, iovcnt) ||
	    iov[0].iov_len < SMB2_HDR_LEN)
		return -EINVAL;
	hdr = iov[0].iov_base;
	switch (alg) {
	case SMB2_SIGN_HMAC_SHA256:
		kind = CRYPTO_MAC_HMAC_SHA256;
		break;
	case SMB2_SIGN_AES_CMAC:
		kind = CRYPTO_MAC_AES128_CMAC;
		break;
	case SMB2_SIGN_AES_GMAC:
		kind = CRYPTO_MAC_AES128_GMAC;
		gmac_nonce(hdr, nonce);
		break;
	default:
		return -EINVAL;
	}
	if (kind == CRYPTO_MAC_AES128_CMAC && iovcnt <= 13) {
		/* crypto_aes_cmac: CMAC on AES-CBC, far faster than OpenSSL's per-block CMAC */
		struct iovec v[16] = {{(void *)hdr, SMB2_HDR_SIGNATURE},
				      {(void *)zero_sig, SMB2_SIG_LEN},
				      {(void *)(hdr + SMB2_HDR_LEN), iov[0].iov_len - SMB2_HDR_LEN}};
		for (int i = 1; i < iovcnt; i++)
			v[2 + i] = iov[i];
		return crypto_aes_cmac(key, v, iovcnt + 2, sig);
	}
	rc = crypto_mac_begin(&ctx, kind, key, 16, kind == CRYPTO_MAC_AES128_GMAC ? nonce : NULL,
			      sizeof(nonce));
	if (rc)
		return rc;
	/* the Signature field is MAC'ed as zeros (3.1.4.1 step 1) without writing to the message */
	rc = crypto_mac_update(ctx, hdr, SMB2_HDR_SIGNATURE);
	if (!rc)
		rc = crypto_mac_update(ctx, zero_sig, SMB2_SIG_LEN);
	if (!rc)
		rc = crypto_mac_update(ctx, hdr + SMB2_HDR_LEN, iov[0].iov_len - SMB2_HDR_LEN);
	if (!rc)
		rc = crypto_mac_update_iov(ctx, iov + 1, iovcnt - 1);
	if (rc) {
		EVP_MAC_CTX_free(ctx);
		return rc;
	}
	/* HMAC-SHA256 gives 32 bytes, of which the first 16 are the signature */
	return crypto_mac_end(ctx, sig, SMB2_SIG_LEN);
}

int smb2_sign_verify(enum smb2_sign_alg alg, const uint8_t key[16], const struct iovec *iov,
		     int iovcnt)
{
	uint8_t sig[SMB2_SIG_LEN];
	int rc = smb2_sign(alg, key, iov, iovcnt, sig);

	if (rc)
		return rc;
	if (CRYPTO_memcmp(sig, (const uint8_t *)iov[0].iov_base + SMB2_HDR_SIGNATURE,
			  SMB2_SIG_LEN) != 0)
		return -EBADMSG;
	return 0;
}
