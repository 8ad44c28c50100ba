/* NTLMSSP (MS-NLMP), server and client side, NTLMv2 only (LM and NTLMv1 responses are refused).
 *
 * Server: feed each security blob the client sends to ntlmssp_server_step(); the first call
 * (NEGOTIATE_MESSAGE) yields a CHALLENGE_MESSAGE, the second (AUTHENTICATE_MESSAGE) verifies the
 * NTLMv2 response against the NT hash from the lookup callback, checks the MIC when present, and
 * derives the exported session key (with KEY_EXCH unwrapping). Anonymous logons (empty user and
 * empty NT response) succeed with anonymous set, and the caller decides what they may reach. */
#ifndef SHOAL_AUTH_NTLMSSP_H
#define SHOAL_AUTH_NTLMSSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* Looks up a user's NT hash (user is UTF-8 as sent, domain as sent); 0 or -ENOENT. */
typedef int (*ntlmssp_lookup_fn)(void *arg, const char *user, const char *domain,
				 uint8_t nt_hash[16]);

struct ntlmssp_server_cfg {
	const char *netbios_name;  /* "SHOAL" */
	const char *netbios_domain; /* workgroup, "WORKGROUP" */
	const char *dns_name;      /* "shoal.local" or the host name */
	const char *dns_domain;    /* "" allowed */
	ntlmssp_lookup_fn lookup;
	void *lookup_arg;
};

/* Keys of an established NTLMSSP context for SPNEGO's mechListMIC and (later) RPC sealing. */
struct ntlmssp_keys {
	uint8_t client_sign[16], server_sign[16];
	uint8_t client_seal[16], server_seal[16];
	struct crypto_rc4 client_rc4, server_rc4; /* sealing state, when KEY_EXCH/SEAL negotiated */
	uint32_t client_seq, server_seq;
	uint32_t flags; /* negotiated NTLMSSP flags */
};

struct ntlmssp_server;
struct ntlmssp_server *ntlmssp_server_new(const struct ntlmssp_server_cfg *cfg);
void ntlmssp_server_free(struct ntlmssp_server *s);
/* Returns 1 with *out = CHALLENGE (need another message), 0 when authenticated (*out = NULL),
 * -EACCES for a wrong password / unknown user / refused LM or NTLMv1, -EINVAL for a malformed or
 * out-of-order message, -ENOMEM. *out is malloc'ed; the caller frees it. */
int ntlmssp_server_step(struct ntlmssp_server *s, const uint8_t *in, size_t inlen, uint8_t **out,
			size_t *outlen);
/* After success: */
const char *ntlmssp_server_user(const struct ntlmssp_server *s);   /* UTF-8, as sent */
const char *ntlmssp_server_domain(const struct ntlmssp_server *s); /* UTF-8, as sent */
bool ntlmssp_server_anonymous(const struct ntlmssp_server *s);
/* The exported session key (16 bytes; all zeros for anonymous). */
const uint8_t *ntlmssp_server_session_key(const struct ntlmssp_server *s);
struct ntlmssp_keys *ntlmssp_server_keys(struct ntlmssp_server *s);

struct ntlmssp_client_cfg {
	const char *user;     /* UTF-8; "" for anonymous */
	const char *domain;   /* UTF-8 */
	const char *password; /* UTF-8, or NULL when nt_hash is given */
	const uint8_t *nt_hash; /* 16 bytes or NULL */
	const char *workstation;
};
struct ntlmssp_client;
struct ntlmssp_client *ntlmssp_client_new(const struct ntlmssp_client_cfg *cfg);
void ntlmssp_client_free(struct ntlmssp_client *c);
/* First call with in == NULL gives NEGOTIATE; second with the CHALLENGE gives AUTHENTICATE and
 * returns 0 (done). Returns 1 when another round follows, or a negative errno. */
int ntlmssp_client_step(struct ntlmssp_client *c, const uint8_t *in, size_t inlen, uint8_t **out,
			size_t *outlen);
const uint8_t *ntlmssp_client_session_key(const struct ntlmssp_client *c);
struct ntlmssp_keys *ntlmssp_client_keys(struct ntlmssp_client *c);

/* NTLMSSP message signature (MS-NLMP 3.4.4.2, extended session security): 16 bytes over msg
 * with the given direction's keys; advances that direction's sequence number. */
int ntlmssp_sign(struct ntlmssp_keys *k, bool from_server, const uint8_t *msg, size_t len,
		 uint8_t sig[16]);
/* Checks a signature made by the peer; 0 or -EBADMSG. Advances the peer's sequence number. */
int ntlmssp_check(struct ntlmssp_keys *k, bool from_server, const uint8_t *msg, size_t len,
		  const uint8_t sig[16]);

#endif
