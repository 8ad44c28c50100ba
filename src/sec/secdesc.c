/* NT security descriptors: codec, generic mapping, inheritance and access check. See secdesc.h;
 * the section numbers are MS-DTYP's. */
#include "sec/secdesc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SD_HEADER_LEN 20
#define ACL_HEADER_LEN 8
#define ACE_HEADER_LEN 4

const struct sid sec_sid_world = {1, 1, {0, 0, 0, 0, 0, 1}, {0}};
const struct sid sec_sid_creator_owner = {1, 1, {0, 0, 0, 0, 0, 3}, {0}};
const struct sid sec_sid_creator_group = {1, 1, {0, 0, 0, 0, 0, 3}, {1}};
const struct sid sec_sid_owner_rights = {1, 1, {0, 0, 0, 0, 0, 3}, {4}};
const struct sid sec_sid_network = {1, 1, {0, 0, 0, 0, 0, 5}, {2}};
const struct sid sec_sid_authenticated_users = {1, 1, {0, 0, 0, 0, 0, 5}, {11}};
const struct sid sec_sid_system = {1, 1, {0, 0, 0, 0, 0, 5}, {18}};

/* ---- ACE layout (2.4.4) ---- */

static bool ace_is_object(uint8_t type)
{
	switch (type) {
	case SEC_ACE_ALLOWED_OBJECT:
	case SEC_ACE_DENIED_OBJECT:
	case SEC_ACE_AUDIT_OBJECT:
	case SEC_ACE_ALARM_OBJECT:
	case SEC_ACE_ALLOWED_CALLBACK_OBJECT:
	case SEC_ACE_DENIED_CALLBACK_OBJECT:
	case SEC_ACE_AUDIT_CALLBACK_OBJECT:
	case SEC_ACE_ALARM_CALLBACK_OBJECT:
		return true;
	default:
		return false;
	}
}

/* Types whose body is not Mask + [object part] + SID: the compound ACE (2.4.4.6, reserved) and
 * types this code does not know. Their body is kept as opaque bytes. */
static bool ace_is_opaque(uint8_t type)
{
	return type == SEC_ACE_ALLOWED_COMPOUND || type > SEC_ACE_SCOPED_POLICY_ID;
}

size_t sec_ace_len(const struct sec_ace *a)
{
	if (ace_is_opaque(a->type))
		return ACE_HEADER_LEN + a->extra_len;
	size_t n = ACE_HEADER_LEN + 4 + sid_wire_len(&a->sid) + a->extra_len;
	if (ace_is_object(a->type)) {
		n += 4;
		if (a->obj_flags & SEC_ACE_OBJECT_TYPE_PRESENT)
			n += 16;
		if (a->obj_flags & SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT)
			n += 16;
	}
	return n;
}

static int ace_decode(struct rd *acl, struct sec_ace *a)
{
	memset(a, 0, sizeof(*a));
	size_t start = acl->off;
	a->type = rd_u8(acl);
	a->flags = rd_u8(acl);
	uint16_t size = rd_u16(acl);
	/* the body must fit in the ACL; sizes are DWORD multiples (2.4.4.1) */
	if (!rd_ok(acl) || size < ACE_HEADER_LEN || size % 4 ||
	    (size_t)(size - ACE_HEADER_LEN) > rd_left(acl))
		return -EINVAL;
	struct rd b = rd_sub(acl, acl->off, size - ACE_HEADER_LEN);
	rd_seek(acl, start + size);
	if (!ace_is_opaque(a->type)) {
		a->mask = rd_u32(&b);
		if (ace_is_object(a->type)) {
			a->obj_flags = rd_u32(&b);
			if (a->obj_flags &
			    ~(SEC_ACE_OBJECT_TYPE_PRESENT | SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT))
				return -EINVAL;
			if (a->obj_flags & SEC_ACE_OBJECT_TYPE_PRESENT)
				rd_bytes(&b, a->obj_type, 16);
			if (a->obj_flags & SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT)
				rd_bytes(&b, a->inh_type, 16);
		}
		if (sid_read(&b, &a->sid) < 0)
			return -EINVAL;
	}
	if (!rd_ok(&b))
		return -EINVAL;
	size_t left = rd_left(&b);
	if (left) {
		a->extra = malloc(left);
		if (!a->extra)
			return -ENOMEM;
		rd_bytes(&b, a->extra, left);
		a->extra_len = (uint16_t)left;
	}
	return 0;
}

static void ace_encode(const struct sec_ace *a, struct wr *w)
{
	wr_u8(w, a->type);
	wr_u8(w, a->flags);
	wr_u16(w, (uint16_t)sec_ace_len(a));
	if (!ace_is_opaque(a->type)) {
		wr_u32(w, a->mask);
		if (ace_is_object(a->type)) {
			wr_u32(w, a->obj_flags);
			if (a->obj_flags & SEC_ACE_OBJECT_TYPE_PRESENT)
				wr_bytes(w, a->obj_type, 16);
			if (a->obj_flags & SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT)
				wr_bytes(w, a->inh_type, 16);
		}
		sid_write(w, &a->sid);
	}
	if (a->extra_len)
		wr_bytes(w, a->extra, a->extra_len);
}

static bool ace_equal(const struct sec_ace *a, const struct sec_ace *b)
{
	if (a->type != b->type || a->flags != b->flags || a->extra_len != b->extra_len ||
	    (a->extra_len && memcmp(a->extra, b->extra, a->extra_len)))
		return false;
	if (ace_is_opaque(a->type))
		return true;
	if (a->mask != b->mask || !sid_equal(&a->sid, &b->sid) || a->obj_flags != b->obj_flags)
		return false;
	if ((a->obj_flags & SEC_ACE_OBJECT_TYPE_PRESENT) && memcmp(a->obj_type, b->obj_type, 16))
		return false;
	if ((a->obj_flags & SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT) &&
	    memcmp(a->inh_type, b->inh_type, 16))
		return false;
	return true;
}

/* ---- ACL (2.4.5) ---- */

void sec_acl_free(struct sec_acl *acl)
{
	if (!acl)
		return;
	for (int i = 0; i < acl->count; i++)
		free(acl->aces[i].extra);
	free(acl->aces);
	free(acl);
}

size_t sec_acl_len(const struct sec_acl *acl)
{
	size_t n = ACL_HEADER_LEN;
	for (int i = 0; i < acl->count; i++)
		n += sec_ace_len(&acl->aces[i]);
	return n;
}

int sec_acl_add(struct sec_acl *acl, const struct sec_ace *ace)
{
	if (acl->count == UINT16_MAX || sec_acl_len(acl) + sec_ace_len(ace) > SEC_ACL_MAX_BYTES)
		return -E2BIG;
	struct sec_ace *n = realloc(acl->aces, (acl->count + 1u) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	acl->aces = n;
	struct sec_ace *a = &n[acl->count];
	*a = *ace;
	a->extra = NULL;
	if (ace->extra_len) {
		a->extra = malloc(ace->extra_len);
		if (!a->extra)
			return -ENOMEM;
		memcpy(a->extra, ace->extra, ace->extra_len);
	}
	acl->count++;
	return 0;
}

struct sec_acl *sec_acl_dup(const struct sec_acl *acl)
{
	if (!acl)
		return NULL;
	struct sec_acl *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->revision = acl->revision;
	for (int i = 0; i < acl->count; i++)
		if (sec_acl_add(n, &acl->aces[i]) < 0) {
			sec_acl_free(n);
			return NULL;
		}
	return n;
}

/* The ACL at off in the descriptor buffer d. */
static int acl_decode(const struct rd *d, uint32_t off, struct sec_acl **out)
{
	*out = NULL;
	if (off < SD_HEADER_LEN || off > d->len)
		return -EINVAL;
	struct rd h = rd_sub(d, off, d->len - off);
	uint8_t rev = rd_u8(&h);
	rd_skip(&h, 1);
	uint16_t size = rd_u16(&h), count = rd_u16(&h);
	rd_skip(&h, 2);
	if (!rd_ok(&h) || (rev != 2 && rev != 4) || size < ACL_HEADER_LEN || size > d->len - off)
		return -EINVAL;
	/* an ACE needs at least 4 bytes: a count the size cannot hold is malformed */
	if ((size_t)count * ACE_HEADER_LEN > (size_t)(size - ACL_HEADER_LEN))
		return -EINVAL;
	struct rd r = rd_sub(d, off, size);
	rd_seek(&r, ACL_HEADER_LEN);
	struct sec_acl *acl = calloc(1, sizeof(*acl));
	if (!acl || (count && !(acl->aces = calloc(count, sizeof(*acl->aces))))) {
		free(acl);
		return -ENOMEM;
	}
	acl->revision = rev;
	for (uint16_t i = 0; i < count; i++) {
		int rc = ace_decode(&r, &acl->aces[i]);
		acl->count = i + 1u; /* the failed one's extra is NULL or owned: free it too */
		if (rc < 0) {
			sec_acl_free(acl);
			return rc;
		}
	}
	*out = acl;
	return 0;
}

static void acl_encode(const struct sec_acl *acl, struct wr *w)
{
	wr_u8(w, acl->revision ? acl->revision : 2);
	wr_u8(w, 0);
	wr_u16(w, (uint16_t)sec_acl_len(acl));
	wr_u16(w, acl->count);
	wr_u16(w, 0);
	for (int i = 0; i < acl->count; i++)
		ace_encode(&acl->aces[i], w);
}

static bool acl_equal(const struct sec_acl *a, const struct sec_acl *b)
{
	if (!a || !b)
		return a == b;
	if (a->revision != b->revision || a->count != b->count)
		return false;
	for (int i = 0; i < a->count; i++)
		if (!ace_equal(&a->aces[i], &b->aces[i]))
			return false;
	return true;
}

/* ---- descriptor (2.4.6) ---- */

void sec_desc_free(struct sec_desc *sd)
{
	if (!sd)
		return;
	sec_acl_free(sd->dacl);
	sec_acl_free(sd->sacl);
	free(sd);
}

struct sec_desc *sec_desc_dup(const struct sec_desc *sd)
{
	struct sec_desc *n = malloc(sizeof(*n));
	if (!n)
		return NULL;
	*n = *sd;
	n->dacl = n->sacl = NULL;
	if ((sd->dacl && !(n->dacl = sec_acl_dup(sd->dacl))) ||
	    (sd->sacl && !(n->sacl = sec_acl_dup(sd->sacl)))) {
		sec_desc_free(n);
		return NULL;
	}
	return n;
}

static int sid_at(const struct rd *d, uint32_t off, struct sid *out)
{
	if (off < SD_HEADER_LEN || off > d->len)
		return -EINVAL;
	struct rd r = rd_sub(d, off, d->len - off);
	return sid_read(&r, out);
}

int sec_desc_decode(const uint8_t *p, size_t len, struct sec_desc **out)
{
	*out = NULL;
	struct rd d = rd_make(p, len);
	uint8_t rev = rd_u8(&d), rm = rd_u8(&d);
	uint16_t control = rd_u16(&d);
	uint32_t oo = rd_u32(&d), og = rd_u32(&d), os = rd_u32(&d), od = rd_u32(&d);
	if (!rd_ok(&d) || rev != 1 || !(control & SE_SELF_RELATIVE))
		return -EINVAL;
	struct sec_desc *sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->rm_control = rm;
	sd->control = control;
	int rc = 0;
	if (oo) {
		rc = sid_at(&d, oo, &sd->owner);
		sd->has_owner = true;
	}
	if (!rc && og) {
		rc = sid_at(&d, og, &sd->group);
		sd->has_group = true;
	}
	/* an offset without the PRESENT bit is ignored, as Windows does */
	if (!rc && (control & SE_SACL_PRESENT) && os)
		rc = acl_decode(&d, os, &sd->sacl);
	if (!rc && (control & SE_DACL_PRESENT) && od)
		rc = acl_decode(&d, od, &sd->dacl);
	if (rc) {
		sec_desc_free(sd);
		return rc;
	}
	*out = sd;
	return 0;
}

static uint16_t encoded_control(const struct sec_desc *sd, uint32_t secinfo)
{
	uint16_t c = sd->control | SE_SELF_RELATIVE;
	if (!(secinfo & SEC_INFO_DACL))
		c &= ~SE_DACL_BITS;
	if (!(secinfo & SEC_INFO_SACL))
		c &= ~SE_SACL_BITS;
	return c;
}

size_t sec_desc_encoded_len(const struct sec_desc *sd, uint32_t secinfo)
{
	uint16_t c = encoded_control(sd, secinfo);
	size_t n = SD_HEADER_LEN;
	if ((secinfo & SEC_INFO_OWNER) && sd->has_owner)
		n += sid_wire_len(&sd->owner);
	if ((secinfo & SEC_INFO_GROUP) && sd->has_group)
		n += sid_wire_len(&sd->group);
	if ((c & SE_SACL_PRESENT) && sd->sacl)
		n += sec_acl_len(sd->sacl);
	if ((c & SE_DACL_PRESENT) && sd->dacl)
		n += sec_acl_len(sd->dacl);
	return n;
}

void sec_desc_encode(const struct sec_desc *sd, uint32_t secinfo, struct wr *w)
{
	uint16_t c = encoded_control(sd, secinfo);
	size_t start = w->len;
	wr_u8(w, 1);
	wr_u8(w, (c & SE_RM_CONTROL_VALID) ? sd->rm_control : 0);
	wr_u16(w, c);
	wr_zero(w, 16); /* OffsetOwner, OffsetGroup, OffsetSacl, OffsetDacl */
	if (!wr_ok(w))
		return;
	if ((secinfo & SEC_INFO_OWNER) && sd->has_owner) {
		wr_set_u32(w, start + 4, (uint32_t)(w->len - start));
		sid_write(w, &sd->owner);
	}
	if ((secinfo & SEC_INFO_GROUP) && sd->has_group) {
		wr_set_u32(w, start + 8, (uint32_t)(w->len - start));
		sid_write(w, &sd->group);
	}
	if ((c & SE_SACL_PRESENT) && sd->sacl) {
		wr_set_u32(w, start + 12, (uint32_t)(w->len - start));
		acl_encode(sd->sacl, w);
	}
	if ((c & SE_DACL_PRESENT) && sd->dacl) {
		wr_set_u32(w, start + 16, (uint32_t)(w->len - start));
		acl_encode(sd->dacl, w);
	}
}

bool sec_desc_equal(const struct sec_desc *a, const struct sec_desc *b)
{
	if ((a->control | SE_SELF_RELATIVE) != (b->control | SE_SELF_RELATIVE) ||
	    a->has_owner != b->has_owner || a->has_group != b->has_group)
		return false;
	if ((a->has_owner && !sid_equal(&a->owner, &b->owner)) ||
	    (a->has_group && !sid_equal(&a->group, &b->group)))
		return false;
	return acl_equal(a->dacl, b->dacl) && acl_equal(a->sacl, b->sacl);
}

/* ---- generic mapping ---- */

uint32_t sec_map_generic(uint32_t m)
{
	if (m & SEC_GENERIC_READ)
		m |= SEC_FILE_GENERIC_READ;
	if (m & SEC_GENERIC_WRITE)
		m |= SEC_FILE_GENERIC_WRITE;
	if (m & SEC_GENERIC_EXECUTE)
		m |= SEC_FILE_GENERIC_EXECUTE;
	if (m & SEC_GENERIC_ALL)
		m |= SEC_FILE_ALL_ACCESS;
	return m & ~SEC_GENERIC_BITS;
}

void sec_acl_map_generic(struct sec_acl *acl)
{
	if (!acl)
		return;
	for (int i = 0; i < acl->count; i++) {
		struct sec_ace *a = &acl->aces[i];
		if (!(a->flags & SEC_ACE_INHERIT_ONLY) && !ace_is_opaque(a->type))
			a->mask = sec_map_generic(a->mask);
	}
}

/* ---- token and access check (2.5.3.2) ---- */

void sec_token_add(struct sec_token *t, const struct sid *sid)
{
	if (t->n < SEC_TOKEN_MAX_SIDS && !sec_token_has(t, sid))
		t->sids[t->n++] = *sid;
}

bool sec_token_has(const struct sec_token *t, const struct sid *sid)
{
	for (int i = 0; i < t->n; i++)
		if (sid_equal(&t->sids[i], sid))
			return true;
	return false;
}

static bool is_deny(uint8_t type)
{
	return type == SEC_ACE_DENIED || type == SEC_ACE_DENIED_OBJECT ||
	       type == SEC_ACE_DENIED_CALLBACK || type == SEC_ACE_DENIED_CALLBACK_OBJECT;
}

uint32_t sec_access_maximal(const struct sec_desc *sd, const struct sec_token *t)
{
	if (!(sd->control & SE_DACL_PRESENT) || !sd->dacl)
		return SEC_FILE_ALL_ACCESS;
	const struct sec_acl *acl = sd->dacl;
	bool owner = sd->has_owner && sec_token_has(t, &sd->owner), owner_rights_ace = false;
	for (int i = 0; i < acl->count; i++) {
		const struct sec_ace *a = &acl->aces[i];
		if (!(a->flags & SEC_ACE_INHERIT_ONLY) && !ace_is_opaque(a->type) &&
		    sid_equal(&a->sid, &sec_sid_owner_rights))
			owner_rights_ace = true;
	}
	uint32_t granted = 0, denied = 0;
	if (owner && !owner_rights_ace)
		granted = SEC_STD_READ_CONTROL | SEC_STD_WRITE_DAC;
	for (int i = 0; i < acl->count; i++) {
		const struct sec_ace *a = &acl->aces[i];
		if ((a->flags & SEC_ACE_INHERIT_ONLY) || ace_is_opaque(a->type))
			continue;
		bool match = sec_token_has(t, &a->sid) ||
			     (owner && sid_equal(&a->sid, &sec_sid_owner_rights));
		if (!match)
			continue;
		uint32_t m = sec_map_generic(a->mask);
		if (a->type == SEC_ACE_ALLOWED || (a->type == SEC_ACE_ALLOWED_OBJECT &&
						   !(a->obj_flags & SEC_ACE_OBJECT_TYPE_PRESENT)))
			granted |= m & ~denied;
		else if (is_deny(a->type))
			denied |= m & ~granted;
	}
	return granted & ~(SEC_ACCESS_SYSTEM_SECURITY | SEC_MAXIMUM_ALLOWED);
}

/* ---- inheritance (2.5.3.4) ---- */

static bool is_creator_sid(const struct sid *s)
{
	return sid_equal(s, &sec_sid_creator_owner) || sid_equal(s, &sec_sid_creator_group);
}

/* The ACE as it applies to the new object itself. */
static int add_effective(struct sec_acl *acl, const struct sec_ace *a, uint8_t inh,
			 const struct sid *owner, const struct sid *group)
{
	struct sec_ace e = *a;
	if (sid_equal(&a->sid, &sec_sid_creator_owner))
		e.sid = *owner;
	else if (sid_equal(&a->sid, &sec_sid_creator_group))
		e.sid = *group;
	e.mask = sec_map_generic(a->mask);
	e.flags = (uint8_t)(inh | (a->flags & (SEC_ACE_SUCCESSFUL_ACCESS | SEC_ACE_FAILED_ACCESS)));
	return sec_acl_add(acl, &e);
}

/* The ACE as it passes on to the new container's own children. */
static int add_propagating(struct sec_acl *acl, const struct sec_ace *a, uint8_t inh, bool io)
{
	struct sec_ace e = *a;
	e.flags = (uint8_t)((a->flags & (SEC_ACE_OBJECT_INHERIT | SEC_ACE_CONTAINER_INHERIT |
					 SEC_ACE_SUCCESSFUL_ACCESS | SEC_ACE_FAILED_ACCESS)) |
			    inh | (io ? SEC_ACE_INHERIT_ONLY : 0));
	return sec_acl_add(acl, &e);
}

static int inherit_aces(const struct sec_acl *p, bool is_dir, uint8_t inh, const struct sid *owner,
			const struct sid *group, struct sec_acl *out)
{
	int rc = 0;
	for (int i = 0; i < p->count && !rc; i++) {
		const struct sec_ace *a = &p->aces[i];
		uint8_t f = a->flags;
		bool oi = f & SEC_ACE_OBJECT_INHERIT, ci = f & SEC_ACE_CONTAINER_INHERIT;
		if (ace_is_opaque(a->type))
			continue;
		if (!is_dir) {
			if (oi)
				rc = add_effective(out, a, inh, owner, group);
			continue;
		}
		/* containers: CI applies to them; OI or CI pass on unless NO_PROPAGATE */
		bool eff = ci, prop = (oi || ci) && !(f & SEC_ACE_NO_PROPAGATE_INHERIT);
		bool split = is_creator_sid(&a->sid) || (a->mask & SEC_GENERIC_BITS);
		if (eff && prop && !split) {
			rc = add_propagating(out, a, inh, false);
			continue;
		}
		if (eff)
			rc = add_effective(out, a, inh, owner, group);
		if (!rc && prop)
			rc = add_propagating(out, a, inh, true);
	}
	return rc;
}

int sec_inherit(const struct sec_desc *parent, const struct sec_desc *creator, bool is_dir,
		const struct sid *owner, const struct sid *group, struct sec_desc **out)
{
	*out = NULL;
	const struct sec_acl *pacl =
	    parent && (parent->control & SE_DACL_PRESENT) ? parent->dacl : NULL;
	bool auto_inh = parent && (parent->control & SE_DACL_AUTO_INHERITED);
	bool explicit = creator && (creator->control & SE_DACL_PRESENT);
	if (!explicit && !pacl)
		return 0;
	struct sec_desc *sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->has_owner = sd->has_group = true;
	sd->owner = creator && creator->has_owner ? creator->owner : *owner;
	sd->group = creator && creator->has_group ? creator->group : *group;
	sd->control = SE_DACL_PRESENT;
	int rc = 0;
	bool inherit = pacl != NULL;
	if (explicit) {
		sd->control |= creator->control & SE_DACL_PROTECTED;
		if (creator->dacl) {
			rc = (sd->dacl = sec_acl_dup(creator->dacl)) ? 0 : -ENOMEM;
			sec_acl_map_generic(sd->dacl);
		}
		/* a NULL DACL stays NULL; a protected one takes nothing from the parent */
		inherit = inherit && sd->dacl && auto_inh && !(sd->control & SE_DACL_PROTECTED);
	} else {
		rc = (sd->dacl = calloc(1, sizeof(*sd->dacl))) ? 0 : -ENOMEM;
		if (!rc)
			sd->dacl->revision = pacl->revision;
	}
	if (!rc && inherit)
		rc = inherit_aces(pacl, is_dir, auto_inh ? SEC_ACE_INHERITED : 0, &sd->owner,
				  &sd->group, sd->dacl);
	if (!rc && auto_inh && inherit)
		sd->control |= SE_DACL_AUTO_INHERITED;
	if (rc) {
		sec_desc_free(sd);
		return rc == -E2BIG ? -EINVAL : rc;
	}
	if (!explicit && sd->dacl->count == 0) {
		sec_desc_free(sd); /* nothing inheritable: the default applies */
		return 0;
	}
	*out = sd;
	return 1;
}
