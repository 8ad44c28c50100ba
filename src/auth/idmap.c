/* SIDs (MS-DTYP 2.4.2) and the algorithmic SID <-> POSIX id mapping. */
#include "auth/idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "lib/log.h"

#define SID_FILE "machine.sid"
#define RID_BASE 1000 /* userdb's rids: 1000 + 2 * uid; groups take the odd ones */

/* ---- SID text and wire forms ------------------------------------------------------------- */

/* Reads a decimal number of at most max; advances *s. */
static int parse_num(const char **s, uint64_t max, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*s = p;
	*out = v;
	return 0;
}

static int parse_authority(const char **s, uint64_t *out)
{
	const uint64_t max = (1ull << 48) - 1;
	const char *p = *s;
	if (p[0] != '0' || (p[1] != 'x' && p[1] != 'X'))
		return parse_num(s, max, out);
	/* MS-DTYP 2.4.2.1: authorities of 2^32 and more are written in hex */
	p += 2;
	uint64_t v = 0;
	int digits = 0;
	for (;; p++, digits++) {
		int d = (*p >= '0' && *p <= '9')   ? *p - '0'
			: (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
			: (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
						   : -1;
		if (d < 0)
			break;
		v = v * 16 + (uint64_t)d;
		if (v > max)
			return -EINVAL;
	}
	if (!digits)
		return -EINVAL;
	*s = p;
	*out = v;
	return 0;
}

int sid_parse(const char *s, struct sid *out)
{
	uint64_t auth, v;
	memset(out, 0, sizeof(*out));
	if ((s[0] != 'S' && s[0] != 's') || s[1] != '-')
		return -EINVAL;
	s += 2;
	if (parse_num(&s, 1, &v) < 0 || v != 1 || *s++ != '-')
		return -EINVAL;
	if (parse_authority(&s, &auth) < 0)
		return -EINVAL;
	out->revision = 1;
	for (int i = 0; i < 6; i++)
		out->id_auth[i] = (uint8_t)(auth >> (8 * (5 - i)));
	while (*s) {
		if (*s++ != '-' || out->num_auths == SID_MAX_SUBAUTH)
			return -EINVAL;
		if (parse_num(&s, UINT32_MAX, &v) < 0)
			return -EINVAL;
		out->sub_auths[out->num_auths++] = (uint32_t)v;
	}
	return 0;
}

static uint64_t sid_authority(const struct sid *sid)
{
	uint64_t a = 0;
	for (int i = 0; i < 6; i++)
		a = (a << 8) | sid->id_auth[i];
	return a;
}

char *sid_to_string(const struct sid *sid, char *buf, size_t len)
{
	uint64_t a = sid_authority(sid);
	int n = a >> 32 ? snprintf(buf, len, "S-%u-0x%012" PRIX64, sid->revision, a)
			: snprintf(buf, len, "S-%u-%" PRIu64, sid->revision, a);
	for (int i = 0; i < sid->num_auths && i < SID_MAX_SUBAUTH && n >= 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "-%" PRIu32, sid->sub_auths[i]);
	return buf;
}

bool sid_equal(const struct sid *a, const struct sid *b)
{
	if (a->revision != b->revision || a->num_auths != b->num_auths ||
	    memcmp(a->id_auth, b->id_auth, 6) != 0 || a->num_auths > SID_MAX_SUBAUTH)
		return false;
	for (int i = 0; i < a->num_auths; i++)
		if (a->sub_auths[i] != b->sub_auths[i])
			return false;
	return true;
}

size_t sid_wire_len(const struct sid *sid)
{
	return 8 + 4 * (size_t)sid->num_auths;
}

void sid_write(struct wr *w, const struct sid *sid)
{
	wr_u8(w, sid->revision);
	wr_u8(w, sid->num_auths);
	wr_bytes(w, sid->id_auth, 6);
	for (int i = 0; i < sid->num_auths && i < SID_MAX_SUBAUTH; i++)
		wr_u32(w, sid->sub_auths[i]);
}

int sid_read(struct rd *r, struct sid *out)
{
	memset(out, 0, sizeof(*out));
	out->revision = rd_u8(r);
	out->num_auths = rd_u8(r);
	rd_bytes(r, out->id_auth, 6);
	if (!rd_ok(r) || out->revision != 1 || out->num_auths > SID_MAX_SUBAUTH) {
		r->err = true;
		return -EINVAL;
	}
	for (int i = 0; i < out->num_auths; i++)
		out->sub_auths[i] = rd_u32(r);
	return rd_ok(r) ? 0 : -EINVAL;
}

int sid_append(struct sid *sid, uint32_t rid)
{
	if (sid->num_auths >= SID_MAX_SUBAUTH)
		return -EINVAL;
	sid->sub_auths[sid->num_auths++] = rid;
	return 0;
}

/* ---- machine SID ------------------------------------------------------------------------- */

struct idmap {
	struct sid machine;
};

static int read_sid_file(const char *path, struct sid *sid)
{
	char buf[256];
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -EINVAL;
	buf[strcspn(buf, "\r\n")] = 0;
	/* only a domain SID S-1-5-21-x-y-z is a machine SID */
	if (sid_parse(buf, sid) < 0 || sid->num_auths != 4 || sid->sub_auths[0] != 21 ||
	    sid_authority(sid) != 5)
		return -EINVAL;
	return 0;
}

/* Creates the file with a new random SID. It is written aside and linked into place, so two
 * processes starting together agree on whichever SID got there first. */
static int create_sid_file(const char *dir, const char *path, struct sid *sid)
{
	uint32_t r[3];
	char tmp[PATH_MAX], text[200];
	if (crypto_random(r, sizeof(r)) < 0)
		return -EIO;
	sid_parse("S-1-5-21", sid);
	for (int i = 0; i < 3; i++)
		sid_append(sid, r[i] | 0x10000000u); /* large like Windows' own: no leading zeros */
	sid_to_string(sid, text, sizeof(text));
	strcat(text, "\n");
	snprintf(tmp, sizeof(tmp), "%s/%s.%ld.tmp", dir, SID_FILE, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	int rc = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	if (rc == 0 && link(tmp, path) < 0)
		rc = errno == EEXIST ? read_sid_file(path, sid) : -errno;
	unlink(tmp);
	return rc;
}

struct idmap *idmap_open(const char *state_dir)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, SID_FILE) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	struct idmap *im = calloc(1, sizeof(*im));
	if (!im)
		return NULL;
	int rc = read_sid_file(path, &im->machine);
	if (rc == -ENOENT) {
		if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
			rc = -errno;
		else
			rc = create_sid_file(state_dir, path, &im->machine);
	}
	if (rc < 0) {
		LOG_ERR(LOG_AUTH, "%s: cannot load the machine SID: %s", path, strerror(-rc));
		free(im);
		errno = -rc;
		return NULL;
	}
	return im;
}

void idmap_close(struct idmap *im)
{
	free(im);
}

const struct sid *idmap_machine_sid(const struct idmap *im)
{
	return &im->machine;
}

/* S-1-22-kind-id: Samba's "Unix User" (1) and "Unix Group" (2) SIDs. */
static void unix_sid(uint32_t kind, uint32_t id, struct sid *out)
{
	memset(out, 0, sizeof(*out));
	out->revision = 1;
	out->id_auth[5] = 22;
	out->num_auths = 2;
	out->sub_auths[0] = kind;
	out->sub_auths[1] = id;
}

void idmap_uid_to_sid(const struct idmap *im, uint32_t uid, struct sid *out)
{
	unix_sid(1, uid, out);
}

void idmap_gid_to_sid(const struct idmap *im, uint32_t gid, struct sid *out)
{
	unix_sid(2, gid, out);
}

void idmap_rid_to_sid(const struct idmap *im, uint32_t rid, struct sid *out)
{
	*out = im->machine;
	sid_append(out, rid);
}

/* S-1-22-1/2-id, the machine SID's algorithmic rids (users 1000 + 2 * uid, groups
 * 1001 + 2 * gid, as the user database assigns them) and Anonymous (S-1-5-7 -> nobody). */
int idmap_sid_to_unix(const struct idmap *im, const struct sid *sid, uint32_t *id, bool *is_group)
{
	struct sid dom = *sid;
	uint64_t auth = sid_authority(sid);
	if (sid->revision != 1 || sid->num_auths > SID_MAX_SUBAUTH)
		return -ENOENT;
	if (auth == 22 && sid->num_auths == 2 &&
	    (sid->sub_auths[0] == 1 || sid->sub_auths[0] == 2)) {
		*id = sid->sub_auths[1];
		*is_group = sid->sub_auths[0] == 2;
		return 0;
	}
	if (auth == 5 && sid->num_auths == 1 && sid->sub_auths[0] == 7) {
		*id = 65534;
		*is_group = false;
		return 0;
	}
	if (sid->num_auths == 0)
		return -ENOENT;
	dom.num_auths--;
	uint32_t rid = sid->sub_auths[sid->num_auths - 1];
	if (!sid_equal(&dom, &im->machine) || rid < RID_BASE)
		return -ENOENT;
	*id = (rid - RID_BASE) / 2;
	*is_group = (rid - RID_BASE) % 2 == 1;
	return 0;
}
