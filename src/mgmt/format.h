/* Writers of the management API's documents in the formats a client may ask for.
 *
 * A document is a jansson value: objects, arrays and scalars. JSON, YAML and XML render any
 * document; CSV renders the first array member of the top-level object (a list of flat records,
 * the shape every status resource has), one record a row, columns in the first record's order. */
#ifndef SHOAL_MGMT_FORMAT_H
#define SHOAL_MGMT_FORMAT_H

#include <jansson.h>

enum mgmt_fmt { MGMT_FMT_JSON, MGMT_FMT_CSV, MGMT_FMT_YAML, MGMT_FMT_XML };

/* "json", "csv", "yaml" (or "yml"), "xml", any case; -1 if unknown. */
int mgmt_fmt_parse(const char *name);
/* The format named by an HTTP Accept header: the first of the known media types it lists, JSON
 * when it lists none (or is NULL). */
enum mgmt_fmt mgmt_fmt_from_accept(const char *accept);
const char *mgmt_fmt_mime(enum mgmt_fmt f);
/* The rendered text, NUL-terminated and malloc'd (free it), its length in *len; NULL when out
 * of memory. XML's root element is named root, except that a document of one member is that
 * member, under its own name. */
char *mgmt_fmt_render(const json_t *doc, enum mgmt_fmt f, const char *root, size_t *len);

#endif
