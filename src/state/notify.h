/* Change notification (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.10): watches on open directories that
 * collect changes between CHANGE_NOTIFY requests.
 *
 * Source of the changes: the kernel (inotify) watching the directory (and, for WATCH_TREE, every
 * directory below it), so changes made through this server, through another node of the cluster
 * on the same file system, and by local processes are all reported the same way and never twice.
 * Each watch owns one inotify instance (its own descriptor space, so two watches on one directory
 * need no shared bookkeeping); one thread per registry reads them all.
 *
 * Buffering: a watch keeps the changes that arrive while no request is waiting, up to
 * STATE_NOTIFY_MAX_EVENTS / STATE_NOTIFY_MAX_BYTES; past that, or when the changes do not fit the
 * waiting request's buffer, the watch reports an overflow once (the SMB2 layer answers
 * STATUS_NOTIFY_ENUM_DIR) and starts afresh.
 *
 * Threads: every function may be called from any thread; the registry has one mutex, and waiter
 * callbacks are called with it held (so a waiter unregistered by state_watch_del_waiter is never
 * called afterwards). Ownership: state_watch_new's watch belongs to the caller (the SMB2 open) and
 * is freed by state_watch_free, which also unregisters its waiters. */
#ifndef SHOAL_STATE_NOTIFY_H
#define SHOAL_STATE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CompletionFilter bits (MS-SMB2 2.2.35) */
#define NOTIFY_FILE_NAME 0x001u
#define NOTIFY_DIR_NAME 0x002u
#define NOTIFY_ATTRIBUTES 0x004u
#define NOTIFY_SIZE 0x008u
#define NOTIFY_LAST_WRITE 0x010u
#define NOTIFY_LAST_ACCESS 0x020u
#define NOTIFY_CREATION 0x040u
#define NOTIFY_EA 0x080u
#define NOTIFY_SECURITY 0x100u
#define NOTIFY_STREAM_NAME 0x200u
#define NOTIFY_STREAM_SIZE 0x400u
#define NOTIFY_STREAM_WRITE 0x800u
#define NOTIFY_ALL 0xFFFu

/* FILE_NOTIFY_INFORMATION Action (MS-FSCC 2.7.1) */
#define NOTIFY_ACTION_ADDED 1u
#define NOTIFY_ACTION_REMOVED 2u
#define NOTIFY_ACTION_MODIFIED 3u
#define NOTIFY_ACTION_RENAMED_OLD 4u
#define NOTIFY_ACTION_RENAMED_NEW 5u

#define STATE_NOTIFY_MAX_EVENTS 1024
#define STATE_NOTIFY_MAX_BYTES (64u * 1024u)
/* Directories one WATCH_TREE watch follows below its root. */
#define STATE_NOTIFY_MAX_TREE_DIRS 4096

struct state_notify;
struct state_watch;

struct state_notify *state_notify_new(void);
void state_notify_free(struct state_notify *sn);

/* Watches the directory open as dirfd (duplicated: the watch does not depend on the caller's
 * descriptor). tree: also every directory below. Returns 0, -EMFILE/-ENOSPC (the kernel's inotify
 * limits) or -errno. */
int state_watch_new(struct state_notify *sn, int dirfd, bool tree, uint32_t filter,
		    struct state_watch **out);
void state_watch_free(struct state_watch *w);

/* A request through this server changed the file system: reads the events queued for every
 * watch now, before its response goes out, so each change is assigned to the request waiting at
 * that moment (the client's next change cannot join it), and the kernel cannot merge one of its
 * events with an identical one of the client's next request (inotify folds an event into the
 * unread one before it). name (share-relative, '/' separated; NULL for none): a create that made
 * it, with everything written with it (DOS attributes, a security descriptor): the IN_ATTRIB
 * events of the creation are absorbed until then, not reported as a change after it. Takes the
 * registry lock; costs one atomic load when nothing is watched. */
void state_notify_settle(struct state_notify *sn, const char *name);

/* Registers a waiter (arg identifies it): the changes that arrive while it waits, or were
 * buffered when it came, are its answer, and wake(arg) is called (registry lock held) when it has
 * one or the directory became delete pending. Changes that arrive after that go to the next
 * waiter, in the order they registered, or stay buffered. wake is never called after
 * state_watch_del_waiter(w, arg), which gives an answer the waiter did not take to the next one.
 * -ENOMEM. */
int state_watch_add_waiter(struct state_watch *w, void (*wake)(void *arg), void *arg);
void state_watch_del_waiter(struct state_watch *w, void *arg);

/* The watched directory became delete pending: every later take answers -EIDRM. */
void state_watch_mark_deleted(struct state_watch *w);

/* Takes an answer as FILE_NOTIFY_INFORMATION entries (MS-FSCC 2.7.1) into buf (at most max
 * bytes): the waiter arg's own, or, for a request that has none (arg NULL: not registered yet),
 * the buffered changes unless an earlier waiter's answer is still untaken. Returns the bytes
 * written (0: nothing to answer yet), -EIDRM when the directory is delete pending, or -EOVERFLOW
 * when changes were lost or do not fit max (the answer is used up either way). A waiter that
 * took an answer gets no more. */
long state_watch_take(struct state_watch *w, void *arg, uint8_t *buf, size_t max);

/* Adds a change by hand (share-relative name below the watched directory, '/' separated); used
 * for changes the kernel does not see and by tests. */
void state_watch_post(struct state_watch *w, uint32_t action, uint32_t filter_class,
		      const char *name);

/* Encodes one FILE_NOTIFY_INFORMATION list from (action, name) pairs: exposed for unit tests. */
long state_notify_encode(const uint32_t *actions, const char *const *names, int n, uint8_t *buf,
			 size_t max);

#endif
