/* Server-side copy (MS-SMB2 3.3.5.15.5 FSCTL_SRV_REQUEST_RESUME_KEY, 3.3.5.15.6
 * FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE).
 *
 * A resume key is 24 random bytes kept in the open; COPYCHUNK finds the source by walking the
 * opens of the request's session (any tree of it, so a copy across shares works). Each chunk is
 * read whole into one buffer before it is written (at most 1 MiB), so overlapping ranges of the
 * same file copy as Windows Server 2012 does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "lib/log.h"
#include "smb2/smb2_file.h"
#include "smb2/smb2_fsctl.h"

NTSTATUS smb2_fsctl_resume_key(struct smb2_req *req, struct smb2_open *op, uint32_t max_out,
			       struct wr *out)
{
	(void)req;
	if (!op->file)
		return STATUS_INVALID_DEVICE_REQUEST;
	if (max_out < SMB2_RESUME_KEY_RSP_LEN)
		return STATUS_INVALID_PARAMETER;
	if (!op->have_resume_key) {
		if (crypto_random(op->resume_key, sizeof(op->resume_key)) < 0)
			return STATUS_INTERNAL_ERROR;
		op->have_resume_key = true;
	}
	wr_bytes(out, op->resume_key, sizeof(op->resume_key));
	wr_u32(out, 0); /* ContextLength */
	wr_u32(out, 0); /* Context: Windows sends 4 zero bytes */
	return STATUS_SUCCESS;
}

/* The open of the request's session holding key, or NULL. */
static struct smb2_open *find_by_key(struct smb2_session *s, const uint8_t *key)
{
	struct smb2_open *found = NULL;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nopens && !found; i++) {
		struct smb2_open *o = s->opens[i];
		if (o->have_resume_key && !memcmp(o->resume_key, key, SMB2_RESUME_KEY_LEN))
			found = o;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

static void put_rsp(struct wr *out, uint32_t chunks, uint32_t chunk_bytes, uint32_t total)
{
	wr_u32(out, chunks);
	wr_u32(out, chunk_bytes);
	wr_u32(out, total);
}

/* Copies one chunk; returns bytes written or a status. A source range past its end of file is
 * STATUS_INVALID_VIEW_SIZE, as Windows answers. */
static NTSTATUS copy_one(struct smb2_open *src, struct smb2_open *dst, const struct fsctl_chunk *c,
			 uint8_t *buf)
{
	struct vfs_stat st;
	int rc = vfs_fstat(src->file, &st);
	if (rc < 0)
		return smb2_file_status(rc);
	if (c->src_off > INT64_MAX || c->dst_off > (uint64_t)INT64_MAX - c->len ||
	    c->src_off + c->len > st.size)
		return STATUS_INVALID_VIEW_SIZE;
	/* the copy reads and writes like READ and WRITE: byte-range locks apply (Windows 2012 and
	   later answer STATUS_FILE_LOCK_CONFLICT) */
	if ((src->state_rec && state_lock_check_io(src->state_rec, c->src_off, c->len, false) < 0) ||
	    (dst->state_rec && state_lock_check_io(dst->state_rec, c->dst_off, c->len, true) < 0))
		return STATUS_FILE_LOCK_CONFLICT;
	size_t got = 0;
	while (got < c->len) {
		ssize_t n = vfs_pread(src->file, buf + got, c->len - got, c->src_off + got);
		if (n < 0)
			return smb2_file_status((int)n);
		if (n == 0)
			return STATUS_INVALID_VIEW_SIZE; /* truncated under us */
		got += (size_t)n;
	}
	ssize_t n = vfs_pwrite(dst->file, buf, c->len, c->dst_off);
	if (n < 0)
		return smb2_file_status((int)n);
	if ((size_t)n != c->len)
		return STATUS_DISK_FULL;
	return STATUS_SUCCESS;
}

NTSTATUS smb2_fsctl_copychunk(struct smb2_req *req, struct smb2_open *dst, uint32_t ctl,
			      struct rd in, uint32_t max_out, struct wr *out)
{
	if (max_out < SMB2_COPYCHUNK_RSP_LEN)
		return STATUS_INVALID_PARAMETER;
	struct fsctl_copychunk *cc = malloc(sizeof(*cc));
	if (!cc)
		return STATUS_NO_MEMORY;
	bool limits;
	NTSTATUS st = fsctl_copychunk_parse(in, cc, &limits);
	if (st) {
		free(cc);
		if (limits) {
			/* 3.3.5.15.6: the response tells the client the server's limits */
			put_rsp(out, SMB2_COPYCHUNK_MAX_CHUNKS, SMB2_COPYCHUNK_MAX_CHUNK_LEN,
				SMB2_COPYCHUNK_MAX_TOTAL);
			req->keep_body = true;
		}
		return st;
	}
	struct smb2_open *src = find_by_key(req->session, cc->key);
	if (!src || !src->file || src->is_dir) {
		free(cc);
		return STATUS_OBJECT_NAME_NOT_FOUND;
	}
	if (!dst->file || dst->is_dir) {
		free(cc);
		return STATUS_INVALID_DEVICE_REQUEST;
	}
	/* the source must be readable (execute counts, as for READ); COPYCHUNK also reads the
	   destination, COPYCHUNK_WRITE only writes it */
	bool denied = !(src->access & (FILE_READ_DATA | FILE_EXECUTE)) ||
		      !(dst->access & FILE_WRITE_DATA) ||
		      (ctl == FSCTL_SRV_COPYCHUNK && !(dst->access & FILE_READ_DATA));
	if (denied) {
		free(cc);
		return STATUS_ACCESS_DENIED;
	}
	uint8_t *buf = malloc(SMB2_COPYCHUNK_MAX_CHUNK_LEN);
	if (!buf) {
		free(cc);
		return STATUS_NO_MEMORY;
	}
	vfs_ident_apply(req->ident);
	uint32_t done = 0, total = 0;
	for (uint32_t i = 0; i < cc->count && !st; i++) {
		st = copy_one(src, dst, &cc->chunks[i], buf);
		if (!st) {
			done++;
			total += cc->chunks[i].len;
		}
	}
	free(buf);
	free(cc);
	put_rsp(out, done, 0, total);
	if (st)
		req->keep_body = true; /* the client learns how far the copy got */
	return st;
}
