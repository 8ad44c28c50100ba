/* READ, WRITE and FLUSH (MS-SMB2 2.2.17-2.2.22, 3.3.5.11-3.3.5.13). READ data goes straight from
 * the file into the response buffer (DESIGN.md section 4: no intermediate copy). READ and WRITE
 * of a range another open locked, or WRITE of a range under any shared lock, fail with
 * STATUS_FILE_LOCK_CONFLICT (MS-FSA 2.1.4.10; the rules are in state.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "lib/log.h"
#include "smb2/smb2_file.h"
#include "state/lease.h"

#define SMB2_WRITEFLAG_WRITE_THROUGH 0x00000001u
#define READ_DATA_OFFSET 0x50 /* header 64 + the 16 fixed bytes of 2.2.20 */
#define TAIL_MIN 16384        /* smaller READs copy: sendfile's set-up costs more than that */

/* A READ whose response goes out unsigned and unencrypted, alone in its frame, leaves its data
 * in the file: the transport sends it with sendfile after the response (DESIGN.md section 4),
 * so it is neither copied into the response nor out of it. The length is the file's size at
 * this moment; if the file shrinks before the transport sends, the missing part goes out as
 * zeros (the response announced it). *done tells whether it did; a status is an error to
 * answer with (the end of the file). */
static NTSTATUS read_tail(struct smb2_req *req, struct smb2_open *op, uint32_t len, uint64_t off,
			  uint32_t min_count, uint32_t *got, bool *done)
{
	*done = false;
	if (!req->tail || len < TAIL_MIN || req->conn->read_body_pad || !smb2_response_unsigned(req))
		return STATUS_SUCCESS;
	int fd = vfs_data_fd(op->file);
	if (fd < 0)
		return STATUS_SUCCESS;
	struct vfs_stat st;
	int rc = vfs_fstat(op->file, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	uint64_t n = off < st.size ? st.size - off : 0;
	if (n > len)
		n = len;
	if (n == 0 || n < min_count)
		return STATUS_END_OF_FILE;
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return STATUS_SUCCESS; /* out of descriptors: read it as usual */
	req->tail->fd = dup;
	req->tail->off = off;
	req->tail->len = (uint32_t)n;
	*got = (uint32_t)n;
	*done = true;
	return STATUS_SUCCESS;
}

NTSTATUS smb2_read(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 4); /* StructureSize, Padding, Flags */
	uint32_t len = rd_u32(&b);
	uint64_t off = rd_u64(&b);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	uint32_t min_count = rd_u32(&b);
	if (!st && !rd_ok(&b))
		st = STATUS_INVALID_PARAMETER;
	if (st)
		return SMB2_ERR(req, st);
	if (len > req->conn->max_read)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (op->pipe)
		return smb2_pipe_read(req, op, len);
	if (op->is_dir || !op->file)
		return SMB2_ERR(req, STATUS_INVALID_DEVICE_REQUEST);
	if (!(op->access & (FILE_READ_DATA | FILE_EXECUTE)))
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	if (off > INT64_MAX)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (op->state_rec && state_lock_check_io(op->state_rec, off, len, false) < 0)
		return SMB2_ERR(req, STATUS_FILE_LOCK_CONFLICT);
	vfs_ident_apply(req->ident);
	struct wr *w = req->out;
	size_t start = w->len;
	wr_u16(w, 17);
	wr_u8(w, READ_DATA_OFFSET + req->conn->read_body_pad);
	wr_u8(w, 0);
	wr_u32(w, 0); /* DataLength, patched */
	wr_u32(w, 0); /* DataRemaining */
	wr_u32(w, 0); /* Flags */
	wr_zero(w, req->conn->read_body_pad); /* 0 but under smbtorture (smb2_torture.c) */
	uint32_t got = 0;
	bool tailed;
	NTSTATUS ts = read_tail(req, op, len, off, min_count, &got, &tailed);
	if (ts)
		return SMB2_ERR(req, ts);
	if (tailed) {
		wr_set_u32(w, start + 4, got);
		__atomic_store_n(&op->position, off + got, __ATOMIC_RELAXED);
		return STATUS_SUCCESS;
	}
	size_t doff = wr_space(w, len);
	if (doff == (size_t)-1)
		return SMB2_ERR(req, STATUS_NO_MEMORY);
	ssize_t n = vfs_pread(op->file, wr_at(w, doff), len, off);
	if (n < 0)
		return SMB2_ERR(req, smb2_file_status((int)n));
	if ((n == 0 && len > 0) || (uint32_t)n < min_count)
		return SMB2_ERR(req, STATUS_END_OF_FILE);
	w->len = doff + (size_t)n;
	wr_set_u32(w, start + 4, (uint32_t)n);
	/* the handle's current offset (FilePositionInformation); READs and WRITEs of one
	   connection may run at the same time (smb2_conn_frame_parallel) */
	__atomic_store_n(&op->position, off + (uint64_t)n, __ATOMIC_RELAXED);
	return STATUS_SUCCESS;
}

/* Appending: offset all-ones (3.3.5.13), or an open that may only append. */
static NTSTATUS write_offset(struct smb2_open *op, uint64_t *off)
{
	if (*off != UINT64_MAX && (op->access & FILE_WRITE_DATA))
		return *off > INT64_MAX ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
	if (*off == UINT64_MAX && !(op->access & FILE_APPEND_DATA))
		return STATUS_INVALID_PARAMETER;
	struct vfs_stat st;
	int rc = vfs_fstat(op->file, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	*off = st.size;
	return STATUS_SUCCESS;
}

NTSTATUS smb2_write(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 2);
	uint16_t doff = rd_u16(&b);
	uint32_t len = rd_u32(&b);
	uint64_t off = rd_u64(&b);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	rd_skip(&b, 12); /* Channel, RemainingBytes, WriteChannelInfoOffset/Length */
	uint32_t flags = rd_u32(&b);
	if (!st && !rd_ok(&b))
		st = STATUS_INVALID_PARAMETER;
	if (st)
		return SMB2_ERR(req, st);
	struct rd data = rd_sub(&req->msg, doff, len);
	if (!rd_ok(&data) || len > req->conn->max_write)
		return SMB2_ERR(req, STATUS_INVALID_PARAMETER);
	if (op->pipe)
		return smb2_pipe_write(req, op, data.p, len);
	if (op->is_dir || !op->file)
		return SMB2_ERR(req, STATUS_INVALID_DEVICE_REQUEST);
	if (!(op->access & (FILE_WRITE_DATA | FILE_APPEND_DATA)))
		return SMB2_ERR(req, STATUS_ACCESS_DENIED);
	vfs_ident_apply(req->ident);
	st = write_offset(op, &off);
	if (!st && off > INT64_MAX - (uint64_t)len)
		st = STATUS_INVALID_PARAMETER;
	if (!st && op->state_rec && state_lock_check_io(op->state_rec, off, len, true) < 0)
		st = STATUS_FILE_LOCK_CONFLICT;
	if (st)
		return SMB2_ERR(req, st);
	/* other opens' read caching ends (MS-FSA 2.1.5.3: level II and R leases break to none) */
	state_oplock_break_on_write(op->oplock);
	ssize_t n = len ? vfs_pwrite(op->file, data.p, len, off) : 0;
	if (n < 0)
		return SMB2_ERR(req, smb2_file_status((int)n));
	if ((flags & SMB2_WRITEFLAG_WRITE_THROUGH) && !(op->create_options & FILE_WRITE_THROUGH)) {
		int rc = vfs_fsync(op->file);
		if (rc < 0)
			return SMB2_ERR(req, smb2_file_status(rc));
	}
	__atomic_store_n(&op->position, off + (uint64_t)n, __ATOMIC_RELAXED);
	struct wr *w = req->out;
	wr_u16(w, 17);
	wr_u16(w, 0);
	wr_u32(w, (uint32_t)n);
	wr_u32(w, 0);
	wr_u16(w, 0);
	wr_u16(w, 0);
	return STATUS_SUCCESS;
}

NTSTATUS smb2_flush(struct smb2_req *req)
{
	struct rd b = req->body;
	rd_skip(&b, 8);
	struct smb2_open *op;
	NTSTATUS st = smb2_open_from_body(req, &b, &op);
	if (st)
		return SMB2_ERR(req, st);
	if (op->file && !op->is_dir) {
		/* 3.3.5.11: flushing needs write access to the file */
		if (!(op->access & (FILE_WRITE_DATA | FILE_APPEND_DATA)))
			return SMB2_ERR(req, STATUS_ACCESS_DENIED);
		vfs_ident_apply(req->ident);
		int rc = vfs_fsync(op->file);
		if (rc < 0)
			return SMB2_ERR(req, smb2_file_status(rc));
	}
	wr_u16(req->out, 4);
	wr_u16(req->out, 0);
	return STATUS_SUCCESS;
}
