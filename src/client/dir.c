/* QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34) with FileDirectoryInformation (MS-FSCC 2.4.10). */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"
#include "lib/utf16.h"

#define FILE_DIRECTORY_INFORMATION 1
#define RESTART_SCANS 0x01
#define DIRINFO_FIXED 64
#define LIST_BUFFER (1024 * 1024)

uint32_t smbc_dir_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen)
{
	struct rd m = rd_make(msg, len);
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	uint16_t off = rd_u16(&r);
	uint32_t dlen = rd_u32(&r);
	struct rd d = rd_sub(&m, off, dlen);
	if (!rd_ok(&r) || ss != 9 || !rd_ok(&d))
		return STATUS_INVALID_NETWORK_RESPONSE;
	*data = d.p;
	*datalen = dlen;
	return STATUS_SUCCESS;
}

static uint32_t push_entry(struct smbc_dirent **out, size_t *count, size_t *cap,
			   const struct smbc_dirent *e)
{
	if (*count == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct smbc_dirent *n = realloc(*out, nc * sizeof(*n));
		if (!n)
			return STATUS_NO_MEMORY;
		*out = n;
		*cap = nc;
	}
	(*out)[(*count)++] = *e;
	return STATUS_SUCCESS;
}

/* Appends the entries of one reply buffer to *out. Every NextEntryOffset must move forward and
 * every name must lie inside its entry's part of the buffer. */
uint32_t smbc_dirents_parse(const uint8_t *data, size_t len, struct smbc_dirent **out,
			    size_t *count, size_t *cap)
{
	struct rd all = rd_make(data, len);
	size_t pos = 0;
	for (;;) {
		struct rd r = rd_sub(&all, pos, len >= pos ? len - pos : 0);
		struct smbc_dirent e = {0};
		uint32_t next = rd_u32(&r);
		rd_skip(&r, 4);
		e.st.create_time = rd_u64(&r);
		e.st.access_time = rd_u64(&r);
		e.st.write_time = rd_u64(&r);
		e.st.change_time = rd_u64(&r);
		e.st.size = rd_u64(&r);
		e.st.alloc_size = rd_u64(&r);
		e.st.attrs = rd_u32(&r);
		uint32_t nlen = rd_u32(&r);
		const uint8_t *name = rd_ptr(&r, nlen);
		if (!rd_ok(&r) || nlen % 2 || (next && next < DIRINFO_FIXED + nlen))
			return STATUS_INVALID_NETWORK_RESPONSE;
		e.st.is_dir = (e.st.attrs & FILE_ATTRIBUTE_DIRECTORY) != 0;
		e.st.nlink = 1;
		if (utf16le_to_utf8(name, nlen, &e.name))
			return STATUS_INVALID_NETWORK_RESPONSE;
		if (push_entry(out, count, cap, &e)) {
			free(e.name);
			return STATUS_NO_MEMORY;
		}
		if (!next)
			return STATUS_SUCCESS;
		pos += next;
	}
}

static uint32_t query_dir(struct smbc_file *dir, const char *pattern, uint8_t flags,
			  struct smbc_reply *rep)
{
	struct smbc_conn *c = dir->tree->conn;
	uint32_t outlen = c->max_transact < LIST_BUFFER ? c->max_transact : LIST_BUFFER;
	struct wr w;
	wr_init(&w, 128);
	wr_u16(&w, 33);
	wr_u8(&w, FILE_DIRECTORY_INFORMATION);
	wr_u8(&w, flags);
	wr_u32(&w, 0);
	wr_bytes(&w, dir->cr.file_id, 16);
	wr_u16(&w, SMB2_HDR_LEN + 32);
	wr_u16(&w, 0);
	wr_u32(&w, outlen);
	long n = wr_utf16(&w, pattern && *pattern ? pattern : "*");
	wr_set_u16(&w, 26, (uint16_t)n);
	uint32_t st = STATUS_NO_MEMORY;
	if (n > 0 && n <= UINT16_MAX && wr_ok(&w))
		st = smbc_call(c, dir->tree, SMB2_QUERY_DIRECTORY, w.p, w.len, NULL, 0, outlen, 0,
			       rep);
	else
		memset(rep, 0, sizeof(*rep));
	wr_free(&w);
	return st;
}

uint32_t smbc_list(struct smbc_file *dir, const char *pattern, struct smbc_dirent **out,
		   size_t *count)
{
	size_t cap = 0;
	*out = NULL;
	*count = 0;
	for (int round = 0;; round++) {
		struct smbc_reply rep;
		uint32_t st = query_dir(dir, pattern, round ? 0 : RESTART_SCANS, &rep);
		const uint8_t *d;
		size_t dl;
		if (!st)
			st = smbc_dir_parse(rep.buf, rep.len, &d, &dl);
		if (!st)
			st =
			    dl ? smbc_dirents_parse(d, dl, out, count, &cap) : STATUS_NO_MORE_FILES;
		smbc_reply_free(&rep);
		if (st == STATUS_NO_MORE_FILES || (st == STATUS_NO_SUCH_FILE && round == 0))
			return STATUS_SUCCESS;
		if (st) {
			smbc_dirents_free(*out, *count);
			*out = NULL;
			*count = 0;
			return st;
		}
	}
}

void smbc_dirents_free(struct smbc_dirent *d, size_t count)
{
	for (size_t i = 0; d && i < count; i++)
		free(d[i].name);
	free(d);
}
