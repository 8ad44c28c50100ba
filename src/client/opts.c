/* Options, their administrator names (the [client] section and -o NAME=VALUE), and the names of
 * dialects and ciphers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_priv.h"

static const char *const cipher_names[] = {"none", "AES-128-CCM", "AES-128-GCM", "AES-256-CCM",
					   "AES-256-GCM"};

void smbc_opts_init(struct smbc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->encrypt_enabled = true;
	o->max_dialect = SMB2_DIALECT_311;
	o->min_dialect = SMB2_DIALECT_202;
}

uint16_t smbc_parse_dialect(const char *s)
{
	return conf_parse_dialect_version(s); /* one table, shared with the [client] section */
}

const char *smbc_dialect_name(uint16_t d)
{
	switch (d) {
	case SMB2_DIALECT_202:
		return "2.0.2";
	case SMB2_DIALECT_210:
		return "2.1";
	case SMB2_DIALECT_300:
		return "3.0";
	case SMB2_DIALECT_302:
		return "3.0.2";
	case SMB2_DIALECT_311:
		return "3.1.1";
	default:
		return "?";
	}
}

const char *smbc_cipher_name(uint16_t c)
{
	return c < 5 ? cipher_names[c] : "?";
}

uint16_t smbc_parse_cipher(const char *s)
{
	for (uint16_t i = 1; i < 5; i++)
		if (!strcasecmp(s, cipher_names[i]))
			return i;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* "AES-256-GCM,AES-128-CCM" (commas or spaces): the cipher preference order. */
static int parse_ciphers(const char *v, uint16_t out[4])
{
	char *copy = strdup(v), *save = NULL;
	uint16_t tmp[4] = {0};
	int n = 0, rc = 0;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		uint16_t c = smbc_parse_cipher(t);
		if (!c || n == 4) {
			rc = -EINVAL;
			break;
		}
		tmp[n++] = c;
	}
	free(copy);
	if (!rc && !n)
		rc = -EINVAL;
	if (!rc)
		memcpy(out, tmp, sizeof(tmp));
	return rc;
}

int smbc_opts_set(struct smbc_opts *o, const char *name, const char *value)
{
	if (!strcasecmp(name, "Smb3EncryptionEnabled"))
		return parse_bool(value, &o->encrypt_enabled);
	if (!strcasecmp(name, "Smb3EncryptionRequired"))
		return parse_bool(value, &o->encrypt_required);
	if (!strcasecmp(name, "SigningRequired"))
		return parse_bool(value, &o->signing_required);
	if (!strcasecmp(name, "MaxSmb2DialectVersion")) {
		uint16_t d = smbc_parse_dialect(value);
		if (!d)
			return -EINVAL;
		o->max_dialect = d;
		return 0;
	}
	if (!strcasecmp(name, "Smb3EncryptionAlgorithms"))
		return parse_ciphers(value, o->ciphers);
	return -ENOENT;
}
