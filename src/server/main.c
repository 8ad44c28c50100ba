/* shoald: configuration, start-up, signals (SIGHUP reloads, SIGTERM/SIGINT stop), and the
 * embedded default configuration used when no -c is given. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/conf.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "mgmt/rest.h"
#include "server/net.h"
#include "smb2/smb2.h"

#define DEMO_USER "demo"
#define NOBODY 65534u

struct opts {
	const char *conf_path; /* NULL: embedded default */
	bool foreground;
	const char *debug_level;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shoald [-c CONFIG] [-F] [-d LEVEL]\n"
		   "  -c, --config FILE   smb.conf-style configuration (default: embedded demo\n"
		   "                      configuration serving ./run/share on 127.0.0.1:4445)\n"
		   "  -F, --foreground    do not detach; log to stderr unless 'log file' is set\n"
		   "  -d, --debuglevel L  override 'log level'\n");
}

/* The embedded default: a demo share and state under ./run of the current directory. */
static char *embedded_config(void)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	char *text = NULL;
	if (asprintf(&text,
		     "[global]\n"
		     "  smb ports = 4445\n"
		     "  interfaces = 127.0.0.1\n"
		     "  state directory = %s/run/state\n"
		     "  log level = 1\n"
		     "  server min protocol = SMB2_02\n"
		     "  server max protocol = SMB3_11\n"
		     "  server signing = auto\n"
		     "[share]\n"
		     "  path = %s/run/share\n"
		     "  read only = no\n"
		     "  comment = shoal demo share\n",
		     cwd, cwd) < 0)
		return NULL;
	return text;
}

static int load_conf(const struct opts *o, struct shoal_conf **out)
{
	char err[512] = "";
	int rc;
	if (o->conf_path) {
		rc = conf_load_file(o->conf_path, out, err, sizeof(err));
	} else {
		char *text = embedded_config();
		if (!text) {
			fprintf(stderr, "shoald: out of memory\n");
			return -ENOMEM;
		}
		rc = conf_load_string(text, "(embedded default)", out, err, sizeof(err));
		free(text);
	}
	if (rc < 0)
		fprintf(stderr, "shoald: %s\n", err[0] ? err : strerror(-rc));
	return rc;
}

static int apply_logging(const struct shoal_conf *conf, const struct opts *o)
{
	const char *lv = o->debug_level ? o->debug_level : conf->log_level;
	if (lv && log_parse_levels(lv) < 0) {
		fprintf(stderr, "shoald: invalid log level '%s'\n", lv);
		return -EINVAL;
	}
	if (conf->log_file) {
		int rc = log_set_file(conf->log_file);
		if (rc < 0) {
			fprintf(stderr, "shoald: log file %s: %s\n", conf->log_file, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* For the embedded default: the share folder and a demo user whose password is kept in
 * STATE/demo.password (0600) so every `make run` prints the same one. */
static int prepare_demo(const struct shoal_conf *conf, char *pw, size_t pwlen)
{
	const struct conf_share *sh = conf_find_share(conf, "share");
	uint32_t uid = getuid(), gid = getgid();
	if (geteuid() == 0)
		uid = gid = NOBODY; /* never serve files as root */
	if (sh) {
		mkdir_p(sh->path, 0755);
		if (geteuid() == 0 && chown(sh->path, uid, gid) < 0)
			fprintf(stderr, "shoald: chown %s: %s\n", sh->path, strerror(errno));
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/demo.password", conf->state_dir);
	mkdir_p(conf->state_dir, 0700);
	FILE *f = fopen(path, "r");
	if (f) {
		bool ok = fgets(pw, (int)pwlen, f) != NULL;
		fclose(f);
		pw[strcspn(pw, "\n")] = 0;
		struct userdb_entry e;
		struct userdb *db = userdb_open(conf->passdb);
		bool have = db && userdb_lookup(db, DEMO_USER, &e) == 0;
		if (db)
			userdb_close(db);
		if (ok && pw[0] && have)
			return 0;
	}
	static const char alnum[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t rnd[16];
	crypto_random(rnd, sizeof(rnd));
	size_t n = pwlen - 1 < sizeof(rnd) ? pwlen - 1 : sizeof(rnd);
	for (size_t i = 0; i < n; i++)
		pw[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	pw[n] = 0;
	userdb_del(conf->passdb, DEMO_USER);
	int rc = userdb_add(conf->passdb, DEMO_USER, pw, uid, gid);
	if (rc < 0) {
		fprintf(stderr, "shoald: cannot add the demo user: %s\n", strerror(-rc));
		return rc;
	}
	mode_t old = umask(077); /* the password file only: shared files keep the usual umask */
	f = fopen(path, "w");
	umask(old);
	if (f) {
		fprintf(f, "%s\n", pw);
		fclose(f);
	}
	return 0;
}

static void print_demo(const struct shoal_conf *conf, const char *pw)
{
	printf("shoald is serving [share] (%s) on 127.0.0.1 port %u\n"
	       "connect with:\n"
	       "  smbclient //127.0.0.1/share -p %u -U %s%%%s\n"
	       "(user '%s', password '%s', kept in %s/demo.password; Ctrl-C stops the server)\n",
	       conf_find_share(conf, "share") ? conf_find_share(conf, "share")->path : "?",
	       conf->ports[0], conf->ports[0], DEMO_USER, pw, DEMO_USER, pw, conf->state_dir);
	fflush(stdout);
}

static void reload(struct smb2_server *srv, const struct opts *o)
{
	struct shoal_conf *conf;
	if (load_conf(o, &conf) < 0) {
		LOG_ERR(LOG_CORE, "reload failed: keeping the running configuration");
		return;
	}
	const char *lv = o->debug_level ? o->debug_level : conf->log_level;
	if (lv)
		log_parse_levels(lv);
	smb2_server_set_conf(srv, conf);
	LOG_WARN(LOG_CORE, "configuration reloaded: %d shares", conf->nshares);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
					   {"foreground", no_argument, NULL, 'F'},
					   {"debuglevel", required_argument, NULL, 'd'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:Fd:hi", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->conf_path = optarg;
			break;
		case 'F':
		case 'i':
			o->foreground = true;
			break;
		case 'd':
			o->debug_level = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (!o->conf_path)
		o->foreground = true; /* the demo configuration always runs in the foreground */
	return 0;
}

static int serve(struct smb2_server *srv, struct net *net, const struct opts *o, int sfd)
{
	if (net_start(net) < 0) {
		LOG_ERR(LOG_CORE, "cannot start threads");
		return 1;
	}
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t r = read(sfd, &si, sizeof(si));
		if (r != sizeof(si)) {
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		if (si.ssi_signo == SIGHUP) {
			reload(srv, o);
			continue;
		}
		LOG_WARN(LOG_CORE, "signal %u: stopping", si.ssi_signo);
		break;
	}
	net_stop(net);
	return 0;
}

/* Every connection and every open file is a descriptor: take all the hard limit allows (the
 * soft limit is often 1024). "max connections" defaults to half of what this leaves. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			LOG_WARN(LOG_CORE, "cannot raise the descriptor limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	/* READ and WRITE move up to 8 MiB per request through buffers freed once the response is
	 * sent. By default glibc hands such chunks back to the kernel (munmap above the dynamic mmap
	 * threshold, madvise when it trims a worker thread's heap), so every request faulted its
	 * pages in again, which cost more server CPU than copying the data (docs/PERFORMANCE.md).
	 * Fixed thresholds keep freed memory in the heap for the next request. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	struct shoal_conf *conf;
	if (load_conf(&o, &conf) < 0 || apply_logging(conf, &o) < 0)
		return 1;
	char pw[32] = "";
	if (!o.conf_path && prepare_demo(conf, pw, sizeof(pw)) < 0)
		return 1;
	/* signals are taken synchronously by the main thread; every other thread blocks them */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	raise_fd_limit();
	char err[512];
	struct smb2_server *srv = smb2_server_new(conf, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "shoald: %s\n", err);
		return 1;
	}
	/* one loop per CPU this process may run on (taskset, cpusets), not per CPU of the machine:
	 * more loops and workers than CPUs only add wake-ups and lock hand-offs */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 0)
		ncpu = CPU_COUNT(&cpus);
	int nloops = ncpu > 0 ? (int)ncpu : 1;
	int nworkers = conf->worker_threads > 0 ? conf->worker_threads : 4 * nloops;
	struct net *net = net_new(srv, conf, nloops, nworkers, err, sizeof(err));
	if (!net) {
		fprintf(stderr, "shoald: %s\n", err);
		smb2_server_free(srv);
		return 1;
	}
	if (!o.conf_path)
		print_demo(conf, pw);
	explicit_bzero(pw, sizeof(pw));
	if (!o.foreground && daemon(1, conf->log_file ? 0 : 1) < 0) {
		fprintf(stderr, "shoald: daemon: %s\n", strerror(errno));
		return 1;
	}
	/* after daemon(): the listener's thread would not survive the fork */
	struct mgmt_rest *rest = mgmt_rest_start(srv, conf, err, sizeof(err));
	if (!rest && err[0]) {
		LOG_ERR(LOG_MGMT, "%s", err);
		fprintf(stderr, "shoald: %s\n", err);
		conf_put(conf);
		net_free(net);
		smb2_server_free(srv);
		return 1;
	}
	conf_put(conf);
	LOG_WARN(LOG_CORE, "shoald ready");
	int rc = serve(srv, net, &o, sfd);
	mgmt_rest_stop(rest); /* before the connections and the server it reads go away */
	net_free(net);
	smb2_server_free(srv);
	close(sfd);
	LOG_WARN(LOG_CORE, "shoald stopped");
	return rc;
}
