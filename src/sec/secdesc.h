/* NT security descriptors: the self-relative codec (MS-DTYP 2.4.6 SECURITY_DESCRIPTOR, 2.4.5 ACL,
 * 2.4.4 ACEs, 2.4.2 SIDs), generic mapping of file rights (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1.1),
 * inheritance on create (MS-DTYP 2.5.3.4) and the access check (MS-DTYP 2.5.3.2).
 *
 * Pure functions on memory: nothing here knows files, sessions or the wire protocol around the
 * descriptor, so the codec can be tested and fuzzed alone.
 *
 * Ownership: a struct sec_desc and everything it points to (its ACLs, their ACE arrays, each
 * ACE's application data) is one tree of malloc'ed blocks owned by whoever holds the descriptor;
 * sec_desc_free() releases the whole tree. Nothing is shared between descriptors (sec_desc_dup
 * copies deeply), so descriptors may be used from any thread without locks. */
#ifndef SHOAL_SEC_SECDESC_H
#define SHOAL_SEC_SECDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/idmap.h"
#include "lib/buf.h"

/* SECURITY_INFORMATION (MS-DTYP 2.4.7): which parts a query or a set is about */
#define SEC_INFO_OWNER 0x00000001u
#define SEC_INFO_GROUP 0x00000002u
#define SEC_INFO_DACL 0x00000004u
#define SEC_INFO_SACL 0x00000008u
#define SEC_INFO_LABEL 0x00000010u
#define SEC_INFO_ALL (SEC_INFO_OWNER | SEC_INFO_GROUP | SEC_INFO_DACL | SEC_INFO_SACL)

/* SECURITY_DESCRIPTOR Control (2.4.6) */
#define SE_OWNER_DEFAULTED 0x0001u
#define SE_GROUP_DEFAULTED 0x0002u
#define SE_DACL_PRESENT 0x0004u
#define SE_DACL_DEFAULTED 0x0008u
#define SE_SACL_PRESENT 0x0010u
#define SE_SACL_DEFAULTED 0x0020u
#define SE_DACL_TRUSTED 0x0040u
#define SE_SERVER_SECURITY 0x0080u
#define SE_DACL_AUTO_INHERIT_REQ 0x0100u
#define SE_SACL_AUTO_INHERIT_REQ 0x0200u
#define SE_DACL_AUTO_INHERITED 0x0400u
#define SE_SACL_AUTO_INHERITED 0x0800u
#define SE_DACL_PROTECTED 0x1000u
#define SE_SACL_PROTECTED 0x2000u
#define SE_RM_CONTROL_VALID 0x4000u
#define SE_SELF_RELATIVE 0x8000u
/* the control bits that describe the DACL / the SACL */
#define SE_DACL_BITS                                                                               \
	(SE_DACL_PRESENT | SE_DACL_DEFAULTED | SE_DACL_TRUSTED | SE_DACL_AUTO_INHERIT_REQ |        \
	 SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED)
#define SE_SACL_BITS                                                                               \
	(SE_SACL_PRESENT | SE_SACL_DEFAULTED | SE_SACL_AUTO_INHERIT_REQ | SE_SACL_AUTO_INHERITED | \
	 SE_SACL_PROTECTED)

/* AceType (2.4.4.1) */
enum {
	SEC_ACE_ALLOWED = 0x00,
	SEC_ACE_DENIED = 0x01,
	SEC_ACE_AUDIT = 0x02,
	SEC_ACE_ALARM = 0x03,
	SEC_ACE_ALLOWED_COMPOUND = 0x04,
	SEC_ACE_ALLOWED_OBJECT = 0x05,
	SEC_ACE_DENIED_OBJECT = 0x06,
	SEC_ACE_AUDIT_OBJECT = 0x07,
	SEC_ACE_ALARM_OBJECT = 0x08,
	SEC_ACE_ALLOWED_CALLBACK = 0x09,
	SEC_ACE_DENIED_CALLBACK = 0x0A,
	SEC_ACE_ALLOWED_CALLBACK_OBJECT = 0x0B,
	SEC_ACE_DENIED_CALLBACK_OBJECT = 0x0C,
	SEC_ACE_AUDIT_CALLBACK = 0x0D,
	SEC_ACE_ALARM_CALLBACK = 0x0E,
	SEC_ACE_AUDIT_CALLBACK_OBJECT = 0x0F,
	SEC_ACE_ALARM_CALLBACK_OBJECT = 0x10,
	SEC_ACE_MANDATORY_LABEL = 0x11,
	SEC_ACE_RESOURCE_ATTRIBUTE = 0x12,
	SEC_ACE_SCOPED_POLICY_ID = 0x13,
};

/* AceFlags (2.4.4.1) */
#define SEC_ACE_OBJECT_INHERIT 0x01u
#define SEC_ACE_CONTAINER_INHERIT 0x02u
#define SEC_ACE_NO_PROPAGATE_INHERIT 0x04u
#define SEC_ACE_INHERIT_ONLY 0x08u
#define SEC_ACE_INHERITED 0x10u
#define SEC_ACE_SUCCESSFUL_ACCESS 0x40u
#define SEC_ACE_FAILED_ACCESS 0x80u
#define SEC_ACE_INHERIT_FLAGS                                                                      \
	(SEC_ACE_OBJECT_INHERIT | SEC_ACE_CONTAINER_INHERIT | SEC_ACE_NO_PROPAGATE_INHERIT |       \
	 SEC_ACE_INHERIT_ONLY)

/* Object ACE Flags (2.4.4.3) */
#define SEC_ACE_OBJECT_TYPE_PRESENT 0x1u
#define SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT 0x2u

/* Access mask bits used here (2.4.3) */
#define SEC_GENERIC_READ 0x80000000u
#define SEC_GENERIC_WRITE 0x40000000u
#define SEC_GENERIC_EXECUTE 0x20000000u
#define SEC_GENERIC_ALL 0x10000000u
#define SEC_GENERIC_BITS 0xF0000000u
#define SEC_MAXIMUM_ALLOWED 0x02000000u
#define SEC_ACCESS_SYSTEM_SECURITY 0x01000000u
#define SEC_STD_DELETE 0x00010000u
#define SEC_STD_READ_CONTROL 0x00020000u
#define SEC_STD_WRITE_DAC 0x00040000u
#define SEC_STD_WRITE_OWNER 0x00080000u
#define SEC_STD_SYNCHRONIZE 0x00100000u
#define SEC_FILE_READ_DATA 0x00000001u
#define SEC_FILE_WRITE_DATA 0x00000002u
#define SEC_FILE_APPEND_DATA 0x00000004u
#define SEC_FILE_READ_EA 0x00000008u
#define SEC_FILE_WRITE_EA 0x00000010u
#define SEC_FILE_EXECUTE 0x00000020u
#define SEC_FILE_DELETE_CHILD 0x00000040u
#define SEC_FILE_READ_ATTRIBUTES 0x00000080u
#define SEC_FILE_WRITE_ATTRIBUTES 0x00000100u
/* the file generic mapping (MS-SMB2 2.2.13.1.1 / Windows' IoFileObjectType mapping) */
#define SEC_FILE_GENERIC_READ 0x00120089u
#define SEC_FILE_GENERIC_WRITE 0x00120116u
#define SEC_FILE_GENERIC_EXECUTE 0x001200A0u
#define SEC_FILE_ALL_ACCESS 0x001F01FFu

/* Hard limits of the format: an ACL's AclSize is 16 bits. */
#define SEC_ACL_MAX_BYTES 0xFFFFu

/* One ACE (2.4.4.x). For object ACEs obj_flags says which GUIDs are meaningful; extra holds the
 * bytes after the SID up to AceSize (callback application data, resource attribute data,
 * padding) verbatim so that any ACE round-trips byte for byte. */
struct sec_ace {
	uint8_t type, flags;
	uint32_t mask;
	uint32_t obj_flags;
	uint8_t obj_type[16], inh_type[16];
	struct sid sid;
	uint16_t extra_len;
	uint8_t *extra; /* malloc'ed, NULL when extra_len is 0 */
};

struct sec_acl {
	uint8_t revision; /* 2 (ACL_REVISION) or 4 (ACL_REVISION_DS) */
	uint16_t count;
	struct sec_ace *aces; /* count entries, malloc'ed */
};

/* A security descriptor in absolute form. A DACL (or SACL) is: absent when its PRESENT control
 * bit is clear; a NULL ACL when the bit is set and the pointer is NULL; an ACL otherwise. */
struct sec_desc {
	uint8_t rm_control; /* Sbz1: meaningful with SE_RM_CONTROL_VALID */
	uint16_t control;   /* SE_*; SE_SELF_RELATIVE is implied by the encoder */
	bool has_owner, has_group;
	struct sid owner, group;
	struct sec_acl *dacl, *sacl;
};

/* Parses a self-relative descriptor of exactly len bytes or less (trailing bytes are allowed,
 * as a buffer may be larger than the descriptor). Every offset and size is checked against the
 * buffer: 0, -EINVAL (malformed) or -ENOMEM. *out is freed with sec_desc_free. */
int sec_desc_decode(const uint8_t *p, size_t len, struct sec_desc **out);
/* Appends the self-relative form of the parts selected by secinfo (SEC_INFO_*; the control bits
 * of parts not selected are cleared). Errors stick in w. */
void sec_desc_encode(const struct sec_desc *sd, uint32_t secinfo, struct wr *w);
/* Size of sec_desc_encode's output. */
size_t sec_desc_encoded_len(const struct sec_desc *sd, uint32_t secinfo);
void sec_desc_free(struct sec_desc *sd);
struct sec_desc *sec_desc_dup(const struct sec_desc *sd); /* NULL on ENOMEM */
struct sec_acl *sec_acl_dup(const struct sec_acl *acl);	  /* NULL on ENOMEM (or acl NULL) */
void sec_acl_free(struct sec_acl *acl);
/* Appends one ACE to acl (copying ace and its extra data). 0, -ENOMEM or -E2BIG (over 64 KiB). */
int sec_acl_add(struct sec_acl *acl, const struct sec_ace *ace);
size_t sec_ace_len(const struct sec_ace *ace);
size_t sec_acl_len(const struct sec_acl *acl);
/* Structural equality (what a client compares): control, owner, group, both ACLs. */
bool sec_desc_equal(const struct sec_desc *a, const struct sec_desc *b);

/* GENERIC_* bits -> the specific file rights they stand for; other bits are kept. */
uint32_t sec_map_generic(uint32_t mask);
/* Replaces generic bits in the effective (not inherit-only) ACEs of acl, as a server does when a
 * descriptor is set on a file. */
void sec_acl_map_generic(struct sec_acl *acl);

/* Well-known SIDs (2.4.2.4) */
extern const struct sid sec_sid_world;		     /* S-1-1-0 Everyone */
extern const struct sid sec_sid_creator_owner;	     /* S-1-3-0 */
extern const struct sid sec_sid_creator_group;	     /* S-1-3-1 */
extern const struct sid sec_sid_owner_rights;	     /* S-1-3-4 */
extern const struct sid sec_sid_network;	     /* S-1-5-2 */
extern const struct sid sec_sid_authenticated_users; /* S-1-5-11 */
extern const struct sid sec_sid_system;		     /* S-1-5-18 */

/* An access token reduced to what the check needs: the SIDs the caller is (sids[0] is the user). */
#define SEC_TOKEN_MAX_SIDS 40
struct sec_token {
	int n;
	struct sid sids[SEC_TOKEN_MAX_SIDS];
};
/* Adds a SID (ignored when full or already there). */
void sec_token_add(struct sec_token *t, const struct sid *sid);
bool sec_token_has(const struct sec_token *t, const struct sid *sid);

/* MS-DTYP 2.5.3.2 with MAXIMUM_ALLOWED: every right the DACL of sd grants the token (ACEs in
 * order; a deny ACE removes only rights not granted yet; inherit-only ACEs are skipped; the
 * owner gets READ_CONTROL | WRITE_DAC unless the DACL has an effective OWNER RIGHTS ACE, whose
 * rights then apply to the owner instead). An absent or NULL DACL grants everything. Callback
 * (conditional) allow ACEs grant nothing and callback deny ACEs deny, since no conditions are
 * evaluated; object ACEs with an object type do not apply to files. The result has no generic
 * bits. A desired mask is granted iff (desired & ~result) == 0: the order rule makes that
 * equivalent to the step-by-step check of the spec. */
uint32_t sec_access_maximal(const struct sec_desc *sd, const struct sec_token *t);

/* MS-DTYP 2.5.3.4 for a new file or directory under a parent with descriptor parent (may be
 * NULL), created by owner/group. creator (may be NULL) is the descriptor a client supplied with
 * the create: its owner, group and DACL win over the inherited and default ones; its DACL gets
 * the inheritable ACEs of the parent appended unless it is PROTECTED (auto-inheritance).
 * Result: 1 and *out when the new object gets a descriptor of its own (an explicit or inherited
 * DACL), 0 and *out = NULL when nothing is inherited nor supplied (the caller then shows its
 * default), -ENOMEM. Inherited ACEs have CREATOR OWNER/GROUP replaced by owner/group and generic
 * rights mapped; on containers an ACE that also propagates further is split into an effective
 * ACE and an inherit-only one where the two must differ. INHERITED_ACE and the descriptor's
 * DACL_AUTO_INHERITED are set when the parent's DACL is auto-inherited. */
int sec_inherit(const struct sec_desc *parent, const struct sec_desc *creator, bool is_dir,
		const struct sid *owner, const struct sid *group, struct sec_desc **out);

/* ---- POSIX permissions (secmap.c) ---- */
/* rwx (4 2 1) -> the rights Windows shows for them: FILE_ALL_ACCESS for rwx, else generic read,
 * write (with DELETE) and execute rights. */
uint32_t sec_rwx_rights(unsigned rwx);
/* rights -> rwx: r = FILE_READ_DATA, w = FILE_WRITE_DATA, x = FILE_EXECUTE; a directory gets x
 * with any of them (Windows users bypass traverse checks). */
unsigned sec_rights_rwx(uint32_t rights, bool dir);
/* The permission bits (0777) that give the file's owner class, group class and others what the
 * DACL of sd gives the owner (owner: its SIDs), the owning group (group: its SIDs) and anyone;
 * Everyone and Authenticated Users are added to each. Exact for modes whose owner bits include
 * the group's and the group's include the others' (NT adds Everyone's rights to everybody). */
unsigned sec_dacl_mode(const struct sec_desc *sd, const struct sec_token *owner,
		       const struct sec_token *group, bool dir);

#endif
