/* The configuration parser (smb.conf syntax, src/lib/conf.h) on arbitrary text: it must load or
 * refuse with a "NAME:LINE: reason" message, and a loaded configuration must hold what conf.h
 * promises (IPC$ present, every other share with an absolute path). */
#include <string.h>

#include "fuzz.h"
#include "lib/conf.h"
#include "lib/log.h"

static void check_conf(const struct shoal_conf *c)
{
	FUZZ_CHECK(c->refs == 1);
	FUZZ_CHECK(c->nports >= 0 && c->nports <= 8);
	FUZZ_CHECK(c->state_dir && c->netbios_name && c->workgroup);
	FUZZ_CHECK(c->nshares >= 1);
	const struct conf_share *ipc = conf_find_share(c, "ipc$");
	FUZZ_CHECK(ipc && ipc->is_ipc);
	for (int i = 0; i < c->nshares; i++) {
		const struct conf_share *s = &c->shares[i];
		FUZZ_CHECK(s->name && s->comment);
		FUZZ_CHECK(s->is_ipc || (s->path && s->path[0] == '/'));
		FUZZ_CHECK(conf_find_share(c, s->name) != NULL);
		FUZZ_CHECK(s->nvalid_users >= 0);
		const char *const groups[] = {"users", NULL};
		(void)conf_user_allowed(s, "fuzz", groups);
	}
	for (int i = 0; c->interfaces && c->interfaces[i]; i++)
		FUZZ_CHECK(i < c->ninterfaces);
	(void)conf_protocol_name(c->min_protocol);
	(void)conf_protocol_name(c->max_protocol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(-1); /* every refusal would be logged */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct shoal_conf *c = NULL;
	char err[256] = "";
	int rc = conf_load_string(text, "fuzz", &c, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(c != NULL);
		check_conf(c);
		struct shoal_conf *again = conf_get(c);
		conf_put(again);
		conf_put(c);
	} else {
		FUZZ_CHECK(rc < 0);
		FUZZ_CHECK(err[0] != '\0');
	}
	/* the value parsers on their own, on the first line */
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	(void)conf_parse_protocol(text, true);
	(void)conf_parse_protocol(text, false);
	(void)conf_parse_dialect_version(text);
	free(text);
	return 0;
}
