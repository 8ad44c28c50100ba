/* NT security descriptors: codec round trips, malformed input, access check and inheritance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sec/secdesc.h"

static struct sid S(const char *s) {
	struct sid sid;
	assert_int_equal(sid_parse(s, &sid), 0);
	return sid;
}

static struct sec_ace
ACE(uint8_t type, uint8_t flags, uint32_t mask, const char *sid) {
	struct sec_ace a = {.type = type, .flags = flags, .mask = mask};
	a.sid = S(sid);
	return a;
}

static struct sec_desc *
new_sd(const char *owner, const char *group, uint16_t control)
{
	struct sec_desc *sd = calloc(1, sizeof(*sd));
	assert_non_null(sd);
	sd->control = control;
	if (owner) {
		sd->has_owner = true;
		sd->owner = S(owner);
	}
	if (group) {
		sd->has_group = true;
		sd->group = S(group);
	}
	return sd;
}

static struct sec_acl *new_acl(void)
{
	struct sec_acl *acl = calloc(1, sizeof(*acl));
	assert_non_null(acl);
	acl->revision = 2;
	return acl;
}

static void encode(const struct sec_desc *sd, struct wr *w)
{
	wr_init(w, 64);
	sec_desc_encode(sd, SEC_INFO_ALL, w);
	assert_true(wr_ok(w));
	assert_int_equal(w->len, sec_desc_encoded_len(sd, SEC_INFO_ALL));
}

/* A descriptor with every kind of part: owner, group, SACL, DACL with plain, object, callback,
 * opaque (compound) and attribute ACEs. */
static struct sec_desc *rich_sd(void)
{
	struct sec_desc *sd =
	    new_sd("S-1-5-21-1-2-3-1000", "S-1-22-2-100",
		   SE_DACL_PRESENT | SE_SACL_PRESENT | SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED);
	sd->dacl = new_acl();
	sd->sacl = new_acl();
	struct sec_ace a = ACE(SEC_ACE_DENIED, 0, SEC_FILE_WRITE_DATA, "S-1-1-0");
	assert_int_equal(sec_acl_add(sd->dacl, &a), 0);
	a = ACE(SEC_ACE_ALLOWED, SEC_ACE_OBJECT_INHERIT | SEC_ACE_CONTAINER_INHERIT,
		SEC_FILE_ALL_ACCESS, "S-1-3-0");
	assert_int_equal(sec_acl_add(sd->dacl, &a), 0);
	a = ACE(SEC_ACE_ALLOWED_OBJECT, 0, 0x100, "S-1-5-11");
	a.obj_flags = SEC_ACE_OBJECT_TYPE_PRESENT | SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT;
	memset(a.obj_type, 0xAB, 16);
	memset(a.inh_type, 0xCD, 16);
	assert_int_equal(sec_acl_add(sd->dacl, &a), 0);
	uint8_t app[8] = {'a', 'r', 't', 'x', 1, 2, 3, 4};
	a = ACE(SEC_ACE_ALLOWED_CALLBACK, 0, 0x1, "S-1-5-18");
	a.extra = app;
	a.extra_len = sizeof(app);
	assert_int_equal(sec_acl_add(sd->dacl, &a), 0);
	struct sec_ace op = {.type = SEC_ACE_ALLOWED_COMPOUND, .extra = app, .extra_len = 8};
	assert_int_equal(sec_acl_add(sd->dacl, &op), 0);
	a = ACE(SEC_ACE_AUDIT, SEC_ACE_FAILED_ACCESS, SEC_GENERIC_ALL, "S-1-1-0");
	assert_int_equal(sec_acl_add(sd->sacl, &a), 0);
	return sd;
}

static void test_round_trip(void **state)
{
	struct sec_desc *sd = rich_sd(), *back;
	struct wr w;
	encode(sd, &w);
	assert_int_equal(sec_desc_decode(w.p, w.len, &back), 0);
	assert_true(sec_desc_equal(sd, back));
	struct wr w2;
	encode(back, &w2);
	assert_int_equal(w.len, w2.len);
	assert_memory_equal(w.p, w2.p, w.len);
	/* parts: a query for the owner alone carries neither ACL nor their control bits */
	struct wr w3;
	wr_init(&w3, 64);
	sec_desc_encode(sd, SEC_INFO_OWNER, &w3);
	struct sec_desc *part;
	assert_int_equal(sec_desc_decode(w3.p, w3.len, &part), 0);
	assert_true(part->has_owner);
	assert_false(part->has_group);
	assert_null(part->dacl);
	assert_int_equal(part->control, SE_SELF_RELATIVE);
	sec_desc_free(part);
	/* a NULL DACL: present without an ACL */
	struct sec_desc *nul = new_sd(NULL, NULL, SE_DACL_PRESENT);
	struct wr w4;
	encode(nul, &w4);
	assert_int_equal(w4.len, 20);
	assert_int_equal(sec_desc_decode(w4.p, w4.len, &part), 0);
	assert_true(part->control & SE_DACL_PRESENT);
	assert_null(part->dacl);
	sec_desc_free(part);
	sec_desc_free(nul);
	wr_free(&w);
	wr_free(&w2);
	wr_free(&w3);
	wr_free(&w4);
	sec_desc_free(sd);
	sec_desc_free(back);
}

/* Every truncation fails cleanly; every single-byte corruption decodes or fails without
 * reading outside the buffer (ASan watches), and what decodes re-encodes. */
static void test_malformed(void **state)
{
	struct sec_desc *sd = rich_sd(), *out;
	struct wr w;
	encode(sd, &w);
	for (size_t n = 0; n < w.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, w.p, n);
		assert_int_equal(sec_desc_decode(copy, n, &out), -EINVAL);
		assert_null(out);
		free(copy);
	}
	uint8_t *buf = malloc(w.len);
	for (size_t i = 0; i < w.len; i++)
		for (int v = 0; v < 256; v += 17) {
			memcpy(buf, w.p, w.len);
			buf[i] = (uint8_t)(buf[i] ^ (v | 1));
			int rc = sec_desc_decode(buf, w.len, &out);
			assert_true(rc == 0 || rc == -EINVAL);
			if (rc == 0) {
				struct wr w2;
				wr_init(&w2, 64);
				sec_desc_encode(out, SEC_INFO_ALL, &w2);
				assert_true(wr_ok(&w2));
				wr_free(&w2);
				sec_desc_free(out);
			}
		}
	free(buf);
	/* specific rules */
	uint8_t bad[20] = {1, 0, 0x04, 0x00}; /* not self-relative */
	assert_int_equal(sec_desc_decode(bad, sizeof(bad), &out), -EINVAL);
	bad[3] = 0x80;
	bad[0] = 2; /* revision */
	assert_int_equal(sec_desc_decode(bad, sizeof(bad), &out), -EINVAL);
	bad[0] = 1;
	assert_int_equal(sec_desc_decode(bad, sizeof(bad), &out), 0);
	sec_desc_free(out);
	bad[4] = 4; /* owner offset inside the header */
	assert_int_equal(sec_desc_decode(bad, sizeof(bad), &out), -EINVAL);
	/* an ACL whose count cannot fit, and an ACE whose size is not a DWORD multiple */
	uint8_t acl[20 + 8 + 16] = {1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20};
	uint8_t *a = acl + 20;
	a[0] = 2, a[2] = 24, a[4] = 5;
	assert_int_equal(sec_desc_decode(acl, sizeof(acl), &out), -EINVAL);
	a[4] = 1;
	a[8] = 0, a[10] = 14; /* AceSize 14 */
	assert_int_equal(sec_desc_decode(acl, sizeof(acl), &out), -EINVAL);
	a[10] = 40; /* beyond the ACL */
	assert_int_equal(sec_desc_decode(acl, sizeof(acl), &out), -EINVAL);
	wr_free(&w);
	sec_desc_free(sd);
}

static void test_generic_map(void **state)
{
	assert_int_equal(sec_map_generic(SEC_GENERIC_READ), SEC_FILE_GENERIC_READ);
	assert_int_equal(sec_map_generic(SEC_GENERIC_WRITE), SEC_FILE_GENERIC_WRITE);
	assert_int_equal(sec_map_generic(SEC_GENERIC_EXECUTE), SEC_FILE_GENERIC_EXECUTE);
	assert_int_equal(sec_map_generic(SEC_GENERIC_ALL), SEC_FILE_ALL_ACCESS);
	assert_int_equal(sec_map_generic(SEC_FILE_READ_DATA), SEC_FILE_READ_DATA);
	struct sec_acl *acl = new_acl();
	struct sec_ace a = ACE(SEC_ACE_ALLOWED, 0, SEC_GENERIC_READ, "S-1-1-0");
	sec_acl_add(acl, &a);
	a.flags = SEC_ACE_INHERIT_ONLY | SEC_ACE_OBJECT_INHERIT;
	sec_acl_add(acl, &a);
	sec_acl_map_generic(acl);
	assert_int_equal(acl->aces[0].mask, SEC_FILE_GENERIC_READ);
	assert_int_equal(acl->aces[1].mask, SEC_GENERIC_READ); /* inherit-only keeps them */
	sec_acl_free(acl);
}

#define OWNER "S-1-5-21-1-2-3-1000"

static uint32_t maximal(struct sec_desc *sd)
{
	struct sec_token t = {0};
	struct sid s = S(OWNER);
	sec_token_add(&t, &s);
	sec_token_add(&t, &sec_sid_world);
	sec_token_add(&t, &sec_sid_authenticated_users);
	return sec_access_maximal(sd, &t);
}

static void test_access(void **state)
{
	const uint32_t R = SEC_FILE_GENERIC_READ, WD = SEC_FILE_WRITE_DATA;
	struct sec_desc *sd = new_sd(OWNER, NULL, SE_DACL_PRESENT);
	/* NULL DACL: everything */
	assert_int_equal(maximal(sd), SEC_FILE_ALL_ACCESS);
	sd->dacl = new_acl();
	/* empty DACL: the owner's implicit rights only */
	assert_int_equal(maximal(sd), SEC_STD_READ_CONTROL | SEC_STD_WRITE_DAC);
	/* DENY1: a deny after an allow removes nothing */
	struct sec_ace a = ACE(SEC_ACE_ALLOWED, 0, R | WD, OWNER);
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_DENIED, 0, WD, OWNER);
	sec_acl_add(sd->dacl, &a);
	assert_int_equal(maximal(sd), R | WD | SEC_STD_WRITE_DAC);
	sec_acl_free(sd->dacl);
	/* OWNER-RIGHTS: additive with the owner's ACE, and no implicit WRITE_DAC */
	sd->dacl = new_acl();
	a = ACE(SEC_ACE_ALLOWED, 0, R, OWNER);
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED, 0, WD, "S-1-3-4");
	sec_acl_add(sd->dacl, &a);
	assert_int_equal(maximal(sd), R | WD);
	/* OWNER-RIGHTS-DENY1: trailing denies do not remove */
	a = ACE(SEC_ACE_DENIED, 0, WD | SEC_FILE_READ_DATA, "S-1-3-4");
	sec_acl_add(sd->dacl, &a);
	assert_int_equal(maximal(sd), R | WD);
	sec_acl_free(sd->dacl);
	/* OWNER-RIGHTS-DENY: a leading deny does */
	sd->dacl = new_acl();
	a = ACE(SEC_ACE_DENIED, 0, SEC_FILE_READ_DATA, "S-1-3-4");
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED, 0, R, OWNER);
	sec_acl_add(sd->dacl, &a);
	assert_int_equal(maximal(sd), R & ~SEC_FILE_READ_DATA);
	sec_acl_free(sd->dacl);
	/* generic bits, inherit-only and foreign ACEs, CREATOR OWNER never matches a token */
	sd->dacl = new_acl();
	a = ACE(SEC_ACE_ALLOWED, SEC_ACE_INHERIT_ONLY | SEC_ACE_OBJECT_INHERIT, SEC_GENERIC_ALL,
		OWNER);
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED, 0, SEC_GENERIC_ALL, "S-1-3-0");
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED, 0, SEC_GENERIC_ALL, "S-1-5-21-1-2-3-2000");
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED_CALLBACK, 0, SEC_GENERIC_ALL, OWNER);
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED, 0, SEC_GENERIC_EXECUTE, "S-1-1-0");
	sec_acl_add(sd->dacl, &a);
	assert_int_equal(maximal(sd),
			 SEC_FILE_GENERIC_EXECUTE | SEC_STD_READ_CONTROL | SEC_STD_WRITE_DAC);
	/* not the owner: no implicit rights */
	sd->owner = S("S-1-5-21-9-9-9-1000");
	assert_int_equal(maximal(sd), SEC_FILE_GENERIC_EXECUTE);
	sec_desc_free(sd);
}

/* The inheritance table of smbtorture's smb2.acls.INHERITANCE, which follows Windows. */
static void test_inherit(void **state)
{
	const uint8_t OI = SEC_ACE_OBJECT_INHERIT, CI = SEC_ACE_CONTAINER_INHERIT,
		      NP = SEC_ACE_NO_PROPAGATE_INHERIT, IO = SEC_ACE_INHERIT_ONLY;
	struct {
		uint8_t parent;
		int file_aces; /* -1: default */
		int dir_aces;  /* -1: default; else the number, the CREATOR OWNER copy's flags */
		uint8_t dir_co_flags;
	} t[] = {
	    {0, -1, -1, 0},
	    {OI, 0, 1, OI | IO},
	    {CI, -1, 2, CI | IO},
	    {OI | CI, 0, 2, OI | CI | IO},
	    {NP, -1, -1, 0},
	    {NP | OI, 0, -1, 0},
	    {NP | CI, -1, 1, 0},
	    {NP | CI | OI, 0, 1, 0},
	    {IO, -1, -1, 0},
	    {IO | OI, 0, 1, OI | IO},
	    {IO | CI, -1, 2, CI | IO},
	    {IO | CI | OI, 0, 2, OI | CI | IO},
	    {IO | NP, -1, -1, 0},
	    {IO | NP | OI, 0, -1, 0},
	    {IO | NP | CI, -1, 1, 0},
	    {IO | NP | CI | OI, 0, 1, 0},
	};
	struct sid owner = S(OWNER), group = S("S-1-22-2-100");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sec_desc *p = new_sd(OWNER, NULL, SE_DACL_PRESENT), *c;
		p->dacl = new_acl();
		struct sec_ace a =
		    ACE(SEC_ACE_ALLOWED, t[i].parent, SEC_FILE_WRITE_DATA, "S-1-3-0");
		sec_acl_add(p->dacl, &a);
		a = ACE(SEC_ACE_ALLOWED, 0, SEC_FILE_ALL_ACCESS, "S-1-1-0");
		sec_acl_add(p->dacl, &a);
		int rc = sec_inherit(p, NULL, false, &owner, &group, &c);
		if (t[i].file_aces < 0) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, 1);
			assert_int_equal(c->dacl->count, 1);
			assert_int_equal(c->dacl->aces[0].flags, 0);
			assert_true(sid_equal(&c->dacl->aces[0].sid, &owner));
			assert_int_equal(c->control, SE_DACL_PRESENT);
			sec_desc_free(c);
		}
		rc = sec_inherit(p, NULL, true, &owner, &group, &c);
		if (t[i].dir_aces < 0) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, 1);
			assert_int_equal(c->dacl->count, t[i].dir_aces);
			struct sec_ace *last = &c->dacl->aces[c->dacl->count - 1];
			if (t[i].dir_aces == 2 || (t[i].parent & CI)) {
				assert_true(sid_equal(&c->dacl->aces[0].sid, &owner));
				assert_int_equal(c->dacl->aces[0].flags, 0);
			}
			if (t[i].dir_co_flags) {
				assert_true(sid_equal(&last->sid, &sec_sid_creator_owner));
				assert_int_equal(last->flags, t[i].dir_co_flags);
			}
			sec_desc_free(c);
		}
		/* an auto-inherited parent marks what it passes on */
		p->control |= SE_DACL_AUTO_INHERITED;
		rc = sec_inherit(p, NULL, false, &owner, &group, &c);
		if (rc == 1) {
			assert_int_equal(c->dacl->aces[0].flags, SEC_ACE_INHERITED);
			assert_int_equal(c->control, SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED);
			sec_desc_free(c);
		}
		sec_desc_free(p);
	}
	/* generic rights are mapped in the effective ACE and kept in the inherit-only copy; an
	   explicit creator DACL wins and, under an auto-inherited parent, gets the rest appended */
	struct sec_desc *p = new_sd(OWNER, NULL, SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED), *c;
	p->dacl = new_acl();
	struct sec_ace a = ACE(SEC_ACE_ALLOWED, OI | CI, SEC_GENERIC_READ, "S-1-1-0");
	sec_acl_add(p->dacl, &a);
	assert_int_equal(sec_inherit(p, NULL, true, &owner, &group, &c), 1);
	assert_int_equal(c->dacl->count, 2);
	assert_int_equal(c->dacl->aces[0].mask, SEC_FILE_GENERIC_READ);
	assert_int_equal(c->dacl->aces[1].mask, SEC_GENERIC_READ);
	assert_int_equal(c->dacl->aces[1].flags, OI | CI | IO | SEC_ACE_INHERITED);
	sec_desc_free(c);
	struct sec_desc *cr = new_sd(NULL, NULL, SE_DACL_PRESENT);
	cr->dacl = new_acl();
	a = ACE(SEC_ACE_DENIED, 0, SEC_GENERIC_WRITE, OWNER);
	sec_acl_add(cr->dacl, &a);
	assert_int_equal(sec_inherit(p, cr, false, &owner, &group, &c), 1);
	assert_int_equal(c->dacl->count, 2);
	assert_int_equal(c->dacl->aces[0].type, SEC_ACE_DENIED);
	assert_int_equal(c->dacl->aces[0].mask, SEC_FILE_GENERIC_WRITE);
	assert_int_equal(c->dacl->aces[1].flags, SEC_ACE_INHERITED);
	sec_desc_free(c);
	cr->control |= SE_DACL_PROTECTED;
	assert_int_equal(sec_inherit(p, cr, false, &owner, &group, &c), 1);
	assert_int_equal(c->dacl->count, 1);
	assert_int_equal(c->control, SE_DACL_PRESENT | SE_DACL_PROTECTED);
	sec_desc_free(c);
	sec_desc_free(cr);
	sec_desc_free(p);
}

/* mode -> the DACL Windows would show -> mode, for every mode POSIX and NT can both express:
 * owner bits include the group's, which include the others' (NT adds Everyone's rights to
 * everybody), and on directories a class with any right has x (traverse is never checked). */
static void test_mode_map(void **state)
{
	struct sid owner = S(OWNER), group = S("S-1-22-2-100");
	struct sec_token ot = {0}, gt = {0};
	sec_token_add(&ot, &owner);
	sec_token_add(&gt, &group);
	int checked = 0;
	for (int dir = 0; dir < 2; dir++)
		for (unsigned mode = 0; mode <= 0777; mode++) {
			unsigned u = mode >> 6, g = (mode >> 3) & 7, o = mode & 7;
			if ((u & g) != g || (g & o) != o)
				continue;
			if (dir && ((u && !(u & 1)) || (g && !(g & 1)) || (o && !(o & 1))))
				continue;
			struct sec_desc *sd = new_sd(OWNER, "S-1-22-2-100", SE_DACL_PRESENT);
			sd->dacl = new_acl();
			struct sec_ace a = {.type = SEC_ACE_ALLOWED};
			a.mask = sec_rwx_rights(u) | SEC_STD_READ_CONTROL | SEC_STD_WRITE_DAC;
			a.sid = owner;
			if (u)
				sec_acl_add(sd->dacl, &a);
			a.mask = sec_rwx_rights(g);
			a.sid = group;
			if (g)
				sec_acl_add(sd->dacl, &a);
			a.mask = sec_rwx_rights(o);
			a.sid = sec_sid_world;
			if (o)
				sec_acl_add(sd->dacl, &a);
			assert_int_equal(sec_dacl_mode(sd, &ot, &gt, dir), mode);
			sec_desc_free(sd);
			checked++;
		}
	assert_int_equal(checked,
			 64 + 30); /* the monotone modes: 64 for files, 30 for directories */
	/* rights beyond r/w/x do not show; a NULL DACL is everything; deny ACEs take away */
	assert_int_equal(sec_rights_rwx(SEC_STD_DELETE | SEC_STD_WRITE_DAC, false), 0);
	assert_int_equal(sec_rights_rwx(SEC_FILE_WRITE_DATA, true), 3);
	struct sec_desc *sd = new_sd(OWNER, NULL, SE_DACL_PRESENT);
	assert_int_equal(sec_dacl_mode(sd, &ot, &gt, false), 0777);
	sd->dacl = new_acl();
	struct sec_ace a = ACE(SEC_ACE_DENIED, 0, SEC_FILE_WRITE_DATA, OWNER);
	sec_acl_add(sd->dacl, &a);
	a = ACE(SEC_ACE_ALLOWED, 0, SEC_FILE_ALL_ACCESS, "S-1-1-0");
	sec_acl_add(sd->dacl, &a);
	assert_int_equal(sec_dacl_mode(sd, &ot, &gt, false), 0577);
	sec_desc_free(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_generic_map), cmocka_unit_test(test_access),
	    cmocka_unit_test(test_inherit),	cmocka_unit_test(test_mode_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
