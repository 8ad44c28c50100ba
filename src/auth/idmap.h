/* SIDs (MS-DTYP 2.4.2) and the mapping between SIDs and POSIX ids.
 *
 * The server has a machine SID S-1-5-21-A-B-C, created at random on first start and kept in
 * STATE_DIR/machine.sid. Users of the user database are MACHINE_SID-rid. Other POSIX ids map to
 * Samba's well-known "Unix User"/"Unix Group" SIDs S-1-22-1-uid and S-1-22-2-gid, so any file
 * owner has a SID. */
#ifndef SHOAL_AUTH_IDMAP_H
#define SHOAL_AUTH_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define SID_MAX_SUBAUTH 15

struct sid {
	uint8_t revision; /* 1 */
	uint8_t num_auths;
	uint8_t id_auth[6]; /* big-endian 48-bit authority */
	uint32_t sub_auths[SID_MAX_SUBAUTH];
};

/* "S-1-5-21-1-2-3" <-> struct sid. Parsing returns 0 or -EINVAL. */
int sid_parse(const char *s, struct sid *out);
/* Writes the string form into buf (at least 190 bytes suffices for any SID); returns buf. */
char *sid_to_string(const struct sid *sid, char *buf, size_t len);
bool sid_equal(const struct sid *a, const struct sid *b);
/* Binary form (MS-DTYP 2.4.2.2): 8 + 4 * num_auths bytes. */
size_t sid_wire_len(const struct sid *sid);
void sid_write(struct wr *w, const struct sid *sid);
int sid_read(struct rd *r, struct sid *out); /* 0 or -EINVAL */
/* Appends one sub-authority (a rid); -EINVAL when full. */
int sid_append(struct sid *sid, uint32_t rid);

struct idmap;
/* Loads or creates STATE_DIR/machine.sid; NULL with errno set on failure. */
struct idmap *idmap_open(const char *state_dir);
void idmap_close(struct idmap *im);
const struct sid *idmap_machine_sid(const struct idmap *im);
/* Lookup through the user database is done by callers; these are the algorithmic parts. */
void idmap_uid_to_sid(const struct idmap *im, uint32_t uid, struct sid *out); /* S-1-22-1-uid */
void idmap_gid_to_sid(const struct idmap *im, uint32_t gid, struct sid *out); /* S-1-22-2-gid */
void idmap_rid_to_sid(const struct idmap *im, uint32_t rid, struct sid *out); /* MACHINE-rid */
/* Reverse of the above for S-1-22-1/2 SIDs and well-known ones; 0 or -ENOENT. */
int idmap_sid_to_unix(const struct idmap *im, const struct sid *sid, uint32_t *id, bool *is_group);

#endif
