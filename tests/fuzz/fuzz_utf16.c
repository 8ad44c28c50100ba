/* UTF-16LE <-> UTF-8 conversion (src/lib/utf16.h) on arbitrary bytes, both directions, with the
 * round trips that the header promises: a name that converts one way converts back to the same
 * bytes (no silent replacement, so two wire names never map to one file name), and the length
 * helpers agree with the converters. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "lib/utf16.h"

static void from_utf16(const uint8_t *data, size_t size)
{
	size &= ~(size_t)1;
	char *s = NULL;
	int rc = utf16le_to_utf8(data, size, &s);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc != 0)
		return;
	FUZZ_CHECK(s != NULL);
	uint8_t *back = NULL;
	size_t n = 0;
	FUZZ_CHECK(utf8_to_utf16le(s, &back, &n) == 0);
	FUZZ_CHECK(n == size && (n == 0 || memcmp(back, data, n) == 0));
	FUZZ_CHECK(utf16_len(s) == (long)size);
	FUZZ_CHECK(utf8_case_equal(s, s));
	char *up = utf8_upper(s);
	FUZZ_CHECK(up != NULL);
	FUZZ_CHECK(utf8_case_equal(s, up));
	free(up);
	free(back);
	free(s);
}

static void from_utf8(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	uint8_t *u = NULL;
	size_t n = 0;
	int rc = utf8_to_utf16le(s, &u, &n);
	long len = utf16_len(s);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_CHECK(len == (long)n && n % 2 == 0);
		char *back = NULL;
		FUZZ_CHECK(utf16le_to_utf8(u, n, &back) == 0);
		FUZZ_CHECK(strcmp(back, s) == 0);
		free(back);
		struct wr w;
		wr_init(&w, 0);
		FUZZ_CHECK(wr_utf16(&w, s) == (long)n);
		FUZZ_CHECK(w.len == n && (n == 0 || memcmp(w.p, u, n) == 0));
		wr_free(&w);
		free(u);
	} else if (rc == -EINVAL) {
		FUZZ_CHECK(len == -EINVAL);
		FUZZ_CHECK(utf8_upper(s) == NULL);
		FUZZ_CHECK(!utf8_case_equal(s, s));
	}
	/* the two halves of the input compared case-insensitively: symmetric */
	size_t half = strlen(s) / 2;
	char *b = strdup(s + half);
	if (b) {
		s[half] = '\0';
		FUZZ_CHECK(utf8_case_equal(s, b) == utf8_case_equal(b, s));
		free(b);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	from_utf16(data, size);
	from_utf8(data, size);
	return 0;
}
