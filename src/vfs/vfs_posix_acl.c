/* The posix VFS module's NT security descriptor record and its mapping onto POSIX mode and ACLs
 * (moved out of vfs_posix.c; the module's layout is in vfs_posix.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <sys/acl.h>
#include <acl/libacl.h>

#include "vfs/vfs_posix.h"

/* ---- the NT security descriptor record and its POSIX mapping (server identity) ---- */

/* A server running as root keeps the record in the trusted.* namespace, which only
 * CAP_SYS_ADMIN can read or write: a local user who may write a file must not be able to forge
 * the descriptor that SMB access checks trust (and, say, grant himself WRITE_OWNER). A server
 * running as an ordinary user owns all its files anyway and uses user.*. */
static const char *ntacl_name(void)
{
	return geteuid() == 0 ? VFS_NTACL_XATTR_ROOT : VFS_NTACL_XATTR;
}

static ssize_t ntacl_read(struct posix_file *pf, void *buf, size_t len)
{
	if (!pf->opath)
		return fgetxattr(pf->fd, ntacl_name(), buf, len);
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	return getxattr(p, ntacl_name(), buf, len);
}

ssize_t vfs_posix_get_ntacl(struct vfs_file *f, void *buf, size_t len)
{
	struct posix_file *pf = PF(f);
	/* every CREATE asks: try as the user first, and switch to the server's identity only when
	   the permissions (a user.* xattr needs read permission) refuse */
	ssize_t n = ntacl_read(pf, buf, len);
	int e = errno;
	if (n < 0 && (e == EACCES || e == EPERM)) {
		struct vfs_ident saved;
		vfs_ident_get(&saved);
		vfs_ident_apply(NULL);
		n = ntacl_read(pf, buf, len);
		e = errno;
		vfs_ident_apply(&saved);
	}
	if (n >= 0)
		return n;
	return e == ENOTSUP ? -ENODATA : -e;
}

int vfs_posix_set_ntacl(struct vfs_file *f, const void *buf, size_t len)
{
	struct posix_file *pf = PF(f);
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	struct vfs_ident saved;
	vfs_ident_get(&saved);
	vfs_ident_apply(NULL);
	int rc;
	if (len == 0)
		rc = pf->opath ? removexattr(p, ntacl_name()) : fremovexattr(pf->fd, ntacl_name());
	else
		rc = pf->opath ? setxattr(p, ntacl_name(), buf, len, 0)
			       : fsetxattr(pf->fd, ntacl_name(), buf, len, 0);
	int e = errno;
	vfs_ident_apply(&saved);
	if (rc < 0 && len == 0 && e == ENODATA)
		return 0;
	return rc < 0 ? -e : 0;
}

int vfs_posix_set_perms(struct vfs_file *f, uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct posix_file *pf = PF(f);
	struct vfs_ident saved;
	vfs_ident_get(&saved);
	vfs_ident_apply(NULL);
	int rc = 0;
	/* chown first: it clears set-id bits that the mode then restores as wanted */
	if (uid != UINT32_MAX || gid != UINT32_MAX)
		rc = fchownat(pf->fd, "", uid, gid, AT_EMPTY_PATH);
	if (!rc && mode != UINT32_MAX) {
		char p[64];
		vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
		/* fchmod refuses O_PATH descriptors; the /proc link reaches the same inode */
		rc = pf->opath ? chmod(p, mode & 07777) : fchmod(pf->fd, mode & 07777);
	}
	int e = errno;
	vfs_ident_apply(&saved);
	return rc < 0 ? -e : 0;
}

static uint8_t perm_bits(acl_entry_t e)
{
	acl_permset_t ps;
	if (acl_get_permset(e, &ps) < 0)
		return 0;
	return (uint8_t)((acl_get_perm(ps, ACL_READ) == 1 ? 4 : 0) |
			 (acl_get_perm(ps, ACL_WRITE) == 1 ? 2 : 0) |
			 (acl_get_perm(ps, ACL_EXECUTE) == 1 ? 1 : 0));
}

static int read_acl(acl_t acl, struct vfs_posix_acl *out)
{
	acl_entry_t e;
	bool have_mask = false;
	for (int w = ACL_FIRST_ENTRY; acl_get_entry(acl, w, &e) == 1; w = ACL_NEXT_ENTRY) {
		acl_tag_t tag;
		if (acl_get_tag_type(e, &tag) < 0)
			return -errno;
		if (tag == ACL_GROUP_OBJ) {
			out->group_obj = perm_bits(e);
		} else if (tag == ACL_MASK) {
			out->mask = perm_bits(e);
			have_mask = true;
		} else if ((tag == ACL_USER || tag == ACL_GROUP) && out->n < VFS_ACL_MAX) {
			uint32_t *q = acl_get_qualifier(e);
			if (!q)
				return -errno;
			out->e[out->n].group = tag == ACL_GROUP;
			out->e[out->n].id = *q;
			out->e[out->n].perm = perm_bits(e);
			out->n++;
			acl_free(q);
		}
	}
	if (!have_mask)
		out->mask = 7;
	return 0;
}

int vfs_posix_get_posix_acl(struct vfs_file *f, struct vfs_posix_acl *out)
{
	struct posix_file *pf = PF(f);
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	memset(out, 0, sizeof(*out));
	struct vfs_ident saved;
	vfs_ident_get(&saved);
	vfs_ident_apply(NULL);
	acl_t acl = acl_get_file(p, ACL_TYPE_ACCESS);
	int rc = acl ? read_acl(acl, out) : -errno;
	if (acl)
		acl_free(acl);
	vfs_ident_apply(&saved);
	return rc == -ENOTSUP ? -EOPNOTSUPP : rc;
}

static int add_entry(acl_t *acl, acl_tag_t tag, const uint32_t *id, unsigned perm)
{
	acl_entry_t e;
	acl_permset_t ps;
	if (acl_create_entry(acl, &e) < 0 || acl_set_tag_type(e, tag) < 0 ||
	    (id && acl_set_qualifier(e, id) < 0) || acl_get_permset(e, &ps) < 0 ||
	    acl_clear_perms(ps) < 0)
		return -errno;
	if (((perm & 4) && acl_add_perm(ps, ACL_READ) < 0) ||
	    ((perm & 2) && acl_add_perm(ps, ACL_WRITE) < 0) ||
	    ((perm & 1) && acl_add_perm(ps, ACL_EXECUTE) < 0))
		return -errno;
	return 0;
}

static int build_acl(uint32_t mode, const struct vfs_posix_acl *in, acl_t *out)
{
	acl_t acl = acl_init(in->n + 4);
	if (!acl)
		return -errno;
	unsigned mask = (mode >> 3) & 7;
	int rc = add_entry(&acl, ACL_USER_OBJ, NULL, (mode >> 6) & 7);
	if (!rc)
		rc = add_entry(&acl, ACL_GROUP_OBJ, NULL, (mode >> 3) & 7);
	if (!rc)
		rc = add_entry(&acl, ACL_OTHER, NULL, mode & 7);
	for (int i = 0; i < in->n && !rc; i++) {
		rc = add_entry(&acl, in->e[i].group ? ACL_GROUP : ACL_USER, &in->e[i].id,
			       in->e[i].perm);
		mask |= in->e[i].perm;
	}
	if (!rc && in->n)
		rc = add_entry(&acl, ACL_MASK, NULL, mask);
	if (!rc && acl_valid(acl) < 0)
		rc = -EINVAL; /* duplicate ids */
	if (rc) {
		acl_free(acl);
		return rc;
	}
	*out = acl;
	return 0;
}

int vfs_posix_set_posix_acl(struct vfs_file *f, uint32_t mode, const struct vfs_posix_acl *in)
{
	struct posix_file *pf = PF(f);
	char p[64];
	vfs_posix_proc_path(p, sizeof(p), pf->fd, NULL);
	acl_t acl = NULL; /* set by build_acl on success; gcc -O2 cannot see it */
	int rc = build_acl(mode, in, &acl);
	if (rc < 0)
		return rc;
	struct vfs_ident saved;
	vfs_ident_get(&saved);
	vfs_ident_apply(NULL);
	rc = acl_set_file(p, ACL_TYPE_ACCESS, acl) < 0 ? -errno : 0;
	/* without POSIX ACLs on the file system a plain mode still maps owner, group, others */
	if ((rc == -ENOTSUP || rc == -EOPNOTSUPP) && in->n == 0)
		rc = chmod(p, mode & 07777) < 0 ? -errno : 0;
	vfs_ident_apply(&saved);
	acl_free(acl);
	return rc == -ENOTSUP ? -EOPNOTSUPP : rc;
}
