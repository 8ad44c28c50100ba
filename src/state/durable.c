/* The durable-open table (see durable.h): records hashed by persistent id and, for v2, by
 * CreateGuid; a thread expires disconnected records at their deadline. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/durable.h"

#define DH_BUCKETS 256

struct state_durable {
	struct state_durable_db *db;
	struct state_durable_rec rec;
	void *owner;
	bool disconnected;
	bool doomed;
	uint64_t deadline_ms;
	struct state_durable *id_next, *guid_next;
	bool in_guid;
};

struct dh_pending {
	uint8_t client[16], guid[16];
	struct dh_pending *next;
};

struct state_durable_db {
	struct dh_pending *pending;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	void (*expire)(void *owner);
	struct state_durable *by_id[DH_BUCKETS];
	struct state_durable *by_guid[DH_BUCKETS];
	int count;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned id_hash(uint64_t id)
{
	id ^= id >> 29;
	id *= 0xbf58476d1ce4e5b9ull;
	return (unsigned)(id >> 56) % DH_BUCKETS;
}

static unsigned guid_hash(const uint8_t g[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ g[i]) * 16777619u;
	return h % DH_BUCKETS;
}

static void unlink_rec(struct state_durable *h)
{
	struct state_durable_db *db = h->db;
	for (struct state_durable **p = &db->by_id[id_hash(h->rec.persistent_id)]; *p;
	     p = &(*p)->id_next)
		if (*p == h) {
			*p = h->id_next;
			break;
		}
	if (h->in_guid)
		for (struct state_durable **p = &db->by_guid[guid_hash(h->rec.create_guid)]; *p;
		     p = &(*p)->guid_next)
			if (*p == h) {
				*p = h->guid_next;
				break;
			}
	db->count--;
}

/* Removes one expired (or doomed) disconnected record, returning its owner; NULL when none is
 * due. *next receives the earliest deadline still pending (UINT64_MAX: none). */
static void *pop_expired(struct state_durable_db *db, uint64_t now, bool all, uint64_t *next)
{
	*next = UINT64_MAX;
	for (int b = 0; b < DH_BUCKETS; b++)
		for (struct state_durable *h = db->by_id[b]; h; h = h->id_next) {
			if (!h->disconnected)
				continue;
			if (all || h->doomed || h->deadline_ms <= now) {
				void *owner = h->owner;
				unlink_rec(h);
				free(h);
				return owner;
			}
			if (h->deadline_ms < *next)
				*next = h->deadline_ms;
		}
	return NULL;
}

static void *expiry_thread(void *arg)
{
	struct state_durable_db *db = arg;
	pthread_mutex_lock(&db->lock);
	while (!db->stop) {
		uint64_t next;
		void *owner = pop_expired(db, now_ms(), false, &next);
		if (owner) {
			pthread_mutex_unlock(&db->lock);
			db->expire(owner);
			pthread_mutex_lock(&db->lock);
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&db->cond, &db->lock);
		} else {
			struct timespec ts = {(time_t)(next / 1000), (long)(next % 1000) * 1000000};
			pthread_cond_timedwait(&db->cond, &db->lock, &ts);
		}
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}

struct state_durable_db *state_durable_db_new(void (*expire)(void *owner))
{
	struct state_durable_db *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->cond, &ca);
	pthread_condattr_destroy(&ca);
	db->expire = expire;
	if (pthread_create(&db->thread, NULL, expiry_thread, db) != 0) {
		pthread_cond_destroy(&db->cond);
		pthread_mutex_destroy(&db->lock);
		free(db);
		return NULL;
	}
	return db;
}

void state_durable_db_free(struct state_durable_db *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&db->lock);
	db->stop = true;
	pthread_cond_signal(&db->cond);
	pthread_mutex_unlock(&db->lock);
	pthread_join(db->thread, NULL);
	for (;;) {
		uint64_t next;
		pthread_mutex_lock(&db->lock);
		void *owner = pop_expired(db, now_ms(), true, &next);
		pthread_mutex_unlock(&db->lock);
		if (!owner)
			break;
		db->expire(owner);
	}
	/* attached records belong to live opens, which remove them when they close; none should
	   be left by now, but do not leak them */
	for (int b = 0; b < DH_BUCKETS; b++)
		while (db->by_id[b]) {
			struct state_durable *h = db->by_id[b];
			db->by_id[b] = h->id_next;
			free(h);
		}
	while (db->pending) {
		struct dh_pending *p = db->pending;
		db->pending = p->next;
		free(p);
	}
	pthread_cond_destroy(&db->cond);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

static struct state_durable *find_guid(struct state_durable_db *db, const uint8_t client[16],
				       const uint8_t guid[16])
{
	for (struct state_durable *h = db->by_guid[guid_hash(guid)]; h; h = h->guid_next)
		if (!memcmp(h->rec.create_guid, guid, 16) && !memcmp(h->rec.client_guid, client, 16))
			return h;
	return NULL;
}

int state_durable_add(struct state_durable_db *db, const struct state_durable_rec *rec,
		      void *owner, struct state_durable **out)
{
	struct state_durable *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->db = db;
	h->rec = *rec;
	h->owner = owner;
	pthread_mutex_lock(&db->lock);
	if (rec->version == 2) {
		if (find_guid(db, rec->client_guid, rec->create_guid)) {
			pthread_mutex_unlock(&db->lock);
			free(h);
			return -EEXIST;
		}
		unsigned g = guid_hash(rec->create_guid);
		h->guid_next = db->by_guid[g];
		db->by_guid[g] = h;
		h->in_guid = true;
	}
	unsigned b = id_hash(rec->persistent_id);
	h->id_next = db->by_id[b];
	db->by_id[b] = h;
	db->count++;
	pthread_mutex_unlock(&db->lock);
	*out = h;
	return 0;
}

void state_durable_remove(struct state_durable *h)
{
	if (!h)
		return;
	struct state_durable_db *db = h->db;
	pthread_mutex_lock(&db->lock);
	unlink_rec(h);
	pthread_mutex_unlock(&db->lock);
	free(h);
}

void state_durable_detach(struct state_durable *h)
{
	struct state_durable_db *db = h->db;
	pthread_mutex_lock(&db->lock);
	h->disconnected = true;
	h->deadline_ms = now_ms() + h->rec.timeout_ms;
	pthread_cond_signal(&db->cond);
	pthread_mutex_unlock(&db->lock);
}

static struct state_durable *find_id(struct state_durable_db *db, uint64_t persistent_id)
{
	for (struct state_durable *h = db->by_id[id_hash(persistent_id)]; h; h = h->id_next)
		if (h->rec.persistent_id == persistent_id)
			return h;
	return NULL;
}

void state_durable_doom(struct state_durable_db *db, uint64_t persistent_id)
{
	pthread_mutex_lock(&db->lock);
	/* sticky: a break may come while the owner is still detaching (marked detached, record
	   not yet disconnected); the record expires as soon as it is disconnected */
	struct state_durable *h = find_id(db, persistent_id);
	if (h) {
		h->doomed = true;
		pthread_cond_signal(&db->cond);
	}
	pthread_mutex_unlock(&db->lock);
}

int state_durable_take(struct state_durable_db *db, uint64_t persistent_id, uint64_t session_id,
		       struct state_durable_rec *rec, void **owner, struct state_durable **out)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&db->lock);
	struct state_durable *h = find_id(db, persistent_id);
	if (h && h->rec.replay_only)
		h = NULL;
	if (h && !h->disconnected) {
		*rec = h->rec;
		rc = -EBUSY;
	} else if (h && !h->doomed) {
		h->disconnected = false;
		h->rec.session_id = session_id;
		*rec = h->rec;
		*owner = h->owner;
		*out = h;
		rc = 0;
	}
	pthread_mutex_unlock(&db->lock);
	return rc;
}

void state_durable_untake(struct state_durable *h)
{
	struct state_durable_db *db = h->db;
	pthread_mutex_lock(&db->lock);
	h->disconnected = true;
	pthread_cond_signal(&db->cond);
	pthread_mutex_unlock(&db->lock);
}

bool state_durable_find_guid(struct state_durable_db *db, const uint8_t client_guid[16],
			     const uint8_t create_guid[16], uint64_t *persistent_id, bool *attached)
{
	pthread_mutex_lock(&db->lock);
	struct state_durable *h = find_guid(db, client_guid, create_guid);
	if (h) {
		*persistent_id = h->rec.persistent_id;
		*attached = !h->disconnected;
	}
	pthread_mutex_unlock(&db->lock);
	return h != NULL;
}

void state_durable_get(struct state_durable *h, struct state_durable_rec *rec)
{
	pthread_mutex_lock(&h->db->lock);
	*rec = h->rec;
	pthread_mutex_unlock(&h->db->lock);
}

int state_durable_count(struct state_durable_db *db)
{
	pthread_mutex_lock(&db->lock);
	int n = db->count;
	pthread_mutex_unlock(&db->lock);
	return n;
}

static struct dh_pending **pending_find(struct state_durable_db *db, const uint8_t client[16],
					const uint8_t guid[16])
{
	struct dh_pending **pp = &db->pending;
	for (; *pp; pp = &(*pp)->next)
		if (!memcmp((*pp)->client, client, 16) && !memcmp((*pp)->guid, guid, 16))
			break;
	return pp;
}

int state_durable_pending_add(struct state_durable_db *db, const uint8_t client_guid[16],
			      const uint8_t create_guid[16])
{
	struct dh_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p->client, client_guid, 16);
	memcpy(p->guid, create_guid, 16);
	pthread_mutex_lock(&db->lock);
	if (*pending_find(db, client_guid, create_guid)) {
		pthread_mutex_unlock(&db->lock);
		free(p);
		return -EEXIST;
	}
	p->next = db->pending;
	db->pending = p;
	pthread_mutex_unlock(&db->lock);
	return 0;
}

void state_durable_pending_remove(struct state_durable_db *db, const uint8_t client_guid[16],
				  const uint8_t create_guid[16])
{
	pthread_mutex_lock(&db->lock);
	struct dh_pending **pp = pending_find(db, client_guid, create_guid);
	struct dh_pending *p = *pp;
	if (p)
		*pp = p->next;
	pthread_mutex_unlock(&db->lock);
	free(p);
}

bool state_durable_pending(struct state_durable_db *db, const uint8_t client_guid[16],
			   const uint8_t create_guid[16])
{
	pthread_mutex_lock(&db->lock);
	bool found = *pending_find(db, client_guid, create_guid) != NULL;
	pthread_mutex_unlock(&db->lock);
	return found;
}
