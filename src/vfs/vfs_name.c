/* Windows names as the VFS accepts them, Windows wildcard matching (MS-FSRTL 2.1.4.4,
 * FsRtlIsNameInExpression) and the encoding of the DOS metadata xattr. Pure functions: no file
 * system access, so they are unit tested directly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/utf16.h"
#include "vfs/vfs.h"

int vfs_name_check(const char *comp)
{
	size_t n = strlen(comp);
	if (n == 0 || n > 255 || !strcmp(comp, ".") || !strcmp(comp, ".."))
		return -EINVAL;
	for (const unsigned char *p = (const unsigned char *)comp; *p; p++)
		if (*p < 0x20 || strchr("\\/:*?\"<>|", *p))
			return -EINVAL;
	return 0;
}

int vfs_path_check(const char *path)
{
	if (!*path)
		return 0;
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	char *save = NULL;
	/* strtok_r would silently merge "a//b" into "a/b": reject empty components first */
	if (path[0] == '/' || path[strlen(path) - 1] == '/' || strstr(path, "//"))
		rc = -EINVAL;
	for (char *c = strtok_r(copy, "/", &save); c && !rc; c = strtok_r(NULL, "/", &save))
		rc = vfs_name_check(c);
	free(copy);
	return rc;
}

/* Decodes UTF-8 into code points; returns the count or -1 on invalid input. */
static long decode_utf8(const char *s, uint32_t **out)
{
	size_t n = strlen(s);
	uint32_t *cp = malloc((n + 1) * sizeof(*cp));
	if (!cp)
		return -1;
	long k = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t c = *p;
		int more = c < 0x80		? 0
			   : (c & 0xE0) == 0xC0 ? 1
			   : (c & 0xF0) == 0xE0 ? 2
			   : (c & 0xF8) == 0xF0 ? 3
						: -1;
		if (more < 0) {
			free(cp);
			return -1;
		}
		if (more)
			c &= 0x3Fu >> more;
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xC0) != 0x80) {
				free(cp);
				return -1;
			}
			c = (c << 6) | (*p & 0x3F);
		}
		cp[k++] = c;
	}
	*out = cp;
	return k;
}

int vfs_path_normalize(char *path)
{
	size_t out = 0; /* length of the result so far, in path itself */
	char *p = path;
	while (*p) {
		char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			/* dropped */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (out == 0)
				return -EINVAL;
			while (out > 0 && path[out - 1] != '/')
				out--;
			if (out > 0)
				out--; /* the separator before the dropped component */
		} else {
			if (out > 0)
				path[out++] = '/';
			memmove(path + out, p, n);
			out += n;
		}
		if (!end)
			break;
		p = end + 1;
	}
	path[out] = '\0';
	return 0;
}

/* dp[i][j]: pattern[i..] matches name[j..]; filled backwards so every lookup is ready. */
static bool match_cp(const uint32_t *pat, long np, const uint32_t *name, long nn)
{
	size_t w = (size_t)nn + 1;
	bool *dp = calloc(((size_t)np + 1) * w, 1);
	if (!dp)
		return false;
	long last_dot = -1;
	for (long j = 0; j < nn; j++)
		if (name[j] == '.')
			last_dot = j;
	dp[(size_t)np * w + (size_t)nn] = true;
	for (long i = np - 1; i >= 0; i--) {
		for (long j = nn; j >= 0; j--) {
			bool m = false;
			bool end = j == nn;
			const bool *next = dp + (size_t)(i + 1) * w;
			bool *same = dp + (size_t)i * w;
			switch (pat[i]) {
			case '*':
				m = next[j] || (!end && same[j + 1]);
				break;
			case '?':
				m = !end && next[j + 1];
				break;
			case '>': /* DOS_QM: one character, or nothing at a period or the end */
				m = (!end && name[j] != '.') ? next[j + 1] : next[j];
				break;
			case '"': /* DOS_DOT: a period, or nothing at the end */
				m = (!end && name[j] == '.' && next[j + 1]) || (end && next[j]);
				break;
			case '<': /* DOS_STAR: anything up to (not including) the last period */
				m = next[j] || (!end && j != last_dot && same[j + 1]);
				break;
			default:
				m = !end && pat[i] == name[j] && next[j + 1];
			}
			same[j] = m;
		}
	}
	bool r = dp[0];
	free(dp);
	return r;
}

bool vfs_wildcard_match(const char *pattern, const char *name, bool case_sensitive)
{
	if (!strcmp(pattern, "*"))
		return true;
	char *up = NULL, *un = NULL;
	if (!case_sensitive) {
		up = utf8_upper(pattern);
		un = utf8_upper(name);
		if (!up || !un) {
			free(up);
			free(un);
			return false;
		}
		pattern = up;
		name = un;
	}
	uint32_t *p = NULL, *n = NULL;
	long np = decode_utf8(pattern, &p);
	long nn = np < 0 ? -1 : decode_utf8(name, &n);
	bool r = np >= 0 && nn >= 0 && match_cp(p, np, n, nn);
	free(p);
	free(n);
	free(up);
	free(un);
	return r;
}

/* ---- 8.3 short names ---- */

static bool short_legal(char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("$%'-_@~`!(){}^#&", c) != NULL;
}

static char short_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool is_8dot3(const char *name)
{
	const char *dot = strchr(name, '.');
	size_t base = dot ? (size_t)(dot - name) : strlen(name);
	if (base < 1 || base > 8)
		return false;
	if (dot && (strlen(dot + 1) < 1 || strlen(dot + 1) > 3 || strchr(dot + 1, '.')))
		return false;
	for (const char *p = name; *p; p++)
		if (p != dot && !short_legal(*p))
			return false;
	return true;
}

size_t vfs_short_name(const char *name, char out[VFS_SHORT_NAME_MAX + 1])
{
	if (!strcmp(name, ".") || !strcmp(name, "..") || is_8dot3(name))
		return 0;
	const char *dot = strrchr(name, '.');
	if (dot == name)
		dot = NULL; /* ".profile": all base, no extension */
	const char *end = dot ? dot : name + strlen(name);
	size_t n = 0;
	for (const char *p = name; p < end && n < 4; p++)
		if (short_legal(*p))
			out[n++] = short_upper(*p);
	if (n == 0)
		out[n++] = '_';
	uint32_t h = 2166136261u; /* FNV-1a over the whole name */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	static const char b36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	out[n++] = '~';
	for (int i = 0; i < 3; i++, h /= 36)
		out[n++] = b36[h % 36];
	if (dot) {
		size_t e = 0;
		for (const char *p = dot + 1; *p && e < 3; p++)
			if (short_legal(*p)) {
				if (e++ == 0)
					out[n++] = '.';
				out[n++] = short_upper(*p);
			}
	}
	out[n] = 0;
	return n;
}

size_t vfs_meta_pack(uint8_t out[VFS_META_LEN_MAX], const struct vfs_meta *m)
{
	out[0] = 1;
	out[1] = (m->btime ? 1 : 0) | (m->ctime ? 2 : 0);
	out[2] = out[3] = 0;
	put_le32(out + 4, m->attrs);
	put_le64(out + 8, m->btime);
	if (!m->ctime)
		return VFS_META_LEN;
	put_le64(out + 16, m->ctime);
	put_le64(out + 24, 0);
	return VFS_META_LEN_MAX;
}

int vfs_meta_unpack(const uint8_t *in, size_t len, struct vfs_meta *m)
{
	struct rd r = rd_make(in, len);
	uint8_t ver = rd_u8(&r);
	uint8_t flags = rd_u8(&r);
	rd_skip(&r, 2);
	uint32_t a = rd_u32(&r);
	uint64_t b = rd_u64(&r);
	uint64_t c = 0;
	if (flags & 2) {
		c = rd_u64(&r);
		rd_skip(&r, 8); /* reserved */
	}
	/* later versions may append fields: accept a longer value of a known prefix */
	if (!rd_ok(&r) || ver != 1)
		return -EINVAL;
	m->attrs = a;
	m->btime = (flags & 1) ? b : 0;
	m->ctime = c;
	return 0;
}

void vfs_meta_encode(uint8_t out[VFS_META_LEN], uint32_t attrs, uint64_t btime)
{
	uint8_t full[VFS_META_LEN_MAX];
	struct vfs_meta m = {.attrs = attrs, .btime = btime};
	vfs_meta_pack(full, &m);
	memcpy(out, full, VFS_META_LEN);
}

int vfs_meta_decode(const uint8_t *in, size_t len, uint32_t *attrs, uint64_t *btime)
{
	struct vfs_meta m;
	int rc = vfs_meta_unpack(in, len, &m);
	if (rc == 0) {
		*attrs = m.attrs;
		*btime = m.btime;
	}
	return rc;
}
