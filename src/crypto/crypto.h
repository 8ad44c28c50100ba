/* Thin wrappers over OpenSSL 3 for everything SMB2/3 and NTLM need.
 * All functions return 0 on success and a negative errno (-EINVAL bad argument, -ENOMEM,
 * -EIO OpenSSL failure, -EBADMSG authentication failure on decrypt) otherwise.
 * Inputs that are scattered (header + payload) are given as iovec arrays so nothing is copied. */
#ifndef SHOAL_CRYPTO_H
#define SHOAL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* ---- hashes and MACs ---- */
int crypto_md4(const void *data, size_t len, uint8_t out[16]);
int crypto_md5(const void *data, size_t len, uint8_t out[16]);
int crypto_hmac_md5(const void *key, size_t keylen, const struct iovec *iov, int iovcnt,
		    uint8_t out[16]);
int crypto_hmac_sha256(const void *key, size_t keylen, const struct iovec *iov, int iovcnt,
		       uint8_t out[32]);
int crypto_sha512(const struct iovec *iov, int iovcnt, uint8_t out[64]);
int crypto_aes_cmac(const uint8_t key[16], const struct iovec *iov, int iovcnt, uint8_t out[16]);
/* RC4 in place (NTLMSSP key exchange and sealing); the legacy cipher is implemented here, not
 * taken from OpenSSL's legacy provider, which Debian does not load by default. */
void crypto_rc4(const uint8_t *key, size_t keylen, uint8_t *buf, size_t len);
/* Streaming RC4 state for NTLMSSP sealing across messages. */
struct crypto_rc4 {
	uint8_t s[256];
	uint8_t i, j;
};
void crypto_rc4_init(struct crypto_rc4 *st, const uint8_t *key, size_t keylen);
void crypto_rc4_crypt(struct crypto_rc4 *st, uint8_t *buf, size_t len);
/* Fills buf with cryptographically random bytes (RAND_bytes). */
int crypto_random(void *buf, size_t len);
/* Constant-time comparison: 0 when equal. */
int crypto_memcmp(const void *a, const void *b, size_t len);

/* ---- SMB 3.x key derivation (MS-SMB2 3.1.4.2: SP800-108 counter mode, HMAC-SHA256, r=32) ----
 * label and context are used exactly as given (include the terminating NUL where the spec does);
 * outlen is 16 or 32 bytes (L = outlen * 8). */
int crypto_kdf(const uint8_t *key, size_t keylen, const void *label, size_t labellen,
	       const void *context, size_t contextlen, uint8_t *out, size_t outlen);

/* ---- 3.1.1 preauth integrity: hash = SHA-512(hash || message) (MS-SMB2 3.3.5.4) ---- */
int crypto_preauth_update(uint8_t hash[64], const struct iovec *iov, int iovcnt);

/* ---- SMB2 message signing (MS-SMB2 3.1.4.1) ---- */
enum smb2_sign_alg {
	SMB2_SIGN_HMAC_SHA256 = 0, /* values are the 3.1.1 SIGNING_CAPABILITIES ids */
	SMB2_SIGN_AES_CMAC = 1,
	SMB2_SIGN_AES_GMAC = 2,
};
/* Computes the 16-byte signature of one SMB2 message given as iov (the 64-byte header must be
 * entirely in iov[0]). The Signature field (header bytes 48..63) is treated as zero whatever it
 * holds; the caller stores the result there. For GMAC the nonce is built from the header's
 * MessageId, the SERVER_TO_REDIR flag and whether the command is CANCEL (MS-SMB2 3.1.4.1).
 * key is 16 bytes for all three algorithms (HMAC-SHA256 uses the 16-byte session key). */
int smb2_sign(enum smb2_sign_alg alg, const uint8_t key[16], const struct iovec *iov, int iovcnt,
	      uint8_t sig[16]);
/* Verifies the signature in the header; 0 if valid, -EBADMSG if not. */
int smb2_sign_verify(enum smb2_sign_alg alg, const uint8_t key[16], const struct iovec *iov,
		     int iovcnt);

/* ---- SMB3 transform encryption (MS-SMB2 2.2.41, 3.1.4.3) ---- */
enum smb2_cipher {
	SMB2_CIPHER_NONE = 0, /* values are the 3.1.1 ENCRYPTION_CAPABILITIES ids */
	SMB2_CIPHER_AES128_CCM = 1,
	SMB2_CIPHER_AES128_GCM = 2,
	SMB2_CIPHER_AES256_CCM = 3,
	SMB2_CIPHER_AES256_GCM = 4,
};
size_t smb2_cipher_keylen(enum smb2_cipher c);   /* 16 or 32 */
size_t smb2_cipher_noncelen(enum smb2_cipher c); /* 11 for CCM, 12 for GCM */
/* AEAD over data in place. aad is the transform header from Nonce to the end (32 bytes);
 * data is scattered in iov and encrypted/decrypted in place; tag is 16 bytes. */
int smb2_aead_encrypt(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *aad, size_t aadlen, const struct iovec *iov, int iovcnt,
		      uint8_t tag[16]);
int smb2_aead_decrypt(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *aad, size_t aadlen, const struct iovec *iov, int iovcnt,
		      const uint8_t tag[16]);

/* ---- NTLM primitives (MS-NLMP 3.3.2) ---- */
/* NT hash = MD4(UTF-16LE(password)); password is UTF-8. */
int ntlm_nt_hash(const char *password, uint8_t out[16]);
/* NTOWFv2 = HMAC_MD5(nt_hash, UTF-16LE(UPPER(user) || domain)); user/domain are UTF-8. */
int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16]);

#endif
