/* Document writers of the management API: JSON (jansson), CSV (RFC 4180), YAML 1.2 block style
 * with every string double-quoted (so no value can turn into another type), and XML 1.0. */
#include "mgmt/format.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mgmt_fmt_parse(const char *name)
{
	if (!name)
		return -1;
	if (!strcasecmp(name, "json"))
		return MGMT_FMT_JSON;
	if (!strcasecmp(name, "csv"))
		return MGMT_FMT_CSV;
	if (!strcasecmp(name, "yaml") || !strcasecmp(name, "yml"))
		return MGMT_FMT_YAML;
	if (!strcasecmp(name, "xml"))
		return MGMT_FMT_XML;
	return -1;
}

enum mgmt_fmt mgmt_fmt_from_accept(const char *accept)
{
	static const struct {
		const char *type;
		enum mgmt_fmt f;
	} types[] = {
	    {"application/json", MGMT_FMT_JSON}, {"text/csv", MGMT_FMT_CSV},
	    {"application/yaml", MGMT_FMT_YAML}, {"application/x-yaml", MGMT_FMT_YAML},
	    {"text/yaml", MGMT_FMT_YAML},	 {"application/xml", MGMT_FMT_XML},
	    {"text/xml", MGMT_FMT_XML},
	};
	const char *best = NULL;
	enum mgmt_fmt f = MGMT_FMT_JSON;
	for (size_t i = 0; accept && i < sizeof(types) / sizeof(types[0]); i++) {
		const char *at = strcasestr(accept, types[i].type);
		if (at && (!best || at < best)) {
			best = at;
			f = types[i].f;
		}
	}
	return f;
}

const char *mgmt_fmt_mime(enum mgmt_fmt f)
{
	switch (f) {
	case MGMT_FMT_CSV:
		return "text/csv; charset=utf-8";
	case MGMT_FMT_YAML:
		return "application/yaml; charset=utf-8";
	case MGMT_FMT_XML:
		return "application/xml; charset=utf-8";
	default:
		return "application/json";
	}
}

/* Scalars as text, for CSV cells and XML content; nested values as compact JSON. */
static void put_plain(FILE *f, const json_t *v)
{
	char *s;
	switch (json_typeof(v)) {
	case JSON_STRING:
		fwrite(json_string_value(v), 1, json_string_length(v), f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_NULL:
		break;
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s)
			fputs(s, f);
		free(s);
	}
}

/* ---- CSV ---- */

static void csv_text(FILE *f, const char *text, size_t len)
{
	bool quote = len && (strpbrk(text, ",\"\r\n") || text[0] == ' ' || text[len - 1] == ' ');
	if (!quote) {
		fwrite(text, 1, len, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"')
			fputc('"', f);
		fputc(text[i], f);
	}
	fputc('"', f);
}

static void csv_cell(FILE *f, const json_t *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		return;
	if (v)
		put_plain(m, v);
	fclose(m);
	csv_text(f, text, len);
	free(text);
}

static void write_csv(FILE *f, const json_t *doc)
{
	const json_t *rows = NULL, *v;
	const char *key;
	json_object_foreach((json_t *)doc, key, v)
	{
		if (json_is_array(v)) {
			rows = v;
			break;
		}
	}
	const json_t *first = rows ? json_array_get(rows, 0) : NULL;
	if (!json_is_object(first))
		return;
	bool sep = false;
	json_object_foreach((json_t *)first, key, v)
	{
		if (sep)
			fputc(',', f);
		csv_text(f, key, strlen(key));
		sep = true;
	}
	fputs("\r\n", f);
	size_t i;
	const json_t *row;
	json_array_foreach(rows, i, row)
	{
		sep = false;
		json_object_foreach((json_t *)first, key, v)
		{
			if (sep)
				fputc(',', f);
			csv_cell(f, json_object_get(row, key));
			sep = true;
		}
		fputs("\r\n", f);
	}
}

/* ---- YAML ---- */

static void yaml_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void yaml_scalar(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		yaml_string(f, json_string_value(v), json_string_length(v));
	else if (json_is_null(v))
		fputs("null", f);
	else
		put_plain(f, v);
}

static bool is_empty(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static void yaml_node(FILE *f, const json_t *v, int indent, bool after_dash);

/* Identifier keys go bare, as people write YAML; anything else is quoted. */
static void yaml_key(FILE *f, const char *key)
{
	bool bare = isalpha((unsigned char)key[0]) || key[0] == '_';
	for (const char *k = key; bare && *k; k++)
		bare = isalnum((unsigned char)*k) || *k == '_';
	if (bare)
		fputs(key, f);
	else
		yaml_string(f, key, strlen(key));
	fputc(':', f);
}

/* A mapping; after_dash: the first line follows a "- " already written. */
static void yaml_object(FILE *f, const json_t *obj, int indent, bool after_dash)
{
	const char *key;
	const json_t *v;
	bool first = true;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (!(first && after_dash))
			fprintf(f, "%*s", indent, "");
		first = false;
		yaml_key(f, key);
		if (json_is_object(v) || json_is_array(v)) {
			if (is_empty(v)) {
				fputs(json_is_object(v) ? " {}\n" : " []\n", f);
				continue;
			}
			fputc('\n', f);
			yaml_node(f, v, indent + 2, false);
		} else {
			fputc(' ', f);
			yaml_scalar(f, v);
			fputc('\n', f);
		}
	}
}

static void yaml_node(FILE *f, const json_t *v, int indent, bool after_dash)
{
	size_t i;
	const json_t *item;
	if (json_is_object(v) && !is_empty(v)) {
		yaml_object(f, v, indent, after_dash);
	} else if (json_is_array(v) && !is_empty(v)) {
		json_array_foreach(v, i, item)
		{
			if (!(i == 0 && after_dash))
				fprintf(f, "%*s", indent, "");
			fputs("- ", f);
			yaml_node(f, item, indent + 2, true);
		}
	} else {
		if (!after_dash)
			fprintf(f, "%*s", indent, "");
		if (is_empty(v))
			fputs(json_is_object(v) ? "{}" : "[]", f);
		else
			yaml_scalar(f, v);
		fputc('\n', f);
	}
}

/* ---- XML ---- */

static void xml_text(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '&')
			fputs("&amp;", f);
		else if (ch == '<')
			fputs("&lt;", f);
		else if (ch == '>')
			fputs("&gt;", f);
		else if (ch == '"')
			fputs("&quot;", f);
		else if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
			fputs("\xef\xbf\xbd", f); /* not allowed in XML 1.0 at all: U+FFFD */
		else
			fputc(ch, f);
	}
}

/* A key as an element name: [A-Za-z_][A-Za-z0-9_.-]*, other characters become '_'. */
static void xml_name(char *out, size_t outlen, const char *key)
{
	size_t n = 0;
	if (!isalpha((unsigned char)key[0]) && key[0] != '_')
		out[n++] = '_';
	for (const char *k = key; *k && n + 1 < outlen; k++)
		out[n++] = (isalnum((unsigned char)*k) || strchr("_.-", *k)) ? *k : '_';
	out[n] = 0;
}

/* The element name of an array's items: "sessions" -> "session", else "item". */
static void xml_item_name(char *out, size_t outlen, const char *list)
{
	size_t n = strlen(list);
	if (n > 1 && list[n - 1] == 's' && n <= outlen) {
		memcpy(out, list, n - 1);
		out[n - 1] = 0;
	} else {
		snprintf(out, outlen, "item");
	}
}

static void xml_elem(FILE *f, const char *name, const json_t *v, int depth)
{
	char child[128];
	const char *key;
	const json_t *c;
	size_t i;
	fprintf(f, "%*s", 2 * depth, "");
	if (json_is_null(v) || is_empty(v)) {
		fprintf(f, "<%s/>\n", name);
		return;
	}
	if (json_is_object(v)) {
		fprintf(f, "<%s>\n", name);
		json_object_foreach((json_t *)v, key, c)
		{
			xml_name(child, sizeof(child), key);
			xml_elem(f, child, c, depth + 1);
		}
	} else if (json_is_array(v)) {
		fprintf(f, "<%s>\n", name);
		xml_item_name(child, sizeof(child), name);
		json_array_foreach(v, i, c) xml_elem(f, child, c, depth + 1);
	} else {
		fprintf(f, "<%s>", name);
		if (json_is_string(v))
			xml_text(f, json_string_value(v), json_string_length(v));
		else
			put_plain(f, v);
		fprintf(f, "</%s>\n", name);
		return;
	}
	fprintf(f, "%*s</%s>\n", 2 * depth, "", name);
}

/* ---- entry ---- */

char *mgmt_fmt_render(const json_t *doc, enum mgmt_fmt fmt, const char *root, size_t *len)
{
	char *text = NULL, *js, rootname[128];
	bool ok = true;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	switch (fmt) {
	case MGMT_FMT_CSV:
		write_csv(f, doc);
		break;
	case MGMT_FMT_YAML:
		fputs("---\n", f);
		yaml_node(f, doc, 0, false);
		break;
	case MGMT_FMT_XML:
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
		/* {"sessions": [...]} is <sessions><session>...</session></sessions>, not one
		   level deeper under another root */
		if (json_is_object(doc) && json_object_size(doc) == 1) {
			const char *key = json_object_iter_key(json_object_iter((json_t *)doc));
			xml_name(rootname, sizeof(rootname), key);
			xml_elem(f, rootname, json_object_get(doc, key), 0);
		} else {
			xml_name(rootname, sizeof(rootname), root);
			xml_elem(f, rootname, doc, 0);
		}
		break;
	default:
		js = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (js)
			fprintf(f, "%s\n", js);
		else
			ok = false;
		free(js);
	}
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad || !ok) {
		free(text);
		return NULL;
	}
	return text;
}
