/* Listeners, event loops and the worker pool. See net.h for the threading model.
 *
 * A connection (struct nconn) belongs to one loop, which alone reads its socket and alone
 * decides that it has ended (dead). The loop reads into a small per-connection buffer, so one
 * recv usually brings a whole small request with its 4-byte header; frames larger than the
 * buffer are read straight into their own allocation. Complete frames are queued on the
 * connection. While frames are queued one worker job, the connection's driver (busy), takes
 * them in order. A frame that smb2_conn_frame_parallel() calls independent (a plain READ or
 * WRITE of a regular file) runs alongside others: when more work is queued the driver hands
 * its role to a new job before running it, so the next frames start on another worker while
 * it runs (nrunning counts them). Everything else (compounds, other commands, encrypted
 * frames, asynchronous retries, the connection's end) runs alone: the driver parks until the
 * parallel frames are done, and the last of them takes the driver's role back up. Responses
 * are written by the worker directly when the socket takes them, otherwise queued and flushed
 * by the loop on EPOLLOUT. The connection is freed by the driver that finds it dead with no
 * frame running, so exactly one thread frees it. */
#include "server/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
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
	struct nconn *prev, *next; /* the loop's list; loop thread (and net_stop after join) */
	time_t accepted;           /* CLOCK_MONOTONIC seconds; loop thread */
	/* input being assembled: loop thread only */
	uint8_t *in;           /* INBUF_SIZE bytes while it holds part of a frame, else NULL */
	size_t in_off, in_len; /* unparsed bytes are in[in_off .. in_len) */
	struct frame *cur;     /* a frame larger than the buffer, read straight into it */
	size_t cur_got;
	/* guarded by lock */
	pthread_mutex_t lock;
	struct frame *q_head, *q_tail;
	size_t q_bytes;
	bool busy, dead, paused, want_out;
	bool wake;    /* asynchronous requests were woken: run smb2_conn_run_async */
	int nrunning; /* parallel frames being processed */
	bool parked;  /* the driver waits for nrunning to fall to 0 */
	struct job job; /* guarded by net->jlock */
	struct outbuf *o_head, *o_tail;
	size_t o_bytes;   /* unsent bytes in the output queue */
	bool out_blocked; /* the worker stopped on a full output queue; the loop resumes it */
};

struct net;

struct worker {
	pthread_t thread;
	struct net *net;
	sem_t wake;              /* posted when a job is queued for this idle worker */
	struct worker *next_idle; /* guarded by net->jlock */
};

struct loop {
	struct net *net;
	pthread_t thread;
	int epfd;
	int stopfd;
	struct nconn *conns;
	time_t next_sweep;
};

struct net {
	struct smb2_server *srv;
	int lfds[MAX_LISTENERS];
	int nlfds;
	struct loop *loops;
	int nloops;
	struct worker *workers;
	int nworkers;
	pthread_mutex_t jlock;
	struct worker *idle; /* workers waiting for a job (a stack: the warmest first) */
	struct job *j_head, *j_tail;
	bool j_stop;
	bool started;
	int fd_limit_conns; /* "max connections" when 0: half of RLIMIT_NOFILE */
	int spare_fd;       /* held for shed_connection; -1 when not available */
	pthread_mutex_t spare_lock;
	atomic_llong last_refusal_log; /* second of the last refusal logged, any loop */
};

/* ---- worker pool ---- */

static struct nconn *job_conn(struct job *j)
{
	return (struct nconn *)((char *)j - offsetof(struct nconn, job));
}

/* Queues the connection's job and wakes an idle worker. Each idle worker waits on a semaphore
 * of its own rather than on a condition variable: a woken waiter of a condition variable takes
 * the mutex back in its contended state, which costs a futex call more per request. */
static void submit(struct net *n, struct nconn *c)
{
	struct job *j = &c->job;
	pthread_mutex_lock(&n->jlock);
	if (j->queued) {
		/* cannot happen (one driver at a time); never link it twice */
		pthread_mutex_unlock(&n->jlock);
		LOG_ERR(LOG_CORE, "%s: connection queued twice", c->sc->peer);
		return;
	}
	j->queued = true;
	j->next = NULL;
	if (n->j_tail)
		n->j_tail->next = j;
	else
		n->j_head = j;
	n->j_tail = j;
	struct worker *w = n->idle;
	if (w)
		n->idle = w->next_idle;
	pthread_mutex_unlock(&n->jlock);
	if (w)
		sem_post(&w->wake);
}

/* Events the loop should wait for; called with c->lock held. */
static void update_events(struct nconn *c)
{
	struct epoll_event ev = {0};
	ev.events = (c->paused ? 0 : EPOLLIN) | (c->want_out ? EPOLLOUT : 0) | EPOLLRDHUP;
	ev.data.ptr = c;
	epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void free_outq(struct nconn *c)
{
	while (c->o_head) {
		struct outbuf *o = c->o_head;
		c->o_head = o->next;
		free(o->buf);
		free(o);
	}
	c->o_tail = NULL;
	c->o_bytes = 0;
}

/* Writes what the socket takes from the queue; called with c->lock held. -1 on a socket error. */
static int flush_locked(struct nconn *c)
{
	while (c->o_head) {
		struct outbuf *o = c->o_head;
		ssize_t w = send(c->fd, o->buf + o->off, o->len - o->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		o->off += (size_t)w;
		c->o_bytes -= (size_t)w;
		if (o->off < o->len)
			return 0;
		c->o_head = o->next;
		if (!c->o_head)
			c->o_tail = NULL;
		free(o->buf);
		free(o);
	}
	return 0;
}

/* Queues the framed response held in w from offset start and tries to send it at once. */
static void send_response(struct nconn *c, struct wr *w, size_t start)
{
	struct outbuf *o = malloc(sizeof(*o));
	if (!o) {
		wr_free(w);
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	o->next = NULL;
	o->off = start;
	o->buf = wr_take(w, &o->len);
	pthread_mutex_lock(&c->lock);
	c->o_bytes += o->len - o->off;
	if (c->o_tail)
		c->o_tail->next = o;
	else
		c->o_head = o;
	c->o_tail = o;
	if (flush_locked(c) < 0) {
		shutdown(c->fd, SHUT_RDWR);
	} else if (c->o_head && !c->want_out) {
		c->want_out = true;
		update_events(c);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Direct TCP transport (MS-SMB2 2.1): a zero byte and a 24-bit length in front of the message
 * that starts at start in w. */
static void frame_and_send(struct nconn *c, struct wr *w, size_t start)
{
	if (!wr_ok(w) || start < 4 || w->len <= start) {
		wr_free(w);
		return;
	}
	size_t len = w->len - start;
	put_be32(w->p + start - 4, (uint32_t)len & 0x00FFFFFFu);
	send_response(c, w, start - 4);
}

/* smb2_transport.send: the final responses of asynchronous requests */
static void tp_send(void *priv, struct wr *w, size_t start)
{
	frame_and_send(priv, w, start);
}

/* smb2_transport.wake: run the connection's woken asynchronous requests on a worker */
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
		submit(c->loop->net, c);
}

static const struct smb2_transport net_transport = {.wake = tp_wake, .send = tp_send};

static void process_frame(struct net *n, struct nconn *c, struct frame *f)
{
	struct wr w;
	wr_init(&w, 512);
	wr_space(&w, SMB2_OUT_HEADROOM);
	size_t start = SMB2_OUT_HEADROOM;
	int rc = smb2_conn_input(c->sc, f->data, f->len, &w, &start);
	if (w.len > SMB2_OUT_HEADROOM)
		frame_and_send(c, &w, start);
	else
		wr_free(&w);
	if (rc < 0) {
		LOG_INFO(LOG_CORE, "%s: protocol error: disconnecting", c->sc->peer);
		shutdown(c->fd, SHUT_RDWR);
	}
	(void)n;
}

static void conn_free(struct nconn *c)
{
	smb2_conn_free(c->sc);
	close(c->fd);
	while (c->q_head) {
		struct frame *f = c->q_head;
		c->q_head = f->next;
		free(f);
	}
	free(c->cur);
	free(c->in);
	free_outq(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Back-pressure on a client that does not read its responses (called with c->lock held by
 * the worker about to run the next request): past OUTPUT_QUEUE_LIMIT unsent bytes it stops and
 * gives the connection up; the loop resubmits it once the socket has taken half of that
 * (output_drained_locked). Input queues up behind it until reading pauses too. */
static bool output_backlogged_locked(struct nconn *c)
{
	if (c->dead || c->o_bytes <= OUTPUT_QUEUE_LIMIT)
		return false;
	c->out_blocked = true;
	c->busy = false;
	return true;
}

/* The loop flushed output (c->lock held): true when the stopped worker job must be
 * resubmitted, in which case the connection is marked busy for it. */
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

/* The connection's driver (see the top of the file). */
static void run_job(struct net *n, struct nconn *c)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		if (output_backlogged_locked(c)) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		if (c->wake && !c->dead) {
			/* asynchronous retries touch the session's opens: alone */
			if (c->nrunning) {
				c->parked = true;
				pthread_mutex_unlock(&c->lock);
				return;
			}
			c->wake = false;
			pthread_mutex_unlock(&c->lock);
			if (smb2_conn_run_async(c->sc) < 0) {
				LOG_INFO(LOG_CORE, "%s: asynchronous response failed: disconnecting",
					 c->sc->peer);
				shutdown(c->fd, SHUT_RDWR);
			}
			continue;
		}
		struct frame *f = c->q_head;
		if (!f) {
			bool dead = c->dead;
			if (dead && c->nrunning) {
				c->parked = true; /* the last parallel frame frees it */
				pthread_mutex_unlock(&c->lock);
				return;
			}
			c->busy = false;
			pthread_mutex_unlock(&c->lock);
			if (dead)
				conn_free(c);
			return;
		}
		c->q_head = f->next;
		if (!c->q_head)
			c->q_tail = NULL;
		c->q_bytes -= f->len;
		bool dead = c->dead;
		if (c->paused && !dead && c->q_bytes < INPUT_QUEUE_LIMIT / 2) {
			c->paused = false;
			update_events(c);
		}
		pthread_mutex_unlock(&c->lock);
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
			f->next = c->q_head;
			c->q_head = f;
			if (!c->q_tail)
				c->q_tail = f;
			c->q_bytes += f->len;
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
			submit(n, c);
		process_frame(n, c, f);
		enum frame_kind kind = f->kind;
		free(f);
		if (kind == FRAME_PARALLEL && !parallel_done(c, !handoff))
			return;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct net *n = w->net;
	pthread_mutex_lock(&n->jlock);
	for (;;) {
		struct job *j = n->j_head;
		if (j) {
			n->j_head = j->next;
			if (!n->j_head)
				n->j_tail = NULL;
			j->queued = false;
			pthread_mutex_unlock(&n->jlock);
			run_job(n, job_conn(j));
			pthread_mutex_lock(&n->jlock);
			continue;
		}
		if (n->j_stop)
			break;
		w->next_idle = n->idle;
		n->idle = w;
		pthread_mutex_unlock(&n->jlock);
		while (sem_wait(&w->wake) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&n->jlock);
	}
	pthread_mutex_unlock(&n->jlock);
	return NULL;
}

/* ---- event loops ---- */

/* Marks the connection ended (loop thread). After this the loop never touches it again. */
static void conn_dead(struct loop *l, struct nconn *c)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_lock(&c->lock);
	c->dead = true;
	bool start = !c->busy;
	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	if (start)
		submit(l->net, c);
}

static void enqueue_frame(struct loop *l, struct nconn *c, struct frame *f)
{
	pthread_mutex_lock(&c->lock);
	if (c->q_tail)
		c->q_tail->next = f;
	else
		c->q_head = f;
	c->q_tail = f;
	c->q_bytes += f->len;
	if (c->q_bytes > INPUT_QUEUE_LIMIT && !c->paused) {
		c->paused = true;
		update_events(c);
	}
	bool start = !c->busy;
	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	if (start)
		submit(l->net, c);
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

/* Takes the complete frames out of the input buffer. A frame that does not fit in the buffer
 * becomes c->cur with what has arrived of it. Returns -1 on a malformed header. */
static int parse_input(struct loop *l, struct nconn *c)
{
	while (c->in_len - c->in_off >= 4) {
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
		enqueue_frame(l, c, f);
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

/* Reads what is available; returns -1 when the connection has ended. A read that leaves room
 * in the buffer has drained the socket: the loop is level-triggered, so it does not ask again
 * (one recv per small request instead of three). */
static int read_input_buffered(struct loop *l, struct nconn *c)
{
	if (!c->in) {
		c->in = malloc(INBUF_SIZE);
		if (!c->in)
			return -1;
	}
	size_t budget = READ_BUDGET;
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
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		if (c->cur) {
			c->cur_got += (size_t)r;
			if (c->cur_got == c->cur->len) {
				struct frame *f = c->cur;
				c->cur = NULL;
				enqueue_frame(l, c, f);
			}
		} else {
			c->in_len += (size_t)r;
			if (parse_input(l, c) < 0)
				return -1;
		}
		if ((size_t)r < want)
			return 0;
	}
	return 0;
}

/* The buffer is only kept while it holds part of a frame: an idle connection costs no more
 * than its objects (the memory workload of bench/run), and the allocation is a free-list hit. */
static int read_input(struct loop *l, struct nconn *c)
{
	int rc = read_input_buffered(l, c);
	if (c->in && c->in_len == 0) {
		free(c->in);
		c->in = NULL;
	}
	return rc;
}

static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
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
	time_t now = mono_now();
	if (now < l->next_sweep)
		return;
	l->next_sweep = now + SWEEP_MS / 1000;
	struct shoal_conf *conf = smb2_server_conf(l->net->srv);
	int limit = conf->handshake_timeout;
	conf_put(conf);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	struct nconn *c = l->conns;
	while (c) {
		struct nconn *next = c->next;
		if (limit > 0 && now - c->accepted >= limit && !atomic_load(&c->sc->authenticated)) {
			LOG_INFO(LOG_CORE, "%s: no session after %d s: disconnecting", c->sc->peer,
				 limit);
			conn_dead(l, c);
		} else if (smb2_torture_unacked_expired(c->sc, now_ms)) {
			LOG_INFO(LOG_CORE, "%s: oplock break not acknowledged: disconnecting",
				 c->sc->peer);
			conn_dead(l, c);
		}
		c = next;
	}
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
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			smb2_conn_free(c->sc);
			pthread_mutex_destroy(&c->lock);
			free(c);
			close(fd);
			continue;
		}
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		LOG_INFO(LOG_CORE, "connection from %s", peer);
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

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[64];
	for (;;) {
		int k = epoll_wait(l->epfd, evs, 64, SWEEP_MS);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERR(LOG_CORE, "epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < k; i++) {
			void *ptr = evs[i].data.ptr;
			int lfd;
			if (ptr == &l->stopfd)
				return NULL;
			if (is_listener(l->net, ptr, &lfd)) {
				accept_conns(l, lfd);
				continue;
			}
			struct nconn *c = ptr;
			uint32_t e = evs[i].events;
			if (e & EPOLLOUT) {
				pthread_mutex_lock(&c->lock);
				int rc = flush_locked(c);
				if (rc == 0 && !c->o_head && c->want_out) {
					c->want_out = false;
					update_events(c);
				}
				bool resume = rc == 0 && output_drained_locked(c);
				pthread_mutex_unlock(&c->lock);
				if (resume)
					submit(l->net, c);
				if (rc < 0) {
					conn_dead(l, c);
					continue;
				}
			}
			if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
				if (read_input(l, c) < 0)
					conn_dead(l, c);
			}
		}
		/* after the events: none of them may name a connection the sweep ends */
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
		    int nworkers, char *err, size_t errlen)
{
	struct net *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->srv = srv;
	n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&n->spare_lock, NULL);
	struct rlimit rl;
	n->fd_limit_conns = 512;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t half = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : rl.rlim_cur / 2;
		n->fd_limit_conns = half < 16 ? 16 : half > (1u << 20) ? (1 << 20) : (int)half;
	}
	pthread_mutex_init(&n->jlock, NULL);
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
	n->nworkers = nworkers > 0 ? nworkers : 2;
	n->loops = calloc((size_t)n->nloops, sizeof(*n->loops));
	n->workers = calloc((size_t)n->nworkers, sizeof(*n->workers));
	if (!n->loops || !n->workers) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n->nloops; i++) {
		struct loop *l = &n->loops[i];
		l->net = n;
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->epfd < 0 || l->stopfd < 0) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			goto fail;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->stopfd};
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev);
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
	for (int i = 0; i < n->nworkers; i++) {
		struct worker *w = &n->workers[i];
		w->net = n;
		if (sem_init(&w->wake, 0, 0) < 0 || pthread_create(&w->thread, NULL, worker_main, w))
			return -EAGAIN;
	}
	for (int i = 0; i < n->nloops; i++)
		if (pthread_create(&n->loops[i].thread, NULL, loop_main, &n->loops[i]))
			return -EAGAIN;
	n->started = true;
	return 0;
}

void net_stop(struct net *n)
{
	if (!n->started)
		return;
	for (int i = 0; i < n->nloops; i++) {
		uint64_t one = 1;
		ssize_t w = write(n->loops[i].stopfd, &one, sizeof(one));
		(void)w;
	}
	for (int i = 0; i < n->nloops; i++)
		pthread_join(n->loops[i].thread, NULL);
	/* the loops are gone: end the connections they owned through the workers */
	for (int i = 0; i < n->nloops; i++) {
		struct loop *l = &n->loops[i];
		while (l->conns) {
			struct nconn *c = l->conns;
			conn_dead(l, c);
		}
	}
	pthread_mutex_lock(&n->jlock);
	n->j_stop = true;
	while (n->idle) {
		struct worker *w = n->idle;
		n->idle = w->next_idle;
		sem_post(&w->wake);
	}
	pthread_mutex_unlock(&n->jlock);
	for (int i = 0; i < n->nworkers; i++)
		pthread_join(n->workers[i].thread, NULL);
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
			if (n->loops[i].epfd > 0)
				close(n->loops[i].epfd);
			if (n->loops[i].stopfd > 0)
				close(n->loops[i].stopfd);
		}
	free(n->loops);
	free(n->workers);
	pthread_mutex_destroy(&n->jlock);
	free(n);
}
