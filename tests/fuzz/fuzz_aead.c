/* The SMB3 transform's AEAD (src/crypto/crypto.h, MS-SMB2 3.1.4.3): decryption of arbitrary
 * data under an arbitrary key, nonce, header and tag must fail cleanly (nothing forges a GCM or
 * CCM tag by chance), and what smb2_aead_encrypt produces must decrypt back to the input, for
 * every cipher and any split of the data over three iovecs.
 *
 * Input: selector (1: cipher in bits 0-2, full 32-byte aad in bit 3, else bits 4-7 give its
 * length), key (32), nonce (16), aad (32), tag (16), two split points (2 x 2), then the data. */
#include <errno.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz.h"
#include "lib/buf.h"

#define HDR (1 + 32 + 16 + 32 + 16 + 4)

static void split(uint8_t *buf, size_t len, const uint8_t *cuts, struct iovec iov[3])
{
	size_t a = get_le16(cuts) % (len + 1);
	size_t b = get_le16(cuts + 2) % (len + 1);
	if (a > b) {
		size_t t = a;
		a = b;
		b = t;
	}
	iov[0] = (struct iovec){buf, a};
	iov[1] = (struct iovec){buf + a, b - a};
	iov[2] = (struct iovec){buf + b, len - b};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR)
		return 0;
	enum smb2_cipher c = (enum smb2_cipher)(data[0] & 7);
	size_t aadlen = (data[0] & 8) ? 32 : data[0] >> 4;
	const uint8_t *key = data + 1, *nonce = key + 32, *aad = nonce + 16, *tag = aad + 32;
	const uint8_t *cuts = tag + 16, *msg = cuts + 4;
	size_t len = size - HDR;
	bool valid = smb2_cipher_keylen(c) != 0;
	uint8_t *buf = malloc(len ? len : 1), *plain = malloc(len ? len : 1);
	if (!buf || !plain)
		goto out;
	struct iovec iov[3];
	memcpy(buf, msg, len);
	split(buf, len, cuts, iov);
	int rc = smb2_aead_decrypt(c, key, nonce, aad, aadlen, iov, 3, tag);
	FUZZ_CHECK(valid ? rc == -EBADMSG : rc == -EINVAL);
	if (!valid)
		goto out;
	/* the round trip */
	uint8_t newtag[16];
	memcpy(plain, msg, len);
	memcpy(buf, msg, len);
	FUZZ_CHECK(smb2_aead_encrypt(c, key, nonce, aad, aadlen, iov, 3, newtag) == 0);
	FUZZ_CHECK(smb2_aead_decrypt(c, key, nonce, aad, aadlen, iov, 3, newtag) == 0);
	FUZZ_CHECK(len == 0 || memcmp(buf, plain, len) == 0);
	/* one flipped bit of the tag is refused */
	FUZZ_CHECK(smb2_aead_encrypt(c, key, nonce, aad, aadlen, iov, 3, newtag) == 0);
	newtag[cuts[0] & 15] ^= 1;
	FUZZ_CHECK(smb2_aead_decrypt(c, key, nonce, aad, aadlen, iov, 3, newtag) == -EBADMSG);
out:
	free(buf);
	free(plain);
	return 0;
}
