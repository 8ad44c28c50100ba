/* SMB3 transform (MS-SMB2 2.2.41, 3.1.4.3, 3.3.4.1.4, 3.3.5.2.1.1): decryption of received
 * messages in place in the frame, encryption of response chains in place in the response
 * buffer (the transform header goes into the headroom in front of the chain), and the cipher
 * and signing-algorithm preferences of the configuration. */
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "smb2/smb2.h"

#define TRANSFORM_HDR_LEN 52
#define TRANSFORM_FLAG_ENCRYPTED 0x0001

static const struct {
	const char *name;
	enum smb2_cipher id;
} cipher_names[] = {
	{"AES-128-GCM", SMB2_CIPHER_AES128_GCM},
	{"AES-128-CCM", SMB2_CIPHER_AES128_CCM},
	{"AES-256-GCM", SMB2_CIPHER_AES256_GCM},
	{"AES-256-CCM", SMB2_CIPHER_AES256_CCM},
};

static const struct {
	const char *name;
	enum smb2_sign_alg id;
} sign_names[] = {
	{"AES-128-GMAC", SMB2_SIGN_AES_GMAC},
	{"AES-128-CMAC", SMB2_SIGN_AES_CMAC},
	{"HMAC-SHA256", SMB2_SIGN_HMAC_SHA256},
};

const char *smb2_cipher_name(enum smb2_cipher c)
{
	for (size_t i = 0; i < sizeof(cipher_names) / sizeof(cipher_names[0]); i++)
		if (cipher_names[i].id == c)
			return cipher_names[i].name;
	return "none";
}

const char *smb2_sign_alg_name(enum smb2_sign_alg a)
{
	for (size_t i = 0; i < sizeof(sign_names) / sizeof(sign_names[0]); i++)
		if (sign_names[i].id == a)
			return sign_names[i].name;
	return "none";
}

/* The server's order: the configured list, else GCM before CCM and 128 before 256. */
int smb2_cipher_prefs(const struct shoal_conf *conf, enum smb2_cipher out[4])
{
	int n = 0;
	if (!conf->encryption_algorithms) {
		for (size_t i = 0; i < 4; i++)
			out[n++] = cipher_names[i].id;
		return n;
	}
	for (char **p = conf->encryption_algorithms; *p && n < 4; p++)
		for (size_t i = 0; i < 4; i++)
			if (!strcasecmp(*p, cipher_names[i].name))
				out[n++] = cipher_names[i].id;
	return n;
}

int smb2_sign_prefs(const struct shoal_conf *conf, enum smb2_sign_alg out[3])
{
	int n = 0;
	if (!conf->signing_algorithms) {
		for (size_t i = 0; i < 3; i++)
			out[n++] = sign_names[i].id;
		return n;
	}
	for (char **p = conf->signing_algorithms; *p && n < 3; p++)
		for (size_t i = 0; i < 3; i++)
			if (!strcasecmp(*p, sign_names[i].name))
				out[n++] = sign_names[i].id;
	return n;
}

bool smb2_conn_can_encrypt(const struct smb2_conn *c)
{
	return c->dialect >= SMB2_DIALECT_300 && c->cipher != SMB2_CIPHER_NONE;
}

/* Decrypts a transform message in place. On success *sess holds a reference to the session
 * and the plaintext is frame[52 .. 52 + *plain_len). Returns -1 to drop the connection. */
int smb2_transform_decrypt(struct smb2_conn *c, uint8_t *frame, size_t len,
			   struct smb2_session **sess, size_t *plain_len)
{
	struct rd r = rd_make(frame, len);
	rd_skip(&r, 4);
	const uint8_t *sig = rd_ptr(&r, 16);
	const uint8_t *nonce = rd_ptr(&r, 16);
	uint32_t orig = rd_u32(&r);
	rd_skip(&r, 2);
	uint16_t flags = rd_u16(&r);
	uint64_t sid = rd_u64(&r);
	if (!rd_ok(&r) || !smb2_conn_can_encrypt(c) || flags != TRANSFORM_FLAG_ENCRYPTED ||
	    orig != len - TRANSFORM_HDR_LEN || orig < SMB2_HDR_LEN)
		return -1;
	struct smb2_session *s = smb2_session_lookup(c, sid);
	if (!s)
		return -1;
	if (s->state != SESS_VALID || s->anonymous) {
		smb2_session_put(s);
		return -1;
	}
	uint8_t tag[16];
	memcpy(tag, sig, 16);
	struct iovec iov = {frame + TRANSFORM_HDR_LEN, orig};
	if (smb2_aead_decrypt(c->cipher, s->dec_key, nonce, frame + 20, 32, &iov, 1, tag) < 0) {
		LOG_WARN(LOG_SMB2, "%s: message failed to decrypt: disconnecting", c->peer);
		smb2_session_put(s);
		return -1;
	}
	*sess = s;
	*plain_len = orig;
	return 0;
}

/* Encrypts out[start .. out->len) in place and writes the transform header in the 52 bytes in
 * front of it. Returns 0 or -1. */
int smb2_transform_encrypt(struct smb2_conn *c, struct smb2_session *s, struct wr *out,
			   size_t start)
{
	if (!wr_ok(out) || start < TRANSFORM_HDR_LEN)
		return -1;
	uint8_t *h = out->p + start - TRANSFORM_HDR_LEN;
	size_t len = out->len - start;
	memset(h, 0, TRANSFORM_HDR_LEN);
	put_le32(h, SMB2_TRANSFORM_ID);
	/* nonce: a per-session counter and salt, so no nonce repeats under one key */
	uint64_t ctr = atomic_fetch_add(&s->nonce_ctr, 1);
	put_le64(h + 20, ctr);
	memcpy(h + 28, s->nonce_salt, smb2_cipher_noncelen(c->cipher) - 8);
	put_le32(h + 36, (uint32_t)len);
	put_le16(h + 42, TRANSFORM_FLAG_ENCRYPTED);
	put_le64(h + 44, s->id);
	struct iovec iov = {out->p + start, len};
	return smb2_aead_encrypt(c->cipher, s->enc_key, h + 20, h + 20, 32, &iov, 1, h + 4) < 0
		       ? -1
		       : 0;
}
