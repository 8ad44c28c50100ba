/* shoal-bench: the load generator of bench/run, built on shoal's client library
 * (include/shoal/smbclient.h). It drives any SMB2/3 server the same way, so bench/run points it at
 * shoald and at Samba's smbd in turn.
 *
 * Each client is a thread with its own connection (connected before the clock starts, except in
 * the connect workload, which times exactly that). The threads start together at a barrier; the
 * time reported runs from the barrier to the end of the last thread. With -P, the server's CPU
 * time over the same interval is read from /proc and reported too.
 *
 * Output: one line "ops=N bytes=N seconds=S server_cpu=S" on stdout; errors on stderr, exit 1.
 * See usage() for the workloads. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/ntstatus.h"
#include "shoal/smbclient.h"

#define GENERIC_READ_FILE 0x00120089u  /* FILE_GENERIC_READ */
#define GENERIC_WRITE_FILE 0x00120196u /* FILE_GENERIC_WRITE | READ_ATTRIBUTES */
#define DIR_LIST_ACCESS 0x00100081u    /* SYNCHRONIZE | FILE_LIST_DIRECTORY | READ_ATTRIBUTES */
#define FILE_ALL_INFORMATION 18

struct bench {
	struct smbc_opts o;
	const char *share;
	const char *cmd;
	int clients;
	uint64_t ops;	/* total operations, split over the clients */
	uint64_t size;	/* read/write: bytes */
	size_t chunk;	/* pipelined transfers: bytes per request */
	unsigned window; /* pipelined transfers: requests in flight */
	char **args;	 /* files or directories of the workload */
	int nargs;
	double limit;	/* -T: seconds after which the clients stop (0: none) */
	double deadline; /* when the clients stop (0: no limit) */
	int server_pid; /* -P: whose CPU time to report (0: none) */
	pthread_barrier_t ready, start; /* clients connected; the clock runs */
	struct timespec t0;
	volatile int failed;
};

struct client {
	struct bench *b;
	int id;
	uint64_t ops, bytes;
	struct smbc_conn *conn;
	struct smbc_tree *tree;
	pthread_t th;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("shoal-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- server CPU and memory from /proc ---------------------------------------------------- */

/* Fields of /proc/PID/stat after the command name: state is field 3, session 6, utime 14,
 * stime 15, cutime 16, cstime 17. */
static int read_stat(int pid, int *session, unsigned long long t[4])
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	int field = 2, got = 0;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		field++;
		if (field == 6)
			*session = atoi(tok);
		else if (field >= 14 && field <= 17) {
			t[field - 14] = strtoull(tok, NULL, 10);
			got++;
		}
		if (field == 17)
			break;
	}
	return got == 4 ? 0 : -1;
}

/* The processes of the server: pid alone, or, when pid leads a session (smbd started with
 * setsid), every process of that session (smbd forks one process per client). */
static int server_pids(int pid, int **out)
{
	int session = 0, n = 0, cap = 64;
	unsigned long long t[4];
	int *v = malloc(sizeof(int) * (size_t)cap);
	if (!v || read_stat(pid, &session, t))
		die("cannot read /proc/%d/stat", pid);
	v[n++] = pid;
	if (session == pid) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			int p = atoi(e->d_name), s = 0;
			if (p == pid || read_stat(p, &s, t) || s != session)
				continue;
			if (n == cap && !(v = realloc(v, sizeof(int) * (size_t)(cap *= 2))))
				die("out of memory");
			v[n++] = p;
		}
		if (d)
			closedir(d);
	}
	*out = v;
	return n;
}

/* CPU seconds of the server so far, children that ended included (their time is in the
 * cutime/cstime of the process that reaped them). */
static double server_cpu(int pid)
{
	int *pids, n = server_pids(pid, &pids), s;
	unsigned long long sum = 0, t[4];
	for (int i = 0; i < n; i++)
		if (!read_stat(pids[i], &s, t))
			sum += t[0] + t[1] + t[2] + t[3];
	free(pids);
	return (double)sum / (double)sysconf(_SC_CLK_TCK);
}

/* KiB of Rss, Pss and private (USS) memory of the server's processes. */
static void server_mem(int pid, unsigned long long kib[3])
{
	int *pids, n = server_pids(pid, &pids);
	kib[0] = kib[1] = kib[2] = 0;
	for (int i = 0; i < n; i++) {
		char path[64], line[256];
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		unsigned long long v;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Rss: %llu", &v) == 1)
				kib[0] += v;
			else if (sscanf(line, "Pss: %llu", &v) == 1)
				kib[1] += v;
			else if (sscanf(line, "Private_Clean: %llu", &v) == 1 ||
				 sscanf(line, "Private_Dirty: %llu", &v) == 1)
				kib[2] += v;
		}
		fclose(f);
	}
	free(pids);
}

/* ---- connections ------------------------------------------------------------------------- */

static uint32_t connect_tree(struct bench *b, struct smbc_conn **c, struct smbc_tree **t)
{
	char err[256];
	uint32_t st = smbc_connect(&b->o, c, err, sizeof(err));
	if (st) {
		fprintf(stderr, "shoal-bench: connect: %s %s\n", ntstatus_name(st), err);
		return st;
	}
	st = smbc_tree_connect(*c, b->share, t);
	if (st) {
		fprintf(stderr, "shoal-bench: tree connect %s: %s\n", b->share, ntstatus_name(st));
		smbc_disconnect(*c);
		*c = NULL;
	}
	return st;
}

static void client_fail(struct client *cl, const char *what, uint32_t st)
{
	fprintf(stderr, "shoal-bench: client %d: %s: %s\n", cl->id, what, ntstatus_name(st));
	cl->b->failed = 1;
}

static uint32_t open_file(struct smbc_tree *t, const char *path, uint32_t access, uint32_t disp,
			  uint32_t options, struct smbc_file **f, struct smbc_create_result *r)
{
	struct smbc_create_args a = {.access = access, .disposition = disp, .options = options};
	return smbc_create(t, path, &a, f, r);
}

/* ---- workloads: each runs in a client thread after the barrier --------------------------- */

static int sink_discard(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
	return 0;
}

static uint8_t pattern[8 << 20];

static long source_pattern(void *arg, uint64_t off, uint8_t *buf, size_t len)
{
	size_t at = (size_t)(off % (sizeof(pattern) / 2));
	memcpy(buf, pattern + at, len); /* len <= 4 MiB: the pattern is twice as long */
	return (long)len;
}

static void w_get(struct client *cl, const char *path)
{
	struct bench *b = cl->b;
	struct smbc_file *f;
	struct smbc_create_result r;
	uint32_t st = open_file(cl->tree, path, GENERIC_READ_FILE, 1, SMBC_FILE_NON_DIRECTORY_FILE,
				&f, &r);
	if (st)
		return client_fail(cl, path, st);
	uint64_t size = b->size && b->size < r.st.size ? b->size : r.st.size;
	struct smbc_xfer x = {.chunk = b->chunk, .window = b->window};
	uint64_t done = 0;
	st = smbc_get(f, size, &x, sink_discard, &done);
	uint32_t cst = smbc_close(f);
	if (st || cst || done != size)
		return client_fail(cl, "read", st ? st : cst ? cst : STATUS_END_OF_FILE);
	cl->bytes += done;
	cl->ops++;
}

static void w_put(struct client *cl, const char *path)
{
	struct bench *b = cl->b;
	struct smbc_file *f;
	uint32_t st = open_file(cl->tree, path, GENERIC_WRITE_FILE, 5 /* OVERWRITE_IF */,
				SMBC_FILE_NON_DIRECTORY_FILE, &f, NULL);
	if (st)
		return client_fail(cl, path, st);
	struct smbc_xfer x = {.chunk = b->chunk, .window = b->window};
	uint64_t done = 0;
	st = smbc_put(f, b->size, &x, source_pattern, &done);
	uint32_t cst = smbc_close(f);
	if (st || cst || done != b->size)
		return client_fail(cl, "write", st ? st : cst);
	cl->bytes += done;
	cl->ops++;
}

/* Whether a client goes on: neither failed nor past the time limit. */
static bool more(const struct bench *b)
{
	return !b->failed && (b->deadline == 0 || now() < b->deadline);
}

static uint64_t quota(struct client *cl)
{
	struct bench *b = cl->b;
	uint64_t q = b->ops / (uint64_t)b->clients;
	return q + ((uint64_t)cl->id < b->ops % (uint64_t)b->clients ? 1 : 0);
}

static void w_connect(struct client *cl)
{
	for (uint64_t i = quota(cl); i > 0 && more(cl->b); i--) {
		struct smbc_conn *c;
		struct smbc_tree *t;
		uint32_t st = connect_tree(cl->b, &c, &t);
		if (st)
			return client_fail(cl, "connect", st);
		st = smbc_tree_disconnect(t);
		smbc_disconnect(c);
		if (st)
			return client_fail(cl, "tree disconnect", st);
		cl->ops++;
	}
}

/* create a new file (in DIR, a folder of its own per client), write 4 KiB, close */
static void w_create(struct client *cl)
{
	struct bench *b = cl->b;
	char path[512];
	for (uint64_t i = 0, n = quota(cl); i < n && more(b); i++) {
		snprintf(path, sizeof(path), "%s\\c%d\\f%" PRIu64, b->args[0], cl->id, i);
		struct smbc_file *f;
		uint32_t st = open_file(cl->tree, path, GENERIC_WRITE_FILE, 2 /* CREATE */,
					SMBC_FILE_NON_DIRECTORY_FILE, &f, NULL);
		if (st)
			return client_fail(cl, path, st);
		size_t done = 0;
		st = smbc_write(f, 0, pattern, 4096, &done);
		uint32_t cst = smbc_close(f);
		if (st || cst || done != 4096)
			return client_fail(cl, "write 4 KiB", st ? st : cst);
		cl->ops++;
		cl->bytes += done;
	}
}

/* open an existing file and close it; client i uses the files i, i + clients, ... in turn */
static void w_openclose(struct client *cl)
{
	struct bench *b = cl->b;
	for (uint64_t i = 0, n = quota(cl); i < n && more(b); i++) {
		const char *path = b->args[((uint64_t)cl->id + i * (uint64_t)b->clients) %
					   (uint64_t)b->nargs];
		struct smbc_file *f;
		uint32_t st = open_file(cl->tree, path, GENERIC_READ_FILE, 1,
					SMBC_FILE_NON_DIRECTORY_FILE, &f, NULL);
		if (st)
			return client_fail(cl, path, st);
		st = smbc_close(f);
		if (st)
			return client_fail(cl, "close", st);
		cl->ops++;
	}
}

/* QUERY_INFO FileAllInformation on an open handle: what a client's stat of an open file costs */
static void w_stat(struct client *cl)
{
	struct bench *b = cl->b;
	const char *path = b->args[cl->id % b->nargs];
	struct smbc_file *f;
	uint32_t st = open_file(cl->tree, path, GENERIC_READ_FILE, 1, SMBC_FILE_NON_DIRECTORY_FILE,
				&f, NULL);
	if (st)
		return client_fail(cl, path, st);
	for (uint64_t i = 0, n = quota(cl); i < n && more(b); i++) {
		struct smbc_stat s;
		st = smbc_stat_file(f, &s);
		if (st) {
			client_fail(cl, "query info", st);
			break;
		}
		cl->ops++;
	}
	smbc_close(f);
}

/* open a directory, read all of its entries, close */
static void w_list(struct client *cl)
{
	struct bench *b = cl->b;
	for (uint64_t i = 0, n = quota(cl); i < n && more(b); i++) {
		struct smbc_file *d;
		uint32_t st = open_file(cl->tree, b->args[0], DIR_LIST_ACCESS, 1,
					SMBC_FILE_DIRECTORY_FILE, &d, NULL);
		if (st)
			return client_fail(cl, b->args[0], st);
		struct smbc_dirent *e;
		size_t count = 0;
		st = smbc_list(d, "*", &e, &count);
		uint32_t cst = smbc_close(d);
		if (st || cst)
			return client_fail(cl, "list", st ? st : cst);
		smbc_dirents_free(e, count);
		cl->ops++;
		cl->bytes += count; /* entries, for the record */
	}
}

/* the files of the arguments, client i reading i, i + clients, ... */
static void w_scale(struct client *cl)
{
	for (int i = cl->id; i < cl->b->nargs && !cl->b->failed; i += cl->b->clients)
		w_get(cl, cl->b->args[i]);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct bench *b = cl->b;
	bool connect = strcmp(b->cmd, "connect") != 0;
	if (connect && connect_tree(b, &cl->conn, &cl->tree))
		b->failed = 1;
	pthread_barrier_wait(&b->ready);
	pthread_barrier_wait(&b->start);
	if (!b->failed) {
		if (!strcmp(b->cmd, "read"))
			w_get(cl, b->args[0]);
		else if (!strcmp(b->cmd, "write"))
			w_put(cl, b->args[0]);
		else if (!strcmp(b->cmd, "connect"))
			w_connect(cl);
		else if (!strcmp(b->cmd, "create"))
			w_create(cl);
		else if (!strcmp(b->cmd, "openclose"))
			w_openclose(cl);
		else if (!strcmp(b->cmd, "stat"))
			w_stat(cl);
		else if (!strcmp(b->cmd, "list"))
			w_list(cl);
		else if (!strcmp(b->cmd, "scale"))
			w_scale(cl);
	}
	return NULL;
}

/* ---- idle connections (memory) ----------------------------------------------------------- */

/* Opens n authenticated, tree-connected connections, prints "ready", and holds them until stdin
 * ends. The connections are not polled meanwhile: they are idle. */
static int run_idle(struct bench *b)
{
	struct smbc_conn **c = calloc((size_t)b->clients, sizeof(*c));
	struct smbc_tree **t = calloc((size_t)b->clients, sizeof(*t));
	if (!c || !t)
		die("out of memory");
	double t0 = now();
	for (int i = 0; i < b->clients; i++)
		if (connect_tree(b, &c[i], &t[i]))
			die("connection %d of %d failed", i + 1, b->clients);
	printf("ready connections=%d seconds=%.3f\n", b->clients, now() - t0);
	fflush(stdout);
	char buf[64];
	while (fread(buf, 1, sizeof(buf), stdin) > 0)
		;
	for (int i = 0; i < b->clients; i++)
		smbc_conn_free(c[i]);
	free(c);
	free(t);
	return 0;
}

/* ---- the write floor: what any server pays to take a write off loopback TCP into the file
 * system, with no SMB at all (bench/run prints it next to the write ratios) ---- */

static int loopback_socket(int port, bool listening)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (listening) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0)
			die("listen: %s", strerror(errno));
		return fd;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to port %d: %s", port, strerror(errno));
	return fd;
}

static double own_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Moves size bytes from socket s into fd at increasing offsets, chunk at a time: recv into a
 * buffer, pwrite (what a server does). */
static void floor_copy(int s, int fd, uint64_t size, size_t chunk)
{
	uint8_t *buf = malloc(chunk);
	if (!buf)
		die("out of memory");
	for (uint64_t done = 0; done < size;) {
		size_t want = size - done < chunk ? (size_t)(size - done) : chunk;
		ssize_t r = recv(s, buf, want, MSG_WAITALL);
		if (r <= 0)
			die("recv: %s", r ? strerror(errno) : "the sender went away");
		if (pwrite(fd, buf, (size_t)r, (off_t)done) != r)
			die("pwrite: %s", strerror(errno));
		done += (uint64_t)r;
	}
	free(buf);
}

/* The same through a pipe with splice (socket to pipe to file, no user-space buffer). */
static void floor_splice(int s, int fd, uint64_t size, size_t chunk)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	fcntl(p[1], F_SETPIPE_SZ, (int)chunk);
	for (uint64_t done = 0; done < size;) {
		size_t want = size - done < chunk ? (size_t)(size - done) : chunk;
		ssize_t r = splice(s, NULL, p[1], NULL, want, SPLICE_F_MOVE);
		if (r <= 0)
			die("splice: %s", r ? strerror(errno) : "the sender went away");
		loff_t off = (loff_t)done;
		for (ssize_t left = r; left > 0;) {
			ssize_t w = splice(p[0], NULL, fd, &off, (size_t)left, SPLICE_F_MOVE);
			if (w <= 0)
				die("splice into the file: %s",
				    w ? strerror(errno) : "no progress");
			left -= w;
		}
		done += (uint64_t)r;
	}
	close(p[0]);
	close(p[1]);
}

/* floor-recv FILE [splice]: prints "port=N", takes one connection, truncates FILE (as
 * OVERWRITE_IF does) and writes the -S bytes it receives into it (floor_copy, or floor_splice).
 * Reports its own CPU time as server_cpu. */
static int run_floor_recv(struct bench *b)
{
	int l = loopback_socket(0, true);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	if (getsockname(l, (struct sockaddr *)&a, &al) < 0)
		die("getsockname: %s", strerror(errno));
	printf("port=%d\n", ntohs(a.sin_port));
	fflush(stdout);
	int s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept: %s", strerror(errno));
	int fd = open(b->args[0], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", b->args[0], strerror(errno));
	double cpu0 = own_cpu(), t0 = now();
	if (ftruncate(fd, 0) < 0)
		die("ftruncate: %s", strerror(errno));
	if (b->nargs > 1 && !strcmp(b->args[1], "splice"))
		floor_splice(s, fd, b->size, b->chunk);
	else
		floor_copy(s, fd, b->size, b->chunk);
	double secs = now() - t0, cpu = own_cpu() - cpu0;
	if (send(s, "k", 1, MSG_NOSIGNAL) != 1)
		die("send: %s", strerror(errno));
	close(fd);
	close(s);
	close(l);
	printf("ops=1 bytes=%" PRIu64 " seconds=%.6f server_cpu=%.2f\n", b->size, secs, cpu);
	return 0;
}

/* floor-send PORT: sends -S bytes to floor-recv in -c pieces, waits for its acknowledgement. */
static int run_floor_send(struct bench *b)
{
	int s = loopback_socket(atoi(b->args[0]), false);
	uint64_t done = 0;
	while (done < b->size) {
		size_t want = b->size - done < b->chunk ? (size_t)(b->size - done) : b->chunk;
		if (want > sizeof(pattern))
			want = sizeof(pattern);
		ssize_t w = send(s, pattern, want, MSG_NOSIGNAL);
		if (w <= 0)
			die("send: %s", strerror(errno));
		done += (uint64_t)w;
	}
	char k;
	if (recv(s, &k, 1, 0) != 1)
		die("no acknowledgement from floor-recv");
	close(s);
	return 0;
}

static void usage(void)
{
	fputs("usage: shoal-bench [OPTIONS] WORKLOAD [ARG...]\n"
	      "workloads (paths are relative to the share, '\\' or '/'):\n"
	      "  read FILE        pipelined read of FILE (or its first -S bytes)\n"
	      "  write FILE       pipelined write of -S bytes to FILE\n"
	      "  connect          -N times: connect, NTLMv2 session setup, tree connect, disconnect\n"
	      "  create DIR       -N times: create DIR\\c<client>\\f<n>, write 4 KiB, close (the\n"
	      "                   folders DIR\\c0.. must exist)\n"
	      "  openclose FILE.. -N times: open an existing file, close\n"
	      "  stat FILE..      -N times: QUERY_INFO FileAllInformation on an open handle\n"
	      "  list DIR         -N times: open DIR, read every entry, close\n"
	      "  scale FILE..     read every FILE once, client i reading i, i+n, ...\n"
	      "  idle             open -n connections, print \"ready\", hold them until stdin ends\n"
	      "  floor-recv FILE [splice]\n"
	      "                   no SMB: print \"port=N\", take one TCP connection and write the -S\n"
	      "                   bytes it sends into FILE (truncated first) with recv + pwrite (or\n"
	      "                   splice through a pipe); server_cpu is its own CPU time (the least\n"
	      "                   any server pays)\n"
	      "  floor-send PORT  send -S bytes to floor-recv on PORT\n"
	      "  cpu PID          print the CPU seconds of the server PID (its session if it leads one)\n"
	      "  mem PID          print rss= pss= uss= KiB of the server PID (idem)\n"
	      "options:\n"
	      "  -H HOST -p PORT -s SHARE -U USER%PASS   the server (default 127.0.0.1 445)\n"
	      "  -m MODE          plain | sign-cmac | sign-gmac | sign-hmac | enc-gcm128 | enc-ccm128\n"
	      "                   | enc-gcm256 | enc-ccm256 (default plain)\n"
	      "  -n CLIENTS       concurrent clients, one connection each (default 1)\n"
	      "  -N OPS           operations in all, split over the clients (default 1000)\n"
	      "  -T SECONDS       instead of -N: each client goes on until SECONDS have passed (an\n"
	      "                   operation under way is finished)\n"
	      "  -S SIZE          bytes for read/write (suffix K, M, G)\n"
	      "  -c CHUNK -w WIN  pipelined transfers: bytes per request (1M) and requests in flight (16)\n"
	      "  -P PID           also report the CPU time the server PID used while the clock ran\n",
	      stderr);
	exit(2);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'G':
		v <<= 10; /* fall through */
	case 'M':
		v <<= 10; /* fall through */
	case 'K':
		v <<= 10;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		die("bad size '%s'", s);
	return v;
}

static void set_mode(struct smbc_opts *o, const char *m)
{
	static const struct {
		const char *name;
		int sign;	 /* signing algorithm, -1 none */
		uint16_t cipher; /* 0 none */
	} modes[] = {
	    {"plain", -1, 0},
	    {"sign-hmac", 0, 0},
	    {"sign-cmac", 1, 0},
	    {"sign-gmac", 2, 0},
	    {"enc-ccm128", -1, SMBC_CIPHER_AES128_CCM},
	    {"enc-gcm128", -1, SMBC_CIPHER_AES128_GCM},
	    {"enc-ccm256", -1, SMBC_CIPHER_AES256_CCM},
	    {"enc-gcm256", -1, SMBC_CIPHER_AES256_GCM},
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(m, modes[i].name))
			continue;
		o->sign_only_when_required = true;
		o->encrypt_enabled = modes[i].cipher != 0;
		o->encrypt_required = modes[i].cipher != 0;
		o->ciphers[0] = modes[i].cipher;
		if (modes[i].sign >= 0) {
			o->signing_required = true;
			o->nsign_algs = 1;
			o->sign_algs[0] = (uint16_t)modes[i].sign;
		}
		return;
	}
	die("unknown mode '%s'", m);
}

/* Options (see usage) into b, defaults first; returns the index of the workload argument. */
static int parse_options(struct bench *b, int argc, char **argv)
{
	int opt;
	smbc_opts_init(&b->o);
	b->o.host = "127.0.0.1";
	b->o.timeout_ms = 120000;
	b->share = "bench";
	b->clients = 1;
	b->ops = 1000;
	b->window = 16;
	b->chunk = 1 << 20;
	set_mode(&b->o, "plain");
	while ((opt = getopt(argc, argv, "H:p:s:U:m:n:N:S:c:w:P:T:h")) != -1) {
		switch (opt) {
		case 'H':
			b->o.host = optarg;
			break;
		case 'p':
			b->o.port = (uint16_t)atoi(optarg);
			break;
		case 's':
			b->share = optarg;
			break;
		case 'U': {
			char *pc = strchr(optarg, '%');
			if (pc)
				*pc++ = 0;
			b->o.user = optarg;
			b->o.password = pc ? pc : "";
			break;
		}
		case 'm':
			set_mode(&b->o, optarg);
			break;
		case 'n':
			b->clients = atoi(optarg);
			break;
		case 'N':
			b->ops = parse_size(optarg);
			break;
		case 'S':
			b->size = parse_size(optarg);
			break;
		case 'c':
			b->chunk = (size_t)parse_size(optarg);
			break;
		case 'w':
			b->window = (unsigned)atoi(optarg);
			break;
		case 'P':
			b->server_pid = atoi(optarg);
			break;
		case 'T':
			b->limit = atof(optarg);
			b->ops = UINT64_MAX / 2;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || b->clients < 1 || b->chunk < 4096 || b->chunk > (4u << 20) ||
	    !b->window)
		usage();
	return optind;
}

int main(int argc, char **argv)
{
	static struct bench b;
	int first = parse_options(&b, argc, argv);
	b.cmd = argv[first];
	b.args = argv + first + 1;
	b.nargs = argc - first - 1;
	if (!strcmp(b.cmd, "cpu") || !strcmp(b.cmd, "mem")) {
		if (b.nargs != 1)
			usage();
		int pid = atoi(b.args[0]);
		if (!strcmp(b.cmd, "cpu")) {
			printf("%.2f\n", server_cpu(pid));
		} else {
			unsigned long long k[3];
			server_mem(pid, k);
			printf("rss=%llu pss=%llu uss=%llu\n", k[0], k[1], k[2]);
		}
		return 0;
	}
	static const char *const known[] = {"read",	 "write", "connect", "create", "openclose",
					    "stat",	 "list",  "scale",   "idle",   "floor-recv",
					    "floor-send"};
	static const int min_args[] = {1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1};
	size_t k = 0;
	while (k < sizeof(known) / sizeof(known[0]) && strcmp(known[k], b.cmd))
		k++;
	if (k == sizeof(known) / sizeof(known[0]) || b.nargs < min_args[k])
		usage();
	if ((!strcmp(b.cmd, "write") || !strncmp(b.cmd, "floor-", 6)) && !b.size)
		die("%s needs -S SIZE", b.cmd);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 2654435761u >> 24);
	/* one socket per client; idle wants a thousand or more */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!strcmp(b.cmd, "idle"))
		return run_idle(&b);
	if (!strcmp(b.cmd, "floor-recv"))
		return run_floor_recv(&b);
	if (!strcmp(b.cmd, "floor-send"))
		return run_floor_send(&b);

	struct client *cl = calloc((size_t)b.clients, sizeof(*cl));
	if (!cl || pthread_barrier_init(&b.ready, NULL, (unsigned)b.clients + 1) ||
	    pthread_barrier_init(&b.start, NULL, (unsigned)b.clients + 1))
		die("out of memory");
	for (int i = 0; i < b.clients; i++) {
		cl[i].b = &b;
		cl[i].id = i;
		if (pthread_create(&cl[i].th, NULL, client_main, &cl[i]))
			die("cannot start client thread %d", i);
	}
	pthread_barrier_wait(&b.ready);
	double cpu0 = b.server_pid ? server_cpu(b.server_pid) : 0;
	double t0 = now();
	b.deadline = b.limit > 0 ? t0 + b.limit : 0;
	pthread_barrier_wait(&b.start);
	uint64_t ops = 0, bytes = 0;
	for (int i = 0; i < b.clients; i++) {
		pthread_join(cl[i].th, NULL);
		ops += cl[i].ops;
		bytes += cl[i].bytes;
	}
	double secs = now() - t0;
	double cpu = b.server_pid ? server_cpu(b.server_pid) - cpu0 : 0;
	for (int i = 0; i < b.clients; i++)
		if (cl[i].conn) {
			if (cl[i].tree)
				smbc_tree_disconnect(cl[i].tree);
			smbc_disconnect(cl[i].conn);
		}
	free(cl);
	if (b.failed)
		return 1;
	printf("ops=%" PRIu64 " bytes=%" PRIu64 " seconds=%.6f server_cpu=%.2f\n", ops, bytes, secs,
	       cpu);
	return 0;
}
