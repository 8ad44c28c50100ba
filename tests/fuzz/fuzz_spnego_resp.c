/* SPNEGO server, second message: a valid negTokenInit with an NTLMSSP NEGOTIATE from the real
 * client side, then arbitrary bytes as the negTokenResp that should carry the AUTHENTICATE
 * (and the mechListMIC). */
#include "auth/spnego.h"
#include "fuzz.h"
#include "lib/log.h"
#include "ntlm_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1);
	struct spnego_server *s = spnego_server_new(&fuzz_server_cfg);
	struct spnego_client *c = spnego_client_new(&fuzz_client_cfg);
	uint8_t *init = NULL, *chal = NULL, *out = NULL;
	size_t initlen = 0, chlen = 0, outlen = 0;
	if (!s || !c || spnego_client_step(c, NULL, 0, &init, &initlen) != 1 ||
	    spnego_server_step(s, init, initlen, &chal, &chlen) != 1)
		goto out;
	int rc = spnego_server_step(s, data, size, &out, &outlen);
	FUZZ_CHECK(fuzz_auth_rc_ok(rc));
	if (rc == 0)
		FUZZ_CHECK(spnego_server_ntlmssp(s) != NULL);
out:
	free(init);
	free(chal);
	free(out);
	spnego_client_free(c);
	spnego_server_free(s);
	return 0;
}
