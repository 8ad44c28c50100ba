/* NEGOTIATE (MS-SMB2 2.2.3/2.2.4, 3.3.5.3 and 3.3.5.4), including the SMB1 multi-protocol
 * negotiate that Windows and Samba clients open with, answered with an SMB2 NEGOTIATE response
 * (dialect 0x02FF, or 0x0202 when the client offers only "SMB 2.002"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spnego.h"
#include "lib/log.h"
#include "lib/ntime.h"
#include "smb2/smb2.h"

#define SMB2_DIALECT_WILDCARD 0x02FF

/* negotiate context types (2.2.3.1) */
#define NCTX_PREAUTH_INTEGRITY 0x0001
#define NCTX_ENCRYPTION 0x0002
#define NCTX_COMPRESSION 0x0003
#define NCTX_NETNAME 0x0005
#define NCTX_TRANSPORT 0x0006
#define NCTX_RDMA_TRANSFORM 0x0007
#define NCTX_SIGNING 0x0008

#define PREAUTH_SHA512 0x0001
#define STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP 0xC05D0000u

#define SMB2_MAX_IO_302 (8u * 1024 * 1024) /* MaxRead/Write/Transact for 2.1 and later */

static const uint16_t all_dialects[] = {SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
					 SMB2_DIALECT_302, SMB2_DIALECT_311};

struct neg_choice {
	bool have_preauth, have_enc, have_sign;
	bool preauth_sha512;
	enum smb2_cipher cipher;
	enum smb2_sign_alg sign_alg;
	bool sign_alg_set;
};

static uint16_t pick_dialect(const struct shoal_conf *conf, const uint16_t *d, int n)
{
	uint16_t best = 0;
	for (int i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < sizeof(all_dialects) / sizeof(all_dialects[0]); k++)
			known |= all_dialects[k] == d[i];
		if (known && d[i] >= conf->min_protocol && d[i] <= conf->max_protocol && d[i] > best)
			best = d[i];
	}
	return best;
}

/* Picks the first of the server's preferred ciphers that the client offers (2.2.3.1.2). */
static enum smb2_cipher pick_cipher(const struct shoal_conf *conf, struct rd *r, uint16_t count)
{
	uint16_t ids[32];
	int n = 0;
	for (uint16_t i = 0; i < count; i++) {
		uint16_t v = rd_u16(r);
		if (n < 32)
			ids[n++] = v;
	}
	if (conf->server_encrypt == CONF_ENC_OFF)
		return SMB2_CIPHER_NONE;
	enum smb2_cipher pref[4];
	int np = smb2_cipher_prefs(conf, pref);
	for (int p = 0; p < np; p++)
		for (int i = 0; i < n; i++)
			if (ids[i] == (uint16_t)pref[p])
				return pref[p];
	return SMB2_CIPHER_NONE;
}

static enum smb2_sign_alg pick_signing(const struct shoal_conf *conf, struct rd *r,
				       uint16_t count, bool *set)
{
	uint16_t ids[32];
	int n = 0;
	for (uint16_t i = 0; i < count; i++) {
		uint16_t v = rd_u16(r);
		if (n < 32)
			ids[n++] = v;
	}
	enum smb2_sign_alg pref[3];
	int np = smb2_sign_prefs(conf, pref);
	for (int p = 0; p < np; p++)
		for (int i = 0; i < n; i++)
			if (ids[i] == (uint16_t)pref[p]) {
				*set = true;
				return pref[p];
			}
	*set = false;
	return SMB2_SIGN_AES_CMAC;
}

/* 2.2.3.1: parses the client's negotiate contexts. */
static NTSTATUS parse_contexts(struct smb2_req *req, const struct shoal_conf *conf, uint32_t off,
			       uint16_t count, struct neg_choice *nc)
{
	struct rd r = rd_sub(&req->msg, off, req->msg.len > off ? req->msg.len - off : 0);
	if (!rd_ok(&r) || count == 0)
		return STATUS_INVALID_PARAMETER;
	for (uint16_t i = 0; i < count; i++) {
		/* each context starts 8-byte aligned relative to the first */
		if (r.off % 8)
			rd_skip(&r, 8 - r.off % 8);
		uint16_t type = rd_u16(&r);
		uint16_t dlen = rd_u16(&r);
		rd_skip(&r, 4);
		struct rd d = rd_sub(&r, r.off, dlen);
		rd_skip(&r, dlen);
		if (!rd_ok(&r) || !rd_ok(&d))
			return STATUS_INVALID_PARAMETER;
		switch (type) {
		case NCTX_PREAUTH_INTEGRITY: {
			if (nc->have_preauth)
				return STATUS_INVALID_PARAMETER;
			nc->have_preauth = true;
			uint16_t nalg = rd_u16(&d);
			uint16_t saltlen = rd_u16(&d);
			if (nalg == 0)
				return STATUS_INVALID_PARAMETER;
			for (uint16_t k = 0; k < nalg; k++)
				nc->preauth_sha512 |= rd_u16(&d) == PREAUTH_SHA512;
			rd_skip(&d, saltlen);
			if (!rd_ok(&d))
				return STATUS_INVALID_PARAMETER;
			break;
		}
		case NCTX_ENCRYPTION: {
			if (nc->have_enc)
				return STATUS_INVALID_PARAMETER;
			nc->have_enc = true;
			uint16_t n = rd_u16(&d);
			if (n == 0)
				return STATUS_INVALID_PARAMETER;
			nc->cipher = pick_cipher(conf, &d, n);
			if (!rd_ok(&d))
				return STATUS_INVALID_PARAMETER;
			break;
		}
		case NCTX_SIGNING: {
			if (nc->have_sign)
				return STATUS_INVALID_PARAMETER;
			nc->have_sign = true;
			uint16_t n = rd_u16(&d);
			if (n == 0)
				return STATUS_INVALID_PARAMETER;
			nc->sign_alg = pick_signing(conf, &d, n, &nc->sign_alg_set);
			if (!rd_ok(&d))
				return STATUS_INVALID_PARAMETER;
			break;
		}
		default:
			/* compression, netname, transport, RDMA and unknown contexts are ignored */
			break;
		}
	}
	if (!nc->have_preauth)
		return STATUS_INVALID_PARAMETER;
	if (!nc->preauth_sha512)
		return STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP;
	return STATUS_SUCCESS;
}

uint32_t smb2_server_caps(const struct smb2_conn *c, uint16_t dialect)
{
	uint32_t caps = 0;
	if (dialect >= SMB2_DIALECT_210 && dialect != SMB2_DIALECT_WILDCARD)
		caps |= SMB2_GLOBAL_CAP_LARGE_MTU | SMB2_GLOBAL_CAP_LEASING;
	/* 3.0 and 3.0.2 announce encryption as a capability; 3.1.1 through a context */
	if ((dialect == SMB2_DIALECT_300 || dialect == SMB2_DIALECT_302) &&
	    c->cipher != SMB2_CIPHER_NONE)
		caps |= SMB2_GLOBAL_CAP_ENCRYPTION;
	/* 3.3.5.4: multichannel (session binding) when configured, 3.x only */
	if (dialect >= SMB2_DIALECT_300 && dialect != SMB2_DIALECT_WILDCARD) {
		struct shoal_conf *conf = smb2_server_conf(c->srv);
		if (conf->multi_channel)
			caps |= SMB2_GLOBAL_CAP_MULTI_CHANNEL;
		conf_put(conf);
	}
	return caps;
}

static void write_context(struct wr *w, uint16_t type, const void *data, uint16_t len)
{
	wr_align(w, 8);
	wr_u16(w, type);
	wr_u16(w, len);
	wr_u32(w, 0);
	wr_bytes(w, data, len);
}

static void write_contexts(struct smb2_req *req, const struct neg_choice *nc, uint16_t *count)
{
	struct wr *w = req->out;
	uint8_t pre[4 + 2 + 32];
	put_le16(pre, 1);
	put_le16(pre + 2, 32);
	put_le16(pre + 4, PREAUTH_SHA512);
	crypto_random(pre + 6, 32);
	write_context(w, NCTX_PREAUTH_INTEGRITY, pre, sizeof(pre));
	*count = 1;
	if (nc->have_enc) {
		uint8_t e[4];
		put_le16(e, 1);
		put_le16(e + 2, (uint16_t)nc->cipher); /* 0: no common cipher (2.2.4.1.2) */
		write_context(w, NCTX_ENCRYPTION, e, sizeof(e));
		(*count)++;
	}
	if (nc->have_sign && nc->sign_alg_set) {
		uint8_t s[4];
		put_le16(s, 1);
		put_le16(s + 2, (uint16_t)nc->sign_alg);
		write_context(w, NCTX_SIGNING, s, sizeof(s));
		(*count)++;
	}
}

/* Writes the NEGOTIATE response body (2.2.4) for dialect (which may be the 0x02FF wildcard). */
static NTSTATUS write_response(struct smb2_req *req, struct shoal_conf *conf, uint16_t dialect,
			       const struct neg_choice *nc)
{
	struct smb2_conn *c = req->conn;
	struct wr *w = req->out;
	size_t base = req->body_off - SMB2_HDR_LEN; /* response offsets count from the header */
	uint8_t *blob = NULL;
	size_t bloblen = 0;
	if (spnego_negotiate_hint(&blob, &bloblen) < 0)
		return STATUS_NO_MEMORY;
	uint16_t secmode = SMB2_NEGOTIATE_SIGNING_ENABLED;
	if (conf->signing == CONF_SIGNING_MANDATORY)
		secmode |= SMB2_NEGOTIATE_SIGNING_REQUIRED;
	uint32_t caps = smb2_server_caps(c, dialect);
	size_t start = w->len;
	wr_u16(w, 65);
	wr_u16(w, secmode);
	wr_u16(w, dialect);
	wr_u16(w, 0); /* NegotiateContextCount, patched below */
	wr_bytes(w, c->srv->server_guid, 16);
	wr_u32(w, caps);
	wr_u32(w, c->max_trans);
	wr_u32(w, c->max_read);
	wr_u32(w, c->max_write);
	wr_u64(w, nttime_now());
	wr_u64(w, 0); /* ServerStartTime: 0, as Windows 10 and later send */
	wr_u16(w, (uint16_t)(w->len - base + 8)); /* SecurityBufferOffset */
	wr_u16(w, (uint16_t)bloblen);
	wr_u32(w, 0); /* NegotiateContextOffset, patched below */
	wr_bytes(w, blob, bloblen);
	free(blob);
	if (dialect == SMB2_DIALECT_311) {
		wr_align(w, 8);
		uint16_t n = 0;
		size_t ctx_off = w->len - base;
		write_contexts(req, nc, &n);
		wr_set_u16(w, start + 6, n);
		wr_set_u32(w, start + 60, (uint32_t)ctx_off);
	}
	return wr_ok(w) ? STATUS_SUCCESS : STATUS_NO_MEMORY;
}

static void set_limits(struct smb2_conn *c, uint16_t dialect)
{
	if (dialect == SMB2_DIALECT_202 || dialect == SMB2_DIALECT_WILDCARD) {
		c->max_trans = c->max_read = c->max_write = 65536;
	} else {
		c->max_trans = c->max_read = c->max_write = SMB2_MAX_IO_302;
	}
}

NTSTATUS smb2_negotiate(struct smb2_req *req)
{
	struct smb2_conn *c = req->conn;
	if (c->negotiated) {
		/* 3.3.5.3.1: a second NEGOTIATE ends the connection */
		req->disconnect = true;
		return STATUS_INVALID_PARAMETER;
	}
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint16_t ndialects = rd_u16(&b);
	uint16_t secmode = rd_u16(&b);
	rd_skip(&b, 2);
	uint32_t caps = rd_u32(&b);
	uint8_t guid[16];
	rd_bytes(&b, guid, 16);
	uint32_t ctx_off = rd_u32(&b);
	uint16_t ctx_count = rd_u16(&b);
	rd_skip(&b, 2);
	if (!rd_ok(&b) || ndialects == 0)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	uint16_t dialects[64];
	int n = 0;
	for (uint16_t i = 0; i < ndialects; i++) {
		uint16_t d = rd_u16(&b);
		if (n < 64)
			dialects[n++] = d;
	}
	if (!rd_ok(&b))
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	uint16_t dialect = pick_dialect(conf, dialects, n);
	NTSTATUS st = STATUS_SUCCESS;
	struct neg_choice nc = {0};
	if (!dialect) {
		st = STATUS_NOT_SUPPORTED;
		goto out;
	}
	if (dialect == SMB2_DIALECT_311) {
		st = parse_contexts(req, conf, ctx_off, ctx_count, &nc);
		if (st)
			goto out;
	}
	c->dialect = dialect;
	c->client_security_mode = secmode;
	c->client_caps = caps;
	memcpy(c->client_guid, guid, 16);
	c->nclient_dialects = n < 16 ? n : 16;
	memcpy(c->client_dialects, dialects, sizeof(uint16_t) * (size_t)c->nclient_dialects);
	c->signing_required = conf->signing == CONF_SIGNING_MANDATORY ||
			      (secmode & SMB2_NEGOTIATE_SIGNING_REQUIRED);
	c->sign_alg = SMB2_SIGN_AES_CMAC;
	c->cipher = SMB2_CIPHER_NONE;
	if ((dialect == SMB2_DIALECT_300 || dialect == SMB2_DIALECT_302) &&
	    (caps & SMB2_GLOBAL_CAP_ENCRYPTION) && conf->server_encrypt != CONF_ENC_OFF)
		c->cipher = SMB2_CIPHER_AES128_CCM;
	if (dialect == SMB2_DIALECT_311) {
		if (nc.sign_alg_set)
			c->sign_alg = nc.sign_alg;
		c->cipher = nc.cipher;
		c->preauth_alg = PREAUTH_SHA512;
		memset(c->preauth_hash, 0, 64);
		struct iovec iov = {(void *)req->msg.p, req->msg.len};
		crypto_preauth_update(c->preauth_hash, &iov, 1);
		req->preauth_hash_resp = c->preauth_hash;
	}
	set_limits(c, dialect);
	st = write_response(req, conf, dialect, &nc);
	if (!st)
		c->negotiated = true;
	LOG_INFO(LOG_SMB2, "%s: negotiated %s", c->peer, conf_protocol_name(dialect));
out:
	conf_put(conf);
	return st;
}

/* SMB1 NEGOTIATE (MS-SMB2 3.3.5.3.1): find "SMB 2.002" / "SMB 2.???" among the dialect strings
 * and answer with an SMB2 NEGOTIATE response with MessageId 0. */
int smb1_negotiate(struct smb2_conn *c, struct rd *frame, struct wr *out)
{
	struct rd r = *frame;
	rd_skip(&r, 4);
	uint8_t cmd = rd_u8(&r);
	rd_skip(&r, 32 - 5 + 1); /* rest of the 32-byte SMB1 header, then WordCount (0) */
	uint16_t bytecount = rd_u16(&r);
	const uint8_t *p = rd_ptr(&r, bytecount);
	if (!rd_ok(&r) || cmd != 0x72)
		return -1;
	bool smb2002 = false, smb2any = false;
	for (size_t i = 0; i < bytecount;) {
		if (p[i] != 0x02)
			return -1; /* each dialect is 0x02 then a NUL-terminated string */
		const uint8_t *s = p + i + 1;
		const uint8_t *nul = memchr(s, 0, bytecount - i - 1);
		if (!nul)
			return -1;
		if (!strcmp((const char *)s, "SMB 2.002"))
			smb2002 = true;
		if (!strcmp((const char *)s, "SMB 2.???"))
			smb2any = true;
		i = (size_t)(nul - p) + 1;
	}
	struct shoal_conf *conf = smb2_server_conf(c->srv);
	uint16_t dialect = 0;
	if (smb2any && conf->max_protocol > SMB2_DIALECT_202)
		dialect = SMB2_DIALECT_WILDCARD;
	else if ((smb2002 || smb2any) && conf->min_protocol <= SMB2_DIALECT_202)
		dialect = SMB2_DIALECT_202;
	if (!dialect) {
		conf_put(conf);
		LOG_INFO(LOG_SMB2, "%s: SMB1-only client refused", c->peer);
		return -1;
	}
	struct smb2_req req = {0};
	req.conn = c;
	req.srv = c->srv;
	req.out = out;
	req.cmd = SMB2_NEGOTIATE;
	size_t hdr = wr_space(out, SMB2_HDR_LEN);
	req.body_off = out->len;
	struct neg_choice nc = {0};
	set_limits(c, dialect);
	NTSTATUS st = write_response(&req, conf, dialect, &nc);
	bool mandatory = conf->signing == CONF_SIGNING_MANDATORY;
	conf_put(conf);
	if (st || !wr_ok(out))
		return -1;
	uint8_t *h = wr_at(out, hdr);
	if (!h)
		return -1;
	memset(h, 0, SMB2_HDR_LEN);
	put_le32(h, SMB2_PROTOCOL_ID);
	put_le16(h + HDR_OFF_STRUCT_SIZE, 64);
	put_le16(h + HDR_OFF_CREDIT, 1);
	put_le32(h + HDR_OFF_FLAGS, SMB2_FLAGS_SERVER_TO_REDIR);
	if (dialect == SMB2_DIALECT_202) {
		c->dialect = dialect;
		c->negotiated = true;
		c->sign_alg = SMB2_SIGN_HMAC_SHA256;
		c->signing_required = mandatory;
	}
	/* the window moves past message id 0, which the SMB1 request used */
	c->seq_low = 1;
	c->credits_granted = 1;
	return 0;
}
