/* SPNEGO (RFC 4178, MS-SPNG) as used by SMB2 SESSION_SETUP: the negotiate-time hint, and the
 * negTokenInit / negTokenResp exchange wrapping NTLMSSP. DER is parsed with the bounds-checked
 * cursor; every length is checked against its enclosing element. */
#ifndef SHOAL_AUTH_SPNEGO_H
#define SHOAL_AUTH_SPNEGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ntlmssp.h"

/* The security blob of the NEGOTIATE response: a GSS-API wrapped negTokenInit that lists the
 * mechanisms shoal accepts (NTLMSSP; Kerberos later). malloc'ed. */
int spnego_negotiate_hint(uint8_t **out, size_t *outlen);

/* One SPNEGO server context per SMB2 session setup exchange. */
struct spnego_server;
struct spnego_server *spnego_server_new(const struct ntlmssp_server_cfg *cfg);
void spnego_server_free(struct spnego_server *s);
/* Feeds the client's security buffer (negTokenInit, negTokenResp, or a raw NTLMSSP message, which
 * some clients send without SPNEGO). Returns 1 with *out to send with
 * STATUS_MORE_PROCESSING_REQUIRED, 0 when authenticated (*out may hold the final negTokenResp,
 * accept-completed, with mechListMIC when the client sent one), -EACCES for bad credentials,
 * -EINVAL for malformed input or a mechanism shoal does not offer, -ENOMEM. */
int spnego_server_step(struct spnego_server *s, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen);
struct ntlmssp_server *spnego_server_ntlmssp(struct spnego_server *s);

/* Client side (used by the client library). */
struct spnego_client;
struct spnego_client *spnego_client_new(const struct ntlmssp_client_cfg *cfg);
void spnego_client_free(struct spnego_client *c);
/* First call with in == NULL (or the server's hint) -> negTokenInit carrying NTLMSSP NEGOTIATE.
 * Returns 1 while more rounds follow, 0 when the exchange is complete on the client side. */
int spnego_client_step(struct spnego_client *c, const uint8_t *in, size_t inlen, uint8_t **out,
		       size_t *outlen);
struct ntlmssp_client *spnego_client_ntlmssp(struct spnego_client *c);

#endif
