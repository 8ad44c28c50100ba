/* The VFS layer: how the SMB2 layer reaches files. A share is opened once per tree connect; a
 * file or directory handle per CREATE. Modules implement struct vfs_ops (posix is the default;
 * forwarding and S3 replication follow as stackable modules).
 *
 * Error vocabulary: every function returns 0 or a negative errno; the SMB2 layer maps errno to
 * NTSTATUS through ntstatus_from_errno() only. */
#ifndef SHOAL_VFS_H
#define SHOAL_VFS_H

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
#endif
