/* FSCTLs on a file's data layout: FSCTL_SET_SPARSE, FSCTL_SET_ZERO_DATA,
 * FSCTL_QUERY_ALLOCATED_RANGES (MS-FSCC 2.3.64, 2.3.67, 2.3.49; MS-FSA 2.1.5.10.x) and the
 * compression FSCTLs of a file system without compression (2.3.19, 2.3.67), and the object id
 * FSCTLs (2.3.3, 2.3.21).
 *
 * The SPARSE_FILE attribute lives with the DOS attributes in the metadata xattr. Zeroing a
 * range of a sparse file punches a hole; of any other file it zeroes the range and keeps it
 * allocated. Allocated ranges of a sparse file come from SEEK_DATA/SEEK_HOLE; a file that is not
 * sparse is reported allocated up to its end of file, as NTFS does. */
#include <errno.h>

#include "smb2/smb2_file.h"
#include "smb2/smb2_fsctl.h"

#define FILE_ATTRIBUTE_SPARSE_FILE 0x00000200u
#define COMPRESSION_FORMAT_NONE 0x0000u

static NTSTATUS set_sparse(struct smb2_open *op, struct rd in)
{
	if (op->is_dir)
		return STATUS_INVALID_PARAMETER;
	/* MS-FSA 2.1.5.10.29: write data, append data or write attributes suffice */
	if (!(op->access & (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES)))
		return STATUS_ACCESS_DENIED;
	int rc = vfs_set_sparse(op->file, fsctl_set_sparse_parse(in));
	return rc < 0 ? smb2_file_status(rc) : STATUS_SUCCESS;
}

static NTSTATUS zero_data(struct smb2_open *op, struct rd in)
{
	uint64_t off, beyond;
	NTSTATUS st = fsctl_zero_data_parse(in, &off, &beyond);
	if (st)
		return st;
	if (op->is_dir)
		return STATUS_INVALID_PARAMETER;
	if (!(op->access & FILE_WRITE_DATA))
		return STATUS_ACCESS_DENIED;
	/* zeroing writes: another open's lock, or any shared lock, on the range refuses it */
	if (op->state_rec && beyond > off &&
	    state_lock_check_io(op->state_rec, off, beyond - off, true) < 0)
		return STATUS_FILE_LOCK_CONFLICT;
	struct vfs_stat vs;
	int rc = vfs_fstat(op->file, &vs);
	if (rc < 0)
		return smb2_file_status(rc);
	/* nothing past the end of file changes: zeroing never extends it */
	if (beyond > vs.size)
		beyond = vs.size;
	if (off >= beyond)
		return STATUS_SUCCESS;
	rc = vfs_zero_range(op->file, off, beyond - off, vs.attrs & FILE_ATTRIBUTE_SPARSE_FILE);
	return rc < 0 ? smb2_file_status(rc) : STATUS_SUCCESS;
}

/* Appends one FILE_ALLOCATED_RANGE_BUFFER if it fits in max_out; BUFFER_OVERFLOW otherwise. */
static NTSTATUS put_range(struct wr *out, size_t start, uint32_t max_out, uint64_t off,
			  uint64_t len)
{
	if (out->len - start + 16 > max_out)
		return STATUS_BUFFER_OVERFLOW;
	wr_u64(out, off);
	wr_u64(out, len);
	return STATUS_SUCCESS;
}

static NTSTATUS query_ranges(struct smb2_req *req, struct smb2_open *op, struct rd in,
			     uint32_t max_out, struct wr *out)
{
	uint64_t off, len;
	NTSTATUS st = fsctl_qar_parse(in, &off, &len);
	if (st)
		return st;
	if (op->is_dir)
		return STATUS_INVALID_PARAMETER;
	if (!(op->access & FILE_READ_DATA))
		return STATUS_ACCESS_DENIED;
	struct vfs_stat vs;
	int rc = vfs_fstat(op->file, &vs);
	if (rc < 0)
		return smb2_file_status(rc);
	uint64_t end = off + len < vs.size ? off + len : vs.size;
	size_t start = out->len;
	if (off >= end)
		return STATUS_SUCCESS;
	if (!(vs.attrs & FILE_ATTRIBUTE_SPARSE_FILE)) {
		st = put_range(out, start, max_out, off, end - off);
	} else {
		for (uint64_t o = off; o < end && !st;) {
			uint64_t d, h;
			rc = vfs_next_data(op->file, o, &d, &h);
			if (rc == -ENXIO || (!rc && d >= end))
				break;
			if (rc < 0)
				return smb2_file_status(rc);
			if (h > end)
				h = end;
			st = put_range(out, start, max_out, d, h - d);
			o = h;
		}
	}
	/* 3.3.5.15: no room for even one range is an error without data */
	if (st == STATUS_BUFFER_OVERFLOW && out->len == start)
		return STATUS_BUFFER_TOO_SMALL;
	if (st == STATUS_BUFFER_OVERFLOW)
		req->keep_body = true;
	return st;
}

/* FILE_OBJECTID_BUFFER (MS-FSCC 2.1.3): the object id is derived from the file's identity
 * (inode and device), so it is stable for the file's life without being stored; the birth ids
 * are the same (the file has not moved), the domain id is zero. */
static NTSTATUS object_id(struct smb2_open *op, uint32_t max_out, struct wr *out)
{
	if (max_out < 64)
		return STATUS_BUFFER_TOO_SMALL;
	struct vfs_stat vs;
	int rc = vfs_fstat(op->file, &vs);
	if (rc < 0)
		return smb2_file_status(rc);
	uint8_t id[16], vol[16];
	put_le64(id, vs.ino);
	put_le64(id + 8, vs.dev);
	put_le64(vol, vs.dev);
	put_le64(vol + 8, 0);
	wr_bytes(out, id, 16);
	wr_bytes(out, vol, 16);
	wr_bytes(out, id, 16);
	wr_zero(out, 16);
	return STATUS_SUCCESS;
}

NTSTATUS smb2_fsctl_file(struct smb2_req *req, struct smb2_open *op, uint32_t ctl, struct rd in,
			 uint32_t max_out, struct wr *out)
{
	if (!op->file)
		return STATUS_INVALID_DEVICE_REQUEST;
	vfs_ident_apply(req->ident);
	switch (ctl) {
	case FSCTL_SET_SPARSE:
		return set_sparse(op, in);
	case FSCTL_SET_ZERO_DATA:
		return zero_data(op, in);
	case FSCTL_QUERY_ALLOCATED_RANGES:
		return query_ranges(req, op, in, max_out, out);
	case FSCTL_CREATE_OR_GET_OBJECT_ID:
	case FSCTL_GET_OBJECT_ID:
		return object_id(op, max_out, out);
	case FSCTL_GET_COMPRESSION:
		/* no compression on this file system: every file reports NONE (like WS2016) */
		if (max_out < 2)
			return STATUS_INVALID_PARAMETER;
		wr_u16(out, COMPRESSION_FORMAT_NONE);
		return STATUS_SUCCESS;
	case FSCTL_SET_COMPRESSION: {
		if (rd_left(&in) < 2)
			return STATUS_INVALID_PARAMETER;
		uint16_t fmt = rd_u16(&in);
		if (!(op->access & (FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES)))
			return STATUS_ACCESS_DENIED;
		return fmt == COMPRESSION_FORMAT_NONE ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED;
	}
	default:
		return STATUS_INVALID_DEVICE_REQUEST;
	}
}
