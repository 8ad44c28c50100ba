/* Cross-connection state (DESIGN.md section 6).
 *
 * Built now: the local, in-memory backend of the share-mode table. One record per file, keyed by
 * the file's (dev, ino), holds the list of its opens (access, share access, delete-on-close) and
 * the file's delete-pending flag. Byte-range locks, leases and durable handles extend the same
 * records later (struct state_open is the per-open anchor they will hang from), and the cluster
 * backend replaces the table behind the same functions.
 *
 * Thread safety: every function may be called from any thread; the table has one mutex.
 * Ownership: state_share_check_add creates a handle owned by the caller (the SMB2 open), freed
 * by state_share_remove. The smb2 layer (lead's smb2_server.c) calls only state_db_new() and
 * state_db_free(). */
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

#endif
