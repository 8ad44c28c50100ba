/* QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34, 3.3.5.18) with the directory information classes of
 * MS-FSCC 2.4. The first query (or a restart) takes a snapshot of the directory's names; each
 * entry is stat'ed when it is returned, and entries removed meanwhile are skipped, so the
 * enumeration is robust to concurrent changes and needs no descriptor position. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/utf16.h"
#include "smb2/smb2_file.h"

#define SMB2_RESTART_SCANS 0x01
#define SMB2_RETURN_SINGLE_ENTRY 0x02
#define SMB2_INDEX_SPECIFIED 0x04
#define SMB2_REOPEN 0x10

/* MS-FSCC 2.4 classes */
#define FileDirectoryInformation 1
#define FileFullDirectoryInformation 2
#define FileBothDirectoryInformation 3
#define FileNamesInformation 12
#define FileIdBothDirectoryInformation 37
#define FileIdFullDirectoryInformation 38

struct dir_state {
	char *pattern;
	char **names; /* snapshot: ".", "..", then the directory's names */
	size_t n, pos;
	bool returned_any; /* since the pattern was set: NO_SUCH_FILE vs NO_MORE_FILES */
};

static void dir_state_clear(struct dir_state *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->names[i]);
	free(ds->names);
	free(ds->pattern);
	memset(ds, 0, sizeof(*ds));
}

static void dir_state_free(void *p)
{
	if (!p)
		return;
	dir_state_clear(p);
	free(p);
}

struct name_list {
	char **v;
	size_t n, cap;
	int err;
};

static int add_name(void *arg, const char *name)
{
	struct name_list *l = arg;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		char **nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv) {
			l->err = -ENOMEM;
			return 1;
		}
		l->v = nv;
		l->cap = ncap;
	}
	if (!(l->v[l->n] = strdup(name))) {
		l->err = -ENOMEM;
		return 1;
	}
	l->n++;
	return 0;
}

static bool has_wildcard(const char *p)
{
	return strpbrk(p, "*?<>\"") != NULL;
}

/* Fills the snapshot. A pattern without wildcards names one entry: it is resolved directly
 * (case-insensitively where the share is) instead of reading the whole directory. */
static int snapshot(struct smb2_open *op, struct dir_state *ds)
{
	struct name_list l = {0};
	const char *p = ds->pattern;
	if (has_wildcard(p)) {
		add_name(&l, ".");
		add_name(&l, "..");
		int rc = l.err ? l.err : vfs_readdir(op->file, add_name, &l);
		if (!rc)
			rc = l.err;
		if (rc < 0) {
			ds->names = l.v;
			ds->n = l.n;
			return rc;
		}
	} else if (!strcmp(p, ".") || !strcmp(p, "..")) {
		add_name(&l, p);
	} else if (vfs_name_check(p) == 0) {
		size_t dl = strlen(op->file->path);
		char *full = malloc(dl + strlen(p) + 2), *real = NULL;
		if (!full)
			return -ENOMEM;
		sprintf(full, "%s%s%s", op->file->path, dl ? "/" : "", p);
		if (vfs_lookup(op->file->sh, full, &real, NULL) == 0) {
			const char *slash = strrchr(real, '/');
			add_name(&l, slash ? slash + 1 : real);
		}
		free(real);
		free(full);
	}
	ds->names = l.v;
	ds->n = l.n;
	ds->pos = 0;
	return l.err;
}

/* Metadata of the snapshot entry i; "." is the directory, ".." its parent (the root's is the
 * root itself). */
static int entry_stat(struct smb2_open *op, const char *name, struct vfs_stat *st)
{
	if (!strcmp(name, "."))
		return vfs_fstat(op->file, st);
	if (!strcmp(name, "..")) {
		const char *path = op->file->path;
		const char *slash = strrchr(path, '/');
		char *parent = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
		char *real = NULL;
		if (!parent)
			return -ENOMEM;
		int rc = vfs_lookup(op->file->sh, parent, &real, st);
		free(parent);
		free(real);
		return rc;
	}
	if (vfs_name_check(name) < 0)
		return -EINVAL; /* not representable as a Windows name: hidden */
	return vfs_stat_at(op->file, name, st);
}

static size_t fixed_size(uint8_t cls)
{
	switch (cls) {
	case FileDirectoryInformation:
		return 64;
	case FileFullDirectoryInformation:
		return 68;
	case FileBothDirectoryInformation:
		return 94;
	case FileNamesInformation:
		return 12;
	case FileIdBothDirectoryInformation:
		return 104;
	case FileIdFullDirectoryInformation:
		return 80;
	default:
		return 0;
	}
}

/* Writes one entry (MS-FSCC 2.4.x) at the writer's end; NextEntryOffset is patched later. */
static void put_entry(struct wr *w, uint8_t cls, const struct vfs_stat *st, const char *name,
		      uint32_t nlen)
{
	wr_u32(w, 0); /* NextEntryOffset */
	wr_u32(w, 0); /* FileIndex: not meaningful on this file system */
	if (cls == FileNamesInformation) {
		wr_u32(w, nlen);
		wr_utf16(w, name);
		return;
	}
	wr_u64(w, st->btime);
	wr_u64(w, st->atime);
	wr_u64(w, st->mtime);
	wr_u64(w, st->ctime);
	wr_u64(w, st->size);
	wr_u64(w, st->alloc);
	wr_u32(w, st->attrs);
	wr_u32(w, nlen);
	if (cls == FileDirectoryInformation) {
		wr_utf16(w, name);
		return;
	}
	wr_u32(w, 0); /* EaSize */
	if (cls == FileBothDirectoryInformation || cls == FileIdBothDirectoryInformation) {
		/* ShortNameLength, Reserved, ShortName[24]: empty for a name that is 8.3 already */
		char sn[VFS_SHORT_NAME_MAX + 1];
		size_t sl = vfs_short_name(name, sn);
		wr_u8(w, (uint8_t)(2 * sl)); /* ASCII only: two bytes a character */
		wr_u8(w, 0);
		size_t at = w->len;
		if (sl)
			wr_utf16(w, sn);
		wr_zero(w, 24 - (w->len - at));
		if (cls == FileIdBothDirectoryInformation) {
			wr_u16(w, 0);
			wr_u64(w, st->ino);
		}
	} else if (cls == FileIdFullDirectoryInformation) {
		wr_u32(w, 0);
		wr_u64(w, st->ino);
	}
	wr_utf16(w, name);
}

struct dir_query {
	uint8_t cls, flags;
	uint32_t max_out;
};

/* Emits entries from the snapshot into w (the output buffer starts at base). */
/* Access-based enumeration hides what the user cannot read ("." and ".." stay). */
static bool hidden_by_abe(struct smb2_req *req, struct smb2_open *op, const char *name)
{
	if (!(op->tree->share_flags & SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM) ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	const char *dir = op->file->path;
	size_t n = strlen(dir) + strlen(name) + 2;
	char *path = malloc(n);
	if (!path)
		return true;
	snprintf(path, n, "%s%s%s", dir, *dir ? "/" : "", name);
	bool hide = !smb2_secdesc_can_read(req, path);
	free(path);
	return hide;
}

static NTSTATUS fill_entries(struct smb2_req *req, struct smb2_open *op, struct dir_state *ds,
			     const struct dir_query *q, struct wr *w, size_t base)
{
	size_t prev = (size_t)-1, count = 0;
	bool cs = op->tree->vfs->opts.case_sensitive;
	for (; ds->pos < ds->n; ds->pos++) {
		const char *name = ds->names[ds->pos];
		if (!vfs_wildcard_match(ds->pattern, name, cs))
			continue;
		struct vfs_stat st;
		long nlen = utf16_len(name);
		if (nlen < 0 || entry_stat(op, name, &st) < 0 || hidden_by_abe(req, op, name))
			continue; /* vanished since the snapshot, not nameable, or hidden */
		size_t at = count ? ((w->len - base + 7) & ~(size_t)7) : 0;
		size_t need = at + fixed_size(q->cls) + (size_t)nlen;
		if (need > q->max_out) {
			if (count)
				break;
			return STATUS_INFO_LENGTH_MISMATCH;
		}
		wr_zero(w, base + at - w->len);
		if (prev != (size_t)-1)
			wr_set_u32(w, base + prev, (uint32_t)(at - prev));
		put_entry(w, q->cls, &st, name, (uint32_t)nlen);
		prev = at;
		count++;
		if (q->flags & SMB2_RETURN_SINGLE_ENTRY) {
			ds->pos++;
			break;
		}
	}
	if (!wr_ok(w))
		return STATUS_NO_MEMORY;
	if (!count)
		return ds->returned_any ? STATUS_NO_MORE_FILES : STATUS_NO_SUCH_FILE;
	ds->returned_any = true;
	return STATUS_SUCCESS;
}

/* Sets a new pattern and snapshot on the first query, RESTART_SCANS or REOPEN (3.3.5.18). */
static NTSTATUS start_scan(struct smb2_req *req, struct smb2_open *op, struct rd *pat,
			   uint8_t flags)
{
	struct dir_state *ds = op->dir_state;
	bool restart = !ds || (flags & (SMB2_RESTART_SCANS | SMB2_REOPEN));
	if (!restart)
		return STATUS_SUCCESS;
	char *pattern = NULL;
	if (pat->len == 0)
		pattern = strdup("*");
	else if (pat->len % 2 || utf16le_to_utf8(pat->p, pat->len, &pattern) < 0)
		return STATUS_OBJECT_NAME_INVALID;
	if (!pattern)
		return STATUS_NO_MEMORY;
	if (strpbrk(pattern, "\\/:|")) {
		free(pattern);
		return STATUS_OBJECT_NAME_INVALID;
	}
	if (!ds) {
		ds = calloc(1, sizeof(*ds));
		if (!ds) {
			free(pattern);
			return STATUS_NO_MEMORY;
		}
		op->dir_state = ds;
		op->dir_state_free = dir_state_free;
	}
	dir_state_clear(ds);
	ds->pattern = pattern;
	int rc = snapshot(op, ds);
	return rc < 0 ? smb2_file_status(rc) : STATUS_SUCCESS;
}

NTSTATUS smb2_query_directory(struct smb2_req *req)
{
	struct rd b = req->body;
	struct dir_query q;
	rd_skip(&b, 2);
	q.cls = rd_u8(&b);
	q.flags = rd_u8(&b);
	rd_skip(&b, 4); /* FileIndex: ignored (SMB2_INDEX_SPECIFIED is not meaningful here) */
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	uint16_t poff = rd_u16(&b), plen = rd_u16(&b);
	q.max_out = rd_u32(&b);
	if (!st && !rd_ok(&b))
		st = STATUS_INVALID_PARAMETER;
	if (st)
		return SMB2_ERR(req, st);
	struct rd pat = plen ? rd_sub(&req->msg, poff, plen) : rd_make(NULL, 0);
	if (!rd_ok(&pat) || q.max_out > req->conn->max_trans)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (!op->file || !op->is_dir)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (!fixed_size(q.cls))
		return SMB2_ERR(req, STATUS_INVALID_INFO_CLASS);
	if (!(op->access & FILE_LIST_DIRECTORY))
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	vfs_ident_apply(req->ident);
	st = start_scan(req, op, &pat, q.flags);
	if (st)
		return SMB2_ERR(req, st);
	struct wr *w = req->out;
	wr_u16(w, 9);
	wr_u16(w, SMB2_HDR_LEN + 8); /* OutputBufferOffset */
	size_t len_field = w->len;
	wr_u32(w, 0);
	size_t base = w->len;
	st = fill_entries(req, op, op->dir_state, &q, w, base);
	if (st)
		return SMB2_ERR(req, st);
	wr_set_u32(w, len_field, (uint32_t)(w->len - base));
	return STATUS_SUCCESS;
}
