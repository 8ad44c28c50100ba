/* SPNEGO server (RFC 4178, MS-SPNG), first message: arbitrary bytes as the client's first
 * security buffer of SESSION_SETUP (a GSS-API wrapped negTokenInit, a negTokenResp out of
 * order, or a raw NTLMSSP message). */
#include "auth/spnego.h"
#include "fuzz.h"
#include "lib/log.h"
#include "ntlm_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1);
	struct spnego_server *s = spnego_server_new(&fuzz_server_cfg);
	if (!s)
		return 0;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int rc = spnego_server_step(s, data, size, &out, &outlen);
	FUZZ_CHECK(fuzz_auth_rc_ok(rc));
	if (rc == 1)
		FUZZ_CHECK(out && outlen > 0);
	free(out);
	spnego_server_free(s);
	return 0;
}
