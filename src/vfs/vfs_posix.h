/* Internal to the posix VFS module (vfs_posix*.c): its share and file objects and the functions
 * its files share. vfs_posix.c holds resolution, metadata, open/close, data, directories and
 * names; vfs_posix_streams.c the alternate data streams (one xattr each); vfs_posix_acl.c the NT
 * security descriptor record and its POSIX mode/ACL mapping; vfs_posix_sparse.c sparse files,
 * zeroing and allocated ranges. */
#ifndef SHOAL_VFS_POSIX_H
#define SHOAL_VFS_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfs/vfs.h"

/* DOS attributes (MS-FSCC 2.6) this module composes. */
#define ATTR_READONLY 0x0001u
#define ATTR_DIRECTORY 0x0010u
#define ATTR_ARCHIVE 0x0020u
#define ATTR_NORMAL 0x0080u
#define ATTR_SPARSE 0x0200u /* set only through FSCTL_SET_SPARSE */
/* the attributes a client may store; the rest are derived from the file */
#define ATTR_SETTABLE 0x00003127u /* RO HIDDEN SYSTEM ARCHIVE TEMPORARY OFFLINE NOT_INDEXED */

struct ci_cache;

struct posix_share {
	struct vfs_share base;
	int root;            /* O_PATH | O_DIRECTORY */
	struct ci_cache *ci; /* the case index (vfs_posix_ci.c), or NULL */
};

struct posix_file {
	struct vfs_file base;
	int fd;
	bool opath; /* opened O_PATH (no read permission): xattrs and times go through /proc */
	bool ctime_pinned; /* this handle set ChangeTime: its own writes leave it (as NTFS) */
	bool new_entry; /* created by this open; its directory entry not yet fsynced */
};

static inline struct posix_share *PS(struct vfs_share *sh)
{
	return (struct posix_share *)sh;
}
static inline struct posix_file *PF(struct vfs_file *f)
{
	return (struct posix_file *)f;
}

/* vfs_posix.c */
void vfs_posix_proc_path(char *buf, size_t len, int fd, const char *name);
int vfs_posix_fstat(struct vfs_file *f, struct vfs_stat *st);
ssize_t vfs_posix_pwrite(struct vfs_file *f, const void *buf, size_t n, uint64_t off);
int vfs_posix_meta_load(struct posix_file *pf, struct vfs_meta *m);
int vfs_posix_meta_store(struct posix_file *pf, const struct vfs_meta *m);
void vfs_posix_ctime_touch(struct posix_file *pf);

/* vfs_posix_streams.c */
ssize_t vfs_posix_stream_pread(struct posix_file *pf, void *buf, size_t n, uint64_t off);
int vfs_posix_stream_update(struct posix_file *pf, const void *buf, size_t n, uint64_t off,
			    uint64_t end, bool set_size);
int vfs_posix_stream_stat(struct posix_file *pf, struct vfs_stat *st);
int vfs_posix_open_stream(struct vfs_file *f, const char *name, unsigned flags,
			  struct vfs_file **out);
int vfs_posix_stream_list(struct vfs_file *f, int (*cb)(void *arg, const char *name, uint64_t size),
			  void *arg);
int vfs_posix_stream_rename(struct vfs_file *sf, const char *to, bool replace);
int vfs_posix_stream_delete(struct vfs_file *sf);

/* vfs_posix_acl.c */
ssize_t vfs_posix_get_ntacl(struct vfs_file *f, void *buf, size_t len);
int vfs_posix_set_ntacl(struct vfs_file *f, const void *buf, size_t len);
int vfs_posix_set_perms(struct vfs_file *f, uint32_t mode, uint32_t uid, uint32_t gid);
int vfs_posix_get_posix_acl(struct vfs_file *f, struct vfs_posix_acl *out);
int vfs_posix_set_posix_acl(struct vfs_file *f, uint32_t mode, const struct vfs_posix_acl *in);

/* vfs_posix_sparse.c */
int vfs_posix_set_sparse(struct vfs_file *f, bool sparse);
int vfs_posix_zero_range(struct vfs_file *f, uint64_t off, uint64_t len, bool dealloc);
int vfs_posix_next_data(struct vfs_file *f, uint64_t off, uint64_t *start, uint64_t *end);

/* vfs_posix_ci.c: the case index of a share's directories */
/* A reference to the process's index for a share rooted at root_fd, or NULL where it cannot
 * be kept (not a local file system, no inotify). */
struct ci_cache *vfs_posix_ci_new(int root_fd);
/* Gives the reference back; the last one ends the index. */
void vfs_posix_ci_free(struct ci_cache *cc);
/* The name in the directory open as dirfd (read permission already checked by that open)
 * that equals comp but for case: 0 with *found (malloc'ed), -ENOENT when there is none, or
 * -EAGAIN when the index cannot tell (the caller scans). */
int vfs_posix_ci_find(struct ci_cache *cc, int dirfd, const char *comp, char **found);

#endif
