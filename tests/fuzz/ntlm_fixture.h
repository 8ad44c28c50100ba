/* Configuration shared by the NTLMSSP and SPNEGO targets: the server of MS-NLMP 4.2.1's
 * examples ("Server" in "Domain"), whose lookup knows every user with the password "Password",
 * so that a fuzzed AUTHENTICATE reaches the NTLMv2 verification. */
#ifndef SHOAL_FUZZ_NTLM_FIXTURE_H
#define SHOAL_FUZZ_NTLM_FIXTURE_H

#include <errno.h>
#include <string.h>

#include "auth/ntlmssp.h"
#include "crypto/crypto.h"

static int fuzz_lookup(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	(void)arg;
	(void)domain;
	/* one unknown user, so the refusal path is reached too */
	if (!strcmp(user, "nobody"))
		return -ENOENT;
	return ntlm_nt_hash("Password", nt_hash) < 0 ? -ENOENT : 0;
}

static const struct ntlmssp_server_cfg fuzz_server_cfg = {
	.netbios_name = "SERVER",
	.netbios_domain = "DOMAIN",
	.dns_name = "server.domain.test",
	.dns_domain = "domain.test",
	.lookup = fuzz_lookup,
	.lookup_arg = NULL,
};

static const struct ntlmssp_client_cfg fuzz_client_cfg = {
	.user = "User",
	.domain = "Domain",
	.password = "Password",
	.nt_hash = NULL,
	.workstation = "COMPUTER",
};

/* The results the headers allow. */
static inline int fuzz_auth_rc_ok(int rc)
{
	return rc == 0 || rc == 1 || rc == -EACCES || rc == -EINVAL || rc == -ENOMEM;
}

#endif
