/* Oplocks and leases, local in-memory backend (see lease.h). A chained hash table of per-file
 * records (the opens' oplock entries and the waiting creates) and a list of leases, under one
 * mutex: breaks are rare next to opens, and leases per server number in the thousands at most
 * in this issue (the cluster backend will key them by hash). */
#include "state/lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

#define OL_BUCKETS 1024u
#define LEASE_ALL (STATE_LEASE_R | STATE_LEASE_H | STATE_LEASE_W)

struct ol_waiter {
	struct ol_waiter *next;
	void (*cb)(void *arg);
	void *arg;
};

struct ol_file {
	struct state_key key;
	struct ol_file *next;
	struct state_oplock *entries;
	struct ol_waiter *waiters;
};

struct state_lease {
	struct state_lease *next;
	uint8_t guid[16], key[16];
	struct state_key file;
	uint32_t state, breaking_to;
	/* while breaking: what the opens that arrived meanwhile still need; the breaks that give
	   it follow the acknowledgement (LEASE_ALL: nothing more) */
	uint32_t owed;
	bool breaking;
	uint64_t deadline_ms;
	uint16_t epoch;
	uint8_t version;
	int nopens;
};

struct state_oplock {
	struct state_lease_db *db;
	struct ol_file *file;
	struct state_oplock *next;
	void *owner;
	uint32_t access, share;
	uint8_t guid[16];
	uint8_t level; /* oplock level (not STATE_OPLOCK_LEASE: see lease) */
	uint8_t breaking_to;
	bool breaking;
	uint64_t deadline_ms;
	struct state_lease *lease; /* counted in lease->nopens */
	/* its open is deleting the file (state_oplock_retire): a new file may get the same inode
	   before the entry goes, so it no longer counts for grants, breaks or sharing */
	bool retired;
};

struct state_lease_db {
	pthread_mutex_t lock;
	state_break_send_fn send;
	uint32_t timeout_ms;
	struct ol_file *buckets[OL_BUCKETS];
	struct state_lease *leases;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- pure rules ---- */

uint32_t state_oplock_to_lease(uint8_t level)
{
	switch (level) {
	case STATE_OPLOCK_BATCH:
		return STATE_LEASE_R | STATE_LEASE_W | STATE_LEASE_H;
	case STATE_OPLOCK_EXCLUSIVE:
		return STATE_LEASE_R | STATE_LEASE_W;
	case STATE_OPLOCK_II:
		return STATE_LEASE_R;
	default:
		return 0;
	}
}

uint32_t state_break_target(uint32_t cur, bool share_conflict, bool overwrite, bool is_oplock)
{
	uint32_t t = cur & ~(share_conflict ? STATE_LEASE_H : STATE_LEASE_W);
	if (overwrite)
		t &= ~(STATE_LEASE_R | STATE_LEASE_H);
	if (is_oplock && t != cur)
		t &= STATE_LEASE_R; /* an oplock breaks to level II or none */
	return t;
}

bool state_break_needs_ack(uint32_t cur, uint32_t target)
{
	return (cur & ~target & (STATE_LEASE_W | STATE_LEASE_H)) != 0;
}

uint32_t state_lease_grant(uint32_t requested, bool others, bool is_dir)
{
	requested &= STATE_LEASE_R | STATE_LEASE_W | STATE_LEASE_H;
	/* no directory leases yet: changes inside a directory would have to break them */
	if (!(requested & STATE_LEASE_R) || is_dir)
		return 0;
	if (others)
		requested &= ~STATE_LEASE_W;
	return requested;
}

uint8_t state_oplock_grant(uint8_t requested, bool others, bool others_write, bool is_dir)
{
	if (is_dir || others_write)
		return STATE_OPLOCK_NONE;
	switch (requested) {
	case STATE_OPLOCK_BATCH:
	case STATE_OPLOCK_EXCLUSIVE:
		return others ? STATE_OPLOCK_II : requested;
	case STATE_OPLOCK_II:
		return STATE_OPLOCK_II;
	default:
		return STATE_OPLOCK_NONE;
	}
}

/* ---- db ---- */

struct state_lease_db *state_lease_db_new(state_break_send_fn send, uint32_t timeout_ms)
{
	struct state_lease_db *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	pthread_mutex_init(&db->lock, NULL);
	db->send = send;
	db->timeout_ms = timeout_ms;
	return db;
}

void state_lease_db_set_timeout(struct state_lease_db *db, uint32_t timeout_ms)
{
	pthread_mutex_lock(&db->lock);
	db->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&db->lock);
}

uint32_t state_lease_db_timeout(struct state_lease_db *db)
{
	pthread_mutex_lock(&db->lock);
	uint32_t t = db->timeout_ms;
	pthread_mutex_unlock(&db->lock);
	return t;
}

void state_lease_db_free(struct state_lease_db *db)
{
	if (!db)
		return;
	for (unsigned i = 0; i < OL_BUCKETS; i++) {
		struct ol_file *f = db->buckets[i];
		while (f) {
			struct ol_file *n = f->next;
			if (f->entries || f->waiters)
				LOG_WARN(LOG_STATE, "oplock record freed while in use");
			while (f->entries) {
				struct state_oplock *e = f->entries;
				f->entries = e->next;
				free(e);
			}
			while (f->waiters) {
				struct ol_waiter *w = f->waiters;
				f->waiters = w->next;
				free(w);
			}
			free(f);
			f = n;
		}
	}
	while (db->leases) {
		struct state_lease *l = db->leases;
		db->leases = l->next;
		free(l);
	}
	pthread_mutex_destroy(&db->lock);
	free(db);
}

static unsigned bucket_of(const struct state_key *k)
{
	uint64_t h = (k->ino + k->stream * 0x100000001B3ull) * 0x9E3779B97F4A7C15ull ^ k->dev;
	h ^= h >> 29;
	return (unsigned)(h % OL_BUCKETS);
}

/* Streams are files of their own for oplocks and leases (a lease on "f:s" is not one on "f"). */
static bool same_key(const struct state_key *a, const struct state_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->stream == b->stream;
}

static struct ol_file *find_file(struct state_lease_db *db, const struct state_key *k, bool create)
{
	struct ol_file **pp = &db->buckets[bucket_of(k)];
	for (; *pp; pp = &(*pp)->next)
		if (same_key(&(*pp)->key, k))
			return *pp;
	if (!create)
		return NULL;
	struct ol_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->key = *k;
	*pp = f;
	return f;
}

/* Frees the record when nothing hangs from it any more (lock held). */
static void file_maybe_free(struct state_lease_db *db, struct ol_file *f)
{
	if (f->entries || f->waiters)
		return;
	for (struct ol_file **pp = &db->buckets[bucket_of(&f->key)]; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	free(f);
}

static void wake_waiters(struct ol_file *f)
{
	for (struct ol_waiter *w = f->waiters; w; w = w->next)
		w->cb(w->arg);
}

static struct state_lease *lease_find(struct state_lease_db *db, const uint8_t guid[16],
				      const uint8_t key[16])
{
	for (struct state_lease *l = db->leases; l; l = l->next)
		if (!memcmp(l->guid, guid, 16) && !memcmp(l->key, key, 16))
			return l;
	return NULL;
}

/* The caching state an entry holds, as lease bits. */
static uint32_t entry_state(const struct state_oplock *e)
{
	return e->lease ? e->lease->state : state_oplock_to_lease(e->level);
}

static bool same_lease(const struct state_oplock *e, const struct state_oplock_req *r)
{
	return e->lease && r->is_lease && !memcmp(e->lease->guid, r->client_guid, 16) &&
	       !memcmp(e->lease->key, r->lease_key, 16);
}

static uint8_t lease_to_oplock(uint32_t s)
{
	return (s & STATE_LEASE_R) ? STATE_OPLOCK_II : STATE_OPLOCK_NONE;
}

/* Completes a lease break to target (ack or timeout). */
static void lease_set(struct state_lease *l, uint32_t state)
{
	l->state = state;
	l->breaking = false;
	l->breaking_to = 0;
	l->owed = LEASE_ALL;
}

/* Breaks not acknowledged in time end as if acknowledged with their target (lock held). */
static bool expire_breaks(struct state_lease_db *db, struct ol_file *f, uint64_t now)
{
	bool any = false;
	for (struct state_oplock *e = f->entries; e; e = e->next) {
		if (e->lease && e->lease->breaking && e->lease->deadline_ms <= now) {
			/* MS-SMB2 3.3.6.5: the lease is lost, not just broken to the target */
			LOG_INFO(LOG_STATE, "lease break not acknowledged in time");
			lease_set(e->lease, 0);
			any = true;
		} else if (!e->lease && e->breaking && e->deadline_ms <= now) {
			LOG_INFO(LOG_STATE, "oplock break not acknowledged in time");
			e->level = e->breaking_to;
			e->breaking = false;
			any = true;
		}
	}
	(void)db;
	return any;
}

/* Starts the break of a lease to target, notifying through one of its opens (lock held). A
 * break that continues an acknowledged one (next_step) keeps the epoch the client has. */
static void lease_break_ex(struct state_lease_db *db, struct state_oplock *via, uint32_t target,
			   bool next_step)
{
	struct state_lease *l = via->lease;
	struct state_break b = {.lease = true, .cur = l->state, .new_state = target,
				.version = l->version};
	memcpy(b.key, l->key, 16);
	b.ack_required = state_break_needs_ack(l->state, target);
	if (l->version == 2 && !next_step)
		l->epoch++;
	b.epoch = l->epoch;
	if (b.ack_required) {
		l->breaking = true;
		l->breaking_to = target;
		l->deadline_ms = now_ms() + db->timeout_ms;
	} else {
		l->state = target;
	}
	if (db->send)
		db->send(via->owner, &b);
}

static void lease_break(struct state_lease_db *db, struct state_oplock *via, uint32_t target)
{
	lease_break_ex(db, via, target, false);
}

static void oplock_break(struct state_lease_db *db, struct state_oplock *e, uint8_t level)
{
	struct state_break b = {.oplock_level = level};
	b.ack_required = e->level == STATE_OPLOCK_EXCLUSIVE || e->level == STATE_OPLOCK_BATCH;
	if (b.ack_required) {
		e->breaking = true;
		e->breaking_to = level;
		e->deadline_ms = now_ms() + db->timeout_ms;
	} else {
		e->level = level;
	}
	if (db->send)
		db->send(e->owner, &b);
}

static bool share_conflict(const struct ol_file *f, const struct state_oplock_req *r)
{
	for (const struct state_oplock *e = f->entries; e; e = e->next)
		if (!e->retired && !state_share_compatible(r->access, r->share, e->access, e->share))
			return true;
	return false;
}

/* Opens for FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES or SYNCHRONIZE only ("stat opens")
 * break nothing unless they overwrite (MS-FSA 2.1.4.12, operation OPEN); READ_CONTROL is not
 * among them (smb2.oplock.statopen1). */
#define STAT_OPEN_ACCESS (0x00000080u | 0x00000100u | 0x00100000u)
/* Leases are kinder: an open that adds READ_CONTROL to those breaks no lease either, as Windows
 * (smb2.lease.statopen4 against smb2.oplock.statopen1). */
#define LEASE_STAT_OPEN_ACCESS (STAT_OPEN_ACCESS | 0x00020000u)

int state_oplock_check_breaks(struct state_lease_db *db, const struct state_key *key,
			      const struct state_oplock_req *r)
{
	int rc = 0;
	if (!(r->access & ~STAT_OPEN_ACCESS) && !r->overwrite)
		return 0;
	bool lease_stat_open = !(r->access & ~LEASE_STAT_OPEN_ACCESS) && !r->overwrite;
	pthread_mutex_lock(&db->lock);
	struct ol_file *f = find_file(db, key, false);
	if (!f)
		goto out;
	uint64_t now = now_ms();
	if (expire_breaks(db, f, now))
		wake_waiters(f);
	bool conflict = share_conflict(f, r);
	for (struct state_oplock *e = f->entries; e; e = e->next) {
		if (e->retired || same_lease(e, r) || (lease_stat_open && e->lease))
			continue;
		uint32_t cur = entry_state(e);
		/* an open that will delete the file ends the handle (and write) caching of the
		   other leases before it goes on (smb2.lease.unlink); oplocks: the oplock work's */
		uint32_t doc = r->delete_on_close && e->lease ? STATE_LEASE_W | STATE_LEASE_H : 0;
		uint32_t delay_mask = (conflict ? STATE_LEASE_H : STATE_LEASE_W) | doc;
		bool breaking = e->lease ? e->lease->breaking : e->breaking;
		if (breaking) {
			/* a create that has waited already waits for a lease break in progress to
			   end (its first look may have started a break that has still to come) */
			if ((cur & delay_mask) || (r->retry && e->lease))
				rc = -EAGAIN;
			if (e->lease && (cur & delay_mask)) {
				/* what this open needs beyond the break in progress comes after the
				   acknowledgement (state_lease_ack) */
				struct state_lease *l = e->lease;
				l->owed &= state_break_target(l->breaking_to, conflict, r->overwrite,
							      false) & ~doc;
			}
			continue;
		}
		uint32_t target = state_break_target(cur, conflict, r->overwrite, !e->lease) & ~doc;
		if (target == cur)
			continue;
		if (e->lease)
			lease_break(db, e, target);
		else
			oplock_break(db, e, lease_to_oplock(target));
		if (cur & delay_mask & ~target)
			rc = -EAGAIN;
	}
out:
	pthread_mutex_unlock(&db->lock);
	return rc;
}

/* Grants for the new entry e (lock held; e not yet in f). fresh: the lease was created by this
 * request. */
static void grant(struct ol_file *f, struct state_oplock *e, const struct state_oplock_req *r,
		  bool fresh, struct state_oplock_grant *g)
{
	bool others = false, others_write = false, others_handle = false, others_oplock = false;
	for (struct state_oplock *o = f->entries; o; o = o->next) {
		if (o->retired || same_lease(o, r))
			continue;
		/* a stat open caching nothing takes no part in a lease's grant
		   (smb2.lease.statopen3: a lease beside it still gets W); the oplock grant rules
		   for stat opens are the oplock work's */
		if (r->is_lease && !(o->access & ~STAT_OPEN_ACCESS) && !entry_state(o))
			continue;
		others = true;
		uint32_t st = entry_state(o);
		if (st & STATE_LEASE_W)
			others_write = true;
		if (o->lease && (st & STATE_LEASE_H))
			others_handle = true;
		if (!o->lease && o->level != STATE_OPLOCK_NONE)
			others_oplock = true;
	}
	if (!r->is_lease) {
		/* an oplock cannot share the file with a handle-caching lease (smb2.lease.oplock) */
		e->level = others_handle ? STATE_OPLOCK_NONE
					 : state_oplock_grant(r->level, others, others_write,
							      r->is_dir);
		g->level = e->level;
		return;
	}
	struct state_lease *l = e->lease;
	if (r->is_dir) {
		/* no directory leases (nothing breaks them when the directory's contents change):
		   the key is taken, the response carries no lease (smb2.lease.request) */
		g->level = STATE_OPLOCK_NONE;
		return;
	}
	g->level = STATE_OPLOCK_LEASE;
	if (!l->breaking) {
		uint32_t want = r->lease_state & LEASE_ALL;
		if (fresh) {
			/* a new lease gets what can be held beside the others */
			want = state_lease_grant(want, others || others_write, r->is_dir);
			/* no handle caching beside an oplock */
			if (others_oplock)
				want &= ~STATE_LEASE_H;
		} else if (!state_lease_grant(want, false, r->is_dir) ||
			   (want & l->state) != l->state || want == l->state ||
			   ((want & STATE_LEASE_W) && others) ||
			   ((want & STATE_LEASE_H) && others_oplock)) {
			/* 3.3.5.9.8: a held lease changes only to a valid strict superset of its
			   state that can be held beside the others as a whole (smb2.lease.upgrade3:
			   R beside another R asking for RHW stays R) */
			want = l->state;
		}
		if (want != l->state) {
			l->state = want;
			if (l->version == 2)
				l->epoch++;
		}
	}
	g->lease_state = l->state;
	g->epoch = l->epoch;
	g->version = l->version;
	g->breaking = l->breaking;
}

int state_oplock_add(struct state_lease_db *db, const struct state_key *key,
		     const struct state_oplock_req *r, void *owner, struct state_oplock_grant *g,
		     struct state_oplock **out)
{
	struct state_oplock *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->db = db;
	e->owner = owner;
	e->access = r->access;
	e->share = r->share;
	memcpy(e->guid, r->client_guid, 16);
	memset(g, 0, sizeof(*g));
	pthread_mutex_lock(&db->lock);
	int rc = 0;
	struct state_lease *l = NULL, *fresh = NULL;
	struct ol_file *f = find_file(db, key, true);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	if (r->is_lease) {
		l = lease_find(db, r->client_guid, r->lease_key);
		if (l && !same_key(&l->file, key)) {
			rc = -EINVAL;
			goto out;
		}
		if (!l) {
			fresh = l = calloc(1, sizeof(*l));
			if (!l) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(l->guid, r->client_guid, 16);
			memcpy(l->key, r->lease_key, 16);
			l->file = *key;
			l->version = r->version == 2 ? 2 : 1;
			l->epoch = r->epoch; /* 3.3.5.9.11: the client's epoch, +1 for the grant */
			l->owed = LEASE_ALL;
			l->next = db->leases;
			db->leases = l;
		}
		l->nopens++;
		e->lease = l;
	}
	grant(f, e, r, fresh != NULL, g);
	e->file = f;
	e->next = f->entries;
	f->entries = e;
out:
	if (rc && f)
		file_maybe_free(db, f);
	pthread_mutex_unlock(&db->lock);
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

static void lease_unref(struct state_lease_db *db, struct state_lease *l)
{
	if (--l->nopens > 0)
		return;
	for (struct state_lease **pp = &db->leases; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	free(l);
}

void state_oplock_retire(struct state_oplock *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->db->lock);
	e->retired = true;
	pthread_mutex_unlock(&e->db->lock);
}

void state_oplock_remove(struct state_oplock *e)
{
	if (!e)
		return;
	struct state_lease_db *db = e->db;
	pthread_mutex_lock(&db->lock);
	struct ol_file *f = e->file;
	for (struct state_oplock **pp = &f->entries; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	if (e->lease)
		lease_unref(db, e->lease);
	wake_waiters(f);
	file_maybe_free(db, f);
	pthread_mutex_unlock(&db->lock);
	free(e);
}

bool state_oplock_detach(struct state_oplock *e, struct state_oplock_grant *cur)
{
	struct state_lease_db *db = e->db;
	pthread_mutex_lock(&db->lock);
	bool breaking = e->lease ? e->lease->breaking : e->breaking;
	if (cur) {
		memset(cur, 0, sizeof(*cur));
		cur->level = e->lease ? STATE_OPLOCK_LEASE : e->level;
		cur->lease_state = e->lease ? e->lease->state : 0;
		cur->epoch = e->lease ? e->lease->epoch : 0;
		cur->version = e->lease ? e->lease->version : 0;
		cur->breaking = breaking;
	}
	pthread_mutex_unlock(&db->lock);
	return breaking;
}

int state_oplock_ack(struct state_oplock *e, uint8_t level, uint8_t *granted)
{
	struct state_lease_db *db = e->db;
	int rc = 0;
	pthread_mutex_lock(&db->lock);
	if (e->lease)
		rc = -EINVAL;
	else if (!e->breaking)
		rc = -EPROTO;
	else if (level != STATE_OPLOCK_NONE && level != STATE_OPLOCK_II)
		rc = -EPROTO;
	else {
		/* 3.3.5.22.1: acknowledging level II of a break to none is a protocol error; the
		   oplock ends either way */
		if (e->breaking_to == STATE_OPLOCK_NONE && level == STATE_OPLOCK_II)
			rc = -EPROTO;
		e->level = rc ? STATE_OPLOCK_NONE : level;
		e->breaking = false;
		*granted = e->level;
		wake_waiters(e->file);
	}
	pthread_mutex_unlock(&db->lock);
	return rc;
}

/* After an acknowledgement: the opens that arrived during the break may need more of the lease
 * (owed). The next break goes out at once, in the client's epoch; handle and write caching end
 * first (read caching stays until that break is acknowledged too), then read caching. */
static void lease_next_step(struct state_lease_db *db, struct ol_file *f, struct state_lease *l,
			    uint32_t owed)
{
	uint32_t next = l->state & owed;
	if (next == l->state)
		return;
	if ((l->state & ~next & (STATE_LEASE_W | STATE_LEASE_H)) && (l->state & STATE_LEASE_R)) {
		next |= STATE_LEASE_R;
		if (next != l->state && !(owed & STATE_LEASE_R))
			l->owed = owed; /* R follows */
	}
	if (next == l->state)
		return;
	for (struct state_oplock *e = f->entries; e; e = e->next)
		if (e->lease == l) {
			uint32_t keep = l->owed;
			lease_break_ex(db, e, next, true);
			l->owed = keep;
			return;
		}
}

int state_lease_ack(struct state_lease_db *db, const uint8_t guid[16], const uint8_t key[16],
		    uint32_t state, uint32_t *granted)
{
	int rc = 0;
	pthread_mutex_lock(&db->lock);
	struct state_lease *l = lease_find(db, guid, key);
	if (!l)
		rc = -ENOENT;
	else if (!l->breaking)
		rc = -EPROTO;
	else if (state & ~l->breaking_to)
		rc = -EINVAL;
	else {
		uint32_t owed = l->owed;
		lease_set(l, state);
		*granted = state;
		struct ol_file *f = find_file(db, &l->file, false);
		if (f) {
			lease_next_step(db, f, l, owed);
			wake_waiters(f);
		}
	}
	pthread_mutex_unlock(&db->lock);
	return rc;
}

void state_oplock_break_on_write(struct state_oplock *e)
{
	if (!e)
		return;
	struct state_lease_db *db = e->db;
	pthread_mutex_lock(&db->lock);
	for (struct state_oplock *o = e->file->entries; o; o = o->next) {
		if (o->retired)
			continue;
		if (o->lease) {
			/* MS-FSA 2.1.4.12: read caching of other lease keys ends (R or RH: to none,
			   an acknowledgement required when H goes); the writer's own key keeps its */
			struct state_lease *l = o->lease;
			if (l != e->lease && !l->breaking && (l->state & STATE_LEASE_R))
				lease_break(db, o, 0);
		} else if (!o->breaking && o->level == STATE_OPLOCK_II) {
			/* every level II oplock, the writer's own included */
			oplock_break(db, o, STATE_OPLOCK_NONE);
		}
	}
	pthread_mutex_unlock(&db->lock);
}

int state_oplock_break_handles(struct state_oplock *e)
{
	if (!e)
		return 0;
	struct state_lease_db *db = e->db;
	int rc = 0;
	pthread_mutex_lock(&db->lock);
	if (expire_breaks(db, e->file, now_ms()))
		wake_waiters(e->file);
	for (struct state_oplock *o = e->file->entries; o; o = o->next) {
		struct state_lease *l = o->lease;
		/* oplocks: the batch oplock rules are the oplock work's (not here yet) */
		if (o == e || o->retired || !l || l == e->lease)
			continue;
		if (l->breaking) {
			if (l->state & STATE_LEASE_H)
				rc = -EAGAIN;
			continue;
		}
		if (l->state & STATE_LEASE_H) {
			lease_break(db, o, l->state & ~STATE_LEASE_H);
			rc = -EAGAIN;
		}
	}
	pthread_mutex_unlock(&db->lock);
	return rc;
}

int state_oplock_add_waiter(struct state_lease_db *db, const struct state_key *key,
			    void (*cb)(void *arg), void *arg)
{
	struct ol_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	pthread_mutex_lock(&db->lock);
	struct ol_file *f = find_file(db, key, true);
	if (f) {
		w->next = f->waiters;
		f->waiters = w;
	}
	pthread_mutex_unlock(&db->lock);
	if (!f) {
		free(w);
		return -ENOMEM;
	}
	return 0;
}

void state_oplock_del_waiter(struct state_lease_db *db, const struct state_key *key, void *arg)
{
	pthread_mutex_lock(&db->lock);
	struct ol_file *f = find_file(db, key, false);
	if (f) {
		for (struct ol_waiter **pp = &f->waiters; *pp; pp = &(*pp)->next)
			if ((*pp)->arg == arg) {
				struct ol_waiter *w = *pp;
				*pp = w->next;
				free(w);
				break;
			}
		file_maybe_free(db, f);
	}
	pthread_mutex_unlock(&db->lock);
}
