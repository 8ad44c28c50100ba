/* NTLMSSP server, first message (MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE) from arbitrary bytes. An
 * accepted NEGOTIATE yields a CHALLENGE_MESSAGE, which the client side must then be able to
 * parse without failing on its own server's output. */
#include "fuzz.h"
#include "lib/log.h"
#include "ntlm_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1);
	struct ntlmssp_server *s = ntlmssp_server_new(&fuzz_server_cfg);
	if (!s)
		return 0;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int rc = ntlmssp_server_step(s, data, size, &out, &outlen);
	FUZZ_CHECK(fuzz_auth_rc_ok(rc) && rc != 0);
	if (rc == 1) {
		FUZZ_CHECK(out && outlen >= 32 && !memcmp(out, "NTLMSSP\0\2\0\0\0", 12));
		struct ntlmssp_client *c = ntlmssp_client_new(&fuzz_client_cfg);
		uint8_t *neg = NULL, *auth = NULL;
		size_t neglen = 0, authlen = 0;
		if (c && ntlmssp_client_step(c, NULL, 0, &neg, &neglen) == 1)
			FUZZ_CHECK(fuzz_auth_rc_ok(ntlmssp_client_step(c, out, outlen, &auth, &authlen)));
		free(neg);
		free(auth);
		ntlmssp_client_free(c);
	} else {
		FUZZ_CHECK(out == NULL);
	}
	free(out);
	ntlmssp_server_free(s);
	return 0;
}
