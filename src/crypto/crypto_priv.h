/* Helpers shared by the files of src/crypto; not part of the layer's interface (crypto.h is).
 * Everything here returns 0 or a negative errno like crypto.h. */
#ifndef SHOAL_CRYPTO_PRIV_H
#define SHOAL_CRYPTO_PRIV_H

#include <openssl/evp.h>
#include <stdbool.h>

#include "crypto/crypto.h"

/* MD4 (RFC 1320), streaming so NTLM can hash UTF-16 without building the string in memory. */
struct crypto_md4_ctx {
	uint32_t h[4];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
};
void crypto_md4_init(struct crypto_md4_ctx *c);
void crypto_md4_update(struct crypto_md4_ctx *c, const void *data, size_t len);
void crypto_md4_final(struct crypto_md4_ctx *c, uint8_t out[16]);

/* The keyed MACs this layer uses. A context is made per call today; a per-session cache would keep
 * a keyed context and EVP_MAC_CTX_dup() it, which is why callers go through begin/update/end. */
enum crypto_mac_kind {
	CRYPTO_MAC_HMAC_MD5,
	CRYPTO_MAC_HMAC_SHA256,
	CRYPTO_MAC_AES128_CMAC,
	CRYPTO_MAC_AES128_GMAC, /* iv is the 12-byte nonce */
};
int crypto_mac_begin(EVP_MAC_CTX **out, enum crypto_mac_kind kind, const void *key, size_t keylen,
		     const void *iv, size_t ivlen);
int crypto_mac_update(EVP_MAC_CTX *ctx, const void *data, size_t len);
int crypto_mac_update_iov(EVP_MAC_CTX *ctx, const struct iovec *iov, int iovcnt);
/* Writes the first outlen bytes of the MAC and frees ctx (also on error). */
int crypto_mac_end(EVP_MAC_CTX *ctx, uint8_t *out, size_t outlen);

/* True when iov/iovcnt describe readable memory: iovcnt >= 0, no NULL base with a length. */
bool crypto_iov_ok(const struct iovec *iov, int iovcnt);

#endif
