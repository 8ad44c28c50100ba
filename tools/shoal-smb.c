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
	fprintf(stderr, "shoal-smb: %s %s: %s%s%s\n", c->cmd, c->url ? c->url : "",
		ntstatus_name(st), detail && *detail ? " (" : "", detail && *detail ? detail : "");
	if (detail && *detail)
		fputs(")\n" + 1, stderr);
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
	} m[] = {{FILE_ATTRIBUTE_DIRECTORY_BIT, 'D'}, {0x20, 'A'}, {0x02, 'H'}, {0x04, 'S'},
		 {0x01, 'R'}};
	int n = 0;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (a & m[i].bit)
			buf[n++] = m[i].ch;
	if (!n)
		buf[n++] = 'N';
	buf[n] = 0;
}
