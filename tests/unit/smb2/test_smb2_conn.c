/* The SMB2 request path without a socket: framing of compound chains, the SMB1 upgrade,
 * NEGOTIATE with 3.1.1 contexts, the credit window, a whole NTLMv2 session setup with the real
 * SPNEGO client and 3.1.1 key derivation over the preauth hash, signed requests and responses,
 * and malformed frames (every truncation, random corruption) that must never crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int setup(void **st)
{
	struct fixture *f = calloc(1, sizeof(*f));
	log_set_level(0); /* the malformed-input cases would log every refusal */
	strcpy(f->dir, "/tmp/shoal-unit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char text[512], err[256];
	snprintf(text, sizeof(text),
		 "[global]\n state directory = %s/state\n log level = 0\n"
		 "[test]\n path = %s\n read only = no\n",
		 f->dir, f->dir);
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

/* Runs one frame; returns the rc and leaves the response (without headroom) in *resp. */
static int run(struct fixture *f, const uint8_t *frame, size_t len, struct wr *resp)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, frame, len);
	struct wr out;
	wr_init(&out, 256);
	wr_space(&out, SMB2_OUT_HEADROOM);
	size_t start = 0;
	int rc = smb2_conn_input(f->c, copy, len, &out, &start);
	wr_init(resp, 0);
	if (out.len > start)
		wr_bytes(resp, out.p + start, out.len - start);
	wr_free(&out);
	free(copy);
	return rc;
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

/* SESSION_SETUP with the project's SPNEGO client, then a signed TREE_CONNECT. */
static void t_session_and_signing(void **st)
{
	struct fixture *f = *st;
	do_negotiate(f);
	struct ntlmssp_client_cfg cc = {.user = "tuser", .domain = "WORKGROUP",
					.password = "Secret-1", .workstation = "UNIT"};
	struct spnego_client *sc = spnego_client_new(&cc);
	assert_non_null(sc);
	uint8_t *tok = NULL;
	size_t toklen = 0;
	uint64_t sid = 0;
	uint8_t preauth[64];
	memcpy(preauth, f->c->preauth_hash, 64);
	int crc = spnego_client_step(sc, NULL, 0, &tok, &toklen);
	uint32_t status = STATUS_MORE_PROCESSING_REQUIRED;
	struct wr r = {0};
	for (int round = 0; round < 3 && status == STATUS_MORE_PROCESSING_REQUIRED; round++) {
		assert_true(crc >= 0);
		struct wr w;
		wr_init(&w, 0);
		hdr(&w, SMB2_SESSION_SETUP, f->mid++, sid, 0, 0);
		wr_u16(&w, 25);
		wr_u8(&w, 0);
		wr_u8(&w, SMB2_NEGOTIATE_SIGNING_ENABLED);
		wr_u32(&w, 0);
		wr_u32(&w, 0);
		wr_u16(&w, 64 + 24);
		wr_u16(&w, (uint16_t)toklen);
		wr_u64(&w, 0);
		wr_bytes(&w, tok, toklen);
		free(tok);
		tok = NULL;
		struct iovec iov = {w.p, w.len};
		crypto_preauth_update(preauth, &iov, 1);
		wr_free(&r);
		assert_int_equal(run(f, w.p, w.len, &r), 0);
		wr_free(&w);
		status = status_of(&r);
		sid = get_le64(r.p + HDR_OFF_SESSION_ID);
		uint16_t boff = get_le16(r.p + 64 + 4), blen = get_le16(r.p + 64 + 6);
		assert_true((size_t)boff + blen <= r.len);
		if (status == STATUS_MORE_PROCESSING_REQUIRED) {
			struct iovec ri = {r.p, r.len};
			crypto_preauth_update(preauth, &ri, 1);
		}
		crc = spnego_client_step(sc, r.p + boff, blen, &tok, &toklen);
	}
	assert_int_equal(status, STATUS_SUCCESS);
	free(tok);
	/* 3.1.1 keys over the preauth hash the client computed independently */
	uint8_t sk[16], signkey[16];
	memcpy(sk, ntlmssp_client_session_key(spnego_client_ntlmssp(sc)), 16);
	assert_int_equal(crypto_kdf(sk, 16, "SMBSigningKey", 14, preauth, 64, signkey, 16), 0);
	struct iovec ri = {r.p, r.len};
	assert_true(get_le32(r.p + HDR_OFF_FLAGS) & SMB2_FLAGS_SIGNED);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_GMAC, signkey, &ri, 1), 0);
	spnego_client_free(sc);
	wr_free(&r);

	/* a signed TREE_CONNECT to IPC$ is accepted and answered signed */
	struct wr w;
	wr_init(&w, 0);
	hdr(&w, SMB2_TREE_CONNECT, f->mid++, sid, 0, SMB2_FLAGS_SIGNED);
	uint8_t *path = NULL;
	size_t plen = 0;
	assert_int_equal(utf8_to_utf16le("\\\\127.0.0.1\\IPC$", &path, &plen), 0);
	wr_u16(&w, 9);
	wr_u16(&w, 0);
	wr_u16(&w, 64 + 8);
	wr_u16(&w, (uint16_t)plen);
	wr_bytes(&w, path, plen);
	free(path);
	uint8_t sig[16];
	struct iovec wi = {w.p, w.len};
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, signkey, &wi, 1, sig), 0);
	memcpy(w.p + HDR_OFF_SIGNATURE, sig, 16);
	assert_int_equal(run(f, w.p, w.len, &r), 0);
	assert_int_equal(status_of(&r), 0);
	assert_int_equal(r.p[64 + 2], SMB2_SHARE_TYPE_PIPE);
	ri = (struct iovec){r.p, r.len};
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_GMAC, signkey, &ri, 1), 0);
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

/* Every truncation and many random corruptions of a NEGOTIATE and of a compound: the request
 * path answers or drops the connection, and never reads outside the frame (ASan). */
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

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(t_negotiate, setup, teardown),
		cmocka_unit_test_setup_teardown(t_smb1_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(t_credit_window, setup, teardown),
		cmocka_unit_test_setup_teardown(t_compound, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_and_signing, setup, teardown),
		cmocka_unit_test(t_tcon_unprotected),
		cmocka_unit_test_setup_teardown(t_malformed, setup, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
