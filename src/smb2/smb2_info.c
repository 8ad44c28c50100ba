/* QUERY_INFO and SET_INFO (MS-SMB2 2.2.37-2.2.40, 3.3.5.20, 3.3.5.21) for InfoType FILE
 * (MS-FSCC 2.4), with FILESYSTEM in smb2_fsinfo.c and SECURITY in smb2_secdesc.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/utf16.h"
#include "smb2/smb2_file.h"
#include "smb2/smb2_stream.h"
#include "state/lease.h"

#define SMB2_0_INFO_FILE 1
#define SMB2_0_INFO_FILESYSTEM 2
#define SMB2_0_INFO_SECURITY 3
#define SMB2_0_INFO_QUOTA 4

/* MS-FSCC 2.4 classes */
enum {
	FileBasicInformation = 4,
	FileStandardInformation = 5,
	FileInternalInformation = 6,
	FileEaInformation = 7,
	FileAccessInformation = 8,
	FileNameInformation = 9,
	FileRenameInformation = 10,
	FileLinkInformation = 11,
	FileDispositionInformation = 13,
	FilePositionInformation = 14,
	FileFullEaInformation = 15,
	FileModeInformation = 16,
	FileAlignmentInformation = 17,
	FileAllInformation = 18,
	FileAllocationInformation = 19,
	FileEndOfFileInformation = 20,
	FileAlternateNameInformation = 21,
	FileStreamInformation = 22,
	FileCompressionInformation = 28,
	FileNetworkOpenInformation = 34,
	FileAttributeTagInformation = 35,
	FileNormalizedNameInformation = 48,
	FileDispositionInformationEx = 64,
};

#define FILE_DISPOSITION_DELETE 0x1u
#define FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE 0x10u
/* FileModeInformation bits a client may set (MS-FSCC 2.4.26) */
#define FILE_MODE_VALID 0x0000103Eu

/* ---- query: FILE ---- */

static void put_basic(struct wr *w, const struct vfs_stat *st)
{
	wr_u64(w, st->btime);
	wr_u64(w, st->atime);
	wr_u64(w, st->mtime);
	wr_u64(w, st->ctime);
	wr_u32(w, st->attrs);
	wr_u32(w, 0);
}

static void put_standard(struct wr *w, const struct smb2_open *op, const struct vfs_stat *st)
{
	bool pending = op->state_rec && state_delete_pending(op->state_rec);
	wr_u64(w, st->alloc);
	wr_u64(w, st->size);
	wr_u32(w, st->nlink > (pending ? 1u : 0u) ? st->nlink - (pending ? 1 : 0) : 0);
	wr_u8(w, pending);
	wr_u8(w, S_ISDIR(st->mode) ? 1 : 0);
	wr_u16(w, 0);
}

/* FileNameInformation: the path from the share root with a leading backslash, and ":stream"
 * (as stored) for an open of a stream. */
static void put_name(struct wr *w, const struct smb2_open *op, bool leading)
{
	size_t n = strlen(op->name);
	const char *stream = op->file ? op->file->stream : NULL;
	size_t sn = stream ? strlen(stream) + 1 : 0;
	char *s = malloc(n + sn + 2);
	if (!s) {
		w->err = true;
		return;
	}
	size_t k = 0;
	if (leading)
		s[k++] = '\\';
	for (size_t i = 0; i < n; i++)
		s[k++] = op->name[i] == '/' ? '\\' : op->name[i];
	if (stream) {
		s[k++] = ':';
		memcpy(s + k, stream, sn - 1);
		k += sn - 1;
	}
	s[k] = '\0';
	long len = utf16_len(s);
	wr_u32(w, len > 0 ? (uint32_t)len : 0);
	if (len > 0)
		wr_utf16(w, s);
	free(s);
}

/* FileStreamInformation (MS-FSCC 2.4.43): "::$DATA" for files, then each named stream as
 * ":name:$DATA", every entry 8-byte aligned. */
struct stream_walk {
	struct wr *w;
	size_t prev; /* offset of the previous entry's NextEntryOffset, or SIZE_MAX */
};

static void put_stream_entry(struct stream_walk *sw, const char *name, uint64_t size,
			     uint64_t alloc)
{
	struct wr *w = sw->w;
	if (sw->prev != SIZE_MAX) {
		wr_align(w, 8);
		wr_set_u32(w, sw->prev, (uint32_t)(w->len - sw->prev));
	}
	sw->prev = w->len;
	long n = utf16_len(name);
	wr_u32(w, 0);
	wr_u32(w, n > 0 ? (uint32_t)n : 0);
	wr_u64(w, size);
	wr_u64(w, alloc);
	if (n > 0)
		wr_utf16(w, name);
}

static int stream_entry_cb(void *arg, const char *name, uint64_t size)
{
	struct stream_walk *sw = arg;
	size_t n = strlen(name);
	char *full = malloc(n + 8);
	if (!full) {
		sw->w->err = true;
		return 1;
	}
	full[0] = ':';
	memcpy(full + 1, name, n);
	memcpy(full + 1 + n, ":$DATA", 7);
	put_stream_entry(sw, full, size, (size + 7) & ~7ull);
	free(full);
	return 0;
}

static NTSTATUS put_streams(struct wr *w, struct smb2_open *op, const struct vfs_stat *st)
{
	struct stream_walk sw = {w, SIZE_MAX};
	if (!S_ISDIR(st->mode)) {
		struct vfs_stat data = *st;
		/* a stream handle's stat is the stream's: the file's data size comes from a stat of
		   the file itself */
		if (op->file->stream) {
			struct vfs_stat fs;
			char *real = NULL;
			if (vfs_lookup(op->file->sh, op->file->path, &real, &fs) == 0)
				data = fs;
			free(real);
		}
		put_stream_entry(&sw, "::$DATA", data.size, data.alloc);
	}
	int rc = vfs_stream_list(op->file, stream_entry_cb, &sw);
	return rc < 0 ? smb2_file_status(rc) : STATUS_SUCCESS;
}

/* The fixed part of each class as Windows sizes it (the structure padded to its alignment): a
 * smaller buffer is INFO_LENGTH_MISMATCH; a buffer that holds it but not the variable part
 * gets the truncated data and BUFFER_OVERFLOW (3.3.5.20.1). */
static size_t query_min(uint8_t type, uint8_t cls)
{
	static const uint8_t file_min[64] = {
	    [FileBasicInformation] = 40,	[FileStandardInformation] = 24,
	    [FileInternalInformation] = 8,	[FileEaInformation] = 4,
	    [FileAccessInformation] = 4,	[FileNameInformation] = 8,
	    [FilePositionInformation] = 8,	[FileModeInformation] = 4,
	    [FileAlignmentInformation] = 4,	[FileAllInformation] = 104,
	    [FileAlternateNameInformation] = 8, [FileStreamInformation] = 32,
	    [FileCompressionInformation] = 16,	[FileNetworkOpenInformation] = 56,
	    [FileAttributeTagInformation] = 8,	[FileNormalizedNameInformation] = 8,
	};
	/* FILESYSTEM: Volume, Size, Device, Attribute, Control, FullSize, ObjectId, SectorSize */
	static const uint8_t fs_min[12] = {0, 24, 0, 24, 8, 16, 48, 32, 64, 0, 0, 28};
	if (type == SMB2_0_INFO_FILE && cls < 64)
		return file_min[cls];
	if (type == SMB2_0_INFO_FILESYSTEM && cls < 12)
		return fs_min[cls];
	return 0;
}

static NTSTATUS query_file(struct smb2_req *req, struct smb2_open *op, uint8_t cls, struct wr *w)
{
	struct vfs_stat st;
	if (!op->file) {
		if (cls != FileStandardInformation)
			return STATUS_NOT_SUPPORTED;
		struct vfs_stat ps = {.alloc = 4096, .nlink = 1};
		put_standard(w, op, &ps);
		return STATUS_SUCCESS;
	}
	int rc = vfs_fstat(op->file, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	bool need_attr = cls == FileBasicInformation || cls == FileAllInformation ||
			 cls == FileNetworkOpenInformation || cls == FileAttributeTagInformation;
	if (need_attr && !(op->access & FILE_READ_ATTRIBUTES))
		return STATUS_ACCESS_DENIED;
	switch (cls) {
	case FileBasicInformation:
		put_basic(w, &st);
		break;
	case FileStandardInformation:
		put_standard(w, op, &st);
		break;
	case FileInternalInformation:
		wr_u64(w, st.ino);
		break;
	case FileEaInformation:
		wr_u32(w, 0);
		break;
	case FileAccessInformation:
		wr_u32(w, op->access);
		break;
	case FileNameInformation:
		put_name(w, op, true);
		break;
	case FileNormalizedNameInformation:
		if (req->conn->dialect < SMB2_DIALECT_311)
			return STATUS_NOT_SUPPORTED;
		put_name(w, op, false);
		break;
	case FilePositionInformation:
		wr_u64(w, op->position);
		break;
	case FileModeInformation:
		wr_u32(w, op->mode);
		break;
	case FileAlignmentInformation:
		wr_u32(w, 0);
		break;
	case FileAllInformation:
		put_basic(w, &st);
		put_standard(w, op, &st);
		wr_u64(w, st.ino);
		wr_u32(w, 0); /* EaSize */
		wr_u32(w, op->access);
		wr_u64(w, op->position);
		wr_u32(w, op->mode);
		wr_u32(w, 0); /* AlignmentRequirement */
		put_name(w, op, true);
		break;
	case FileAlternateNameInformation: {
		/* MS-FSCC 2.4.5: the 8.3 name (vfs_short_name); a name that is one already is its
		   own, as the directory listings leave ShortName empty for it */
		const char *slash = strrchr(op->name, '/');
		const char *last = slash ? slash + 1 : op->name;
		char sn[VFS_SHORT_NAME_MAX + 1];
		const char *alt = vfs_short_name(last, sn) ? sn : last;
		long len = utf16_len(alt);
		wr_u32(w, len > 0 ? (uint32_t)len : 0);
		if (len > 0)
			wr_utf16(w, alt);
		break;
	}
	case FileStreamInformation: {
		NTSTATUS sst = put_streams(w, op, &st);
		if (sst)
			return sst;
		break;
	}
	case FileCompressionInformation:
		wr_u64(w, st.size);
		wr_u16(w, 0); /* COMPRESSION_FORMAT_NONE */
		wr_zero(w, 6);
		break;
	case FileNetworkOpenInformation:
		smb2_put_times_sizes(w, &st);
		wr_u32(w, 0);
		break;
	case FileAttributeTagInformation:
		wr_u32(w, st.attrs);
		wr_u32(w, 0);
		break;
	case FileFullEaInformation:
		/* MS-FSA 2.1.5.11.11: reading EAs needs FILE_READ_EA, then there are none */
		return op->access & FILE_READ_EA ? STATUS_NO_EAS_ON_FILE : STATUS_ACCESS_DENIED;
	default:
		return STATUS_INVALID_INFO_CLASS;
	}
	return STATUS_SUCCESS;
}

/* 3.3.5.20.3: a buffer too small for the descriptor gets BUFFER_TOO_SMALL with the size. */
static NTSTATUS query_security(struct smb2_req *req, struct smb2_open *op, uint32_t addinfo,
			       uint32_t max, struct wr *w, size_t base)
{
	NTSTATUS st = smb2_secdesc_query(req, op, addinfo, w);
	if (st)
		return st;
	size_t need = w->len - base;
	if (need <= max)
		return STATUS_SUCCESS;
	w->len = req->body_off;
	wr_u16(w, 9);
	wr_u8(w, 0);
	wr_u8(w, 0);
	wr_u32(w, 4); /* ByteCount */
	wr_u32(w, (uint32_t)need);
	req->keep_body = true;
	return STATUS_BUFFER_TOO_SMALL;
}

NTSTATUS smb2_query_info(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint8_t type = rd_u8(&b), cls = rd_u8(&b);
	uint32_t max = rd_u32(&b);
	rd_skip(&b, 8); /* InputBufferOffset, Reserved, InputBufferLength */
	uint32_t addinfo = rd_u32(&b);
	rd_skip(&b, 4);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	if (!st && !rd_ok(&b))
		st = STATUS_INVALID_PARAMETER;
	if (st)
		return SMB2_ERR(req, st);
	if (max > req->conn->max_trans)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	vfs_ident_apply(req->ident);
	struct wr *w = req->out;
	wr_u16(w, 9);
	wr_u16(w, SMB2_HDR_LEN + 8);
	size_t len_field = w->len;
	wr_u32(w, 0);
	size_t base = w->len;
	switch (type) {
	case SMB2_0_INFO_FILE:
		st = query_file(req, op, cls, w);
		break;
	case SMB2_0_INFO_FILESYSTEM:
		st = smb2_fsinfo_query(req, op, cls, w);
		break;
	case SMB2_0_INFO_SECURITY:
		st = query_security(req, op, addinfo, max, w, base);
		if (st)
			return SMB2_ERR(req, st);
		wr_set_u32(w, len_field, (uint32_t)(w->len - base));
		return STATUS_SUCCESS;
	case SMB2_0_INFO_QUOTA:
		st = STATUS_NOT_SUPPORTED; /* no quotas on this server */
		break;
	default:
		st = STATUS_INVALID_PARAMETER;
	}
	if (st)
		return SMB2_ERR(req, st);
	if (!wr_ok(w))
		return SMB2_ERR(req, STATUS_NO_MEMORY);
	size_t len = w->len - base, min = query_min(type, cls);
	if (max < min)
		return SMB2_ERR(req, STATUS_INFO_LENGTH_MISMATCH);
	if (len > max) {
		w->len = base + max;
		wr_set_u32(w, len_field, max);
		req->keep_body = true;
		return STATUS_BUFFER_OVERFLOW;
	}
	wr_set_u32(w, len_field, (uint32_t)len);
	return STATUS_SUCCESS;
}

/* ---- set: FILE ---- */

static NTSTATUS set_basic(struct smb2_open *op, struct rd *in)
{
	uint64_t t[4];
	for (int i = 0; i < 4; i++)
		t[i] = rd_u64(in);
	uint32_t attrs = rd_u32(in);
	if (!rd_ok(in))
		return STATUS_INFO_LENGTH_MISMATCH;
	if (!(op->access & FILE_WRITE_ATTRIBUTES))
		return STATUS_ACCESS_DENIED;
	/* 0 = leave unchanged; -1 (and -2) = stop (resume) automatic updates: accepted, and the
	   time itself is left as it is */
	for (int i = 0; i < 4; i++)
		if (t[i] == UINT64_MAX || t[i] == UINT64_MAX - 1)
			t[i] = 0;
	if ((attrs & FILE_ATTRIBUTE_DIRECTORY) && !op->is_dir)
		return STATUS_INVALID_PARAMETER;
	/* MS-FSA 2.1.5.14.2: a directory cannot be temporary */
	if ((attrs & FILE_ATTRIBUTE_TEMPORARY) && op->is_dir)
		return STATUS_INVALID_PARAMETER;
	int rc = 0;
	if (attrs || t[0])
		rc =
		    vfs_set_meta(op->file,
				 attrs ? attrs & ~(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
				       : VFS_ATTRS_KEEP,
				 t[0]);
	if (!rc)
		rc = vfs_set_times(op->file, t[1], t[2]);
	/* last: setting the other times changes the inode's ctime */
	if (!rc && t[3])
		rc = vfs_set_ctime(op->file, t[3]);
	return smb2_file_status(rc);
}

/* Renames the stream open op to ":name[:$DATA]" (MS-FSCC 2.4.42.2, MS-FSA 2.1.5.14.11). */
static NTSTATUS rename_stream(struct smb2_open *op, const uint8_t *name, uint32_t nlen,
			      bool replace)
{
	char *s = NULL, *stream = NULL;
	bool data = false;
	if (nlen % 2 || utf16le_to_utf8(name, nlen, &s) < 0)
		return STATUS_OBJECT_NAME_INVALID;
	/* the split wants a base name in front of the colon */
	size_t n = strlen(s);
	char *full = malloc(n + 2);
	NTSTATUS st = full ? STATUS_SUCCESS : STATUS_NO_MEMORY;
	if (full) {
		full[0] = 'x';
		memcpy(full + 1, s, n + 1);
		st = smb2_stream_split(full, &stream, &data);
	}
	free(s);
	free(full);
	if (st)
		return st;
	if (!stream || !op->file->stream) {
		/* between a named stream and the file's data: NTFS moves the data; not offered */
		free(stream);
		return op->file->stream ? STATUS_NOT_SUPPORTED : STATUS_INVALID_PARAMETER;
	}
	int rc = vfs_stream_rename(op->file, stream, replace);
	free(stream);
	if (rc == -EEXIST)
		return STATUS_OBJECT_NAME_COLLISION;
	return rc == -EINVAL ? STATUS_OBJECT_NAME_INVALID : smb2_file_status(rc);
}

/* Before a rename (as Windows): a directory with opens beneath it cannot move; the target
 * directory gets an entry added, which the share modes of its own opens must allow (an open
 * of it holding DELETE, or sharing nothing with writers, refuses). */
static NTSTATUS rename_checks(struct smb2_req *req, struct smb2_open *op, const char *target)
{
	if (op->is_dir) {
		int below = smb2_opens_below(req->srv, op);
		if (below < 0)
			return STATUS_NO_MEMORY;
		if (below)
			return STATUS_ACCESS_DENIED;
	}
	const char *slash = strrchr(target, '/');
	char *parent = slash ? strndup(target, (size_t)(slash - target)) : strdup("");
	if (!parent)
		return STATUS_NO_MEMORY;
	char *real = NULL;
	struct vfs_stat pst;
	int rc = vfs_lookup(op->tree->vfs, parent, &real, &pst);
	free(parent);
	free(real);
	if (rc < 0)
		return rc == -ENOENT || rc == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND
						       : smb2_file_status(rc);
	struct state_key key = {pst.dev, pst.ino, 0};
	rc = state_share_probe(req->srv->state, &key, STATE_FILE_WRITE_DATA,
			       STATE_SHARE_READ | STATE_SHARE_WRITE);
	if (rc == -EBUSY)
		return STATUS_SHARING_VIOLATION;
	return rc == -EIDRM ? STATUS_DELETE_PENDING : STATUS_SUCCESS;
}

static NTSTATUS set_info_run(struct smb2_req *req, struct smb2_break_wait *bw);

/* Before a rename: the other opens' leases give up handle caching; the rename waits for their
 * acknowledgements (or closes, or the break timeout) and runs again (smb2.lease.rename_wait). */
static NTSTATUS rename_breaks(struct smb2_req *req, struct smb2_open *op,
			      struct smb2_break_wait *bw)
{
	if (state_oplock_break_handles(op->oplock) != -EAGAIN)
		return STATUS_SUCCESS;
	struct vfs_stat vs;
	int rc = vfs_fstat(op->file, &vs);
	if (rc < 0)
		return smb2_file_status(rc);
	struct state_key key = {vs.dev, vs.ino, 0};
	return smb2_break_wait(req, &key, op, set_info_run, bw, NULL, NULL);
}

/* MS-FSCC 2.4.42.2: the SMB2 form of FileRenameInformation. */
static NTSTATUS set_rename(struct smb2_req *req, struct smb2_open *op, struct rd *in,
			  struct smb2_break_wait *bw)
{
	uint8_t replace = rd_u8(in);
	rd_skip(in, 7);
	uint64_t root_dir = rd_u64(in);
	uint32_t nlen = rd_u32(in);
	const uint8_t *name = rd_ptr(in, nlen);
	if (!rd_ok(in))
		return STATUS_INFO_LENGTH_MISMATCH;
	if (!(op->access & DELETE_ACCESS))
		return STATUS_ACCESS_DENIED;
	if (nlen >= 2 && name[0] == ':' && name[1] == 0)
		return rename_stream(op, name, nlen, replace);
	if (root_dir || !*op->name || op->file->stream)
		return STATUS_INVALID_PARAMETER;
	NTSTATUS bst = rename_breaks(req, op, bw);
	if (bst)
		return bst;
	/* clients may send the path with a leading separator; it is still share-relative */
	if (nlen >= 2 && name[0] == '\\' && name[1] == 0) {
		name += 2;
		nlen -= 2;
	}
	char *to = NULL, *real = NULL;
	NTSTATUS st = nlen ? smb2_wire_path(name, nlen, &to) : STATUS_INVALID_PARAMETER;
	if (st)
		return st;
	struct vfs_stat tst, mine;
	int rc = vfs_lookup(op->tree->vfs, to, &real, &tst);
	if (rc == 0 || rc == -ENOENT) {
		st = rename_checks(req, op, real);
		if (st) {
			free(to);
			free(real);
			return st;
		}
	}
	if (rc == 0 && vfs_fstat(op->file, &mine) == 0 && tst.ino == mine.ino &&
	    tst.dev == mine.dev) {
		/* the same file: a change of case only, to the name as the client wrote it */
		const char *slash = strrchr(to, '/'), *rs = strrchr(real, '/');
		size_t plen = rs ? (size_t)(rs - real) + 1 : 0;
		char *n = malloc(plen + strlen(slash ? slash + 1 : to) + 1);
		if (n) {
			memcpy(n, real, plen);
			strcpy(n + plen, slash ? slash + 1 : to);
		}
		free(real);
		real = n;
		rc = n ? vfs_rename(op->file, n, true) : -ENOMEM;
	} else if (rc == 0) {
		rc = !replace		 ? -EEXIST
		     : S_ISDIR(tst.mode) ? -EACCES
					 : vfs_rename(op->file, real, true);
	} else if (rc == -ENOENT) {
		rc = vfs_rename(op->file, real, false);
	}
	free(to);
	free(real);
	if (rc == -ENOTDIR)
		return STATUS_OBJECT_PATH_NOT_FOUND;
	if (rc < 0)
		return smb2_file_status(rc);
	char *nn = strdup(op->file->path);
	if (nn) {
		free(op->name);
		op->name = nn;
	}
	return STATUS_SUCCESS;
}

static int first_entry_cb(void *arg, const char *name)
{
	(void)name;
	*(bool *)arg = true;
	return 1;
}

static NTSTATUS set_disposition(struct smb2_open *op, bool del, bool ignore_ro)
{
	if (!(op->access & DELETE_ACCESS))
		return STATUS_ACCESS_DENIED;
	if (!del) {
		state_set_delete_pending(op->state_rec, false);
		return STATUS_SUCCESS;
	}
	if (!*op->name)
		return STATUS_ACCESS_DENIED; /* the share root cannot go */
	struct vfs_stat st;
	int rc = vfs_fstat(op->file, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	if ((st.attrs & FILE_ATTRIBUTE_READONLY) && !ignore_ro)
		return STATUS_CANNOT_DELETE;
	if (op->is_dir) {
		bool any = false;
		rc = vfs_readdir(op->file, first_entry_cb, &any);
		if (rc < 0)
			return smb2_file_status(rc);
		if (any)
			return STATUS_DIRECTORY_NOT_EMPTY;
	}
	state_set_delete_pending(op->state_rec, true);
	return STATUS_SUCCESS;
}

static NTSTATUS set_size(struct smb2_open *op, uint8_t cls, struct rd *in)
{
	uint64_t v = rd_u64(in);
	if (!rd_ok(in))
		return STATUS_INFO_LENGTH_MISMATCH;
	if (op->is_dir)
		return STATUS_INVALID_PARAMETER;
	if (!(op->access & FILE_WRITE_DATA))
		return STATUS_ACCESS_DENIED;
	if (v > INT64_MAX)
		return STATUS_INVALID_PARAMETER;
	state_oplock_break_on_write(op->oplock);
	if (cls == FileEndOfFileInformation)
		return smb2_file_status(vfs_truncate(op->file, v));
	/* MS-FSA 2.1.5.15.1: an allocation below the end of file truncates; above it only
	   reserves space */
	struct vfs_stat st;
	int rc = vfs_fstat(op->file, &st);
	if (!rc)
		rc = v < st.size ? vfs_truncate(op->file, v) : vfs_allocate(op->file, v);
	return smb2_file_status(rc);
}

static NTSTATUS set_file(struct smb2_req *req, struct smb2_open *op, uint8_t cls, struct rd *in,
			 struct smb2_break_wait *bw)
{
	if (!op->file)
		return STATUS_NOT_SUPPORTED;
	switch (cls) {
	case FileBasicInformation:
		return set_basic(op, in);
	case FileRenameInformation:
		return set_rename(req, op, in, bw);
	case FileDispositionInformation: {
		uint8_t d = rd_u8(in);
		return rd_ok(in) ? set_disposition(op, d != 0, false) : STATUS_INFO_LENGTH_MISMATCH;
	}
	case FileDispositionInformationEx: {
		uint32_t f = rd_u32(in);
		if (!rd_ok(in))
			return STATUS_INFO_LENGTH_MISMATCH;
		return set_disposition(op, f & FILE_DISPOSITION_DELETE,
				       f & FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE);
	}
	case FilePositionInformation: {
		uint64_t p = rd_u64(in);
		if (!rd_ok(in))
			return STATUS_INFO_LENGTH_MISMATCH;
		op->position = p;
		return STATUS_SUCCESS;
	}
	case FileModeInformation: {
		uint32_t m = rd_u32(in);
		if (!rd_ok(in))
			return STATUS_INFO_LENGTH_MISMATCH;
		if (m & ~FILE_MODE_VALID)
			return STATUS_INVALID_PARAMETER;
		op->mode = m;
		return STATUS_SUCCESS;
	}
	case FileAllocationInformation:
	case FileEndOfFileInformation:
		return set_size(op, cls, in);
	case FileFullEaInformation:
		return STATUS_EAS_NOT_SUPPORTED;
	case FileLinkInformation:
		return STATUS_NOT_SUPPORTED;
	default:
		return STATUS_INVALID_INFO_CLASS;
	}
}

static NTSTATUS set_info_run(struct smb2_req *req, struct smb2_break_wait *bw)
{
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint8_t type = rd_u8(&b), cls = rd_u8(&b);
	uint32_t len = rd_u32(&b);
	uint16_t off = rd_u16(&b);
	rd_skip(&b, 2); /* Reserved */
	uint32_t addinfo = rd_u32(&b);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	if (!st && !rd_ok(&b))
		st = STATUS_INVALID_PARAMETER;
	if (st)
		return SMB2_ERR(req, st);
	struct rd in = rd_sub(&req->msg, off, len);
	if (!rd_ok(&in) || len > req->conn->max_trans)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	vfs_ident_apply(req->ident);
	switch (type) {
	case SMB2_0_INFO_FILE:
		st = set_file(req, op, cls, &in, bw);
		break;
	case SMB2_0_INFO_SECURITY:
		st = smb2_secdesc_set(req, op, addinfo, &in);
		break;
	case SMB2_0_INFO_FILESYSTEM:
	case SMB2_0_INFO_QUOTA:
		st = STATUS_NOT_SUPPORTED;
		break;
	default:
		st = STATUS_INVALID_PARAMETER;
	}
	if (st == STATUS_PENDING)
		return st;
	if (st)
		return SMB2_ERR(req, st);
	wr_u16(req->out, 2);
	return STATUS_SUCCESS;
}

NTSTATUS smb2_set_info(struct smb2_req *req)
{
	return set_info_run(req, NULL);
}
