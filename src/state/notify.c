/* Change notification watches over inotify; see notify.h. */
#include "state/notify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/utf16.h"

#define WATCH_MASK                                                                                 \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB |             \
	 IN_ONLYDIR | IN_EXCL_UNLINK)

struct nevent {
	struct nevent *next;
	uint32_t action;
	char name[]; /* relative to the watched directory, '/' separated */
};

struct wdir { /* one inotify watch descriptor of a watch: a directory at rel below the root */
	int wd;
	char *rel; /* "" for the root */
};

/* Changes collected for one answer. */
struct batch {
	struct nevent *head, *tail;
	int nevents;
	size_t bytes;  /* encoded size */
	bool overflow; /* changes were lost: the answer is NOTIFY_ENUM_DIR */
};

/* A waiting request. The changes that arrive while it waits are its answer (assigned): those that
 * come after belong to the next waiter, as a waiting request completes at the moment of a change
 * (two requests waiting on one handle get one change each, smbtorture smb2.notify.mask-change). */
struct waiter {
	struct waiter *next;
	void (*wake)(void *);
	void *arg;
	bool assigned; /* holds a batch, not taken yet */
	bool taken;    /* its request took an answer: it gets no more */
	struct batch b;
};

struct state_watch {
	struct state_watch *next, *prev;
	struct state_notify *sn;
	uint64_t id; /* epoll cookie: a stale event never reaches a freed watch */
	int ifd;     /* inotify instance */
	int dirfd;   /* our duplicate of the directory */
	bool tree;
	uint32_t filter;
	struct wdir *dirs;
	int ndirs, dirs_cap;
	struct batch buf; /* changes no waiter holds yet */
	bool deleted;	  /* the directory is delete pending */
	struct waiter *waiters;
	/* a MOVED_FROM waiting for its MOVED_TO within one read */
	uint32_t move_cookie;
	char *move_name;
	bool move_dir;
	int move_wd;
	/* the name whose IN_CREATE was the last event: its first IN_ATTRIB is part of the creation
	   (the VFS stores the new file's DOS attributes in one xattr write) */
	char *just_created;
};

struct state_notify {
	pthread_mutex_t lock;
	pthread_t thread;
	int epfd, stopfd;
	uint64_t next_id;
	struct state_watch *watches;
	atomic_int nwatches; /* how many are in the list: state_notify_settle skips the lock at 0 */
};

/* ---- encoding ---- */

/* FILE_NOTIFY_INFORMATION: NextEntryOffset, Action, FileNameLength, FileName (UTF-16LE, '\'),
 * entries 4-byte aligned. */
static long encode_one(struct wr *w, size_t *prev_off, uint32_t action, const char *name)
{
	long n16 = utf16_len(name);
	if (n16 < 0)
		return -EINVAL;
	/* a full fixed writer stops growing: check it, or this would never end */
	while (w->len % 4 && wr_ok(w))
		wr_u8(w, 0);
	if (!wr_ok(w))
		return -EOVERFLOW;
	size_t off = w->len;
	if (*prev_off != SIZE_MAX)
		wr_set_u32(w, *prev_off, (uint32_t)(off - *prev_off));
	wr_u32(w, 0);
	wr_u32(w, action);
	wr_u32(w, (uint32_t)n16);
	size_t name_off = w->len;
	wr_utf16(w, name);
	if (!wr_ok(w))
		return -EOVERFLOW;
	for (size_t i = name_off; i + 1 < w->len; i += 2)
		if (w->p[i] == '/' && w->p[i + 1] == 0)
			w->p[i] = '\\';
	*prev_off = off;
	return 0;
}

long state_notify_encode(const uint32_t *actions, const char *const *names, int n, uint8_t *buf,
			 size_t max)
{
	struct wr w;
	wr_init_fixed(&w, buf, max);
	size_t prev = SIZE_MAX;
	for (int i = 0; i < n; i++) {
		long rc = encode_one(&w, &prev, actions[i], names[i]);
		if (rc < 0)
			return rc == -EINVAL ? -EINVAL : -EOVERFLOW;
	}
	return (long)w.len;
}

static size_t encoded_size(const char *name)
{
	long n16 = utf16_len(name);
	return 12 + (n16 > 0 ? (size_t)n16 : 0) + 3;
}

/* ---- buffering (registry lock held) ---- */

static void batch_clear(struct batch *b)
{
	while (b->head) {
		struct nevent *e = b->head;
		b->head = e->next;
		free(e);
	}
	b->tail = NULL;
	b->nevents = 0;
	b->bytes = 0;
}

/* Changes were lost: the answer becomes NOTIFY_ENUM_DIR (the client reads the folder again). */
static void batch_lose(struct batch *b)
{
	batch_clear(b);
	b->overflow = true;
}

static bool batch_empty(const struct batch *b)
{
	return !b->head && !b->overflow;
}

static void wake_waiters(struct state_watch *w)
{
	for (struct waiter *x = w->waiters; x; x = x->next)
		x->wake(x->arg);
}

/* Hands the buffered changes to the first waiter that has none and wakes it (registry lock
 * held). Called whenever changes were added. */
static void assign_changes(struct state_watch *w)
{
	if (batch_empty(&w->buf))
		return;
	for (struct waiter *x = w->waiters; x; x = x->next) {
		if (x->assigned || x->taken)
			continue;
		x->b = w->buf;
		memset(&w->buf, 0, sizeof(w->buf));
		x->assigned = true;
		x->wake(x->arg);
		return;
	}
}

/* Puts a waiter's changes back in front of the buffered ones (its request ended without them). */
static void unassign(struct state_watch *w, struct waiter *x)
{
	if (!x->assigned)
		return;
	x->assigned = false;
	struct batch *b = &x->b;
	if (b->overflow || w->buf.overflow ||
	    w->buf.nevents + b->nevents > STATE_NOTIFY_MAX_EVENTS ||
	    w->buf.bytes + b->bytes > STATE_NOTIFY_MAX_BYTES) {
		batch_clear(b);
		batch_lose(&w->buf);
		return;
	}
	if (b->tail) {
		b->tail->next = w->buf.head;
		if (!w->buf.tail)
			w->buf.tail = b->tail;
		w->buf.head = b->head;
		w->buf.nevents += b->nevents;
		w->buf.bytes += b->bytes;
	}
	memset(b, 0, sizeof(*b));
}

static void add_event(struct state_watch *w, uint32_t action, uint32_t cls, const char *name)
{
	struct batch *b = &w->buf;
	if (!(w->filter & cls))
		return;
	if (b->overflow)
		return;
	/* a run of writes to one file is one change to the client */
	if (action == NOTIFY_ACTION_MODIFIED && b->tail &&
	    b->tail->action == NOTIFY_ACTION_MODIFIED && strcmp(b->tail->name, name) == 0)
		return;
	size_t sz = encoded_size(name);
	if (b->nevents >= STATE_NOTIFY_MAX_EVENTS || b->bytes + sz > STATE_NOTIFY_MAX_BYTES) {
		batch_lose(b);
		return;
	}
	size_t len = strlen(name);
	struct nevent *e = malloc(sizeof(*e) + len + 1);
	if (!e) {
		batch_lose(b);
		return;
	}
	e->next = NULL;
	e->action = action;
	memcpy(e->name, name, len + 1);
	if (b->tail)
		b->tail->next = e;
	else
		b->head = e;
	b->tail = e;
	b->nevents++;
	b->bytes += sz;
}

/* ---- inotify watch descriptors of one watch (registry lock held) ---- */

static const char *wd_rel(struct state_watch *w, int wd)
{
	for (int i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return w->dirs[i].rel;
	return NULL;
}

static void wd_drop(struct state_watch *w, int wd)
{
	for (int i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd) {
			free(w->dirs[i].rel);
			w->dirs[i] = w->dirs[--w->ndirs];
			return;
		}
}

/* Watches the directory rel below the root, and with the tree flag its subdirectories. */
static void wd_add(struct state_watch *w, const char *rel, int depth)
{
	if (w->ndirs >= STATE_NOTIFY_MAX_TREE_DIRS || depth > 64)
		return;
	char path[PATH_MAX];
	if (*rel)
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", w->dirfd, rel);
	else
		snprintf(path, sizeof(path), "/proc/self/fd/%d", w->dirfd);
	int wd = inotify_add_watch(w->ifd, path, WATCH_MASK);
	if (wd < 0)
		return;
	if (!wd_rel(w, wd)) {
		if (w->ndirs == w->dirs_cap) {
			int cap = w->dirs_cap ? w->dirs_cap * 2 : 8;
			struct wdir *d = realloc(w->dirs, (size_t)cap * sizeof(*d));
			if (!d)
				return;
			w->dirs = d;
			w->dirs_cap = cap;
		}
		char *r = strdup(rel);
		if (!r)
			return;
		w->dirs[w->ndirs].wd = wd;
		w->dirs[w->ndirs].rel = r;
		w->ndirs++;
	}
	if (!w->tree)
		return;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = path_join(rel, de->d_name);
		if (sub) {
			wd_add(w, sub, depth + 1);
			free(sub);
		}
	}
	closedir(d);
}

/* ---- the reader thread ---- */

static uint32_t name_class(bool dir)
{
	return dir ? NOTIFY_DIR_NAME : NOTIFY_FILE_NAME;
}

static void flush_move(struct state_watch *w)
{
	if (!w->move_name)
		return;
	add_event(w, NOTIFY_ACTION_REMOVED, name_class(w->move_dir), w->move_name);
	free(w->move_name);
	w->move_name = NULL;
}

/* A file renamed: Windows reports it as OLD_NAME/NEW_NAME within one directory and as
 * REMOVED/ADDED across directories; a watch that does not ask for names sees the file's
 * attributes change instead (the archive bit), as MODIFIED on the new name. */
static void add_rename(struct state_watch *w, const char *from, const char *to, bool dir,
		       bool same_dir)
{
	if (same_dir) {
		add_event(w, NOTIFY_ACTION_RENAMED_OLD, name_class(dir), from);
		add_event(w, NOTIFY_ACTION_RENAMED_NEW, name_class(dir), to);
	} else {
		add_event(w, NOTIFY_ACTION_REMOVED, name_class(dir), from);
		add_event(w, NOTIFY_ACTION_ADDED, name_class(dir), to);
	}
	if (!dir && !(w->filter & NOTIFY_FILE_NAME))
		add_event(w, NOTIFY_ACTION_MODIFIED, NOTIFY_ATTRIBUTES, to);
}

static void handle_event(struct state_watch *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_IGNORED) {
		wd_drop(w, ev->wd);
		return;
	}
	if (ev->mask & IN_Q_OVERFLOW) {
		batch_lose(&w->buf);
		return;
	}
	const char *rel = wd_rel(w, ev->wd);
	if (!rel || !ev->len || !ev->name[0])
		return;
	char *name = path_join(rel, ev->name);
	if (!name)
		return;
	bool dir = ev->mask & IN_ISDIR;
	if (!(ev->mask & IN_MOVED_TO) || ev->cookie != w->move_cookie)
		flush_move(w);
	char *created = w->just_created;
	w->just_created = NULL;
	if ((ev->mask & IN_ATTRIB) && created && strcmp(created, name) == 0) {
		/* the creation's own metadata writes (DOS attributes, a security descriptor), as
		   many as it made: absorbed until the create settles (state_notify_settle) or
		   another change comes */
		w->just_created = created;
		free(name);
		return;
	}
	if (ev->mask & IN_CREATE) {
		add_event(w, NOTIFY_ACTION_ADDED, name_class(dir), name);
		if (dir && w->tree)
			wd_add(w, name, 1);
		w->just_created = name;
		name = NULL;
	} else if (ev->mask & IN_DELETE) {
		add_event(w, NOTIFY_ACTION_REMOVED, name_class(dir), name);
	} else if (ev->mask & IN_MOVED_FROM) {
		w->move_cookie = ev->cookie;
		w->move_dir = dir;
		w->move_wd = ev->wd;
		w->move_name = name;
		name = NULL;
	} else if (ev->mask & IN_MOVED_TO) {
		if (w->move_name && ev->cookie == w->move_cookie) {
			add_rename(w, w->move_name, name, dir, w->move_wd == ev->wd);
			free(w->move_name);
			w->move_name = NULL;
		} else {
			add_event(w, NOTIFY_ACTION_ADDED, name_class(dir), name);
		}
		if (dir && w->tree)
			wd_add(w, name, 1);
	} else if (ev->mask & IN_MODIFY) {
		add_event(w, NOTIFY_ACTION_MODIFIED, NOTIFY_SIZE | NOTIFY_LAST_WRITE, name);
	} else if (ev->mask & IN_ATTRIB) {
		/* the kernel does not say which: mode, owner, times, xattrs (DOS attributes,
		   streams and security descriptors live there) */
		add_event(w, NOTIFY_ACTION_MODIFIED,
			  NOTIFY_ATTRIBUTES | NOTIFY_LAST_WRITE | NOTIFY_LAST_ACCESS |
			      NOTIFY_CREATION | NOTIFY_EA | NOTIFY_SECURITY,
			  name);
	}
	free(created);
	free(name);
}

static void read_watch(struct state_watch *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(buf + off);
			handle_event(w, ev);
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
		any = true;
	}
	flush_move(w);
	if (any)
		assign_changes(w);
}

/* Reads the watches that k epoll events name (the registry lock held); false when one of them
 * is the stop event. */
static bool read_events(struct state_notify *sn, const struct epoll_event *evs, int k)
{
	bool go_on = true;
	for (int i = 0; i < k; i++) {
		if (evs[i].data.u64 == 0) {
			go_on = false;
			continue;
		}
		for (struct state_watch *w = sn->watches; w; w = w->next)
			if (w->id == evs[i].data.u64) {
				read_watch(w);
				break;
			}
	}
	return go_on;
}

static void *notify_main(void *arg)
{
	struct state_notify *sn = arg;
	struct epoll_event evs[32];
	for (;;) {
		int k = epoll_wait(sn->epfd, evs, 32, -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		pthread_mutex_lock(&sn->lock);
		bool go_on = read_events(sn, evs, k);
		pthread_mutex_unlock(&sn->lock);
		if (!go_on)
			return NULL;
	}
}

/* Reads the watches whose inotify queue holds events (the registry lock held); the stop event
 * is left to the reader thread. */
static void read_ready(struct state_notify *sn)
{
	struct epoll_event evs[32];
	int k;
	do {
		k = epoll_wait(sn->epfd, evs, 32, 0);
		if (k > 0)
			read_events(sn, evs, k);
	} while (k == 32);
}

void state_notify_settle(struct state_notify *sn, const char *name)
{
	if (!sn || !atomic_load(&sn->nwatches))
		return;
	/* under the lock even when no queue holds events: the reader thread may be handling the
	   request's events right now, and they must be assigned before its response goes out */
	pthread_mutex_lock(&sn->lock);
	read_ready(sn);
	const char *base = name ? strrchr(name, '/') : NULL;
	base = base ? base + 1 : name;
	for (struct state_watch *w = sn->watches; w && base; w = w->next) {
		if (!w->just_created)
			continue;
		const char *jb = strrchr(w->just_created, '/');
		jb = jb ? jb + 1 : w->just_created;
		if (strcmp(jb, base) == 0) {
			free(w->just_created);
			w->just_created = NULL;
		}
	}
	pthread_mutex_unlock(&sn->lock);
}

struct state_notify *state_notify_new(void)
{
	struct state_notify *sn = calloc(1, sizeof(*sn));
	if (!sn)
		return NULL;
	pthread_mutex_init(&sn->lock, NULL);
	sn->epfd = epoll_create1(EPOLL_CLOEXEC);
	sn->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	if (sn->epfd < 0 || sn->stopfd < 0 ||
	    epoll_ctl(sn->epfd, EPOLL_CTL_ADD, sn->stopfd, &ev) < 0 ||
	    pthread_create(&sn->thread, NULL, notify_main, sn) != 0) {
		if (sn->epfd >= 0)
			close(sn->epfd);
		if (sn->stopfd >= 0)
			close(sn->stopfd);
		pthread_mutex_destroy(&sn->lock);
		free(sn);
		return NULL;
	}
	sn->next_id = 1;
	return sn;
}

void state_notify_free(struct state_notify *sn)
{
	if (!sn)
		return;
	uint64_t one = 1;
	if (write(sn->stopfd, &one, sizeof(one)) < 0)
		LOG_WARN(LOG_STATE, "notify: cannot stop the reader thread");
	pthread_join(sn->thread, NULL);
	while (sn->watches)
		state_watch_free(sn->watches);
	close(sn->epfd);
	close(sn->stopfd);
	pthread_mutex_destroy(&sn->lock);
	free(sn);
}

int state_watch_new(struct state_notify *sn, int dirfd, bool tree, uint32_t filter,
		    struct state_watch **out)
{
	struct state_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->sn = sn;
	w->tree = tree;
	w->filter = filter;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		int e = -errno;
		free(w);
		return e;
	}
	w->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (w->dirfd < 0) {
		int e = -errno;
		close(w->ifd);
		free(w);
		return e;
	}
	pthread_mutex_lock(&sn->lock);
	w->id = ++sn->next_id;
	wd_add(w, "", 0);
	if (w->ndirs == 0) {
		pthread_mutex_unlock(&sn->lock);
		close(w->dirfd);
		close(w->ifd);
		free(w);
		return -ENOSPC;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = w->id};
	if (epoll_ctl(sn->epfd, EPOLL_CTL_ADD, w->ifd, &ev) < 0) {
		int e = -errno;
		pthread_mutex_unlock(&sn->lock);
		for (int i = 0; i < w->ndirs; i++)
			free(w->dirs[i].rel);
		free(w->dirs);
		close(w->dirfd);
		close(w->ifd);
		free(w);
		return e;
	}
	w->next = sn->watches;
	if (sn->watches)
		sn->watches->prev = w;
	sn->watches = w;
	atomic_fetch_add(&sn->nwatches, 1);
	pthread_mutex_unlock(&sn->lock);
	*out = w;
	return 0;
}

void state_watch_free(struct state_watch *w)
{
	if (!w)
		return;
	struct state_notify *sn = w->sn;
	pthread_mutex_lock(&sn->lock);
	epoll_ctl(sn->epfd, EPOLL_CTL_DEL, w->ifd, NULL);
	if (w->prev)
		w->prev->next = w->next;
	else
		sn->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	atomic_fetch_sub(&sn->nwatches, 1);
	pthread_mutex_unlock(&sn->lock);
	close(w->ifd);
	close(w->dirfd);
	for (int i = 0; i < w->ndirs; i++)
		free(w->dirs[i].rel);
	free(w->dirs);
	free(w->move_name);
	free(w->just_created);
	batch_clear(&w->buf);
	while (w->waiters) {
		struct waiter *x = w->waiters;
		w->waiters = x->next;
		batch_clear(&x->b);
		free(x);
	}
	free(w);
}

int state_watch_add_waiter(struct state_watch *w, void (*wake)(void *), void *arg)
{
	struct waiter *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->wake = wake;
	x->arg = arg;
	pthread_mutex_lock(&w->sn->lock);
	struct waiter **pp = &w->waiters;
	while (*pp)
		pp = &(*pp)->next;
	*pp = x;
	/* changes that arrived before the waiter did are its answer at once */
	assign_changes(w);
	if (w->deleted)
		wake(arg);
	pthread_mutex_unlock(&w->sn->lock);
	return 0;
}

void state_watch_del_waiter(struct state_watch *w, void *arg)
{
	pthread_mutex_lock(&w->sn->lock);
	for (struct waiter **pp = &w->waiters; *pp; pp = &(*pp)->next)
		if ((*pp)->arg == arg) {
			struct waiter *x = *pp;
			*pp = x->next;
			/* cancelled with an answer it never sent: the next request gets it */
			unassign(w, x);
			free(x);
			assign_changes(w);
			break;
		}
	pthread_mutex_unlock(&w->sn->lock);
}

void state_watch_mark_deleted(struct state_watch *w)
{
	pthread_mutex_lock(&w->sn->lock);
	w->deleted = true;
	wake_waiters(w);
	pthread_mutex_unlock(&w->sn->lock);
}

/* Encodes b into buf (at most max bytes) and empties it: bytes written, 0 when b is empty,
 * -EOVERFLOW when changes were lost or do not fit. */
static long batch_take(struct batch *b, uint8_t *buf, size_t max)
{
	long rc = 0;
	if (b->overflow) {
		rc = -EOVERFLOW;
	} else if (b->head) {
		struct wr out;
		wr_init_fixed(&out, buf, max);
		size_t prev = SIZE_MAX;
		for (struct nevent *e = b->head; e && rc == 0; e = e->next)
			if (encode_one(&out, &prev, e->action, e->name) == -EOVERFLOW)
				rc = -EOVERFLOW;
		if (rc == 0)
			rc = (long)out.len;
	}
	batch_clear(b);
	b->overflow = false;
	return rc;
}

long state_watch_take(struct state_watch *w, void *arg, uint8_t *buf, size_t max)
{
	pthread_mutex_lock(&w->sn->lock);
	struct waiter *x = NULL;
	if (arg)
		for (x = w->waiters; x && x->arg != arg; x = x->next)
			;
	long rc;
	if (w->deleted) {
		rc = -EIDRM;
	} else if (x && x->assigned) {
		x->assigned = false;
		rc = batch_take(&x->b, buf, max);
	} else if (x && x->taken) {
		rc = 0;
	} else {
		/* no answer of its own: what is buffered, unless an earlier waiter's answer is
		   still on its way (it goes first) */
		bool earlier = false;
		for (struct waiter *y = w->waiters; y && y != x; y = y->next)
			earlier |= y->assigned;
		rc = earlier ? 0 : batch_take(&w->buf, buf, max);
	}
	if (x && rc != 0)
		x->taken = true;
	pthread_mutex_unlock(&w->sn->lock);
	return rc;
}

void state_watch_post(struct state_watch *w, uint32_t action, uint32_t filter_class,
		      const char *name)
{
	pthread_mutex_lock(&w->sn->lock);
	add_event(w, action, filter_class, name);
	assign_changes(w);
	pthread_mutex_unlock(&w->sn->lock);
}
