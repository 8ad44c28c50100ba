/* Unit tests for SMB2 signing (MS-SMB2 3.1.4.1) and transform encryption (MS-SMB2 3.1.4.3):
 * Microsoft's published AES-CCM (SMB 3.0) and AES-GCM (SMB 3.1.1) examples, signatures computed
 * independently with Python's `cryptography` module, cross-checks against OpenSSL's one-shot
 * CCM/GCM, randomized scatter round trips and tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>

#include "crypto/crypto.h"
#include "testutil.h"

static struct trng rng;

static const enum smb2_cipher all_ciphers[4] = {SMB2_CIPHER_AES128_CCM, SMB2_CIPHER_AES128_GCM,
						SMB2_CIPHER_AES256_CCM, SMB2_CIPHER_AES256_GCM};

/* ---- Microsoft's published transform examples ---- */

/* A transform message as published: ProtocolId, Signature (the tag), then the 32 AAD bytes
 * (Nonce .. SessionId), then the ciphertext (MS-SMB2 2.2.41). */
struct xform {
	uint8_t buf[512];
	size_t len;
};

static void xform_load(struct xform *x, const char *hex)
{
	x->len = unhex(hex, x->buf);
	assert_true(x->len >= 52);
}

/* "Encryption in SMB 3.0: a protocol perspective": the WRITE request sealed by the client. */
static void t_ccm_ms_smb30_encrypt(void **st)
{
	uint8_t key[16], nonce[11], aad[32], msg[256], tag[16], ct[256];
	size_t n, ctn;

	(void)st;
	unhex("261B72350558F2E9DCF613070383EDBF", key);
	unhex("66E69A111892584FB5ED52", nonce);
	unhex("66E69A111892584FB5ED524A744DA3EE87000000000001001100001400E40800", aad);
	n = unhex("FE534D4240000100000000000900400008000000000000000400000000000000"
		  "FFFE0000010000001100001400E4080000000000000000000000000000000000"
		  "3100700017000000000000000000000015010000390000020100000039020000"
		  "00000000000000007000000000000000536D623320656E6372797074696F6E20"
		  "74657374696E67",
		  msg);
	ctn = unhex("25C8FEE16605A437832D1CD52DA9F4645333482A175FE5384563F45FCDAFAEF3"
		    "8BC62BA4D5C62897996625A44C29BE5658DE2E6117585779E7B59FFD971278D0"
		    "8580D7FA899E410E910EABF5AA1DB43050B33B49182637759AC15D84BFCDF5B6"
		    "B238993C0F4CF4D6012023F6C627297075D84B7803912D0A9639634453595EF3"
		    "E33FFE4E7AC2AB",
		    ct);
	assert_int_equal(n, 0x87);
	assert_int_equal(ctn, n);
	for (int round = 0; round < 8; round++) {
		uint8_t work[256];
		struct iovec iov[6];
		int cnt;

		memcpy(work, msg, n);
		cnt = trng_split(&rng, work, n, 0, iov, 6);
		assert_int_equal(
		    smb2_aead_encrypt(SMB2_CIPHER_AES128_CCM, key, nonce, aad, 32, iov, cnt, tag),
		    0);
		assert_memory_equal(work, ct, n);
		unhex("81A286535415445DAE393921E44FA42E", ct + 200);
		assert_memory_equal(tag, ct + 200, 16);
		cnt = trng_split(&rng, work, n, 0, iov, 6);
		assert_int_equal(
		    smb2_aead_decrypt(SMB2_CIPHER_AES128_CCM, key, nonce, aad, 32, iov, cnt, tag),
		    0);
		assert_memory_equal(work, msg, n);
	}
}

/* Opens a published transform message (11-byte CCM or 12-byte GCM nonce) and compares. */
static void open_published(enum smb2_cipher c, const char *key_hex, const char *xform_hex,
			   const char *plain_hex)
{
	struct xform x;
	uint8_t key[32], plain[512];
	size_t pn;
	struct iovec iov[5];
	int cnt;

	unhex(key_hex, key);
	xform_load(&x, xform_hex);
	pn = unhex(plain_hex, plain);
	assert_int_equal(x.len - 52, pn);
	cnt = trng_split(&rng, x.buf + 52, pn, 0, iov, 5);
	/* the nonce is the first bytes of the AAD (the transform header's Nonce field) */
	assert_int_equal(smb2_aead_decrypt(c, key, x.buf + 20, x.buf + 20, 32, iov, cnt, x.buf + 4),
			 0);
	assert_memory_equal(x.buf + 52, plain, pn);
}

/* The same blog: two READ/WRITE responses opened by the client with its DecryptionKey. */
static void t_ccm_ms_smb30_decrypt(void **st)
{
	(void)st;
	open_published(SMB2_CIPHER_AES128_CCM, "8FE2B57EC34D2DB5B1A9727F526BBDB5",
		       "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014"
		       "00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079"
		       "E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787"
		       "1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1"
		       "77309E5B",
		       "FE534D4240000100000000000900210009000000000000000400000000000000"
		       "FFFE0000010000001100001400E4080000000000000000000000000000000000"
		       "11000000170000000000000000000000");
	open_published(SMB2_CIPHER_AES128_CCM, "8FE2B57EC34D2DB5B1A9727F526BBDB5",
		       "FD534D42ABD518B68C2F04D7879F482B689EB83F870000000000000011000014"
		       "00E4080067000000000001001100001400E40800493D6FE2BDBEB435CF5F5469"
		       "70C7BB57BF20E713C75A3D045507E0D68E5C0346659D6FFB8AC1504A786CA2BB"
		       "89C9E7FE4F313E910A04180D2D0EA7DF636329E5A3285984500EF86FE9D55DA4"
		       "FAB9531CFDD4C551D47F3C73124BB4590A45052B694048B991CCF5",
		       "FE534D4240000100000000000800210009000000000000000500000000000000"
		       "FFFE0000010000001100001400E4080000000000000000000000000000000000"
		       "11005000170000000000000000000000536D623320656E6372797074696F6E20"
		       "74657374696E67");
	/* and the client's READ request, opened with the server's view of the same key */
	open_published(SMB2_CIPHER_AES128_CCM, "261B72350558F2E9DCF613070383EDBF",
		       "FD534D42E93601498B76D6F7A72D5EF9B6C79FAFA5123A25F983E245983F413B"
		       "8B429AF271000000000001001100001400E408009A464F709AA663F8C2FC3907"
		       "D63CBF6F98B1E3DD649ED366009FD0B40A365224718E5440E053F6E01AE462FD"
		       "B721BF91C3A6E52E14F9EFF005F445761289FF1272908B52754C8FCB949F228A"
		       "C104A66204289A205BCBC47509D04AF9A907002B96863358B3B7CBA5E3779300"
		       "74FCDF3550",
		       "FE534D4240000100000000000800400008000000000000000500000000000000"
		       "FFFE0000010000001100001400E4080000000000000000000000000000000000"
		       "3100000017000000000000000000000015010000390000020100000039020000"
		       "0000000000000000000000000000000000");
}

static const char gcm_req_plain[] =
    "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000031007000170000000000000000000000"
    "0600000004000000010000000400000000000000000000007000000000000000536D623320656E63"
    "72797074696F6E2074657374696E67";
static const char gcm_req_xform[] =
    "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000"
    "0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02"
    "D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4"
    "4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9"
    "1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8";
static const char gcm_rsp_plain[] =
    "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000011000000170000000000000000000000";

/* "SMB 3.1.1 Encryption in Windows 10": the WRITE request sealed with AES-128-GCM, and the
 * response opened. */
static void t_gcm_ms_smb311(void **st)
{
	struct xform x;
	uint8_t key[16], plain[256], tag[16];
	size_t n;
	struct iovec iov[4];
	int cnt;

	(void)st;
	unhex("A2F5E80E5D59103034F32E52F698E5EC", key);
	xform_load(&x, gcm_req_xform);
	n = unhex(gcm_req_plain, plain);
	assert_int_equal(n, x.len - 52);
	cnt = trng_split(&rng, plain, n, 0, iov, 4);
	assert_int_equal(smb2_aead_encrypt(SMB2_CIPHER_AES128_GCM, key, x.buf + 20, x.buf + 20, 32,
					   iov, cnt, tag),
			 0);
	assert_memory_equal(plain, x.buf + 52, n);
	assert_memory_equal(tag, x.buf + 4, 16);
	open_published(SMB2_CIPHER_AES128_GCM, "A2F5E80E5D59103034F32E52F698E5EC", gcm_req_xform,
		       gcm_req_plain);
	open_published(
	    SMB2_CIPHER_AES128_GCM, "748C50868C90F302962A5C35F5F9A8BF",
	    "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
	    "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
	    "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
	    "82E03C9E18A050FF0EA1C967",
	    gcm_rsp_plain);
}

/* ---- cross-check against OpenSSL's own one-shot CCM/GCM ---- */

static void ref_encrypt(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce,
			const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len,
			uint8_t *ct, uint8_t tag[16])
{
	const EVP_CIPHER *ciph = c == SMB2_CIPHER_AES128_CCM   ? EVP_aes_128_ccm()
				 : c == SMB2_CIPHER_AES256_CCM ? EVP_aes_256_ccm()
				 : c == SMB2_CIPHER_AES128_GCM ? EVP_aes_128_gcm()
							       : EVP_aes_256_gcm();
	bool ccm = c == SMB2_CIPHER_AES128_CCM || c == SMB2_CIPHER_AES256_CCM;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t dummy = 0;
	int outl = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, ciph, NULL, NULL, NULL), 1);
	assert_int_equal(
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)smb2_cipher_noncelen(c), NULL),
	    1);
	if (ccm)
		assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, NULL), 1);
	assert_int_equal(EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce), 1);
	if (ccm)
		assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, NULL, (int)len), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen), 1);
	if (len || ccm)
		assert_int_equal(
		    EVP_EncryptUpdate(ctx, len ? ct : &dummy, &outl, len ? pt : &dummy, (int)len),
		    1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, ct + (len ? (size_t)outl : 0), &outl), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
}

/* One randomized case: encrypt scattered, compare with the reference, decrypt with another
 * scatter, compare with the plaintext. */
static void roundtrip_one(enum smb2_cipher c, size_t len)
{
	uint8_t key[32], nonce[12], aad[32], tag[16], rtag[16];
	uint8_t *pt = malloc(len + 1), *work = malloc(len + 1), *ref = malloc(len + 1);
	struct iovec iov[9];
	int cnt;

	assert_non_null(pt);
	assert_non_null(work);
	assert_non_null(ref);
	trng_fill(&rng, key, sizeof(key));
	trng_fill(&rng, nonce, sizeof(nonce));
	trng_fill(&rng, aad, sizeof(aad));
	trng_fill(&rng, pt, len);
	memcpy(work, pt, len);
	cnt = trng_split(&rng, work, len, 0, iov, 9);
	assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, iov, cnt, tag), 0);
	ref_encrypt(c, key, nonce, aad, 32, pt, len, ref, rtag);
	assert_memory_equal(work, ref, len);
	assert_memory_equal(tag, rtag, 16);
	cnt = trng_split(&rng, work, len, 0, iov, 9);
	assert_int_equal(smb2_aead_decrypt(c, key, nonce, aad, 32, iov, cnt, tag), 0);
	assert_memory_equal(work, pt, len);
	/* one buffer (CCM's one-pass path) gives the same, both ways, and refuses a bad tag */
	struct iovec whole = {work, len};
	assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, &whole, 1, tag), 0);
	assert_memory_equal(work, ref, len);
	assert_memory_equal(tag, rtag, 16);
	assert_int_equal(smb2_aead_decrypt(c, key, nonce, aad, 32, &whole, 1, tag), 0);
	assert_memory_equal(work, pt, len);
	if (len) {
		assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, &whole, 1, tag), 0);
		tag[len % 16] ^= 1;
		assert_int_equal(smb2_aead_decrypt(c, key, nonce, aad, 32, &whole, 1, tag),
				 -EBADMSG);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(work[k], 0); /* nothing unauthenticated is left */
	}
	free(pt);
	free(work);
	free(ref);
}

static void t_aead_roundtrip_random(void **st)
{
	(void)st;
	for (int i = 0; i < 4; i++) {
		roundtrip_one(all_ciphers[i], 0);
		roundtrip_one(all_ciphers[i], 1);
		roundtrip_one(all_ciphers[i], 16);
		for (int round = 0; round < 30; round++)
			roundtrip_one(all_ciphers[i], trng_below(&rng, 12000));
	}
}

/* Large enough to cross the CBC-MAC scratch buffer many times, with odd-sized pieces. */
static void t_aead_large(void **st)
{
	(void)st;
	for (int i = 0; i < 4; i++)
		roundtrip_one(all_ciphers[i], (1u << 20) + 13);
}

/* Any change to ciphertext, tag, AAD or nonce must fail with -EBADMSG, and the unauthenticated
 * plaintext must not be left in the buffer. */
static void t_aead_tamper(void **st)
{
	(void)st;
	for (int i = 0; i < 4; i++) {
		enum smb2_cipher c = all_ciphers[i];
		for (int round = 0; round < 40; round++) {
			size_t len = 1 + trng_below(&rng, 700), nl = smb2_cipher_noncelen(c);
			uint8_t key[32], nonce[12], aad[32], tag[16], ct[700], work[700];
			struct iovec iov[5];
			int cnt, what = (int)trng_below(&rng, 4);

			trng_fill(&rng, key, sizeof(key));
			trng_fill(&rng, nonce, sizeof(nonce));
			trng_fill(&rng, aad, sizeof(aad));
			trng_fill(&rng, ct, len);
			cnt = trng_split(&rng, ct, len, 0, iov, 5);
			assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, iov, cnt, tag),
					 0);
			memcpy(work, ct, len);
			if (what == 0)
				work[trng_below(&rng, len)] ^= (uint8_t)(1u << trng_below(&rng, 8));
			else if (what == 1)
				tag[trng_below(&rng, 16)] ^= (uint8_t)(1u << trng_below(&rng, 8));
			else if (what == 2)
				aad[trng_below(&rng, 32)] ^= (uint8_t)(1u << trng_below(&rng, 8));
			else
				nonce[trng_below(&rng, nl)] ^= (uint8_t)(1u << trng_below(&rng, 8));
			cnt = trng_split(&rng, work, len, 0, iov, 5);
			assert_int_equal(smb2_aead_decrypt(c, key, nonce, aad, 32, iov, cnt, tag),
					 -EBADMSG);
			for (size_t k = 0; k < len; k++)
				assert_int_equal(work[k], 0);
		}
	}
}

static void t_aead_params(void **st)
{
	uint8_t key[32] = {0}, nonce[12] = {0}, aad[32] = {0}, tag[16], buf[16] = {0};
	struct iovec iov = {buf, sizeof(buf)};
	struct iovec huge[2] = {{buf, 0xFFFFFFF0u}, {buf, 0x20}};

	(void)st;
	assert_int_equal(smb2_cipher_keylen(SMB2_CIPHER_AES128_CCM), 16);
	assert_int_equal(smb2_cipher_keylen(SMB2_CIPHER_AES128_GCM), 16);
	assert_int_equal(smb2_cipher_keylen(SMB2_CIPHER_AES256_CCM), 32);
	assert_int_equal(smb2_cipher_keylen(SMB2_CIPHER_AES256_GCM), 32);
	assert_int_equal(smb2_cipher_keylen(SMB2_CIPHER_NONE), 0);
	assert_int_equal(smb2_cipher_noncelen(SMB2_CIPHER_AES128_CCM), 11);
	assert_int_equal(smb2_cipher_noncelen(SMB2_CIPHER_AES256_CCM), 11);
	assert_int_equal(smb2_cipher_noncelen(SMB2_CIPHER_AES128_GCM), 12);
	assert_int_equal(smb2_cipher_noncelen(SMB2_CIPHER_AES256_GCM), 12);
	assert_int_equal(smb2_cipher_noncelen((enum smb2_cipher)7), 0);

	assert_int_equal(smb2_aead_encrypt(SMB2_CIPHER_NONE, key, nonce, aad, 32, &iov, 1, tag),
			 -EINVAL);
	assert_int_equal(smb2_aead_encrypt((enum smb2_cipher)5, key, nonce, aad, 32, &iov, 1, tag),
			 -EINVAL);
	for (int i = 0; i < 4; i++) {
		enum smb2_cipher c = all_ciphers[i];
		assert_int_equal(smb2_aead_encrypt(c, NULL, nonce, aad, 32, &iov, 1, tag), -EINVAL);
		assert_int_equal(smb2_aead_encrypt(c, key, NULL, aad, 32, &iov, 1, tag), -EINVAL);
		assert_int_equal(smb2_aead_encrypt(c, key, nonce, NULL, 32, &iov, 1, tag), -EINVAL);
		assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, &iov, 1, NULL), -EINVAL);
		assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, NULL, 1, tag), -EINVAL);
		assert_int_equal(smb2_aead_encrypt(c, key, nonce, aad, 32, &iov, -1, tag), -EINVAL);
		/* more than CCM's 4-byte length field can describe: refused before any access */
		assert_int_equal(smb2_aead_decrypt(c, key, nonce, aad, 32, huge, 2, tag), -EINVAL);
		/* no data and no AAD still authenticates */
		assert_int_equal(smb2_aead_encrypt(c, key, nonce, NULL, 0, NULL, 0, tag), 0);
		assert_int_equal(smb2_aead_decrypt(c, key, nonce, NULL, 0, NULL, 0, tag), 0);
		tag[0] ^= 1;
		assert_int_equal(smb2_aead_decrypt(c, key, nonce, NULL, 0, NULL, 0, tag), -EBADMSG);
	}
}

/* ---- signing ---- */

/* Messages from the 3.1.1 encryption blog (a client WRITE request, the server's response) and a
 * CANCEL request built here. Signatures computed with Python's `cryptography` (HMAC-SHA256
 * truncated to 16 bytes, CMAC, and GMAC as AES-GCM with the message as AAD and the MS-SMB2 3.1.4.1
 * nonce); no published SMB2 signing example exists for these algorithms. */
static const char cancel_msg[] =
    "fe534d4240000000000000000c0000000000000000000000070000000000000000000000000000002500"
    "0000001000000000000000000000000000000000000004000000";

static void check_sig_vec(const char *msg_hex, const char *sigs[3])
{
	uint8_t key[16], msg[256], sig[16];
	size_t n = unhex(msg_hex, msg);

	unhex("73FE7A9A77BEF0BDE49C650D8CCB5F76", key);
	for (int alg = 0; alg < 3; alg++) {
		struct iovec iov[4];
		int cnt;

		/* the Signature field's content must not matter */
		trng_fill(&rng, msg + 48, 16);
		cnt = trng_split(&rng, msg, n, 64, iov, 4);
		assert_int_equal(smb2_sign((enum smb2_sign_alg)alg, key, iov, cnt, sig), 0);
		unhex(sigs[alg], msg + 48);
		assert_memory_equal(sig, msg + 48, 16);
		assert_int_equal(smb2_sign_verify((enum smb2_sign_alg)alg, key, iov, cnt), 0);
	}
}

static void t_sign_vectors(void **st)
{
	const char *req[3] = {"e30c917706b4eeb646f5eae85486e06a",
			      "6c8cab5f147c12ae052aa88b802d5983",
			      "758f6d4c97cf4f165f0d9c04873e9a98"};
	const char *rsp[3] = {"bbee8beb29cf27a32e4aec0630cbbc04",
			      "0fad06efa4facb9c792f7ab20a547655",
			      "7ab1138b81add36b8145cf4cd1e234a4"};
	const char *cancel[3] = {"b545da9bb355f4602c92cd5e8ced8a8f",
				 "2456a107cfb486775b808dcff5f94e88",
				 "27bc19dc91c973283fd1338af041ef6d"};

	(void)st;
	check_sig_vec(gcm_req_plain, req);
	check_sig_vec(gcm_rsp_plain, rsp); /* SERVER_TO_REDIR: GMAC nonce bit 0 */
	check_sig_vec(cancel_msg, cancel); /* CANCEL: GMAC nonce bit 1 */
}

static void t_sign_roundtrip_random(void **st)
{
	(void)st;
	for (int round = 0; round < 60; round++) {
		size_t len = 64 + trng_below(&rng, 2000);
		uint8_t *msg = malloc(len), key[16], sig[16];
		enum smb2_sign_alg alg = (enum smb2_sign_alg)(round % 3);
		struct iovec iov[6];
		int cnt;
		size_t bit;

		assert_non_null(msg);
		trng_fill(&rng, msg, len);
		trng_fill(&rng, key, sizeof(key));
		cnt = trng_split(&rng, msg, len, 64, iov, 6);
		assert_int_equal(smb2_sign(alg, key, iov, cnt, sig), 0);
		memcpy(msg + 48, sig, 16);
		assert_int_equal(smb2_sign_verify(alg, key, iov, cnt), 0);
		/* any single flipped bit, signature included, fails */
		bit = trng_below(&rng, len * 8);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(smb2_sign_verify(alg, key, iov, cnt), -EBADMSG);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* a different key fails */
		key[trng_below(&rng, 16)] ^= 0x40;
		assert_int_equal(smb2_sign_verify(alg, key, iov, cnt), -EBADMSG);
		free(msg);
	}
}

static void t_sign_params(void **st)
{
	uint8_t key[16] = {0}, msg[80] = {0}, sig[16];
	struct iovec iov = {msg, sizeof(msg)}, short_hdr[2] = {{msg, 63}, {msg + 63, 17}};

	(void)st;
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_CMAC, key, short_hdr, 2, sig), -EINVAL);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_CMAC, key, short_hdr, 2), -EINVAL);
	assert_int_equal(smb2_sign((enum smb2_sign_alg)3, key, &iov, 1, sig), -EINVAL);
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, NULL, &iov, 1, sig), -EINVAL);
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, key, &iov, 1, NULL), -EINVAL);
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, key, NULL, 1, sig), -EINVAL);
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, key, &iov, 0, sig), -EINVAL);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_HMAC_SHA256, key, &iov, -2), -EINVAL);
	/* algorithms are not interchangeable */
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_CMAC, key, &iov, 1, sig), 0);
	memcpy(msg + 48, sig, 16);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_CMAC, key, &iov, 1), 0);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_AES_GMAC, key, &iov, 1), -EBADMSG);
	assert_int_equal(smb2_sign_verify(SMB2_SIGN_HMAC_SHA256, key, &iov, 1), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_ccm_ms_smb30_encrypt),
	    cmocka_unit_test(t_ccm_ms_smb30_decrypt),
	    cmocka_unit_test(t_gcm_ms_smb311),
	    cmocka_unit_test(t_aead_roundtrip_random),
	    cmocka_unit_test(t_aead_large),
	    cmocka_unit_test(t_aead_tamper),
	    cmocka_unit_test(t_aead_params),
	    cmocka_unit_test(t_sign_vectors),
	    cmocka_unit_test(t_sign_roundtrip_random),
	    cmocka_unit_test(t_sign_params),
	};

	trng_seed(&rng, "test_smb2_crypto");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
