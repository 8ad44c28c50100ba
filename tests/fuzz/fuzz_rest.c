/* The REST API's own request handling and rendering (src/mgmt; libmicrohttpd parses the HTTP
 * itself): the ?format= value and the Accept header choose a format, and documents holding
 * client-supplied strings (user, domain and workstation names come from NTLMSSP, client names
 * from the network) are rendered as JSON, CSV, YAML and XML.
 *
 * Input: ACCEPT NUL FORMAT NUL DOC, where DOC is JSON text (any value, NULs allowed in
 * strings). When DOC does not parse, the rest of the input becomes the user and client names of
 * a document shaped like GET /rest/status/sessions. Checks: the chosen format is a known one;
 * JSON output parses back to the same document; YAML and XML output carry no control
 * character that their grammars forbid (YAML 1.2 5.1 printable set; XML 1.0 Char). */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "mgmt/format.h"

/* C0 controls other than TAB, LF and CR are in neither grammar; DEL is allowed in XML 1.0
 * but not in YAML's printable set. */
static void no_controls(const char *text, size_t len, bool yaml)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		FUZZ_CHECK(ch >= 0x20 || ch == '\t' || ch == '\n' || ch == '\r');
		FUZZ_CHECK(!yaml || ch != 0x7f);
	}
}

static void render_all(const json_t *doc)
{
	for (int f = MGMT_FMT_JSON; f <= MGMT_FMT_XML; f++) {
		size_t len = 0;
		char *text = mgmt_fmt_render(doc, (enum mgmt_fmt)f, "items", &len);
		if (!text)
			continue; /* out of memory, or a document jansson cannot dump */
		FUZZ_CHECK(strlen(text) <= len);
		if (f == MGMT_FMT_JSON) {
			json_error_t e;
			json_t *back = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
			FUZZ_CHECK(back != NULL);
			FUZZ_CHECK(json_equal(back, doc));
			json_decref(back);
		} else if (f == MGMT_FMT_YAML || f == MGMT_FMT_XML) {
			FUZZ_CHECK(strlen(text) == len); /* no NUL in the output */
			no_controls(text, len, f == MGMT_FMT_YAML);
		}
		free(text);
	}
}

/* The next NUL-terminated field of the input, or the rest of it. */
static const char *field(const uint8_t **p, size_t *n, size_t *flen)
{
	const uint8_t *nul = memchr(*p, 0, *n);
	const char *start = (const char *)*p;
	*flen = nul ? (size_t)(nul - *p) : *n;
	size_t used = nul ? *flen + 1 : *n;
	*p += used;
	*n -= used;
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t n = size, alen, flen, dlen;
	const char *accept = field(&p, &n, &alen);
	const char *fmt = field(&p, &n, &flen);
	const char *doc_text = field(&p, &n, &dlen);
	char *a = strndup(accept, alen), *fm = strndup(fmt, flen);
	if (!a || !fm) {
		free(a);
		free(fm);
		return 0;
	}
	enum mgmt_fmt af = mgmt_fmt_from_accept(a);
	FUZZ_CHECK(af >= MGMT_FMT_JSON && af <= MGMT_FMT_XML);
	FUZZ_CHECK(mgmt_fmt_mime(af) != NULL);
	int pf = mgmt_fmt_parse(fm);
	FUZZ_CHECK(pf >= -1 && pf <= MGMT_FMT_XML);
	free(a);
	free(fm);

	json_error_t e;
	json_t *doc = json_loadb(doc_text, dlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!doc) {
		/* the names as they would arrive: any UTF-8 the decoders let through */
		size_t half = dlen / 2;
		json_t *s = json_pack("{s:I, s:s%, s:s%, s:s, s:b}", "id", (json_int_t)dlen, "user",
				      doc_text, half, "client", doc_text + half, dlen - half,
				      "dialect", "3.1.1", "signed", 1);
		doc = s ? json_pack("{s:[o]}", "sessions", s) : NULL;
	}
	if (doc)
		render_all(doc);
	json_decref(doc);
	return 0;
}
