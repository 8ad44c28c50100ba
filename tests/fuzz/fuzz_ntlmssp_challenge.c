/* NTLMSSP client: after its NEGOTIATE, arbitrary bytes as the server's CHALLENGE_MESSAGE
 * (MS-NLMP 2.2.1.2), including the AV_PAIR list of its TargetInfo. A hostile server must not
 * be able to crash the client library. */
#include "fuzz.h"
#include "lib/log.h"
#include "ntlm_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1);
	struct ntlmssp_client *c = ntlmssp_client_new(&fuzz_client_cfg);
	uint8_t *neg = NULL, *auth = NULL;
	size_t neglen = 0, authlen = 0;
	if (!c || ntlmssp_client_step(c, NULL, 0, &neg, &neglen) != 1)
		goto out;
	int rc = ntlmssp_client_step(c, data, size, &auth, &authlen);
	FUZZ_CHECK(fuzz_auth_rc_ok(rc) && rc != 1);
	if (rc == 0) {
		FUZZ_CHECK(auth && authlen >= 64 && !memcmp(auth, "NTLMSSP\0\3\0\0\0", 12));
		FUZZ_CHECK(ntlmssp_client_session_key(c) && ntlmssp_client_keys(c));
	}
out:
	free(neg);
	free(auth);
	ntlmssp_client_free(c);
	return 0;
}
