/* Durable opens (MS-SMB2 3.3.1.10 Open.IsDurable, 3.3.5.9.6/.7/.10/.12, 3.3.7.1, 3.3.2.x
 * durable open scavenger timer).
 *
 * The table holds one record per durable open of the server, keyed by the open's persistent
 * FileId and, for durable v2 opens, by (CreateGuid). While the open's connection lives the record
 * is "attached"; when the connection (or the session) goes the owner detaches it and the record
 * gets a deadline. A client reconnects by taking the record (state_durable_take), which attaches
 * it again; a record whose deadline passes, or that was doomed (a break the disconnected holder
 * cannot acknowledge), is removed and handed to the expire callback, which closes the open.
 *
 * The record is a plain struct with what a server needs to find, check and rebuild the open
 * (names, ids, access, share mode, oplock or lease, owner), so a persistent variant can store it
 * outside the process; the in-memory backend also keeps a pointer to the live open (owner).
 *
 * Thread safety: one mutex guards the table; a thread owned by the table runs the expiry and
 * calls expire(owner) with no lock held. Every function may be called from any thread, including
 * with the lease table's mutex held (this table never calls other tables under its mutex).
 * Ownership: state_durable_add returns a handle owned by the caller until state_durable_remove;
 * a handle given to the expire callback has been removed and freed already. */
#ifndef SHOAL_STATE_DURABLE_H
#define SHOAL_STATE_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "state/state.h"

#define STATE_DURABLE_SHARE_MAX 80
#define STATE_DURABLE_OWNER_MAX 68

struct state_durable_rec {
	uint64_t persistent_id;
	uint8_t version;         /* 1 (DHnQ) or 2 (DH2Q) */
	bool persistent;         /* never granted yet: no continuously available shares */
	uint8_t create_guid[16]; /* v2 */
	uint8_t client_guid[16];
	uint32_t timeout_ms;     /* how long a disconnected open is kept */
	char share[STATE_DURABLE_SHARE_MAX]; /* share name, as connected */
	struct state_key key;    /* the file (and stream) */
	uint32_t access, share_access, create_options;
	uint8_t oplock_level;    /* oplock level granted, or 0xFF: lease */
	uint8_t lease_key[16];
	/* the user who opened it: a reconnect must come from the same one */
	uint8_t owner[STATE_DURABLE_OWNER_MAX];
	uint8_t owner_len;
	uint64_t session_id;     /* the session it is (or was last) attached to */
	bool replay_only;        /* a v2 request not granted durability: kept (attached only) so
				    a replay of its create finds it; never disconnected */
};

struct state_durable;
struct state_durable_db;

/* expire(owner) closes an open whose record has expired (called on the table's thread, no lock
 * held; the record is gone already). */
struct state_durable_db *state_durable_db_new(void (*expire)(void *owner));
/* Stops the thread and hands every remaining record to expire (shutdown), then frees. */
void state_durable_db_free(struct state_durable_db *db);

/* Adds an attached record for owner. -EEXIST when a v2 record with the same CreateGuid and
 * ClientGuid exists; -ENOMEM. */
int state_durable_add(struct state_durable_db *db, const struct state_durable_rec *rec,
		      void *owner, struct state_durable **out);
/* Removes and frees the record (the open is closed). NULL is ignored. */
void state_durable_remove(struct state_durable *h);
/* The open lost its connection: the record is kept until now + its timeout. */
void state_durable_detach(struct state_durable *h);
/* The disconnected (or disconnecting) open with this persistent id must go (a break it cannot
 * acknowledge): it expires as soon as it is disconnected, and can no longer be taken. By id, so
 * a caller racing with the expiry of the record is safe. */
void state_durable_doom(struct state_durable_db *db, uint64_t persistent_id);
/* Reconnect: finds the disconnected record with this persistent id and attaches it (so it no
 * longer expires), recording session_id as its session. Returns 0 with *h, *owner and a copy in
 * *rec; -EBUSY when the record is attached (to session *rec->session_id); -ENOENT. */
int state_durable_take(struct state_durable_db *db, uint64_t persistent_id, uint64_t session_id,
		       struct state_durable_rec *rec, void **owner, struct state_durable **h);
/* Gives back a record taken by state_durable_take whose checks failed: disconnected again,
 * with its old deadline. */
void state_durable_untake(struct state_durable *h);
/* Whether a v2 open with this (ClientGuid, CreateGuid) exists, with its persistent id and
 * whether it is attached. For create replay (3.3.5.9.10); the caller finds the open itself
 * (in its session's table) before touching it. */
bool state_durable_find_guid(struct state_durable_db *db, const uint8_t client_guid[16],
			     const uint8_t create_guid[16], uint64_t *persistent_id, bool *attached);
/* Creates of v2 durable opens that are still pending (waiting for breaks), by (ClientGuid,
 * CreateGuid): a replay of one of them is refused until it completes (3.3.5.9.10). add: 0,
 * -EEXIST or -ENOMEM; remove: harmless when not there; pending: whether it is there. */
int state_durable_pending_add(struct state_durable_db *db, const uint8_t client_guid[16],
			      const uint8_t create_guid[16]);
void state_durable_pending_remove(struct state_durable_db *db, const uint8_t client_guid[16],
				  const uint8_t create_guid[16]);
bool state_durable_pending(struct state_durable_db *db, const uint8_t client_guid[16],
			   const uint8_t create_guid[16]);
/* A copy of the record. */
void state_durable_get(struct state_durable *h, struct state_durable_rec *rec);
/* Number of records (attached or not). */
int state_durable_count(struct state_durable_db *db);

#endif
