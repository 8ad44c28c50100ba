/* The management REST API of shoald (DESIGN.md sections 1 and 2): libmicrohttpd serving JSON
 * (or CSV, YAML, XML) documents on the configured "management address". shoalctl speaks only
 * this API.
 *
 * Resources (GET):
 *   /rest/status/sessions   every SMB session: id, user, client, dialect, signing, cipher, ...
 * The format is chosen by ?format=json|csv|yaml|xml, else by the Accept header, else JSON.
 * Errors are JSON: {"error": {"status": 404, "message": "..."}}.
 *
 * Requests run in libmicrohttpd's own thread: handlers copy what they need under short locks and
 * format with no lock held, so a slow or stuck HTTP client never holds up an SMB event loop. */
#ifndef SHOAL_MGMT_REST_H
#define SHOAL_MGMT_REST_H

#include <jansson.h>
#include <stddef.h>

#include "lib/conf.h"
#include "smb2/smb2.h"

struct mgmt_rest;

/* Starts listening on conf's management address. Returns the listener; NULL with err empty
 * when the configuration turns the API off; NULL with err filled when it cannot start. The
 * listener keeps srv, which must outlive it. Start it after daemon(): its thread does not
 * survive a fork. */
struct mgmt_rest *mgmt_rest_start(struct smb2_server *srv, const struct shoal_conf *conf, char *err,
				  size_t errlen);
/* Stops the listener (waits for requests in progress) and frees it; NULL is ignored. */
void mgmt_rest_stop(struct mgmt_rest *r);

/* The document of GET /rest/status/sessions (exposed for tests); NULL when out of memory. */
json_t *mgmt_status_sessions(struct smb2_server *srv);

#endif
