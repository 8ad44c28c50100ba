/* Per-thread file system identity (DESIGN.md section 4). setfsuid/setfsgid act on the calling
 * thread only; the supplementary groups are set with the raw syscall because glibc's setgroups()
 * broadcasts the change to every thread of the process.
 *
 * Every request switches to its user before the handler and back to the server's identity
 * after it (smb2_conn.c), so the switches are kept to the system calls that change something.
 * What the thread's kernel credentials are is cached in thread-local storage (per thread, so
 * not a process-wide global):
 *   - the server's own identity is fsuid 0 and fsgid 0. The supplementary groups are left as
 *     the last user's: while the fsuid is 0 the thread holds the file system capabilities
 *     (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN, CAP_FSETID ...), so no permission check, no
 *     ownership of a new file and no set-group-ID clearing depends on the groups; the next
 *     user whose groups are the same skips setgroups;
 *   - setfsuid and setfsgid report no errors, so the first switch of a thread to a uid or a
 *     gid is read back. Whether the kernel takes an id does not change while shoald runs (its
 *     capabilities are fixed and a user namespace's id map cannot be rewritten), so an id read
 *     back once on this thread is not read back again;
 *   - going back to root is not read back: a failure would leave the thread less privileged,
 *     never more. */
#include <errno.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "vfs/vfs.h"

struct ident_cache {
	bool kvalid;         /* kuid, kgid and the groups are what the kernel has */
	uint32_t kuid, kgid; /* the thread's fsuid and fsgid */
	int kngroups;        /* the thread's supplementary groups */
	uint32_t kgroups[32];
	bool idvalid;
	struct vfs_ident id; /* as last applied (zeros: the server's own) */
	bool uid_checked, gid_checked; /* checked_uid / checked_gid were read back once */
	uint32_t checked_uid, checked_gid;
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

/* The server's own identity: fsuid and fsgid 0 (see the top of the file for the groups). */
static void become_server(void)
{
	if (!cur.kvalid || cur.kuid != 0)
		setfsuid(0);
	if (!cur.kvalid || cur.kgid != 0)
		setfsgid(0);
	cur.kuid = cur.kgid = 0;
	if (!cur.kvalid) {
		/* the groups the thread has are not known: none */
		if (syscall(SYS_setgroups, (size_t)0, NULL) == 0) {
			cur.kngroups = 0;
			cur.kvalid = true;
		}
	}
	memset(&cur.id, 0, sizeof(cur.id));
	cur.idvalid = cur.kvalid;
}

static int become_user(const struct vfs_ident *want)
{
	if (!cur.kvalid || cur.kngroups != want->ngroups ||
	    memcmp(cur.kgroups, want->groups, sizeof(want->groups[0]) * (size_t)want->ngroups)) {
		gid_t groups[32];
		for (int i = 0; i < want->ngroups; i++)
			groups[i] = want->groups[i];
		if (syscall(SYS_setgroups, (size_t)want->ngroups, groups) < 0) {
			int e = errno;
			LOG_ERR(LOG_VFS, "setgroups for uid %u: %s", want->uid, strerror(e));
			return -e;
		}
		cur.kngroups = want->ngroups;
		memcpy(cur.kgroups, want->groups, sizeof(want->groups[0]) * (size_t)want->ngroups);
	}
	if (!cur.kvalid || cur.kgid != want->gid)
		setfsgid(want->gid);
	if (!cur.kvalid || cur.kuid != want->uid)
		setfsuid(want->uid);
	if (!(cur.uid_checked && cur.checked_uid == want->uid) ||
	    !(cur.gid_checked && cur.checked_gid == want->gid)) {
		/* -1 is never a valid id, so it only queries */
		if ((uint32_t)setfsuid((uid_t)-1) != want->uid ||
		    (uint32_t)setfsgid((gid_t)-1) != want->gid) {
			LOG_ERR(LOG_VFS, "cannot switch the file system identity to %u:%u",
				want->uid, want->gid);
			return -EPERM;
		}
		cur.uid_checked = cur.gid_checked = true;
		cur.checked_uid = want->uid;
		cur.checked_gid = want->gid;
	}
	cur.kuid = want->uid;
	cur.kgid = want->gid;
	cur.kvalid = true;
	cur.id = *want;
	cur.idvalid = true;
	return 0;
}

int vfs_ident_apply(const struct vfs_ident *id)
{
	if (!running_as_root())
		return 0;
	struct vfs_ident want = {0}; /* NULL: the server's own identity, root */
	if (id) {
		want = *id;
		if (want.ngroups < 0)
			want.ngroups = 0;
		if (want.ngroups > 32)
			want.ngroups = 32;
	}
	if (cur.idvalid && same_ident(&cur.id, &want))
		return 0;
	if (!id) {
		become_server();
		return 0;
	}
	int rc = become_user(&want);
	if (rc < 0) {
		/* never run on half switched: everything is set again, to the server's own */
		cur.kvalid = false;
		become_server();
	}
	return rc;
}

uint32_t vfs_ident_fsuid(void)
{
	if (!running_as_root())
		return geteuid();
	return (uint32_t)setfsuid((uid_t)-1);
}

void vfs_ident_get(struct vfs_ident *out)
{
	if (cur.idvalid)
		*out = cur.id;
	else
		memset(out, 0, sizeof(*out));
}
