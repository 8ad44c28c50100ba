/* The local in-memory backend of the state table (see state.h). A chained hash table of file
 * records under one mutex: opens and lock requests are short operations, so a single lock is
 * simpler than per-bucket locks until measurements say otherwise. A file's byte-range locks are
 * an unsorted array scanned linearly (STATE_LOCKS_PER_OPEN_MAX bounds it per open). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "state/state.h"

#define STATE_BUCKETS 1024u

struct state_lock {
	uint64_t off, len;
	struct state_open *owner;
	bool exclusive;
};

struct state_file {
	struct state_key key;
	struct state_file *next; /* hash chain */
	struct state_open *opens;
	int nopens;
	bool delete_pending;
	struct state_lock *locks; /* in the order they were granted */
	int nlocks, locks_cap;
	struct state_lock_waiter *waiters;
};

#define LOCK_SEQ_VALID 0x80u
#define LOCK_SEQ_ENTRIES 64

struct state_open {
	struct state_db *db;
	struct state_file *file;
	struct state_open *next;
	uint64_t stream; /* 0: the file's data */
	uint32_t access, share_access;
	bool delete_on_close;
	int nlocks;
	uint8_t lock_seq[LOCK_SEQ_ENTRIES]; /* LOCK_SEQ_VALID | sequence number */
	/* called (db lock held) when the file becomes delete pending: change notification */
	void (*on_delete_pending)(void *arg);
	void *dp_arg;
	bool stream_pending; /* its stream is delete pending (set on every open of the stream) */
};

struct state_db {
	pthread_mutex_t lock;
	struct state_file *buckets[STATE_BUCKETS];
};

struct state_db *state_db_new(void)
{
	struct state_db *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	pthread_mutex_init(&db->lock, NULL);
	return db;
}

void state_db_free(struct state_db *db)
{
	if (!db)
		return;
	for (unsigned i = 0; i < STATE_BUCKETS; i++) {
		struct state_file *f = db->buckets[i];
		while (f) {
			struct state_file *n = f->next;
			/* handles still owned by opens would dangle: teardown closes opens first */
			if (f->nopens)
				LOG_WARN(LOG_STATE, "share-mode record freed with %d opens",
					 f->nopens);
			struct state_open *o = f->opens;
			while (o) {
				struct state_open *on = o->next;
				free(o);
				o = on;
			}
			for (struct state_lock_waiter *w = f->waiters; w; w = w->next)
				w->file = NULL;
			free(f->locks);
			free(f);
			f = n;
		}
	}
	pthread_mutex_destroy(&db->lock);
	free(db);
}

static unsigned bucket_of(const struct state_key *k)
{
	uint64_t h = k->ino * 0x9E3779B97F4A7C15ull ^ k->dev;
	h ^= h >> 29;
	return (unsigned)(h % STATE_BUCKETS);
}

static void drop_open_locks(struct state_file *f, struct state_open *h);

#define DATA_ACCESS                                                                                \
	(STATE_FILE_READ_DATA | STATE_FILE_WRITE_DATA | STATE_FILE_APPEND_DATA |                   \
	 STATE_FILE_EXECUTE | STATE_DELETE)

/* One direction: does the access of open a conflict with the share mode of open b? */
static bool denied_by(uint32_t access, uint32_t share)
{
	if ((access & (STATE_FILE_READ_DATA | STATE_FILE_EXECUTE)) && !(share & STATE_SHARE_READ))
		return true;
	if ((access & (STATE_FILE_WRITE_DATA | STATE_FILE_APPEND_DATA)) &&
	    !(share & STATE_SHARE_WRITE))
		return true;
	return (access & STATE_DELETE) && !(share & STATE_SHARE_DELETE);
}

bool state_share_compatible(uint32_t access, uint32_t share, uint32_t access2, uint32_t share2)
{
	/* MS-FSA 2.1.5.1.2: opens for attributes only take no part in sharing */
	if (!(access & DATA_ACCESS) || !(access2 & DATA_ACCESS))
		return true;
	return !denied_by(access, share2) && !denied_by(access2, share);
}

static struct state_file *find_file(struct state_db *db, const struct state_key *k,
				    struct state_file ***link)
{
	struct state_file **pp = &db->buckets[bucket_of(k)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->key.dev == k->dev && (*pp)->key.ino == k->ino)
			break;
	if (link)
		*link = pp;
	return *pp;
}

int state_share_check_add(struct state_db *db, const struct state_key *key, uint32_t access,
			  uint32_t share_access, struct state_open **out)
{
	struct state_open *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->db = db;
	h->stream = key->stream;
	h->access = access;
	h->share_access = share_access;
	pthread_mutex_lock(&db->lock);
	struct state_file **link;
	struct state_file *f = find_file(db, key, &link);
	int rc = 0;
	if (f && f->delete_pending) {
		rc = -EIDRM;
	} else if (f) {
		for (struct state_open *o = f->opens; o && !rc; o = o->next) {
			if (o->stream == key->stream) {
				if (o->stream_pending)
					rc = -EIDRM;
				else if (!state_share_compatible(access, share_access, o->access,
								 o->share_access))
					rc = -EBUSY;
			} else if (!key->stream && (access & STATE_DELETE) &&
				   !(o->share_access & STATE_SHARE_DELETE)) {
				/* deleting the file deletes its streams: each must share delete */
				rc = -EBUSY;
			}
		}
	} else {
		f = calloc(1, sizeof(*f));
		if (!f)
			rc = -ENOMEM;
		else {
			f->key = *key;
			*link = f;
		}
	}
	if (!rc) {
		h->file = f;
		h->next = f->opens;
		f->opens = h;
		f->nopens++;
	}
	pthread_mutex_unlock(&db->lock);
	if (rc) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

int state_share_probe(struct state_db *db, const struct state_key *key, uint32_t access,
		      uint32_t share_access)
{
	int rc = 0;
	pthread_mutex_lock(&db->lock);
	struct state_file *f = find_file(db, key, NULL);
	if (f && f->delete_pending)
		rc = -EIDRM;
	for (struct state_open *o = f ? f->opens : NULL; o && !rc; o = o->next)
		if (o->stream == key->stream &&
		    !state_share_compatible(access, share_access, o->access, o->share_access))
			rc = -EBUSY;
	pthread_mutex_unlock(&db->lock);
	return rc;
}

void state_open_set_delete_on_close(struct state_open *h, bool on)
{
	pthread_mutex_lock(&h->db->lock);
	h->delete_on_close = on;
	pthread_mutex_unlock(&h->db->lock);
}

/* The file became delete pending: tell the opens that asked (db lock held). */
static void fire_delete_pending(struct state_file *f)
{
	for (struct state_open *o = f->opens; o; o = o->next)
		if (o->on_delete_pending)
			o->on_delete_pending(o->dp_arg);
}

/* Marks every open of the handle's stream; the caller holds the lock. */
static void mark_stream(struct state_open *h, bool on)
{
	for (struct state_open *o = h->file->opens; o; o = o->next)
		if (o->stream == h->stream)
			o->stream_pending = on;
}

void state_set_delete_pending(struct state_open *h, bool on)
{
	pthread_mutex_lock(&h->db->lock);
	if (h->stream) {
		mark_stream(h, on);
	} else {
		bool was = h->file->delete_pending;
		h->file->delete_pending = on;
		if (on && !was)
			fire_delete_pending(h->file);
	}
	pthread_mutex_unlock(&h->db->lock);
}

void state_open_on_delete_pending(struct state_open *h, void (*cb)(void *arg), void *arg)
{
	pthread_mutex_lock(&h->db->lock);
	h->on_delete_pending = cb;
	h->dp_arg = arg;
	pthread_mutex_unlock(&h->db->lock);
}

bool state_delete_pending(struct state_open *h)
{
	pthread_mutex_lock(&h->db->lock);
	bool r = h->file->delete_pending || h->stream_pending;
	pthread_mutex_unlock(&h->db->lock);
	return r;
}

bool state_key_delete_pending(struct state_db *db, const struct state_key *key)
{
	pthread_mutex_lock(&db->lock);
	struct state_file *f = find_file(db, key, NULL);
	bool r = f && f->delete_pending;
	for (struct state_open *o = f ? f->opens : NULL; o && !r; o = o->next)
		r = o->stream == key->stream && o->stream_pending;
	pthread_mutex_unlock(&db->lock);
	return r;
}

int state_open_count(struct state_open *h)
{
	pthread_mutex_lock(&h->db->lock);
	int n = h->file->nopens;
	pthread_mutex_unlock(&h->db->lock);
	return n;
}

int state_share_remove(struct state_open *h)
{
	if (!h)
		return 0;
	struct state_db *db = h->db;
	int delete_now = 0;
	pthread_mutex_lock(&db->lock);
	struct state_file *f = h->file;
	if (h->delete_on_close && h->stream)
		mark_stream(h, true);
	for (struct state_open **pp = &f->opens; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	/* after the open left the list, so its own callback is not called */
	if (h->delete_on_close && !h->stream && !f->delete_pending) {
		f->delete_pending = true;
		fire_delete_pending(f);
	}
	drop_open_locks(f, h);
	if (h->stream && h->stream_pending) {
		bool last = true;
		for (struct state_open *o = f->opens; o && last; o = o->next)
			last = o->stream != h->stream;
		if (last)
			delete_now = STATE_DELETE_STREAM;
	}
	/* a delete-pending file goes with its last open, streams included */
	if (--f->nopens == 0) {
		if (f->delete_pending)
			delete_now = STATE_DELETE_FILE;
		struct state_file **link;
		find_file(db, &f->key, &link);
		if (*link == f)
			*link = f->next;
		/* waiters belong to opens of this file, all closed now: none should be left */
		for (struct state_lock_waiter *w = f->waiters; w; w = w->next)
			w->file = NULL;
		free(f->locks);
		free(f);
	}
	pthread_mutex_unlock(&db->lock);
	free(h);
	return delete_now;
}

/* ---- byte-range locks ---- */

/* Calls every registered waiter of f; mutex held. */
static void wake_waiters(struct state_file *f)
{
	for (struct state_lock_waiter *w = f->waiters; w; w = w->next)
		w->wake(w->arg);
}

static void waiter_unlink(struct state_lock_waiter *w)
{
	if (!w->file)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->file->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->file = NULL;
}

/* The open is going away: its locks go (waking the waiters when there were any), and a waiter
 * it still owns is unregistered (the SMB2 layer cancels its requests before closing; this only
 * keeps the list sound if it did not). Mutex held. */
static void drop_open_locks(struct state_file *f, struct state_open *h)
{
	for (struct state_lock_waiter *w = f->waiters, *n; w; w = n) {
		n = w->next;
		if (w->owner == h) {
			LOG_WARN(LOG_STATE, "lock waiter left registered by a closing open");
			waiter_unlink(w);
		}
	}
	if (!h->nlocks)
		return;
	int j = 0;
	for (int i = 0; i < f->nlocks; i++)
		if (f->locks[i].owner != h)
			f->locks[j++] = f->locks[i];
	f->nlocks = j;
	h->nlocks = 0;
	wake_waiters(f);
}

bool state_lock_range_valid(uint64_t off, uint64_t len)
{
	return len == 0 || off <= UINT64_MAX - (len - 1);
}

/* Lock-against-lock overlap (both ranges valid). A zero-length range overlaps a range that holds
 * its offset strictly inside; two zero-length ranges never overlap. */
static bool lock_overlap(uint64_t off1, uint64_t len1, uint64_t off2, uint64_t len2)
{
	if (len1 == 0 && len2 == 0)
		return false;
	if (len1 == 0)
		return off2 < off1 && off1 - off2 < len2;
	if (len2 == 0)
		return off1 < off2 && off2 - off1 < len1;
	return off1 <= off2 + (len2 - 1) && off2 <= off1 + (len1 - 1);
}

static bool lock_conflicts(const struct state_lock *l, const struct state_open *h,
			   const struct state_lock_range *r)
{
	if (!lock_overlap(l->off, l->len, r->off, r->len))
		return false;
	if (r->exclusive)
		return true;
	return l->exclusive && l->owner != h;
}

static bool file_conflicts(const struct state_file *f, const struct state_open *h,
			   const struct state_lock_range *r)
{
	for (int i = 0; i < f->nlocks; i++)
		if (f->locks[i].owner->stream == h->stream && lock_conflicts(&f->locks[i], h, r))
			return true;
	return false;
}

static int reserve_locks(struct state_file *f, int more)
{
	if (f->nlocks + more <= f->locks_cap)
		return 0;
	int cap = f->locks_cap ? f->locks_cap : 8;
	while (cap < f->nlocks + more)
		cap *= 2;
	void *n = realloc(f->locks, sizeof(*f->locks) * (size_t)cap);
	if (!n)
		return -ENOMEM;
	f->locks = n;
	f->locks_cap = cap;
	return 0;
}

static void waiter_register(struct state_file *f, struct state_open *h,
			    struct state_lock_waiter *w)
{
	if (w->file)
		return;
	w->db = h->db;
	w->owner = h;
	w->file = f;
	w->prev = NULL;
	w->next = f->waiters;
	if (f->waiters)
		f->waiters->prev = w;
	f->waiters = w;
}

int state_lock_ranges(struct state_open *h, const struct state_lock_range *r, int n,
		      struct state_lock_waiter *w, int *failed)
{
	int bad = 0, rc = 0;
	if (n <= 0)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!state_lock_range_valid(r[i].off, r[i].len)) {
			if (failed)
				*failed = i;
			return -EINVAL;
		}
	pthread_mutex_lock(&h->db->lock);
	struct state_file *f = h->file;
	int base = f->nlocks;
	if (h->nlocks > STATE_LOCKS_PER_OPEN_MAX - n)
		rc = -ENOLCK;
	else
		rc = reserve_locks(f, n);
	/* granted one by one at the end of the array, so a later range also meets the earlier
	   ones of this request; a conflict truncates the array back (nothing was visible) */
	for (int i = 0; i < n && !rc; i++) {
		if (file_conflicts(f, h, &r[i])) {
			rc = -EAGAIN;
			bad = i;
			break;
		}
		f->locks[f->nlocks++] =
		    (struct state_lock){r[i].off, r[i].len, h, r[i].exclusive};
	}
	if (rc) {
		f->nlocks = base;
		if (rc == -EAGAIN && w)
			waiter_register(f, h, w);
	} else {
		h->nlocks += n;
		if (w)
			waiter_unlink(w);
	}
	pthread_mutex_unlock(&h->db->lock);
	if (rc && failed)
		*failed = bad;
	return rc;
}

int state_unlock(struct state_open *h, uint64_t off, uint64_t len)
{
	pthread_mutex_lock(&h->db->lock);
	struct state_file *f = h->file;
	int found = -1;
	for (int i = f->nlocks - 1; i >= 0; i--) {
		const struct state_lock *l = &f->locks[i];
		if (l->owner != h || l->off != off || l->len != len)
			continue;
		if (found < 0 || (l->exclusive && !f->locks[found].exclusive))
			found = i;
		if (l->exclusive)
			break;
	}
	if (found >= 0) {
		/* keep the grant order: later conflicts are reported the same way */
		memmove(&f->locks[found], &f->locks[found + 1],
			sizeof(*f->locks) * (size_t)(f->nlocks - found - 1));
		f->nlocks--;
		h->nlocks--;
		wake_waiters(f);
	}
	pthread_mutex_unlock(&h->db->lock);
	return found >= 0 ? 0 : -ENOENT;
}

void state_lock_waiter_remove(struct state_lock_waiter *w)
{
	if (!w || !w->db)
		return;
	pthread_mutex_lock(&w->db->lock);
	waiter_unlink(w);
	pthread_mutex_unlock(&w->db->lock);
}

int state_lock_check_io(struct state_open *h, uint64_t off, uint64_t len, bool write)
{
	if (len == 0)
		return 0;
	uint64_t last = off > UINT64_MAX - (len - 1) ? UINT64_MAX : off + (len - 1);
	int rc = 0;
	pthread_mutex_lock(&h->db->lock);
	struct state_file *f = h->file;
	for (int i = 0; i < f->nlocks && !rc; i++) {
		const struct state_lock *l = &f->locks[i];
		if (l->owner->stream != h->stream || l->len == 0 || l->off > last ||
		    off > l->off + (l->len - 1))
			continue;
		if (l->exclusive ? l->owner != h : write)
			rc = -EAGAIN;
	}
	pthread_mutex_unlock(&h->db->lock);
	return rc;
}

int state_lock_count(struct state_open *h)
{
	pthread_mutex_lock(&h->db->lock);
	int n = h->nlocks;
	pthread_mutex_unlock(&h->db->lock);
	return n;
}

static int lock_seq_index(uint32_t lock_sequence)
{
	uint32_t idx = lock_sequence >> 4;
	return idx >= 1 && idx <= LOCK_SEQ_ENTRIES ? (int)idx - 1 : -1;
}

bool state_lock_seq_replay(struct state_open *h, uint32_t lock_sequence)
{
	int i = lock_seq_index(lock_sequence);
	if (i < 0)
		return false;
	uint8_t num = lock_sequence & 0xF;
	bool replay = false;
	pthread_mutex_lock(&h->db->lock);
	uint8_t e = h->lock_seq[i];
	if (e & LOCK_SEQ_VALID) {
		if ((e & 0xF) == num)
			replay = true;
		else
			h->lock_seq[i] = 0;
	}
	pthread_mutex_unlock(&h->db->lock);
	return replay;
}

void state_lock_seq_store(struct state_open *h, uint32_t lock_sequence)
{
	int i = lock_seq_index(lock_sequence);
	if (i < 0)
		return;
	pthread_mutex_lock(&h->db->lock);
	h->lock_seq[i] = (uint8_t)(LOCK_SEQ_VALID | (lock_sequence & 0xF));
	pthread_mutex_unlock(&h->db->lock);
}
