/* NTLMSSP server, second message: a valid NEGOTIATE from the client side, then arbitrary bytes
 * as the AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3), which must be refused cleanly unless it is an
 * anonymous logon (the challenge is random, so no NTLMv2 response can verify). */
#include "fuzz.h"
#include "lib/log.h"
#include "ntlm_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1);
	struct ntlmssp_server *s = ntlmssp_server_new(&fuzz_server_cfg);
	struct ntlmssp_client *c = ntlmssp_client_new(&fuzz_client_cfg);
	uint8_t *neg = NULL, *chal = NULL, *out = NULL;
	size_t neglen = 0, chlen = 0, outlen = 0;
	if (!s || !c || ntlmssp_client_step(c, NULL, 0, &neg, &neglen) != 1 ||
	    ntlmssp_server_step(s, neg, neglen, &chal, &chlen) != 1)
		goto out;
	int rc = ntlmssp_server_step(s, data, size, &out, &outlen);
	FUZZ_CHECK(fuzz_auth_rc_ok(rc) && rc != 1);
	if (rc == 0) {
		FUZZ_CHECK(ntlmssp_server_user(s) && ntlmssp_server_domain(s));
		FUZZ_CHECK(ntlmssp_server_session_key(s) && ntlmssp_server_keys(s));
		/* sign a message with the keys just derived (an anonymous context may refuse) */
		uint8_t sig[16];
		(void)ntlmssp_sign(ntlmssp_server_keys(s), true, data, size, sig);
	}
	/* a third message: out of order after a success; after a refusal any answer will do,
	   but it must be a clean one */
	uint8_t *more = NULL;
	size_t morelen = 0;
	int rc3 = ntlmssp_server_step(s, data, size, &more, &morelen);
	FUZZ_CHECK(fuzz_auth_rc_ok(rc3) && (rc != 0 || rc3 < 0));
	free(more);
out:
	free(neg);
	free(chal);
	free(out);
	ntlmssp_client_free(c);
	ntlmssp_server_free(s);
	return 0;
}
