/* The NT security descriptor decoder (src/sec/secdesc.h) on arbitrary bytes: what decodes must
 * re-encode to a descriptor that decodes to an equal one of the same size, and the access check
 * and inheritance must run on it without reading outside what was decoded. */
#include <errno.h>

#include "fuzz.h"
#include "sec/secdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sec_desc *sd, *back, *child;
	if (sec_desc_decode(data, size, &sd) != 0)
		return 0;
	struct wr w;
	wr_init(&w, 0);
	sec_desc_encode(sd, SEC_INFO_ALL, &w);
	FUZZ_CHECK(wr_ok(&w));
	FUZZ_CHECK(w.len == sec_desc_encoded_len(sd, SEC_INFO_ALL));
	FUZZ_CHECK(sec_desc_decode(w.p, w.len, &back) == 0);
	FUZZ_CHECK(sec_desc_equal(sd, back));
	sec_desc_free(back);
	wr_free(&w);
	struct sec_token t = {0};
	sec_token_add(&t, &sec_sid_world);
	if (sd->has_owner)
		sec_token_add(&t, &sd->owner);
	uint32_t m = sec_access_maximal(sd, &t);
	FUZZ_CHECK(!(m & (SEC_GENERIC_BITS | SEC_MAXIMUM_ALLOWED | SEC_ACCESS_SYSTEM_SECURITY)));
	for (int dir = 0; dir < 2; dir++) {
		int rc = sec_inherit(sd, NULL, dir, &sec_sid_system, &sec_sid_world, &child);
		FUZZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
		if (rc == 1) {
			FUZZ_CHECK(child->dacl != NULL);
			sec_desc_free(child);
		}
	}
	sec_desc_free(sd);
	return 0;
}
