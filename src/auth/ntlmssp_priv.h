/* NTLMSSP internals shared by the server and client halves (ntlmssp.c, ntlmssp_client.c) and
 * by the unit tests, which check them against the MS-NLMP 4.2.4 examples. Not for other layers. */
#ifndef SHOAL_AUTH_NTLMSSP_PRIV_H
#define SHOAL_AUTH_NTLMSSP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ntlmssp.h"
#include "lib/buf.h"

/* NegotiateFlags (MS-NLMP 2.2.2.5) */
#define NTLMSSP_NEGOTIATE_UNICODE 0x00000001u
#define NTLMSSP_NEGOTIATE_OEM 0x00000002u
#define NTLMSSP_REQUEST_TARGET 0x00000004u
#define NTLMSSP_NEGOTIATE_SIGN 0x00000010u
#define NTLMSSP_NEGOTIATE_SEAL 0x00000020u
#define NTLMSSP_NEGOTIATE_LM_KEY 0x00000080u
#define NTLMSSP_NEGOTIATE_NTLM 0x00000200u
#define NTLMSSP_NEGOTIATE_ANONYMOUS 0x00000800u
#define NTLMSSP_NEGOTIATE_ALWAYS_SIGN 0x00008000u
#define NTLMSSP_TARGET_TYPE_DOMAIN 0x00010000u
#define NTLMSSP_TARGET_TYPE_SERVER 0x00020000u
#define NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY 0x00080000u
#define NTLMSSP_NEGOTIATE_TARGET_INFO 0x00800000u
#define NTLMSSP_NEGOTIATE_VERSION 0x02000000u
#define NTLMSSP_NEGOTIATE_128 0x20000000u
#define NTLMSSP_NEGOTIATE_KEY_EXCH 0x40000000u
#define NTLMSSP_NEGOTIATE_56 0x80000000u

/* AV_PAIR ids (MS-NLMP 2.2.2.1) */
#define MSV_AV_EOL 0
#define MSV_AV_NB_COMPUTER_NAME 1
#define MSV_AV_NB_DOMAIN_NAME 2
#define MSV_AV_DNS_COMPUTER_NAME 3
#define MSV_AV_DNS_DOMAIN_NAME 4
#define MSV_AV_FLAGS 6
#define MSV_AV_TIMESTAMP 7
#define MSV_AV_FLAG_MIC_PRESENT 0x2u

#define NTLMSSP_NEGOTIATE 1
#define NTLMSSP_CHALLENGE 2
#define NTLMSSP_AUTH 3

#define NTLMSSP_AUTH_MIC_OFF 72 /* MIC field of AUTHENTICATE_MESSAGE (2.2.1.3) */
#define NTLMSSP_AUTH_HDR_LEN 88 /* fixed part with Version and MIC */
#define NTLMV2_BLOB_HDR_LEN 28	/* NTLMv2_CLIENT_CHALLENGE up to AvPairs (2.2.2.7) */

extern const uint8_t ntlmssp_signature[8];

/* One (Len, MaxLen, BufferOffset) field's bytes, checked against the message. */
struct ntlmssp_field {
	const uint8_t *p;
	size_t len;
};

/* AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3), parsed but not yet verified. */
struct ntlmssp_auth_msg {
	struct ntlmssp_field lm, nt, domain, user, workstation, enc_key;
	uint32_t flags;
	size_t payload_start; /* lowest offset of a non-empty field: where the fixed part ends */
};

/* Reads a (Len, MaxLen, BufferOffset) triple at r and checks the range against msg. MaxLen is
 * ignored as 2.2.1.1 requires ("MUST be ignored on receipt"). 0 or -EINVAL. */
int ntlmssp_read_field(struct rd *r, const struct rd *msg, struct ntlmssp_field *f);
int ntlmssp_parse_authenticate(const uint8_t *msg, size_t len, struct ntlmssp_auth_msg *am);
/* Converts a string field to malloc'ed UTF-8: UTF-16LE when unicode, else 7-bit OEM. */
int ntlmssp_field_str(const struct ntlmssp_field *f, bool unicode, char **out);
/* Finds an AV pair in an AV_PAIR list after checking the whole list is well formed (every pair
 * inside the buffer, ending with MsvAvEOL). 0 (found: *val set), -ENOENT, or -EINVAL. Asking for
 * MSV_AV_EOL only validates: a well-formed list gives -ENOENT. */
int ntlmssp_av_find(const uint8_t *p, size_t len, uint16_t id, struct ntlmssp_field *val);

/* NTLMv2 (MS-NLMP 3.3.2): NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || blob). */
int ntlmssp_v2_proof(const uint8_t owf[16], const uint8_t server_chal[8], const uint8_t *blob,
		     size_t bloblen, uint8_t proof[16]);
/* Checks an NtChallengeResponse (NTProofStr || blob) in constant time and gives the
 * SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr). 0 or -EACCES (-EIO from the crypto layer). */
int ntlmssp_v2_verify(const uint8_t owf[16], const uint8_t server_chal[8], const uint8_t *nt,
		      size_t ntlen, uint8_t base_key[16]);
/* MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE), with the
 * AUTHENTICATE message's MIC field taken as zero. */
int ntlmssp_mic(const uint8_t key[16], const uint8_t *neg, size_t neglen, const uint8_t *chal,
		size_t challen, const uint8_t *auth, size_t authlen, uint8_t mic[16]);
/* SIGNKEY/SEALKEY (3.4.5.2, 3.4.5.3) for both directions, RC4 handles and sequence numbers. */
int ntlmssp_derive_keys(struct ntlmssp_keys *k, const uint8_t exported[16], uint32_t flags);
/* The 8-byte Version field (2.2.2.10) shoal sends. */
void ntlmssp_put_version(struct wr *w);

#endif
