/* Listeners, event loops and the threads that run requests. See net.h for the threading model.
 *
 * Each loop is one epoll set served by a group of threads that are event loop and worker at once:
 * every idle thread of the group waits in epoll_wait on the set (the kernel wakes one waiter per
 * event, the most recent first), and the thread an event wakes handles it to the end: it reads
 * the connection's input and, when that completes a frame of an idle connection, runs the
 * request itself. No thread hands a request to another, so a small request costs one wake-up
 * and no futex; while one thread runs a slow file system call, the group's other threads go on
 * serving every other connection, so no connection waits for another's request.
 *
 * Connections are registered edge-triggered for input and output. One thread at a time reads a
 * connection (c->reading; an event that arrives meanwhile sets read_again, and the reader reads
 * once more before it lets go), into a small per-connection buffer, so one recv usually brings a
 * whole small request with its 4-byte header; frames larger than the buffer are read straight
 * into their own allocation. Complete frames are queued on the connection. While frames are
 * queued one thread at a time, the connection's driver (busy), takes them in order. A frame that
 * smb2_conn_frame_parallel() calls independent (a plain READ or WRITE of a regular file) runs
 * alongside others: when more work is queued the driver hands its role to a job before running
 * it, so the next frames start on another thread meanwhile (nrunning counts them). Everything
 * else (compounds, other commands, encrypted frames, asynchronous retries, the connection's end)
 * runs alone: the driver parks until the parallel frames are done, and the last of them takes
 * the driver's role back up. Jobs (a driver's role handed on, woken asynchronous requests, a
 * connection whose output drained) go on the loop's queue, announced through an eventfd in the
 * same epoll set. Responses are written by the thread that made them when the socket takes them,
 * otherwise queued and flushed by whichever thread gets EPOLLOUT.
 *
 * Only the reader ends a connection (dead), and the driver that then finds it dead with no frame
 * running tears it down, so exactly one thread does. Other threads end one by shutting its socket
 * down, which the reader sees. The struct outlives its teardown: an event fetched by another
 * thread just before the socket left the epoll set may still name it, so it is retired and freed
 * only when every thread of the loop has come back to epoll_wait since (a quiescent point). */
#include "server/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "smb2/smb2.h"

#define MAX_LISTENERS 32
#define READ_BUDGET (1u << 20)        /* bytes read per connection per loop turn */
#define INPUT_QUEUE_LIMIT (64u << 20) /* stop reading past this many queued bytes */
#define OUTPUT_QUEUE_LIMIT (32u << 20) /* stop running requests past this many unsent bytes */
#define SWEEP_MS 1000                 /* how often a loop looks for expired handshakes */
#define INBUF_SIZE 8192               /* per-connection read buffer (small requests) */
/* how a connection is registered (see the top of the file) */
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

enum frame_kind { FRAME_UNKNOWN, FRAME_PARALLEL, FRAME_ALONE };

struct frame {
	struct frame *next;
	size_t len;
	enum frame_kind kind; /* decided by the driver when it takes the frame */
	uint8_t data[];
};

struct outbuf {
	struct outbuf *next;
	uint8_t *buf; /* whole allocation, freed when sent */
	size_t off, len;
	struct smb2_tail tail; /* then tail.len bytes of a file (fd -1: none), sent by sendfile */
};

/* A connection's place in the worker pool's queue. A connection has at most one job queued at a
 * time: jobs are only submitted by whoever holds the driver's role (see above), so the job is
 * part of the connection and submitting allocates nothing. */
struct job {
	struct job *next;
	bool queued;
};

struct loop;

struct nconn {
	int fd;
	struct loop *loop;
	struct smb2_conn *sc;
	struct nconn *prev, *next; /* the loop's list, under loop->list_lock; unlinked when dead */
	struct nconn *retired_next; /* the loop's retired list (under list_lock) */
	uint64_t retired_gen;       /* loop->retire_gen when it was retired */
	time_t accepted;            /* CLOCK_MONOTONIC seconds */
	bool shut;                  /* the sweep shut its socket down (under list_lock) */
	/* input being assembled: only the thread that holds reading */
	uint8_t *in;           /* INBUF_SIZE bytes while it holds part of a frame, else NULL */
	size_t in_off, in_len; /* unparsed bytes are in[in_off .. in_len) */
	struct frame *cur;     /* a frame larger than the buffer, read straight into it */
	size_t cur_got;
	/* guarded by lock */
	pthread_mutex_t lock;
	struct frame *q_head, *q_tail;
	size_t q_bytes;
	bool busy, dead, paused;
	bool reading;    /* a thread is reading the socket */
	bool read_again; /* input was announced while it read: it reads once more */
	bool wake;       /* asynchronous requests were woken: run smb2_conn_run_async */
	int nrunning;    /* parallel frames being processed */
	bool parked;     /* the driver waits for nrunning to fall to 0 */
	struct job job;  /* guarded by loop->jlock */
	struct outbuf *o_head, *o_tail;
	size_t o_bytes;   /* unsent bytes in the output queue */
	bool out_blocked; /* the driver stopped on a full output queue; EPOLLOUT resumes it */
};

struct net;

struct lthread {
	pthread_t thread;
	struct loop *loop;
	_Atomic uint64_t qgen; /* loop->retire_gen seen at this thread's last quiescent point */
};

struct loop {
	struct net *net;
	int epfd;
	int stopfd; /* level-triggered and never read: once written, every wait returns it */
	int jobfd;  /* edge-triggered: written when a job is queued */
	struct lthread *threads;
	int nthreads;
	pthread_mutex_t list_lock;
	struct nconn *conns;
	struct nconn *retired;
	atomic_int nretired;
	_Atomic uint64_t retire_gen;
	_Atomic long long next_sweep_ms;
	pthread_mutex_t jlock;
	struct job *j_head, *j_tail;
	atomic_bool spinning; /* a thread polls the set before it sleeps (wait_event) */
	atomic_int active;    /* threads handling an event */
};

struct net {
	struct smb2_server *srv;
	int lfds[MAX_LISTENERS];
	int nlfds;
	struct loop *loops;
	int nloops;
	int threads_per_loop;
	uint64_t poll_ns; /* "poll microseconds" (wait_event) */
	bool started;
	int fd_limit_conns; /* "max connections" when 0: half of RLIMIT_NOFILE */
	int spare_fd;       /* held for shed_connection; -1 when not available */
	pthread_mutex_t spare_lock;
	atomic_llong last_refusal_log; /* second of the last refusal logged, any loop */
};

/* ---- jobs ---- */

static struct nconn *job_conn(struct job *j)
{
	return (struct nconn *)((char *)j - offsetof(struct nconn, job));
}

static void kick(int efd)
{
	uint64_t one = 1;
	ssize_t w = write(efd, &one, sizeof(one));
	(void)w;
}

/* Queues the connection's job on its loop and announces it: the jobfd is edge-triggered, so each
 * write wakes one waiting thread (writes that come together may wake only one: run_one_job
 * announces again while jobs remain). */
static void submit(struct nconn *c)
{
	struct loop *l = c->loop;
	struct job *j = &c->job;
	pthread_mutex_lock(&l->jlock);
	if (j->queued) {
		/* cannot happen (one driver at a time); never link it twice */
		pthread_mutex_unlock(&l->jlock);
		LOG_ERR(LOG_CORE, "%s: connection queued twice", c->sc->peer);
		return;
	}
	j->queued = true;
	j->next = NULL;
	if (l->j_tail)
		l->j_tail->next = j;
	else
		l->j_head = j;
	l->j_tail = j;
	pthread_mutex_unlock(&l->jlock);
	kick(l->jobfd);
}

/* Input was left in the socket (a full read budget, or reading paused): make an event announce
 * it again. Modifying an edge-triggered registration rechecks readiness and reports what is
 * ready, as a new edge would. */
static void rearm(struct nconn *c)
{
	struct epoll_event ev = {.events = CONN_EVENTS, .data.ptr = c};
	epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void outbuf_free(struct outbuf *o)
{
	if (o->tail.fd >= 0)
		close(o->tail.fd);
	free(o->buf);
	free(o);
}

static void free_outq(struct nconn *c)
{
	while (c->o_head) {
		struct outbuf *o = c->o_head;
		c->o_head = o->next;
		outbuf_free(o);
	}
	c->o_tail = NULL;
	c->o_bytes = 0;
}

/* Sends the file part of o: sendfile, and zeros for what the file no longer has (it shrank
 * after the response announced the length). */
static ssize_t send_tail(struct nconn *c, struct outbuf *o)
{
	off_t pos = (off_t)o->tail.off;
	ssize_t w = sendfile(c->fd, o->tail.fd, &pos, o->tail.len);
	if (w == 0) {
		static const uint8_t zeros[4096];
		w = send(c->fd, zeros, o->tail.len < sizeof(zeros) ? o->tail.len : sizeof(zeros),
			 MSG_NOSIGNAL);
	}
	if (w > 0) {
		o->tail.off += (uint64_t)w;
		o->tail.len -= (uint32_t)w;
	}
	return w;
}

/* Writes what the socket takes from the queue; called with c->lock held. -1 on a socket error.
 * Output left in the queue is flushed by the thread that gets the EPOLLOUT edge. */
static int flush_locked(struct nconn *c)
{
	while (c->o_head) {
		struct outbuf *o = c->o_head;
		ssize_t w;
		if (o->off < o->len)
			/* a file part follows: one segment with its start, not a lone header */
			w = send(c->fd, o->buf + o->off, o->len - o->off,
				 MSG_NOSIGNAL | (o->tail.len ? MSG_MORE : 0));
		else
			w = send_tail(c, o);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (o->off < o->len)
			o->off += (size_t)w;
		c->o_bytes -= (size_t)w;
		if (o->off < o->len || o->tail.len)
			continue; /* until EAGAIN: that is what makes EPOLLOUT fire again */
		c->o_head = o->next;
		if (!c->o_head)
			c->o_tail = NULL;
		outbuf_free(o);
	}
	return 0;
}

/* Queues the framed response held in w from offset start, followed by the file part tail (if
 * any, whose descriptor it takes), and tries to send it at once. */
static void send_response(struct nconn *c, struct wr *w, size_t start, const struct smb2_tail *tail)
{
	struct outbuf *o = malloc(sizeof(*o));
	if (!o) {
		wr_free(w);
		if (tail && tail->fd >= 0)
			close(tail->fd);
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	o->next = NULL;
	o->off = start;
	o->buf = wr_take(w, &o->len);
	o->tail.fd = -1;
	o->tail.len = 0;
	if (tail && tail->fd >= 0)
		o->tail = *tail;
	pthread_mutex_lock(&c->lock);
	c->o_bytes += o->len - o->off + o->tail.len;
	if (c->o_tail)
		c->o_tail->next = o;
	else
		c->o_head = o;
	c->o_tail = o;
	if (flush_locked(c) < 0)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->lock);
}

/* Direct TCP transport (MS-SMB2 2.1): a zero byte and a 24-bit length in front of the message
 * that starts at start in w (and goes on in tail's file part, if any). */
static void frame_and_send(struct nconn *c, struct wr *w, size_t start, const struct smb2_tail *tail)
{
	size_t extra = tail && tail->fd >= 0 ? tail->len : 0;
	if (!wr_ok(w) || start < 4 || w->len <= start) {
		wr_free(w);
		if (extra)
			close(tail->fd);
		return;
	}
	size_t len = w->len - start + extra;
	put_be32(w->p + start - 4, (uint32_t)len & 0x00FFFFFFu);
	send_response(c, w, start - 4, tail);
}

/* smb2_transport.send: the final responses of asynchronous requests */
static void tp_send(void *priv, struct wr *w, size_t start)
{
	frame_and_send(priv, w, start, NULL);
}

/* smb2_transport.wake: run the connection's woken asynchronous requests on a loop thread */
static void tp_wake(void *priv)
{
	struct nconn *c = priv;
	pthread_mutex_lock(&c->lock);
	c->wake = true;
	bool start = !c->busy && !c->dead;
	if (start)
		c->busy = true;
	pthread_mutex_unlock(&c->lock);
	if (start)
		submit(c);
}

static const struct smb2_transport net_transport = {.wake = tp_wake, .send = tp_send};

static void process_frame(struct nconn *c, struct frame *f)
{
	struct wr w;
	wr_init(&w, 512);
	wr_space(&w, SMB2_OUT_HEADROOM);
	size_t start = SMB2_OUT_HEADROOM;
	struct smb2_tail tail;
	int rc = smb2_conn_input_tail(c->sc, f->data, f->len, &w, &start, &tail);
	if (w.len > SMB2_OUT_HEADROOM) {
		frame_and_send(c, &w, start, &tail);
	} else {
		wr_free(&w);
		if (tail.fd >= 0)
			close(tail.fd);
	}
	if (rc < 0) {
		LOG_INFO(LOG_CORE, "%s: protocol error: disconnecting", c->sc->peer);
		shutdown(c->fd, SHUT_RDWR);
	}
}

/* Tears a dead connection down (its driver, once). The struct itself is retired, not freed: a
 * thread may hold an event for it fetched before it left the epoll set (reclaim_retired). */
static void conn_teardown(struct nconn *c)
{
	smb2_conn_free(c->sc);
	c->sc = NULL;
	close(c->fd);
	c->fd = -1;
	while (c->q_head) {
		struct frame *f = c->q_head;
		c->q_head = f->next;
		free(f);
	}
	free(c->cur);
	c->cur = NULL;
	free(c->in);
	c->in = NULL;
	free_outq(c);
	struct loop *l = c->loop;
	pthread_mutex_lock(&l->list_lock);
	c->retired_gen = atomic_fetch_add(&l->retire_gen, 1) + 1;
	c->retired_next = l->retired;
	l->retired = c;
	atomic_fetch_add(&l->nretired, 1);
	pthread_mutex_unlock(&l->list_lock);
}

static void conn_destroy(struct nconn *c)
{
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Frees the retired connections every thread of the loop has passed a quiescent point since
 * (called by a thread at its own quiescent point, before epoll_wait). */
static void reclaim_retired(struct loop *l)
{
	uint64_t seen = UINT64_MAX;
	for (int i = 0; i < l->nthreads; i++) {
		uint64_t g = atomic_load(&l->threads[i].qgen);
		if (g < seen)
			seen = g;
	}
	pthread_mutex_lock(&l->list_lock);
	struct nconn **pp = &l->retired, *dead = NULL;
	while (*pp) {
		struct nconn *c = *pp;
		if (c->retired_gen <= seen) {
			atomic_fetch_sub(&l->nretired, 1);
			*pp = c->retired_next;
			c->retired_next = dead;
			dead = c;
		} else {
			pp = &c->retired_next;
		}
	}
	pthread_mutex_unlock(&l->list_lock);
	while (dead) {
		struct nconn *c = dead;
		dead = c->retired_next;
		conn_destroy(c);
	}
}

/* Back-pressure on a client that does not read its responses (called with c->lock held by
 * the driver about to run the next request): past OUTPUT_QUEUE_LIMIT unsent bytes it stops and
 * gives the connection up; the thread that flushes on EPOLLOUT starts it again once the socket
 * has taken half of that (output_drained_locked). Input queues up behind it until reading
 * pauses too. */
static bool output_backlogged_locked(struct nconn *c)
{
	if (c->dead || c->o_bytes <= OUTPUT_QUEUE_LIMIT)
		return false;
	c->out_blocked = true;
	c->busy = false;
	return true;
}

/* Output was flushed (c->lock held): true when the stopped driver must be started again, in
 * which case the connection is marked busy for it. */
static bool output_drained_locked(struct nconn *c)
{
	if (!c->out_blocked || c->o_bytes > OUTPUT_QUEUE_LIMIT / 2)
		return false;
	c->out_blocked = false;
	if (c->busy || (!c->q_head && !c->wake))
		return false;
	c->busy = true;
	return true;
}

/* Ends a parallel frame (c->lock not held); true when its thread must take up the driver's role
 * (it was the driver and did not hand it on, or the driver parked waiting for it). */
static bool parallel_done(struct nconn *c, bool driver)
{
	pthread_mutex_lock(&c->lock);
	c->nrunning--;
	if (c->nrunning == 0 && c->parked) {
		c->parked = false;
		driver = true;
	}
	pthread_mutex_unlock(&c->lock);
	return driver;
}

/* The driver found asynchronous requests woken (c->lock held, released here): they run alone,
 * so with parallel frames still running it parks (false: the last of them resumes it). */
static bool drive_async_locked(struct nconn *c)
{
	if (c->nrunning) {
		c->parked = true;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	c->wake = false;
	pthread_mutex_unlock(&c->lock);
	if (smb2_conn_run_async(c->sc) < 0) {
		LOG_INFO(LOG_CORE, "%s: asynchronous response failed: disconnecting", c->sc->peer);
		shutdown(c->fd, SHUT_RDWR);
	}
	return true;
}

/* The input queue is empty (c->lock held, released here): the driver's role ends, and a dead
 * connection is torn down once no parallel frame runs (the last one does it otherwise). */
static void drive_idle_locked(struct nconn *c)
{
	bool dead = c->dead;
	if (dead && c->nrunning) {
		c->parked = true; /* the last parallel frame frees it */
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->busy = false;
	pthread_mutex_unlock(&c->lock);
	if (dead)
		conn_teardown(c);
}

/* Takes the head of the input queue (c->lock held and kept; the queue is not empty), resuming
 * reading when the queue has fallen below half its limit. */
static struct frame *dequeue_locked(struct nconn *c, bool *unpause)
{
	struct frame *f = c->q_head;
	c->q_head = f->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_bytes -= f->len;
	*unpause = c->paused && !c->dead && c->q_bytes < INPUT_QUEUE_LIMIT / 2;
	if (*unpause)
		c->paused = false;
	return f;
}

/* Puts f back at the head of the queue (c->lock held). */
static void requeue_locked(struct nconn *c, struct frame *f)
{
	f->next = c->q_head;
	c->q_head = f;
	if (!c->q_tail)
		c->q_tail = f;
	c->q_bytes += f->len;
}

/* The connection's driver (see the top of the file). */
static void run_job(struct nconn *c)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		if (output_backlogged_locked(c)) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		if (c->wake && !c->dead) {
			if (!drive_async_locked(c))
				return;
			continue;
		}
		if (!c->q_head) {
			drive_idle_locked(c);
			return;
		}
		bool unpause;
		struct frame *f = dequeue_locked(c, &unpause);
		bool dead = c->dead;
		pthread_mutex_unlock(&c->lock);
		if (unpause)
			rearm(c);
		if (dead) {
			free(f);
			continue;
		}
		if (f->kind == FRAME_UNKNOWN)
			f->kind = smb2_conn_frame_parallel(c->sc, f->data, f->len) ? FRAME_PARALLEL
										    : FRAME_ALONE;
		pthread_mutex_lock(&c->lock);
		if (f->kind == FRAME_ALONE && c->nrunning) {
			/* back to the head of the queue until the parallel frames are done */
			requeue_locked(c, f);
			c->parked = true;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		bool handoff = false;
		if (f->kind == FRAME_PARALLEL) {
			c->nrunning++;
			/* more to do: a new driver starts it on another worker meanwhile */
			handoff = c->q_head || c->wake;
		}
		pthread_mutex_unlock(&c->lock);
		if (handoff)
			submit(c);
		process_frame(c, f);
		enum frame_kind kind = f->kind;
		free(f);
		if (kind == FRAME_PARALLEL && !parallel_done(c, !handoff))
			return;
	}
}

/* ---- event loops ---- */

/* Takes c out of the loop's list of connections. */
static void conn_unlink(struct loop *l, struct nconn *c)
{
	pthread_mutex_lock(&l->list_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	pthread_mutex_unlock(&l->list_lock);
}

/* Marks the connection ended; called by its reader. Its socket leaves the epoll set and the list
 * at once; true when the caller must run the driver that tears it down. */
static bool conn_dead(struct loop *l, struct nconn *c)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	conn_unlink(l, c);
	pthread_mutex_lock(&c->lock);
	c->dead = true;
	bool start = !c->busy;
	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	return start;
}

/* Queues a complete frame; true when the caller must drive the connection. *paused is set when
 * the input queue is past its limit: reading stops until the driver has worked it down. */
static bool enqueue_frame(struct nconn *c, struct frame *f, bool *paused)
{
	pthread_mutex_lock(&c->lock);
	if (c->q_tail)
		c->q_tail->next = f;
	else
		c->q_head = f;
	c->q_tail = f;
	c->q_bytes += f->len;
	if (c->q_bytes > INPUT_QUEUE_LIMIT)
		c->paused = true;
	*paused = c->paused;
	bool start = !c->busy;
	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	return start;
}

static struct frame *frame_new(size_t len)
{
	struct frame *f = malloc(sizeof(struct frame) + len);
	if (f) {
		f->next = NULL;
		f->len = len;
		f->kind = FRAME_UNKNOWN;
	}
	return f;
}

/* What a read pass left: the socket drained, or input left in it (the read budget is spent, or
 * reading paused), or the connection ended. */
enum read_end { READ_DRAINED, READ_MORE, READ_PAUSED, READ_ENDED };

/* Takes the complete frames out of the input buffer. A frame that does not fit in the buffer
 * becomes c->cur with what has arrived of it. Returns -1 on a malformed header. */
static int parse_input(struct nconn *c, bool *drive, bool *paused)
{
	while (c->in_len - c->in_off >= 4 && !*paused) {
		const uint8_t *h = c->in + c->in_off;
		if (h[0] == 0x85) { /* NetBIOS keep-alive */
			c->in_off += 4;
			continue;
		}
		size_t len = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
		if (h[0] != 0 || len == 0 || len > smb2_conn_max_frame(c->sc))
			return -1;
		size_t have = c->in_len - c->in_off - 4;
		if (have < len && len + 4 <= INBUF_SIZE)
			break; /* fits in the buffer: wait for the rest */
		struct frame *f = frame_new(len);
		if (!f)
			return -1;
		size_t take = have < len ? have : len;
		memcpy(f->data, h + 4, take);
		c->in_off += 4 + take;
		if (take < len) {
			c->cur = f;
			c->cur_got = take;
			break;
		}
		*drive |= enqueue_frame(c, f, paused);
	}
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	return 0;
}

/* Reads what is available, at most READ_BUDGET bytes. A read that leaves room in the buffer has
 * drained the socket of data: more data makes a new edge, so it does not ask again for an EAGAIN
 * (one recv per small request instead of two). But the end of the stream may have come with the
 * data in the same edge: when the event said so (to_end), it reads on until EAGAIN or the end.
 * *drive is set when a frame was queued on an idle connection. */
static enum read_end read_input_buffered(struct nconn *c, bool *drive, bool to_end)
{
	if (!c->in) {
		c->in = malloc(INBUF_SIZE);
		if (!c->in)
			return READ_ENDED;
	}
	size_t budget = READ_BUDGET;
	bool paused = false;
	while (budget) {
		uint8_t *dst;
		size_t want;
		if (c->cur) {
			dst = c->cur->data + c->cur_got;
			want = c->cur->len - c->cur_got;
		} else {
			dst = c->in + c->in_len;
			want = INBUF_SIZE - c->in_len;
		}
		ssize_t r = recv(c->fd, dst, want, 0);
		if (r == 0)
			return READ_ENDED;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? READ_DRAINED : READ_ENDED;
		}
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		if (c->cur) {
			c->cur_got += (size_t)r;
			if (c->cur_got == c->cur->len) {
				struct frame *f = c->cur;
				c->cur = NULL;
				*drive |= enqueue_frame(c, f, &paused);
			}
		} else {
			c->in_len += (size_t)r;
			if (parse_input(c, drive, &paused) < 0)
				return READ_ENDED;
		}
		if (paused)
			return READ_PAUSED;
		if ((size_t)r < want && !to_end)
			return READ_DRAINED;
	}
	return READ_MORE;
}

/* The buffer is only kept while it holds part of a frame: an idle connection costs no more
 * than its objects (the memory workload of bench/run), and the allocation is a free-list hit. */
static enum read_end read_input(struct nconn *c, bool *drive, bool to_end)
{
	enum read_end rc = read_input_buffered(c, drive, to_end);
	if (c->in && c->in_len == 0) {
		free(c->in);
		c->in = NULL;
	}
	return rc;
}

/* An input event: read the connection (one reader at a time), then run what was queued if the
 * connection was idle. An event that came while another thread read makes that reader read once
 * more, to the end, as the event may have announced the end of the stream. */
static bool handle_input(struct loop *l, struct nconn *c, uint32_t events)
{
	pthread_mutex_lock(&c->lock);
	if (c->dead || c->paused || c->reading) {
		/* a paused connection is announced again when the driver resumes reading */
		if (c->reading && !c->dead)
			c->read_again = true;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	c->reading = true;
	pthread_mutex_unlock(&c->lock);
	bool drive = false, partial = false;
	bool to_end = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
	enum read_end rc;
	for (;;) {
		rc = read_input(c, &drive, to_end);
		if (rc == READ_ENDED)
			break; /* keeps reading: nobody reads an ended connection again */
		pthread_mutex_lock(&c->lock);
		if (rc == READ_DRAINED && c->read_again) {
			c->read_again = false;
			pthread_mutex_unlock(&c->lock);
			to_end = true;
			continue;
		}
		c->read_again = false;
		partial = c->cur || c->in;
		c->reading = false;
		pthread_mutex_unlock(&c->lock);
		break;
	}
	if (rc == READ_ENDED)
		drive = conn_dead(l, c) || drive;
	else if (rc == READ_MORE)
		rearm(c);
	if (drive)
		run_job(c);
	return !partial;
}

/* An output event: flush what waits, and start the driver again if it stopped on the backlog. */
static void handle_output(struct nconn *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->dead || !c->o_head) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int rc = flush_locked(c);
	bool resume = rc == 0 && output_drained_locked(c);
	if (rc < 0)
		shutdown(c->fd, SHUT_RDWR); /* the reader sees it and ends the connection */
	pthread_mutex_unlock(&c->lock);
	if (resume)
		run_job(c);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static time_t mono_now(void)
{
	return (time_t)(mono_ns() / 1000000000u);
}

/* "max connections": a connection past the limit is closed as soon as it is accepted (the
 * backlog must not fill up with it), the others are not affected. */
static bool conn_limit_reached(struct net *n)
{
	struct shoal_conf *conf = smb2_server_conf(n->srv);
	int max = conf->max_connections > 0 ? conf->max_connections : n->fd_limit_conns;
	conf_put(conf);
	if (atomic_load(&n->srv->nconns) < max)
		return false;
	long long now = mono_now();
	if (atomic_exchange(&n->last_refusal_log, now) != now) /* at most one line a second */
		LOG_WARN(LOG_CORE, "max connections (%d) reached: refusing connections", max);
	return true;
}

/* Once a second: "handshake timeout" ends the loop's connections that have not authenticated a
 * session in time, so an idle or slowloris client cannot hold a connection (and its memory) for
 * ever (frames are read by the loop and only complete ones reach a worker, so a slow client
 * never holds a worker); and connections whose oplock breaks count as never acknowledged (the
 * test-only FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT, smb2_torture.c) are dropped when due. */
static void sweep_conns(struct loop *l)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	long long due = atomic_load(&l->next_sweep_ms);
	/* one thread of the loop sweeps */
	if (now_ms < due || !atomic_compare_exchange_strong(&l->next_sweep_ms, &due, now_ms + SWEEP_MS))
		return;
	struct shoal_conf *conf = smb2_server_conf(l->net->srv);
	int limit = conf->handshake_timeout;
	conf_put(conf);
	time_t now = ts.tv_sec;
	pthread_mutex_lock(&l->list_lock);
	for (struct nconn *c = l->conns; c; c = c->next) {
		if (c->shut)
			continue;
		if (limit > 0 && now - c->accepted >= limit && !atomic_load(&c->sc->authenticated)) {
			LOG_INFO(LOG_CORE, "%s: no session after %d s: disconnecting", c->sc->peer,
				 limit);
			c->shut = true;
		} else if (smb2_torture_unacked_expired(c->sc, (uint64_t)now_ms)) {
			LOG_INFO(LOG_CORE, "%s: oplock break not acknowledged: disconnecting",
				 c->sc->peer);
			c->shut = true;
		}
		if (c->shut) /* its reader sees the end and ends it */
			shutdown(c->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&l->list_lock);
}

/* Out of descriptors: the pending connection would keep the listener readable and the loop
 * spinning. The spare descriptor is given up to accept and close it, then taken back. */
static void shed_connection(struct net *n, int lfd)
{
	pthread_mutex_lock(&n->spare_lock);
	if (n->spare_fd >= 0) {
		close(n->spare_fd);
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&n->spare_lock);
	long long now = mono_now();
	if (atomic_exchange(&n->last_refusal_log, now) != now)
		LOG_WARN(LOG_CORE, "out of file descriptors: refusing connections");
}

static void accept_conns(struct loop *l, int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				shed_connection(l->net, lfd);
			return;
		}
		if (conn_limit_reached(l->net)) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		char host[INET6_ADDRSTRLEN] = "?", peer[64];
		int port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			port = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			port = ntohs(s6->sin6_port);
		}
		snprintf(peer, sizeof(peer), "%s:%d", host, port);
		struct nconn *c = calloc(1, sizeof(*c));
		if (c)
			c->sc = smb2_conn_new(l->net->srv, fd, peer);
		if (!c || !c->sc) {
			free(c);
			close(fd);
			continue;
		}
		pthread_mutex_init(&c->lock, NULL);
		c->fd = fd;
		c->loop = l;
		c->sc->loop_priv = c;
		c->sc->tp = &net_transport;
		c->accepted = mono_now();
		LOG_INFO(LOG_CORE, "connection from %s", peer);
		/* in the list before its first event can reach another thread */
		pthread_mutex_lock(&l->list_lock);
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		pthread_mutex_unlock(&l->list_lock);
		struct epoll_event ev = {.events = CONN_EVENTS, .data.ptr = c};
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			conn_unlink(l, c);
			smb2_conn_free(c->sc);
			conn_destroy(c);
			close(fd);
		}
	}
}

static bool is_listener(struct net *n, void *ptr, int *fd)
{
	for (int i = 0; i < n->nlfds; i++)
		if (ptr == &n->lfds[i]) {
			*fd = n->lfds[i];
			return true;
		}
	return false;
}

/* Runs one queued job; false when there was none. Announces again while jobs remain, since
 * writes to the jobfd that came together woke only one thread. */
static bool run_one_job(struct loop *l)
{
	pthread_mutex_lock(&l->jlock);
	struct job *j = l->j_head;
	if (j) {
		l->j_head = j->next;
		if (!l->j_head)
			l->j_tail = NULL;
		j->queued = false;
	}
	bool more = l->j_head != NULL;
	pthread_mutex_unlock(&l->jlock);
	if (more)
		kick(l->jobfd);
	if (j)
		run_job(job_conn(j));
	return j != NULL;
}

/* Waits for the loop's next event. When the loop has gone quiet (no thread handling an event),
 * the last thread to finish first polls the set for "poll microseconds" before it sleeps: a
 * client's next request usually comes within tens of microseconds, and a CPU that went idle
 * meanwhile costs that request a wake-up from halt (on a VM an exit to the host and an
 * interrupt). It stops as soon as another thread of the loop takes an event (there is work: the
 * CPU is theirs), and yields between polls. */
static int wait_event(struct loop *l, struct epoll_event *ev, bool busy)
{
	if (busy && l->net->poll_ns && atomic_load(&l->active) == 0 &&
	    !atomic_exchange(&l->spinning, true)) {
		uint64_t end = mono_ns() + l->net->poll_ns;
		int k;
		do {
			k = epoll_wait(l->epfd, ev, 1, 0);
			if (k == 0)
				sched_yield();
		} while (k == 0 && atomic_load(&l->active) == 0 && mono_ns() < end);
		atomic_store(&l->spinning, false);
		if (k != 0)
			return k;
	}
	return epoll_wait(l->epfd, ev, 1, SWEEP_MS);
}

static void *thread_main(void *arg)
{
	struct lthread *t = arg;
	struct loop *l = t->loop;
	bool busy = false;
	for (;;) {
		/* quiescent point: this thread holds no event from before */
		atomic_store(&t->qgen, atomic_load(&l->retire_gen));
		if (atomic_load(&l->nretired))
			reclaim_retired(l);
		struct epoll_event ev;
		int k = wait_event(l, &ev, busy);
		busy = k == 1;
		if (busy)
			atomic_fetch_add(&l->active, 1);
		if (k < 0 && errno != EINTR) {
			LOG_ERR(LOG_CORE, "epoll_wait: %s", strerror(errno));
			return NULL;
		}
		if (k == 1) {
			void *ptr = ev.data.ptr;
			int lfd;
			if (ptr == &l->stopfd) {
				/* stopping: the connections have ended; finish the jobs left */
				if (!run_one_job(l)) {
					atomic_fetch_sub(&l->active, 1);
					return NULL;
				}
			} else if (ptr == &l->jobfd) {
				run_one_job(l);
			} else if (is_listener(l->net, ptr, &lfd)) {
				accept_conns(l, lfd);
			} else {
				/* a connection in the middle of a frame wakes the loop again
				   when the rest comes: no reason to poll for it */
				struct nconn *c = ptr;
				busy = false;
				if (ev.events & EPOLLOUT)
					handle_output(c);
				if (ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
					busy = handle_input(l, c, ev.events);
			}
			atomic_fetch_sub(&l->active, 1);
		}
		sweep_conns(l);
	}
}

/* ---- set-up ---- */

static int add_listener(struct net *n, int family, const void *addr, uint16_t port, char *err,
			size_t errlen)
{
	if (n->nlfds >= MAX_LISTENERS) {
		snprintf(err, errlen, "too many listening addresses");
		return -1;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	char text[INET6_ADDRSTRLEN];
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sl = sizeof(*s6);
	}
	inet_ntop(family, addr, text, sizeof(text));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 512) < 0) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", text, port, strerror(errno));
		close(fd);
		return -1;
	}
	n->lfds[n->nlfds++] = fd;
	LOG_WARN(LOG_CORE, "listening on %s port %u", text, port);
	return 0;
}

/* An "interfaces" entry is an address, or an interface name whose IPv4 addresses are used. */
static int add_interface(struct net *n, const char *spec, uint16_t port, char *err, size_t el)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, spec, a) == 1)
		return add_listener(n, AF_INET, a, port, err, el);
	if (inet_pton(AF_INET6, spec, a) == 1)
		return add_listener(n, AF_INET6, a, port, err, el);
	struct ifaddrs *ifs, *i;
	if (getifaddrs(&ifs) < 0) {
		snprintf(err, el, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	int found = 0, rc = 0;
	for (i = ifs; i && rc == 0; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, spec) || i->ifa_addr->sa_family != AF_INET)
			continue;
		found++;
		rc = add_listener(n, AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, port,
				  err, el);
	}
	freeifaddrs(ifs);
	if (!found && rc == 0) {
		snprintf(err, el, "interfaces: '%s' is neither an address nor an interface", spec);
		return -1;
	}
	return rc;
}

struct net *net_new(struct smb2_server *srv, const struct shoal_conf *conf, int nloops,
		    int nthreads, char *err, size_t errlen)
{
	struct net *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->srv = srv;
	n->poll_ns = conf->poll_us > 0 ? (uint64_t)conf->poll_us * 1000u : 0;
	n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&n->spare_lock, NULL);
	struct rlimit rl;
	n->fd_limit_conns = 512;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t half = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : rl.rlim_cur / 2;
		n->fd_limit_conns = half < 16 ? 16 : half > (1u << 20) ? (1 << 20) : (int)half;
	}
	for (int p = 0; p < conf->nports; p++) {
		if (!conf->ninterfaces) {
			uint8_t any[4] = {0};
			if (add_listener(n, AF_INET, any, conf->ports[p], err, errlen) < 0)
				goto fail;
			continue;
		}
		for (int i = 0; i < conf->ninterfaces; i++)
			if (add_interface(n, conf->interfaces[i], conf->ports[p], err, errlen) < 0)
				goto fail;
	}
	n->nloops = nloops > 0 ? nloops : 1;
	n->threads_per_loop = nthreads > n->nloops ? nthreads / n->nloops : 1;
	n->loops = calloc((size_t)n->nloops, sizeof(*n->loops));
	if (!n->loops) {
		n->nloops = 0;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n->nloops; i++) {
		struct loop *l = &n->loops[i];
		l->net = n;
		l->epfd = l->stopfd = l->jobfd = -1;
		pthread_mutex_init(&l->list_lock, NULL);
		pthread_mutex_init(&l->jlock, NULL);
	}
	for (int i = 0; i < n->nloops; i++) {
		struct loop *l = &n->loops[i];
		l->threads = calloc((size_t)n->threads_per_loop, sizeof(*l->threads));
		if (!l->threads) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		l->jobfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->epfd < 0 || l->stopfd < 0 || l->jobfd < 0) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			goto fail;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->stopfd};
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev);
		struct epoll_event je = {.events = EPOLLIN | EPOLLET, .data.ptr = &l->jobfd};
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->jobfd, &je);
		for (int k = 0; k < n->nlfds; k++) {
			struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE,
						 .data.ptr = &n->lfds[k]};
			epoll_ctl(l->epfd, EPOLL_CTL_ADD, n->lfds[k], &le);
		}
	}
	return n;
fail:
	net_free(n);
	return NULL;
}

int net_start(struct net *n)
{
	for (int i = 0; i < n->nloops; i++) {
		struct loop *l = &n->loops[i];
		for (int k = 0; k < n->threads_per_loop; k++) {
			struct lthread *t = &l->threads[k];
			t->loop = l;
			if (pthread_create(&t->thread, NULL, thread_main, t))
				return -EAGAIN;
			l->nthreads = k + 1;
		}
	}
	n->started = true;
	return 0;
}

static bool conns_left(struct net *n)
{
	bool any = false;
	for (int i = 0; i < n->nloops; i++) {
		struct loop *l = &n->loops[i];
		pthread_mutex_lock(&l->list_lock);
		for (struct nconn *c = l->conns; c; c = c->next) {
			shutdown(c->fd, SHUT_RDWR); /* its reader ends it */
			any = true;
		}
		pthread_mutex_unlock(&l->list_lock);
	}
	return any;
}

void net_stop(struct net *n)
{
	if (!n->started)
		return;
	/* no new connections; end the others through their readers, which tear them down */
	for (int i = 0; i < n->nloops; i++)
		for (int k = 0; k < n->nlfds; k++)
			epoll_ctl(n->loops[i].epfd, EPOLL_CTL_DEL, n->lfds[k], NULL);
	while (conns_left(n)) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < n->nloops; i++) {
		kick(n->loops[i].stopfd);
	}
	for (int i = 0; i < n->nloops; i++)
		for (int k = 0; k < n->loops[i].nthreads; k++)
			pthread_join(n->loops[i].threads[k].thread, NULL);
	n->started = false;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nlfds; i++)
		close(n->lfds[i]);
	if (n->spare_fd >= 0)
		close(n->spare_fd);
	pthread_mutex_destroy(&n->spare_lock);
	if (n->loops)
		for (int i = 0; i < n->nloops; i++) {
			struct loop *l = &n->loops[i];
			if (l->epfd >= 0)
				close(l->epfd);
			if (l->stopfd >= 0)
				close(l->stopfd);
			if (l->jobfd >= 0)
				close(l->jobfd);
			while (l->retired) {
				struct nconn *c = l->retired;
				l->retired = c->retired_next;
				conn_destroy(c);
			}
			free(l->threads);
			pthread_mutex_destroy(&l->list_lock);
			pthread_mutex_destroy(&l->jlock);
		}
	free(n->loops);
	free(n);
}
