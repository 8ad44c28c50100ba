/* The posix VFS module's alternate data streams: each named stream is one xattr of its file
 * (moved out of vfs_posix.c; the module's layout is in vfs_posix.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/utf16.h"
#include "vfs/vfs_posix.h"

/* ---- alternate data streams: one xattr each ---- */

/* xattr calls on the file behind pf (the /proc path when the descriptor is O_PATH). */
static ssize_t xa_get(struct posix_file *pf, const char *name, void *buf, size_t len)
{
	ssize_t r;
	if (!pf->opath) {
		r = fgetxattr(pf->fd, name, buf, len);
	} else {
		char p[64];
		vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
		r = getxattr(p, name, buf, len);
	}
	return r < 0 ? -errno : r;
}

static int xa_set(struct posix_file *pf, const char *name, const void *buf, size_t len, int flags)
{
	int r;
	if (!pf->opath) {
		r = fsetxattr(pf->fd, name, buf, len, flags);
	} else {
		char p[64];
		vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
		r = setxattr(p, name, buf, len, flags);
	}
	/* a value over the file system's limit: the stream cannot grow (DISK_FULL) */
	return r < 0 ? (errno == E2BIG ? -ENOSPC : -errno) : 0;
}

static int xa_remove(struct posix_file *pf, const char *name)
{
	int r;
	if (!pf->opath) {
		r = fremovexattr(pf->fd, name);
	} else {
		char p[64];
		vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
		r = removexattr(p, name);
	}
	return r < 0 ? -errno : 0;
}

/* The malloc'ed list of xattr names (NUL-separated), *len its size. */
static int xa_list(struct posix_file *pf, char **out, size_t *len)
{
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = pf->opath ? listxattr(p, NULL, 0) : flistxattr(pf->fd, NULL, 0);
		if (n < 0)
			return -errno;
		char *buf = malloc((size_t)n + 1);
		if (!buf)
			return -ENOMEM;
		ssize_t m =
		    pf->opath ? listxattr(p, buf, (size_t)n) : flistxattr(pf->fd, buf, (size_t)n);
		if (m >= 0) {
			*out = buf;
			*len = (size_t)m;
			return 0;
		}
		free(buf);
		if (errno != ERANGE)
			return -errno;
	}
	return -EAGAIN;
}

static char *stream_xname(const char *name)
{
	size_t a = strlen(VFS_STREAM_XATTR_PREFIX), b = strlen(name);
	char *x = malloc(a + b + 1);
	if (x) {
		memcpy(x, VFS_STREAM_XATTR_PREFIX, a);
		memcpy(x + a, name, b + 1);
	}
	return x;
}

/* Finds the stored name of stream name (case-insensitively); 0 with *found, or -ENOENT. */
static int stream_find(struct posix_file *pf, const char *name, char **found)
{
	char *list;
	size_t len;
	int rc = xa_list(pf, &list, &len);
	if (rc < 0)
		return rc;
	size_t plen = strlen(VFS_STREAM_XATTR_PREFIX);
	rc = -ENOENT;
	for (size_t o = 0; o < len; o += strlen(list + o) + 1) {
		const char *x = list + o;
		if (strncmp(x, VFS_STREAM_XATTR_PREFIX, plen) || !utf8_case_equal(x + plen, name))
			continue;
		*found = strdup(x + plen);
		rc = *found ? 0 : -ENOMEM;
		break;
	}
	free(list);
	return rc;
}

/* Reads the whole stream into a malloc'ed buffer (extra bytes of room asked by room). */
static int stream_load(struct posix_file *pf, uint8_t **data, size_t *len, size_t room)
{
	char *x = stream_xname(pf->base.stream);
	if (!x)
		return -ENOMEM;
	int rc = -EAGAIN;
	for (int tries = 0; tries < 4 && rc == -EAGAIN; tries++) {
		ssize_t n = xa_get(pf, x, NULL, 0);
		if (n < 0) {
			rc = n == -ENODATA ? -ENOENT : (int)n;
			break;
		}
		uint8_t *buf = malloc((size_t)n + room + 1);
		if (!buf) {
			rc = -ENOMEM;
			break;
		}
		ssize_t m = xa_get(pf, x, buf, (size_t)n);
		if (m >= 0) {
			*data = buf;
			*len = (size_t)m;
			rc = 0;
		} else {
			free(buf);
			rc = m == -ERANGE ? -EAGAIN : (int)m;
		}
	}
	free(x);
	return rc;
}

static int stream_store(struct posix_file *pf, const uint8_t *data, size_t len)
{
	char *x = stream_xname(pf->base.stream);
	if (!x)
		return -ENOMEM;
	int rc = xa_set(pf, x, data, len, XATTR_REPLACE);
	free(x);
	return rc == -ENODATA ? -ENOENT : rc;
}

ssize_t vfs_posix_stream_pread(struct posix_file *pf, void *buf, size_t n, uint64_t off)
{
	uint8_t *data;
	size_t len;
	int rc = stream_load(pf, &data, &len, 0);
	if (rc < 0)
		return rc;
	size_t got = 0;
	if (off < len) {
		got = len - (size_t)off < n ? len - (size_t)off : n;
		memcpy(buf, data + off, got);
	}
	free(data);
	return (ssize_t)got;
}

/* Resizes the stream to end (when grow or shrinking) and writes n bytes at off. */
int vfs_posix_stream_update(struct posix_file *pf, const void *buf, size_t n, uint64_t off,
			    uint64_t end, bool set_size)
{
	if (end > (1u << 20))
		return -ENOSPC; /* far beyond any xattr limit: refuse before allocating */
	uint8_t *data;
	size_t len;
	int rc = stream_load(pf, &data, &len, (size_t)end);
	if (rc < 0)
		return rc;
	size_t nlen = set_size ? (size_t)end : (end > len ? (size_t)end : len);
	if (nlen > len)
		memset(data + len, 0, nlen - len);
	if (n)
		memcpy(data + off, buf, n);
	rc = stream_store(pf, data, nlen);
	free(data);
	return rc;
}

int vfs_posix_stream_stat(struct posix_file *pf, struct vfs_stat *st)
{
	char *x = stream_xname(pf->base.stream);
	if (!x)
		return -ENOMEM;
	ssize_t n = xa_get(pf, x, NULL, 0);
	free(x);
	if (n < 0)
		return n == -ENODATA ? -ENOENT : (int)n;
	st->size = (uint64_t)n;
	st->alloc = ((uint64_t)n + 7) & ~7ull;
	return 0;
}
/* ---- alternate data streams: operations ---- */

int vfs_posix_open_stream(struct vfs_file *f, const char *name, unsigned flags,
			  struct vfs_file **out)
{
	struct posix_file *pf = PF(f);
	if (!*name || strchr(name, '/') || strchr(name, ':'))
		return -EINVAL;
	char *stored = NULL;
	int rc = stream_find(pf, name, &stored);
	if (rc == 0 && (flags & VFS_O_CREATE)) {
		free(stored);
		return -EEXIST;
	}
	if (rc == -ENOENT && (flags & VFS_O_CREATE)) {
		char *x = stream_xname(name);
		rc = x ? xa_set(pf, x, "", 0, XATTR_CREATE) : -ENOMEM;
		free(x);
		if (rc == 0 && !(stored = strdup(name)))
			rc = -ENOMEM;
	}
	if (rc < 0)
		return rc;
	int fd = fcntl(pf->fd, F_DUPFD_CLOEXEC, 0);
	struct posix_file *s = fd < 0 ? NULL : calloc(1, sizeof(*s));
	char *p = s ? strdup(f->path) : NULL;
	if (!p) {
		rc = fd < 0 ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		free(s);
		free(stored);
		return rc;
	}
	s->base.sh = f->sh;
	s->base.is_dir = false;
	s->base.path = p;
	s->base.stream = stored;
	s->fd = fd;
	s->opath = pf->opath;
	*out = &s->base;
	return 0;
}

int vfs_posix_stream_list(struct vfs_file *f, int (*cb)(void *arg, const char *name, uint64_t size),
			  void *arg)
{
	struct posix_file *pf = PF(f);
	char *list;
	size_t len;
	int rc = xa_list(pf, &list, &len);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? 0 : rc;
	size_t plen = strlen(VFS_STREAM_XATTR_PREFIX);
	for (size_t o = 0; o < len && !rc; o += strlen(list + o) + 1) {
		const char *x = list + o;
		if (strncmp(x, VFS_STREAM_XATTR_PREFIX, plen) || !x[plen])
			continue;
		ssize_t n = xa_get(pf, x, NULL, 0);
		if (n < 0)
			continue; /* removed meanwhile */
		if (cb(arg, x + plen, (uint64_t)n))
			break;
	}
	free(list);
	return rc;
}

int vfs_posix_stream_rename(struct vfs_file *sf, const char *to, bool replace)
{
	struct posix_file *pf = PF(sf);
	if (!sf->stream || !*to || strchr(to, '/') || strchr(to, ':'))
		return -EINVAL;
	char *existing = NULL;
	int rc = stream_find(pf, to, &existing);
	if (rc == 0 && strcmp(existing, sf->stream) && !utf8_case_equal(existing, sf->stream) &&
	    !replace) {
		free(existing);
		return -EEXIST;
	}
	if (rc < 0 && rc != -ENOENT)
		return rc;
	uint8_t *data = NULL;
	size_t len = 0;
	rc = stream_load(pf, &data, &len, 0);
	char *nx = rc ? NULL : stream_xname(to);
	char *ox = rc ? NULL : stream_xname(sf->stream);
	char *nn = rc ? NULL : strdup(to);
	if (!rc && (!nx || !ox || !nn))
		rc = -ENOMEM;
	/* a target with another case of its name is replaced by the new spelling */
	if (!rc && existing && strcmp(existing, sf->stream)) {
		char *ex = stream_xname(existing);
		rc = ex ? xa_remove(pf, ex) : -ENOMEM;
		free(ex);
	}
	if (!rc && strcmp(nx, ox))
		rc = xa_set(pf, nx, data, len, 0);
	if (!rc && strcmp(nx, ox))
		rc = xa_remove(pf, ox);
	if (!rc) {
		free(sf->stream);
		sf->stream = nn;
		nn = NULL;
	}
	free(data);
	free(nx);
	free(ox);
	free(nn);
	free(existing);
	return rc;
}

int vfs_posix_stream_delete(struct vfs_file *sf)
{
	if (!sf->stream)
		return -EINVAL;
	char *x = stream_xname(sf->stream);
	if (!x)
		return -ENOMEM;
	int rc = xa_remove(PF(sf), x);
	free(x);
	return rc == -ENODATA ? -ENOENT : rc;
}
