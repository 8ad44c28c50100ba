/* The case index: case-insensitive lookup without scanning the directory (DESIGN.md section 5).
 *
 * A name asked in a case it does not exist in (a new file's name, most often) used to cost a
 * scan of its directory to learn that no other case of it exists: in a folder of n files,
 * creating one more read all n names. The index keeps, for up to CI_MAX_DIRS recently scanned
 * directories of a share, a hash of their names by case-folded value (utf8_case_hash), and an
 * inotify watch on each that keeps it current: every name created, deleted or renamed in the
 * directory, by shoald or by any other process of this machine, is an event in the watch's queue
 * by the time the system call that made it returns. Before the index answers, the queue is read
 * to its end and applied, so the answer is the one a scan made at that moment would give.
 *
 * The watch is set before the scan: a change during the scan is applied after it (adding a name
 * that is there or removing one that is not changes nothing, so replaying is harmless). A lost
 * event (the queue overflowed) drops every index; a removed directory drops its own. Changes
 * made by other machines on a shared file system raise no inotify event, so the index is only
 * used on file systems of this machine (ci_local_fs); elsewhere every miss scans as before.
 * Directories are known by device and inode, so one index serves the whole process: every
 * tree connect of a local share holds a reference to it, and the last one ends it (so an idle
 * server keeps no inotify descriptor).
 * Directories of more than CI_MAX_NAMES names in all are not indexed (memory), nor are lookups
 * of 8.3 short names (vfs_name.c), which ci_find in vfs_posix.c scans for. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <dirent.h>

#include "lib/utf16.h"
#include "vfs/vfs_posix.h"

#define CI_MAX_DIRS 128
#define CI_MAX_NAMES (256u * 1024u) /* names in all the indexes of a share */
#define CI_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR)

struct ci_name {
	struct ci_name *next;
	uint64_t hash;
	char name[];
};

struct ci_dir {
	struct ci_dir *prev, *next; /* most recently used first */
	dev_t dev;
	ino_t ino;
	int wd;
	size_t nnames, nbuckets;
	struct ci_name **buckets;
};

struct ci_cache {
	pthread_mutex_t lock;
	int ifd;
	struct ci_dir *dirs;
	size_t ndirs, names;
};

/* File systems whose changes all go through this machine's kernel (so inotify sees them). */
static bool ci_local_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: /* ext2/3/4 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case F2FS_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ci_cache *g_cache; /* under g_lock */
static int g_refs;

struct ci_cache *vfs_posix_ci_new(int root_fd)
{
	if (!ci_local_fs(root_fd))
		return NULL;
	pthread_mutex_lock(&g_lock);
	if (!g_cache) {
		struct ci_cache *cc = calloc(1, sizeof(*cc));
		if (cc) {
			cc->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
			if (cc->ifd < 0) {
				free(cc);
				cc = NULL;
			} else {
				pthread_mutex_init(&cc->lock, NULL);
			}
		}
		g_cache = cc;
	}
	struct ci_cache *cc = g_cache;
	if (cc)
		g_refs++;
	pthread_mutex_unlock(&g_lock);
	return cc;
}

static void dir_unlink(struct ci_cache *cc, struct ci_dir *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		cc->dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
}

static void dir_push_front(struct ci_cache *cc, struct ci_dir *d)
{
	d->prev = NULL;
	d->next = cc->dirs;
	if (cc->dirs)
		cc->dirs->prev = d;
	cc->dirs = d;
}

/* Forgets d (and its watch, unless the kernel removed it already). */
static void dir_drop(struct ci_cache *cc, struct ci_dir *d, bool watch_gone)
{
	dir_unlink(cc, d);
	if (!watch_gone)
		inotify_rm_watch(cc->ifd, d->wd);
	for (size_t i = 0; i < d->nbuckets; i++)
		while (d->buckets[i]) {
			struct ci_name *n = d->buckets[i];
			d->buckets[i] = n->next;
			free(n);
		}
	cc->names -= d->nnames;
	cc->ndirs--;
	free(d->buckets);
	free(d);
}

void vfs_posix_ci_free(struct ci_cache *cc)
{
	if (!cc)
		return;
	pthread_mutex_lock(&g_lock);
	bool last = --g_refs == 0;
	if (last)
		g_cache = NULL;
	pthread_mutex_unlock(&g_lock);
	if (!last)
		return;
	while (cc->dirs)
		dir_drop(cc, cc->dirs, false);
	close(cc->ifd);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}

static bool grow(struct ci_dir *d)
{
	size_t nb = d->nbuckets ? d->nbuckets * 2 : 64;
	struct ci_name **b = calloc(nb, sizeof(*b));
	if (!b)
		return false;
	for (size_t i = 0; i < d->nbuckets; i++)
		while (d->buckets[i]) {
			struct ci_name *n = d->buckets[i];
			d->buckets[i] = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = nb;
	return true;
}

/* Adds name unless it is there: 0, or -1 when the index cannot take it (memory, size). */
static int name_add(struct ci_cache *cc, struct ci_dir *d, const char *name)
{
	uint64_t h;
	if (!utf8_case_hash(name, &h))
		return 0; /* invalid UTF-8: no client name can match it */
	if (d->nbuckets)
		for (struct ci_name *n = d->buckets[h & (d->nbuckets - 1)]; n; n = n->next)
			if (n->hash == h && !strcmp(n->name, name))
				return 0;
	if (cc->names >= CI_MAX_NAMES)
		return -1;
	if (d->nnames >= d->nbuckets && !grow(d))
		return -1;
	size_t len = strlen(name);
	struct ci_name *n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return -1;
	n->hash = h;
	memcpy(n->name, name, len + 1);
	n->next = d->buckets[h & (d->nbuckets - 1)];
	d->buckets[h & (d->nbuckets - 1)] = n;
	d->nnames++;
	cc->names++;
	return 0;
}

static void name_remove(struct ci_cache *cc, struct ci_dir *d, const char *name)
{
	uint64_t h;
	if (!d->nbuckets || !utf8_case_hash(name, &h))
		return;
	for (struct ci_name **pp = &d->buckets[h & (d->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		struct ci_name *n = *pp;
		if (n->hash == h && !strcmp(n->name, name)) {
			*pp = n->next;
			free(n);
			d->nnames--;
			cc->names--;
			return;
		}
	}
}

static struct ci_dir *dir_by_wd(struct ci_cache *cc, int wd)
{
	for (struct ci_dir *d = cc->dirs; d; d = d->next)
		if (d->wd == wd)
			return d;
	return NULL;
}

/* Applies every queued event (cc->lock held). */
static void drain(struct ci_cache *cc)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(cc->ifd, buf, sizeof(buf));
		if (n <= 0)
			return; /* EAGAIN: the queue is empty */
		for (ssize_t i = 0; i + (ssize_t)sizeof(struct inotify_event) <= n;) {
			struct inotify_event *ev = (struct inotify_event *)(buf + i);
			i += (ssize_t)sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				while (cc->dirs)
					dir_drop(cc, cc->dirs, false);
				continue;
			}
			struct ci_dir *d = dir_by_wd(cc, ev->wd);
			if (!d)
				continue;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) {
				dir_drop(cc, d, (ev->mask & IN_IGNORED) != 0);
				continue;
			}
			if (!ev->len)
				continue;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
				if (name_add(cc, d, ev->name) < 0)
					dir_drop(cc, d, false);
			} else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
				name_remove(cc, d, ev->name);
			}
		}
	}
}

/* Indexes the directory open as dirfd: the watch first, then the scan (cc->lock held). */
static struct ci_dir *dir_build(struct ci_cache *cc, int dirfd, const struct stat *st)
{
	while (cc->ndirs >= CI_MAX_DIRS) {
		struct ci_dir *last = cc->dirs;
		while (last->next)
			last = last->next;
		dir_drop(cc, last, false);
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	int wd = inotify_add_watch(cc->ifd, path, CI_EVENTS);
	if (wd < 0)
		return NULL;
	struct ci_dir *d = dir_by_wd(cc, wd);
	if (d) /* the same directory under another key: cannot happen, but never twice */
		dir_drop(cc, d, true);
	d = calloc(1, sizeof(*d));
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d || !dir) {
		if (dir)
			closedir(dir);
		else if (fd >= 0)
			close(fd);
		free(d);
		inotify_rm_watch(cc->ifd, wd);
		return NULL;
	}
	d->dev = st->st_dev;
	d->ino = st->st_ino;
	d->wd = wd;
	dir_push_front(cc, d);
	cc->ndirs++;
	bool ok = grow(d);
	for (struct dirent *de; ok && (de = readdir(dir));) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ok = name_add(cc, d, de->d_name) == 0;
	}
	closedir(dir);
	if (!ok) {
		dir_drop(cc, d, false);
		return NULL;
	}
	return d;
}

int vfs_posix_ci_find(struct ci_cache *cc, int dirfd, const char *comp, char **found)
{
	if (!cc)
		return -EAGAIN;
	uint64_t h;
	if (!utf8_case_hash(comp, &h))
		return -ENOENT; /* invalid UTF-8 matches nothing */
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&cc->lock);
	drain(cc);
	struct ci_dir *d = cc->dirs;
	while (d && (d->dev != st.st_dev || d->ino != st.st_ino))
		d = d->next;
	if (d) {
		dir_unlink(cc, d);
		dir_push_front(cc, d);
	} else {
		d = dir_build(cc, dirfd, &st);
		if (d)
			drain(cc); /* what changed during the scan */
		/* the directory may have gone meanwhile: look again */
		for (d = cc->dirs; d && (d->dev != st.st_dev || d->ino != st.st_ino);)
			d = d->next;
		if (!d) {
			pthread_mutex_unlock(&cc->lock);
			return -EAGAIN;
		}
	}
	int rc = -ENOENT;
	for (struct ci_name *n = d->buckets[h & (d->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && utf8_case_equal(comp, n->name)) {
			*found = strdup(n->name);
			rc = *found ? 0 : -ENOMEM;
			break;
		}
	pthread_mutex_unlock(&cc->lock);
	return rc;
}
