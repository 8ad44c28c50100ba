/* Unit tests for the client library's reply parsers and request encoders: valid replies parse,
 * every truncation and every bad (offset, length) is refused without a crash (ASan/UBSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"
#include "lib/utf16.h"

/* A reply header (MS-SMB2 2.2.1) for command cmd. */
static void put_reply_hdr(struct wr *w, uint16_t cmd, uint32_t status)
{
	wr_u32(w, SMB2_PROTOCOL_ID);
	wr_u16(w, 64);
	wr_u16(w, 1);
	wr_u32(w, status);
	wr_u16(w, cmd);
	wr_u16(w, 1);
	wr_u32(w, SMB2_FLAGS_SERVER_TO_REDIR);
	wr_u32(w, 0);
	wr_u64(w, 0);
	wr_u32(w, 0);
	wr_u32(w, 7); /* tree id */
	wr_u64(w, 0x1234);
	wr_zero(w, 16);
}

static struct smbc_conn *new_conn(void)
{
	struct smbc_opts o;
	smbc_opts_init(&o);
	o.host = "h";
	struct smbc_conn *c = smbc_conn_alloc(&o);
	assert_non_null(c);
	return c;
}

static void put_ctx(struct wr *w, uint16_t type, const uint8_t *d, uint16_t len)
{
	wr_align(w, 8);
	wr_u16(w, type);
	wr_u16(w, len);
	wr_u32(w, 0);
	wr_bytes(w, d, len);
}

/* A 3.1.1 NEGOTIATE reply with the three contexts. */
static void build_negotiate(struct wr *w, uint16_t dialect, uint16_t cipher, uint16_t sign)
{
	static const uint8_t blob[] = {0x60, 0x02, 0x05, 0x00};
	wr_init(w, 512);
	put_reply_hdr(w, SMB2_NEGOTIATE, 0);
	wr_u16(w, 65);
	wr_u16(w, 1);
	wr_u16(w, dialect);
	wr_u16(w, 3);
	wr_zero(w, 16);
	wr_u32(w, SMB2_GLOBAL_CAP_LARGE_MTU | SMB2_GLOBAL_CAP_ENCRYPTION);
	wr_u32(w, 8 << 20);
	wr_u32(w, 8 << 20);
	wr_u32(w, 8 << 20);
	wr_zero(w, 16);
	wr_u16(w, 128);
	wr_u16(w, sizeof(blob));
	size_t ctxoff = w->len;
	wr_u32(w, 0);
	wr_bytes(w, blob, sizeof(blob));
	wr_align(w, 8);
	wr_set_u32(w, ctxoff, (uint32_t)w->len);
	uint8_t pre[38] = {1, 0, 32, 0, 1, 0};
	put_ctx(w, 1, pre, sizeof(pre));
	uint8_t enc[4] = {1, 0, (uint8_t)cipher, 0};
	put_ctx(w, 2, enc, sizeof(enc));
	uint8_t sig[4] = {1, 0, (uint8_t)sign, 0};
	put_ctx(w, 8, sig, sizeof(sig));
	assert_true(wr_ok(w));
}

static void t_negotiate(void **st)
{
	(void)st;
	struct smbc_conn *c = new_conn();
	struct wr w;
	build_negotiate(&w, SMB2_DIALECT_311, SMBC_CIPHER_AES128_GCM, SMB2_SIGN_AES_GMAC);
	assert_int_equal(smbc_negotiate_parse(c, w.p, w.len), 0);
	assert_int_equal(c->dialect, SMB2_DIALECT_311);
	assert_int_equal(c->cipher, SMBC_CIPHER_AES128_GCM);
	assert_int_equal(c->sign_alg, SMB2_SIGN_AES_GMAC);
	assert_int_equal(c->neg_bloblen, 4);
	assert_int_equal(c->max_read, 8 << 20);
	/* every truncation fails: fixed part, blob or a context */
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(smbc_negotiate_parse(c, w.p, n), 0);
	/* a context offset past the end, a blob past the end */
	uint8_t *p = malloc(w.len);
	memcpy(p, w.p, w.len);
	put_le32(p + 64 + 60, 0xFFFFFFF0u);
	assert_int_equal(smbc_negotiate_parse(c, p, w.len), STATUS_INVALID_NETWORK_RESPONSE);
	memcpy(p, w.p, w.len);
	put_le16(p + 64 + 58, 0xFFFF);
	assert_int_equal(smbc_negotiate_parse(c, p, w.len), STATUS_INVALID_NETWORK_RESPONSE);
	free(p);
	wr_free(&w);
	/* a dialect we did not offer, a cipher we did not offer */
	c->o.max_dialect = SMB2_DIALECT_300;
	build_negotiate(&w, SMB2_DIALECT_311, 2, 2);
	assert_int_equal(smbc_negotiate_parse(c, w.p, w.len), STATUS_INVALID_NETWORK_RESPONSE);
	wr_free(&w);
	c->o.max_dialect = SMB2_DIALECT_311;
	c->o.ciphers[0] = SMBC_CIPHER_AES256_GCM;
	build_negotiate(&w, SMB2_DIALECT_311, SMBC_CIPHER_AES128_CCM, 1);
	assert_int_equal(smbc_negotiate_parse(c, w.p, w.len), STATUS_INVALID_NETWORK_RESPONSE);
	wr_free(&w);
	build_negotiate(&w, SMB2_DIALECT_311, 0, 1); /* no common cipher: allowed, no encryption */
	assert_int_equal(smbc_negotiate_parse(c, w.p, w.len), 0);
	assert_int_equal(c->cipher, 0);
	wr_free(&w);
	build_negotiate(&w, SMB2_DIALECT_311, 4, 7); /* unknown signing algorithm */
	assert_int_equal(smbc_negotiate_parse(c, w.p, w.len), STATUS_INVALID_NETWORK_RESPONSE);
	wr_free(&w);
	smbc_conn_free(c);
}

static void t_negotiate_encode(void **st)
{
	(void)st;
	struct smbc_conn *c = new_conn();
	uint8_t salt[32] = {0};
	struct wr w;
	wr_init(&w, 256);
	c->o.max_dialect = SMB2_DIALECT_300;
	assert_int_equal(smbc_negotiate_encode(c, &w, salt), 3);
	assert_int_equal(w.len, 36 + 6);
	assert_int_equal(get_le32(w.p + 28), 0); /* no contexts below 3.1.1 */
	w.len = 0;
	c->o.max_dialect = SMB2_DIALECT_311;
	c->o.ciphers[0] = SMBC_CIPHER_AES256_CCM;
	assert_int_equal(smbc_negotiate_encode(c, &w, salt), 5);
	uint32_t off = get_le32(w.p + 28);
	assert_int_equal(off % 8, 0);
	assert_int_equal(get_le16(w.p + 32), 3);
	/* the encryption context offers exactly the configured cipher */
	const uint8_t *ctx = w.p + off - 64;
	ctx += 8 + 38;
	ctx += (8 - (size_t)(ctx - w.p) % 8) % 8;
	assert_int_equal(get_le16(ctx), 2);
	assert_int_equal(get_le16(ctx + 8), 1);
	assert_int_equal(get_le16(ctx + 10), SMBC_CIPHER_AES256_CCM);
	c->o.min_dialect = SMB2_DIALECT_311;
	c->o.max_dialect = SMB2_DIALECT_300;
	w.len = 0;
	assert_int_equal(smbc_negotiate_encode(c, &w, salt), 0);
	wr_free(&w);
	smbc_conn_free(c);
}

/* Checks that the parser accepts msg and refuses every shorter prefix. */
typedef uint32_t (*parse_fn)(const uint8_t *m, size_t len);
static void truncations(const struct wr *w, parse_fn fn)
{
	assert_int_equal(fn(w->p, w->len), 0);
	for (size_t n = 0; n < w->len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, w->p, n);
		assert_int_not_equal(fn(copy, n), 0);
		free(copy);
	}
}

static uint32_t p_create(const uint8_t *m, size_t len)
{
	struct smbc_create_result r;
	return smbc_create_parse(m, len, &r);
}

static uint32_t p_tree(const uint8_t *m, size_t len)
{
	struct smbc_tree t;
	return smbc_tree_connect_parse(m, len, &t);
}

static uint32_t p_read(const uint8_t *m, size_t len)
{
	const uint8_t *d;
	size_t dl;
	uint32_t st = smbc_read_parse(m, len, &d, &dl);
	if (!st && (dl != 5 || memcmp(d, "hello", 5)))
		return STATUS_UNSUCCESSFUL;
	return st;
}

static uint32_t p_ioctl(const uint8_t *m, size_t len)
{
	const uint8_t *d;
	size_t dl;
	uint32_t st = smbc_ioctl_parse(m, len, &d, &dl);
	return !st && dl != 3 ? STATUS_UNSUCCESSFUL : st;
}

static uint32_t p_session(const uint8_t *m, size_t len)
{
	uint16_t f;
	const uint8_t *b;
	size_t bl;
	uint32_t st = smbc_session_setup_parse(m, len, &f, &b, &bl);
	return !st && (bl != 2 || f != 4) ? STATUS_UNSUCCESSFUL : st;
}

static void t_replies(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 256);
	put_reply_hdr(&w, SMB2_CREATE, 0);
	wr_u16(&w, 89);
	wr_zero(&w, 86);
	wr_set_u32(&w, 64 + 56, FILE_ATTRIBUTE_DIRECTORY);
	wr_u16(&w, 0); /* buffer */
	w.len = 64 + 88;
	truncations(&w, p_create);
	struct smbc_create_result r;
	assert_int_equal(smbc_create_parse(w.p, w.len, &r), 0);
	assert_true(r.st.is_dir);
	wr_set_u32(&w, 64 + 80, 200); /* create contexts past the end */
	wr_set_u32(&w, 64 + 84, 8);
	assert_int_equal(smbc_create_parse(w.p, w.len, &r), STATUS_INVALID_NETWORK_RESPONSE);

	w.len = 0;
	put_reply_hdr(&w, SMB2_TREE_CONNECT, 0);
	wr_u16(&w, 16);
	wr_u8(&w, 1);
	wr_u8(&w, 0);
	wr_u32(&w, SMBC_SHARE_FLAG_ENCRYPT_DATA);
	wr_u32(&w, 0);
	wr_u32(&w, 0x1F01FF);
	truncations(&w, p_tree);
	struct smbc_tree t;
	assert_int_equal(smbc_tree_connect_parse(w.p, w.len, &t), 0);
	assert_true(t.encrypt);
	assert_int_equal(t.tid, 7);
	w.p[66] = 9; /* unknown share type */
	assert_int_not_equal(smbc_tree_connect_parse(w.p, w.len, &t), 0);

	w.len = 0;
	put_reply_hdr(&w, SMB2_READ, 0);
	wr_u16(&w, 17);
	wr_u8(&w, 80);
	wr_u8(&w, 0);
	wr_u32(&w, 5);
	wr_u64(&w, 0);
	wr_bytes(&w, "hello", 5);
	truncations(&w, p_read);
	w.p[66] = 200; /* data offset past the end */
	assert_int_not_equal(p_read(w.p, w.len), 0);
	w.p[66] = 10; /* data offset inside the header */
	assert_int_not_equal(p_read(w.p, w.len), 0);
	w.p[66] = 80;
	put_le32(w.p + 68, 0xFFFFFFFFu);
	assert_int_not_equal(p_read(w.p, w.len), 0);

	w.len = 0;
	put_reply_hdr(&w, SMB2_IOCTL, 0);
	wr_u16(&w, 49);
	wr_zero(&w, 2 + 4 + 16 + 8);
	wr_u32(&w, 64 + 48);
	wr_u32(&w, 3);
	wr_zero(&w, 8);
	wr_bytes(&w, "abc", 3);
	truncations(&w, p_ioctl);
	put_le32(w.p + 64 + 32, 0xFFFFFFFEu);
	assert_int_not_equal(p_ioctl(w.p, w.len), 0);

	w.len = 0;
	put_reply_hdr(&w, SMB2_SESSION_SETUP, 0);
	wr_u16(&w, 9);
	wr_u16(&w, 4);
	wr_u16(&w, 72);
	wr_u16(&w, 2);
	wr_bytes(&w, "\xa1\x00", 2);
	truncations(&w, p_session);
	put_le16(w.p + 68, 0xFFFF);
	assert_int_not_equal(p_session(w.p, w.len), 0);
	wr_free(&w);
}

static void put_dirent(struct wr *w, const char *name, bool last)
{
	size_t start = w->len;
	long n = utf16_len(name);
	wr_u32(w, 0);
	wr_u32(w, 0);
	wr_zero(w, 32);
	wr_u64(w, 42);
	wr_u64(w, 4096);
	wr_u32(w, FILE_ATTRIBUTE_ARCHIVE);
	wr_u32(w, (uint32_t)n);
	wr_utf16(w, name);
	wr_align(w, 8);
	if (!last)
		wr_set_u32(w, start, (uint32_t)(w->len - start));
}

static void t_dirents(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 256);
	put_dirent(&w, "a.txt", false);
	put_dirent(&w, "\xc3\xa9t\xc3\xa9", true);
	struct smbc_dirent *d = NULL;
	size_t n = 0, cap = 0;
	assert_int_equal(smbc_dirents_parse(w.p, w.len, &d, &n, &cap), 0);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].name, "a.txt");
	assert_string_equal(d[1].name, "\xc3\xa9t\xc3\xa9");
	assert_int_equal(d[1].st.size, 42);
	smbc_dirents_free(d, n);
	for (size_t k = 0; k < w.len - 8; k++) {
		d = NULL;
		n = cap = 0;
		assert_int_not_equal(smbc_dirents_parse(w.p, k, &d, &n, &cap), 0);
		smbc_dirents_free(d, n);
	}
	/* NextEntryOffset smaller than the entry, odd name length, name past the end */
	uint8_t *p = malloc(w.len);
	size_t bad[][2] = {{0, 8}, {60, 3}, {60, 1000}};
	for (size_t i = 0; i < 3; i++) {
		memcpy(p, w.p, w.len);
		put_le32(p + bad[i][0], (uint32_t)bad[i][1]);
		d = NULL;
		n = cap = 0;
		assert_int_equal(smbc_dirents_parse(p, w.len, &d, &n, &cap),
				 STATUS_INVALID_NETWORK_RESPONSE);
		smbc_dirents_free(d, n);
	}
	free(p);
	wr_free(&w);
}

static void build_bind_ack(struct wr *w, uint16_t result)
{
	wr_init(w, 128);
	static const uint8_t h[] = {5, 0, RPC_PTYPE_BIND_ACK, 3, 0x10, 0, 0, 0};
	wr_bytes(w, h, 8);
	wr_u16(w, 0);
	wr_u16(w, 0);
	wr_u32(w, 1);
	wr_u16(w, 4280);
	wr_u16(w, 4280);
	wr_u32(w, 0x1234);
	wr_u16(w, 13);
	wr_bytes(w, "\\PIPE\\srvsvc", 13);
	wr_align(w, 4);
	wr_u8(w, 1);
	wr_zero(w, 3);
	wr_u16(w, result);
	wr_u16(w, 0);
	wr_zero(w, 20);
	wr_set_u16(w, 8, (uint16_t)w->len);
}

static void t_rpc(void **st)
{
	(void)st;
	struct wr w;
	uint16_t mx, mr, res, reason;
	build_bind_ack(&w, 0);
	assert_int_equal(smbc_rpc_bind_ack_parse(w.p, w.len, &mx, &mr, &res, &reason), 0);
	assert_int_equal(res, 0);
	assert_int_equal(mr, 4280);
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(smbc_rpc_bind_ack_parse(w.p, n, &mx, &mr, &res, &reason), 0);
	put_le16(w.p + 24, 0xFFFF); /* secondary address longer than the PDU */
	assert_int_not_equal(smbc_rpc_bind_ack_parse(w.p, w.len, &mx, &mr, &res, &reason), 0);
	w.p[4] = 0x00; /* big-endian data representation */
	struct rpc_hdr h;
	assert_int_not_equal(rpc_hdr_parse(w.p, w.len, &h), 0);
	assert_int_not_equal(smbc_rpc_bind_ack_parse(w.p, w.len, &mx, &mr, &res, &reason), 0);
	wr_free(&w);
	build_bind_ack(&w, 2);
	assert_int_equal(smbc_rpc_bind_ack_parse(w.p, w.len, &mx, &mr, &res, &reason), 0);
	assert_int_equal(res, 2);
	wr_free(&w);
	wr_init(&w, 32); /* a BIND_NAK from the shared codec (what shoald sends) */
	rpc_bind_nak_write(&w, 1, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
	assert_int_equal(smbc_rpc_bind_ack_parse(w.p, w.len, &mx, &mr, &res, &reason), 0);
	assert_int_equal(res, RPC_RES_PROVIDER_REJECT);
	assert_int_equal(reason, RPC_NAK_AUTH_TYPE_NOT_RECOGNIZED);
	assert_int_not_equal(smbc_rpc_bind_ack_parse(w.p, w.len - 4, &mx, &mr, &res, &reason), 0);
	wr_free(&w);
	assert_non_null(smbc_rpc_iface_find("\\PIPE\\lsarpc"));
	assert_non_null(smbc_rpc_iface_find("SAMR"));
	assert_null(smbc_rpc_iface_find("nosuch"));
	assert_int_equal(smbc_rpc_iface_find("srvsvc")->uuid[0], 0xc8);
}

static void put_ndr_string(struct wr *w, const char *s)
{
	uint32_t n = (uint32_t)(utf16_len(s) / 2 + 1);
	wr_u32(w, n);
	wr_u32(w, 0);
	wr_u32(w, n);
	wr_utf16(w, s);
	wr_u16(w, 0);
	wr_align(w, 4);
}

static void t_srvsvc(void **st)
{
	(void)st;
	struct wr w;
	wr_init(&w, 256);
	assert_int_equal(smbc_srvsvc_share_enum_encode(&w, "\\\\h") % 4, 0);
	assert_int_not_equal(get_le32(w.p), 0); /* ServerName referent */
	assert_int_equal(get_le32(w.p + 4), 4);  /* max_count of "\\h" + NUL */
	w.len = 0;
	wr_u32(&w, 1);
	wr_u32(&w, 1);
	wr_u32(&w, 0x20000);
	wr_u32(&w, 2);
	wr_u32(&w, 0x20004);
	wr_u32(&w, 2);
	wr_u32(&w, 0x20008);
	wr_u32(&w, 0);
	wr_u32(&w, 0x2000c);
	wr_u32(&w, 0x20010);
	wr_u32(&w, 0x80000003u);
	wr_u32(&w, 0x20014);
	put_ndr_string(&w, "test");
	put_ndr_string(&w, "");
	put_ndr_string(&w, "IPC$");
	put_ndr_string(&w, "IPC Service");
	wr_u32(&w, 2);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	struct smbc_share *s;
	size_t n;
	assert_int_equal(smbc_srvsvc_share_enum_parse(w.p, w.len, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(s[0].name, "test");
	assert_string_equal(s[1].comment, "IPC Service");
	assert_int_equal(s[1].type, 0x80000003u);
	smbc_shares_free(s, n);
	for (size_t k = 0; k < w.len; k++)
		assert_int_not_equal(smbc_srvsvc_share_enum_parse(w.p, k, &s, &n), 0);
	put_le32(w.p + 12, 0x40000000u); /* a count that cannot fit */
	put_le32(w.p + 20, 0x40000000u);
	assert_int_not_equal(smbc_srvsvc_share_enum_parse(w.p, w.len, &s, &n), 0);
	put_le32(w.p + 12, 2);
	put_le32(w.p + 20, 2);
	put_le32(w.p + 56, 0x7FFFFFFFu); /* string actual count past the end */
	assert_int_not_equal(smbc_srvsvc_share_enum_parse(w.p, w.len, &s, &n), 0);
	wr_free(&w);
}

static void t_opts(void **st)
{
	(void)st;
	struct smbc_opts o;
	smbc_opts_init(&o);
	assert_true(o.encrypt_enabled);
	assert_int_equal(smbc_opts_set(&o, "MaxSmb2DialectVersion", "3.0.2"), 0);
	assert_int_equal(o.max_dialect, SMB2_DIALECT_302);
	assert_int_equal(smbc_opts_set(&o, "maxsmb2dialectversion", "max"), 0);
	assert_int_equal(o.max_dialect, SMB2_DIALECT_311);
	assert_int_equal(smbc_opts_set(&o, "MaxSmb2DialectVersion", "4.0"), -EINVAL);
	assert_int_equal(smbc_opts_set(&o, "Smb3EncryptionRequired", "yes"), 0);
	assert_true(o.encrypt_required);
	assert_int_equal(smbc_opts_set(&o, "Smb3EncryptionEnabled", "0"), 0);
	assert_false(o.encrypt_enabled);
	assert_int_equal(smbc_opts_set(&o, "Smb3EncryptionAlgorithms", "AES-256-GCM,aes-128-ccm"),
			 0);
	assert_int_equal(o.ciphers[0], 4);
	assert_int_equal(o.ciphers[1], 1);
	assert_int_equal(o.ciphers[2], 0);
	assert_int_equal(smbc_opts_set(&o, "Smb3EncryptionAlgorithms", "ROT13"), -EINVAL);
	assert_int_equal(smbc_opts_set(&o, "Nope", "1"), -ENOENT);
	assert_string_equal(smbc_dialect_name(SMB2_DIALECT_210), "2.1");
	assert_string_equal(smbc_cipher_name(3), "AES-256-CCM");
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_negotiate), cmocka_unit_test(t_negotiate_encode),
	    cmocka_unit_test(t_replies),   cmocka_unit_test(t_dirents),
	    cmocka_unit_test(t_rpc),	   cmocka_unit_test(t_srvsvc),
	    cmocka_unit_test(t_opts),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
