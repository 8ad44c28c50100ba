/* The blocking layer: a small poll() loop over the asynchronous core, and one-request calls. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_priv.h"

void smbc_seterr(struct smbc_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t smbc_wait(struct smbc_conn *c, bool (*pred)(void *arg), void *arg)
{
	int limit = c->o.timeout_ms > 0 ? c->o.timeout_ms : 60000;
	long long deadline = now_ms() + limit;
	while (!pred(arg)) {
		if (c->dead)
			return c->dead;
		long long left = deadline - now_ms();
		if (left <= 0) {
			smbc_seterr(c, "no reply within %d ms", limit);
			smbc_conn_fail(c, STATUS_IO_TIMEOUT);
			return STATUS_IO_TIMEOUT;
		}
		struct pollfd p = {c->fd, (short)(POLLIN | (smbc_conn_want_write(c) ? POLLOUT : 0)),
				   0};
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR) {
			smbc_conn_fail(c, STATUS_CONNECTION_RESET);
			return c->dead;
		}
		if (n <= 0)
			continue;
		/* progress resets the limit: it is per operation step, not for a whole 1 GiB get */
		deadline = now_ms() + limit;
		if (p.revents & (POLLOUT | POLLERR | POLLHUP))
			smbc_conn_on_writable(c);
		if (p.revents & (POLLIN | POLLERR | POLLHUP))
			smbc_conn_on_readable(c);
	}
	return STATUS_SUCCESS;
}

static void call_cb(struct smbc_conn *c, const struct smbc_msg *m, void *arg)
{
	struct smbc_reply *rep = arg;
	rep->done = true;
	rep->status = m->status;
	if (!m->hdr)
		return;
	rep->len = SMB2_HDR_LEN + m->bodylen;
	rep->buf = malloc(rep->len);
	if (!rep->buf) {
		rep->status = STATUS_NO_MEMORY;
		rep->len = 0;
		return;
	}
	memcpy(rep->buf, m->hdr, rep->len);
}

static bool reply_done(void *arg)
{
	return ((struct smbc_reply *)arg)->done;
}

uint32_t smbc_call(struct smbc_conn *c, struct smbc_tree *tree, uint16_t cmd, const void *body,
		   size_t bodylen, const void *payload, size_t paylen, size_t charge_len,
		   unsigned flags, struct smbc_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	uint32_t st = smbc_submit_ex(c, tree, cmd, body, bodylen, payload, paylen, charge_len,
				     flags, call_cb, rep);
	if (st)
		return st;
	st = smbc_wait(c, reply_done, rep);
	if (st && !rep->done)
		return st;
	return rep->status;
}

void smbc_reply_free(struct smbc_reply *rep)
{
	free(rep->buf);
	rep->buf = NULL;
	rep->len = 0;
}

static bool connected(void *arg)
{
	struct smbc_conn *c = arg;
	return !c->connecting;
}

uint32_t smbc_connect(const struct smbc_opts *o, struct smbc_conn **out, char *err, size_t errlen)
{
	uint32_t st;
	struct smbc_conn *c = smbc_conn_new(o, &st);
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (!c) {
		if (err)
			snprintf(err, errlen, "cannot connect to %s", o->host ? o->host : "");
		return st;
	}
	st = smbc_wait(c, connected, c);
	if (!st)
		st = smbc_negotiate(c);
	if (!st && o->encrypt_required && !c->cipher) {
		smbc_seterr(c,
			    "Smb3EncryptionRequired=1 but the server cannot encrypt (dialect %s, "
			    "no common cipher)",
			    smbc_dialect_name(c->dialect));
		st = STATUS_ACCESS_DENIED;
	}
	if (!st)
		st = smbc_session_setup(c);
	if (st) {
		if (err)
			snprintf(err, errlen, "%s", c->err);
		smbc_conn_free(c);
		return st;
	}
	*out = c;
	return STATUS_SUCCESS;
}

void smbc_disconnect(struct smbc_conn *c)
{
	if (!c)
		return;
	if (c->session_ready && !c->dead) {
		uint8_t body[4] = {4, 0, 0, 0};
		struct smbc_reply rep;
		int saved = c->o.timeout_ms;
		c->o.timeout_ms = 5000;
		smbc_call(c, NULL, SMB2_LOGOFF, body, sizeof(body), NULL, 0, 0, 0, &rep);
		smbc_reply_free(&rep);
		c->o.timeout_ms = saved;
	}
	smbc_conn_free(c);
}

const char *smbc_conn_error(const struct smbc_conn *c)
{
	return c->err;
}

void smbc_conn_info(const struct smbc_conn *c, struct smbc_info *out)
{
	static const char *const sign_names[] = {"HMAC-SHA256", "AES-128-CMAC", "AES-128-GMAC"};
	memset(out, 0, sizeof(*out));
	out->dialect = c->dialect;
	out->cipher = c->encrypt_all ? c->cipher : 0;
	out->signing = c->signing;
	out->sign_alg = c->signing ? sign_names[c->sign_alg] : "none";
	out->encrypting = c->encrypt_all;
	out->guest = c->guest;
	out->max_read = c->max_read;
	out->max_write = c->max_write;
	out->max_transact = c->max_transact;
	out->server_caps = c->server_caps;
	out->credits = (uint16_t)(c->credits > UINT16_MAX ? UINT16_MAX : c->credits);
}
