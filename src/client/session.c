/* SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6) with SPNEGO/NTLMSSP from src/auth, and the session keys
 * (MS-SMB2 3.2.5.3.1): signing, and the two transform keys of 3.x. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spnego.h"
#include "client/client_priv.h"

uint32_t smbc_session_setup_parse(const uint8_t *msg, size_t len, uint16_t *flags,
				  const uint8_t **blob, size_t *bloblen)
{
	struct rd m = rd_make(msg, len);
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	*flags = rd_u16(&r);
	uint16_t off = rd_u16(&r);
	uint16_t blen = rd_u16(&r);
	struct rd b = rd_sub(&m, off, blen);
	if (!rd_ok(&r) || ss != 9 || !rd_ok(&b) || (blen && off < SMB2_HDR_LEN + 8))
		return STATUS_INVALID_NETWORK_RESPONSE;
	*blob = blen ? b.p : NULL;
	*bloblen = blen;
	return STATUS_SUCCESS;
}

static uint32_t kdf(const struct smbc_conn *c, const char *label, size_t llen, const void *ctx,
		    size_t clen, uint8_t *out, size_t outlen)
{
	return crypto_kdf(c->session_key, 16, label, llen, ctx, clen, out, outlen)
		   ? STATUS_INTERNAL_ERROR
		   : STATUS_SUCCESS;
}

/* The labels include their terminating NUL (sizeof), as MS-SMB2 3.1.4.2 spells them. */
uint32_t smbc_derive_keys(struct smbc_conn *c)
{
	uint32_t st = STATUS_SUCCESS;
	size_t klen = c->cipher ? smb2_cipher_keylen((enum smb2_cipher)c->cipher) : 16;
	if (c->dialect < SMB2_DIALECT_300) {
		memcpy(c->sign_key, c->session_key, 16);
	} else if (c->dialect < SMB2_DIALECT_311) {
		st = kdf(c, "SMB2AESCMAC", sizeof("SMB2AESCMAC"), "SmbSign", sizeof("SmbSign"),
			 c->sign_key, 16);
		if (!st)
			st = kdf(c, "SMB2AESCCM", sizeof("SMB2AESCCM"), "ServerIn ",
				 sizeof("ServerIn "), c->enc_key, 16);
		if (!st)
			st = kdf(c, "SMB2AESCCM", sizeof("SMB2AESCCM"), "ServerOut",
				 sizeof("ServerOut"), c->dec_key, 16);
	} else {
		st = kdf(c, "SMBSigningKey", sizeof("SMBSigningKey"), c->preauth, 64, c->sign_key,
			 16);
		if (!st)
			st = kdf(c, "SMBC2SCipherKey", sizeof("SMBC2SCipherKey"), c->preauth, 64,
				 c->enc_key, klen);
		if (!st)
			st = kdf(c, "SMBS2CCipherKey", sizeof("SMBS2CCipherKey"), c->preauth, 64,
				 c->dec_key, klen);
	}
	return st;
}

static uint32_t send_setup(struct smbc_conn *c, const uint8_t *tok, size_t toklen,
			   struct smbc_reply *rep)
{
	struct wr w;
	wr_init(&w, 32 + toklen);
	wr_u16(&w, 25);
	wr_u8(&w, 0); /* Flags: not a binding */
	wr_u8(&w, c->o.signing_required ? SMB2_NEGOTIATE_SIGNING_REQUIRED
					: SMB2_NEGOTIATE_SIGNING_ENABLED);
	wr_u32(&w, 0); /* Capabilities: DFS not used */
	wr_u32(&w, 0); /* Channel */
	wr_u16(&w, SMB2_HDR_LEN + 24);
	wr_u16(&w, (uint16_t)toklen);
	wr_u64(&w, 0); /* PreviousSessionId */
	wr_bytes(&w, tok, toklen);
	if (!toklen)
		wr_u8(&w, 0);
	uint32_t st = wr_ok(&w) && toklen <= UINT16_MAX
			  ? smbc_call(c, NULL, SMB2_SESSION_SETUP, w.p, w.len, NULL, 0, 0,
				      SMBC_SUB_PREAUTH, rep)
			  : STATUS_NO_MEMORY;
	wr_free(&w);
	return st;
}

/* The last reply: keys, its signature, and what the session will do. */
static uint32_t finish(struct smbc_conn *c, struct ntlmssp_client *nc, uint16_t flags,
		       struct smbc_reply *rep)
{
	c->guest = (flags & SMB2_SESSION_FLAG_IS_GUEST) != 0;
	c->anonymous = (flags & SMB2_SESSION_FLAG_IS_NULL) || !c->user[0];
	const uint8_t *sk = nc ? ntlmssp_client_session_key(nc) : NULL;
	if (sk)
		memcpy(c->session_key, sk, 16);
	uint32_t st = smbc_derive_keys(c);
	if (st)
		return st;
	bool keyed = !c->guest && !c->anonymous;
	uint32_t hflags = get_le32(rep->buf + HDR_OFF_FLAGS);
	if (keyed && ((hflags & SMB2_FLAGS_SIGNED) || c->dialect == SMB2_DIALECT_311)) {
		struct iovec iov = {rep->buf, rep->len};
		if (smb2_sign_verify(c->sign_alg, c->sign_key, &iov, 1)) {
			smbc_seterr(
			    c, "the session setup reply has a bad signature (wrong password?)");
			return STATUS_INVALID_SIGNATURE;
		}
	}
	c->signing = keyed && (!c->o.sign_only_when_required || c->o.signing_required ||
			       (c->server_sec_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED));
	if (flags & SMB2_SESSION_FLAG_ENCRYPT_DATA) {
		if (!c->cipher) {
			smbc_seterr(c,
				    "the server requires encryption but no cipher was negotiated");
			return STATUS_ACCESS_DENIED;
		}
		c->encrypt_all = true;
	} else {
		c->encrypt_all = keyed && c->cipher && c->o.encrypt_enabled;
	}
	if (!keyed)
		c->cipher = c->encrypt_all ? c->cipher : 0;
	if (c->o.encrypt_required && (!c->encrypt_all || !keyed)) {
		smbc_seterr(c, "Smb3EncryptionRequired=1 but this session cannot be encrypted%s",
			    keyed ? "" : " (guest or anonymous)");
		return STATUS_ACCESS_DENIED;
	}
	if (c->o.signing_required && !keyed) {
		smbc_seterr(c, "signing required but the session is guest or anonymous");
		return STATUS_ACCESS_DENIED;
	}
	c->session_ready = true;
	return STATUS_SUCCESS;
}

static uint32_t auth_status(struct smbc_conn *c, int rc)
{
	smbc_seterr(c, "SPNEGO/NTLMSSP failed on our side (%s)",
		    rc == -ENOMEM ? "no memory" : "bad token from the server");
	return rc == -ENOMEM ? STATUS_NO_MEMORY : STATUS_LOGON_FAILURE;
}

static uint32_t rounds(struct smbc_conn *c, struct spnego_client *sp)
{
	const uint8_t *in = NULL;
	size_t inlen = 0;
	struct smbc_reply rep = {0};
	uint32_t st = STATUS_LOGON_FAILURE;
	for (int round = 0; round < 8; round++) {
		uint8_t *tok = NULL;
		size_t toklen = 0;
		int rc = spnego_client_step(sp, in, inlen, &tok, &toklen);
		smbc_reply_free(&rep);
		if (rc < 0)
			return auth_status(c, rc);
		st = send_setup(c, tok, toklen, &rep);
		free(tok);
		uint16_t flags = 0;
		if (rep.buf) {
			c->session_id = get_le64(rep.buf + HDR_OFF_SESSION_ID);
			uint32_t pst =
			    smbc_session_setup_parse(rep.buf, rep.len, &flags, &in, &inlen);
			if (pst && (!st || st == STATUS_MORE_PROCESSING_REQUIRED))
				st = pst;
		}
		if (st == STATUS_MORE_PROCESSING_REQUIRED && rc == 1) {
			struct iovec iov = {rep.buf, rep.len};
			if (crypto_preauth_update(c->preauth, &iov, 1))
				st = STATUS_INTERNAL_ERROR;
			else
				continue;
		}
		if (st == STATUS_MORE_PROCESSING_REQUIRED)
			st = STATUS_INVALID_NETWORK_RESPONSE; /* the server wants more than NTLM has
							       */
		if (!st && rc == 1) {
			uint8_t *t2 = NULL;
			size_t l2 = 0;
			rc = spnego_client_step(sp, in, inlen, &t2, &l2);
			free(t2);
			if (rc < 0)
				st = auth_status(c, rc);
		}
		if (!st)
			st = finish(c, spnego_client_ntlmssp(sp), flags, &rep);
		smbc_reply_free(&rep);
		return st;
	}
	smbc_reply_free(&rep);
	return STATUS_INVALID_NETWORK_RESPONSE;
}

uint32_t smbc_session_setup(struct smbc_conn *c)
{
	struct ntlmssp_client_cfg cfg = {
	    .user = c->user,
	    .domain = c->domain,
	    .password = c->password,
	    .workstation = c->workstation,
	};
	struct spnego_client *sp = spnego_client_new(&cfg);
	if (!sp)
		return STATUS_NO_MEMORY;
	uint32_t st = rounds(c, sp);
	spnego_client_free(sp);
	return st;
}
