/* NTLMSSP: MS-NLMP 4.2.4 vectors, client <-> server round trips, and malformed messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/ntlmssp.h"
#include "auth/ntlmssp_priv.h"
#include "crypto/crypto.h"

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	for (; s[0] && s[1]; s += 2) {
		while (*s == ' ')
			s++;
		unsigned v;
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void assert_hex(const uint8_t *got, const char *want)
{
	uint8_t w[256];
	size_t n = unhex(want, w);
	assert_memory_equal(got, w, n);
}

/* ---- MS-NLMP 4.2.4 (NTLMv2) ---- */

/* 4.2.4.3: the AUTHENTICATE_MESSAGE of the example (no MIC; user "User", domain "Domain",
 * workstation "COMPUTER", ServerChallenge 0123456789abcdef, RandomSessionKey 0x55 * 16). */
static const char *auth_4243 = "4e544c4d535350000300000018001800"
			       "6c00000054005400840000000c000c00"
			       "48000000080008005400000010001000"
			       "5c00000010001000d8000000358288e2"
			       "0501280a0000000f44006f006d006100"
			       "69006e00550073006500720043004f00"
			       "4d005000550054004500520086c35097"
			       "ac9cec102554764a57cccc19aaaaaaaa"
			       "aaaaaaaa68cd0ab851e51c96aabc927b"
			       "ebef6a1c010100000000000000000000"
			       "00000000aaaaaaaaaaaaaaaa00000000"
			       "02000c0044006f006d00610069006e00"
			       "01000c00530065007200760065007200"
			       "0000000000000000c5dad2544fc97990"
			       "94ce1ce90bc9d03e";

static const uint8_t server_chal_424[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static void test_v2_vectors(void **state)
{
	uint8_t nt[16], owf[16], blob[128], proof[16], base[16];
	assert_int_equal(ntlm_nt_hash("Password", nt), 0);
	assert_int_equal(ntlm_ntowfv2(nt, "User", "Domain", owf), 0);
	assert_hex(owf, "0c868a403bfd7a93a3001ef22ef02e3f"); /* 4.2.4.1.1 */
	/* 4.2.4.1.3 temp, then 4.2.4.2.2 NTProofStr */
	size_t n = unhex(
	    "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000"
	    "02000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000",
	    blob);
	assert_int_equal(ntlmssp_v2_proof(owf, server_chal_424, blob, n, proof), 0);
	assert_hex(proof, "68cd0ab851e51c96aabc927bebef6a1c");
	uint8_t resp[160];
	memcpy(resp, proof, 16);
	memcpy(resp + 16, blob, n);
	assert_int_equal(ntlmssp_v2_verify(owf, server_chal_424, resp, 16 + n, base), 0);
	assert_hex(base, "8de40ccadbc14a82f15cb0ad0de95ca3"); /* 4.2.4.1.2 */
	resp[20] ^= 1;
	assert_int_equal(ntlmssp_v2_verify(owf, server_chal_424, resp, 16 + n, base), -EACCES);
}

static void test_v2_authenticate_example(void **state)
{
	uint8_t msg[512], nt[16], owf[16], base[16], exported[16];
	size_t len = unhex(auth_4243, msg);
	struct ntlmssp_auth_msg am;
	char *user, *dom, *ws;
	assert_int_equal(ntlmssp_parse_authenticate(msg, len, &am), 0);
	assert_int_equal(am.flags, 0xe2888235);
	assert_int_equal(ntlmssp_field_str(&am.user, true, &user), 0);
	assert_int_equal(ntlmssp_field_str(&am.domain, true, &dom), 0);
	assert_int_equal(ntlmssp_field_str(&am.workstation, true, &ws), 0);
	assert_string_equal(user, "User");
	assert_string_equal(dom, "Domain");
	assert_string_equal(ws, "COMPUTER");
	assert_int_equal(am.lm.len, 24);
	assert_hex(am.lm.p, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"); /* 4.2.4.2.1 */
	ntlm_nt_hash("Password", nt);
	ntlm_ntowfv2(nt, user, dom, owf);
	assert_int_equal(ntlmssp_v2_verify(owf, server_chal_424, am.nt.p, am.nt.len, base), 0);
	assert_hex(base, "8de40ccadbc14a82f15cb0ad0de95ca3");
	/* 4.2.4.2.3: EncryptedRandomSessionKey unwraps to RandomSessionKey under KeyExchangeKey */
	assert_int_equal(am.enc_key.len, 16);
	assert_hex(am.enc_key.p, "c5dad2544fc9799094ce1ce90bc9d03e");
	memcpy(exported, am.enc_key.p, 16);
	crypto_rc4(base, 16, exported, 16);
	assert_hex(exported, "55555555555555555555555555555555");
	/* 4.2.4.4: keys and the GSS_WrapEx signature of "Plaintext" (sealed first, then signed) */
	struct ntlmssp_keys k;
	assert_int_equal(ntlmssp_derive_keys(&k, exported, am.flags), 0);
	assert_hex(k.client_seal, "59f600973cc4960a25480a7c196e4c58");
	assert_hex(k.client_sign, "4788dc861b4782f35d43fd98fe1a2d39");
	uint8_t pt[18], ct[18], sig[16];
	size_t n = unhex("50006c00610069006e007400650078007400", pt);
	memcpy(ct, pt, n);
	crypto_rc4_crypt(&k.client_rc4, ct, n);
	assert_hex(ct, "54e50165bf1936dc996020c1811b0f06fb5f");
	assert_int_equal(ntlmssp_sign(&k, false, pt, n, sig), 0);
	assert_hex(sig, "010000007fb38ec5c55d497600000000");
	assert_int_equal(k.client_seq, 1);
	/* the same from the receiving side */
	struct ntlmssp_keys r;
	ntlmssp_derive_keys(&r, exported, am.flags);
	crypto_rc4_crypt(&r.client_rc4, ct, n);
	assert_memory_equal(ct, pt, n);
	assert_int_equal(ntlmssp_check(&r, false, pt, n, sig), 0);
	free(user);
	free(dom);
	free(ws);
}

/* ---- round trips ---- */

struct db {
	const char *user;
	const char *password;
	int lookups;
};

static int lookup(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	struct db *d = arg;
	d->lookups++;
	if (strcasecmp(user, d->user) != 0)
		return -ENOENT;
	return ntlm_nt_hash(d->password, nt_hash);
}

static struct db the_db = {"alice", "S3cret-pw", 0};

static struct ntlmssp_server *new_server(void)
{
	struct ntlmssp_server_cfg cfg = {"SHOAL", "WORKGROUP", "shoal.local",
					 "local", lookup,      &the_db};
	struct ntlmssp_server *s = ntlmssp_server_new(&cfg);
	assert_non_null(s);
	return s;
}

static struct ntlmssp_client *new_client(const char *user, const char *domain, const char *pw)
{
	struct ntlmssp_client_cfg cfg = {user, domain, pw, NULL, "WS1"};
	struct ntlmssp_client *c = ntlmssp_client_new(&cfg);
	assert_non_null(c);
	return c;
}

/* Runs NEGOTIATE and CHALLENGE; returns the AUTHENTICATE the client made (malloc'ed). */
static uint8_t *first_legs(struct ntlmssp_server *s, struct ntlmssp_client *c, size_t *authlen)
{
	uint8_t *neg, *chal, *auth;
	size_t neglen, challen;
	assert_int_equal(ntlmssp_client_step(c, NULL, 0, &neg, &neglen), 1);
	assert_int_equal(ntlmssp_server_step(s, neg, neglen, &chal, &challen), 1);
	assert_int_equal(ntlmssp_client_step(c, chal, challen, &auth, authlen), 0);
	free(neg);
	free(chal);
	return auth;
}

static int run(const char *user, const char *domain, const char *pw, struct ntlmssp_server **sp,
	       struct ntlmssp_client **cp)
{
	struct ntlmssp_server *s = new_server();
	struct ntlmssp_client *c = new_client(user, domain, pw);
	size_t authlen;
	uint8_t *auth = first_legs(s, c, &authlen), *out = (uint8_t *)1;
	size_t outlen;
	int rc = ntlmssp_server_step(s, auth, authlen, &out, &outlen);
	assert_null(out);
	free(auth);
	*sp = s;
	*cp = c;
	return rc;
}

static void test_round_trip(void **state)
{
	const char *domains[] = {"WORKGROUP", "", "SHOAL"};
	for (int i = 0; i < 3; i++) {
		struct ntlmssp_server *s;
		struct ntlmssp_client *c;
		assert_int_equal(run("Alice", domains[i], "S3cret-pw", &s, &c), 0);
		assert_string_equal(ntlmssp_server_user(s), "Alice");
		assert_string_equal(ntlmssp_server_domain(s), domains[i]);
		assert_false(ntlmssp_server_anonymous(s));
		assert_memory_equal(ntlmssp_server_session_key(s), ntlmssp_client_session_key(c),
				    16);
		static const uint8_t zero[16];
		assert_memory_not_equal(ntlmssp_server_session_key(s), zero, 16);
		/* signatures both ways, several messages, with the RC4 state carried along */
		struct ntlmssp_keys *sk = ntlmssp_server_keys(s), *ck = ntlmssp_client_keys(c);
		assert_true(sk->flags & NTLMSSP_NEGOTIATE_KEY_EXCH);
		for (int m = 0; m < 3; m++) {
			uint8_t sig[16];
			const uint8_t msg[] = "some message";
			assert_int_equal(ntlmssp_sign(ck, false, msg, sizeof(msg), sig), 0);
			assert_int_equal(ntlmssp_check(sk, false, msg, sizeof(msg), sig), 0);
			assert_int_equal(ntlmssp_sign(sk, true, msg, sizeof(msg), sig), 0);
			sig[5] ^= 1;
			assert_int_equal(ntlmssp_check(ck, true, msg, sizeof(msg), sig), -EBADMSG);
		}
		/* steps after completion are out of order */
		uint8_t *out;
		size_t outlen;
		assert_int_equal(ntlmssp_server_step(s, (const uint8_t *)"x", 1, &out, &outlen),
				 -EINVAL);
		ntlmssp_server_free(s);
		ntlmssp_client_free(c);
	}
}

static void test_wrong_password(void **state)
{
	struct ntlmssp_server *s;
	struct ntlmssp_client *c;
	assert_int_equal(run("alice", "WORKGROUP", "wrong", &s, &c), -EACCES);
	assert_false(ntlmssp_server_anonymous(s));
	ntlmssp_server_free(s);
	ntlmssp_client_free(c);
	assert_int_equal(run("bob", "WORKGROUP", "S3cret-pw", &s, &c), -EACCES);
	ntlmssp_server_free(s);
	ntlmssp_client_free(c);
}

static void test_nt_hash_client(void **state)
{
	uint8_t h[16];
	ntlm_nt_hash("S3cret-pw", h);
	struct ntlmssp_client_cfg cfg = {"alice", "W", NULL, h, NULL};
	struct ntlmssp_client *c = ntlmssp_client_new(&cfg);
	struct ntlmssp_server *s = new_server();
	size_t authlen;
	uint8_t *auth = first_legs(s, c, &authlen), *out;
	size_t outlen;
	assert_int_equal(ntlmssp_server_step(s, auth, authlen, &out, &outlen), 0);
	free(auth);
	ntlmssp_server_free(s);
	ntlmssp_client_free(c);
}

static void test_anonymous(void **state)
{
	struct ntlmssp_server *s;
	struct ntlmssp_client *c;
	static const uint8_t zero[16];
	assert_int_equal(run("", "", NULL, &s, &c), 0);
	assert_true(ntlmssp_server_anonymous(s));
	assert_string_equal(ntlmssp_server_user(s), "");
	assert_memory_equal(ntlmssp_server_session_key(s), zero, 16);
	ntlmssp_server_free(s);
	ntlmssp_client_free(c);
}

/* A hand-made AUTHENTICATE with the given user and responses (no MIC, no version). */
static uint8_t *make_auth(const char *user, const uint8_t *lm, size_t lmlen, const uint8_t *nt,
			  size_t ntlen, size_t *len)
{
	struct wr w;
	wr_init(&w, 256);
	wr_bytes(&w, ntlmssp_signature, 8);
	wr_u32(&w, 3);
	wr_zero(&w, 48);
	wr_u32(&w, NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_NTLM);
	struct {
		size_t hdr;
		const uint8_t *p;
		size_t n;
	} f[3] = {{12, lm, lmlen}, {20, nt, ntlen}, {36, NULL, 0}};
	uint8_t u16[64];
	size_t ulen = 0;
	for (const char *p = user; *p; p++) {
		u16[ulen++] = (uint8_t)*p;
		u16[ulen++] = 0;
	}
	f[2].p = u16;
	f[2].n = ulen;
	for (int i = 0; i < 3; i++) {
		wr_set_u16(&w, f[i].hdr, (uint16_t)f[i].n);
		wr_set_u16(&w, f[i].hdr + 2, (uint16_t)f[i].n);
		wr_set_u32(&w, f[i].hdr + 4, (uint32_t)w.len);
		wr_bytes(&w, f[i].p, f[i].n);
	}
	return wr_take(&w, len);
}

static int server_with(const uint8_t *auth, size_t len)
{
	struct ntlmssp_server *s = new_server();
	struct ntlmssp_client *c = new_client("alice", "W", "S3cret-pw");
	size_t alen;
	free(first_legs(s, c, &alen));
	uint8_t *out;
	size_t outlen;
	int rc = ntlmssp_server_step(s, auth, len, &out, &outlen);
	ntlmssp_server_free(s);
	ntlmssp_client_free(c);
	return rc;
}

static void test_refuse_v1(void **state)
{
	uint8_t r24[24], big[64];
	size_t len;
	memset(r24, 0x42, sizeof(r24));
	memset(big, 0x42, sizeof(big));
	uint8_t *m = make_auth("alice", r24, 24, r24, 24, &len);
	assert_int_equal(server_with(m, len), -EACCES); /* NTLMv1 */
	free(m);
	m = make_auth("alice", r24, 24, NULL, 0, &len);
	assert_int_equal(server_with(m, len), -EACCES); /* LM only */
	free(m);
	m = make_auth("alice", r24, 24, big, 30, &len);
	assert_int_equal(server_with(m, len), -EINVAL); /* too short for NTLMv2 */
	free(m);
	m = make_auth("", (const uint8_t *)"", 1, NULL, 0, &len);
	assert_int_equal(server_with(m, len), 0); /* anonymous, Z(1) LM response */
	free(m);
	m = make_auth("", r24, 24, NULL, 0, &len);
	assert_int_equal(server_with(m, len), -EACCES); /* no user but a response */
	free(m);
}

/* Every single-bit change of the AUTHENTICATE is caught: what the NTLMv2 response does not cover,
 * the MIC does. Each flip gets a fresh exchange so that only the flip can make it fail. */
static void test_auth_bit_flips(void **state)
{
	size_t authlen = 0;
	for (size_t i = 0; i == 0 || i < authlen; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct ntlmssp_server *s = new_server();
			struct ntlmssp_client *c = new_client("alice", "WORKGROUP", "S3cret-pw");
			uint8_t *auth = first_legs(s, c, &authlen), *out;
			size_t outlen;
			auth[i] ^= (uint8_t)(1 << bit);
			int rc = ntlmssp_server_step(s, auth, authlen, &out, &outlen);
			if (rc != -EINVAL && rc != -EACCES)
				fail_msg("flip of byte %zu bit %d: %d", i, bit, rc);
			free(auth);
			ntlmssp_server_free(s);
			ntlmssp_client_free(c);
		}
	}
}

/* Flipping the workstation name (not covered by the NTLMv2 response) is caught by the MIC. */
static void test_mic_covers_message(void **state)
{
	for (int tamper = 0; tamper < 3; tamper++) {
		struct ntlmssp_server *s = new_server();
		struct ntlmssp_client *c = new_client("alice", "WORKGROUP", "S3cret-pw");
		size_t authlen;
		uint8_t *auth = first_legs(s, c, &authlen), *out;
		size_t outlen;
		uint32_t ws_off = get_le32(auth + 48);
		if (tamper == 1)
			auth[ws_off] ^= 0x20; /* "WS1" -> "wS1" */
		if (tamper == 2)
			auth[64] ^= 1; /* Version */
		int rc = ntlmssp_server_step(s, auth, authlen, &out, &outlen);
		assert_int_equal(rc, tamper ? -EACCES : 0);
		free(auth);
		ntlmssp_server_free(s);
		ntlmssp_client_free(c);
	}
}

static void test_truncated(void **state)
{
	struct ntlmssp_server *s0 = new_server();
	struct ntlmssp_client *c0 = new_client("alice", "WORKGROUP", "S3cret-pw");
	uint8_t *neg, *chal, *auth, *out;
	size_t neglen, challen, authlen, outlen;
	assert_int_equal(ntlmssp_client_step(c0, NULL, 0, &neg, &neglen), 1);
	assert_int_equal(ntlmssp_server_step(s0, neg, neglen, &chal, &challen), 1);
	assert_int_equal(ntlmssp_client_step(c0, chal, challen, &auth, &authlen), 0);
	/* NEGOTIATE: the fixed part is 32 bytes; Version (the last 8) is optional */
	for (size_t n = 1; n < neglen; n++) {
		struct ntlmssp_server *s = new_server();
		uint8_t *cut = malloc(n);
		memcpy(cut, neg, n);
		int rc = ntlmssp_server_step(s, cut, n, &out, &outlen);
		assert_int_equal(rc, n < 32 ? -EINVAL : 1);
		free(out);
		free(cut);
		ntlmssp_server_free(s);
	}
	/* CHALLENGE at every length, to fresh clients */
	for (size_t n = 0; n < challen; n++) {
		struct ntlmssp_client *c = new_client("alice", "W", "pw");
		uint8_t *n1, *cut = malloc(n + 1);
		size_t n1len;
		ntlmssp_client_step(c, NULL, 0, &n1, &n1len);
		free(n1);
		memcpy(cut, chal, n);
		assert_int_equal(ntlmssp_client_step(c, cut, n, &out, &outlen), -EINVAL);
		free(cut);
		ntlmssp_client_free(c);
	}
	/* AUTHENTICATE at every length (heap copies so ASan sees any overread) */
	for (size_t n = 0; n < authlen; n++) {
		uint8_t *cut = malloc(n + 1);
		memcpy(cut, auth, n);
		assert_int_equal(server_with(cut, n), -EINVAL);
		free(cut);
	}
	free(neg);
	free(chal);
	free(auth);
	ntlmssp_server_free(s0);
	ntlmssp_client_free(c0);
}

static void test_garbage(void **state)
{
	uint8_t buf[300];
	uint8_t *out;
	size_t outlen;
	srand(1234);
	for (int i = 0; i < 3000; i++) {
		size_t n = (size_t)rand() % sizeof(buf);
		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)rand();
		/* a valid signature and message type half of the time, and small offsets */
		if (n >= 12 && (i & 1)) {
			memcpy(buf, ntlmssp_signature, 8);
			put_le32(buf + 8, (uint32_t)(1 + i % 3));
			for (size_t f = 12; f + 8 <= 64 && f + 8 <= n; f += 8)
				put_le32(buf + f + 4, (uint32_t)rand() % 320);
		}
		struct ntlmssp_server *s = new_server();
		int rc = ntlmssp_server_step(s, buf, n, &out, &outlen);
		if (rc == 1) {
			free(out);
			rc = ntlmssp_server_step(s, buf, n, &out, &outlen);
		}
		assert_true(rc == -EINVAL || rc == -EACCES || rc == 1);
		if (rc == 1)
			free(out);
		ntlmssp_server_free(s);
		struct ntlmssp_client *c = new_client("alice", "W", "pw");
		ntlmssp_client_step(c, NULL, 0, &out, &outlen);
		free(out);
		rc = ntlmssp_client_step(c, buf, n, &out, &outlen);
		if (rc == 0)
			free(out);
		else
			assert_int_equal(rc, -EINVAL);
		ntlmssp_client_free(c);
	}
}

static void test_av_find(void **state)
{
	uint8_t av[64];
	struct ntlmssp_field v;
	size_t n = unhex("02000c0044006f006d00610069006e0001000c005300650072007600650072000000000"
			 "0",
			 av);
	assert_int_equal(ntlmssp_av_find(av, n, 1, &v), 0);
	assert_int_equal(v.len, 12);
	assert_int_equal(ntlmssp_av_find(av, n, 7, &v), -ENOENT);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(ntlmssp_av_find(av, cut, 7, &v), -EINVAL);
	av[2] = 0xff; /* first pair claims more than there is */
	assert_int_equal(ntlmssp_av_find(av, n, 7, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_vectors),
	    cmocka_unit_test(test_v2_authenticate_example),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_nt_hash_client),
	    cmocka_unit_test(test_anonymous),
	    cmocka_unit_test(test_refuse_v1),
	    cmocka_unit_test(test_auth_bit_flips),
	    cmocka_unit_test(test_mic_covers_message),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_av_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
