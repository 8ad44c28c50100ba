/* The DER reader (src/auth/asn1.h) on arbitrary bytes: every element is walked as a tree with
 * an explicit stack (constructed tags are descended into), and each element read must lie
 * inside its parent, account for every byte it consumed, and re-encode through the writer to
 * the same contents. */
#include <string.h>

#include "auth/asn1.h"
#include "fuzz.h"

#define MAX_DEPTH 64

static void check_element(const struct rd *parent, size_t start, uint8_t tag, const struct rd *val,
			  const struct rd *whole)
{
	/* the element lies inside the parent and starts where the cursor was */
	FUZZ_CHECK(whole->p == parent->p + start);
	FUZZ_CHECK(whole->len == parent->off - start);
	FUZZ_CHECK(val->p >= whole->p && val->p + val->len == whole->p + whole->len);
	FUZZ_CHECK(whole->len >= 2 + val->len);
	FUZZ_CHECK(whole->p[0] == tag);
	/* re-encoding gives the same contents; the header is as long or shorter (DER's minimal
	   length form, where the reader also takes the longer forms) */
	struct wr w;
	wr_init(&w, 0);
	asn1_put(&w, tag, val->p, val->len);
	FUZZ_CHECK(wr_ok(&w));
	FUZZ_CHECK(w.len <= whole->len);
	FUZZ_CHECK(val->len == 0 || memcmp(w.p + w.len - val->len, val->p, val->len) == 0);
	/* read back what was written */
	struct rd r = rd_make(w.p, w.len), v2;
	FUZZ_CHECK(asn1_peek(&r, tag));
	FUZZ_CHECK(asn1_expect(&r, tag, &v2) == 0 && v2.len == val->len && rd_left(&r) == 0);
	wr_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd stack[MAX_DEPTH];
	int depth = 0;
	stack[0] = rd_make(data, size);
	while (depth >= 0) {
		struct rd *r = &stack[depth];
		if (rd_left(r) == 0 || !rd_ok(r)) {
			depth--;
			continue;
		}
		size_t start = r->off;
		uint8_t tag = 0, peek = r->p[r->off];
		struct rd val, whole;
		FUZZ_CHECK(asn1_peek(r, peek));
		if (asn1_get(r, &tag, &val, &whole) < 0) {
			FUZZ_CHECK(!rd_ok(r));
			depth--;
			continue;
		}
		FUZZ_CHECK(rd_ok(r) && tag == peek);
		check_element(r, start, tag, &val, &whole);
		/* asn1_expect agrees with asn1_get, and refuses any other tag without consuming
		   past the element */
		struct rd again = rd_make(whole.p, whole.len), v2;
		FUZZ_CHECK(asn1_expect(&again, tag, &v2) == 0 && v2.len == val.len);
		again = rd_make(whole.p, whole.len);
		FUZZ_CHECK(asn1_expect(&again, (uint8_t)(tag ^ 1), &v2) < 0 && !rd_ok(&again));
		if ((tag & 0x20) && depth + 1 < MAX_DEPTH)
			stack[++depth] = val;
	}
	return 0;
}
