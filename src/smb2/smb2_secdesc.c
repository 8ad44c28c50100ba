/* Security descriptors of files (MS-DTYP 2.4.6 self-relative form), derived for now from the
 * POSIX owner, group and mode bits: owner, group and Everyone allow ACEs. The full NT ACL
 * mapping (stored descriptors, POSIX ACLs) grows here later. */
#include <string.h>
#include <sys/stat.h>

#include "smb2/smb2_file.h"

#define OWNER_SECURITY_INFORMATION 0x1u
#define GROUP_SECURITY_INFORMATION 0x2u
#define DACL_SECURITY_INFORMATION 0x4u
#define SE_DACL_PRESENT 0x0004u
#define SE_SELF_RELATIVE 0x8000u
#define ACCESS_ALLOWED_ACE_TYPE 0
#define ACL_REVISION 2

/* rwx bits -> file rights, as Windows shows POSIX permissions */
static uint32_t rwx_mask(unsigned rwx)
{
	if ((rwx & 7) == 7)
		return FILE_ALL_ACCESS;
	uint32_t m = 0;
	if (rwx & 4)
		m |= FILE_GENERIC_READ;
	if (rwx & 2)
		m |= FILE_GENERIC_WRITE | DELETE_ACCESS;
	if (rwx & 1)
		m |= FILE_GENERIC_EXECUTE;
	return m;
}

static void put_ace(struct wr *w, uint32_t mask, const struct sid *sid)
{
	wr_u8(w, ACCESS_ALLOWED_ACE_TYPE);
	wr_u8(w, 0);
	wr_u16(w, (uint16_t)(8 + sid_wire_len(sid)));
	wr_u32(w, mask);
	sid_write(w, sid);
}

static void put_dacl(struct wr *w, const struct vfs_stat *st, const struct sid *owner,
		     const struct sid *group)
{
	static const struct sid everyone = {1, 1, {0, 0, 0, 0, 0, 1}, {0}};
	uint32_t masks[3] = {
	    rwx_mask((st->mode >> 6) & 7) | READ_CONTROL | WRITE_DAC | WRITE_OWNER |
		FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE,
	    rwx_mask((st->mode >> 3) & 7),
	    rwx_mask(st->mode & 7),
	};
	const struct sid *sids[3] = {owner, group, &everyone};
	size_t start = w->len;
	int n = 0;
	wr_u8(w, ACL_REVISION);
	wr_u8(w, 0);
	wr_u16(w, 0); /* AclSize, patched */
	wr_u16(w, 0); /* AceCount, patched */
	wr_u16(w, 0);
	for (int i = 0; i < 3; i++)
		if (masks[i]) {
			put_ace(w, masks[i], sids[i]);
			n++;
		}
	wr_set_u16(w, start + 2, (uint16_t)(w->len - start));
	wr_set_u16(w, start + 4, (uint16_t)n);
}

void smb2_secdesc_build(struct smb2_req *req, const struct vfs_stat *st, uint32_t addinfo,
			struct wr *w)
{
	struct sid owner, group;
	const struct smb2_session *s = req->session;
	/* the session's own files carry its domain SID, as the client knows it */
	if (s && st->uid == s->ident.uid && !s->anonymous)
		owner = s->user_sid;
	else
		idmap_uid_to_sid(req->srv->idmap, st->uid, &owner);
	idmap_gid_to_sid(req->srv->idmap, st->gid, &group);
	size_t start = w->len;
	wr_u8(w, 1); /* Revision */
	wr_u8(w, 0);
	wr_u16(w, SE_SELF_RELATIVE | ((addinfo & DACL_SECURITY_INFORMATION) ? SE_DACL_PRESENT : 0));
	wr_zero(w, 16); /* OffsetOwner, OffsetGroup, OffsetSacl, OffsetDacl: patched */
	if (addinfo & OWNER_SECURITY_INFORMATION) {
		wr_set_u32(w, start + 4, (uint32_t)(w->len - start));
		sid_write(w, &owner);
	}
	if (addinfo & GROUP_SECURITY_INFORMATION) {
		wr_set_u32(w, start + 8, (uint32_t)(w->len - start));
		sid_write(w, &group);
	}
	if (addinfo & DACL_SECURITY_INFORMATION) {
		wr_set_u32(w, start + 16, (uint32_t)(w->len - start));
		put_dacl(w, st, &owner, &group);
	}
}
