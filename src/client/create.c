/* CREATE, CLOSE and FLUSH (MS-SMB2 2.2.13 - 2.2.18). */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"
#include "lib/utf16.h"

#define IMPERSONATION 2
#define SHARE_ALL 7 /* FILE_SHARE_READ | WRITE | DELETE */

uint32_t smbc_create_parse(const uint8_t *msg, size_t len, struct smbc_create_result *res)
{
	struct rd m = rd_make(msg, len);
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	res->oplock = rd_u8(&r);
	res->flags = rd_u8(&r);
	res->action = rd_u32(&r);
	res->st.create_time = rd_u64(&r);
	res->st.access_time = rd_u64(&r);
	res->st.write_time = rd_u64(&r);
	res->st.change_time = rd_u64(&r);
	res->st.alloc_size = rd_u64(&r);
	res->st.size = rd_u64(&r);
	res->st.attrs = rd_u32(&r);
	rd_skip(&r, 4);
	rd_bytes(&r, res->file_id, 16);
	uint32_t coff = rd_u32(&r);
	uint32_t clen = rd_u32(&r);
	if (!rd_ok(&r) || ss != 89)
		return STATUS_INVALID_NETWORK_RESPONSE;
	if (clen) {
		struct rd ctx = rd_sub(&m, coff, clen);
		if (!rd_ok(&ctx))
			return STATUS_INVALID_NETWORK_RESPONSE;
	}
	res->st.is_dir = (res->st.attrs & FILE_ATTRIBUTE_DIRECTORY) != 0;
	res->st.nlink = 1;
	return STATUS_SUCCESS;
}

/* '/' -> '\', leading separators dropped (names are relative to the share). */
static char *wire_path(const char *path)
{
	while (*path == '/' || *path == '\\')
		path++;
	char *p = strdup(path);
	if (!p)
		return NULL;
	for (char *q = p; *q; q++)
		if (*q == '/')
			*q = '\\';
	size_t n = strlen(p);
	while (n && p[n - 1] == '\\')
		p[--n] = 0;
	return p;
}

static void encode_create(struct wr *w, const struct smbc_create_args *a)
{
	wr_u16(w, 57);
	wr_u8(w, 0);
	wr_u8(w, a->oplock);
	wr_u32(w, IMPERSONATION);
	wr_u64(w, 0);
	wr_u64(w, 0);
	wr_u32(w, a->access);
	wr_u32(w, a->attrs);
	wr_u32(w, a->share ? a->share : SHARE_ALL);
	wr_u32(w, a->disposition);
	wr_u32(w, a->options);
	wr_u16(w, SMB2_HDR_LEN + 56);
	wr_u16(w, 0); /* NameLength, patched */
	wr_u32(w, 0);
	wr_u32(w, 0);
}

uint32_t smbc_create(struct smbc_tree *t, const char *path, const struct smbc_create_args *a,
		     struct smbc_file **out, struct smbc_create_result *res)
{
	struct wr w;
	*out = NULL;
	char *wp = wire_path(path);
	if (!wp)
		return STATUS_NO_MEMORY;
	wr_init(&w, 256);
	encode_create(&w, a);
	long n = wr_utf16(&w, wp);
	free(wp);
	if (n < 0 || n > UINT16_MAX)
		w.err = true;
	wr_set_u16(&w, 46, (uint16_t)n);
	if (n == 0)
		wr_u8(&w, 0); /* the buffer is never empty (MS-SMB2 2.2.13) */
	struct smbc_file *f = calloc(1, sizeof(*f));
	if (!wr_ok(&w) || !f) {
		wr_free(&w);
		free(f);
		return n < 0 ? STATUS_OBJECT_NAME_INVALID : STATUS_NO_MEMORY;
	}
	struct smbc_reply rep;
	uint32_t st = smbc_call(t->conn, t, SMB2_CREATE, w.p, w.len, NULL, 0, 0, 0, &rep);
	wr_free(&w);
	if (!st)
		st = smbc_create_parse(rep.buf, rep.len, &f->cr);
	smbc_reply_free(&rep);
	if (st) {
		free(f);
		return st;
	}
	f->tree = t;
	f->next = t->files;
	t->files = f;
	if (res)
		*res = f->cr;
	*out = f;
	return STATUS_SUCCESS;
}

const struct smbc_create_result *smbc_file_result(const struct smbc_file *f)
{
	return &f->cr;
}

static void file_unlink(struct smbc_file *f)
{
	for (struct smbc_file **pp = &f->tree->files; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	free(f);
}

static uint32_t fid_call(struct smbc_file *f, uint16_t cmd, uint16_t ss, uint16_t rss)
{
	uint8_t body[24] = {0};
	put_le16(body, ss);
	memcpy(body + 8, f->cr.file_id, 16);
	struct smbc_reply rep;
	uint32_t st =
	    smbc_call(f->tree->conn, f->tree, cmd, body, sizeof(body), NULL, 0, 0, 0, &rep);
	if (!st && (rep.len < SMB2_HDR_LEN + 2 || get_le16(rep.buf + SMB2_HDR_LEN) != rss ||
		    rep.len < SMB2_HDR_LEN + (size_t)(rss & ~1u)))
		st = STATUS_INVALID_NETWORK_RESPONSE;
	smbc_reply_free(&rep);
	return st;
}

uint32_t smbc_close(struct smbc_file *f)
{
	if (!f)
		return STATUS_SUCCESS;
	uint32_t st = fid_call(f, SMB2_CLOSE, 24, 60);
	file_unlink(f);
	return st;
}

uint32_t smbc_flush(struct smbc_file *f)
{
	return fid_call(f, SMB2_FLUSH, 24, 4);
}
