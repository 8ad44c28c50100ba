/* POSIX permissions <-> access rights: the pure part of mapping descriptors onto modes and POSIX
 * ACLs (see secdesc.h; the SMB layer supplies the SIDs of uids and gids). */
#include "sec/secdesc.h"

uint32_t sec_rwx_rights(unsigned rwx)
{
	if ((rwx & 7) == 7)
		return SEC_FILE_ALL_ACCESS;
	uint32_t m = 0;
	if (rwx & 4)
		m |= SEC_FILE_GENERIC_READ;
	if (rwx & 2)
		m |= SEC_FILE_GENERIC_WRITE | SEC_STD_DELETE;
	if (rwx & 1)
		m |= SEC_FILE_GENERIC_EXECUTE;
	return m;
}

unsigned sec_rights_rwx(uint32_t m, bool dir)
{
	unsigned b = 0;
	if (m & SEC_FILE_READ_DATA)
		b |= 4;
	if (m & SEC_FILE_WRITE_DATA)
		b |= 2;
	if (m & SEC_FILE_EXECUTE)
		b |= 1;
	/* Windows users have "bypass traverse checking": any right in a directory reaches it */
	if (dir && b)
		b |= 1;
	return b;
}

unsigned sec_dacl_mode(const struct sec_desc *sd, const struct sec_token *owner,
		       const struct sec_token *group, bool dir)
{
	struct sec_token u = *owner, g = *group, o = {0};
	struct sec_token *all[3] = {&u, &g, &o};
	for (int i = 0; i < 3; i++) {
		sec_token_add(all[i], &sec_sid_world);
		sec_token_add(all[i], &sec_sid_authenticated_users);
	}
	return sec_rights_rwx(sec_access_maximal(sd, &u), dir) << 6 |
	       sec_rights_rwx(sec_access_maximal(sd, &g), dir) << 3 |
	       sec_rights_rwx(sec_access_maximal(sd, &o), dir);
}
