/* The SMB2 request path without a socket: framing of compound chains, the SMB1 upgrade,
 * NEGOTIATE with 3.1.1 contexts, the credit window, a whole NTLMv2 session setup with the real
 * SPNEGO client and 3.1.1 key derivation over the preauth hash, signed requests and responses,
 * session binding (a second channel with its own key), which frames may run in parallel, and
 * malformed frames (every truncation, random corruption) that must never crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/spnego.h"
#include "lib/log.h"
#include "lib/utf16.h"
#include "smb2/smb2.h"

struct fixture {
	char dir[64];
	struct shoal_conf *conf;
	struct smb2_server *srv;
	struct smb2_conn *c;
	uint64_t mid;
};

static int setup_with(void **st, const char *global)
{
	struct fixture *f = calloc(1, sizeof(*f));
	log_set_level(0); /* the malformed-input cases would log every refusal */
	strcpy(f->dir, "/tmp/shoal-unit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char text[512], err[256];
	snprintf(text, sizeof(text),
		 "[global]\n state directory = %s/state\n log level = 0\n"
		 " server multi channel support = yes\n%s"
		 "[test]\n path = %s\n read only = no\n",
		 f->dir, global, f->dir);
	assert_int_equal(conf_load_string(text, "unit", &f->conf, err, sizeof(err)), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/state/users.db", f->dir);
	assert_int_equal(userdb_add(path, "tuser", "Secret-1", 4242, 4242), 0);
	f->srv = smb2_server_new(f->conf, err, sizeof(err));
	assert_non_null(f->srv);
	f->c = smb2_conn_new(f->srv, -1, "unit");
	assert_non_null(f->c);
	*st = f;
	return 0;
}

static int setup(void **st) { return setup_with(st, ""); }
static int setup_torture(void **st) { return setup_with(st, " smbtorture fsctls = yes\n"); }

static int teardown(void **st)
{
	struct fixture *f = *st;
	smb2_conn_free(f->c);
	smb2_server_free(f->srv);
	conf_put(f->conf);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Writes a request header (MS-SMB2 2.2.1.2). */
static void hdr(struct wr *w, uint16_t cmd, uint64_t mid, uint64_t sid, uint32_t tid,
		uint32_t flags)
{
	wr_u32(w, SMB2_PROTOCOL_ID);
	wr_u16(w, 64);
	wr_u16(w, 1); /* CreditCharge */
	wr_u32(w, 0);
	wr_u16(w, cmd);
	wr_u16(w, 64); /* credits requested */
	wr_u32(w, flags);
	wr_u32(w, 0);
	wr_u64(w, mid);
	wr_u32(w, 0);
	wr_u32(w, tid);
	wr_u64(w, sid);
	wr_zero(w, 16);
}

static void negotiate_req(struct wr *w, uint64_t mid)
{
	static const uint16_t d[] = {0x202, 0x210, 0x300, 0x302, 0x311};
	hdr(w, SMB2_NEGOTIATE, mid, 0, 0, 0);
	size_t b = w->len;
	wr_u16(w, 36);
	wr_u16(w, 5);
	wr_u16(w, SMB2_NEGOTIATE_SIGNING_ENABLED);
	wr_u16(w, 0);
	wr_u32(w, SMB2_GLOBAL_CAP_ENCRYPTION | SMB2_GLOBAL_CAP_LARGE_MTU);
	wr_zero(w, 16);
	size_t ctxoff = w->len;
	wr_u32(w, 0);
	wr_u16(w, 3);
	wr_u16(w, 0);
	for (int i = 0; i < 5; i++)
		wr_u16(w, d[i]);
	wr_align(w, 8);
	wr_set_u32(w, ctxoff, (uint32_t)w->len);
	(void)b;
	/* preauth: SHA-512 with a 32-byte salt */
	wr_u16(w, 1);
	wr_u16(w, 38);
	wr_u32(w, 0);
	wr_u16(w, 1);
	wr_u16(w, 32);
	wr_u16(w, 1);
	wr_zero(w, 32);
	wr_align(w, 8);
	/* encryption: CCM then GCM (the server's preference, GCM, must win) */
	wr_u16(w, 2);
	wr_u16(w, 6);
	wr_u32(w, 0);
	wr_u16(w, 2);
	wr_u16(w, SMB2_CIPHER_AES128_CCM);
	wr_u16(w, SMB2_CIPHER_AES128_GCM);
	wr_align(w, 8);
	/* signing: CMAC then GMAC */
	wr_u16(w, 8);
	wr_u16(w, 6);
	wr_u32(w, 0);
	wr_u16(w, 2);
	wr_u16(w, SMB2_SIGN_AES_CMAC);
	wr_u16(w, SMB2_SIGN_AES_GMAC);
}

/* Runs one frame on connection c; returns the rc and leaves the response (without headroom) in
 * *resp. */
static int run_on(struct smb2_conn *c, const uint8_t *frame, size_t len, struct wr *resp)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, frame, len);
	struct wr out;
	wr_init(&out, 256);
	wr_space(&out, SMB2_OUT_HEADROOM);
	size_t start = 0;
	int rc = smb2_conn_input(c, copy, len, &out, &start);
	wr_init(resp, 0);
	if (out.len > start)
		wr_bytes(resp, out.p + start, out.len - start);
	wr_free(&out);
	free(copy);
	return rc;
}

static int run(struct fixture *f, const uint8_t *frame, size_t len, struct wr *resp)
{
	return run_on(f->c, frame, len, resp);
}

static uint32_t status_of(const struct wr *r) { return get_le32(r->p + HDR_OFF_STATUS); }

static void do_negotiate(struct fixture *f)
{
	struct wr w, r;
	wr_init(&w, 0);
	negotiate_req(&w, f->mid++);
	assert_int_equal(run(f, w.p, w.len, &r), 0);
	assert_true(r.len >= 64 + 65);
	assert_int_equal(get_le32(r.p), SMB2_PROTOCOL_ID);
	assert_int_equal(status_of(&r), 0);
	assert_true(get_le32(r.p + HDR_OFF_FLAGS) & SMB2_FLAGS_SERVER_TO_REDIR);
	assert_true(get_le16(r.p + HDR_OFF_CREDIT) >= 1);
	assert_int_equal(get_le16(r.p + 64), 65);
	assert_int_equal(get_le16(r.p + 64 + 4), 0x311);
	assert_int_equal(get_le16(r.p + 64 + 6), 3); /* three contexts answered */
	assert_int_equal(f->c->cipher, SMB2_CIPHER_AES128_GCM);
	assert_int_equal(f->c->sign_alg, SMB2_SIGN_AES_GMAC);
	/* the security buffer lies inside the response */
	uint16_t boff = get_le16(r.p + 64 + 56), blen = get_le16(r.p + 64 + 58);
	assert_true(blen > 0 && (size_t)boff + blen <= r.len);
	wr_free(&w);
	wr_free(&r);
}

/* Signs the request in w with key (GMAC): sets SMB2_FLAGS_SIGNED and the signature. */
static void sign_req(struct wr *w, const uint8_t key[16])
{
	put_le32(w->p + HDR_OFF_FLAGS, get_le32(w->p + HDR_OFF_FLAGS) | SMB2_FLAGS_SIGNED);
	uint8_t sig[16];
	struct iovec wi = {w->p, w->len};
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, key, &wi, 1, sig), 0);
	memcpy(w->p + HDR_OFF_SIGNATURE, sig, 16);
}

/* Signs the request in w with key (GMAC) and runs it on c; the response in *r. */
static uint32_t run_signed(struct smb2_conn *c, const uint8_t key[16], struct wr *w, struct wr *r)
{
	sign_req(w, key);
	assert_int_equal(run_on(c, w->p, w->len, r), 0);
	return status_of(r);
}

/* Checks that the response in r is signed, with key. */
static void assert_signed_by(const struct wr *r, const uint8_t key[16])
{
	struct iovec ri = {r->p, r->len};
	assert_true(get_le32(r->p + HDR_OFF_FLAGS) & SMB2_FLAGS_SIGNED);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_GMAC, key, &ri, 1), 0);
}

/* run_signed, then checks that a successful answer is signed with key too; frees w. */
static uint32_t run_signed_both(struct smb2_conn *c, const uint8_t key[16], struct wr *w,
				struct wr *r)
{
	uint32_t st = run_signed(c, key, w, r);
	if (st == STATUS_SUCCESS)
		assert_signed_by(r, key);
	wr_free(w);
	return st;
}

/* A TREE_CONNECT (2.2.9) of \\127.0.0.1\share, unsigned, into w (initialised here). */
static void tcon_req(struct wr *w, uint64_t mid, uint64_t sid, const char *share)
{
	char unc[64];
	snprintf(unc, sizeof(unc), "\\\\127.0.0.1\\%s", share);
	uint8_t *path = NULL;
	size_t plen = 0;
	assert_int_equal(utf8_to_utf16le(unc, &path, &plen), 0);
	wr_init(w, 0);
	hdr(w, SMB2_TREE_CONNECT, mid, sid, 0, 0);
	wr_u16(w, 9);
	wr_u16(w, 0);
	wr_u16(w, 64 + 8);
	wr_u16(w, (uint16_t)plen);
	wr_bytes(w, path, plen);
	free(path);
}

static void t_negotiate(void **st)
{
	struct fixture *f = *st;
	do_negotiate(f);
	/* a second NEGOTIATE drops the connection (3.3.5.3.1) */
	struct wr w, r;
	wr_init(&w, 0);
	negotiate_req(&w, f->mid++);
	assert_int_equal(run(f, w.p, w.len, &r), -1);
	wr_free(&w);
	wr_free(&r);
}

static void t_smb1_upgrade(void **st)
{
	struct fixture *f = *st;
	static const char dialects[] = "\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???";
	struct wr w, r;
	wr_init(&w, 0);
	wr_u32(&w, SMB1_PROTOCOL_ID);
	wr_u8(&w, 0x72);
	wr_zero(&w, 27);
	wr_u8(&w, 0); /* WordCount */
	wr_u16(&w, sizeof(dialects));
	wr_bytes(&w, dialects, sizeof(dialects));
	assert_int_equal(run(f, w.p, w.len, &r), 0);
	assert_int_equal(get_le32(r.p), SMB2_PROTOCOL_ID);
	assert_int_equal(get_le16(r.p + 64 + 4), 0x02FF);
	/* the client now negotiates again with message id 1 */
	f->mid = 1;
	do_negotiate(f);
	wr_free(&w);
	wr_free(&r);
}

static void t_credit_window(void **st)
{
	struct fixture *f = *st;
	do_negotiate(f);
	struct wr w, r;
	wr_init(&w, 0);
	hdr(&w, SMB2_ECHO, 5000, 0, 0, 0); /* far beyond the granted window */
	wr_u16(&w, 4);
	wr_u16(&w, 0);
	assert_int_equal(run(f, w.p, w.len, &r), -1);
	wr_free(&w);
	wr_free(&r);
}

/* Two ECHOs in one compound: two responses, the first 8-byte aligned and linked. */
static void t_compound(void **st)
{
	struct fixture *f = *st;
	do_negotiate(f);
	struct wr w, r;
	wr_init(&w, 0);
	hdr(&w, SMB2_ECHO, f->mid++, 0, 0, 0);
	wr_u16(&w, 4);
	wr_u16(&w, 0);
	wr_set_u32(&w, HDR_OFF_NEXT_COMMAND, 72);
	wr_zero(&w, 4);
	hdr(&w, SMB2_ECHO, f->mid++, 0, 0, 0);
	wr_u16(&w, 4);
	wr_u16(&w, 0);
	assert_int_equal(run(f, w.p, w.len, &r), 0);
	uint32_t next = get_le32(r.p + HDR_OFF_NEXT_COMMAND);
	assert_int_equal(next, 72);
	assert_int_equal(get_le16(r.p + next + HDR_OFF_COMMAND), SMB2_ECHO);
	assert_int_equal(get_le64(r.p + next + HDR_OFF_MESSAGE_ID), f->mid - 1);
	/* the last response of a compound is padded to 8 bytes as well (Windows does) */
	assert_int_equal(r.len, next + 72u);
	/* an unknown command in a compound gets INVALID_PARAMETER, the rest still runs */
	wr_free(&r);
	put_le64(w.p + HDR_OFF_MESSAGE_ID, f->mid++);
	put_le16(w.p + HDR_OFF_COMMAND, 0xff);
	put_le64(w.p + 72 + HDR_OFF_MESSAGE_ID, f->mid++);
	assert_int_equal(run(f, w.p, w.len, &r), 0);
	assert_int_equal(get_le32(r.p + 8), STATUS_INVALID_PARAMETER);
	next = get_le32(r.p + HDR_OFF_NEXT_COMMAND);
	assert_int_equal(next, 80); /* header + 9-byte error body, aligned */
	assert_int_equal(get_le32(r.p + next + 8), STATUS_SUCCESS);
	put_le16(w.p + HDR_OFF_COMMAND, SMB2_ECHO);
	/* a misaligned NextCommand drops the connection */
	wr_set_u32(&w, HDR_OFF_NEXT_COMMAND, 70);
	put_le64(w.p + HDR_OFF_MESSAGE_ID, f->mid++);
	wr_free(&r);
	assert_int_equal(run(f, w.p, w.len, &r), -1);
	wr_free(&w);
	wr_free(&r);
}

/* One SESSION_SETUP exchange on c with the project's SPNEGO client. flags 1 = binding of session
 * *sid; each request is signed with sign_key (NULL: unsigned). The 3.1.1 preauth hash starts at
 * the connection's and takes the requests and the MORE_PROCESSING responses as sent. Returns the
 * last status; *sid, the final response in *last and the NTLMSSP session key in sk. */
static uint32_t setup_exchange(struct fixture *f, struct smb2_conn *c, uint8_t flags,
			       const uint8_t *sign_key, uint64_t *sid, uint8_t preauth[64],
			       struct wr *last, uint8_t sk[16])
{
	struct ntlmssp_client_cfg cc = {.user = "tuser", .domain = "WORKGROUP",
					.password = "Secret-1", .workstation = "UNIT"};
	struct spnego_client *sc = spnego_client_new(&cc);
	assert_non_null(sc);
	uint8_t *tok = NULL;
	size_t toklen = 0;
	memcpy(preauth, c->preauth_hash, 64);
	int crc = spnego_client_step(sc, NULL, 0, &tok, &toklen);
	uint32_t status = STATUS_MORE_PROCESSING_REQUIRED;
	wr_init(last, 0);
	for (int round = 0; round < 3 && status == STATUS_MORE_PROCESSING_REQUIRED; round++) {
		assert_true(crc >= 0);
		struct wr w;
		wr_init(&w, 0);
		hdr(&w, SMB2_SESSION_SETUP, f->mid++, *sid, 0, sign_key ? SMB2_FLAGS_SIGNED : 0);
		wr_u16(&w, 25);
		wr_u8(&w, flags);
		wr_u8(&w, SMB2_NEGOTIATE_SIGNING_ENABLED);
		wr_u32(&w, 0);
		wr_u32(&w, 0);
		wr_u16(&w, 64 + 24);
		wr_u16(&w, (uint16_t)toklen);
		wr_u64(&w, 0);
		wr_bytes(&w, tok, toklen);
		free(tok);
		tok = NULL;
		if (sign_key)
			sign_req(&w, sign_key);
		struct iovec iov = {w.p, w.len};
		crypto_preauth_update(preauth, &iov, 1);
		wr_free(last);
		assert_int_equal(run_on(c, w.p, w.len, last), 0);
		wr_free(&w);
		status = status_of(last);
		if (status != STATUS_SUCCESS && status != STATUS_MORE_PROCESSING_REQUIRED)
			break;
		*sid = get_le64(last->p + HDR_OFF_SESSION_ID);
		uint16_t boff = get_le16(last->p + 64 + 4), blen = get_le16(last->p + 64 + 6);
		assert_true((size_t)boff + blen <= last->len);
		if (status == STATUS_MORE_PROCESSING_REQUIRED) {
			struct iovec ri = {last->p, last->len};
			/* a binding's intermediate responses are signed with the session's key */
			if (sign_key)
				assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_GMAC, sign_key, &ri, 1),
						 0);
			crypto_preauth_update(preauth, &ri, 1);
		}
		crc = spnego_client_step(sc, last->p + boff, blen, &tok, &toklen);
	}
	free(tok);
	memcpy(sk, ntlmssp_client_session_key(spnego_client_ntlmssp(sc)), 16);
	spnego_client_free(sc);
	return status;
}

/* NEGOTIATE and an NTLMv2 SESSION_SETUP on f->c: returns the session id and, in key, its 3.1.1
 * signing key over the preauth hash the client computed independently, which must sign the
 * final response. */
static uint64_t logon(struct fixture *f, uint8_t key[16])
{
	uint64_t sid = 0;
	uint8_t preauth[64], sk[16];
	struct wr last;
	do_negotiate(f);
	assert_int_equal(setup_exchange(f, f->c, 0, NULL, &sid, preauth, &last, sk),
			 STATUS_SUCCESS);
	assert_int_equal(crypto_kdf(sk, 16, "SMBSigningKey", 14, preauth, 64, key, 16), 0);
	assert_signed_by(&last, key);
	wr_free(&last);
	return sid;
}

/* SESSION_SETUP with the project's SPNEGO client (logon), then a signed TREE_CONNECT. */
static void t_session_and_signing(void **st)
{
	struct fixture *f = *st;
	uint8_t signkey[16];
	uint64_t sid = logon(f, signkey);

	/* a signed TREE_CONNECT to IPC$ is accepted and answered signed */
	struct wr w, r;
	tcon_req(&w, f->mid++, sid, "IPC$");
	assert_int_equal(run_signed(f->c, signkey, &w, &r), 0);
	assert_int_equal(r.p[64 + 2], SMB2_SHARE_TYPE_PIPE);
	assert_signed_by(&r, signkey);
	wr_free(&r);
	/* the same request with a broken signature is refused */
	w.p[w.len - 1] ^= 1;
	put_le64(w.p + HDR_OFF_MESSAGE_ID, f->mid++);
	assert_int_equal(run(f, w.p, w.len, &r), 0);
	assert_int_equal(status_of(&r), STATUS_ACCESS_DENIED);
	wr_free(&r);
	/* unsigned, it ends the connection (3.3.5.7): the signature may have been stripped */
	w.p[w.len - 1] ^= 1;
	put_le32(w.p + HDR_OFF_FLAGS, 0);
	memset(w.p + HDR_OFF_SIGNATURE, 0, 16);
	put_le64(w.p + HDR_OFF_MESSAGE_ID, f->mid++);
	assert_int_equal(run(f, w.p, w.len, &r), -1);
	wr_free(&r);
	wr_free(&w);
}

/* A signed TREE_CONNECT to IPC$ on c with key; returns the status, checks the answer's
 * signature with key when it succeeded. */
static uint32_t tcon_signed(struct fixture *f, struct smb2_conn *c, uint64_t sid,
			    const uint8_t key[16])
{
	struct wr w, r;
	tcon_req(&w, f->mid++, sid, "IPC$");
	uint32_t st = run_signed_both(c, key, &w, &r);
	wr_free(&r);
	return st;
}

/* A signed TREE_CONNECT to the test share on c with key; returns its TreeId. */
static uint32_t tcon_share(struct fixture *f, struct smb2_conn *c, const uint8_t key[16],
			   uint64_t sid)
{
	struct wr w, r;
	tcon_req(&w, f->mid++, sid, "test");
	assert_int_equal(run_signed_both(c, key, &w, &r), STATUS_SUCCESS);
	uint32_t tid = get_le32(r.p + HDR_OFF_TREE_ID);
	wr_free(&r);
	return tid;
}

/* A LOGOFF of session sid on c, signed with key; returns the status, checks the answer's
 * signature with key when it succeeded. */
static uint32_t logoff_signed(struct fixture *f, struct smb2_conn *c, const uint8_t key[16],
			      uint64_t sid)
{
	struct wr w, r;
	wr_init(&w, 0);
	hdr(&w, SMB2_LOGOFF, f->mid++, sid, 0, 0);
	wr_u16(&w, 4);
	wr_u16(&w, 0);
	uint32_t st = run_signed_both(c, key, &w, &r);
	wr_free(&r);
	return st;
}

static struct smb2_conn *second_conn(struct fixture *f)
{
	struct smb2_conn *saved = f->c;
	f->c = smb2_conn_new(f->srv, -1, "unit2");
	assert_non_null(f->c);
	uint64_t mid = f->mid;
	f->mid = 0;
	do_negotiate(f);
	struct smb2_conn *c2 = f->c;
	f->c = saved;
	f->mid = mid > f->mid ? mid : f->mid;
	return c2;
}

/* Binds connection c2 to session sid as a channel (3.3.5.5.2), the binding signed with the
 * session's key; the channel's signing key in key2, which signs the final response. */
static void bind_on(struct fixture *f, struct smb2_conn *c2, uint64_t sid, const uint8_t key[16],
		    uint8_t key2[16])
{
	uint64_t bsid = sid;
	uint8_t preauth[64], sk[16];
	struct wr last;
	assert_int_equal(setup_exchange(f, c2, SMB2_SESSION_FLAG_BINDING, key, &bsid, preauth,
					&last, sk),
			 STATUS_SUCCESS);
	assert_true(bsid == sid);
	assert_int_equal(crypto_kdf(sk, 16, "SMBSigningKey", 14, preauth, 64, key2, 16), 0);
	assert_memory_not_equal(key, key2, 16);
	assert_signed_by(&last, key2);
	wr_free(&last);
}

/* A new connection bound to session sid as a channel (bind_on). The caller keeps the first
 * connection's next message id: f->mid is the channel's on return. */
static struct smb2_conn *bind_channel(struct fixture *f, uint64_t sid, const uint8_t key[16],
				      uint8_t key2[16])
{
	struct smb2_conn *c2 = second_conn(f);
	f->mid = 1;
	bind_on(f, c2, sid, key, key2);
	return c2;
}

/* Session binding (MS-SMB2 3.3.5.5.2): a second connection joins the session with its own
 * channel signing key, derived over the binding's preauth hash; the session survives the
 * channel's end; LOGOFF on a channel ends it everywhere. */
static void t_session_binding(void **st)
{
	struct fixture *f = *st;
	uint8_t preauth[64], sk[16], key1[16], key2[16];
	struct wr last;
	uint64_t sid = logon(f, key1);

	/* the message ids of each connection start again at the window's */
	struct smb2_conn *c2 = second_conn(f);
	uint64_t mid1 = f->mid;
	f->mid = 1;
	/* an unsigned binding request is refused, signed with the session's key */
	uint64_t bsid = sid;
	assert_int_equal(setup_exchange(f, c2, SMB2_SESSION_FLAG_BINDING, NULL, &bsid, preauth,
					&last, sk),
			 STATUS_INVALID_PARAMETER);
	wr_free(&last);
	/* the session is unknown on c2 until bound */
	assert_int_equal(tcon_signed(f, c2, sid, key1), STATUS_USER_SESSION_DELETED);
	bind_on(f, c2, sid, key1, key2);
	/* on c2 the channel key signs; the session's key no longer does */
	assert_int_equal(tcon_signed(f, c2, sid, key2), STATUS_SUCCESS);
	assert_int_equal(tcon_signed(f, c2, sid, key1), STATUS_ACCESS_DENIED);
	/* binding again on the same connection is refused */
	assert_int_equal(setup_exchange(f, c2, SMB2_SESSION_FLAG_BINDING, key2, &bsid, preauth,
					&last, sk),
			 STATUS_REQUEST_NOT_ACCEPTED);
	wr_free(&last);
	/* the channel ends: the session lives on on its own connection */
	smb2_conn_free(c2);
	f->mid = mid1;
	assert_int_equal(tcon_signed(f, f->c, sid, key1), STATUS_SUCCESS);
	mid1 = f->mid;

	/* with multichannel off, a binding is not accepted */
	char text[512], err[256];
	struct shoal_conf *off;
	snprintf(text, sizeof(text),
		 "[global]\n state directory = %s/state\n log level = 0\n"
		 " server multi channel support = no\n",
		 f->dir);
	assert_int_equal(conf_load_string(text, "unit", &off, err, sizeof(err)), 0);
	struct shoal_conf *on = smb2_server_conf(f->srv);
	smb2_server_set_conf(f->srv, off);
	struct smb2_conn *c3 = second_conn(f);
	f->mid = 1;
	assert_int_equal(setup_exchange(f, c3, SMB2_SESSION_FLAG_BINDING, key1, &bsid, preauth,
					&last, sk),
			 STATUS_REQUEST_NOT_ACCEPTED);
	wr_free(&last);
	smb2_conn_free(c3);
	smb2_server_set_conf(f->srv, on);

	/* LOGOFF on a bound channel ends the session on every channel */
	c3 = bind_channel(f, sid, key1, key2);
	assert_int_equal(logoff_signed(f, c3, key2, sid), STATUS_SUCCESS);
	assert_int_equal(tcon_signed(f, c3, sid, key2), STATUS_USER_SESSION_DELETED);
	f->mid = mid1;
	assert_int_equal(tcon_signed(f, f->c, sid, key1), STATUS_USER_SESSION_DELETED);
	smb2_conn_free(c3);
}

/* CREATE (2.2.13) on c of name (UTF-8; "" is the share's root) with the given access,
 * disposition and options; its FileId in fid. */
static void open_path(struct fixture *f, struct smb2_conn *c, const uint8_t key[16], uint64_t sid,
		      uint32_t tid, const char *name, uint32_t access, uint32_t disposition,
		      uint32_t options, uint64_t fid[2])
{
	uint8_t *uname = NULL;
	size_t nlen = 0;
	assert_int_equal(utf8_to_utf16le(name, &uname, &nlen), 0);
	struct wr w, r;
	wr_init(&w, 0);
	hdr(&w, SMB2_CREATE, f->mid++, sid, tid, 0);
	wr_u16(&w, 57);
	wr_u8(&w, 0);
	wr_u8(&w, 0);
	wr_u32(&w, 2);    /* ImpersonationLevel */
	wr_zero(&w, 16);  /* SmbCreateFlags, Reserved */
	wr_u32(&w, access);
	wr_u32(&w, 0);
	wr_u32(&w, 7);    /* share all */
	wr_u32(&w, disposition);
	wr_u32(&w, options);
	wr_u16(&w, 64 + 56);
	wr_u16(&w, (uint16_t)nlen);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	if (nlen)
		wr_bytes(&w, uname, nlen);
	else
		wr_u8(&w, 0);
	free(uname);
	assert_int_equal(run_signed(c, key, &w, &r), STATUS_SUCCESS);
	fid[0] = get_le64(r.p + 64 + 64);
	fid[1] = get_le64(r.p + 64 + 72);
	wr_free(&w);
	wr_free(&r);
}

/* CREATE of the share's root directory on c; its FileId in fid. */
static void open_root(struct fixture *f, struct smb2_conn *c, const uint8_t key[16], uint64_t sid,
		      uint32_t tid, uint64_t fid[2])
{
	/* LIST_DIRECTORY | READ_ATTRIBUTES | SYNCHRONIZE; FILE_OPEN; FILE_DIRECTORY_FILE */
	open_path(f, c, key, sid, tid, "", 0x00100081, 1, 1, fid);
}

static uint32_t notify_or_close(struct fixture *f, struct smb2_conn *c, const uint8_t key[16],
				uint64_t sid, uint32_t tid, const uint64_t fid[2], bool notify)
{
	struct wr w, r;
	wr_init(&w, 0);
	hdr(&w, notify ? SMB2_CHANGE_NOTIFY : SMB2_CLOSE, f->mid++, sid, tid, 0);
	wr_u16(&w, notify ? 32 : 24);
	wr_u16(&w, 0);
	wr_u32(&w, notify ? 4096 : 0);
	wr_u64(&w, fid[0]);
	wr_u64(&w, fid[1]);
	if (notify) {
		wr_u32(&w, 0x1); /* FILE_NOTIFY_CHANGE_FILE_NAME */
		wr_u32(&w, 0);
	}
	uint32_t st = run_signed(c, key, &w, &r);
	wr_free(&w);
	wr_free(&r);
	return st;
}

/* Asynchronous requests on the channels of one session: a CHANGE_NOTIFY waiting on one channel
 * ends when the open is closed on another (its final response left to its own connection's
 * worker), and when its channel ends (ASan checks nothing is used after being freed). */
static void t_binding_async(void **st)
{
	struct fixture *f = *st;
	assert_int_equal(chmod(f->dir, 0755), 0); /* the mapped user must reach the share */
	uint8_t key1[16], key2[16];
	uint64_t sid = logon(f, key1);
	struct smb2_conn *c1 = f->c;
	uint64_t mids[2] = {f->mid, 0}; /* each connection's next message id */
	struct smb2_conn *c2 = bind_channel(f, sid, key1, key2);
	mids[1] = f->mid;
#define ON(i) (f->mid = mids[i])
#define DONE(i) (mids[i] = f->mid)

	/* the tree of the session is usable on both channels */
	ON(0);
	uint32_t tid = tcon_share(f, c1, key1, sid);
	uint64_t fid[2];

	/* waiting on channel 2, closed on channel 1 */
	open_root(f, c1, key1, sid, tid, fid);
	DONE(0);
	ON(1);
	assert_int_equal(notify_or_close(f, c2, key2, sid, tid, fid, true), STATUS_PENDING);
	DONE(1);
	assert_int_equal(c2->npending, 1);
	ON(0);
	assert_int_equal(notify_or_close(f, c1, key1, sid, tid, fid, false), STATUS_SUCCESS);
	DONE(0);
	assert_int_equal(c2->npending, 1); /* ended, its response not sent yet */
	assert_int_equal(smb2_conn_run_async(c2), 0);
	assert_int_equal(c2->npending, 0);

	/* waiting on channel 1, closed on channel 2 */
	ON(0);
	open_root(f, c1, key1, sid, tid, fid);
	assert_int_equal(notify_or_close(f, c1, key1, sid, tid, fid, true), STATUS_PENDING);
	DONE(0);
	ON(1);
	assert_int_equal(notify_or_close(f, c2, key2, sid, tid, fid, false), STATUS_SUCCESS);
	DONE(1);
	assert_int_equal(c1->npending, 1);
	assert_int_equal(smb2_conn_run_async(c1), 0);
	assert_int_equal(c1->npending, 0);

	/* waiting on channel 2 when channel 2 ends; the open lives on, closed on channel 1 */
	ON(1);
	open_root(f, c2, key2, sid, tid, fid);
	assert_int_equal(notify_or_close(f, c2, key2, sid, tid, fid, true), STATUS_PENDING);
	DONE(1);
	smb2_conn_free(c2);
	/* it moved to channel 1, where it ends unanswered */
	assert_non_null(c1->adopted);
	ON(0);
	assert_int_equal(notify_or_close(f, c1, key1, sid, tid, fid, false), STATUS_SUCCESS);
	assert_null(c1->adopted);
	assert_int_equal(c1->npending, 0);

	/* and the session's end with a request waiting on another channel */
	mids[0] = f->mid;
	c2 = bind_channel(f, sid, key1, key2);
	open_root(f, c2, key2, sid, tid, fid);
	assert_int_equal(notify_or_close(f, c2, key2, sid, tid, fid, true), STATUS_PENDING);
	DONE(1);
	ON(0);
	assert_int_equal(logoff_signed(f, c1, key1, sid), STATUS_SUCCESS);
	assert_int_equal(c2->npending, 1);
	assert_int_equal(smb2_conn_run_async(c2), 0);
	assert_int_equal(c2->npending, 0);
	smb2_conn_free(c2);
#undef ON
#undef DONE
}

/* The session's first connection ends while a channel is bound: the session, its trees and opens
 * live on on the channel, signed with the channel's key. */
static void t_binding_first_ends(void **st)
{
	struct fixture *f = *st;
	assert_int_equal(chmod(f->dir, 0755), 0);
	uint8_t key1[16], key2[16];
	uint64_t sid = logon(f, key1);
	uint32_t tid = tcon_share(f, f->c, key1, sid);
	uint64_t fid[2];
	open_root(f, f->c, key1, sid, tid, fid);
	uint64_t mid1 = f->mid;
	struct smb2_conn *c2 = bind_channel(f, sid, key1, key2);
	/* a CHANGE_NOTIFY waits on the first connection, which ends */
	uint64_t mid2 = f->mid;
	f->mid = mid1;
	assert_int_equal(notify_or_close(f, f->c, key1, sid, tid, fid, true), STATUS_PENDING);
	f->mid = mid2;
	smb2_conn_free(f->c);
	f->c = c2;
	assert_int_equal(c2->nsessions, 1);
	assert_non_null(c2->adopted); /* the request moved along with the session */
	assert_int_equal(smb2_conn_run_async(c2), 0);
	assert_int_equal(c2->npending, 1);
	assert_int_equal(notify_or_close(f, c2, key2, sid, tid, fid, false), STATUS_SUCCESS);
	assert_int_equal(c2->npending, 0);
	assert_int_equal(tcon_signed(f, c2, sid, key2), STATUS_SUCCESS);
	/* and ends with LOGOFF on the channel it moved to */
	assert_int_equal(logoff_signed(f, c2, key2, sid), STATUS_SUCCESS);
	assert_int_equal(c2->nsessions, 0);
}

/* A READ or WRITE request (2.2.19, 2.2.21) up to its FileId and a little past it: all that
 * smb2_conn_frame_parallel looks at. */
static void rw_req(struct wr *w, uint16_t cmd, uint64_t sid, uint32_t tid, const uint64_t fid[2],
		   uint64_t offset)
{
	wr_init(w, 0);
	hdr(w, cmd, 7, sid, tid, 0);
	wr_u16(w, 49);
	wr_u16(w, cmd == SMB2_WRITE ? 64 + 48 : 0); /* WRITE: DataOffset */
	wr_u32(w, 16);                              /* Length */
	wr_u64(w, offset);
	wr_u64(w, fid[0]);
	wr_u64(w, fid[1]);
	wr_zero(w, 16 + 16);
}

/* Which frames may run alongside the connection's others: a lone READ, or WRITE at an offset,
 * of an open regular file of the frame's session; nothing truncated, compounded, related,
 * async, appending, of another command, another kind of open or an unknown session. */
static void t_frame_parallel(void **st)
{
	struct fixture *f = *st;
	assert_int_equal(chmod(f->dir, 0755), 0);
	uint8_t key[16];
	uint64_t sid = logon(f, key);
	uint32_t tid = tcon_share(f, f->c, key, sid);
	uint64_t file[2], dir[2], none[2] = {0x1234, 0x5678};
	/* a file the mapped user may write (the share's folder is not its own) */
	char path[128];
	snprintf(path, sizeof(path), "%s/par.bin", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0666), 0);
	/* FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE; FILE_OPEN; FILE_NON_DIRECTORY_FILE */
	open_path(f, f->c, key, sid, tid, "par.bin", 0x00100003, 1, 0x40, file);
	open_root(f, f->c, key, sid, tid, dir);
	struct smb2_conn *c = f->c;
	struct wr w;
	rw_req(&w, SMB2_READ, sid, tid, file, 0);
	assert_true(smb2_conn_frame_parallel(c, w.p, w.len));
	/* the header and the body up to the end of the FileId are enough; anything shorter not */
	assert_true(smb2_conn_frame_parallel(c, w.p, SMB2_HDR_LEN + 32));
	for (size_t cut = 0; cut < SMB2_HDR_LEN + 32; cut++)
		assert_false(smb2_conn_frame_parallel(c, w.p, cut));
	put_le32(w.p + HDR_OFF_FLAGS, SMB2_FLAGS_RELATED_OPERATIONS);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	put_le32(w.p + HDR_OFF_FLAGS, SMB2_FLAGS_ASYNC_COMMAND);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	put_le32(w.p + HDR_OFF_FLAGS, 0);
	put_le32(w.p + HDR_OFF_NEXT_COMMAND, 128);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	put_le32(w.p + HDR_OFF_NEXT_COMMAND, 0);
	put_le32(w.p, SMB2_TRANSFORM_ID);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	put_le32(w.p, SMB2_PROTOCOL_ID);
	put_le16(w.p + HDR_OFF_COMMAND, SMB2_FLUSH);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	put_le16(w.p + HDR_OFF_COMMAND, SMB2_READ);
	put_le64(w.p + HDR_OFF_SESSION_ID, sid + 1);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	wr_free(&w);
	/* a READ at any offset; a WRITE only at one (UINT64_MAX appends) */
	rw_req(&w, SMB2_READ, sid, tid, file, UINT64_MAX);
	assert_true(smb2_conn_frame_parallel(c, w.p, w.len));
	wr_free(&w);
	rw_req(&w, SMB2_WRITE, sid, tid, file, 4096);
	assert_true(smb2_conn_frame_parallel(c, w.p, w.len));
	wr_free(&w);
	rw_req(&w, SMB2_WRITE, sid, tid, file, UINT64_MAX);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	wr_free(&w);
	/* a directory, or a FileId the session does not have */
	rw_req(&w, SMB2_READ, sid, tid, dir, 0);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	wr_free(&w);
	rw_req(&w, SMB2_READ, sid, tid, none, 0);
	assert_false(smb2_conn_frame_parallel(c, w.p, w.len));
	wr_free(&w);
}

/* The rule of 3.3.5.7 alone: only 3.1.1, only authenticated users, signed or encrypted is enough. */
static void t_tcon_unprotected(void **st)
{
	(void)st;
	assert_true(smb2_tcon_unprotected(SMB2_DIALECT_311, false, false, false, false));
	assert_false(smb2_tcon_unprotected(SMB2_DIALECT_311, false, false, true, false));
	assert_false(smb2_tcon_unprotected(SMB2_DIALECT_311, false, false, false, true));
	assert_false(smb2_tcon_unprotected(SMB2_DIALECT_311, true, false, false, false));
	assert_false(smb2_tcon_unprotected(SMB2_DIALECT_311, false, true, false, false));
	assert_false(smb2_tcon_unprotected(SMB2_DIALECT_302, false, false, false, false));
	assert_false(smb2_tcon_unprotected(SMB2_DIALECT_202, false, false, false, false));
}

/* FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT, sent outside any session as smbtorture does. */
static void unacked_ioctl(struct fixture *f, struct wr *r)
{
	struct wr w;
	wr_init(&w, 0);
	hdr(&w, SMB2_IOCTL, f->mid++, 0, 0, 0);
	wr_u16(&w, 57);
	wr_u16(&w, 0);
	wr_u32(&w, 0x83848003u);
	wr_u64(&w, UINT64_MAX);
	wr_u64(&w, UINT64_MAX);
	wr_zero(&w, 4 * 6); /* no input, no output */
	wr_u32(&w, 1); /* SMB2_0_IOCTL_IS_FSCTL */
	wr_u32(&w, 0);
	assert_int_equal(run(f, w.p, w.len, r), 0);
	wr_free(&w);
}

static void t_torture_unacked(void **st)
{
	struct fixture *f = *st;
	do_negotiate(f);
	struct wr r;
	unacked_ioctl(f, &r);
	assert_int_equal(status_of(&r), 0);
	wr_free(&r);
	assert_true(atomic_load(&f->c->force_unacked));
	/* nothing to drop before a break went out; then about 1.2 s after it */
	assert_false(smb2_torture_unacked_expired(f->c, UINT64_MAX));
	smb2_torture_break_sent(f->c);
	uint64_t at = atomic_load(&f->c->unacked_drop_ms);
	assert_true(at > 0);
	assert_false(smb2_torture_unacked_expired(f->c, at - 1));
	assert_true(smb2_torture_unacked_expired(f->c, at));
	/* a second break does not move the deadline */
	smb2_torture_break_sent(f->c);
	assert_int_equal(atomic_load(&f->c->unacked_drop_ms), at);
}

/* Without "smbtorture fsctls" the same request needs a session like any IOCTL. */
static void t_torture_unacked_off(void **st)
{
	struct fixture *f = *st;
	do_negotiate(f);
	struct wr r;
	unacked_ioctl(f, &r);
	assert_int_equal(status_of(&r), STATUS_USER_SESSION_DELETED);
	wr_free(&r);
	assert_false(atomic_load(&f->c->force_unacked));
	smb2_torture_break_sent(f->c);
	assert_false(smb2_torture_unacked_expired(f->c, UINT64_MAX));
}

/* Every truncation and many random corruptions of a NEGOTIATE: the request path answers or
 * drops the connection, and never reads outside the frame (ASan). */
static void t_malformed(void **st)
{
	struct fixture *f0 = *st;
	struct wr w;
	wr_init(&w, 0);
	negotiate_req(&w, 0);
	for (size_t cut = 0; cut <= w.len; cut++) {
		struct smb2_conn *c = smb2_conn_new(f0->srv, -1, "cut");
		struct smb2_conn *saved = f0->c;
		f0->c = c;
		struct wr r;
		int rc = run(f0, w.p, cut, &r);
		assert_true(rc == 0 || rc == -1);
		wr_free(&r);
		f0->c = saved;
		smb2_conn_free(c);
	}
	srand(11);
	for (int i = 0; i < 3000; i++) {
		struct smb2_conn *c = smb2_conn_new(f0->srv, -1, "fuzz");
		struct smb2_conn *saved = f0->c;
		f0->c = c;
		uint8_t *m = malloc(w.len);
		memcpy(m, w.p, w.len);
		for (int k = 0; k < 1 + rand() % 4; k++)
			m[(size_t)rand() % w.len] = (uint8_t)rand();
		struct wr r;
		int rc = run(f0, m, w.len, &r);
		assert_true(rc == 0 || rc == -1);
		wr_free(&r);
		free(m);
		f0->c = saved;
		smb2_conn_free(c);
	}
	wr_free(&w);
}

/* The user's identity stays on the thread after a request (the next request of the same user
 * switches nothing), and every entry point that is not a request runs as the server: the
 * retries of asynchronous requests, a connection's teardown, a server's set-up. */
static void t_ident_lazy(void **st)
{
	struct fixture *f = *st;
	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(f->dir, 0755), 0); /* the mapped user must reach the share */
	uint8_t key[16];
	uint64_t sid = logon(f, key);
	uint32_t tid = tcon_share(f, f->c, key, sid);
	uint64_t fid[2];
	open_root(f, f->c, key, sid, tid, fid);
	assert_int_equal(vfs_ident_fsuid(), 4242); /* left on the thread */
	assert_int_equal(smb2_conn_run_async(f->c), 0);
	assert_int_equal(vfs_ident_fsuid(), 0);
	open_root(f, f->c, key, sid, tid, fid);
	assert_int_equal(vfs_ident_fsuid(), 4242);
	struct smb2_conn *c2 = smb2_conn_new(f->srv, -1, "unit2");
	assert_non_null(c2);
	smb2_conn_free(c2);
	assert_int_equal(vfs_ident_fsuid(), 0);
	open_root(f, f->c, key, sid, tid, fid);
	assert_int_equal(vfs_ident_fsuid(), 4242);
	char err[256];
	struct smb2_server *srv2 = smb2_server_new(f->conf, err, sizeof(err));
	assert_int_equal(vfs_ident_fsuid(), 0);
	smb2_server_free(srv2);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(t_negotiate, setup, teardown),
		cmocka_unit_test_setup_teardown(t_smb1_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(t_credit_window, setup, teardown),
		cmocka_unit_test_setup_teardown(t_compound, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_and_signing, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(t_binding_async, setup, teardown),
		cmocka_unit_test_setup_teardown(t_binding_first_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(t_frame_parallel, setup, teardown),
		cmocka_unit_test(t_tcon_unprotected),
		cmocka_unit_test_setup_teardown(t_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(t_torture_unacked, setup_torture, teardown),
		cmocka_unit_test_setup_teardown(t_torture_unacked_off, setup, teardown),
		cmocka_unit_test_setup_teardown(t_ident_lazy, setup, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
