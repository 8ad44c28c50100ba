/* The SMB2 request path with an authenticated session: NEGOTIATE, an NTLMv2 SESSION_SETUP,
 * TREE_CONNECT to the share "test" (TreeId 1) and to IPC$ (TreeId 2), and CREATEs of "a.txt",
 * of the share root and of the srvsvc pipe; then one arbitrary frame, so that every command's
 * request parser is reached (CREATE contexts, READ/WRITE, QUERY/SET_INFO classes, IOCTLs,
 * QUERY_DIRECTORY patterns, LOCK elements, named pipe writes into DCE/RPC).
 *
 * A SessionId of 1 in any message of the chain stands for the session; message ids start at 8;
 * the FileIds of the three opens are the same on every run (printed when SHOAL_FUZZ_IDS is
 * set, for writing seeds). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smb2_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smb2_fz f;
	if (smb2_fz_begin(&f) && smb2_fz_open_all(&f)) {
		if (getenv("SHOAL_FUZZ_IDS"))
			printf("file %llx/%llx dir %llx/%llx pipe %llx/%llx\n",
			       (unsigned long long)f.file_id[0], (unsigned long long)f.file_id[1],
			       (unsigned long long)f.dir_id[0], (unsigned long long)f.dir_id[1],
			       (unsigned long long)f.pipe_id[0], (unsigned long long)f.pipe_id[1]);
		uint8_t *frame = malloc(size ? size : 1);
		if (frame) {
			memcpy(frame, data, size);
			smb2_fz_patch_session(&f, frame, size);
			(void)smb2_fz_input(&f, frame, size, NULL);
			free(frame);
		}
	} else {
		/* the fixture itself must work, or the target tests nothing */
		FUZZ_CHECK(!"session fixture failed");
	}
	smb2_fz_end(&f);
	return 0;
}
