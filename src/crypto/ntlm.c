/* NTLM one-way functions (MS-NLMP 3.3.1, 3.3.2): NTOWFv1 (the NT hash) and NTOWFv2.
 *
 * Strings arrive as UTF-8 and are hashed as UTF-16LE. They are converted here and streamed into the
 * hash through a small buffer, so no allocation is made and no copy of a password outlives the
 * call. Invalid UTF-8 is rejected (-EINVAL) rather than replaced, so two different byte strings
 * can never give one key.
 *
 * Upper-casing of the user name (NTOWFv2) covers ASCII, Latin-1, Latin Extended-A, basic Greek and
 * Cyrillic and the full-width Latin letters: the letters with a one-to-one simple upper case in
 * Windows' upcase table. Other scripts pass unchanged; a name using them can fail NTLMv2 against a
 * Windows client until the full table (shared with lib/utf16) is used here. */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "crypto/crypto_priv.h"

/* Decodes one code point; returns the bytes used, or 0 for invalid UTF-8 (truncated, overlong,
 * surrogate, above U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
	size_t n;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0)
		n = 2, c &= 0x1F;
	else if ((c & 0xF0) == 0xE0)
		n = 3, c &= 0x0F;
	else if ((c & 0xF8) == 0xF0)
		n = 4, c &= 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min[n - 1] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

static uint32_t upcase(uint32_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7))
		return c - 0x20;
	if (c == 0xFF)
		return 0x178;
	/* Latin Extended-A: upper/lower pairs, upper case on the even code point ... */
	if (((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && (c & 1) && c != 0x131)
		return c - 1;
	/* ... or on the odd one */
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && !(c & 1))
		return c - 1;
	if ((c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) || (c >= 0x430 && c <= 0x44F) ||
	    (c >= 0xFF41 && c <= 0xFF5A))
		return c - 0x20;
	if (c >= 0x450 && c <= 0x45F)
		return c - 0x50;
	return c;
}

typedef int (*u16_sink)(void *arg, const uint8_t *p, size_t len);

static int md4_sink(void *arg, const uint8_t *p, size_t len)
{
	crypto_md4_update(arg, p, len);
	return 0;
}

static int mac_sink(void *arg, const uint8_t *p, size_t len)
{
	return crypto_mac_update(arg, p, len);
}

static size_t put_u16(uint8_t *o, uint32_t u)
{
	o[0] = (uint8_t)u;
	o[1] = (uint8_t)(u >> 8);
	return 2;
}

/* Streams UTF-16LE(s), optionally upper-cased, into sink. */
static int utf16le_stream(const char *s, bool upper, u16_sink sink, void *arg)
{
	const unsigned char *p = (const unsigned char *)s;
	uint8_t buf[128];
	size_t n = 0;
	int rc = 0;

	while (*p && !rc) {
		uint32_t cp;
		size_t used = utf8_decode(p, &cp);

		if (used == 0) {
			rc = -EINVAL;
			break;
		}
		p += used;
		if (upper)
			cp = upcase(cp);
		if (n + 4 > sizeof(buf)) {
			rc = sink(arg, buf, n);
			n = 0;
		}
		if (cp < 0x10000) {
			n += put_u16(buf + n, cp);
		} else {
			n += put_u16(buf + n, 0xD800 | ((cp - 0x10000) >> 10));
			n += put_u16(buf + n, 0xDC00 | (cp & 0x3FF));
		}
	}
	if (!rc && n)
		rc = sink(arg, buf, n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* NTOWFv1 (MS-NLMP 3.3.1) = MD4(UNICODE(Passwd)). */
int ntlm_nt_hash(const char *password, uint8_t out[16])
{
	struct crypto_md4_ctx c;
	int rc;

	if (password == NULL || out == NULL)
		return -EINVAL;
	crypto_md4_init(&c);
	rc = utf16le_stream(password, false, md4_sink, &c);
	if (rc) {
		OPENSSL_cleanse(&c, sizeof(c));
		return rc;
	}
	crypto_md4_final(&c, out);
	return 0;
}

/* NTOWFv2 (MS-NLMP 3.3.2) = HMAC_MD5(NTOWFv1, UNICODE(ConcatenationOf(Uppercase(User),
 * UserDom))); the domain keeps its case. */
int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16])
{
	EVP_MAC_CTX *ctx;
	int rc;

	if (nt_hash == NULL || user == NULL || domain == NULL || out == NULL)
		return -EINVAL;
	rc = crypto_mac_begin(&ctx, CRYPTO_MAC_HMAC_MD5, nt_hash, 16, NULL, 0);
	if (rc)
		return rc;
	rc = utf16le_stream(user, true, mac_sink, ctx);
	if (!rc)
		rc = utf16le_stream(domain, false, mac_sink, ctx);
	if (rc) {
		EVP_MAC_CTX_free(ctx);
		return rc;
	}
	return crypto_mac_end(ctx, out, 16);
}
