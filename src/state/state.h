/* Cross-connection state (DESIGN.md section 6).
 *
 * Built now: the local, in-memory backend. One record per file, keyed by the file's (dev, ino),
 * holds the list of its opens (access, share access, delete-on-close), the file's delete-pending
 * flag, its byte-range locks (each owned by one open) and the list of lock requests waiting for a
 * lock to go away. Leases and durable handles extend the same records later (struct state_open is
 * the per-open anchor they hang from), and the cluster backend replaces the table behind the same
 * functions.
 *
 * Thread safety: every function may be called from any thread; the table has one mutex, and
 * waiter callbacks (struct state_lock_waiter) run with it held.
 * Ownership: state_share_check_add creates a handle owned by the caller (the SMB2 open), freed
 * by state_share_remove, which also drops the open's byte-range locks. A waiter is memory of the
 * caller, registered by state_lock_ranges and unregistered by state_lock_ranges (when granted),
 * state_lock_waiter_remove, or (defensively) the close of its open. The smb2 layer (lead's
 * smb2_server.c) calls only state_db_new() and state_db_free(). */
#ifndef SHOAL_STATE_H
#define SHOAL_STATE_H

#include <stdbool.h>
#include <stdint.h>

struct state_db;
struct state_db *state_db_new(void);
void state_db_free(struct state_db *db);

/* A file, or one alternate data stream of it: stream is 0 for the file's data, else an id of
 * the stream unique within the file (a hash of its stored name). Opens of one file share one
 * record whatever their stream. */
struct state_key {
	uint64_t dev, ino;
	uint64_t stream;
};

struct state_open; /* one open's entry in its file's record */

/* Access and share bits the check looks at (MS-SMB2 2.2.13, MS-FSA 2.1.5.1.2). */
#define STATE_FILE_READ_DATA 0x00000001u
#define STATE_FILE_WRITE_DATA 0x00000002u
#define STATE_FILE_APPEND_DATA 0x00000004u
#define STATE_FILE_EXECUTE 0x00000020u
#define STATE_DELETE 0x00010000u
#define STATE_SHARE_READ 0x1u
#define STATE_SHARE_WRITE 0x2u
#define STATE_SHARE_DELETE 0x4u

/* Pure share-mode test of one pair of opens (exposed for unit tests): true when an open with
 * (access, share) may coexist with an existing one (access2, share2). Opens asking none of
 * read/write/append/execute/delete never conflict. */
bool state_share_compatible(uint32_t access, uint32_t share, uint32_t access2, uint32_t share2);

/* Adds an open of the file key after checking it against the file's other opens of the same
 * stream; an open of the file's data asking DELETE also needs every open stream to share
 * delete (MS-FSA 2.1.5.1.2, as NTFS). Returns 0 with *out, -EBUSY (sharing violation), -EIDRM
 * (the file, or the stream, is delete pending: the SMB2 layer answers STATUS_DELETE_PENDING)
 * or -ENOMEM. */
int state_share_check_add(struct state_db *db, const struct state_key *key, uint32_t access,
			  uint32_t share_access, struct state_open **out);

/* The share-mode check of state_share_check_add without adding an open: 0, -EBUSY or -EIDRM.
 * (A rename checks the target directory as if it opened it to add an entry.) */
int state_share_probe(struct state_db *db, const struct state_key *key, uint32_t access,
		      uint32_t share_access);

/* Marks the open delete-on-close (FILE_DELETE_ON_CLOSE at create): when it is closed the file
 * becomes delete pending. */
void state_open_set_delete_on_close(struct state_open *h, bool on);
/* Sets or clears the delete-pending flag (FileDispositionInformation) of the handle's file, or
 * of its stream when it is an open of a stream. */
void state_set_delete_pending(struct state_open *h, bool on);
/* Whether the handle's file (or, for a stream, the stream or its file) is delete pending. */
bool state_delete_pending(struct state_open *h);
/* The same for the file or stream of key, without a handle: a new open of it would fail with
 * STATUS_DELETE_PENDING (checked before a create breaks oplocks: smb2.oplock.doc). */
bool state_key_delete_pending(struct state_db *db, const struct state_key *key);
/* cb(arg) is called, with the table's lock held (so it must not call back into this table),
 * when the handle's file becomes delete pending; NULL cb unregisters. Change notification uses it
 * to complete a directory's pending CHANGE_NOTIFY with STATUS_DELETE_PENDING. */
void state_open_on_delete_pending(struct state_open *h, void (*cb)(void *arg), void *arg);
/* Number of opens of the handle's file (itself included). */
int state_open_count(struct state_open *h);

/* Removes and frees the handle. Returns what the caller must now delete:
 * STATE_DELETE_FILE when this was the file's last open (of any stream) and the file is delete
 * pending (the record is gone by then), STATE_DELETE_STREAM when this was the last open of a
 * delete-pending stream; 0 otherwise. */
#define STATE_DELETE_FILE 1
#define STATE_DELETE_STREAM 2
int state_share_remove(struct state_open *h);

/* ---- byte-range locks (MS-FSA 2.1.5.7, 2.1.5.8, 2.1.4.10; MS-SMB2 3.3.5.14) ----
 *
 * A lock covers [off, off + len) of the open's stream (the file data or a named stream: locks of
 * different streams never meet) and belongs to one open. Rules:
 *  - the last byte off + len - 1 must not pass 2^64 - 1 (else STATUS_INVALID_LOCK_RANGE); a lock
 *    of length 0 is valid anywhere and covers no byte, but conflicts with a lock that holds its
 *    offset strictly inside (off2 < off < off2 + len2); two zero-length locks never conflict;
 *  - an exclusive lock conflicts with every overlapping lock, the same open's included;
 *  - a shared lock conflicts only with overlapping exclusive locks of other opens (an open may
 *    stack shared locks on its own exclusive ones, and shared locks on shared ones);
 *  - unlock removes one lock of the open with exactly the same offset and length, the exclusive
 *    one first when both kinds exist;
 *  - READ conflicts with others' exclusive locks; WRITE with others' exclusive locks and with
 *    every shared lock (the writer's own included). Zero-length I/O never conflicts. */

/* Most locks one open may hold: each lock request scans the file's locks, so this bounds the
 * cost a client can impose (-ENOLCK beyond it). */
#define STATE_LOCKS_PER_OPEN_MAX 16384

struct state_lock_range {
	uint64_t off, len;
	bool exclusive;
};

/* A lock request waiting for a conflicting lock to go away. The caller fills wake and arg and
 * keeps the memory until the waiter is unregistered. wake(arg) is called with the state mutex
 * held every time a lock of the file is removed (unlock, close) while the waiter is registered;
 * it must not call back into the state layer (it should only schedule a retry). */
struct state_lock_waiter {
	void (*wake)(void *arg);
	void *arg;
	/* private to the state layer */
	struct state_db *db;
	struct state_file *file;
	struct state_open *owner;
	struct state_lock_waiter *prev, *next;
};

/* True when off + len - 1 stays within 64 bits (len 0: always). */
bool state_lock_range_valid(uint64_t off, uint64_t len);

/* Takes the n ranges for h atomically and in order: either all are granted, or none is (a range
 * conflicting with an earlier range of the same request counts as a conflict too). Returns 0;
 * -EAGAIN when range *failed conflicts; -EINVAL when range *failed is not valid; -ENOLCK when h
 * would hold more than STATE_LOCKS_PER_OPEN_MAX locks; -ENOMEM. With w not NULL, a conflict
 * registers w on the file (once; it stays registered across further -EAGAIN calls) before the
 * mutex is released, so no unlock can slip between the test and the registration; a grant
 * unregisters it. */
int state_lock_ranges(struct state_open *h, const struct state_lock_range *r, int n,
		      struct state_lock_waiter *w, int *failed);
/* Removes one lock of h with exactly this offset and length (exclusive first) and wakes the
 * file's waiters. 0, or -ENOENT when h holds no such lock. */
int state_unlock(struct state_open *h, uint64_t off, uint64_t len);
/* Unregisters w; harmless when it is not registered. Once it returns, w->wake is not called. */
void state_lock_waiter_remove(struct state_lock_waiter *w);
/* READ (write false) or WRITE of [off, off + len) through h: 0, or -EAGAIN on a conflict
 * (STATUS_FILE_LOCK_CONFLICT). */
int state_lock_check_io(struct state_open *h, uint64_t off, uint64_t len, bool write);
/* Number of locks h holds (Open.LockCount). */
int state_lock_count(struct state_open *h);

/* Lock sequence entries (MS-SMB2 3.3.5.14, Open.LockSequenceArray): 64 per open, kept here so a
 * durable open keeps them across a reconnect. lock_sequence is the request's LockSequence field
 * (index in bits 4..31, 1..64; sequence number in bits 0..3); other indexes are ignored.
 * state_lock_seq_replay: true when the entry is valid with the same number (the request was
 * already processed: answer success without doing it again); a valid entry with another number
 * is invalidated. state_lock_seq_store: marks the entry valid with this number (after success). */
bool state_lock_seq_replay(struct state_open *h, uint32_t lock_sequence);
void state_lock_seq_store(struct state_open *h, uint32_t lock_sequence);

#endif
