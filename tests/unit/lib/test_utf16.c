/* Unit tests for lib/utf16.h: strict conversion both ways, surrogate pairs, rejection of every
 * kind of invalid input, case-insensitive comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/utf16.h"

/* Reference encoders written independently of the code under test. */
static size_t ref_utf8(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
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

static size_t ref_utf16(uint32_t cp, uint8_t *o)
{
	if (cp < 0x10000) {
		o[0] = (uint8_t)cp;
		o[1] = (uint8_t)(cp >> 8);
		return 2;
	}
	uint32_t v = cp - 0x10000;
	uint16_t hi = (uint16_t)(0xD800 + (v >> 10)), lo = (uint16_t)(0xDC00 + (v & 0x3FF));
	o[0] = (uint8_t)hi;
	o[1] = (uint8_t)(hi >> 8);
	o[2] = (uint8_t)lo;
	o[3] = (uint8_t)(lo >> 8);
	return 4;
}

static void t_known(void **st)
{
	(void)st;
	/* "Aé€😀" : 1-, 2-, 3- and 4-byte UTF-8; U+1F600 is D83D DE00 */
	static const uint8_t w[] = {0x41, 0x00, 0xE9, 0x00, 0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE};
	const char *u = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
	char *s;
	assert_int_equal(utf16le_to_utf8(w, sizeof(w), &s), 0);
	assert_string_equal(s, u);
	free(s);
	uint8_t *o;
	size_t n;
	assert_int_equal(utf8_to_utf16le(u, &o, &n), 0);
	assert_int_equal(n, sizeof(w));
	assert_memory_equal(o, w, n);
	free(o);
	assert_int_equal(utf16_len(u), 10);
	/* extremes: U+10000, U+10FFFF, U+FFFF, U+E000 (just past surrogates), U+D7FF */
	static const uint8_t x[] = {0x00, 0xD8, 0x00, 0xDC, 0xFF, 0xDB, 0xFF,
				    0xDF, 0xFF, 0xFF, 0x00, 0xE0, 0xFF, 0xD7};
	assert_int_equal(utf16le_to_utf8(x, sizeof(x), &s), 0);
	assert_string_equal(s,
			    "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\xEF\xBF\xBF\xEE\x80\x80\xED\x9F\xBF");
	assert_int_equal(utf8_to_utf16le(s, &o, &n), 0);
	assert_int_equal(n, sizeof(x));
	assert_memory_equal(o, x, n);
	free(o);
	free(s);
}

static void t_empty(void **st)
{
	(void)st;
	char *s = (char *)1;
	assert_int_equal(utf16le_to_utf8(NULL, 0, &s), 0);
	assert_string_equal(s, "");
	free(s);
	uint8_t *o;
	size_t n = 7;
	assert_int_equal(utf8_to_utf16le("", &o, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(o);
	free(o);
	assert_int_equal(utf16_len(""), 0);
	struct wr w;
	wr_init(&w, 0);
	assert_int_equal(wr_utf16(&w, ""), 0);
	assert_int_equal(w.len, 0);
	assert_true(wr_ok(&w));
	wr_free(&w);
}

static uint32_t rand_cp(void)
{
	for (;;) {
		uint32_t cp;
		switch (rand() % 4) {
		case 0:
			cp = 1 + (uint32_t)rand() % 0x7F;
			break;
		case 1:
			cp = 0x80 + (uint32_t)rand() % 0x780;
			break;
		case 2:
			cp = 0x800 + (uint32_t)rand() % 0xF800;
			break;
		default:
			cp = 0x10000 + (uint32_t)rand() % 0x100000;
			break;
		}
		if (cp < 0xD800 || cp > 0xDFFF)
			return cp;
	}
}

static void t_random_roundtrip(void **st)
{
	(void)st;
	srand(20240611);
	for (int iter = 0; iter < 2000; iter++) {
		int ncp = rand() % 40;
		char u8[40 * 4 + 1];
		uint8_t u16[40 * 4];
		size_t n8 = 0, n16 = 0;
		for (int i = 0; i < ncp; i++) {
			uint32_t cp = rand_cp();
			n8 += ref_utf8(cp, u8 + n8);
			n16 += ref_utf16(cp, u16 + n16);
		}
		u8[n8] = 0;
		char *s;
		assert_int_equal(utf16le_to_utf8(u16, n16, &s), 0);
		assert_string_equal(s, u8);
		free(s);
		uint8_t *o;
		size_t n;
		assert_int_equal(utf8_to_utf16le(u8, &o, &n), 0);
		assert_int_equal(n, n16);
		assert_memory_equal(o, u16, n);
		free(o);
		assert_int_equal(utf16_len(u8), (long)n16);
		struct wr w;
		wr_init(&w, 0);
		wr_u8(&w, 0x55);
		assert_int_equal(wr_utf16(&w, u8), (long)n16);
		assert_int_equal(w.len, n16 + 1);
		assert_memory_equal(w.p + 1, u16, n16);
		wr_free(&w);
		/* upper-casing keeps validity and compares equal to the original */
		char *up = utf8_upper(u8);
		assert_non_null(up);
		assert_true(utf16_len(up) >= 0);
		assert_true(utf8_case_equal(up, u8));
		free(up);
	}
}

static void expect_bad16(const uint8_t *in, size_t n)
{
	char *s = (char *)1;
	assert_int_equal(utf16le_to_utf8(in, n, &s), -EINVAL);
	assert_null(s);
}

static void t_bad_utf16(void **st)
{
	(void)st;
	static const uint8_t lone_hi[] = {0x41, 0x00, 0x3D, 0xD8};
	static const uint8_t lone_hi_then_char[] = {0x3D, 0xD8, 0x41, 0x00};
	static const uint8_t lone_lo[] = {0x00, 0xDE, 0x41, 0x00};
	static const uint8_t hi_hi[] = {0x3D, 0xD8, 0x3D, 0xD8, 0x00, 0xDE};
	static const uint8_t reversed[] = {0x00, 0xDE, 0x3D, 0xD8};
	static const uint8_t nul_mid[] = {0x41, 0x00, 0x00, 0x00, 0x42, 0x00};
	static const uint8_t nul_end[] = {0x41, 0x00, 0x00, 0x00};
	static const uint8_t odd[] = {0x41, 0x00, 0x42};
	expect_bad16(lone_hi, sizeof(lone_hi));
	expect_bad16(lone_hi_then_char, sizeof(lone_hi_then_char));
	expect_bad16(lone_lo, sizeof(lone_lo));
	expect_bad16(hi_hi, sizeof(hi_hi));
	expect_bad16(reversed, sizeof(reversed));
	expect_bad16(nul_mid, sizeof(nul_mid));
	expect_bad16(nul_end, sizeof(nul_end));
	expect_bad16(odd, sizeof(odd));
	expect_bad16(odd, 1);
	/* every lone surrogate value */
	for (uint32_t v = 0xD800; v <= 0xDFFF; v += 0x7F) {
		uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
		expect_bad16(b, 2);
	}
}

static void expect_bad8(const char *s)
{
	uint8_t *o = (uint8_t *)1;
	size_t n = 5;
	assert_int_equal(utf8_to_utf16le(s, &o, &n), -EINVAL);
	assert_null(o);
	assert_int_equal(n, 0);
	assert_int_equal(utf16_len(s), -EINVAL);
	assert_null(utf8_upper(s));
	assert_false(utf8_case_equal(s, s));
	struct wr w;
	wr_init(&w, 0);
	wr_u8(&w, 1);
	assert_int_equal(wr_utf16(&w, s), -EINVAL);
	assert_int_equal(w.len, 1); /* nothing appended */
	assert_true(wr_ok(&w));
	wr_free(&w);
}

static void t_bad_utf8(void **st)
{
	(void)st;
	expect_bad8("\x80");			 /* lone continuation */
	expect_bad8("a\xBF");			 /* continuation after ASCII */
	expect_bad8("\xC3");			 /* truncated 2-byte */
	expect_bad8("\xE2\x82");		 /* truncated 3-byte */
	expect_bad8("\xF0\x9F\x98");		 /* truncated 4-byte */
	expect_bad8("\xC3\x41");		 /* non-continuation in sequence */
	expect_bad8("\xC0\x80");		 /* overlong NUL */
	expect_bad8("\xC1\xBF");		 /* overlong 2-byte */
	expect_bad8("\xE0\x80\xAF");		 /* overlong '/' */
	expect_bad8("\xE0\x9F\xBF");		 /* overlong 3-byte (U+07FF) */
	expect_bad8("\xF0\x8F\xBF\xBF");	 /* overlong 4-byte (U+FFFF) */
	expect_bad8("\xED\xA0\x80");		 /* encoded surrogate U+D800 */
	expect_bad8("\xED\xBF\xBF");		 /* encoded surrogate U+DFFF */
	expect_bad8("\xED\xA0\xBD\xED\xB8\x80"); /* CESU-8 surrogate pair */
	expect_bad8("\xF4\x90\x80\x80");	 /* U+110000 */
	expect_bad8("\xF5\x80\x80\x80");
	expect_bad8("\xF8\x88\x80\x80\x80"); /* 5-byte form */
	expect_bad8("\xFC\x84\x80\x80\x80\x80");
	expect_bad8("\xFE");
	expect_bad8("\xFF");
	expect_bad8("ok\xE2\x82");
	/* valid neighbours of the invalid ones above */
	assert_int_equal(utf16_len("\xC2\x80"), 2);
	assert_int_equal(utf16_len("\xE0\xA0\x80"), 2);
	assert_int_equal(utf16_len("\xED\x9F\xBF"), 2);
	assert_int_equal(utf16_len("\xEE\x80\x80"), 2);
	assert_int_equal(utf16_len("\xF0\x90\x80\x80"), 4);
	assert_int_equal(utf16_len("\xF4\x8F\xBF\xBF"), 4);
}

static void t_wr_utf16_fixed(void **st)
{
	(void)st;
	uint8_t buf[5];
	struct wr w;
	wr_init_fixed(&w, buf, sizeof(buf));
	assert_int_equal(wr_utf16(&w, "ab"), 4);
	assert_int_equal(wr_utf16(&w, "c"), -ENOMEM); /* needs 2, 1 left */
	assert_false(wr_ok(&w));
	assert_memory_equal(buf, "a\0b\0", 4);
}

static void t_case(void **st)
{
	(void)st;
	assert_true(utf8_case_equal("Hello.TXT", "hELLO.txt"));
	assert_false(utf8_case_equal("hello", "hello "));
	assert_false(utf8_case_equal("hello", "hellp"));
	assert_true(utf8_case_equal("", ""));
	assert_false(utf8_case_equal("", "a"));
	/* Latin-1: é/É, ÿ/Ÿ (U+0178, outside the block), but ß has no simple upper case */
	assert_true(utf8_case_equal("caf\xC3\xA9", "CAF\xC3\x89"));
	assert_true(utf8_case_equal("\xC3\xBF", "\xC5\xB8"));
	assert_false(utf8_case_equal("\xC3\x97", "\xC3\xB7")); /* × and ÷ are not a pair */
	assert_false(utf8_case_equal("\xC3\x9F", "SS"));
	/* Latin Extended-A: ł/Ł (0141/0142, odd upper), ő/Ő (0150/0151, even upper) */
	assert_true(utf8_case_equal("\xC5\x82", "\xC5\x81"));
	assert_true(utf8_case_equal("\xC5\x91", "\xC5\x90"));
	assert_true(utf8_case_equal("\xC5\xBE", "\xC5\xBD")); /* ž/Ž */
	/* dotless i and long s are not folded onto ASCII */
	assert_false(utf8_case_equal("\xC4\xB1", "I"));
	assert_false(utf8_case_equal("\xC5\xBF", "S"));
	/* Greek: σ, ς and Σ; ά/Ά; ώ/Ώ */
	assert_true(utf8_case_equal("\xCF\x83", "\xCE\xA3"));
	assert_true(utf8_case_equal("\xCF\x82", "\xCE\xA3"));
	assert_true(utf8_case_equal("\xCE\xAC", "\xCE\x86"));
	assert_true(utf8_case_equal("\xCF\x8E", "\xCE\x8F"));
	/* Cyrillic: я/Я, ё/Ё, ґ/Ґ (0491/0490) */
	assert_true(utf8_case_equal("\xD1\x8F", "\xD0\xAF"));
	assert_true(utf8_case_equal("\xD1\x91", "\xD0\x81"));
	assert_true(utf8_case_equal("\xD2\x91", "\xD2\x90"));
	/* outside the covered blocks nothing folds (emoji, CJK) but equality still holds */
	assert_true(utf8_case_equal("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"));
	assert_false(utf8_case_equal("\xE4\xB8\xAD", "\xE4\xB8\xAE"));
	/* invalid input never equals anything */
	assert_false(utf8_case_equal("a\x80", "a\x80"));
	assert_false(utf8_case_equal("a", "a\x80"));

	char *u = utf8_upper("abc\xC3\xA9\xC3\xBF\xCF\x82\xD1\x8F-z");
	assert_string_equal(u, "ABC\xC3\x89\xC5\xB8\xCE\xA3\xD0\xAF-Z");
	free(u);
	/* upper-casing is idempotent for every BMP code point */
	for (uint32_t cp = 1; cp < 0x10000; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		char s[5];
		s[ref_utf8(cp, s)] = 0;
		char *a = utf8_upper(s);
		assert_non_null(a);
		char *b = utf8_upper(a);
		assert_string_equal(a, b);
		assert_true(utf8_case_equal(s, a));
		free(a);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_known),
	    cmocka_unit_test(t_empty),
	    cmocka_unit_test(t_random_roundtrip),
	    cmocka_unit_test(t_bad_utf16),
	    cmocka_unit_test(t_bad_utf8),
	    cmocka_unit_test(t_wr_utf16_fixed),
	    cmocka_unit_test(t_case),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
