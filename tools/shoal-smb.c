/* shoal-smb: an SMB2/3 client for administrators, over the client library (src/client).
 * Exit status: 0 success, 1 the server or the connection failed (the message names the
 * NTSTATUS), 2 usage or local errors. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "lib/ntime.h"
#include "lib/ntstatus.h"
#include "shoal/smbclient.h"

#define EXIT_STATUS 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: shoal-smb [-c FILE] [-o NAME=VALUE]... [-U USER[%PASS]] [-W DOMAIN] [-p PORT]\n"
    "                 [-A|--authentication-file FILE] [-N] [-v] COMMAND ARGS\n"
    "\n"
    "commands:\n"
    "  ls //HOST/SHARE[/PATH]          list a directory\n"
    "  get //HOST/SHARE/PATH [LOCAL]   download (pipelined reads)\n"
    "  put LOCAL //HOST/SHARE/PATH     upload (pipelined writes); replaces the file\n"
    "  rm //HOST/SHARE/PATH            delete a file\n"
    "  mkdir //HOST/SHARE/PATH         create a directory\n"
    "  rmdir //HOST/SHARE/PATH         delete an empty directory\n"
    "  stat //HOST/SHARE/PATH          show size, times and attributes\n"
    "  shares //HOST                   list shares (srvsvc NetShareEnumAll)\n"
    "  openpipe //HOST/PIPENAME        open a pipe on IPC$ and bind its interface if known\n"
    "                                  (netlogon, lsarpc, samr, srvsvc); prints dialect, cipher,\n"
    "                                  signing and the bind result\n"
    "  openfile //HOST/SHARE/PATH      open a file and print the create response\n"
    "\n"
    "options:\n"
    "  -c FILE       configuration file; its [client] section sets the settings below\n"
    "  -o NAME=VALUE a setting (repeatable; overrides the file):\n"
    "      Smb3EncryptionEnabled=1|0     encrypt when the server offers or asks (default 1)\n"
    "      Smb3EncryptionRequired=0|1    refuse a server or share that cannot encrypt (default 0)\n"
    "      MaxSmb2DialectVersion=V       max (= 3.1.1, default), 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1\n"
    "      Smb3EncryptionAlgorithms=L    cipher order offered, e.g. AES-256-GCM,AES-128-CCM\n"
    "                                    (AES-128-CCM, AES-128-GCM, AES-256-CCM, AES-256-GCM)\n"
    "      SigningRequired=0|1           refuse unsigned sessions (default 0)\n"
    "  -U USER[%PASS] user (DOMAIN\\USER or USER@DOMAIN also accepted); without a password it\n"
    "                is taken from $PASSWD or asked for on the terminal\n"
    "  -W DOMAIN     domain of the user\n"
    "  -A, --authentication-file FILE\n"
    "                smbclient format: username = , password = , domain = \n"
    "  -N            no password (anonymous when no user either)\n"
    "  -p PORT       TCP port (default 445)\n"
    "  -v            print the dialect, cipher and transfer rates to stderr\n"
    "  -d LEVEL      log level, smb.conf syntax (\"10\" or \"1 client:10\")\n"
    "\n"
    "get and put show a progress bar on a terminal. Errors name the NTSTATUS, e.g.\n"
    "  shoal-smb: get //h/s/x: STATUS_OBJECT_NAME_NOT_FOUND\n";

struct cli {
	struct smbc_opts o;
	char *user, *pass, *domain;
	bool no_pass, verbose;
	const char *cmd;
	char *url;
	char *host, *share, *path;
};

static void die_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "shoal-smb: %s\n", msg);
	fputs("Try 'shoal-smb --help'.\n", stderr);
	exit(EXIT_USAGE);
}

static int fail_status(struct cli *c, uint32_t st, const char *detail)
{
	bool d = detail && *detail;
	fprintf(stderr, "shoal-smb: %s %s: %s%s%s%s\n", c->cmd, c->url ? c->url : "",
		ntstatus_name(st), d ? " (" : "", d ? detail : "", d ? ")" : "");
	return EXIT_STATUS;
}

/* ---- credentials ---- */

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	if (!*dst) {
		perror("shoal-smb");
		exit(EXIT_USAGE);
	}
}

static void set_user(struct cli *c, const char *arg)
{
	char *u = strdup(arg);
	if (!u)
		exit(EXIT_USAGE);
	char *pc = strchr(u, '%');
	if (pc) {
		*pc = 0;
		set_str(&c->pass, pc + 1);
	}
	char *bs = strchr(u, '\\'), *at = strchr(u, '@');
	if (bs) {
		*bs = 0;
		set_str(&c->domain, u);
		set_str(&c->user, bs + 1);
	} else if (at) {
		*at = 0;
		set_str(&c->domain, at + 1);
		set_str(&c->user, u);
	} else {
		set_str(&c->user, u);
	}
	explicit_bzero(u, strlen(arg));
	free(u);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static void read_auth_file(struct cli *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	if (!f) {
		fprintf(stderr, "shoal-smb: %s: %s\n", path, strerror(errno));
		exit(EXIT_USAGE);
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		char *k = trim(line), *v = trim(eq + 1);
		if (!strcasecmp(k, "username"))
			set_user(c, v);
		else if (!strcasecmp(k, "password"))
			set_str(&c->pass, v);
		else if (!strcasecmp(k, "domain"))
			set_str(&c->domain, v);
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
}

static void prompt_password(struct cli *c)
{
	const char *env = getenv("PASSWD");
	if (env) {
		set_str(&c->pass, env);
		return;
	}
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty || !isatty(fileno(tty))) {
		if (tty)
			fclose(tty);
		set_str(&c->pass, "");
		return;
	}
	struct termios old, quiet;
	char buf[512] = "";
	fprintf(tty, "Password for %s: ", c->user);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	if (!fgets(buf, sizeof(buf), tty))
		buf[0] = 0;
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	buf[strcspn(buf, "\r\n")] = 0;
	set_str(&c->pass, buf);
	explicit_bzero(buf, sizeof(buf));
}

/* ---- settings ---- */

static void load_config(struct cli *c, const char *path)
{
	struct shoal_conf *conf = NULL;
	char err[512];
	if (conf_load_file(path, &conf, err, sizeof(err))) {
		fprintf(stderr, "shoal-smb: %s\n", err);
		exit(EXIT_USAGE);
	}
	c->o.encrypt_enabled = conf->client.encryption_enabled;
	c->o.encrypt_required = conf->client.encryption_required;
	c->o.max_dialect = conf->client.max_dialect;
	conf_put(conf);
}

static void set_option(struct cli *c, const char *arg)
{
	char name[128];
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name))
		die_usage("-o wants NAME=VALUE");
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = 0;
	int rc = smbc_opts_set(&c->o, name, eq + 1);
	if (rc == -ENOENT) {
		fprintf(stderr, "shoal-smb: unknown setting '%s'\n", name);
		die_usage(NULL);
	}
	if (rc) {
		fprintf(stderr, "shoal-smb: invalid value '%s' for %s\n", eq + 1, name);
		die_usage(NULL);
	}
}

/* //host/share/path, \\host\share\path or smb://host/share/path. */
static void parse_url(struct cli *c, const char *url, bool need_share, bool need_path)
{
	char *u = strdup(url);
	if (!u)
		exit(EXIT_USAGE);
	for (char *q = u; *q; q++)
		if (*q == '\\')
			*q = '/';
	char *s = u;
	if (!strncasecmp(s, "smb:", 4))
		s += 4;
	if (strncmp(s, "//", 2))
		die_usage("a path is //HOST/SHARE[/PATH]");
	s += 2;
	char *sl = strchr(s, '/');
	if (sl)
		*sl++ = 0;
	c->host = strdup(s);
	char *share = sl && *sl ? sl : NULL;
	char *path = NULL;
	if (share && (path = strchr(share, '/')))
		*path++ = 0;
	c->share = strdup(share ? share : "");
	c->path = strdup(path ? path : "");
	free(u);
	if (!c->host || !c->share || !c->path)
		exit(EXIT_USAGE);
	if (!*c->host || (need_share && !*c->share) || (need_path && !*c->path))
		die_usage(need_path ? "a path is //HOST/SHARE/PATH" : "a path is //HOST/SHARE");
	c->o.host = c->host;
}

/* ---- connection ---- */

static uint32_t open_conn(struct cli *c, struct smbc_conn **conn)
{
	char err[256];
	if (c->user && !c->pass && !c->no_pass)
		prompt_password(c);
	c->o.user = c->user ? c->user : "";
	c->o.password = c->pass ? c->pass : "";
	c->o.domain = c->domain ? c->domain : "";
	uint32_t st = smbc_connect(&c->o, conn, err, sizeof(err));
	if (st) {
		fail_status(c, st, err);
		return st;
	}
	if (c->verbose) {
		struct smbc_info i;
		smbc_conn_info(*conn, &i);
		fprintf(stderr, "dialect %s, cipher %s, signing %s, max read %u, max write %u\n",
			smbc_dialect_name(i.dialect), smbc_cipher_name(i.cipher), i.sign_alg,
			i.max_read, i.max_write);
	}
	return STATUS_SUCCESS;
}

static uint32_t open_tree(struct cli *c, struct smbc_conn **conn, struct smbc_tree **tree)
{
	uint32_t st = open_conn(c, conn);
	if (st)
		return st;
	st = smbc_tree_connect(*conn, c->share, tree);
	if (st) {
		fail_status(c, st, smbc_conn_error(*conn));
		smbc_disconnect(*conn);
		*conn = NULL;
	}
	return st;
}

static uint32_t open_path(struct smbc_tree *t, const char *path, uint32_t access, uint32_t disp,
			  uint32_t options, struct smbc_file **f)
{
	struct smbc_create_args a = {.access = access, .disposition = disp, .options = options};
	return smbc_create(t, path, &a, f, NULL);
}

/* ---- output helpers ---- */

static void fmt_time(uint64_t nt, char *buf, size_t len)
{
	struct timespec ts = nttime_to_timespec(nt);
	struct tm tm;
	time_t t = ts.tv_sec;
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void fmt_attrs(uint32_t a, char *buf)
{
	static const struct {
		uint32_t bit;
		char ch;
	} m[] = {{0x10, 'D'}, {0x20, 'A'}, {0x02, 'H'}, {0x04, 'S'}, {0x01, 'R'}};
	int n = 0;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (a & m[i].bit)
			buf[n++] = m[i].ch;
	if (!n)
		buf[n++] = 'N';
	buf[n] = 0;
}

/* ---- progress ---- */

struct progress {
	bool on;
	uint64_t total;
	struct timespec start;
	int fd; /* local file */
	long long last_ms;
};

static double elapsed(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void show_progress(void *arg, uint64_t done)
{
	struct progress *p = arg;
	if (!p->on)
		return;
	double t = elapsed(&p->start);
	long long ms = (long long)(t * 1000);
	if (ms - p->last_ms < 100 && done < p->total)
		return;
	p->last_ms = ms;
	int pct = p->total ? (int)(done * 100 / p->total) : 100;
	int bar = pct * 30 / 100;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %8.1f MiB %7.1f MiB/s", bar,
		"##############################", 30 - bar, "", pct, (double)done / 1048576.0,
		t > 0 ? (double)done / 1048576.0 / t : 0.0);
	fflush(stderr);
}

static void end_progress(struct cli *c, struct progress *p, const char *what, uint64_t done)
{
	double t = elapsed(&p->start);
	if (p->on)
		fputc('\n', stderr);
	if (c->verbose)
		fprintf(stderr, "%s: %llu bytes in %.2f s (%.1f MiB/s)\n", what,
			(unsigned long long)done, t, t > 0 ? (double)done / 1048576.0 / t : 0.0);
}

static int sink_file(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
	struct progress *p = arg;
	while (len) {
		ssize_t n = pwrite(p->fd, data, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static long source_file(void *arg, uint64_t off, uint8_t *buf, size_t len)
{
	struct progress *p = arg;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(p->fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

/* ---- commands ---- */

static int cmd_ls(struct cli *c, struct smbc_tree *t)
{
	struct smbc_file *d;
	uint32_t st = open_path(t, c->path, 0x00100081u /* LIST | READ_ATTRIBUTES | SYNCHRONIZE */,
				1, SMBC_FILE_DIRECTORY_FILE, &d);
	struct smbc_dirent *e = NULL;
	size_t n = 0;
	if (!st) {
		st = smbc_list(d, "*", &e, &n);
		uint32_t cst = smbc_close(d);
		st = st ? st : cst;
	}
	if (st)
		return fail_status(c, st, NULL);
	for (size_t i = 0; i < n; i++) {
		char tm[32], at[8];
		fmt_time(e[i].st.write_time, tm, sizeof(tm));
		fmt_attrs(e[i].st.attrs, at);
		printf("  %-40s %5s %12llu  %s\n", e[i].name, at, (unsigned long long)e[i].st.size,
		       tm);
	}
	smbc_dirents_free(e, n);
	return 0;
}

static int cmd_get(struct cli *c, struct smbc_tree *t, const char *local)
{
	struct smbc_file *f;
	struct smbc_create_result r;
	struct smbc_create_args a = {.access = 0x00120089u /* GENERIC_READ's file rights */,
				     .disposition = 1,
				     .options = SMBC_FILE_NON_DIRECTORY_FILE};
	uint32_t st = smbc_create(t, c->path, &a, &f, &r);
	if (st)
		return fail_status(c, st, NULL);
	if (!local) {
		local = strrchr(c->path, '/');
		local = local ? local + 1 : c->path;
	}
	struct progress p = {.on = isatty(STDERR_FILENO) != 0, .total = r.st.size};
	p.fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (p.fd < 0) {
		fprintf(stderr, "shoal-smb: %s: %s\n", local, strerror(errno));
		smbc_close(f);
		return EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	struct smbc_xfer x = {.progress = show_progress, .arg = &p};
	uint64_t done = 0;
	st = smbc_get(f, r.st.size, &x, sink_file, &done);
	end_progress(c, &p, "get", done);
	/* the size is fixed only for regular files: /dev/null and devices cannot be truncated */
	struct stat lst;
	if (!st && !fstat(p.fd, &lst) && S_ISREG(lst.st_mode) && ftruncate(p.fd, (off_t)done))
		st = STATUS_DISK_FULL;
	if (close(p.fd) && !st)
		st = STATUS_DISK_FULL;
	uint32_t cst = smbc_close(f);
	st = st ? st : cst;
	return st ? fail_status(c, st, NULL) : 0;
}

static int cmd_put(struct cli *c, struct smbc_tree *t, const char *local)
{
	struct progress p = {.on = isatty(STDERR_FILENO) != 0};
	struct stat sb;
	p.fd = open(local, O_RDONLY | O_CLOEXEC);
	if (p.fd < 0 || fstat(p.fd, &sb)) {
		fprintf(stderr, "shoal-smb: %s: %s\n", local, strerror(errno));
		return EXIT_USAGE;
	}
	p.total = (uint64_t)sb.st_size;
	struct smbc_file *f;
	/* FILE_GENERIC_WRITE plus READ_ATTRIBUTES; OVERWRITE_IF replaces what was there */
	struct smbc_create_args a = {
	    .access = 0x00120196u, .disposition = 5, .options = SMBC_FILE_NON_DIRECTORY_FILE};
	uint32_t st = smbc_create(t, c->path, &a, &f, NULL);
	if (st) {
		close(p.fd);
		return fail_status(c, st, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	struct smbc_xfer x = {.progress = show_progress, .arg = &p};
	uint64_t done = 0;
	st = smbc_put(f, p.total, &x, source_file, &done);
	end_progress(c, &p, "put", done);
	close(p.fd);
	uint32_t cst = smbc_close(f);
	st = st ? st : cst;
	return st ? fail_status(c, st, NULL) : 0;
}

static int cmd_delete(struct cli *c, struct smbc_tree *t, bool dir)
{
	struct smbc_file *f;
	uint32_t st = open_path(t, c->path, 0x00010080u /* DELETE | READ_ATTRIBUTES */, 1,
				dir ? SMBC_FILE_DIRECTORY_FILE : SMBC_FILE_NON_DIRECTORY_FILE, &f);
	if (!st) {
		st = smbc_set_delete(f, true);
		uint32_t cst = smbc_close(f);
		st = st ? st : cst;
	}
	return st ? fail_status(c, st, NULL) : 0;
}

static int cmd_mkdir(struct cli *c, struct smbc_tree *t)
{
	struct smbc_file *f;
	uint32_t st = open_path(t, c->path, 0x00100080u, 2, SMBC_FILE_DIRECTORY_FILE, &f);
	if (!st)
		st = smbc_close(f);
	return st ? fail_status(c, st, NULL) : 0;
}

static void print_stat(const struct smbc_stat *s)
{
	char tm[32], at[8];
	fmt_attrs(s->attrs, at);
	printf("size: %llu\nallocation: %llu\nattributes: %s (0x%x)\nlinks: %u\n",
	       (unsigned long long)s->size, (unsigned long long)s->alloc_size, at, s->attrs,
	       s->nlink);
	fmt_time(s->create_time, tm, sizeof(tm));
	printf("created: %s\n", tm);
	fmt_time(s->access_time, tm, sizeof(tm));
	printf("accessed: %s\n", tm);
	fmt_time(s->write_time, tm, sizeof(tm));
	printf("written: %s\n", tm);
	fmt_time(s->change_time, tm, sizeof(tm));
	printf("changed: %s\ntype: %s\n", tm, s->is_dir ? "directory" : "file");
}

static int cmd_stat(struct cli *c, struct smbc_tree *t)
{
	struct smbc_file *f;
	struct smbc_stat s;
	uint32_t st = open_path(t, c->path, 0x00100080u, 1, 0, &f);
	if (!st) {
		st = smbc_stat_file(f, &s);
		uint32_t cst = smbc_close(f);
		st = st ? st : cst;
	}
	if (st)
		return fail_status(c, st, NULL);
	print_stat(&s);
	return 0;
}

static int cmd_openfile(struct cli *c, struct smbc_tree *t)
{
	struct smbc_file *f;
	struct smbc_create_result r;
	struct smbc_create_args a = {.access = 0x00120089u, .disposition = 1};
	uint32_t st = smbc_create(t, c->path, &a, &f, &r);
	if (st)
		return fail_status(c, st, NULL);
	printf("oplock: %u\nflags: 0x%x\ncreate action: %u\nfile id: ", r.oplock, r.flags,
	       r.action);
	for (int i = 0; i < 16; i++)
		printf("%02x", r.file_id[i]);
	printf("\n");
	print_stat(&r.st);
	st = smbc_close(f);
	return st ? fail_status(c, st, NULL) : 0;
}

static const char *share_type(uint32_t t)
{
	switch (t & 0x0FFFFFFF) {
	case 0:
		return "Disk";
	case 1:
		return "Printer";
	case 2:
		return "Device";
	case 3:
		return "IPC";
	default:
		return "?";
	}
}

static int cmd_shares(struct cli *c)
{
	struct smbc_conn *conn;
	struct smbc_share *s;
	size_t n;
	if (open_conn(c, &conn))
		return EXIT_STATUS;
	uint32_t st = smbc_net_share_enum(conn, &s, &n);
	if (st) {
		fail_status(c, st, smbc_conn_error(conn));
		smbc_disconnect(conn);
		return EXIT_STATUS;
	}
	printf("  %-24s %-8s %s\n", "Sharename", "Type", "Comment");
	for (size_t i = 0; i < n; i++)
		printf("  %-24s %-8s %s\n", s[i].name, share_type(s[i].type), s[i].comment);
	smbc_shares_free(s, n);
	smbc_disconnect(conn);
	return 0;
}

static int cmd_openpipe(struct cli *c)
{
	struct smbc_conn *conn;
	struct smbc_tree *ipc;
	struct smbc_file *p;
	free(c->share);
	c->share = strdup("IPC$");
	if (!c->share || open_tree(c, &conn, &ipc))
		return EXIT_STATUS;
	struct smbc_info i;
	smbc_conn_info(conn, &i);
	printf("dialect: %s\ncipher: %s\nsigning: %s\n", smbc_dialect_name(i.dialect),
	       smbc_tree_encrypted(ipc) ? smbc_cipher_name(i.cipher ? i.cipher : 0) : "none",
	       i.signing ? i.sign_alg : "none");
	uint32_t st = smbc_pipe_open(ipc, c->path, &p);
	if (st) {
		smbc_disconnect(conn);
		return fail_status(c, st, NULL);
	}
	printf("pipe: opened\n");
	const struct smbc_rpc_iface *iface = smbc_rpc_iface_find(c->path);
	if (!iface) {
		printf("bind: skipped (interface not known)\n");
		smbc_close(p);
		smbc_disconnect(conn);
		return 0;
	}
	struct smbc_rpc *rpc;
	uint16_t result = 0;
	st = smbc_rpc_bind(p, iface, &rpc, &result);
	if (st) {
		if (result != 0xFFFF)
			printf("bind: %s v%u.%u rejected (result %u)\n", iface->name, iface->vers,
			       iface->vers_minor, result);
		smbc_close(p);
		smbc_disconnect(conn);
		return fail_status(c, st, NULL);
	}
	printf("bind: %s v%u.%u accepted (max fragment %u)\n", iface->name, iface->vers,
	       iface->vers_minor, smbc_rpc_max_xmit(rpc));
	smbc_rpc_free(rpc);
	smbc_disconnect(conn);
	return 0;
}

/* The commands that work on a disk share. */
static int run_share_cmd(struct cli *c, const char *arg)
{
	struct smbc_conn *conn;
	struct smbc_tree *t;
	if (open_tree(c, &conn, &t))
		return EXIT_STATUS;
	int rc;
	if (!strcmp(c->cmd, "ls"))
		rc = cmd_ls(c, t);
	else if (!strcmp(c->cmd, "get"))
		rc = cmd_get(c, t, arg);
	else if (!strcmp(c->cmd, "put"))
		rc = cmd_put(c, t, arg);
	else if (!strcmp(c->cmd, "rm"))
		rc = cmd_delete(c, t, false);
	else if (!strcmp(c->cmd, "rmdir"))
		rc = cmd_delete(c, t, true);
	else if (!strcmp(c->cmd, "mkdir"))
		rc = cmd_mkdir(c, t);
	else if (!strcmp(c->cmd, "stat"))
		rc = cmd_stat(c, t);
	else
		rc = cmd_openfile(c, t);
	smbc_tree_disconnect(t);
	smbc_disconnect(conn);
	return rc;
}

static void parse_args(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"authentication-file", required_argument, NULL, 'A'},
	    {"user", required_argument, NULL, 'U'},
	    {"port", required_argument, NULL, 'p'},
	    {"option", required_argument, NULL, 'o'},
	    {"configfile", required_argument, NULL, 'c'},
	    {"workgroup", required_argument, NULL, 'W'},
	    {"no-pass", no_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	int ch;
	/* The configuration goes first so that -o overrides it whatever the order on the line. */
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--configfile"))
			load_config(c, argv[i + 1]);
	while ((ch = getopt_long(argc, argv, "+hc:o:U:p:A:W:Nvd:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'c':
			break;
		case 'o':
			set_option(c, optarg);
			break;
		case 'U':
			set_user(c, optarg);
			break;
		case 'W':
			set_str(&c->domain, optarg);
			break;
		case 'A':
			read_auth_file(c, optarg);
			break;
		case 'N':
			c->no_pass = true;
			break;
		case 'v':
			c->verbose = true;
			break;
		case 'd':
			if (log_parse_levels(optarg))
				die_usage("invalid debug level");
			break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 65535)
				die_usage("invalid port");
			c->o.port = (uint16_t)v;
			break;
		}
		default:
			die_usage(NULL);
		}
	}
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	smbc_opts_init(&c.o);
	parse_args(&c, argc, argv);
	int n = argc - optind;
	char **a = argv + optind;
	if (n < 1)
		die_usage("no command");
	c.cmd = a[0];
	const char *cmd = c.cmd, *extra = NULL;
	int rc;
	if (!strcmp(cmd, "shares") && n == 2) {
		c.url = a[1];
		parse_url(&c, a[1], false, false);
		rc = cmd_shares(&c);
	} else if (!strcmp(cmd, "openpipe") && n == 2) {
		c.url = a[1];
		parse_url(&c, a[1], true, false);
		free(c.path);
		c.path = strdup(c.share); /* //HOST/PIPENAME */
		rc = c.path ? cmd_openpipe(&c) : EXIT_USAGE;
	} else {
		if (!strcmp(cmd, "put") && n == 3) {
			extra = a[1];
			c.url = a[2];
		} else if (!strcmp(cmd, "get") && (n == 2 || n == 3)) {
			c.url = a[1];
			extra = n == 3 ? a[2] : NULL;
		} else if ((!strcmp(cmd, "ls") || !strcmp(cmd, "rm") || !strcmp(cmd, "mkdir") ||
			    !strcmp(cmd, "rmdir") || !strcmp(cmd, "stat") ||
			    !strcmp(cmd, "openfile")) &&
			   n == 2) {
			c.url = a[1];
		} else {
			die_usage("unknown command or wrong number of arguments");
		}
		parse_url(&c, c.url, true, strcmp(cmd, "ls") != 0);
		rc = run_share_cmd(&c, extra);
	}
	if (c.pass)
		explicit_bzero(c.pass, strlen(c.pass));
	free(c.user);
	free(c.pass);
	free(c.domain);
	free(c.host);
	free(c.share);
	free(c.path);
	return rc;
}
