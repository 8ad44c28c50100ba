/* The SMB2 request path after a valid 3.1.1 NEGOTIATE (message id 0): one arbitrary frame,
 * which reaches SESSION_SETUP and its SPNEGO/NTLMSSP decoders, the checks every later command
 * passes through (credits, session and tree lookup), ECHO and the transform header. Message
 * id 1 is the next valid one. */
#include "fuzz.h"
#include "smb2_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smb2_fz f;
	if (smb2_fz_begin(&f) && smb2_fz_negotiate(&f))
		(void)smb2_fz_input(&f, data, size, NULL);
	smb2_fz_end(&f);
	return 0;
}
