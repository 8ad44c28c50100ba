/* The local in-memory backend of the share-mode table (see state.h). A chained hash table of
 * file records under one mutex: opens are short operations, so a single lock is simpler than
 * per-bucket locks until measurements say otherwise. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "lib/log.h"
#include "state/state.h"

#define STATE_BUCKETS 1024u

struct state_file {
	struct state_key key;
	struct state_file *next; /* hash chain */
	struct state_open *opens;
	int nopens;
	bool delete_pending;
};

struct state_open {
	struct state_db *db;
	struct state_file *file;
	struct state_open *next;
	uint64_t stream; /* 0: the file's data */
	uint32_t access, share_access;
	bool delete_on_close;
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
		free(f);
	}
	pthread_mutex_unlock(&db->lock);
	free(h);
	return delete_now;
}
