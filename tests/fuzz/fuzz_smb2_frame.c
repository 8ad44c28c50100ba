/* The whole SMB2 request path (smb2_conn_input, src/smb2/smb2.h) on a fresh connection: one
 * arbitrary frame (the bytes after the 4-byte Direct TCP header), which may be an SMB1
 * NEGOTIATE, an SMB2 NEGOTIATE with contexts, a compound chain or a transform message. The
 * connection must answer with a well-framed response or ask to be dropped. */
#include "fuzz.h"
#include "smb2_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smb2_fz f;
	if (smb2_fz_begin(&f))
		(void)smb2_fz_input(&f, data, size, NULL);
	smb2_fz_end(&f);
	return 0;
}
