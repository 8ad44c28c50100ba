/* CREATE and CLOSE (MS-SMB2 2.2.13-2.2.16, 3.3.5.9, 3.3.5.10; MS-FSA 2.1.5.1 for the open
 * semantics). Parse -> resolve the name -> access check -> share-mode check -> disposition ->
 * encode. Create contexts are validated in full and all but MxAc and QFid ignored for now. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/utf16.h"
#include "smb2/smb2_async.h"
#include "smb2/smb2_durable.h"
#include "smb2/smb2_file.h"
#include "smb2/smb2_stream.h"
#include "state/durable.h"
#include "state/lease.h"
#include "state/notify.h"

/* CreateDisposition (2.2.13) */
enum { FILE_SUPERSEDE, FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE, FILE_OVERWRITE_IF };
/* create_breaks: the create must start over from the name (STATUS_RETRY, never sent) */
#define CREATE_RESTART 0xC000022Du
/* CreateAction (2.2.14) */
enum { FILE_SUPERSEDED, FILE_OPENED, FILE_CREATED, FILE_OVERWRITTEN };

#define SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB 0x0001
/* 3.3.5.9: DesiredAccess bits no open may ask for */
#define ACCESS_INVALID_BITS 0x0CE0FE00u

/* 2.2.13: the fixed part of a CREATE request as parsed. */
struct create_args {
	uint8_t oplock;
	uint32_t impersonation;
	uint32_t access; /* DesiredAccess with GENERIC_* mapped */
	bool max_allowed;
	uint32_t attrs, share, disposition, options;
	struct rd name;
	bool mxac, qfid;
	bool data_suffix; /* the name ended in "::$DATA" */
	bool has_alloc;	  /* AlSi: AllocationSize for a created or overwritten file */
	uint64_t alloc_size;
	bool twrp;        /* TWrp: open a previous version (none are offered) */
	struct sec_desc *secd; /* the SecD context's descriptor (2.2.13.2.1), freed by smb2_create */
	/* RqLs (2.2.13.2.8 v1, 2.2.13.2.10 v2) */
	int lease_version; /* 0: no lease context */
	uint8_t lease_key[16], parent_key[16];
	uint32_t lease_state, lease_flags;
	uint16_t lease_epoch;
	/* durable handles (smb2_durable.h) */
	struct smb2_dh_req dh;
	bool reconnect;     /* DHnC or DH2C: the other fields are ignored */
	int dh_granted;     /* 0, 1 (DHnQ answered) or 2 (DH2Q answered) */
	uint32_t dh_timeout;
	bool restarted;     /* started over after closing disconnected durable opens it broke */
	/* what was granted (encode) */
	struct state_oplock_grant grant;
};

#define SMB2_LEASE_FLAG_BREAK_IN_PROGRESS 0x02u
#define SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET 0x04u

/* CreateOptions bits Windows refuses as reserved (INVALID_PARAMETER) and the ones it does not
 * support (FILE_CREATE_TREE_CONNECTION, FILE_RESERVE_OPFILTER) */
#define CREATE_OPTIONS_RESERVED 0xFF000000u
#define CREATE_OPTIONS_NOT_SUPPORTED 0x00100080u
/* FileAttributes a CREATE may carry (MS-FSCC 2.6; VOLUME, DEVICE, INTEGRITY_STREAM and
 * undefined bits are invalid) */
#define CREATE_ATTRS_VALID 0x00007FB7u

NTSTATUS smb2_file_status(int err)
{
	if (err == -EIDRM || err == EIDRM)
		return STATUS_DELETE_PENDING;
	if (err == -ESTALE || err == ESTALE)
		return STATUS_FILE_DELETED;
	return ntstatus_from_errno(err);
}

void smb2_put_times_sizes(struct wr *w, const struct vfs_stat *st)
{
	wr_u64(w, st->btime);
	wr_u64(w, st->atime);
	wr_u64(w, st->mtime);
	wr_u64(w, st->ctime);
	wr_u64(w, st->alloc);
	wr_u64(w, st->size);
	wr_u32(w, st->attrs);
}

/* ---- names ---- */

NTSTATUS smb2_wire_path_ex(const uint8_t *name, size_t nbytes, char **out, char **stream,
			   bool *data_suffix)
{
	char *s = NULL;
	*stream = NULL;
	*data_suffix = false;
	if (nbytes % 2)
		return STATUS_INVALID_PARAMETER;
	if (nbytes == 0) {
		*out = strdup("");
		return *out ? STATUS_SUCCESS : STATUS_NO_MEMORY;
	}
	int rc = utf16le_to_utf8(name, nbytes, &s);
	if (rc == -ENOMEM)
		return STATUS_NO_MEMORY;
	if (rc < 0)
		return STATUS_OBJECT_NAME_INVALID;
	/* 3.3.5.9: a leading separator is invalid in SMB2 (names are share-relative) */
	if (s[0] == '\\') {
		free(s);
		return STATUS_INVALID_PARAMETER;
	}
	NTSTATUS st = smb2_stream_split(s, stream, data_suffix);
	if (st) {
		free(s);
		return st;
	}
	size_t n = strlen(s);
	if (n && s[n - 1] == '\\')
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '/') {
			st = STATUS_OBJECT_NAME_INVALID;
			break;
		} else if (*p == '\\') {
			*p = '/';
		}
	/* "dir\.." names dir's parent, as on Windows; never above the share root */
	if (!st && vfs_path_normalize(s) < 0)
		st = STATUS_OBJECT_NAME_INVALID;
	if (!st && vfs_path_check(s) < 0)
		st = STATUS_OBJECT_NAME_INVALID;
	if (st) {
		free(s);
		free(*stream);
		*stream = NULL;
		return st;
	}
	*out = s;
	return STATUS_SUCCESS;
}

NTSTATUS smb2_wire_path(const uint8_t *name, size_t nbytes, char **out)
{
	char *stream;
	bool data;
	NTSTATUS st = smb2_wire_path_ex(name, nbytes, out, &stream, &data);
	if (!st && stream) {
		/* a named stream where only a file name may stand */
		free(stream);
		free(*out);
		*out = NULL;
		return STATUS_OBJECT_NAME_INVALID;
	}
	return st;
}

/* ---- access ---- */

static uint32_t map_generic(uint32_t a)
{
	if (a & GENERIC_READ)
		a |= FILE_GENERIC_READ;
	if (a & GENERIC_WRITE)
		a |= FILE_GENERIC_WRITE;
	if (a & GENERIC_EXECUTE)
		a |= FILE_GENERIC_EXECUTE;
	if (a & GENERIC_ALL)
		a |= FILE_ALL_ACCESS;
	return a &
	       ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL | MAXIMUM_ALLOWED);
}

static uint32_t limit_access(struct smb2_req *req, uint32_t m, const struct vfs_stat *st);

/* The access mask the POSIX permissions grant (the MaximalAccess of MxAc). */
static uint32_t max_access(struct smb2_req *req, unsigned acc, const struct vfs_stat *st)
{
	uint32_t m = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE | FILE_READ_EA;
	bool dir = S_ISDIR(st->mode);
	if (acc & VFS_ACC_READ)
		m |= FILE_READ_DATA;
	if (acc & VFS_ACC_WRITE)
		/* DELETE_CHILD means nothing on a file, but FILE_ALL_ACCESS asks for it */
		m |= FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES |
		     FILE_DELETE_CHILD;
	/* a client "executes" a file by reading it: on files, read permission grants execute
	   (new files are 0644 by default, and FILE_ALL_ACCESS must still open them) */
	if ((acc & VFS_ACC_EXEC) || (!dir && (acc & VFS_ACC_READ)))
		m |= FILE_EXECUTE;
	if (acc & VFS_ACC_OWNER)
		m |= FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | WRITE_DAC | WRITE_OWNER;
	if (acc & VFS_ACC_DELETE)
		m |= DELETE_ACCESS;
	return limit_access(req, m, st);
}

/* What the share and the READONLY attribute take away from any grant. */
static uint32_t limit_access(struct smb2_req *req, uint32_t m, const struct vfs_stat *st)
{
	bool dir = S_ISDIR(st->mode);
	if (req->tree->read_only)
		m &= ~WRITE_LIKE_ACCESS;
	if (!dir && (st->attrs & FILE_ATTRIBUTE_READONLY))
		m &= ~(FILE_WRITE_DATA | FILE_APPEND_DATA);
	return m & req->tree->max_access;
}

/* Rights a CREATE may ask for without the permission bits saying so. */
#define ALWAYS_GRANTED (FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE)

/* ---- parsing ---- */

/* 2.2.13.2: every context's Next, name and data lie inside the buffer, 8-byte aligned. */
/* RqLs: the v2 form only on 3.x connections (3.3.5.9.11); 2.0.2 has no leases at all. */
static void parse_lease(struct rd data, uint16_t dialect, struct create_args *a)
{
	if (dialect < SMB2_DIALECT_210 || data.len < 32)
		return;
	rd_bytes(&data, a->lease_key, 16);
	a->lease_state = rd_u32(&data);
	a->lease_flags = rd_u32(&data);
	rd_skip(&data, 8);
	a->lease_version = 1;
	if (dialect >= SMB2_DIALECT_300 && data.len >= 52) {
		rd_bytes(&data, a->parent_key, 16);
		a->lease_epoch = rd_u16(&data);
		a->lease_version = 2;
	}
}

static NTSTATUS parse_contexts(struct rd ctx, uint16_t dialect, struct create_args *a)
{
	size_t off = 0;
	while (ctx.len) {
		struct rd c = rd_sub(&ctx, off, ctx.len - off);
		uint32_t next = rd_u32(&c);
		uint16_t noff = rd_u16(&c), nlen = rd_u16(&c);
		rd_skip(&c, 2);
		uint16_t doff = rd_u16(&c);
		uint32_t dlen = rd_u32(&c);
		size_t clen = next ? next : ctx.len - off;
		if (!rd_ok(&c) || (next && (next % 8 || next > ctx.len - off)) || clen < 16)
			return STATUS_INVALID_PARAMETER;
		struct rd whole = rd_sub(&ctx, off, clen);
		struct rd name = rd_sub(&whole, noff, nlen);
		struct rd data = rd_sub(&whole, doff, dlen);
		/* every defined tag has 4 bytes; Windows refuses shorter ones */
		if (!rd_ok(&name) || nlen < 4 || (dlen && !rd_ok(&data)))
			return STATUS_INVALID_PARAMETER;
		if (nlen == 4 && !memcmp(name.p, "MxAc", 4)) {
			if (dlen != 0 && dlen != 8)
				return STATUS_INVALID_PARAMETER;
			a->mxac = true;
		} else if (nlen == 4 && !memcmp(name.p, "QFid", 4)) {
			a->qfid = true;
		} else if (nlen == 4 && !memcmp(name.p, "AlSi", 4)) {
			if (dlen != 8)
				return STATUS_INVALID_PARAMETER;
			a->has_alloc = true;
			a->alloc_size = rd_u64(&data);
		} else if (nlen == 4 && !memcmp(name.p, "TWrp", 4)) {
			if (dlen != 8)
				return STATUS_INVALID_PARAMETER;
			a->twrp = true;
		} else if (nlen == 4 && !memcmp(name.p, "SecD", 4) && !a->secd) {
			NTSTATUS st = smb2_secdesc_parse_ctx(data.p, data.len, &a->secd);
			if (st)
				return st;
		} else if (nlen == 4 && !memcmp(name.p, "RqLs", 4)) {
			parse_lease(data, dialect, a);
		} else if (nlen == 4 && !memcmp(name.p, "DH", 2)) {
			NTSTATUS st = smb2_dh_parse(&a->dh, name.p, data, dialect);
			if (st)
				return st;
		}
		if (!next)
			break;
		off += next;
	}
	return STATUS_SUCCESS;
}

static NTSTATUS parse_create(struct smb2_req *req, struct create_args *a)
{
	struct rd b = req->body;
	rd_skip(&b, 3);
	a->oplock = rd_u8(&b);
	a->impersonation = rd_u32(&b);
	rd_skip(&b, 16); /* SmbCreateFlags, Reserved */
	uint32_t desired = rd_u32(&b);
	a->attrs = rd_u32(&b);
	a->share = rd_u32(&b);
	a->disposition = rd_u32(&b);
	a->options = rd_u32(&b);
	uint16_t noff = rd_u16(&b), nlen = rd_u16(&b);
	uint32_t coff = rd_u32(&b), clen = rd_u32(&b);
	if (!rd_ok(&b))
		return STATUS_INVALID_PARAMETER;
	a->name = nlen ? rd_sub(&req->msg, noff, nlen) : rd_make(NULL, 0);
	struct rd ctx = clen ? rd_sub(&req->msg, coff, clen) : rd_make(NULL, 0);
	if (!rd_ok(&a->name) || !rd_ok(&ctx) || (clen && coff % 8))
		return STATUS_INVALID_PARAMETER;
	/* a durable reconnect ignores every other field (3.3.5.9.7, 3.3.5.9.12) */
	NTSTATUS cst = parse_contexts(ctx, req->conn->dialect, a);
	if (!cst) {
		/* a bad combination of durable contexts is refused before the fields are seen */
		NTSTATUS st = smb2_dh_check(&a->dh, &a->reconnect);
		if (st || a->reconnect)
			return st;
	}
	if (a->impersonation > 3)
		return STATUS_BAD_IMPERSONATION_LEVEL;
	if (a->disposition > FILE_OVERWRITE_IF || a->share & ~7u ||
	    ((a->options & FILE_DIRECTORY_FILE) && (a->options & FILE_NON_DIRECTORY_FILE)))
		return STATUS_INVALID_PARAMETER;
	/* the access mask is checked before the attributes and options (as Windows) */
	if (desired & ACCESS_INVALID_BITS || desired == 0)
		return STATUS_ACCESS_DENIED;
	if ((a->options & CREATE_OPTIONS_RESERVED) || (a->attrs & ~CREATE_ATTRS_VALID))
		return STATUS_INVALID_PARAMETER;
	if (a->options & CREATE_OPTIONS_NOT_SUPPORTED)
		return STATUS_NOT_SUPPORTED;
	if (desired & ACCESS_SYSTEM_SECURITY)
		return STATUS_PRIVILEGE_NOT_HELD;
	if (a->options & FILE_OPEN_BY_FILE_ID)
		return STATUS_NOT_SUPPORTED;
	a->max_allowed = desired & MAXIMUM_ALLOWED;
	a->access = map_generic(desired);
	if ((a->options & FILE_DELETE_ON_CLOSE) && !(a->access & DELETE_ACCESS) && !a->max_allowed)
		return STATUS_ACCESS_DENIED;
	return cst;
}

/* ---- encoding ---- */

static void put_context(struct wr *w, size_t *prev_next, const char *tag, const void *data,
			uint32_t dlen)
{
	wr_align(w, 8);
	if (*prev_next != (size_t)-1)
		wr_set_u32(w, *prev_next, (uint32_t)(w->len - (*prev_next)));
	*prev_next = w->len;
	wr_u32(w, 0);  /* Next, patched by the following context */
	wr_u16(w, 16); /* NameOffset */
	wr_u16(w, 4);
	wr_u16(w, 0);
	wr_u16(w, 24); /* DataOffset */
	wr_u32(w, dlen);
	wr_bytes(w, tag, 4);
	wr_zero(w, 4);
	wr_bytes(w, data, dlen);
}

static void encode_create(struct smb2_req *req, const struct create_args *a,
			  const struct smb2_open *op, const struct vfs_stat *st, uint32_t action,
			  uint32_t maximal)
{
	struct wr *w = req->out;
	size_t start = w->len;
	wr_u16(w, 89);
	wr_u8(w, a->grant.level);
	wr_u8(w, 0);
	wr_u32(w, action);
	smb2_put_times_sizes(w, st);
	wr_u32(w, 0);
	smb2_write_fileid(w, op);
	size_t ctx_fields = w->len;
	wr_u32(w, 0);
	wr_u32(w, 0);
	bool lease = a->grant.level == STATE_OPLOCK_LEASE;
	if (!a->mxac && !a->qfid && !lease && !a->dh_granted)
		return;
	/* 8-aligned relative to the header, which is 8-aligned in the chain */
	size_t hdr = req->body_off - SMB2_HDR_LEN, first, prev = (size_t)-1;
	wr_align(w, 8);
	first = w->len;
	if (a->mxac) {
		uint8_t d[8];
		put_le32(d, 0); /* QueryStatus */
		put_le32(d + 4, maximal);
		put_context(w, &prev, "MxAc", d, sizeof(d));
	}
	if (a->qfid) {
		uint8_t d[32] = {0};
		put_le64(d, st->ino);
		put_le64(d + 8, st->dev);
		put_context(w, &prev, "QFid", d, sizeof(d));
	}
	if (lease) {
		/* 2.2.14.2.10 / 2.2.14.2.11 */
		uint8_t d[52] = {0};
		uint32_t flags = a->grant.breaking ? SMB2_LEASE_FLAG_BREAK_IN_PROGRESS : 0;
		memcpy(d, a->lease_key, 16);
		put_le32(d + 16, a->grant.lease_state);
		/* in the lease's version, whichever context this create sent (smb2.lease.v2_epoch2) */
		bool v2 = a->grant.version == 2;
		if (v2) {
			if (a->lease_version == 2 &&
			    (a->lease_flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET)) {
				flags |= SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET;
				memcpy(d + 32, a->parent_key, 16);
			}
			put_le16(d + 48, a->grant.epoch);
		}
		put_le32(d + 20, flags);
		put_context(w, &prev, "RqLs", d, v2 ? 52 : 32);
	}
	if (a->dh_granted == 1) {
		uint8_t d[8] = {0}; /* 2.2.14.2.3: Reserved */
		put_context(w, &prev, "DHnQ", d, sizeof(d));
	} else if (a->dh_granted == 2) {
		uint8_t d[8] = {0}; /* 2.2.14.2.12: Timeout, Flags (never persistent) */
		put_le32(d, a->dh_timeout);
		put_context(w, &prev, "DH2Q", d, sizeof(d));
	}
	wr_set_u32(w, ctx_fields, (uint32_t)(first - hdr));
	wr_set_u32(w, ctx_fields + 4, (uint32_t)(w->len - first));
	(void)start;
}

/* ---- pipes ---- */

static NTSTATUS create_pipe(struct smb2_req *req, struct create_args *a)
{
	char *name = NULL;
	if (a->name.len % 2 || !a->name.len || utf16le_to_utf8(a->name.p, a->name.len, &name) < 0)
		return STATUS_OBJECT_NAME_INVALID;
	struct smb2_open *op = smb2_open_new(req);
	if (!op) {
		free(name);
		return STATUS_NO_MEMORY;
	}
	const char *n = name;
	while (*n == '\\')
		n++;
	NTSTATUS st = smb2_pipe_open(req, op, n);
	if (!st && !(op->name = strdup(n)))
		st = STATUS_NO_MEMORY;
	free(name);
	op->access = a->access;
	op->share_access = a->share;
	op->create_options = a->options;
	if (!st && smb2_open_publish(req, op) < 0)
		st = STATUS_NO_MEMORY;
	if (st) {
		smb2_open_close(op);
		return st;
	}
	struct vfs_stat vs = {.attrs = FILE_ATTRIBUTE_NORMAL, .alloc = 4096};
	a->mxac = a->qfid = false;
	encode_create(req, a, op, &vs, FILE_OPENED, 0);
	req->compound_fid[0] = op->persistent_id;
	req->compound_fid[1] = op->volatile_id;
	*req->compound_fid_valid = true;
	return STATUS_SUCCESS;
}

/* ---- files ---- */

struct create_state {
	struct vfs_file *file;
	struct vfs_stat st;
	uint32_t granted, maximal, action;
	bool created;
};

static unsigned data_flags(const struct create_args *a, uint32_t access, bool dir)
{
	unsigned f = 0;
	if (a->options & FILE_WRITE_THROUGH)
		f |= VFS_O_SYNC;
	if (dir)
		return f | VFS_O_DIR;
	if (access & (FILE_READ_DATA | FILE_EXECUTE))
		f |= VFS_O_READ;
	if (access & (FILE_WRITE_DATA | FILE_APPEND_DATA))
		f |= VFS_O_WRITE;
	return f | ((a->options & FILE_NON_DIRECTORY_FILE) ? VFS_O_NONDIR : 0);
}

/* MAXIMUM_ALLOWED: reopens with the data access the permissions allow. */
static int reopen_max(struct create_state *cs, const struct create_args *a, bool overwrite)
{
	uint32_t acc = cs->granted;
	if (overwrite)
		acc |= FILE_WRITE_DATA;
	unsigned f = data_flags(a, acc, cs->file->is_dir);
	if (!(f & (VFS_O_READ | VFS_O_WRITE)))
		return 0;
	struct vfs_file *nf;
	int rc = vfs_open(cs->file->sh, cs->file->path, f, 0, &nf);
	if (rc == -EACCES)
		return 0; /* a descriptor granted what the mode does not: the handle stays as it is */
	if (rc < 0)
		return rc;
	vfs_close(cs->file);
	cs->file = nf;
	return 0;
}

static NTSTATUS open_existing(struct smb2_req *req, const struct create_args *a, const char *path,
			      struct create_state *cs)
{
	struct vfs_stat *st = &cs->st;
	bool dir = S_ISDIR(st->mode);
	uint32_t d = a->disposition;
	bool overwrite = d == FILE_SUPERSEDE || d == FILE_OVERWRITE || d == FILE_OVERWRITE_IF;
	if (d == FILE_CREATE)
		return STATUS_OBJECT_NAME_COLLISION;
	if ((a->options & FILE_DIRECTORY_FILE) && !dir)
		return STATUS_NOT_A_DIRECTORY;
	if ((a->options & FILE_NON_DIRECTORY_FILE) && dir)
		return STATUS_FILE_IS_A_DIRECTORY;
	if (overwrite && dir)
		return STATUS_INVALID_PARAMETER;
	/* a directory has no unnamed data stream */
	if (a->data_suffix && dir)
		return (a->options & FILE_DIRECTORY_FILE) ? STATUS_NOT_A_DIRECTORY
							  : STATUS_FILE_IS_A_DIRECTORY;
	bool ro = st->attrs & FILE_ATTRIBUTE_READONLY;
	if ((a->options & FILE_DELETE_ON_CLOSE) && ro)
		return STATUS_CANNOT_DELETE;
	if (!dir && ro && ((a->access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) || overwrite))
		return STATUS_ACCESS_DENIED;
	if (req->tree->read_only && ((a->access & WRITE_LIKE_ACCESS) || overwrite))
		return STATUS_ACCESS_DENIED;
	uint32_t want = a->access | (overwrite ? FILE_WRITE_DATA : 0);
	unsigned flags = a->max_allowed ? (dir ? VFS_O_DIR : 0) : data_flags(a, want, dir);
	int rc = vfs_open(req->tree->vfs, path, flags, 0, &cs->file);
	if (rc < 0)
		return smb2_file_status(rc);
	unsigned acc = 0;
	rc = vfs_access(cs->file, &acc);
	if (rc < 0)
		return smb2_file_status(rc);
	uint32_t sd_max;
	rc = smb2_secdesc_open_access(req, cs->file, st, acc, &sd_max);
	if (rc < 0)
		return smb2_file_status(rc);
	if (rc == 1) {
		/* a stored descriptor decides, with nothing granted beside it */
		cs->maximal = limit_access(req, sd_max, st);
		if (a->access & ~cs->maximal)
			return STATUS_ACCESS_DENIED;
	} else {
		cs->maximal = max_access(req, acc, st);
		if (a->access & ~cs->maximal & ~ALWAYS_GRANTED)
			return STATUS_ACCESS_DENIED;
	}
	cs->granted = a->access | (a->max_allowed ? cs->maximal : 0);
	if (a->max_allowed && (rc = reopen_max(cs, a, overwrite)) < 0)
		return smb2_file_status(rc);
	cs->action = FILE_OPENED;
	if (overwrite)
		cs->action = d == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
	return STATUS_SUCCESS;
}

/* Truncation and the new attributes of an overwrite, once the share mode allowed the open. */
static NTSTATUS apply_overwrite(const struct create_args *a, struct vfs_file *f, uint32_t action,
				struct vfs_stat *st)
{
	if (action != FILE_SUPERSEDED && action != FILE_OVERWRITTEN)
		return STATUS_SUCCESS;
	int rc = vfs_truncate(f, 0);
	if (!rc && !f->stream)
		rc = vfs_set_meta(f, (a->attrs | FILE_ATTRIBUTE_ARCHIVE) & ~FILE_ATTRIBUTE_NORMAL,
				  0);
	if (!rc)
		rc = vfs_fstat(f, st);
	return smb2_file_status(rc);
}

static NTSTATUS create_new(struct smb2_req *req, const struct create_args *a, const char *path,
			   struct create_state *cs)
{
	uint32_t d = a->disposition;
	if (d == FILE_OPEN || d == FILE_OVERWRITE)
		return STATUS_OBJECT_NAME_NOT_FOUND;
	if (req->tree->read_only)
		return STATUS_ACCESS_DENIED;
	if (!*path)
		return STATUS_ACCESS_DENIED; /* the root always exists */
	bool dir = a->options & FILE_DIRECTORY_FILE;
	if ((a->options & FILE_DELETE_ON_CLOSE) && (a->attrs & FILE_ATTRIBUTE_READONLY))
		return STATUS_CANNOT_DELETE;
	/* no file encryption here: refuse rather than create it in the clear (as a standalone
	   Windows server without EFS) */
	if (a->attrs & FILE_ATTRIBUTE_ENCRYPTED)
		return STATUS_ACCESS_DENIED;
	if (dir && (a->attrs & FILE_ATTRIBUTE_TEMPORARY))
		return STATUS_INVALID_PARAMETER; /* MS-FSA 2.1.5.1.2.1 */
	NTSTATUS st = smb2_secdesc_check_create(req, path, dir);
	if (st)
		return st;
	uint32_t attrs = a->attrs & ~(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL);
	unsigned flags =
	    data_flags(a, a->max_allowed ? FILE_READ_DATA | FILE_WRITE_DATA : a->access, dir) |
	    VFS_O_CREATE;
	int rc = vfs_open(req->tree->vfs, path, flags, attrs, &cs->file);
	if (rc < 0)
		return rc == -EEXIST ? STATUS_OBJECT_NAME_EXISTS : smb2_file_status(rc);
	cs->created = true;
	st = smb2_secdesc_new_file(req, cs->file, a->secd);
	if (st)
		return st;
	unsigned acc = 0;
	rc = vfs_access(cs->file, &acc);
	if (!rc)
		rc = vfs_fstat(cs->file, &cs->st);
	if (rc < 0)
		return smb2_file_status(rc);
	/* the creator gets what it asked for; MxAc tells what the new descriptor grants, where
	   one was inherited or given, else what the owner of the new file may do */
	uint32_t sd_max;
	rc = smb2_secdesc_open_access(req, cs->file, &cs->st, acc, &sd_max);
	if (rc < 0)
		return smb2_file_status(rc);
	if (rc == 1)
		cs->maximal = limit_access(req, sd_max, &cs->st);
	else
		cs->maximal =
		    max_access(req, acc | VFS_ACC_OWNER | VFS_ACC_READ | VFS_ACC_WRITE, &cs->st);
	cs->granted = a->max_allowed ? cs->maximal | a->access : a->access;
	cs->action = FILE_CREATED;
	return STATUS_SUCCESS;
}

/* Resolves and opens or creates; retries once when a create lost a race with another. */
static NTSTATUS open_or_create(struct smb2_req *req, const struct create_args *a,
			       const char *wire_path, struct create_state *cs, char **real)
{
	NTSTATUS st = STATUS_OBJECT_NAME_EXISTS;
	bool vanished = false;
	for (int tries = 0; tries < 3 && (st == STATUS_OBJECT_NAME_EXISTS || vanished); tries++) {
		free(*real);
		*real = NULL;
		int rc = vfs_lookup(req->tree->vfs, wire_path, real, &cs->st);
		/* a file another open's close deletes between the lookup and the open is looked
		   up again (a durable open closed because of this very create, for one) */
		vanished = false;
		if (rc == 0) {
			st = open_existing(req, a, *real, cs);
			vanished = st == STATUS_OBJECT_NAME_NOT_FOUND && !cs->file;
		} else if (rc == -ENOENT) {
			st = create_new(req, a, *real, cs);
		} else {
			st = rc == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND : smb2_file_status(rc);
		}
	}
	return st == STATUS_OBJECT_NAME_EXISTS ? STATUS_OBJECT_NAME_COLLISION : st;
}

/* Opens the base file of a stream open (creating it when the disposition allows) and fills
 * the access fields of cs from the file's permissions. */
static NTSTATUS stream_base(struct smb2_req *req, const struct create_args *a, const char *path,
			    struct create_state *cs, char **real, struct vfs_file **base)
{
	uint32_t d = a->disposition;
	struct vfs_share *sh = req->tree->vfs;
	int rc = vfs_lookup(sh, path, real, &cs->st);
	unsigned acc = 0;
	if (rc == -ENOENT) {
		if (d == FILE_OPEN || d == FILE_OVERWRITE)
			return STATUS_OBJECT_NAME_NOT_FOUND;
		if (req->tree->read_only || !**real)
			return STATUS_ACCESS_DENIED;
		uint32_t attrs = a->attrs & ~(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL);
		rc = vfs_open(sh, *real, VFS_O_CREATE, attrs, base);
		if (rc < 0)
			return rc == -EEXIST ? STATUS_OBJECT_NAME_COLLISION : smb2_file_status(rc);
		cs->created = true;
		acc = VFS_ACC_OWNER | VFS_ACC_READ | VFS_ACC_WRITE;
		rc = vfs_fstat(*base, &cs->st);
	} else if (rc == 0) {
		bool ro = !S_ISDIR(cs->st.mode) && (cs->st.attrs & FILE_ATTRIBUTE_READONLY);
		if ((a->options & FILE_DELETE_ON_CLOSE) && ro)
			return STATUS_CANNOT_DELETE;
		if (ro && (a->access & (FILE_WRITE_DATA | FILE_APPEND_DATA)))
			return STATUS_ACCESS_DENIED;
		if (req->tree->read_only && (a->access & WRITE_LIKE_ACCESS))
			return STATUS_ACCESS_DENIED;
		rc = vfs_open(sh, *real, 0, 0, base);
	} else {
		return rc == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND : smb2_file_status(rc);
	}
	unsigned more = 0;
	if (!rc)
		rc = vfs_access(*base, &more);
	if (rc < 0)
		return smb2_file_status(rc);
	cs->maximal = max_access(req, acc | more, &cs->st);
	if (a->access & ~cs->maximal & ~ALWAYS_GRANTED)
		return STATUS_ACCESS_DENIED;
	cs->granted = a->access | (a->max_allowed ? cs->maximal : 0);
	return STATUS_SUCCESS;
}

/* CREATE of "file:stream": the stream's data lives with the file (vfs streams); access is the
 * file's, the share mode the stream's own (finish_open keys it by the stream). */
static NTSTATUS open_stream(struct smb2_req *req, const struct create_args *a, const char *path,
			    const char *sname, struct create_state *cs, char **real)
{
	uint32_t d = a->disposition;
	if (a->options & FILE_DIRECTORY_FILE)
		return STATUS_NOT_A_DIRECTORY; /* a stream is never a directory */
	struct vfs_file *base = NULL, *sf = NULL;
	NTSTATUS st = stream_base(req, a, path, cs, real, &base);
	int rc = st ? 0 : vfs_open_stream(base, sname, 0, &sf);
	if (!st && rc == 0) {
		bool overwrite =
		    d == FILE_SUPERSEDE || d == FILE_OVERWRITE || d == FILE_OVERWRITE_IF;
		if (d == FILE_CREATE)
			st = STATUS_OBJECT_NAME_COLLISION;
		cs->action = !overwrite		   ? FILE_OPENED
			     : d == FILE_SUPERSEDE ? FILE_SUPERSEDED
						   : FILE_OVERWRITTEN;
	} else if (!st && rc == -ENOENT) {
		if (d == FILE_OPEN || d == FILE_OVERWRITE)
			st = STATUS_OBJECT_NAME_NOT_FOUND;
		else if (req->tree->read_only)
			st = STATUS_ACCESS_DENIED;
		else if ((rc = vfs_open_stream(base, sname, VFS_O_CREATE, &sf)) < 0)
			st = rc == -EEXIST ? STATUS_OBJECT_NAME_COLLISION : smb2_file_status(rc);
		cs->action = FILE_CREATED;
	} else if (!st) {
		st = rc == -EINVAL ? STATUS_OBJECT_NAME_INVALID : smb2_file_status(rc);
	}
	if (!st && (rc = vfs_fstat(sf, &cs->st)) < 0)
		st = smb2_file_status(rc);
	if (st) {
		vfs_close(sf);
		/* a base file made for this open goes again */
		if (cs->created && base)
			vfs_unlink(base);
		cs->created = false;
		vfs_close(base);
		return st;
	}
	/* the base file created here stays if the open fails later: the stream's removal on
	   failure (below, cs->created) takes only the stream */
	cs->created = cs->action == FILE_CREATED;
	vfs_close(base);
	cs->file = sf;
	return STATUS_SUCCESS;
}

/* The new open as the oplock/lease rules see it. */
static void oplock_req_fill(struct smb2_req *req, const struct create_args *a,
			    const struct create_state *cs, struct state_oplock_req *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->client_guid, req->conn->client_guid, 16);
	r->is_lease = a->oplock == STATE_OPLOCK_LEASE && a->lease_version;
	if (r->is_lease) {
		memcpy(r->lease_key, a->lease_key, 16);
		r->lease_state = a->lease_state;
		r->version = (uint8_t)a->lease_version;
		r->epoch = a->lease_epoch;
		r->has_parent = a->lease_version == 2 &&
				(a->lease_flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET);
		memcpy(r->parent_key, a->parent_key, 16);
	} else if (a->oplock != STATE_OPLOCK_LEASE) {
		r->level = a->oplock;
	}
	r->access = cs->granted;
	r->share = a->share;
	r->overwrite = cs->action == FILE_SUPERSEDED || cs->action == FILE_OVERWRITTEN;
	r->delete_on_close = (a->options & FILE_DELETE_ON_CLOSE) != 0;
	r->is_dir = cs->file ? cs->file->is_dir : S_ISDIR(cs->st.mode);
}

/* The open's key in the state tables: the file, and the stream for a named stream. */
static struct state_key create_key(const struct create_state *cs)
{
	const struct vfs_file *f = cs->file;
	return (struct state_key){cs->st.dev, cs->st.ino,
				  f && f->stream ? smb2_stream_id(f->stream) : 0};
}

static NTSTATUS finish_open(struct smb2_req *req, struct create_args *a,
			    struct create_state *cs, char *real)
{
	struct state_key key = create_key(cs);
	struct smb2_open *op = smb2_open_new(req);
	if (!op) {
		/* the file is still the create's: undo it as smb2_create would */
		if (cs->created)
			vfs_unlink(cs->file);
		vfs_close(cs->file);
		cs->file = NULL;
		free(real);
		return STATUS_NO_MEMORY;
	}
	op->file = cs->file;
	op->name = real;
	op->access = cs->granted;
	op->share_access = a->share;
	op->create_options = a->options;
	op->is_dir = cs->file->is_dir;
	cs->file = NULL;
	int rc = state_share_check_add(req->srv->state, &key, op->access, a->share,
				       (struct state_open **)&op->state_rec);
	NTSTATUS st = smb2_file_status(rc);
	if (!st)
		st = apply_overwrite(a, op->file, cs->action, &cs->st);
	if (!st && a->has_alloc && !op->is_dir &&
	    (cs->action == FILE_CREATED || cs->action == FILE_OVERWRITTEN ||
	     cs->action == FILE_SUPERSEDED)) {
		/* 2.2.13.2.6: reserve AllocationSize for the new content */
		int arc =
		    a->alloc_size > INT64_MAX ? -EINVAL : vfs_allocate(op->file, a->alloc_size);
		if (!arc)
			arc = vfs_fstat(op->file, &cs->st);
		st = arc == -EINVAL ? STATUS_INVALID_PARAMETER : smb2_file_status(arc);
	}
	if (!st) {
		struct state_oplock_req r;
		oplock_req_fill(req, a, cs, &r);
		rc = state_oplock_add(req->srv->leases, &key, &r, op, &a->grant, &op->oplock);
		st = rc == -EINVAL ? STATUS_INVALID_PARAMETER : smb2_file_status(rc);
	}
	if (!st && (a->options & FILE_DELETE_ON_CLOSE)) {
		op->delete_on_close = true;
		state_open_set_delete_on_close(op->state_rec, true);
	}
	if (!st)
		a->dh_granted = smb2_durable_grant(req, op, &a->dh, &a->grant, a->lease_key,
						   &a->dh_timeout);
	if (!st && a->dh_granted < 0)
		st = STATUS_DUPLICATE_OBJECTID;
	op->replay_eligible = true;
	op->channel_sequence = smb2_req_channel_sequence(req);
	if (!st && smb2_open_publish(req, op) < 0)
		st = STATUS_NO_MEMORY;
	if (st) {
		if (cs->created)
			op->file->stream ? vfs_stream_delete(op->file) : vfs_unlink(op->file);
		smb2_open_close(op);
		return st;
	}
	if (cs->action == FILE_CREATED)
		state_notify_settle(req->srv->notify, op->name);
	op->create_action = cs->action;
	encode_create(req, a, op, &cs->st, cs->action, cs->maximal);
	req->compound_fid[0] = op->persistent_id;
	req->compound_fid[1] = op->volatile_id;
	*req->compound_fid_valid = true;
	LOG_DBG(LOG_SMB2, "create '%s' access 0x%x share 0x%x action %u", op->name, op->access,
		a->share, cs->action);
	return STATUS_SUCCESS;
}

static NTSTATUS create_file(struct smb2_req *req, struct create_args *a,
			    struct smb2_break_wait *cw);
static NTSTATUS create_run(struct smb2_req *req, struct smb2_break_wait *cw);

/* ---- waiting for oplock and lease breaks ---- */

/* A CREATE held by breaks that need acknowledgements (3.3.5.9: the create goes asynchronous,
 * MS-FSA 2.1.5.1) starts over from the name whenever the file's record changes. */
struct create_pending {
	struct state_durable_db *ddb;
	uint8_t client_guid[16], create_guid[16];
};

static void create_pending_end(void *arg)
{
	struct create_pending *cp = arg;
	state_durable_pending_remove(cp->ddb, cp->client_guid, cp->create_guid);
	free(cp);
}

static NTSTATUS create_retry(struct smb2_req *req, struct smb2_break_wait *cw)
{
	if (!req->tree)
		return SMB2_ERR(req, STATUS_NETWORK_NAME_DELETED);
	/* the retry leaves the new FileId where the rest of its compound finds it (pending_req) */
	return create_run(req, cw);
}

/* Breaks the other opens' caching; STATUS_PENDING when the create must wait (it has gone
 * asynchronous, or keeps waiting when this is a retry). */
static NTSTATUS create_breaks(struct smb2_req *req, const struct create_args *a,
			      const struct create_state *cs, struct smb2_break_wait *cw)
{
	struct state_key key = create_key(cs);
	struct state_oplock_req r;
	oplock_req_fill(req, a, cs, &r);
	r.retry = cw != NULL;
	if (state_oplock_check_breaks(req->srv->leases, &key, &r) != -EAGAIN)
		return STATUS_SUCCESS;
	/* disconnected durable opens it broke are closed here and now; the create then starts
	   over from the name (their close may have deleted the file) */
	if (!a->restarted && smb2_durable_close_doomed(req->srv) > 0)
		return CREATE_RESTART;
	if (cw)
		return smb2_break_wait(req, &key, NULL, create_retry, cw, NULL, NULL);
	/* a DH2Q create is known as pending by its CreateGuid while it waits (replays of it are
	   refused) */
	struct create_pending *cp = NULL;
	if (a->dh.dh2q && req->srv->durable && (cp = calloc(1, sizeof(*cp)))) {
		memcpy(cp->client_guid, req->conn->client_guid, 16);
		memcpy(cp->create_guid, a->dh.create_guid, 16);
		cp->ddb = req->srv->durable;
		if (state_durable_pending_add(cp->ddb, cp->client_guid, cp->create_guid) < 0) {
			free(cp);
			cp = NULL;
		}
	}
	return smb2_break_wait(req, &key, NULL, create_retry, NULL, cp ? create_pending_end : NULL,
			       cp);
}

/* DHnC / DH2C: the disconnected open comes back (smb2_durable.c); the answer describes it as
 * it is, with its oplock level or lease state and no durable context. */
static NTSTATUS create_reconnect(struct smb2_req *req, struct create_args *a)
{
	if (req->tree->is_ipc)
		return STATUS_OBJECT_NAME_NOT_FOUND;
	struct smb2_dh_lease lease = {.present = a->lease_version != 0};
	memcpy(lease.key, a->lease_key, 16);
	struct smb2_open *op;
	struct state_oplock_grant cur;
	NTSTATUS st = smb2_durable_reconnect(req, &a->dh, &lease, a->name, &op, &cur);
	if (st)
		return st;
	struct vfs_stat vs = {0};
	vfs_ident_apply(req->ident);
	if (vfs_fstat(op->file, &vs) < 0)
		memset(&vs, 0, sizeof(vs));
	a->grant = cur;
	a->grant.breaking = false;
	if (cur.level != STATE_OPLOCK_LEASE)
		a->lease_version = 0;
	a->mxac = a->qfid = false;
	encode_create(req, a, op, &vs, FILE_OPENED, 0);
	req->compound_fid[0] = op->persistent_id;
	req->compound_fid[1] = op->volatile_id;
	*req->compound_fid_valid = true;
	return STATUS_SUCCESS;
}

/* A replayed create whose open exists: answered again as it was (smb2_durable_replay).
 * Returns STATUS_MORE_PROCESSING_REQUIRED when there is nothing to replay. */
static NTSTATUS create_replay(struct smb2_req *req, struct create_args *a)
{
	struct smb2_dh_lease lease = {.present = a->oplock == STATE_OPLOCK_LEASE &&
						 a->lease_version != 0};
	memcpy(lease.key, a->lease_key, 16);
	struct smb2_open *op;
	struct state_oplock_grant cur;
	uint32_t timeout = 0;
	/* the create replayed is still waiting for breaks: it answers when it is done */
	if (a->dh.dh2q && (req->hdr_flags & SMB2_FLAGS_REPLAY_OPERATION) && !req->pending &&
	    req->srv->durable &&
	    state_durable_pending(req->srv->durable, req->conn->client_guid, a->dh.create_guid))
		return STATUS_FILE_NOT_AVAILABLE;
	NTSTATUS st = smb2_durable_replay(req, &a->dh, &lease, &op, &cur, &timeout);
	if (st || !op)
		return st ? st : STATUS_MORE_PROCESSING_REQUIRED;
	struct vfs_stat vs = {0};
	vfs_ident_apply(req->ident);
	if (vfs_fstat(op->file, &vs) < 0)
		memset(&vs, 0, sizeof(vs));
	a->grant = cur;
	a->dh_granted = 2;
	a->dh_timeout = timeout;
	if (cur.level != STATE_OPLOCK_LEASE) {
		a->lease_version = 0;
		/* an oplock replay is answered with the level it asks for, if lower, and is
		   durable only if that level could have been */
		if (a->oplock < cur.level)
			a->grant.level = a->oplock;
		if (a->grant.level != STATE_OPLOCK_BATCH)
			a->dh_granted = 0;
	}
	if (!timeout)
		a->dh_granted = 0; /* the open was never durable */
	encode_create(req, a, op, &vs, op->create_action, op->access);
	req->compound_fid[0] = op->persistent_id;
	req->compound_fid[1] = op->volatile_id;
	*req->compound_fid_valid = true;
	return STATUS_SUCCESS;
}

static NTSTATUS create_run(struct smb2_req *req, struct smb2_break_wait *cw)
{
	struct create_args a = {0};
	/* a failed CREATE must not leave an earlier one's id for related requests */
	*req->compound_fid_valid = false;
	NTSTATUS st = parse_create(req, &a);
	if (!st)
		st = smb2_open_limit(req);
	if (!st && a.reconnect)
		st = create_reconnect(req, &a);
	else if (!st && req->tree->is_ipc)
		st = create_pipe(req, &a);
	else if (!st && a.twrp)
		st = STATUS_OBJECT_NAME_NOT_FOUND; /* no previous versions kept */
	else if (!st && (st = create_replay(req, &a)) == STATUS_MORE_PROCESSING_REQUIRED)
		st = create_file(req, &a, cw);
	sec_desc_free(a.secd);
	if (st == STATUS_PENDING)
		return st;
	return st ? SMB2_ERR(req, st) : STATUS_SUCCESS;
}

static NTSTATUS create_file(struct smb2_req *req, struct create_args *a,
			    struct smb2_break_wait *cw)
{
again:;
	char *path = NULL, *real = NULL, *stream = NULL;
	NTSTATUS st = smb2_wire_path_ex(a->name.p, a->name.len, &path, &stream, &a->data_suffix);
	if (st)
		return st;
	vfs_ident_apply(req->ident);
	struct create_state cs = {0};
	if (stream)
		st = open_stream(req, a, path, stream, &cs, &real);
	else
		st = open_or_create(req, a, path, &cs, &real);
	free(path);
	free(stream);
	/* the other opens' oplocks and leases break first; a create that must wait for their
	   acknowledgements goes asynchronous and starts over from the name when woken */
	if (!st && !cs.created) {
		/* MS-FSA 2.1.5.1.2: a delete-pending file fails the open before any oplock breaks */
		struct state_key key = create_key(&cs);
		if (state_key_delete_pending(req->srv->state, &key))
			st = STATUS_DELETE_PENDING;
		else
			st = create_breaks(req, a, &cs, cw);
	}
	if (st == CREATE_RESTART) {
		vfs_close(cs.file);
		free(real);
		a->restarted = true; /* once: later dooms are closed by the durable table's thread */
		goto again;
	}
	if (!st)
		return finish_open(req, a, &cs, real);
	if (cs.file) {
		if (cs.created)
			cs.file->stream ? vfs_stream_delete(cs.file) : vfs_unlink(cs.file);
		vfs_close(cs.file);
	}
	free(real);
	return st;
}

NTSTATUS smb2_create(struct smb2_req *req)
{
	return create_run(req, NULL);
}

/* ---- CLOSE (2.2.15, 2.2.16) ---- */

NTSTATUS smb2_close(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint16_t flags = rd_u16(&b);
	rd_skip(&b, 4);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	if (st)
		return SMB2_ERR(req, st);
	st = smb2_close_wait(req, op); /* requests in flight that hold the open finish first */
	if (st)
		return st;
	vfs_ident_apply(req->ident);
	struct vfs_stat vs = {0};
	bool post =
	    (flags & SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB) && op->file && vfs_fstat(op->file, &vs) == 0;
	smb2_open_close(op);
	struct wr *w = req->out;
	wr_u16(w, 60);
	wr_u16(w, post ? SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB : 0);
	wr_u32(w, 0);
	if (post)
		smb2_put_times_sizes(w, &vs);
	else
		wr_zero(w, 52);
	return STATUS_SUCCESS;
}
