/* SPNEGO and the DER helpers: build/parse round trips, the full exchange over NTLMSSP, and
 * malformed DER. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/asn1.h"
#include "auth/ntlmssp_priv.h"
#include "auth/spnego.h"
#include "crypto/crypto.h"

static const uint8_t oid_ntlmssp[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
static const uint8_t oid_spnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
static const uint8_t oid_krb5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};

/* ---- asn1 ---- */

static void test_asn1_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 70000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint8_t *data = malloc(n + 1);
		for (size_t j = 0; j < n; j++)
			data[j] = (uint8_t)(j * 7 + i);
		struct wr w;
		wr_init(&w, 0);
		size_t outer = asn1_begin(&w);
		asn1_put(&w, ASN1_OCTET_STRING, data, n);
		asn1_put(&w, ASN1_OID, oid_ntlmssp, sizeof(oid_ntlmssp));
		asn1_end(&w, outer, ASN1_SEQUENCE);
		assert_true(wr_ok(&w));
		/* DER minimal lengths: header = 2 below 128, then 1 + 1 + length octets */
		size_t hdr = n < 128 ? 2 : n < 256 ? 3 : n < 65536 ? 4 : 5;
		size_t inner = hdr + n + 2 + sizeof(oid_ntlmssp);
		struct rd r = rd_make(w.p, w.len), seq, v, whole;
		uint8_t tag;
		assert_int_equal(asn1_get(&r, &tag, &seq, &whole), 0);
		assert_int_equal(tag, ASN1_SEQUENCE);
		assert_int_equal(seq.len, inner);
		assert_int_equal(whole.len, w.len);
		assert_int_equal(rd_left(&r), 0);
		assert_int_equal(asn1_expect(&seq, ASN1_OCTET_STRING, &v), 0);
		assert_int_equal(v.len, n);
		if (n)
			assert_memory_equal(v.p, data, n);
		assert_true(asn1_peek(&seq, ASN1_OID));
		assert_int_equal(asn1_expect(&seq, ASN1_OCTET_STRING, &v), -EINVAL);
		wr_free(&w);
		free(data);
	}
}

static void test_asn1_malformed(void **state)
{
	struct {
		const uint8_t b[12];
		size_t n;
	} bad[] = {
	    {{0x04}, 1},				  /* no length */
	    {{0x04, 0x05, 1, 2}, 4},			  /* length past the end */
	    {{0x04, 0x80, 1, 2, 0, 0}, 6},		  /* indefinite length */
	    {{0x04, 0x85, 0, 0, 0, 0, 1, 0}, 8},	  /* five length octets */
	    {{0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0}, 7}, /* huge */
	    {{0x04, 0x82, 0x01}, 3},			  /* truncated length */
	    {{0x1f, 0x81, 0x01, 0x00}, 4},		  /* high tag number form */
	    {{0}, 0},					  /* nothing */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rd r = rd_make(bad[i].b, bad[i].n), v;
		uint8_t tag;
		assert_int_equal(asn1_get(&r, &tag, &v, NULL), -EINVAL);
		assert_false(rd_ok(&r));
	}
}

/* ---- the full exchange ---- */

static int lookup(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	if (strcasecmp(user, "alice") != 0)
		return -ENOENT;
	return ntlm_nt_hash("S3cret-pw", nt_hash);
}

static struct spnego_server *new_server(void)
{
	struct ntlmssp_server_cfg cfg = {"SHOAL", "WORKGROUP", "shoal.local", "", lookup, NULL};
	struct spnego_server *s = spnego_server_new(&cfg);
	assert_non_null(s);
	return s;
}

static struct spnego_client *new_client(const char *user, const char *pw)
{
	struct ntlmssp_client_cfg cfg = {user, "WORKGROUP", pw, NULL, "WS1"};
	struct spnego_client *c = spnego_client_new(&cfg);
	assert_non_null(c);
	return c;
}

/* Finds the mechListMIC ([3] OCTET STRING) of a negTokenResp; NULL when absent. */
static const uint8_t *resp_mic(const uint8_t *tok, size_t len)
{
	struct rd r = rd_make(tok, len), choice, seq, el, v;
	uint8_t tag;
	assert_int_equal(asn1_expect(&r, ASN1_CONTEXT(1), &choice), 0);
	assert_int_equal(asn1_expect(&choice, ASN1_SEQUENCE, &seq), 0);
	while (rd_left(&seq)) {
		assert_int_equal(asn1_get(&seq, &tag, &el, NULL), 0);
		if (tag == ASN1_CONTEXT(3)) {
			assert_int_equal(asn1_expect(&el, ASN1_OCTET_STRING, &v), 0);
			assert_int_equal(v.len, 16);
			return v.p;
		}
	}
	return NULL;
}

/* Runs the exchange; returns the server's final result. */
static int exchange(struct spnego_server *s, struct spnego_client *c, bool use_hint)
{
	uint8_t *hint = NULL, *t1, *t2, *t3, *t4;
	size_t hintlen = 0, l1, l2, l3, l4;
	if (use_hint)
		assert_int_equal(spnego_negotiate_hint(&hint, &hintlen), 0);
	assert_int_equal(spnego_client_step(c, hint, hintlen, &t1, &l1), 1);
	assert_int_equal(t1[0], 0x60);
	assert_int_equal(spnego_server_step(s, t1, l1, &t2, &l2), 1);
	assert_int_equal(t2[0], 0xa1);
	assert_int_equal(spnego_client_step(c, t2, l2, &t3, &l3), 1);
	int rc = spnego_server_step(s, t3, l3, &t4, &l4);
	if (rc == 0) {
		assert_non_null(t4);
		assert_non_null(resp_mic(t4, l4)); /* the client sent a mechListMIC: one back */
		uint8_t *t5;
		size_t l5;
		assert_int_equal(spnego_client_step(c, t4, l4, &t5, &l5), 0);
		assert_null(t5);
	} else {
		assert_null(t4);
	}
	free(hint);
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	return rc;
}

static void test_exchange(void **state)
{
	for (int hint = 0; hint < 2; hint++) {
		struct spnego_server *s = new_server();
		struct spnego_client *c = new_client("alice", "S3cret-pw");
		assert_int_equal(exchange(s, c, hint), 0);
		struct ntlmssp_server *ns = spnego_server_ntlmssp(s);
		struct ntlmssp_client *nc = spnego_client_ntlmssp(c);
		assert_string_equal(ntlmssp_server_user(ns), "alice");
		assert_memory_equal(ntlmssp_server_session_key(ns), ntlmssp_client_session_key(nc),
				    16);
		/* the mechListMIC did not consume the signing state (MS-SPNG 3.3.5.1) */
		struct ntlmssp_keys *sk = ntlmssp_server_keys(ns), *ck = ntlmssp_client_keys(nc);
		assert_int_equal(sk->client_seq, 0);
		assert_int_equal(ck->server_seq, 0);
		uint8_t sig[16];
		assert_int_equal(ntlmssp_sign(ck, false, (const uint8_t *)"m", 1, sig), 0);
		assert_int_equal(ntlmssp_check(sk, false, (const uint8_t *)"m", 1, sig), 0);
		/* no more steps */
		uint8_t *out;
		size_t outlen;
		assert_int_equal(spnego_server_step(s, sig, 16, &out, &outlen), -EINVAL);
		spnego_server_free(s);
		spnego_client_free(c);
	}
}

static void test_wrong_password(void **state)
{
	struct spnego_server *s = new_server();
	struct spnego_client *c = new_client("alice", "nope");
	assert_int_equal(exchange(s, c, true), -EACCES);
	spnego_server_free(s);
	spnego_client_free(c);
}

static void test_anonymous(void **state)
{
	struct spnego_server *s = new_server();
	struct spnego_client *c = new_client("", NULL);
	uint8_t *t1, *t2, *t3, *t4;
	size_t l1, l2, l3, l4;
	assert_int_equal(spnego_client_step(c, NULL, 0, &t1, &l1), 1);
	assert_int_equal(spnego_server_step(s, t1, l1, &t2, &l2), 1);
	assert_int_equal(spnego_client_step(c, t2, l2, &t3, &l3), 1);
	assert_int_equal(spnego_server_step(s, t3, l3, &t4, &l4), 0);
	assert_true(ntlmssp_server_anonymous(spnego_server_ntlmssp(s)));
	assert_null(resp_mic(t4, l4));
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	spnego_server_free(s);
	spnego_client_free(c);
}

static void test_raw_ntlmssp(void **state)
{
	struct spnego_server *s = new_server();
	struct ntlmssp_client_cfg cfg = {"alice", "W", "S3cret-pw", NULL, NULL};
	struct ntlmssp_client *c = ntlmssp_client_new(&cfg);
	uint8_t *neg, *chal, *auth, *fin;
	size_t nl, cl, al, fl;
	assert_int_equal(ntlmssp_client_step(c, NULL, 0, &neg, &nl), 1);
	assert_int_equal(spnego_server_step(s, neg, nl, &chal, &cl), 1);
	assert_memory_equal(chal, "NTLMSSP\0\2\0\0\0", 12); /* answered in kind */
	assert_int_equal(ntlmssp_client_step(c, chal, cl, &auth, &al), 0);
	assert_int_equal(spnego_server_step(s, auth, al, &fin, &fl), 0);
	assert_null(fin);
	free(neg);
	free(chal);
	free(auth);
	ntlmssp_client_free(c);
	spnego_server_free(s);
}

/* negTokenInit with the given mechanisms and optional mechToken. */
static uint8_t *make_init(const uint8_t *const *oids, const size_t *oidlens, int n,
			  const uint8_t *tok, size_t toklen, size_t *len, struct wr *mech_types)
{
	struct wr w;
	wr_init(&w, 128);
	size_t app = asn1_begin(&w);
	asn1_put(&w, ASN1_OID, oid_spnego, sizeof(oid_spnego));
	size_t ch = asn1_begin(&w), seq = asn1_begin(&w), c0 = asn1_begin(&w);
	size_t mt = asn1_begin(&w);
	for (int i = 0; i < n; i++)
		asn1_put(&w, ASN1_OID, oids[i], oidlens[i]);
	asn1_end(&w, mt, ASN1_SEQUENCE);
	if (mech_types) {
		wr_init(mech_types, 0);
		wr_bytes(mech_types, w.p + mt, w.len - mt);
	}
	asn1_end(&w, c0, ASN1_CONTEXT(0));
	if (tok) {
		size_t c2 = asn1_begin(&w);
		asn1_put(&w, ASN1_OCTET_STRING, tok, toklen);
		asn1_end(&w, c2, ASN1_CONTEXT(2));
	}
	asn1_end(&w, seq, ASN1_SEQUENCE);
	asn1_end(&w, ch, ASN1_CONTEXT(0));
	asn1_end(&w, app, ASN1_APPLICATION(0));
	return wr_take(&w, len);
}

static uint8_t *make_resp(const uint8_t *tok, size_t toklen, const uint8_t *mic, size_t *len)
{
	struct wr w;
	wr_init(&w, 128);
	size_t ch = asn1_begin(&w), seq = asn1_begin(&w);
	size_t c2 = asn1_begin(&w);
	asn1_put(&w, ASN1_OCTET_STRING, tok, toklen);
	asn1_end(&w, c2, ASN1_CONTEXT(2));
	if (mic) {
		size_t c3 = asn1_begin(&w);
		asn1_put(&w, ASN1_OCTET_STRING, mic, 16);
		asn1_end(&w, c3, ASN1_CONTEXT(3));
	}
	asn1_end(&w, seq, ASN1_SEQUENCE);
	asn1_end(&w, ch, ASN1_CONTEXT(1));
	return wr_take(&w, len);
}

/* Reads the responseToken of a negTokenResp and checks negState and supportedMech. */
static struct rd resp_token(const uint8_t *tok, size_t len, int want_state, bool want_mech)
{
	struct rd r = rd_make(tok, len), choice, seq, el, v, token = {0};
	uint8_t tag;
	bool mech = false;
	assert_int_equal(asn1_expect(&r, ASN1_CONTEXT(1), &choice), 0);
	assert_int_equal(asn1_expect(&choice, ASN1_SEQUENCE, &seq), 0);
	while (rd_left(&seq)) {
		assert_int_equal(asn1_get(&seq, &tag, &el, NULL), 0);
		if (tag == ASN1_CONTEXT(0)) {
			assert_int_equal(asn1_expect(&el, ASN1_ENUMERATED, &v), 0);
			assert_int_equal(v.p[0], want_state);
		} else if (tag == ASN1_CONTEXT(1)) {
			assert_int_equal(asn1_expect(&el, ASN1_OID, &v), 0);
			assert_memory_equal(v.p, oid_ntlmssp, sizeof(oid_ntlmssp));
			mech = true;
		} else if (tag == ASN1_CONTEXT(2)) {
			assert_int_equal(asn1_expect(&el, ASN1_OCTET_STRING, &token), 0);
		}
	}
	assert_int_equal(mech, want_mech);
	return token;
}

/* Kerberos first with an optimistic token: NTLMSSP is chosen, a CHALLENGE comes back at once;
 * the client then starts NTLMSSP with its NEGOTIATE, and both MICs are exchanged since NTLMSSP
 * was not the client's first choice. */
static void test_krb5_first(void **state)
{
	const uint8_t *oids[] = {oid_krb5, oid_ntlmssp};
	const size_t lens[] = {sizeof(oid_krb5), sizeof(oid_ntlmssp)};
	struct wr mt;
	size_t l1, l2, l3, l4, l5, l6, nl, al;
	uint8_t *t1 =
	    make_init(oids, lens, 2, (const uint8_t *)"\x6e\x03\x01\x02\x03", 5, &l1, &mt);
	struct spnego_server *s = new_server();
	uint8_t *t2, *t4, *t6, *neg, *auth;
	assert_int_equal(spnego_server_step(s, t1, l1, &t2, &l2), 1);
	struct rd chal = resp_token(t2, l2, 1, true);
	assert_true(chal.len > 12);
	assert_memory_equal(chal.p, "NTLMSSP\0\2\0\0\0", 12);
	/* the client ignores that CHALLENGE and sends its NEGOTIATE */
	struct ntlmssp_client_cfg cfg = {"alice", "W", "S3cret-pw", NULL, NULL};
	struct ntlmssp_client *c = ntlmssp_client_new(&cfg);
	assert_int_equal(ntlmssp_client_step(c, NULL, 0, &neg, &nl), 1);
	uint8_t *t3 = make_resp(neg, nl, NULL, &l3);
	assert_int_equal(spnego_server_step(s, t3, l3, &t4, &l4), 1);
	chal = resp_token(t4, l4, 1, false);
	assert_int_equal(ntlmssp_client_step(c, chal.p, chal.len, &auth, &al), 0);
	struct ntlmssp_keys *k = ntlmssp_client_keys(c), saved = *k;
	uint8_t mic[16];
	assert_int_equal(ntlmssp_sign(k, false, mt.p, mt.len, mic), 0);
	uint8_t *t5 = make_resp(auth, al, mic, &l5);
	assert_int_equal(spnego_server_step(s, t5, l5, &t6, &l6), 0);
	const uint8_t *smic = resp_mic(t6, l6);
	assert_non_null(smic);
	assert_int_equal(ntlmssp_check(&saved, true, mt.p, mt.len, smic), 0);
	free(t1), free(t2), free(t3), free(t4), free(t5), free(t6), free(neg), free(auth);
	wr_free(&mt);
	ntlmssp_client_free(c);
	spnego_server_free(s);
}

/* A client mechListMIC that does not verify fails the logon. */
static void test_bad_client_mic(void **state)
{
	const uint8_t *oids[] = {oid_ntlmssp};
	const size_t lens[] = {sizeof(oid_ntlmssp)};
	struct ntlmssp_client_cfg cfg = {"alice", "W", "S3cret-pw", NULL, NULL};
	struct ntlmssp_client *c = ntlmssp_client_new(&cfg);
	struct spnego_server *s = new_server();
	uint8_t *neg, *t1, *t2, *auth, *t3, *t4, mic[16];
	size_t nl, l1, l2, al, l3, l4;
	struct wr mt;
	ntlmssp_client_step(c, NULL, 0, &neg, &nl);
	t1 = make_init(oids, lens, 1, neg, nl, &l1, &mt);
	assert_int_equal(spnego_server_step(s, t1, l1, &t2, &l2), 1);
	struct rd chal = resp_token(t2, l2, 1, true);
	assert_int_equal(ntlmssp_client_step(c, chal.p, chal.len, &auth, &al), 0);
	assert_int_equal(ntlmssp_sign(ntlmssp_client_keys(c), false, mt.p, mt.len, mic), 0);
	mic[7] ^= 1;
	t3 = make_resp(auth, al, mic, &l3);
	assert_int_equal(spnego_server_step(s, t3, l3, &t4, &l4), -EACCES);
	assert_null(t4);
	free(neg), free(t1), free(t2), free(auth), free(t3);
	wr_free(&mt);
	ntlmssp_client_free(c);
	spnego_server_free(s);
}

static void expect_init_rejected(const uint8_t *b, size_t n)
{
	struct spnego_server *s = new_server();
	uint8_t *out;
	size_t outlen;
	assert_int_equal(spnego_server_step(s, b, n, &out, &outlen), -EINVAL);
	assert_null(out);
	spnego_server_free(s);
}

static void test_malformed(void **state)
{
	struct spnego_client *c = new_client("alice", "pw");
	uint8_t *t1, *bad;
	size_t l1;
	assert_int_equal(spnego_client_step(c, NULL, 0, &t1, &l1), 1);
	/* truncated at every length, and every length byte made one larger / smaller */
	for (size_t n = 0; n < l1; n++) {
		bad = malloc(n + 1);
		memcpy(bad, t1, n);
		expect_init_rejected(bad, n);
		free(bad);
	}
	bad = malloc(l1 + 1);
	for (size_t i = 1; i < l1; i++) {
		memcpy(bad, t1, l1);
		bad[l1] = 0;
		/* positions holding DER lengths: the byte after each tag of the framing */
		if (i != 1 && i != 3 && i != 11 && i != 13 && i != 15 && i != 17)
			continue;
		bad[i]++;
		expect_init_rejected(bad, l1);
		bad[i] -= 2;
		expect_init_rejected(bad, l1);
	}
	/* any byte changed: a clean answer either way (bytes inside the NEGOTIATE may still pass)
	 */
	for (size_t i = 0; i < l1; i++) {
		struct spnego_server *s = new_server();
		uint8_t *out;
		size_t outlen;
		memcpy(bad, t1, l1);
		bad[i] ^= 0x41;
		int rc = spnego_server_step(s, bad, l1, &out, &outlen);
		assert_true(rc == -EINVAL || rc == 1);
		free(out);
		spnego_server_free(s);
	}
	/* trailing garbage after the token */
	memcpy(bad, t1, l1);
	bad[l1] = 0;
	expect_init_rejected(bad, l1 + 1);
	free(bad);
	free(t1);
	spnego_client_free(c);
}

static void test_malformed_der(void **state)
{
	uint8_t *bad;
	/* indefinite, huge and over-long lengths, the wrong OID, krb5 only, no mechanisms */
	static const uint8_t indefinite[] = {0x60, 0x80, 0x06, 0x06, 0x2b, 0x06, 0x01,
					     0x05, 0x05, 0x02, 0xa0, 0x00, 0x00, 0x00};
	static const uint8_t huge[] = {0x60, 0x84, 0xff, 0xff, 0xff, 0xf0, 0x06, 0x06, 0x2b};
	static const uint8_t longlen[] = {0x60, 0x88, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x05, 0x00};
	static const uint8_t wrong_oid[] = {0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06,
					    0x01, 0x05, 0x05, 0x03, 0xa0, 0x00};
	expect_init_rejected(indefinite, sizeof(indefinite));
	expect_init_rejected(huge, sizeof(huge));
	expect_init_rejected(longlen, sizeof(longlen));
	expect_init_rejected(wrong_oid, sizeof(wrong_oid));
	const uint8_t *oids[] = {oid_krb5};
	const size_t lens[] = {sizeof(oid_krb5)};
	size_t n;
	bad = make_init(oids, lens, 1, (const uint8_t *)"x", 1, &n, NULL);
	expect_init_rejected(bad, n);
	free(bad);
	bad = make_init(oids, lens, 0, NULL, 0, &n, NULL);
	expect_init_rejected(bad, n);
	free(bad);

	/* deep nesting: 2000 levels of [0] constructed, each correctly sized */
	size_t depth = 2000, len = 0;
	uint8_t *deep = malloc(depth * 6 + 16);
	struct wr w;
	wr_init_fixed(&w, deep, depth * 6 + 16);
	size_t *starts = malloc(depth * sizeof(size_t));
	for (size_t i = 0; i < depth; i++)
		starts[i] = asn1_begin(&w);
	wr_u8(&w, 0);
	for (size_t i = depth; i-- > 0;)
		asn1_end(&w, starts[i], i == 0 ? ASN1_APPLICATION(0) : ASN1_CONTEXT(0));
	assert_true(wr_ok(&w));
	len = w.len;
	expect_init_rejected(deep, len);
	free(starts);
	free(deep);
}

static void test_malformed_resp(void **state)
{
	/* a server past its first leg receives broken negTokenResps */
	struct spnego_client *c = new_client("alice", "S3cret-pw");
	uint8_t *t1, *t2, *t3;
	size_t l1, l2, l3;
	assert_int_equal(spnego_client_step(c, NULL, 0, &t1, &l1), 1);
	struct spnego_server *s0 = new_server();
	assert_int_equal(spnego_server_step(s0, t1, l1, &t2, &l2), 1);
	assert_int_equal(spnego_client_step(c, t2, l2, &t3, &l3), 1);
	for (size_t n = 0; n < l3; n++) {
		struct spnego_server *s = new_server();
		uint8_t *x, *y;
		size_t xl;
		assert_int_equal(spnego_server_step(s, t1, l1, &x, &xl), 1);
		free(x);
		y = malloc(n + 1);
		memcpy(y, t3, n);
		int rc = spnego_server_step(s, y, n, &x, &xl);
		assert_true(rc == -EINVAL);
		free(y);
		spnego_server_free(s);
	}
	/* the client, given the server's reply truncated at every length */
	for (size_t n = 0; n < l2; n++) {
		struct spnego_client *c2 = new_client("alice", "S3cret-pw");
		uint8_t *x, *y;
		size_t xl;
		assert_int_equal(spnego_client_step(c2, NULL, 0, &x, &xl), 1);
		free(x);
		y = malloc(n + 1);
		memcpy(y, t2, n);
		assert_int_equal(spnego_client_step(c2, y, n, &x, &xl), -EINVAL);
		free(y);
		spnego_client_free(c2);
	}
	free(t1);
	free(t2);
	free(t3);
	spnego_server_free(s0);
	spnego_client_free(c);
}

static void test_hint(void **state)
{
	uint8_t *h;
	size_t n;
	assert_int_equal(spnego_negotiate_hint(&h, &n), 0);
	struct rd r = rd_make(h, n), app, oid, ch, seq, el, mt, m;
	uint8_t tag;
	assert_int_equal(asn1_expect(&r, ASN1_APPLICATION(0), &app), 0);
	assert_int_equal(rd_left(&r), 0);
	assert_int_equal(asn1_expect(&app, ASN1_OID, &oid), 0);
	assert_memory_equal(oid.p, oid_spnego, sizeof(oid_spnego));
	assert_int_equal(asn1_expect(&app, ASN1_CONTEXT(0), &ch), 0);
	assert_int_equal(asn1_expect(&ch, ASN1_SEQUENCE, &seq), 0);
	assert_int_equal(asn1_expect(&seq, ASN1_CONTEXT(0), &el), 0);
	assert_int_equal(asn1_expect(&el, ASN1_SEQUENCE, &mt), 0);
	assert_int_equal(asn1_expect(&mt, ASN1_OID, &m), 0);
	assert_memory_equal(m.p, oid_ntlmssp, sizeof(oid_ntlmssp));
	assert_int_equal(asn1_get(&seq, &tag, &el, NULL), 0);
	assert_int_equal(tag, ASN1_CONTEXT(3)); /* negHints */
	assert_int_equal(rd_left(&seq), 0);
	/* a client accepts it; and one without NTLMSSP is refused */
	struct spnego_client *c = new_client("alice", "pw");
	uint8_t *t;
	size_t tl;
	assert_int_equal(spnego_client_step(c, h, n, &t, &tl), 1);
	free(t);
	spnego_client_free(c);
	const uint8_t *oids[] = {oid_krb5};
	const size_t lens[] = {sizeof(oid_krb5)};
	size_t kl;
	uint8_t *k = make_init(oids, lens, 1, NULL, 0, &kl, NULL);
	c = new_client("alice", "pw");
	assert_int_equal(spnego_client_step(c, k, kl, &t, &tl), -EINVAL);
	spnego_client_free(c);
	free(k);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_asn1_round_trip), cmocka_unit_test(test_asn1_malformed),
	    cmocka_unit_test(test_exchange),	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_anonymous),	    cmocka_unit_test(test_raw_ntlmssp),
	    cmocka_unit_test(test_krb5_first),	    cmocka_unit_test(test_bad_client_mic),
	    cmocka_unit_test(test_malformed),	    cmocka_unit_test(test_malformed_der),
	    cmocka_unit_test(test_malformed_resp),  cmocka_unit_test(test_hint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
