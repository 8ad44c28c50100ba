/* The VFS layer: how the SMB2 layer reaches files. A share is opened once per tree connect; a
 * file or directory handle per CREATE. Modules implement struct vfs_ops (posix is the default;
 * forwarding and S3 replication follow as stackable modules).
 *
 * Error vocabulary: every function returns 0 or a negative errno; the SMB2 layer maps errno to
 * NTSTATUS through ntstatus_from_errno() only. Two conventions of this layer on top of that:
 *  - a path that escapes the share (`..` above the root, an absolute symlink, a symlink leading
 *    outside) gives -EACCES (openat2's EXDEV is translated, so it never reads as "not same
 *    device"): the client sees STATUS_ACCESS_DENIED, as Windows does for a reparse point it
 *    refuses to follow.
 *  - lookups tell a missing last component (-ENOENT -> OBJECT_NAME_NOT_FOUND) from a missing or
 *    non-directory intermediate one (-ENOTDIR -> OBJECT_PATH_NOT_FOUND).
 *
 * Paths handed to the VFS are relative to the share root, '/' separated, without leading or
 * trailing '/', no empty, "." or ".." components ("" is the root); the SMB2 layer validates wire
 * names into that form (vfs_name_check helps). */
#ifndef SHOAL_VFS_H
#define SHOAL_VFS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A mapped user's POSIX identity. */
struct vfs_ident {
	uint32_t uid, gid;
	int ngroups;
	uint32_t groups[32];
};

/* Makes the calling thread's file system identity id (setfsuid/setfsgid and the raw setgroups
 * syscall, which unlike glibc's wrapper changes only this thread). Cheap when the thread already
 * has it. A no-op returning 0 when the process does not run as root. NULL = the server's own
 * identity. Returns 0 or -errno. */
int vfs_ident_apply(const struct vfs_ident *id);
/* The identity the calling thread has now (as last applied; zeros = the server's own), so code
 * running outside a request (connection teardown) can switch and restore it. */
void vfs_ident_get(struct vfs_ident *out);
/* The calling thread's file system uid (its fsuid when running as root, else the euid). */
uint32_t vfs_ident_fsuid(void);

struct vfs_share; /* an opened share root */
struct vfs_file;  /* an opened file or directory */

/* Share options the VFS needs, taken from the share's configuration at tree connect. */
struct vfs_share_opts {
	bool read_only;
	bool case_sensitive;
	unsigned create_mask;
	unsigned directory_mask;
};

/* Opens the share root (path must be an existing directory). Called by TREE_CONNECT (lead's
 * smb2_tree.c) under the session's identity; returns 0 or -errno. vfs_share_close releases it
 * when the tree is disconnected. */
int vfs_share_open(const char *path, const struct vfs_share_opts *opts, struct vfs_share **out);
void vfs_share_close(struct vfs_share *sh);

/* ---- the rest of this header is the posix module's contract; see vfs_posix.c ---- */

/* Metadata of a file as the SMB2 layer needs it: times are FILETIMEs, attrs the DOS attributes
 * (MS-FSCC 2.6) already completed (DIRECTORY on directories, NORMAL when nothing else is set). */
struct vfs_stat {
	uint64_t dev, ino;
	uint32_t mode, nlink, uid, gid;
	uint64_t size, alloc;
	uint64_t btime, atime, mtime, ctime;
	uint32_t attrs;
};

/* File system sizes (FileFsSizeInformation and friends). */
struct vfs_fsstat {
	uint64_t total_units, free_units, avail_units; /* in units of unit_size bytes */
	uint32_t unit_size;			       /* bytes per allocation unit */
	uint32_t name_max;
	uint64_t fsid;
};

/* vfs_open flags */
#define VFS_O_READ 0x01u   /* read data */
#define VFS_O_WRITE 0x02u  /* write data */
#define VFS_O_DIR 0x04u	   /* must be (or create) a directory */
#define VFS_O_NONDIR 0x08u /* must not be a directory */
#define VFS_O_CREATE 0x10u /* create it; -EEXIST if it exists */
#define VFS_O_SYNC 0x20u   /* write through (O_DSYNC) */

/* vfs_access bits */
#define VFS_ACC_READ 0x01u   /* r: read data / list directory */
#define VFS_ACC_WRITE 0x02u  /* w: write data / add entries */
#define VFS_ACC_EXEC 0x04u   /* x: execute / traverse */
#define VFS_ACC_OWNER 0x08u  /* owns the file (or is root): may change times, mode, owner */
#define VFS_ACC_DELETE 0x10u /* may remove its name (w+x on the parent directory) */

/* set_meta: keep the stored attributes */
#define VFS_ATTRS_KEEP UINT32_MAX

/* Called once per directory entry name ("." and ".." excluded); non-zero stops the walk. */
typedef int (*vfs_dir_cb)(void *arg, const char *name);

/* The named entries of a POSIX access ACL ("user:ID:rwx", "group:ID:rwx"): the owner, owning
 * group and others are the mode's. perm is rwx as in a mode (4 2 1). */
#define VFS_ACL_MAX 64
struct vfs_posix_acl {
	int n;
	struct {
		bool group;
		uint32_t id;
		uint8_t perm;
	} e[VFS_ACL_MAX];
	uint8_t group_obj; /* the owning group's own entry (the mode's group bits show the mask) */
	uint8_t mask;	   /* the mask entry; 7 when there are no named entries */
};

/* A module's operations. Every function runs under the calling thread's identity (see
 * vfs_ident_apply); paths are share-relative (see the top of this file). */
struct vfs_ops {
	const char *name;
	/* Resolves path, correcting its case on shares that are not case sensitive. *real gets
	   the malloc'ed on-disk path (also when the last component is missing: then the corrected
	   parent plus the last component as given). st (may be NULL) is filled when it exists.
	   0, -ENOENT (last missing), -ENOTDIR (path not found), -EACCES (escapes) or -errno. */
	int (*lookup)(struct vfs_share *sh, const char *path, char **real, struct vfs_stat *st);
	/* Opens (or with VFS_O_CREATE creates; attrs are then stored) a file or directory. */
	int (*open)(struct vfs_share *sh, const char *path, unsigned flags, uint32_t attrs,
		    struct vfs_file **out);
	void (*close)(struct vfs_file *f);
	ssize_t (*pread)(struct vfs_file *f, void *buf, size_t n, uint64_t off);
	ssize_t (*pwrite)(struct vfs_file *f, const void *buf, size_t n, uint64_t off);
	int (*fsync)(struct vfs_file *f);
	int (*fstat)(struct vfs_file *f, struct vfs_stat *st);
	/* What the calling identity may do to the open file (VFS_ACC_* bits), from the POSIX
	   permission checks; the SMB2 layer maps them onto an access mask. */
	int (*access)(struct vfs_file *f, unsigned *acc);
	/* Walks the names of an opened directory (a private cursor: f is not moved). */
	int (*readdir)(struct vfs_file *dir, vfs_dir_cb cb, void *arg);
	/* Metadata of one entry of an opened directory, following symlinks only while they stay
	   inside the share (entries leading out give -EACCES: callers skip them). */
	int (*stat_at)(struct vfs_file *dir, const char *name, struct vfs_stat *st);
	/* Renames the open file to the share-relative path to (its parent must exist). */
	int (*rename)(struct vfs_file *f, const char *to, bool replace);
	/* Removes the open file's name (rmdir for directories), after checking the name still
	   leads to this file. */
	int (*unlink)(struct vfs_file *f);
	int (*truncate)(struct vfs_file *f, uint64_t size);
	/* Reserves space up to size without changing the end of file. */
	int (*allocate)(struct vfs_file *f, uint64_t size);
	/* Stores DOS attributes (VFS_ATTRS_KEEP = unchanged) and creation time (0 = unchanged). */
	int (*set_meta)(struct vfs_file *f, uint32_t attrs, uint64_t btime);
	/* Sets access and write times (FILETIMEs; 0 = unchanged). */
	int (*set_times)(struct vfs_file *f, uint64_t atime, uint64_t mtime);
	/* Sets the ChangeTime reported for the file (a FILETIME, kept in the metadata xattr since
	   POSIX ctime cannot be set). Writes through this handle leave it; data changes through
	   other handles make the file report its own ctime again, as NTFS updates it. */
	int (*set_ctime)(struct vfs_file *f, uint64_t ctime);
	int (*statfs)(struct vfs_share *sh, struct vfs_fsstat *out);
	/* A kernel descriptor of the open directory that change notification may watch with
	   inotify (not to be closed by the caller), or -ENOSYS when the module has none (changes
	   are then reported only when made through this server). NULL = -ENOSYS. */
	int (*watch_fd)(struct vfs_file *f);
	/* A kernel descriptor that sendfile may read the file's data from (the bytes pread
	   returns, at the same offsets; not to be closed by the caller), or -ENOSYS when there is
	   none (a stream, a module that keeps data elsewhere). NULL = -ENOSYS. */
	int (*data_fd)(struct vfs_file *f);
	/* Sets or clears the SPARSE_FILE attribute (MS-FSCC 2.3.64). Clearing it allocates the
	   file's holes, as NTFS does, where the file system can. */
	int (*set_sparse)(struct vfs_file *f, bool sparse);
	/* Zeroes [off, off+len) without changing the end of file; dealloc frees the blocks
	   (a hole) where the file system can, otherwise they stay allocated. */
	int (*zero_range)(struct vfs_file *f, uint64_t off, uint64_t len, bool dealloc);
	/* The first allocated (data) range at or after off: *start (>= off) and *end (the next
	   hole or the end of file). -ENXIO when there is no data at or after off. */
	int (*next_data)(struct vfs_file *f, uint64_t off, uint64_t *start, uint64_t *end);
	/* ---- alternate data streams (MS-FSCC 2.1.5.3) ----
	   A stream is opened from an open of its file and is a vfs_file of its own whose data
	   operations (pread, pwrite, fstat's size, truncate) reach the stream; the metadata
	   operations (set_meta, set_times, access, unlink, rename) act on the file. Names match
	   case-insensitively and keep the case they were created with (f->stream). */
	/* Opens the stream name of file f; with VFS_O_CREATE creates it empty (-EEXIST when it
	   exists). -ENOENT when missing. */
	int (*open_stream)(struct vfs_file *f, const char *name, unsigned flags,
			   struct vfs_file **out);
	/* Calls cb for each named stream of f's file (size in bytes); non-zero stops. */
	int (*stream_list)(struct vfs_file *f,
			   int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
	/* Renames the opened stream s; -EEXIST when to exists and !replace. */
	int (*stream_rename)(struct vfs_file *s, const char *to, bool replace);
	/* Removes the opened stream s. */
	int (*stream_delete)(struct vfs_file *s);
	/* The NT security descriptor record kept with the file (VFS_NTACL_XATTR_ROOT or
	   VFS_NTACL_XATTR; the SMB layer owns its format). Read and written with the server's own identity: the SMB layer has
	   checked READ_CONTROL / WRITE_DAC against the descriptor itself, and a descriptor that
	   denies the owner everything (mode 000) must still be readable. get_ntacl returns the
	   length, -ENODATA when there is none, -ERANGE when len is too small; set_ntacl with len 0
	   removes it. */
	ssize_t (*get_ntacl)(struct vfs_file *f, void *buf, size_t len);
	int (*set_ntacl)(struct vfs_file *f, const void *buf, size_t len);
	/* Sets the permission bits (mode & 07777) and owner/group (UINT32_MAX = unchanged) with
	   the server's identity: the mapping of a descriptor a client set, after the SMB layer
	   checked WRITE_DAC / WRITE_OWNER. */
	int (*set_perms)(struct vfs_file *f, uint32_t mode, uint32_t uid, uint32_t gid);
	/* The file's POSIX access ACL (see struct vfs_posix_acl): -EOPNOTSUPP where the file
	   system has none. Read with the server's identity, like the descriptor record. */
	int (*get_posix_acl)(struct vfs_file *f, struct vfs_posix_acl *out);
	/* Sets the permission bits (mode & 0777 for owner, owning group and others) and the named
	   entries of acl (none: the extended ACL is removed, a plain chmod), with the server's
	   identity; the mask becomes the union of the group class. -EOPNOTSUPP where the file
	   system has no POSIX ACLs and acl has named entries. */
	int (*set_posix_acl)(struct vfs_file *f, uint32_t mode, const struct vfs_posix_acl *acl);
};

/* The parts of shares and files every module shares; modules embed them first. */
struct vfs_share {
	const struct vfs_ops *ops;
	struct vfs_share_opts opts;
};

struct vfs_file {
	struct vfs_share *sh;
	bool is_dir;
	char *path;   /* share-relative, kept current across renames */
	char *stream; /* an alternate data stream of path (its stored name), or NULL */
};

/* The dispatching wrappers the SMB2 layer calls. */
static inline int vfs_lookup(struct vfs_share *sh, const char *path, char **real,
			     struct vfs_stat *st)
{
	return sh->ops->lookup(sh, path, real, st);
}
static inline int vfs_open(struct vfs_share *sh, const char *path, unsigned flags, uint32_t attrs,
			   struct vfs_file **out)
{
	return sh->ops->open(sh, path, flags, attrs, out);
}
static inline void vfs_close(struct vfs_file *f)
{
	if (f)
		f->sh->ops->close(f);
}
static inline ssize_t vfs_pread(struct vfs_file *f, void *buf, size_t n, uint64_t off)
{
	return f->sh->ops->pread(f, buf, n, off);
}
static inline ssize_t vfs_pwrite(struct vfs_file *f, const void *buf, size_t n, uint64_t off)
{
	return f->sh->ops->pwrite(f, buf, n, off);
}
static inline int vfs_fsync(struct vfs_file *f)
{
	return f->sh->ops->fsync(f);
}
static inline int vfs_fstat(struct vfs_file *f, struct vfs_stat *st)
{
	return f->sh->ops->fstat(f, st);
}
static inline int vfs_access(struct vfs_file *f, unsigned *acc)
{
	return f->sh->ops->access(f, acc);
}
static inline int vfs_readdir(struct vfs_file *dir, vfs_dir_cb cb, void *arg)
{
	return dir->sh->ops->readdir(dir, cb, arg);
}
static inline int vfs_stat_at(struct vfs_file *dir, const char *name, struct vfs_stat *st)
{
	return dir->sh->ops->stat_at(dir, name, st);
}
static inline int vfs_rename(struct vfs_file *f, const char *to, bool replace)
{
	return f->sh->ops->rename(f, to, replace);
}
static inline int vfs_unlink(struct vfs_file *f)
{
	return f->sh->ops->unlink(f);
}
static inline int vfs_truncate(struct vfs_file *f, uint64_t size)
{
	return f->sh->ops->truncate(f, size);
}
static inline int vfs_allocate(struct vfs_file *f, uint64_t size)
{
	return f->sh->ops->allocate(f, size);
}
static inline int vfs_set_meta(struct vfs_file *f, uint32_t attrs, uint64_t btime)
{
	return f->sh->ops->set_meta(f, attrs, btime);
}
static inline int vfs_set_times(struct vfs_file *f, uint64_t atime, uint64_t mtime)
{
	return f->sh->ops->set_times(f, atime, mtime);
}
static inline int vfs_set_ctime(struct vfs_file *f, uint64_t ctime)
{
	return f->sh->ops->set_ctime(f, ctime);
}
static inline int vfs_statfs(struct vfs_share *sh, struct vfs_fsstat *out)
{
	return sh->ops->statfs(sh, out);
}

static inline int vfs_data_fd(struct vfs_file *f)
{
	return f->sh->ops->data_fd ? f->sh->ops->data_fd(f) : -ENOSYS;
}
static inline int vfs_watch_fd(struct vfs_file *f)
{
	return f->sh->ops->watch_fd ? f->sh->ops->watch_fd(f) : -ENOSYS;
}

static inline int vfs_set_sparse(struct vfs_file *f, bool sparse)
{
	return f->sh->ops->set_sparse(f, sparse);
}
static inline int vfs_zero_range(struct vfs_file *f, uint64_t off, uint64_t len, bool dealloc)
{
	return f->sh->ops->zero_range(f, off, len, dealloc);
}
static inline int vfs_next_data(struct vfs_file *f, uint64_t off, uint64_t *start, uint64_t *end)
{
	return f->sh->ops->next_data(f, off, start, end);
}

static inline int vfs_open_stream(struct vfs_file *f, const char *name, unsigned flags,
				  struct vfs_file **out)
{
	return f->sh->ops->open_stream(f, name, flags, out);
}
static inline int vfs_stream_list(struct vfs_file *f,
				  int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	return f->sh->ops->stream_list(f, cb, arg);
}
static inline int vfs_stream_rename(struct vfs_file *s, const char *to, bool replace)
{
	return s->sh->ops->stream_rename(s, to, replace);
}
static inline int vfs_stream_delete(struct vfs_file *s)
{
	return s->sh->ops->stream_delete(s);
}

static inline ssize_t vfs_get_ntacl(struct vfs_file *f, void *buf, size_t len)
{
	return f->sh->ops->get_ntacl(f, buf, len);
}
static inline int vfs_set_ntacl(struct vfs_file *f, const void *buf, size_t len)
{
	return f->sh->ops->set_ntacl(f, buf, len);
}
static inline int vfs_set_perms(struct vfs_file *f, uint32_t mode, uint32_t uid, uint32_t gid)
{
	return f->sh->ops->set_perms(f, mode, uid, gid);
}

static inline int vfs_get_posix_acl(struct vfs_file *f, struct vfs_posix_acl *out)
{
	return f->sh->ops->get_posix_acl(f, out);
}
static inline int vfs_set_posix_acl(struct vfs_file *f, uint32_t mode,
				    const struct vfs_posix_acl *acl)
{
	return f->sh->ops->set_posix_acl(f, mode, acl);
}

/* The posix module's operations (vfs_share_open uses them). */
extern const struct vfs_ops vfs_posix_ops;

/* ---- names (vfs_name.c) ---- */
/* Checks one path component as a Windows name: not empty, not "." or "..", no control
 * characters and none of \ / : * ? " < > |, at most 255 bytes. 0 or -EINVAL. */
int vfs_name_check(const char *comp);
/* Checks a share-relative '/' separated path component by component ("" is valid). */
int vfs_path_check(const char *path);
/* Resolves "." and ".." components of a '/'-separated share-relative path in place, lexically
 * (as Windows does for SMB2 names: "dir\.." is dir's parent). 0, or -EINVAL when ".." would
 * climb above the share root. Runs before the path reaches the file system, which still resolves
 * it beneath the share root (openat2 RESOLVE_BENEATH), so this is a convenience, not the guard. */
int vfs_path_normalize(char *path);
/* Windows wildcard match (MS-FSRTL FsRtlIsNameInExpression semantics for * ? < > "),
 * case-insensitive unless case_sensitive. */
bool vfs_wildcard_match(const char *pattern, const char *name, bool case_sensitive);
/* The 8.3 short name of a long name, as FileAlternateNameInformation and the directory listings
 * report it and as a CREATE may use it instead of the name (MS-FSCC 2.1.5.2.1). A name that
 * already is a valid 8.3 name (1-8 characters, optionally a dot and 1-3, all of them legal in
 * 8.3 names, letters of either case) has none: returns 0. Otherwise writes the generated name,
 * NUL-terminated, to out and returns its length: up to four legal characters of the part before
 * the last dot, upper-cased ("_" when none is left), "~" and three base-36 characters of a hash
 * of the whole name, then "." and up to three legal characters of the extension. Generated
 * names are stable (the same name always gets the same short name) but two long names of one
 * directory may share one; a lookup then finds either. */
#define VFS_SHORT_NAME_MAX 12
size_t vfs_short_name(const char *name, char out[VFS_SHORT_NAME_MAX + 1]);

/* ---- the DOS metadata xattr (exposed for tests) ---- */
#define VFS_META_XATTR "user.shoal.meta"
/* Each alternate data stream is one xattr: this prefix and the stream's name; the value is the
 * stream's data. A stream is therefore limited to what the file system allows in one xattr
 * (about 4 KiB on ext4 without ea_inode); longer writes fail with -ENOSPC. */
#define VFS_STREAM_XATTR_PREFIX "user.shoal.ads."
/* The NT security descriptor record: in trusted.* when the server runs as root (local users can
   neither read nor forge it), else in user.* (the server's own files) */
#define VFS_NTACL_XATTR "user.shoal.ntacl"
#define VFS_NTACL_XATTR_ROOT "trusted.shoal.ntacl"
#define VFS_META_LEN 16
/* Encodes/decodes the versioned "user.shoal.meta" value: version 1, flags (bit 0: btime set),
 * 2 reserved bytes, attrs u32 LE, btime u64 LE. Decoding returns 0 or -EINVAL. */
void vfs_meta_encode(uint8_t out[VFS_META_LEN], uint32_t attrs, uint64_t btime);
/* The whole record: flags bit 1 adds the ChangeTime a client set (MS-FSCC 2.4.7), 16 more
 * bytes (ctime u64 LE, 8 reserved), VFS_META_LEN_MAX in all. A file changes ChangeTime by
 * itself again once data is written through another handle (see vfs_posix.c). */
#define VFS_META_LEN_MAX 32
struct vfs_meta {
	uint32_t attrs;
	uint64_t btime; /* 0: not stored */
	uint64_t ctime; /* 0: not stored (the inode's ctime is reported) */
};
/* Returns the encoded length (VFS_META_LEN or VFS_META_LEN_MAX). */
size_t vfs_meta_pack(uint8_t out[VFS_META_LEN_MAX], const struct vfs_meta *m);
/* 0, or -EINVAL for a short value, an unknown version or a ctime flag without its field. */
int vfs_meta_unpack(const uint8_t *in, size_t len, struct vfs_meta *m);
int vfs_meta_decode(const uint8_t *in, size_t len, uint32_t *attrs, uint64_t *btime);

#endif
