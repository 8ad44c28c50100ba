/* The request path behind decryption: the same session as smb2_session (3.1.1, AES-128-GCM
 * negotiated), and one arbitrary chain that arrives encrypted under the session's key, so the
 * checks that apply only to decrypted messages (3.3.5.2.1.1: the inner SessionIds, related
 * chains, compounds inside a transform) and the encryption of the response are reached, which
 * fuzzing the transform bytes themselves cannot do (the tag would never verify).
 *
 * Input: the plaintext chain, SessionId 1 standing for the session as in smb2_session. The
 * encrypted response is decrypted with the session's server-to-client key and must be a well
 * framed chain whose messages all carry the session's id. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smb2_fixture.h"

#define TF_LEN 52

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smb2_fz f;
	FUZZ_CHECK(smb2_fz_begin(&f) && smb2_fz_open_all(&f));
	FUZZ_CHECK(f.c->nsessions == 1 && smb2_conn_can_encrypt(f.c));
	/* the keys are copied: a LOGOFF in the chain frees the session */
	uint8_t enc_key[32], dec_key[32];
	memcpy(enc_key, f.c->sessions[0]->enc_key, 32);
	memcpy(dec_key, f.c->sessions[0]->dec_key, 32);
	enum smb2_cipher cipher = f.c->cipher;
	uint8_t *frame = malloc(TF_LEN + size + 1);
	FUZZ_CHECK(frame != NULL);
	memcpy(frame + TF_LEN, data, size);
	smb2_fz_patch_session(&f, frame + TF_LEN, size);
	/* 2.2.41: ProtocolId, Signature, Nonce (12 bytes used by GCM), OriginalMessageSize,
	   Reserved, Flags = Encrypted, SessionId */
	memset(frame, 0, TF_LEN);
	put_le32(frame, SMB2_TRANSFORM_ID);
	put_le64(frame + 20, 0x5eed);
	put_le32(frame + 36, (uint32_t)size);
	put_le16(frame + 42, 1);
	put_le64(frame + 44, f.session_id);
	struct iovec iov = {frame + TF_LEN, size};
	FUZZ_CHECK(smb2_aead_encrypt(cipher, dec_key, frame + 20, frame + 20, 32, &iov, 1,
				     frame + 4) == 0);
	struct wr r;
	uint32_t st;
	int rc = smb2_fz_input_resp(&f, frame, TF_LEN + size, &st, &r);
	if (rc == 0 && r.len > 0) {
		/* what the client receives: a transform, which decrypts to a framed chain */
		FUZZ_CHECK(r.len > TF_LEN && get_le32(r.p) == SMB2_TRANSFORM_ID);
		FUZZ_CHECK(get_le64(r.p + 44) == f.session_id);
		FUZZ_CHECK(get_le32(r.p + 36) == r.len - TF_LEN);
		struct iovec riov = {r.p + TF_LEN, r.len - TF_LEN};
		FUZZ_CHECK(smb2_aead_decrypt(cipher, enc_key, r.p + 20, r.p + 20, 32, &riov,
					     1, r.p + 4) == 0);
		smb2_fz_check_chain(r.p + TF_LEN, r.len - TF_LEN, f.session_id);
	}
	wr_free(&r);
	free(frame);
	smb2_fz_end(&f);
	return 0;
}
