/* UTF-16LE <-> UTF-8 conversion and simple case mapping.
 *
 * Both directions are strict (RFC 3629 for UTF-8, Unicode 3.9 for UTF-16): unpaired surrogates,
 * overlong or truncated UTF-8, encoded surrogates and code points above U+10FFFF are errors, so a
 * file name has exactly one wire form and one disk form. */
#include "utf16.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one code point from NUL-terminated UTF-8 at *s and advances *s; returns -1 on invalid
 * input. The caller stops at the terminating NUL before calling. */
static long utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	unsigned c = p[0];
	unsigned n;
	unsigned long cp, min;
	if (c < 0x80) {
		*s = p + 1;
		return c;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 1;
		cp = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 2;
		cp = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return -1; /* continuation byte, C0/C1 (always overlong) or F5..FF */
	}
	for (unsigned i = 1; i <= n; i++) {
		/* a NUL here is not a continuation byte, so reading stops at the terminator */
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*s = p + n + 1;
	return (long)cp;
}

static size_t utf8_put(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

int utf16le_to_utf8(const uint8_t *in, size_t nbytes, char **out)
{
	*out = NULL;
	if (nbytes % 2)
		return -EINVAL;
	/* each UTF-16 unit becomes at most 3 UTF-8 bytes (a pair of units becomes 4) */
	if (nbytes / 2 > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	char *o = malloc(nbytes / 2 * 3 + 1);
	if (!o)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < nbytes; i += 2) {
		unsigned long cp = get_le16(in + i);
		if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
			goto bad;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (i + 4 > nbytes)
				goto bad;
			unsigned long lo = get_le16(in + i + 2);
			if (lo < 0xDC00 || lo > 0xDFFF)
				goto bad;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			i += 2;
		}
		n += utf8_put(o + n, cp);
	}
	o[n] = 0;
	*out = o;
	return 0;
bad:
	free(o);
	return -EINVAL;
}

long utf16_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	while (*p) {
		long cp = utf8_next(&p);
		if (cp < 0)
			return -EINVAL;
		n += cp >= 0x10000 ? 4 : 2;
	}
	return n;
}

/* Encodes valid UTF-8 (already checked by utf16_len) into o. */
static void encode_utf16(const char *s, uint8_t *o)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned long cp = (unsigned long)utf8_next(&p);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_le16(o, (uint16_t)(0xD800 | (cp >> 10)));
			put_le16(o + 2, (uint16_t)(0xDC00 | (cp & 0x3FF)));
			o += 4;
		} else {
			put_le16(o, (uint16_t)cp);
			o += 2;
		}
	}
}

int utf8_to_utf16le(const char *in, uint8_t **out, size_t *nbytes)
{
	*out = NULL;
	*nbytes = 0;
	long n = utf16_len(in);
	if (n < 0)
		return -EINVAL;
	uint8_t *o = malloc(n ? (size_t)n : 1);
	if (!o)
		return -ENOMEM;
	encode_utf16(in, o);
	*out = o;
	*nbytes = (size_t)n;
	return 0;
}

long wr_utf16(struct wr *w, const char *s)
{
	long n = utf16_len(s);
	if (n < 0)
		return -EINVAL;
	size_t off = wr_space(w, (size_t)n);
	if (off == (size_t)-1)
		return -ENOMEM;
	if (n)
		encode_utf16(s, w->p + off);
	return n;
}

/* Simple (one code point to one code point) upper-casing, computed by arithmetic over the blocks
 * where file names need it; the mapping follows Unicode's simple uppercase, which is what the
 * Windows/NTFS upcase table holds for these blocks.
 *
 * Covered: ASCII; Latin-1 Supplement (incl. U+00FF -> U+0178 and U+00B5 MICRO SIGN -> U+039C);
 * Latin Extended-A; Greek (basic letters, tonos forms, final sigma, archaic/Coptic pairs
 * U+03D8..U+03EF); Cyrillic U+0400..U+04FF; fullwidth Latin U+FF41..U+FF5A.
 * Deliberately left alone: U+0131 (dotless i) and U+017F (long s), whose Unicode uppercase is
 * ASCII 'I' / 'S'; mapping them would let a non-ASCII name alias an ASCII one. Greek symbol
 * variants (U+03D0 etc.), U+00DF and everything outside the blocks above are unchanged: names
 * differing only there compare as different, which is the safe direction. */
static unsigned long cp_upper(unsigned long c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') ? c - 0x20 : c;
	if (c < 0x100) {
		if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
			return c - 0x20;
		if (c == 0xFF)
			return 0x178;
		return c == 0xB5 ? 0x39C : c;
	}
	if (c < 0x180) {
		/* pairs: upper at even for 0100-0137 and 014A-0177, at odd for 0139-0148, 0179-017E
		 */
		if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) &&
		    (c & 1))
			return c - 1;
		if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && !(c & 1))
			return c - 1;
		return c;
	}
	if (c >= 0x370 && c < 0x400) {
		if (c == 0x3AC)
			return 0x386;
		if (c >= 0x3AD && c <= 0x3AF)
			return c - 0x25;
		if (c == 0x3C2)
			return 0x3A3; /* final sigma */
		if (c >= 0x3B1 && c <= 0x3CB)
			return c - 0x20;
		if (c == 0x3CC)
			return 0x38C;
		if (c == 0x3CD || c == 0x3CE)
			return c - 0x3F;
		if (c >= 0x3D8 && c <= 0x3EF && (c & 1))
			return c - 1;
		return c;
	}
	if (c >= 0x400 && c < 0x500) {
		if (c >= 0x430 && c <= 0x44F)
			return c - 0x20;
		if (c >= 0x450 && c <= 0x45F)
			return c - 0x50;
		if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || c >= 0x4D0) &&
		    (c & 1))
			return c - 1;
		if (c >= 0x4C1 && c <= 0x4CE && !(c & 1))
			return c - 1;
		if (c == 0x4CF)
			return 0x4C0;
		return c;
	}
	if (c >= 0xFF41 && c <= 0xFF5A)
		return c - 0x20;
	return c;
}

bool utf8_case_equal(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	while (*p && *q) {
		long x = utf8_next(&p), y = utf8_next(&q);
		if (x < 0 || y < 0 || cp_upper((unsigned long)x) != cp_upper((unsigned long)y))
			return false;
	}
	return !*p && !*q;
}

bool utf8_case_hash(const char *s, uint64_t *hash)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t h = 0xcbf29ce484222325ull;
	while (*p) {
		long cp = utf8_next(&p);
		if (cp < 0)
			return false;
		unsigned long u = cp_upper((unsigned long)cp);
		for (int i = 0; i < 3; i++) {
			h ^= (u >> (8 * i)) & 0xFF;
			h *= 0x100000001b3ull;
		}
	}
	*hash = h;
	return true;
}

char *utf8_upper(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	char tmp[4];
	while (*p) {
		long cp = utf8_next(&p);
		if (cp < 0)
			return NULL;
		n += utf8_put(tmp, cp_upper((unsigned long)cp));
	}
	char *o = malloc(n + 1);
	if (!o)
		return NULL;
	p = (const unsigned char *)s;
	n = 0;
	while (*p)
		n += utf8_put(o + n, cp_upper((unsigned long)utf8_next(&p)));
	o[n] = 0;
	return o;
}
