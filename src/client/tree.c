/* TREE_CONNECT / TREE_DISCONNECT (MS-SMB2 2.2.9 - 2.2.12). */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"
#include "lib/utf16.h"

uint32_t smbc_tree_connect_parse(const uint8_t *msg, size_t len, struct smbc_tree *t)
{
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	t->type = rd_u8(&r);
	rd_skip(&r, 1);
	t->flags = rd_u32(&r);
	t->caps = rd_u32(&r);
	t->maximal_access = rd_u32(&r);
	if (!rd_ok(&r) || ss != 16 || t->type < 1 || t->type > 3)
		return STATUS_INVALID_NETWORK_RESPONSE;
	t->tid = get_le32(msg + HDR_OFF_TREE_ID);
	t->encrypt = (t->flags & SMBC_SHARE_FLAG_ENCRYPT_DATA) != 0;
	return STATUS_SUCCESS;
}

uint32_t smbc_tree_connect(struct smbc_conn *c, const char *share, struct smbc_tree **out)
{
	struct wr w;
	*out = NULL;
	wr_init(&w, 128);
	wr_u16(&w, 9);
	wr_u16(&w, 0);
	wr_u16(&w, SMB2_HDR_LEN + 8);
	wr_u16(&w, 0);
	long n = wr_utf16(&w, "\\\\");
	long h = wr_utf16(&w, c->host);
	long s = wr_utf16(&w, "\\");
	long sh = wr_utf16(&w, share);
	if (n < 0 || h < 0 || s < 0 || sh < 0 || !wr_ok(&w)) {
		wr_free(&w);
		return STATUS_OBJECT_NAME_INVALID;
	}
	wr_set_u16(&w, 6, (uint16_t)(w.len - 8));
	struct smbc_tree *t = calloc(1, sizeof(*t));
	if (!t) {
		wr_free(&w);
		return STATUS_NO_MEMORY;
	}
	struct smbc_reply rep;
	uint32_t st = smbc_call(c, NULL, SMB2_TREE_CONNECT, w.p, w.len, NULL, 0, 0, 0, &rep);
	wr_free(&w);
	if (!st)
		st = smbc_tree_connect_parse(rep.buf, rep.len, t);
	smbc_reply_free(&rep);
	if (!st && t->encrypt && !c->cipher) {
		smbc_seterr(c, "the share requires encryption but no cipher was negotiated");
		st = STATUS_ACCESS_DENIED;
	}
	if (!st && c->o.encrypt_required && !c->encrypt_all && !t->encrypt)
		st = STATUS_ACCESS_DENIED;
	if (st) {
		free(t);
		return st;
	}
	t->conn = c;
	t->next = c->trees;
	c->trees = t;
	*out = t;
	return STATUS_SUCCESS;
}

static void tree_unlink(struct smbc_tree *t)
{
	struct smbc_conn *c = t->conn;
	for (struct smbc_tree **pp = &c->trees; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	while (t->files) {
		struct smbc_file *f = t->files;
		t->files = f->next;
		free(f);
	}
	free(t);
}

uint32_t smbc_tree_disconnect(struct smbc_tree *t)
{
	if (!t)
		return STATUS_SUCCESS;
	uint8_t body[4] = {4, 0, 0, 0};
	struct smbc_reply rep;
	uint32_t st =
	    smbc_call(t->conn, t, SMB2_TREE_DISCONNECT, body, sizeof(body), NULL, 0, 0, 0, &rep);
	smbc_reply_free(&rep);
	tree_unlink(t);
	return st;
}

bool smbc_tree_encrypted(const struct smbc_tree *t)
{
	return t->encrypt || (t->conn->encrypt_all && t->conn->cipher);
}

uint8_t smbc_tree_type(const struct smbc_tree *t)
{
	return t->type;
}
