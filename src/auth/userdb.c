/* The user database file: parsing, a reloading reader handle, and locked whole-file edits. */
#include "auth/userdb.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "lib/log.h"

#define USERDB_MAX_FILE (64u << 20) /* far beyond any real user list; bounds the read */

/* ---- parsing ----------------------------------------------------------------------------- */

bool userdb_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > USERDB_NAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isascii(c) || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	if (!*s || strlen(s) > 10)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One "name:uid:gid:rid:NTHASH_HEX:flags" line (no newline); 0 or -EINVAL. */
static int parse_line(char *line, struct userdb_entry *e)
{
	char *f[6];
	int n = 0;
	for (char *p = line; n < 6; n++) {
		f[n] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = 0;
	}
	if (n != 5 || !userdb_name_valid(f[0]) || strlen(f[4]) != 32)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", f[0]);
	if (!parse_u32(f[1], &e->uid) || !parse_u32(f[2], &e->gid) || !parse_u32(f[3], &e->rid))
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(f[4][2 * i]), lo = hexval(f[4][2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		e->nt_hash[i] = (uint8_t)(hi << 4 | lo);
	}
	if (strcmp(f[5], "d") == 0)
		e->disabled = true;
	else if (strcmp(f[5], "-") != 0)
		return -EINVAL;
	return 0;
}

static void format_line(const struct userdb_entry *e, char *buf, size_t len)
{
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02X", e->nt_hash[i]);
	snprintf(buf, len, "%s:%" PRIu32 ":%" PRIu32 ":%" PRIu32 ":%s:%s\n", e->name, e->uid,
		 e->gid, e->rid, hex, e->disabled ? "d" : "-");
	explicit_bzero(hex, sizeof(hex));
}

/* Reads a whole open file into a NUL-terminated malloc'ed buffer. */
static int read_all(int fd, char **out, size_t *outlen)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 2) {
			char *nb = cap < USERDB_MAX_FILE ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return cap < USERDB_MAX_FILE ? -ENOMEM : -EFBIG;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	*out = buf;
	*outlen = len;
	return 0;
}

/* Parses file text into entries; bad lines are skipped with a warning so one typo does not lock
 * every user out. */
static int parse_text(const char *path, char *text, struct userdb_entry **out, int *n)
{
	struct userdb_entry *v = NULL;
	int cnt = 0, cap = 0, lineno = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		if (!line[0] || line[0] == '#')
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			struct userdb_entry *nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		if (parse_line(line, &v[cnt]) < 0) {
			LOG_WARN(LOG_AUTH, "%s:%d: invalid user entry ignored", path, lineno);
			continue;
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int load_fd(const char *path, int fd, struct userdb_entry **out, int *n)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_all(fd, &text, &len);
	if (rc < 0)
		return rc;
	rc = parse_text(path, text, out, n);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* ---- reader handle ----------------------------------------------------------------------- */

struct userdb {
	char *path;
	pthread_mutex_t mu;
	struct userdb_entry *ents;
	int n;
	bool have_stat; /* whether (ino, size, mtime) describe the loaded contents */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct userdb *userdb_open(const char *path)
{
	struct userdb *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	db->path = strdup(path);
	if (!db->path || pthread_mutex_init(&db->mu, NULL) != 0) {
		free(db->path);
		free(db);
		return NULL;
	}
	return db;
}

static void set_entries(struct userdb *db, struct userdb_entry *v, int n)
{
	if (db->ents)
		explicit_bzero(db->ents, (size_t)db->n * sizeof(*db->ents));
	free(db->ents);
	db->ents = v;
	db->n = n;
}

void userdb_close(struct userdb *db)
{
	if (!db)
		return;
	set_entries(db, NULL, 0);
	pthread_mutex_destroy(&db->mu);
	free(db->path);
	free(db);
}

/* Reloads when the file is not the one loaded last (writers replace it by rename, so a new
 * inode is the usual sign; size and mtime catch editors that rewrite in place). Called locked. */
static int refresh(struct userdb *db)
{
	int fd = open(db->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		set_entries(db, NULL, 0); /* no file: no users */
		db->have_stat = false;
		return 0;
	}
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && db->have_stat && st.st_dev == db->dev && st.st_ino == db->ino &&
	    st.st_size == db->size && st.st_mtim.tv_sec == db->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == db->mtime.tv_nsec) {
		close(fd);
		return 0;
	}
	struct userdb_entry *v = NULL;
	int n = 0;
	if (rc == 0)
		rc = load_fd(db->path, fd, &v, &n);
	close(fd);
	if (rc < 0) {
		LOG_ERR(LOG_AUTH, "%s: cannot read the user database: %s", db->path, strerror(-rc));
		return rc;
	}
	set_entries(db, v, n);
	db->have_stat = true;
	db->dev = st.st_dev;
	db->ino = st.st_ino;
	db->size = st.st_size;
	db->mtime = st.st_mtim;
	return 0;
}

int userdb_lookup(struct userdb *db, const char *name, struct userdb_entry *out)
{
	pthread_mutex_lock(&db->mu);
	int rc = refresh(db);
	if (rc == 0) {
		rc = -ENOENT;
		for (int i = 0; i < db->n; i++) {
			if (strcasecmp(db->ents[i].name, name) == 0) {
				*out = db->ents[i];
				rc = 0;
				break;
			}
		}
	}
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* ---- editing ----------------------------------------------------------------------------- */

/* mkdir -p of the directory holding path, new components 0700 (the state directory holds
 * secrets). */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	for (char *p = dir + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = 0;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* Holds FILE.lock for one edit; creates the directory on first use. */
static int lock_db(const char *path)
{
	char lk[PATH_MAX];
	if (snprintf(lk, sizeof(lk), "%s.lock", path) >= (int)sizeof(lk))
		return -ENAMETOOLONG;
	int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		int rc = make_parent(path);
		if (rc < 0)
			return rc;
		fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	return fd;
}

static int load_path(const char *path, struct userdb_entry **v, int *n)
{
	*v = NULL;
	*n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int rc = load_fd(path, fd, v, n);
	close(fd);
	return rc;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes FILE.tmp (0600), syncs it and renames it over FILE, so readers never see half a file.
 * Comments in the old file are not kept: the file is the tool's, not hand-maintained. */
static int save(const char *path, const struct userdb_entry *v, int n)
{
	char tmp[PATH_MAX], line[256];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fchmod(fd, 0600) < 0 ? -errno : 0;
	static const char head[] =
	    "# shoal users: name:uid:gid:rid:nthash:flags (edit with shoalctl)\n";
	if (rc == 0)
		rc = write_all(fd, head, sizeof(head) - 1);
	for (int i = 0; i < n && rc == 0; i++) {
		format_line(&v[i], line, sizeof(line));
		rc = write_all(fd, line, strlen(line));
	}
	explicit_bzero(line, sizeof(line));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int find(const struct userdb_entry *v, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(v[i].name, name) == 0)
			return i;
	return -1;
}

enum edit_op { EDIT_ADD, EDIT_DEL, EDIT_PASSWD };

/* One locked read-modify-write. For EDIT_ADD, e is the complete new entry; for EDIT_PASSWD only
 * e->nt_hash is used. */
static int edit(const char *path, enum edit_op op, const char *name, const struct userdb_entry *e)
{
	struct userdb_entry *v;
	int n;
	int lfd = lock_db(path);
	if (lfd < 0)
		return lfd;
	int rc = load_path(path, &v, &n);
	if (rc < 0)
		goto out;
	int i = find(v, n, name);
	if (op == EDIT_ADD && i >= 0) {
		rc = -EEXIST;
	} else if (op != EDIT_ADD && i < 0) {
		rc = -ENOENT;
	} else if (op == EDIT_ADD) {
		struct userdb_entry *nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		rc = nv ? 0 : -ENOMEM;
		if (nv) {
			v = nv;
			v[n++] = *e;
		}
	} else if (op == EDIT_DEL) {
		memmove(&v[i], &v[i + 1], (size_t)(n - i - 1) * sizeof(*v));
		n--;
	} else {
		memcpy(v[i].nt_hash, e->nt_hash, 16);
	}
	if (rc == 0)
		rc = save(path, v, n);
	if (v)
		explicit_bzero(v, (size_t)n * sizeof(*v));
	free(v);
out:
	close(lfd); /* releases the flock */
	return rc;
}

static int system_ids(const char *name, uint32_t *uid, uint32_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	if (*uid == (uint32_t)-1)
		*uid = pw.pw_uid;
	if (*gid == (uint32_t)-1)
		*gid = pw.pw_gid;
	return 0;
}

int userdb_add(const char *path, const char *name, const char *password, uint32_t uid, uint32_t gid)
{
	struct userdb_entry e;
	if (!userdb_name_valid(name) || !password)
		return -EINVAL;
	if ((uid == (uint32_t)-1 || gid == (uint32_t)-1) && system_ids(name, &uid, &gid) < 0)
		return -ENOENT;
	if (uid > (UINT32_MAX - 1001) / 2)
		return -ERANGE; /* the rid 1000 + 2 * uid would not fit */
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.uid = uid;
	e.gid = gid;
	e.rid = 1000 + 2 * uid;
	int rc = ntlm_nt_hash(password, e.nt_hash);
	if (rc == 0)
		rc = edit(path, EDIT_ADD, name, &e);
	explicit_bzero(&e, sizeof(e));
	return rc;
}

int userdb_del(const char *path, const char *name)
{
	if (!userdb_name_valid(name))
		return -EINVAL;
	return edit(path, EDIT_DEL, name, NULL);
}

int userdb_passwd(const char *path, const char *name, const char *password)
{
	struct userdb_entry e;
	if (!userdb_name_valid(name) || !password)
		return -EINVAL;
	memset(&e, 0, sizeof(e));
	int rc = ntlm_nt_hash(password, e.nt_hash);
	if (rc == 0)
		rc = edit(path, EDIT_PASSWD, name, &e);
	explicit_bzero(&e, sizeof(e));
	return rc;
}

int userdb_list(const char *path, struct userdb_entry **out, int *n)
{
	/* a shared lock would not help: writers replace the file by rename */
	return load_path(path, out, n);
}
