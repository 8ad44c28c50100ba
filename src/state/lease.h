/* Oplocks and leases (MS-SMB2 3.3.5.9, 3.3.4.6, 3.3.4.7, 3.3.5.22; MS-FSA 2.1.5.17, 2.1.4.12).
 *
 * Every open of a file (not pipes) has an entry here (struct state_oplock), next to its share-mode
 * entry in state.c: its access and share mode, the oplock level it holds, or the lease it uses.
 * Entries are grouped by stream (the whole state_key): as in MS-FSA, every stream of a file has
 * an oplock of its own, so opens of a named stream and of the file's data never break or limit
 * each other's oplocks (smb2.oplock.stream1, batch26). Leases are keyed by (ClientGuid,
 * LeaseKey) and shared by the opens of one client that name the same key; a key belongs to one
 * file (stream).
 *
 * The work of CREATE, in order:
 *   1. state_oplock_check_breaks(): before the share-mode check, the new open breaks the
 *      conflicting oplocks and leases of the file's other opens (the notification goes out
 *      through the db's send callback). -EAGAIN means the caller must wait for
 *      acknowledgements: it registers a waiter (state_oplock_add_waiter) and goes asynchronous;
 *      the waiter is called when an acknowledgement, a close or a break timeout changes the
 *      file's state, and the create starts over. Breaks not acknowledged within the db's
 *      timeout are completed by the next check (the waiter's own timeout triggers it): an oplock
 *      gets the break's level, a lease is lost (none). What opens arriving during a lease
 *      break need beyond its target is broken after the acknowledgement (state_lease_ack).
 *   2. the share-mode check (state.c);
 *   3. state_oplock_add(): the entry of the new open with the level or lease state granted.
 *
 * Thread safety: one mutex per db guards every entry, lease and waiter; every function may be
 * called from any thread. The send callback and the waiter callbacks run with that mutex held
 * and must not call back into this db. The rule that makes sending to another connection safe:
 * an entry's owner pointer (the smb2 open) stays valid while the entry is in the db, because the
 * owner removes it (state_oplock_remove, which takes the mutex) before the owner is freed; so the
 * send callback may follow the owner to its session and connection for the duration of the call.
 *
 * Ownership: state_oplock_add creates the entry, owned by the caller until state_oplock_remove.
 * Leases are owned by the db and freed with their last open. */
#ifndef SHOAL_STATE_LEASE_H
#define SHOAL_STATE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "state/state.h"

/* Oplock levels (MS-SMB2 2.2.13 RequestedOplockLevel) */
#define STATE_OPLOCK_NONE 0x00
#define STATE_OPLOCK_II 0x01
#define STATE_OPLOCK_EXCLUSIVE 0x08
#define STATE_OPLOCK_BATCH 0x09
#define STATE_OPLOCK_LEASE 0xFF

/* Lease states (2.2.13.2.8) */
#define STATE_LEASE_R 0x01u
#define STATE_LEASE_H 0x02u
#define STATE_LEASE_W 0x04u

struct state_lease_db;
struct state_oplock;

/* What the send callback is asked to deliver (2.2.23.1 / 2.2.23.2). */
struct state_break {
	bool lease;
	uint8_t oplock_level;   /* oplock: the new level (II or none) */
	uint8_t key[16];        /* lease key */
	uint32_t cur, new_state; /* lease states */
	uint16_t epoch;         /* v2: the new epoch */
	uint8_t version;        /* 1 or 2 */
	bool ack_required;
};

typedef void (*state_break_send_fn)(void *owner, const struct state_break *b);

/* timeout_ms: how long a break waits for its acknowledgement (35000 is Windows' default). */
struct state_lease_db *state_lease_db_new(state_break_send_fn send, uint32_t timeout_ms);
void state_lease_db_set_timeout(struct state_lease_db *db, uint32_t timeout_ms);
uint32_t state_lease_db_timeout(struct state_lease_db *db);
void state_lease_db_free(struct state_lease_db *db);

/* The new open as the break and grant rules see it. */
struct state_oplock_req {
	uint8_t client_guid[16];
	bool is_lease;
	uint8_t lease_key[16];
	uint32_t access, share;
	bool overwrite; /* supersede/overwrite: read caching ends too */
	bool delete_on_close; /* FILE_DELETE_ON_CLOSE: the other leases' handle caching ends */
	bool is_dir;
	bool retry; /* state_oplock_check_breaks: the create has waited for breaks before */
	/* state_oplock_add only */
	uint8_t level;           /* requested oplock level */
	uint32_t lease_state;    /* requested lease state */
	uint8_t version;         /* lease version 1 or 2 */
	uint16_t epoch;          /* v2: the client's Epoch */
	bool has_parent;
	uint8_t parent_key[16];
};

/* What state_oplock_add granted. */
struct state_oplock_grant {
	uint8_t level;        /* oplock level, or STATE_OPLOCK_LEASE */
	uint32_t lease_state;
	uint16_t epoch;
	uint8_t version;      /* the lease's version (its first create's context): the response's */
	bool breaking;        /* the lease is being broken (SMB2_LEASE_FLAG_BREAK_IN_PROGRESS) */
};

/* ---- pure decision functions (unit-tested) ---- */

/* Lease-state form of an oplock level: batch RWH, exclusive RW, level II R. */
uint32_t state_oplock_to_lease(uint8_t level);
/* The state a holder with cur must break to when another open arrives: W goes (H instead when
 * the new open meets a sharing violation, so the holder can close a cached handle); an
 * overwrite ends R and H too. For oplocks (is_oplock) the result is R (level II) or nothing. */
uint32_t state_break_target(uint32_t cur, bool share_conflict, bool overwrite, bool is_oplock);
/* Whether the break from cur needs an acknowledgement (W or H lost: 3.3.4.7; exclusive and
 * batch oplocks). */
bool state_break_needs_ack(uint32_t cur, uint32_t target);
/* The lease state granted for a request: R is required for anything; W only when no other open
 * (of another lease) exists; none on directories yet (nothing breaks a directory lease when its
 * contents change). */
uint32_t state_lease_grant(uint32_t requested, bool others, bool is_dir);
/* The oplock level granted: exclusive/batch only to the file's sole open, level II when no other
 * open holds write caching; nothing on directories. */
uint8_t state_oplock_grant(uint8_t requested, bool others, bool others_write, bool is_dir);

/* ---- the table ---- */

/* Step 1 above. Returns 0, or -EAGAIN (wait for acknowledgements). */
int state_oplock_check_breaks(struct state_lease_db *db, const struct state_key *key,
			      const struct state_oplock_req *r);
/* Step 3. Returns 0 with *out, -EINVAL (the lease key is in use on another file) or -ENOMEM. */
int state_oplock_add(struct state_lease_db *db, const struct state_key *key,
		     const struct state_oplock_req *r, void *owner, struct state_oplock_grant *g,
		     struct state_oplock **out);
/* Removes and frees the entry (close); wakes the file's waiters. NULL is ignored. */
void state_oplock_remove(struct state_oplock *e);
/* The entry's open is about to delete its file (the last close of a delete-pending file): from
 * now on the entry counts for no grant, break or sharing check, since a new file created under
 * the name may get the freed inode (the same key) before state_oplock_remove runs; waiters are
 * not woken yet (they must find the name gone when they retry). NULL is ignored. */
void state_oplock_retire(struct state_oplock *e);
/* The entry's current oplock level or lease state in *cur (NULL: not wanted); true when a break
 * of it is in progress. Takes the mutex, so a send callback for e's file that was running when
 * the owner marked itself disconnected has returned once this does (durable opens detach with
 * it, and reconnects read the state to answer with). */
bool state_oplock_detach(struct state_oplock *e, struct state_oplock_grant *cur);
/* OPLOCK_BREAK acknowledgement of an oplock: 0 with *granted, -EPROTO (no break in progress or
 * a level above the break's: STATUS_INVALID_OPLOCK_PROTOCOL), -EINVAL (not an oplock). */
int state_oplock_ack(struct state_oplock *e, uint8_t level, uint8_t *granted);
/* Lease break acknowledgement: 0 with *granted, -ENOENT (no such lease), -EPROTO (no break in
 * progress: STATUS_UNSUCCESSFUL), -EINVAL (state not within the break's target:
 * STATUS_REQUEST_NOT_ACCEPTED). */
int state_lease_ack(struct state_lease_db *db, const uint8_t guid[16], const uint8_t key[16],
		    uint32_t state, uint32_t *granted);
/* A write, a change of size or a byte-range lock through e (MS-FSA 2.1.4.12, operations WRITE,
 * SET_INFORMATION and RANGE_LOCK): every level II oplock of the stream breaks to none, e's own
 * included, and so do R and RH leases of other lease keys; nothing waits for acknowledgements
 * (an RH lease's break still asks for one). */
void state_oplock_break_on_write(struct state_oplock *e);
/* A rename through e (MS-FSA 2.1.5.14.11): the leases of the file's other opens (other keys)
 * lose handle caching, since the name their cached handles stand for goes away. Returns 0, or
 * -EAGAIN while such a break waits for its acknowledgement (the caller waits as a create does:
 * state_oplock_add_waiter). */
int state_oplock_break_handles(struct state_oplock *e);
/* Waiters of a file (see above); del may be called for a waiter already woken. */
int state_oplock_add_waiter(struct state_lease_db *db, const struct state_key *key,
			    void (*cb)(void *arg), void *arg);
void state_oplock_del_waiter(struct state_lease_db *db, const struct state_key *key, void *arg);

#endif
