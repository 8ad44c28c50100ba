/* The posix VFS module: files of a local (or kernel-mounted) file system.
 *
 * Security (DESIGN.md section 5): the share root is held as an O_PATH descriptor and every path
 * is resolved from it with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so `..` above the
 * root, absolute symlinks and symlinks leading outside fail in the kernel (EXDEV, reported as
 * -EACCES); symlinks that stay inside are followed. Names are removed and renamed only relative
 * to a parent directory descriptor that was itself opened that way, on a last component that
 * vfs_path_check() has proven to be a plain name.
 *
 * Windows metadata lives in the "user.shoal.meta" xattr of the file (vfs_name.c encodes it).
 * Streams, security descriptors/ACLs and sparse files are in vfs_posix_streams.c, vfs_posix_acl.c
 * and vfs_posix_sparse.c (vfs_posix.h: what the four files share). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/ntime.h"
#include "lib/utf16.h"
#include "vfs/vfs.h"
#include "vfs/vfs_posix.h"

/* ---- resolution beneath the root ---- */

/* Opens path (share-relative, "" = the root) beneath the root. Returns an fd or -errno. */
static int beneath_open(struct posix_share *ps, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	for (int tries = 0; tries < 8; tries++) {
		long fd = syscall(SYS_openat2, ps->root, *path ? path : ".", &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a concurrent rename raced the beneath check; the kernel asks to retry */
		if (errno == EAGAIN || errno == EINTR)
			continue;
		return errno == EXDEV ? -EACCES : -errno;
	}
	return -EAGAIN;
}

/* Splits "a/b/c" into a malloc'ed parent "a/b" and a pointer to "c" inside path. */
static int split_parent(const char *path, char **parent, const char **last)
{
	const char *slash = strrchr(path, '/');
	*last = slash ? slash + 1 : path;
	*parent = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
	return *parent ? 0 : -ENOMEM;
}

/* ---- metadata ---- */

static uint32_t compose_attrs(bool have_meta, uint32_t stored, bool is_dir)
{
	/* files never given attributes by a client (created locally) look archived, as they
	   would on NTFS after a write */
	uint32_t a =
	    have_meta ? stored & (ATTR_SETTABLE | ATTR_SPARSE) : (is_dir ? 0 : ATTR_ARCHIVE);
	if (is_dir)
		a |= ATTR_DIRECTORY;
	return a ? a : ATTR_NORMAL;
}

static uint64_t ts_nt(struct statx_timestamp t)
{
	struct timespec ts = {.tv_sec = t.tv_sec, .tv_nsec = t.tv_nsec};
	return nttime_from_timespec(ts);
}

static void fill_stat(const struct statx *sx, const uint8_t *meta, ssize_t metalen,
		      struct vfs_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = ((uint64_t)sx->stx_dev_major << 32) | sx->stx_dev_minor;
	st->ino = sx->stx_ino;
	st->mode = sx->stx_mode;
	st->nlink = sx->stx_nlink;
	st->uid = sx->stx_uid;
	st->gid = sx->stx_gid;
	bool is_dir = S_ISDIR(sx->stx_mode);
	st->size = is_dir ? 0 : sx->stx_size;
	st->alloc = is_dir ? 0 : sx->stx_blocks * 512;
	st->atime = ts_nt(sx->stx_atime);
	st->mtime = ts_nt(sx->stx_mtime);
	st->ctime = ts_nt(sx->stx_ctime);
	st->btime = (sx->stx_mask & STATX_BTIME) ? ts_nt(sx->stx_btime) : st->mtime;
	struct vfs_meta m = {0};
	bool have = metalen > 0 && vfs_meta_unpack(meta, (size_t)metalen, &m) == 0;
	if (have && m.btime)
		st->btime = m.btime;
	if (have && m.ctime)
		st->ctime = m.ctime;
	st->attrs = compose_attrs(have, m.attrs, is_dir);
}

/* /proc/self/fd/N[/name]: the way to reach xattrs and times of an O_PATH descriptor or of a
 * directory entry, since there is no fgetxattrat in glibc. */
void vfs_posix_proc_path(char *buf, size_t len, int fd, const char *name)
{
	snprintf(buf, len, "/proc/self/fd/%d%s%s", fd, name ? "/" : "", name ? name : "");
}

static ssize_t meta_get_fd(struct posix_file *pf, uint8_t *buf, size_t len)
{
	if (!pf->opath)
		return fgetxattr(pf->fd, VFS_META_XATTR, buf, len);
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	return getxattr(p, VFS_META_XATTR, buf, len);
}

static int meta_set_fd(struct posix_file *pf, const uint8_t *buf, size_t len)
{
	int rc;
	if (!pf->opath) {
		rc = fsetxattr(pf->fd, VFS_META_XATTR, buf, len, 0);
	} else {
		char p[64];
		vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
		rc = setxattr(p, VFS_META_XATTR, buf, len, 0);
	}
	return rc < 0 ? -errno : 0;
}

int vfs_posix_stream_stat(struct posix_file *pf, struct vfs_stat *st);
void vfs_posix_ctime_touch(struct posix_file *pf);

static int statx_fd(int fd, struct statx *sx)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME,
		  sx) < 0)
		return -errno;
	return 0;
}

int vfs_posix_fstat(struct vfs_file *f, struct vfs_stat *st)
{
	struct posix_file *pf = PF(f);
	struct statx sx;
	int rc = statx_fd(pf->fd, &sx);
	if (rc < 0)
		return rc;
	uint8_t meta[64];
	ssize_t n = meta_get_fd(pf, meta, sizeof(meta));
	fill_stat(&sx, meta, n, st);
	if (f->stream)
		return vfs_posix_stream_stat(pf, st);
	return 0;
}

/* Stats an fd-less path (used by lookup) by opening it O_PATH beneath the root. */
static int stat_path(struct posix_share *ps, const char *path, struct vfs_stat *st)
{
	int fd = beneath_open(ps, path, O_PATH, 0);
	if (fd < 0)
		return fd;
	struct posix_file tmp = {.fd = fd, .opath = true};
	int rc = vfs_posix_fstat(&tmp.base, st);
	close(fd);
	return rc;
}

/* ---- lookup with case correction ---- */

struct ci_scan {
	const char *want;
	bool want_short;   /* want may be a generated 8.3 name (it has a '~') */
	char *found;       /* the name that matches want but for case */
	char *found_short; /* else the first name whose short name is want */
};

static int ci_scan_cb(void *arg, const char *name)
{
	struct ci_scan *s = arg;
	if (utf8_case_equal(s->want, name)) {
		s->found = strdup(name);
		return 1;
	}
	char sn[VFS_SHORT_NAME_MAX + 1];
	if (s->want_short && !s->found_short && vfs_short_name(name, sn) &&
	    utf8_case_equal(s->want, sn))
		s->found_short = strdup(name);
	return 0;
}

static int dir_walk(int dirfd, vfs_dir_cb cb, void *arg);

/* Finds a case-insensitive match for comp in directory dir, or the name whose 8.3 short name comp
 * is; 0 with *found, or -ENOENT. */
static int ci_find(struct posix_share *ps, const char *dir, const char *comp, char **found)
{
	int fd = beneath_open(ps, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	struct ci_scan s = {.want = comp, .want_short = strchr(comp, '~') != NULL};
	if (!s.want_short) {
		int r = vfs_posix_ci_find(ps->ci, fd, comp, found);
		if (r != -EAGAIN) {
			close(fd);
			return r;
		}
	}
	int rc = dir_walk(fd, ci_scan_cb, &s);
	close(fd);
	if (rc >= 0 && !s.found) {
		s.found = s.found_short; /* a real name wins over a short one */
		s.found_short = NULL;
	}
	free(s.found_short);
	if (rc < 0) {
		free(s.found);
		return rc;
	}
	if (!s.found)
		return -ENOENT;
	*found = s.found;
	return 0;
}

/* The slow path: walks the components, correcting the case of each missing one. */
static int lookup_walk(struct posix_share *ps, const char *path, char **real)
{
	char *copy = strdup(path), *prefix = strdup(""), *save = NULL;
	int rc = copy && prefix ? 0 : -ENOMEM;
	for (char *c = copy ? strtok_r(copy, "/", &save) : NULL; c && !rc;
	     c = strtok_r(NULL, "/", &save)) {
		bool last = save == NULL || *save == '\0';
		char *cand = path_join(prefix, c);
		if (!cand) {
			rc = -ENOMEM;
			break;
		}
		int fd = beneath_open(ps, cand, O_PATH, 0);
		if (fd >= 0) {
			close(fd);
		} else if (fd == -ENOENT && !ps->base.opts.case_sensitive) {
			char *m = NULL;
			if (ci_find(ps, prefix, c, &m) == 0) {
				free(cand);
				cand = path_join(prefix, m);
				free(m);
				if (!cand)
					rc = -ENOMEM;
			} else {
				rc = last ? -ENOENT : -ENOTDIR;
			}
		} else if (fd == -ENOENT) {
			rc = last ? -ENOENT : -ENOTDIR;
		} else {
			rc = fd == -ENOTDIR ? -ENOTDIR : fd;
		}
		if (!rc || rc == -ENOENT) {
			free(prefix);
			prefix = cand;
		} else {
			free(cand);
		}
	}
	free(copy);
	if (!rc || rc == -ENOENT) {
		*real = prefix;
		return rc;
	}
	free(prefix);
	return rc;
}

static int posix_lookup(struct vfs_share *sh, const char *path, char **real, struct vfs_stat *st)
{
	struct posix_share *ps = PS(sh);
	struct vfs_stat tmp;
	if (!st)
		st = &tmp;
	*real = NULL;
	/* the hot path: the name exists with the asked case */
	int rc = stat_path(ps, path, st);
	if (rc == 0) {
		*real = strdup(path);
		return *real ? 0 : -ENOMEM;
	}
	if (rc != -ENOENT)
		return rc == -ENOTDIR ? -ENOTDIR : rc;
	rc = lookup_walk(ps, path, real);
	if (rc == 0) {
		rc = stat_path(ps, *real, st);
		if (rc < 0) {
			free(*real);
			*real = NULL;
		}
	}
	return rc;
}

/* ---- open / close ---- */

static int new_file(struct vfs_share *sh, int fd, bool opath, const char *path,
		    struct vfs_file **out)
{
	struct statx sx;
	int rc = statx_fd(fd, &sx);
	struct posix_file *pf = rc ? NULL : calloc(1, sizeof(*pf));
	char *p = pf ? strdup(path) : NULL;
	if (!p) {
		free(pf);
		close(fd);
		return rc ? rc : -ENOMEM;
	}
	pf->base.sh = sh;
	pf->base.is_dir = S_ISDIR(sx.stx_mode);
	pf->base.path = p;
	pf->fd = fd;
	pf->opath = opath;
	*out = &pf->base;
	return 0;
}

static int store_new_meta(struct posix_file *pf, uint32_t attrs)
{
	uint8_t meta[VFS_META_LEN_MAX];
	struct vfs_meta m = {.attrs = attrs & ATTR_SETTABLE, .btime = nttime_now()};
	if (!pf->base.is_dir)
		m.attrs |= ATTR_ARCHIVE; /* NTFS marks every new file for backup */
	int rc = meta_set_fd(pf, meta, vfs_meta_pack(meta, &m));
	if (rc < 0)
		LOG_INFO(LOG_VFS, "%s: cannot store DOS attributes: %s", pf->base.path,
			 strerror(-rc));
	return 0; /* a file system without user xattrs still serves files */
}

/* fsyncs the directory holding a file this open created, so that after a FLUSH (or a
 * write-through create) the name survives a crash along with the data. A parent that cannot be
 * opened for reading (write and search permission only) is left alone. */
static int sync_parent(struct posix_file *pf)
{
	if (!pf->new_entry)
		return 0;
	char *parent;
	const char *last;
	if (split_parent(pf->base.path, &parent, &last) < 0)
		return -ENOMEM;
	int dfd = beneath_open(PS(pf->base.sh), parent, O_RDONLY | O_DIRECTORY, 0);
	free(parent);
	if (dfd < 0)
		return dfd == -EACCES ? 0 : dfd;
	int rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	if (rc == 0)
		pf->new_entry = false;
	return rc;
}

static int create_obj(struct posix_share *ps, const char *path, unsigned flags, uint32_t attrs,
		      struct vfs_file **out)
{
	int fd;
	if (!*path)
		return -EEXIST;
	if (flags & VFS_O_DIR) {
		char *parent;
		const char *last;
		if (split_parent(path, &parent, &last) < 0)
			return -ENOMEM;
		int pfd = beneath_open(ps, parent, O_PATH | O_DIRECTORY, 0);
		free(parent);
		if (pfd < 0)
			return pfd == -ENOENT ? -ENOTDIR : pfd;
		if (mkdirat(pfd, last, 0777 & ps->base.opts.directory_mask) < 0) {
			int e = errno;
			close(pfd);
			return -e;
		}
		fd = openat(pfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		close(pfd);
	} else {
		int acc = (flags & VFS_O_READ) && (flags & VFS_O_WRITE) ? O_RDWR
			  : (flags & VFS_O_WRITE)			? O_WRONLY
									: O_RDONLY;
		if (flags & VFS_O_SYNC)
			acc |= O_DSYNC;
		/* O_EXCL never follows a symlink in the last component */
		fd = beneath_open(ps, path, O_CREAT | O_EXCL | acc,
				  0666 & ps->base.opts.create_mask);
		if (fd == -ENOENT)
			fd = -ENOTDIR; /* the parent vanished: path not found */
	}
	if (fd < 0)
		return fd;
	int rc = new_file(&ps->base, fd, false, path, out);
	if (rc == 0) {
		store_new_meta(PF(*out), attrs);
		PF(*out)->new_entry = true;
		/* write-through: the new name is as durable as the data written through it */
		if (flags & VFS_O_SYNC)
			sync_parent(PF(*out));
	}
	return rc;
}

static int posix_open(struct vfs_share *sh, const char *path, unsigned flags, uint32_t attrs,
		      struct vfs_file **out)
{
	struct posix_share *ps = PS(sh);
	if (flags & VFS_O_CREATE)
		return create_obj(ps, path, flags, attrs, out);
	bool rd = flags & VFS_O_READ, wrt = flags & VFS_O_WRITE;
	int of = rd && wrt ? O_RDWR : wrt ? O_WRONLY : O_RDONLY;
	if (flags & VFS_O_SYNC)
		of |= O_DSYNC;
	if (flags & VFS_O_DIR)
		of |= O_DIRECTORY;
	/* O_NONBLOCK: a FIFO or device in the share must not hang or trigger the open */
	int fd = beneath_open(ps, path, of | O_NOCTTY | O_NONBLOCK, 0);
	bool opath = false;
	if ((fd == -EACCES || fd == -EPERM) && !rd && !wrt) {
		/* attribute-only opens need no data permission */
		fd = beneath_open(ps, path, O_PATH | (of & O_DIRECTORY), 0);
		opath = true;
	}
	if (fd < 0)
		return fd;
	struct statx sx;
	int rc = statx_fd(fd, &sx);
	if (!rc && (flags & VFS_O_NONDIR) && S_ISDIR(sx.stx_mode))
		rc = -EISDIR;
	else if (!rc && !S_ISDIR(sx.stx_mode) && !S_ISREG(sx.stx_mode) && (rd || wrt))
		rc = -EACCES; /* no data access to special files through SMB */
	if (rc) {
		close(fd);
		return rc;
	}
	if (!opath && S_ISREG(sx.stx_mode))
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return new_file(sh, fd, opath, path, out);
}

static void posix_close(struct vfs_file *f)
{
	struct posix_file *pf = PF(f);
	close(pf->fd);
	free(f->path);
	free(f->stream);
	free(pf);
}

/* ---- data ---- */

static ssize_t posix_pread(struct vfs_file *f, void *buf, size_t n, uint64_t off)
{
	ssize_t r;
	if (off > INT64_MAX)
		return -EINVAL;
	if (f->stream)
		return vfs_posix_stream_pread(PF(f), buf, n, off);
	do
		r = pread(PF(f)->fd, buf, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

ssize_t vfs_posix_pwrite(struct vfs_file *f, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	if (off > INT64_MAX || n > INT64_MAX - off)
		return -EINVAL;
	vfs_posix_ctime_touch(PF(f));
	if (f->stream) {
		int rc = vfs_posix_stream_update(PF(f), buf, n, off, off + n, false);
		return rc < 0 ? rc : (ssize_t)n;
	}
	while (done < n) {
		ssize_t r =
		    pwrite(PF(f)->fd, (const uint8_t *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int posix_fsync(struct vfs_file *f)
{
	if (fsync(PF(f)->fd) < 0)
		return -errno;
	return sync_parent(PF(f));
}

static int posix_truncate(struct vfs_file *f, uint64_t size)
{
	if (size > INT64_MAX)
		return -EINVAL;
	vfs_posix_ctime_touch(PF(f));
	if (f->stream)
		return vfs_posix_stream_update(PF(f), NULL, 0, 0, size, true);
	return ftruncate(PF(f)->fd, (off_t)size) < 0 ? -errno : 0;
}

static int posix_allocate(struct vfs_file *f, uint64_t size)
{
	if (size > INT64_MAX)
		return -EINVAL;
	if (size == 0 || f->stream)
		return 0;
	if (fallocate(PF(f)->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size) < 0) {
		/* a reservation is a hint: file systems without fallocate still succeed */
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return 0;
		return -errno;
	}
	return 0;
}

/* ---- access ---- */

static int access_fd(int fd, const char *name, int mode)
{
	/* AT_EACCESS: check with the thread's fsuid/fsgid, not the real ids */
	int flags = AT_EACCESS | (*name ? 0 : AT_EMPTY_PATH);
	return syscall(SYS_faccessat2, fd, name, mode, flags) == 0;
}

static int posix_access(struct vfs_file *f, unsigned *acc)
{
	struct posix_file *pf = PF(f);
	struct statx sx;
	int rc = statx_fd(pf->fd, &sx);
	if (rc < 0)
		return rc;
	unsigned a = 0;
	if (access_fd(pf->fd, "", R_OK))
		a |= VFS_ACC_READ;
	if (access_fd(pf->fd, "", W_OK))
		a |= VFS_ACC_WRITE;
	if (access_fd(pf->fd, "", X_OK))
		a |= VFS_ACC_EXEC;
	uint32_t fsuid = vfs_ident_fsuid();
	if (fsuid == 0 || fsuid == sx.stx_uid)
		a |= VFS_ACC_OWNER;
	if (*f->path) {
		char *parent;
		const char *last;
		if (split_parent(f->path, &parent, &last) < 0)
			return -ENOMEM;
		int pfd = beneath_open(PS(f->sh), parent, O_PATH | O_DIRECTORY, 0);
		free(parent);
		if (pfd >= 0) {
			if (access_fd(pfd, "", W_OK | X_OK))
				a |= VFS_ACC_DELETE;
			close(pfd);
		}
	}
	*acc = a;
	return 0;
}

/* ---- directories ---- */

static int dir_walk(int dirfd, vfs_dir_cb cb, void *arg)
{
	/* a private descriptor: the caller's stays unmoved and usable */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (cb(arg, de->d_name))
			break;
	}
	closedir(d);
	return rc;
}

static int posix_readdir(struct vfs_file *dir, vfs_dir_cb cb, void *arg)
{
	if (!dir->is_dir)
		return -ENOTDIR;
	return dir_walk(PF(dir)->fd, cb, arg);
}

static int posix_stat_at(struct vfs_file *dir, const char *name, struct vfs_stat *st)
{
	struct posix_file *pf = PF(dir);
	if (vfs_name_check(name) < 0)
		return -EINVAL;
	struct statx sx;
	if (statx(pf->fd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		  STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	if (S_ISLNK(sx.stx_mode)) {
		/* follow it only beneath the root: a link out of the share stays invisible */
		char *p = path_join(dir->path, name);
		if (!p)
			return -ENOMEM;
		int rc = stat_path(PS(dir->sh), p, st);
		free(p);
		return rc;
	}
	char pp[320];
	vfs_posix_proc_path(pp, sizeof(pp), pf->fd, name);
	uint8_t meta[64];
	ssize_t n = lgetxattr(pp, VFS_META_XATTR, meta, sizeof(meta));
	fill_stat(&sx, meta, n, st);
	return 0;
}

/* ---- names ---- */

/* Opens the parent directory of path beneath the root; *last points into path. */
static int open_parent(struct posix_share *ps, const char *path, const char **last)
{
	char *parent;
	if (!*path || vfs_path_check(path) < 0)
		return -EINVAL;
	if (split_parent(path, &parent, last) < 0)
		return -ENOMEM;
	int fd = beneath_open(ps, parent, O_PATH | O_DIRECTORY, 0);
	free(parent);
	return fd == -ENOENT ? -ENOTDIR : fd;
}

static int posix_rename(struct vfs_file *f, const char *to, bool replace)
{
	struct posix_share *ps = PS(f->sh);
	const char *slast, *dlast;
	char *nto = strdup(to);
	if (!nto)
		return -ENOMEM;
	int sfd = open_parent(ps, f->path, &slast);
	int dfd = sfd < 0 ? sfd : open_parent(ps, to, &dlast);
	int rc = dfd < 0 ? dfd : 0;
	if (!rc && renameat2(sfd, slast, dfd, dlast, replace ? 0 : RENAME_NOREPLACE) < 0)
		rc = -errno;
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (rc) {
		free(nto);
		return rc;
	}
	free(f->path);
	f->path = nto;
	return 0;
}

static int posix_unlink(struct vfs_file *f)
{
	struct posix_file *pf = PF(f);
	const char *last;
	int pfd = open_parent(PS(f->sh), f->path, &last);
	if (pfd < 0)
		return pfd;
	struct statx mine, there;
	int rc = statx_fd(pf->fd, &mine);
	if (!rc && statx(pfd, last, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &there) < 0)
		rc = -errno;
	/* the name must still lead to this file (another open may have renamed it); a symlink
	   opened through its name is removed as a link, never its target */
	if (!rc && !S_ISLNK(there.stx_mode) &&
	    (there.stx_ino != mine.stx_ino || there.stx_dev_major != mine.stx_dev_major ||
	     there.stx_dev_minor != mine.stx_dev_minor))
		rc = -ESTALE;
	bool dir = !S_ISLNK(there.stx_mode) && S_ISDIR(mine.stx_mode);
	if (!rc && unlinkat(pfd, last, dir ? AT_REMOVEDIR : 0) < 0)
		rc = -errno;
	close(pfd);
	return rc;
}

/* ---- metadata updates ---- */

/* The stored metadata of the file, or what a file without it looks like. */
int vfs_posix_meta_load(struct posix_file *pf, struct vfs_meta *m)
{
	uint8_t cur[64];
	ssize_t n = meta_get_fd(pf, cur, sizeof(cur));
	if (n > 0 && vfs_meta_unpack(cur, (size_t)n, m) == 0)
		return 0;
	struct statx sx;
	int rc = statx_fd(pf->fd, &sx);
	if (rc < 0)
		return rc;
	struct vfs_stat st;
	fill_stat(&sx, NULL, 0, &st);
	m->attrs = S_ISDIR(sx.stx_mode) ? 0 : ATTR_ARCHIVE;
	m->btime = st.btime;
	m->ctime = 0;
	return 0;
}

int vfs_posix_meta_store(struct posix_file *pf, const struct vfs_meta *m)
{
	uint8_t meta[VFS_META_LEN_MAX];
	return meta_set_fd(pf, meta, vfs_meta_pack(meta, m));
}

/* Data changed through pf: unless pf set ChangeTime itself, the file reports its own ctime
 * again (the stored one is dropped). */
void vfs_posix_ctime_touch(struct posix_file *pf)
{
	if (pf->ctime_pinned)
		return;
	uint8_t cur[64];
	ssize_t n = meta_get_fd(pf, cur, sizeof(cur));
	struct vfs_meta m;
	if (n <= 0 || vfs_meta_unpack(cur, (size_t)n, &m) < 0 || !m.ctime)
		return;
	m.ctime = 0;
	(void)vfs_posix_meta_store(pf, &m);
}

static int posix_set_meta(struct vfs_file *f, uint32_t attrs, uint64_t btime)
{
	struct posix_file *pf = PF(f);
	struct vfs_meta m;
	int rc = vfs_posix_meta_load(pf, &m);
	if (rc < 0)
		return rc;
	if (attrs != VFS_ATTRS_KEEP)
		m.attrs = (attrs & ATTR_SETTABLE) | (m.attrs & ATTR_SPARSE);
	if (btime)
		m.btime = btime;
	return vfs_posix_meta_store(pf, &m);
}

static int posix_set_ctime(struct vfs_file *f, uint64_t ctime)
{
	struct posix_file *pf = PF(f);
	struct vfs_meta m;
	int rc = vfs_posix_meta_load(pf, &m);
	if (rc < 0 || !ctime)
		return rc;
	m.ctime = ctime;
	rc = vfs_posix_meta_store(pf, &m);
	if (rc == 0)
		pf->ctime_pinned = true;
	return rc;
}

static int posix_set_times(struct vfs_file *f, uint64_t atime, uint64_t mtime)
{
	struct posix_file *pf = PF(f);
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
	if (atime)
		ts[0] = nttime_to_timespec(atime);
	if (mtime)
		ts[1] = nttime_to_timespec(mtime);
	if (!atime && !mtime)
		return 0;
	if (!pf->opath)
		return futimens(pf->fd, ts) < 0 ? -errno : 0;
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	return utimensat(AT_FDCWD, p, ts, 0) < 0 ? -errno : 0;
}

static int posix_statfs(struct vfs_share *sh, struct vfs_fsstat *out)
{
	struct statvfs sv;
	if (fstatvfs(PS(sh)->root, &sv) < 0)
		return -errno;
	out->unit_size = (uint32_t)(sv.f_frsize ? sv.f_frsize : sv.f_bsize);
	out->total_units = sv.f_blocks;
	out->free_units = sv.f_bfree;
	out->avail_units = sv.f_bavail;
	out->name_max = (uint32_t)sv.f_namemax;
	out->fsid = sv.f_fsid;
	return 0;
}

/* ---- shares ---- */

static int posix_data_fd(struct vfs_file *f)
{
	if (f->stream || f->is_dir || PF(f)->opath || PF(f)->fd < 0)
		return -ENOSYS;
	return PF(f)->fd;
}

/* inotify_add_watch works on the /proc/self/fd path of an O_PATH descriptor too */
static int posix_watch_fd(struct vfs_file *f)
{
	struct posix_file *pf = PF(f);
	return f->is_dir && pf->fd >= 0 ? pf->fd : -ENOSYS;
}

const struct vfs_ops vfs_posix_ops = {
    .name = "posix",
    .lookup = posix_lookup,
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = vfs_posix_pwrite,
    .fsync = posix_fsync,
    .fstat = vfs_posix_fstat,
    .access = posix_access,
    .readdir = posix_readdir,
    .stat_at = posix_stat_at,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .truncate = posix_truncate,
    .allocate = posix_allocate,
    .set_meta = posix_set_meta,
    .set_times = posix_set_times,
    .set_ctime = posix_set_ctime,
    .statfs = posix_statfs,
    .watch_fd = posix_watch_fd,
    .data_fd = posix_data_fd,
    .set_sparse = vfs_posix_set_sparse,
    .zero_range = vfs_posix_zero_range,
    .next_data = vfs_posix_next_data,
    .open_stream = vfs_posix_open_stream,
    .stream_list = vfs_posix_stream_list,
    .stream_rename = vfs_posix_stream_rename,
    .stream_delete = vfs_posix_stream_delete,
    .get_ntacl = vfs_posix_get_ntacl,
    .set_ntacl = vfs_posix_set_ntacl,
    .set_perms = vfs_posix_set_perms,
    .get_posix_acl = vfs_posix_get_posix_acl,
    .set_posix_acl = vfs_posix_set_posix_acl,
};

int vfs_share_open(const char *path, const struct vfs_share_opts *opts, struct vfs_share **out)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct posix_share *ps = calloc(1, sizeof(*ps));
	if (!ps) {
		close(fd);
		return -ENOMEM;
	}
	ps->base.ops = &vfs_posix_ops;
	ps->base.opts = *opts;
	if (!ps->base.opts.create_mask)
		ps->base.opts.create_mask = 0744;
	if (!ps->base.opts.directory_mask)
		ps->base.opts.directory_mask = 0755;
	ps->root = fd;
	if (!opts->case_sensitive)
		ps->ci = vfs_posix_ci_new(fd);
	*out = &ps->base;
	return 0;
}

void vfs_share_close(struct vfs_share *sh)
{
	if (!sh)
		return;
	vfs_posix_ci_free(PS(sh)->ci);
	close(PS(sh)->root);
	free(sh);
}
