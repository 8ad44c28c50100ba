/* The management REST API: the listener, the routing table and the status resources. */
#include "mgmt/rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "mgmt/format.h"

#define REST_MAX_CONNS 64
#define REST_TIMEOUT_S 30 /* an idle or stalled client is dropped after this */

struct mgmt_rest {
	struct MHD_Daemon *d;
	struct smb2_server *srv;
};

/* A GET resource: returns the document, or NULL when out of memory. root names XML's root. */
struct route {
	const char *path;
	const char *root;
	json_t *(*get)(struct smb2_server *srv);
};

static const struct route routes[] = {
    {"/rest/status/sessions", "sessions", mgmt_status_sessions},
};

/* ---- resources ---- */

/* MS-SMB2 names the dialects by version; the smb.conf name goes alongside as "protocol". */
static const char *dialect_version(uint16_t d)
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
		return NULL;
	}
}

static json_t *session_json(const struct smb2_session_status *s)
{
	char id[24];
	const char *ver = dialect_version(s->dialect);
	snprintf(id, sizeof(id), "0x%016" PRIx64, s->id);
	/* "s" of a NULL string fails the whole pack, so an unknown dialect is packed as null */
	/* encrypted: the session's traffic is, because the server requires it or because the
	   client chose to (the server then answers encrypted too, MS-SMB2 3.3.4.1.4) */
	bool encrypted = s->encrypt_data || s->encrypted_out > 0;
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:b, s:b, s:I, s:b, s:b, s:b, "
			 "s:s, s:i, s:i}",
			 "session_id", id, "user", s->user, "domain", s->domain, "client",
			 s->client, "dialect", ver ? json_string(ver) : json_null(), "protocol",
			 ver ? json_string(conf_protocol_name(s->dialect)) : json_null(), "signing",
			 s->signing, "cipher", s->cipher, "encrypted", (int)encrypted,
			 "encrypt_data", (int)s->encrypt_data, "encrypted_responses",
			 (json_int_t)s->encrypted_out, "signing_required", (int)s->signing_required,
			 "anonymous", (int)s->anonymous, "guest", (int)s->guest, "state", s->state,
			 "trees", s->ntrees, "opens", s->nopens);
}

json_t *mgmt_status_sessions(struct smb2_server *srv)
{
	struct smb2_session_status *v;
	int n = smb2_status_sessions(srv, &v);
	if (n < 0)
		return NULL;
	json_t *list = json_array(), *doc = NULL;
	for (int i = 0; list && i < n; i++) {
		json_t *o = session_json(&v[i]);
		if (!o || json_array_append_new(list, o) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	free(v);
	if (list)
		doc = json_pack("{s:o}", "sessions", list);
	return doc;
}

/* ---- HTTP ---- */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, char *text,
				 size_t len, const char *mime)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	json_t *doc = json_pack("{s:{s:i, s:s}}", "error", "status", (int)status, "message", msg);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (!text)
		return MHD_NO;
	size_t len = strlen(text);
	char *nl = realloc(text, len + 2); /* a trailing newline, as the other documents have */
	if (nl) {
		text = nl;
		text[len++] = '\n';
		text[len] = 0;
	}
	return send_text(conn, status, text, len, "application/json");
}

/* The format the client asked for: ?format= first, then Accept. -1 for an unknown ?format=. */
static int wanted_format(struct MHD_Connection *conn)
{
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
	if (q)
		return mgmt_fmt_parse(q);
	return mgmt_fmt_from_accept(
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct mgmt_rest *r = cls;
	const struct route *rt = NULL;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			rt = &routes[i];
	LOG_DBG(LOG_MGMT, "%s %s", method, url);
	if (!rt) {
		char msg[160];
		snprintf(msg, sizeof(msg), "no such resource: %.120s", url);
		return send_error(conn, MHD_HTTP_NOT_FOUND, msg);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	int fmt = wanted_format(conn);
	if (fmt < 0)
		return send_error(conn, MHD_HTTP_BAD_REQUEST,
				  "unknown format: use json, csv, yaml or xml");
	json_t *doc = rt->get(r->srv);
	size_t len = 0;
	char *text = doc ? mgmt_fmt_render(doc, fmt, rt->root, &len) : NULL;
	json_decref(doc);
	if (!text)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return send_text(conn, MHD_HTTP_OK, text, len, mgmt_fmt_mime(fmt));
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	LOG_WARN(LOG_MGMT, "libmicrohttpd: %s", msg);
}

struct mgmt_rest *mgmt_rest_start(struct smb2_server *srv, const struct shoal_conf *conf, char *err,
				  size_t errlen)
{
	err[0] = 0;
	if (conf->mgmt_off || !conf->mgmt_host)
		return NULL;
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, conf->mgmt_host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(conf->mgmt_port);
	} else if (inet_pton(AF_INET6, conf->mgmt_host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(conf->mgmt_port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "management address: bad address '%s'", conf->mgmt_host);
		return NULL;
	}
	struct mgmt_rest *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->srv = srv;
	r->d = MHD_start_daemon(flags, conf->mgmt_port, NULL, NULL, handle, r, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)REST_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)REST_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_END);
	if (!r->d) {
		snprintf(err, errlen, "cannot listen on management address %s%s%s:%u",
			 flags & MHD_USE_IPv6 ? "[" : "", conf->mgmt_host,
			 flags & MHD_USE_IPv6 ? "]" : "", conf->mgmt_port);
		free(r);
		return NULL;
	}
	LOG_INFO(LOG_MGMT, "REST API on %s port %u", conf->mgmt_host, conf->mgmt_port);
	return r;
}

void mgmt_rest_stop(struct mgmt_rest *r)
{
	if (!r)
		return;
	MHD_stop_daemon(r->d);
	free(r);
}
