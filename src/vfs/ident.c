/* Per-thread file system identity (DESIGN.md section 4). setfsuid/setfsgid act on the calling
 * thread only; the supplementary groups are set with the raw syscall because glibc's setgroups()
 * broadcasts the change to every thread of the process. The identity a thread currently has is
 * cached in thread-local storage (per thread, so not a process-wide global) to skip the three
 * system calls when consecutive requests run as the same user. */
#include <errno.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "vfs/vfs.h"

struct ident_cache {
	bool valid;
	struct vfs_ident id;
	int8_t root; /* 0 not known yet, 1 the process runs as root, -1 it does not */
};

static __thread struct ident_cache cur;

static bool same_ident(const struct vfs_ident *a, const struct vfs_ident *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->ngroups == b->ngroups &&
	       !memcmp(a->groups, b->groups, sizeof(a->groups[0]) * (size_t)a->ngroups);
}

/* Whether the process runs as root; asked once per thread, as the effective uid of shoald does
 * not change after start (one system call fewer on every request). */
static bool running_as_root(void)
{
	if (!cur.root)
		cur.root = geteuid() == 0 ? 1 : -1;
	return cur.root > 0;
}

int vfs_ident_apply(const struct vfs_ident *id)
{
	if (!running_as_root())
		return 0;
	struct vfs_ident want = {0}; /* NULL: the server's own identity, root without groups */
	if (id) {
		want = *id;
		if (want.ngroups < 0)
			want.ngroups = 0;
		if (want.ngroups > 32)
			want.ngroups = 32;
	}
	if (cur.valid && same_ident(&cur.id, &want))
		return 0;
	cur.valid = false;
	gid_t groups[32];
	for (int i = 0; i < want.ngroups; i++)
		groups[i] = want.groups[i];
	if (syscall(SYS_setgroups, (size_t)want.ngroups, groups) < 0) {
		int e = errno;
		LOG_ERR(LOG_VFS, "setgroups for uid %u: %s", want.uid, strerror(e));
		return -e;
	}
	setfsgid(want.gid);
	setfsuid(want.uid);
	/* setfsuid/setfsgid report no errors: read back (-1 is never a valid id, so it only
	   queries) to be sure the thread now has the identity */
	if ((uint32_t)setfsuid((uid_t)-1) != want.uid ||
	    (uint32_t)setfsgid((gid_t)-1) != want.gid) {
		LOG_ERR(LOG_VFS, "cannot switch the file system identity to %u:%u", want.uid,
			want.gid);
		return -EPERM;
	}
	cur.id = want;
	cur.valid = true;
	return 0;
}

uint32_t vfs_ident_fsuid(void)
{
	if (!running_as_root())
		return geteuid();
	return (uint32_t)setfsuid((uid_t)-1);
}

void vfs_ident_get(struct vfs_ident *out)
{
	if (cur.valid)
		*out = cur.id;
	else
		memset(out, 0, sizeof(*out));
}
