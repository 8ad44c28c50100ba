/* Unit tests for crypto/crypto.h primitives: MD4, MD5, HMAC-MD5, HMAC-SHA256, SHA-512, AES-CMAC,
 * RC4, the SMB 3.x KDF, the 3.1.1 preauth hash and the NTLM one-way functions, against the
 * published vectors named at each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>

#include "crypto/crypto.h"
#include "crypto/crypto_priv.h"
#include "testutil.h"

static struct trng rng;

static void assert_hex(const uint8_t *got, const char *want_hex)
{
	uint8_t want[256];
	size_t n = unhex(want_hex, want);

	assert_memory_equal(got, want, n);
}

#define IOV1(p, n) ((struct iovec){(void *)(p), (n)})

/* ---- hashes ---- */

static const char *const rfc_inputs[7] = {
    "",
    "a",
    "abc",
    "message digest",
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
};

/* RFC 1320 A.5 */
static void t_md4_rfc1320(void **st)
{
	static const char *const want[7] = {
	    "31d6cfe0d16ae931b73c59d7e0c089c0", "bde52cb31de33e46245e05fbdbd6fb24",
	    "a448017aaf21d8525fc10ae87aa6729d", "d9130a8164549fe818874806e1c7014b",
	    "d79e1c308aa5bbcdeea8ed63df412da9", "043f8582f241db351ce627e153e7f0e4",
	    "e33b4ddc9c38f2199c3e7b164fcc0536",
	};
	uint8_t out[16];

	(void)st;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(crypto_md4(rfc_inputs[i], strlen(rfc_inputs[i]), out), 0);
		assert_hex(out, want[i]);
	}
	assert_int_equal(crypto_md4(NULL, 1, out), -EINVAL);
	assert_int_equal(crypto_md4(NULL, 0, out), 0);
	assert_hex(out, want[0]);
}

/* The streaming MD4 gives the one-shot result whatever the split, across block boundaries. */
static void t_md4_stream(void **st)
{
	uint8_t data[1000], a[16], b[16];

	(void)st;
	trng_fill(&rng, data, sizeof(data));
	for (int round = 0; round < 50; round++) {
		size_t len = trng_below(&rng, sizeof(data) + 1), off = 0;
		struct crypto_md4_ctx c;

		assert_int_equal(crypto_md4(data, len, a), 0);
		crypto_md4_init(&c);
		while (off < len) {
			size_t n = 1 + trng_below(&rng, 130);
			if (n > len - off)
				n = len - off;
			crypto_md4_update(&c, data + off, n);
			off += n;
		}
		crypto_md4_final(&c, b);
		assert_memory_equal(a, b, 16);
	}
}

/* RFC 1321 A.5 */
static void t_md5_rfc1321(void **st)
{
	static const char *const want[7] = {
	    "d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
	    "900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
	    "c3fcd3d76192e4007dfb496cca67e13b", "d174ab98d277d9f5a5611c2c9f419d9f",
	    "57edf4a22be3c955ac49da2e2107b67a",
	};
	uint8_t out[16];

	(void)st;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(crypto_md5(rfc_inputs[i], strlen(rfc_inputs[i]), out), 0);
		assert_hex(out, want[i]);
	}
	assert_int_equal(crypto_md5(NULL, 3, out), -EINVAL);
}

/* FIPS 180-2 C.1 ("abc"), also fed in three pieces */
static void t_sha512(void **st)
{
	static const char want[] =
	    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
	struct iovec iov[3] = {IOV1("a", 1), IOV1("", 0), IOV1("bc", 2)};
	uint8_t out[64];

	(void)st;
	assert_int_equal(crypto_sha512(iov, 3, out), 0);
	assert_hex(out, want);
	assert_int_equal(crypto_sha512(iov, -1, out), -EINVAL);
	assert_int_equal(crypto_sha512(NULL, 1, out), -EINVAL);
	iov[1].iov_base = NULL, iov[1].iov_len = 1;
	assert_int_equal(crypto_sha512(iov, 3, out), -EINVAL);
}

/* Preauth integrity hash chain from Microsoft's "SMB 3.1.1 Pre-authentication integrity in
 * Windows 10" blog: NEGOTIATE request, then response, then the first SESSION_SETUP request. */
static void t_preauth_ms_blog(void **st)
{
	static const char *const msg[3] = {
	    "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000"
	    "00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32"
	    "6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000"
	    "010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000"
	    "0200060000000000020002000100",
	    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000"
	    "000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942"
	    "BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001"
	    "80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182"
	    "3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000"
	    "60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51"
	    "FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000"
	    "5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000"
	    "7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000"
	    "3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562"
	    "6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075"
	    "626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4"
	    "83CA5B65385A251117BEB30712E50000020004000000000001000200",
	    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000"
	    "00000000000000000000000000000000000000000000000019000001010000000000000058004A00"
	    "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
	    "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
	    "000F",
	};
	static const char *const want[3] = {
	    "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0"
	    "CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426",
	    "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99"
	    "7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513",
	    "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33"
	    "197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9",
	};
	uint8_t hash[64] = {0}, buf[1024];

	(void)st;
	for (int i = 0; i < 3; i++) {
		size_t n = unhex(msg[i], buf);
		struct iovec iov[8];
		int cnt = trng_split(&rng, buf, n, 0, iov, 8);

		assert_int_equal(crypto_preauth_update(hash, iov, cnt), 0);
		assert_hex(hash, want[i]);
	}
	assert_int_equal(crypto_preauth_update(NULL, NULL, 0), -EINVAL);
}

/* ---- MACs ---- */

/* RFC 2104 appendix and RFC 2202 section 2 (cases 1, 2, 3, 6) */
static void t_hmac_md5(void **st)
{
	uint8_t k0b[16], kaa[80], ddd[50], out[16];
	static const char big[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	struct iovec iov[2] = {IOV1("what do ya ", 11), IOV1("want for nothing?", 17)};
	struct iovec one;

	(void)st;
	memset(k0b, 0x0b, sizeof(k0b));
	memset(kaa, 0xaa, sizeof(kaa));
	memset(ddd, 0xdd, sizeof(ddd));
	one = IOV1("Hi There", 8);
	assert_int_equal(crypto_hmac_md5(k0b, 16, &one, 1, out), 0);
	assert_hex(out, "9294727a3638bb1c13f48ef8158bfc9d");
	assert_int_equal(crypto_hmac_md5("Jefe", 4, iov, 2, out), 0);
	assert_hex(out, "750c783e6ab0b503eaa86e310a5db738");
	one = IOV1(ddd, sizeof(ddd));
	assert_int_equal(crypto_hmac_md5(kaa, 16, &one, 1, out), 0);
	assert_hex(out, "56be34521d144c88dbb8c733f0e8b3f6");
	one = IOV1(big, strlen(big));
	assert_int_equal(crypto_hmac_md5(kaa, 80, &one, 1, out), 0);
	assert_hex(out, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
	assert_int_equal(crypto_hmac_md5(NULL, 4, iov, 2, out), -EINVAL);
}

/* RFC 4231 test cases 1, 2 and 6; an empty key computed with Python's hmac module */
static void t_hmac_sha256(void **st)
{
	uint8_t k0b[20], kaa[131], out[32];
	static const char big[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	struct iovec iov[3] = {IOV1("what do ya ", 11), IOV1("", 0), IOV1("want for nothing?", 17)};
	struct iovec one;

	(void)st;
	memset(k0b, 0x0b, sizeof(k0b));
	memset(kaa, 0xaa, sizeof(kaa));
	one = IOV1("Hi There", 8);
	assert_int_equal(crypto_hmac_sha256(k0b, 20, &one, 1, out), 0);
	assert_hex(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(crypto_hmac_sha256("Jefe", 4, iov, 3, out), 0);
	assert_hex(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	one = IOV1(big, strlen(big));
	assert_int_equal(crypto_hmac_sha256(kaa, 131, &one, 1, out), 0);
	assert_hex(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	one = IOV1("abc", 3);
	assert_int_equal(crypto_hmac_sha256(NULL, 0, &one, 1, out), 0);
	assert_hex(out, "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

/* RFC 4493 section 4, examples 1-4, each also in random pieces */
static void t_aes_cmac(void **st)
{
	static const char *const mac[4] = {
	    "bb1d6929e95937287fa37d129b756746", "070a16b46b4d4144f79bdd9dd04a287c",
	    "dfa66747de9ae63030ca32611497c827", "51f0bebf7e3b9d92fc49741779363cfe"};
	static const size_t len[4] = {0, 16, 40, 64};
	uint8_t key[16], msg[64], out[16];

	(void)st;
	unhex("2b7e151628aed2a6abf7158809cf4f3c", key);
	unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	      msg);
	for (int i = 0; i < 4; i++) {
		for (int round = 0; round < 8; round++) {
			struct iovec iov[6];
			int n = trng_split(&rng, msg, len[i], 0, iov, 6);

			assert_int_equal(crypto_aes_cmac(key, iov, n, out), 0);
			assert_hex(out, mac[i]);
		}
	}
	assert_int_equal(crypto_aes_cmac(NULL, NULL, 0, out), -EINVAL);
}

/* crypto_aes_cmac (AES-CBC based) against OpenSSL's own CMAC on long messages of every length
 * around the 4 KiB steps of its CBC calls, split into random pieces. */
static void t_aes_cmac_long(void **st)
{
	(void)st;
	static uint8_t msg[70000];
	uint8_t key[16], out[16], want[16];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 131 + (i >> 8));
	unhex("000102030405060708090a0b0c0d0e0f", key);
	static const size_t lens[] = {4095, 4096, 4097, 4111, 4112, 4113, 8192, 65535, 65536, 69999};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		EVP_MAC_CTX *ctx;
		assert_int_equal(crypto_mac_begin(&ctx, CRYPTO_MAC_AES128_CMAC, key, 16, NULL, 0), 0);
		assert_int_equal(crypto_mac_update(ctx, msg, lens[k]), 0);
		assert_int_equal(crypto_mac_end(ctx, want, 16), 0);
		for (int round = 0; round < 4; round++) {
			struct iovec iov[6];
			int n = trng_split(&rng, msg, lens[k], 0, iov, 6);
			assert_int_equal(crypto_aes_cmac(key, iov, n, out), 0);
			assert_memory_equal(out, want, 16);
		}
	}
}

/* ---- RC4 ---- */

/* Widely published vectors (Key/Plaintext, Secret/Attack at dawn) and RFC 6229's 40-bit key at
 * offset 0; the streaming state must match the one-shot result across calls. */
static void t_rc4(void **st)
{
	uint8_t buf[64], key[5] = {1, 2, 3, 4, 5};
	struct crypto_rc4 s;

	(void)st;
	memcpy(buf, "Plaintext", 9);
	crypto_rc4((const uint8_t *)"Key", 3, buf, 9);
	assert_hex(buf, "bbf316e8d940af0ad3");
	memcpy(buf, "Attack at dawn", 14);
	crypto_rc4((const uint8_t *)"Secret", 6, buf, 14);
	assert_hex(buf, "45a01f645fc35b383552544b9bf5");
	memset(buf, 0, 16);
	crypto_rc4(key, 5, buf, 16);
	assert_hex(buf, "b2396305f03dc027ccc3524a0a1118a8");

	memset(buf, 0, 16);
	crypto_rc4_init(&s, key, 5);
	crypto_rc4_crypt(&s, buf, 3);
	crypto_rc4_crypt(&s, buf + 3, 0);
	crypto_rc4_crypt(&s, buf + 3, 13);
	assert_hex(buf, "b2396305f03dc027ccc3524a0a1118a8");
	/* decryption is the same operation */
	crypto_rc4(key, 5, buf, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
}

/* ---- misc ---- */

static void t_random_memcmp(void **st)
{
	uint8_t a[32] = {0}, b[32] = {0};

	(void)st;
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(NULL, 0), 0);
	assert_int_equal(crypto_random(NULL, 1), -EINVAL);
	memcpy(b, a, sizeof(a));
	assert_int_equal(crypto_memcmp(a, b, sizeof(a)), 0);
	b[31] ^= 0x80;
	assert_int_not_equal(crypto_memcmp(a, b, sizeof(a)), 0);
	assert_int_equal(crypto_memcmp(a, b, 31), 0);
}

/* ---- SMB 3.x KDF ---- */

static void check_kdf(const char *sk_hex, const void *label, size_t labellen, const void *ctx,
		      size_t ctxlen, const char *want)
{
	uint8_t sk[16], out[16];

	unhex(sk_hex, sk);
	assert_int_equal(crypto_kdf(sk, 16, label, labellen, ctx, ctxlen, out, 16), 0);
	assert_hex(out, want);
}

#define LIT(s) s, sizeof(s) /* the bytes and the terminating NUL, as MS-SMB2 3.1.4.2 uses them */

/* SMB 3.0 keys. Microsoft Open Specifications blogs: "Encryption in SMB 3.0: a protocol
 * perspective" (SessionKey B454...) and "SMB 2 and SMB 3 security in Windows 10: the anatomy of
 * signing and cryptographic keys", appendix (SessionKey 7CD4... and 4E01..., second channel). The
 * client's EncryptionKey is "ServerIn " and its DecryptionKey "ServerOut". */
static void t_kdf_smb30(void **st)
{
	static const char a[] = "B4546771B515F766A86735532DD6C4F0";
	static const char b[] = "7CD451825D0450D235424E44BA6E78CC";

	(void)st;
	check_kdf(a, LIT("SMB2AESCMAC"), LIT("SmbSign"), "F773CD23C18FD1E08EE510CADA7CF852");
	check_kdf(a, LIT("SMB2AESCCM"), LIT("ServerIn "), "261B72350558F2E9DCF613070383EDBF");
	check_kdf(a, LIT("SMB2AESCCM"), LIT("ServerOut"), "8FE2B57EC34D2DB5B1A9727F526BBDB5");
	check_kdf(a, LIT("SMB2APP"), LIT("SmbRpc"), "77432F808CE99156B5BC6A3676D730D1");
	check_kdf(b, LIT("SMB2AESCMAC"), LIT("SmbSign"), "0B7E9C5CAC36C0F6EA9AB275298CEDCE");
	check_kdf(b, LIT("SMB2AESCCM"), LIT("ServerIn "), "FAD27796665B313EBB578F388632B4F7");
	check_kdf(b, LIT("SMB2AESCCM"), LIT("ServerOut"), "B0F0427F7CEB416D1D9DCC0CD4F99447");
	check_kdf(b, LIT("SMB2APP"), LIT("SmbRpc"), "BB23A4575AA26C721AF525AF15A87B4F");
	check_kdf("4E01A2B313BCF660CC250BEF021AEDE6", LIT("SMB2AESCMAC"), LIT("SmbSign"),
		  "BA1A17DBBFEC349BCA105563D598952F");
}

/* SMB 3.1.1 keys: the anatomy blog's appendix (SessionKey 270E..., second channel 84B9...) and
 * "SMB 3.1.1 Encryption in Windows 10" (SessionKey 419F...). */
static void t_kdf_smb311(void **st)
{
	uint8_t ha[64], hb[64], hc[64];

	(void)st;
	unhex("0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB79"
	      "28622DDDAD522D9751640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
	      ha);
	unhex("EA3BF912B11CBFEC5B1889E8209614218687F82FA5294521AD3063425E49E88A"
	      "10BD022124CE25123BC9111F52D9566BA88BF46344E6063DC5E3FF0389026F6C",
	      hb);
	unhex("B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB"
	      "A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770",
	      hc);
	check_kdf("270E1BA896585EEB7AF3472D3B4C75A7", LIT("SMBSigningKey"), ha, 64,
		  "73FE7A9A77BEF0BDE49C650D8CCB5F76");
	check_kdf("270E1BA896585EEB7AF3472D3B4C75A7", LIT("SMBC2SCipherKey"), ha, 64,
		  "629BCBC54422A0F572B97F45989B6073");
	check_kdf("270E1BA896585EEB7AF3472D3B4C75A7", LIT("SMBS2CCipherKey"), ha, 64,
		  "E2AF0DCEFAC68DA71A0DFBD0D1350D74");
	check_kdf("270E1BA896585EEB7AF3472D3B4C75A7", LIT("SMBAppKey"), ha, 64,
		  "6D7AD7954E9EC61E907B4D473DC178FF");
	check_kdf("84B9DBB730116A8FA6E9889555C265F9", LIT("SMBSigningKey"), hb, 64,
		  "C962BCA1A9DD1697B030644199705431");
	check_kdf("419FDDF34C1E001909D362AE7FB6AF79", LIT("SMBC2SCipherKey"), hc, 64,
		  "A2F5E80E5D59103034F32E52F698E5EC");
	check_kdf("419FDDF34C1E001909D362AE7FB6AF79", LIT("SMBS2CCipherKey"), hc, 64,
		  "748C50868C90F302962A5C35F5F9A8BF");
}

/* 32- and 48-byte outputs (AES-256 keys; more than one PRF block) have no published SMB vector:
 * they are held to HMAC-SHA256 (itself checked against RFC 4231) composed by hand. */
static void t_kdf_long(void **st)
{
	/* label with its NUL, the 0x00 separator, context with its NUL (the literal's own NUL is
	 * not used) */
	static const uint8_t tail[] = "SMB2AESCMAC\0\0SmbSign\0";
	uint8_t sk[16], out[48], in[4 + sizeof(tail) - 1 + 4], want[64];
	struct iovec iov = {in, sizeof(in)};

	(void)st;
	unhex("B4546771B515F766A86735532DD6C4F0", sk);
	memset(in, 0, sizeof(in));
	memcpy(in + 4, tail, sizeof(tail) - 1);
	for (int outlen = 32; outlen <= 48; outlen += 16) {
		in[3] = 1;
		in[sizeof(in) - 2] = (uint8_t)(outlen * 8 >> 8);
		in[sizeof(in) - 1] = (uint8_t)(outlen * 8);
		assert_int_equal(crypto_hmac_sha256(sk, 16, &iov, 1, want), 0);
		in[3] = 2;
		assert_int_equal(crypto_hmac_sha256(sk, 16, &iov, 1, want + 32), 0);
		assert_int_equal(
		    crypto_kdf(sk, 16, LIT("SMB2AESCMAC"), LIT("SmbSign"), out, (size_t)outlen), 0);
		assert_memory_equal(out, want, (size_t)outlen);
	}
	assert_int_equal(crypto_kdf(sk, 16, LIT("SMB2AESCMAC"), LIT("SmbSign"), out, 0), -EINVAL);
	assert_int_equal(crypto_kdf(sk, 16, NULL, 3, "x", 1, out, 16), -EINVAL);
	assert_int_equal(crypto_kdf(sk, 16, "x", 1, NULL, 3, out, 16), -EINVAL);
	assert_int_equal(crypto_kdf(sk, 16, "x", 1, "y", 1, NULL, 16), -EINVAL);
}

/* ---- NTLM ---- */

/* MS-NLMP 4.2.2.1.2 (NTOWFv1) and 4.2.4.1.1 (NTOWFv2) for User/Domain/Password; the anatomy
 * blog's NTLMv2 example (Password01!, Administrator, SUT311). */
static void t_ntlm_vectors(void **st)
{
	uint8_t nt[16], v2[16], v2b[16];

	(void)st;
	assert_int_equal(ntlm_nt_hash("Password", nt), 0);
	assert_hex(nt, "a4f49c406510bdcab6824ee7c30fd852");
	assert_int_equal(ntlm_ntowfv2(nt, "User", "Domain", v2), 0);
	assert_hex(v2, "0c868a403bfd7a93a3001ef22ef02e3f");
	/* the user name is upper-cased, the domain is not */
	assert_int_equal(ntlm_ntowfv2(nt, "uSeR", "Domain", v2b), 0);
	assert_memory_equal(v2, v2b, 16);
	assert_int_equal(ntlm_ntowfv2(nt, "User", "DOMAIN", v2b), 0);
	assert_memory_not_equal(v2, v2b, 16);

	assert_int_equal(ntlm_nt_hash("Password01!", nt), 0);
	assert_hex(nt, "7C4FE5EADA682714A036E39378362BAB");
	assert_int_equal(ntlm_ntowfv2(nt, "administrator", "SUT311", v2), 0);
	assert_hex(v2, "AEE3959B44A815F1EB28C9511B4F533B");
}

/* Non-ASCII: "pässwörd€" plus U+1D11E (a surrogate pair); the UTF-16LE bytes come from Python's
 * str.encode("utf-16le"). Also a password longer than the conversion buffer. */
static void t_ntlm_unicode(void **st)
{
	uint8_t u16[64], a[16], b[16], longpw16[600];
	char longpw[301];
	size_t n = unhex("7000e400730073007700f60072006400ac2034d81edd", u16);

	(void)st;
	assert_int_equal(ntlm_nt_hash("p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac\xf0\x9d\x84\x9e", a), 0);
	assert_int_equal(crypto_md4(u16, n, b), 0);
	assert_memory_equal(a, b, 16);

	for (int i = 0; i < 300; i++) {
		longpw[i] = (char)('!' + i % 90);
		longpw16[2 * i] = (uint8_t)longpw[i];
		longpw16[2 * i + 1] = 0;
	}
	longpw[300] = 0;
	assert_int_equal(ntlm_nt_hash(longpw, a), 0);
	assert_int_equal(crypto_md4(longpw16, 600, b), 0);
	assert_memory_equal(a, b, 16);
	assert_int_equal(ntlm_nt_hash("", a), 0);
	assert_hex(a, "31d6cfe0d16ae931b73c59d7e0c089c0");
}

/* Latin upper-casing of the user name (documented subset of Windows' upcase table). */
static void t_ntlm_upcase(void **st)
{
	static const char *const pairs[][2] = {
	    {"\xc3\xa9mile", "\xc3\x89MILE"}, /* é -> É */
	    {"\xc3\xbf", "\xc5\xb8"},	      /* ÿ -> Ÿ */
	    {"\xc5\x82\xc3\xb3"
	     "d\xc5\xba",
	     "\xc5\x81\xc3\x93"
	     "D\xc5\xb9"}, /* łódź -> ŁÓDŹ */
	    {"\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd", "\xd0\x98\xd0\x92\xd0\x90\xd0\x9d"}, /* иван */
	    {"\xce\xb1\xce\xbb\xcf\x86\xce\xb1", "\xce\x91\xce\x9b\xce\xa6\xce\x91"}, /* αλφα */
	    {"\xd1\x91\xd1\x9f", "\xd0\x81\xd0\x8f"}, /* ёџ -> ЁЏ */
	    {"\xef\xbd\x81", "\xef\xbc\xa1"},	      /* full-width a -> A */
	};
	uint8_t nt[16] = {1, 2, 3}, a[16], b[16];

	(void)st;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_int_equal(ntlm_ntowfv2(nt, pairs[i][0], "d", a), 0);
		assert_int_equal(ntlm_ntowfv2(nt, pairs[i][1], "d", b), 0);
		assert_memory_equal(a, b, 16);
	}
	/* ÷ and × are not letters */
	assert_int_equal(ntlm_ntowfv2(nt, "\xc3\xb7", "d", a), 0);
	assert_int_equal(ntlm_ntowfv2(nt, "\xc3\x97", "d", b), 0);
	assert_memory_not_equal(a, b, 16);
}

static void t_ntlm_invalid(void **st)
{
	static const char *const bad[] = {
	    "\xc3",		/* truncated */
	    "a\xc3(",		/* bad continuation */
	    "\xc0\x80",		/* overlong NUL */
	    "\xe0\x80\xaf",	/* overlong '/' */
	    "\xed\xa0\x80",	/* UTF-16 surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xff",
	    "\x80",
	};
	uint8_t nt[16] = {0}, out[16];

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ntlm_nt_hash(bad[i], out), -EINVAL);
		assert_int_equal(ntlm_ntowfv2(nt, bad[i], "d", out), -EINVAL);
		assert_int_equal(ntlm_ntowfv2(nt, "u", bad[i], out), -EINVAL);
	}
	assert_int_equal(ntlm_nt_hash(NULL, out), -EINVAL);
	assert_int_equal(ntlm_ntowfv2(NULL, "u", "d", out), -EINVAL);
	assert_int_equal(ntlm_ntowfv2(nt, NULL, "d", out), -EINVAL);
	assert_int_equal(ntlm_ntowfv2(nt, "u", NULL, out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_md4_rfc1320),
	    cmocka_unit_test(t_md4_stream),
	    cmocka_unit_test(t_md5_rfc1321),
	    cmocka_unit_test(t_sha512),
	    cmocka_unit_test(t_preauth_ms_blog),
	    cmocka_unit_test(t_hmac_md5),
	    cmocka_unit_test(t_hmac_sha256),
	    cmocka_unit_test(t_aes_cmac),
	    cmocka_unit_test(t_aes_cmac_long),
	    cmocka_unit_test(t_rc4),
	    cmocka_unit_test(t_random_memcmp),
	    cmocka_unit_test(t_kdf_smb30),
	    cmocka_unit_test(t_kdf_smb311),
	    cmocka_unit_test(t_kdf_long),
	    cmocka_unit_test(t_ntlm_vectors),
	    cmocka_unit_test(t_ntlm_unicode),
	    cmocka_unit_test(t_ntlm_upcase),
	    cmocka_unit_test(t_ntlm_invalid),
	};

	trng_seed(&rng, "test_crypto");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
