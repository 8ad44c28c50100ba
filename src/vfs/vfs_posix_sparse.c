/* The posix VFS module's sparse files: the SPARSE attribute, zeroing ranges and walking the
 * allocated ones (moved out of vfs_posix.c; the module's layout is in vfs_posix.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "vfs/vfs_posix.h"

/* ---- sparse files ---- */

int vfs_posix_set_sparse(struct vfs_file *f, bool sparse)
{
	struct posix_file *pf = PF(f);
	if (f->is_dir || f->stream)
		return -EINVAL;
	struct vfs_stat st;
	int rc = vfs_posix_fstat(f, &st);
	if (rc < 0)
		return rc;
	struct vfs_meta m;
	rc = vfs_posix_meta_load(pf, &m);
	if (rc < 0)
		return rc;
	m.attrs = st.attrs & (ATTR_SETTABLE | ATTR_SPARSE);
	m.attrs = sparse ? m.attrs | ATTR_SPARSE : m.attrs & ~ATTR_SPARSE;
	rc = vfs_posix_meta_store(pf, &m);
	if (rc < 0)
		return rc;
	/* NTFS allocates a file's holes when it stops being sparse; the reservation is a hint
	   (a full disk or a file system without fallocate keeps the holes) */
	if (!sparse && st.size && !pf->opath && st.size <= INT64_MAX)
		(void)fallocate(pf->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)st.size);
	return 0;
}

int vfs_posix_zero_range(struct vfs_file *f, uint64_t off, uint64_t len, bool dealloc)
{
	struct posix_file *pf = PF(f);
	if (off > INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	if (!len)
		return 0;
	vfs_posix_ctime_touch(pf);
	if (f->stream) {
		struct vfs_stat st;
		int rc = vfs_posix_fstat(f, &st);
		if (rc < 0 || off >= st.size)
			return rc;
		uint64_t n = off + len < st.size ? len : st.size - off;
		uint8_t *z = calloc(1, (size_t)n);
		if (!z)
			return -ENOMEM;
		rc = vfs_posix_stream_update(pf, z, (size_t)n, off, off + n, false);
		free(z);
		return rc;
	}
	if (!dealloc && fallocate(pf->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				  (off_t)len) == 0)
		return 0;
	if (fallocate(pf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) <
	    0) {
		if (errno != EOPNOTSUPP)
			return -errno;
		/* no hole punching here: write zeros up to the end of file */
		struct vfs_stat st;
		int rc = vfs_posix_fstat(f, &st);
		if (rc < 0)
			return rc;
		static const uint8_t zeros[65536];
		uint64_t end = off + len < st.size ? off + len : st.size;
		for (uint64_t o = off; o < end;) {
			size_t n = end - o < sizeof(zeros) ? (size_t)(end - o) : sizeof(zeros);
			ssize_t w = vfs_posix_pwrite(f, zeros, n, o);
			if (w < 0)
				return (int)w;
			o += (uint64_t)w;
		}
		return 0;
	}
	if (!dealloc)
		(void)fallocate(pf->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	return 0;
}

int vfs_posix_next_data(struct vfs_file *f, uint64_t off, uint64_t *start, uint64_t *end)
{
	struct posix_file *pf = PF(f);
	if (off > INT64_MAX)
		return -ENXIO;
	if (f->stream) {
		/* a stream is one run of data */
		struct vfs_stat st;
		int rc = vfs_posix_fstat(f, &st);
		if (rc < 0)
			return rc;
		if (off >= st.size)
			return -ENXIO;
		*start = off;
		*end = st.size;
		return 0;
	}
	off_t d = lseek(pf->fd, (off_t)off, SEEK_DATA);
	if (d < 0)
		return -errno;
	off_t h = lseek(pf->fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*start = (uint64_t)d;
	*end = (uint64_t)h;
	return 0;
}
