/* shoalctl: the administration tool.
 *
 * DESIGN.md wants shoalctl to speak only the REST API. Until that API exists the user commands
 * edit the user database file directly, with the locking userdb.h describes, so they work
 * whether or not shoald runs. The commands go through struct user_ops so a REST transport can
 * replace the file one without touching the command line handling. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/conf.h"

#define EXIT_USAGE 2

/* ---- user operations and their file transport ---- */

struct user_ops {
	int (*add)(void *ctx, const char *name, const char *pw, uint32_t uid, uint32_t gid);
	int (*del)(void *ctx, const char *name);
	int (*passwd)(void *ctx, const char *name, const char *pw);
	int (*list)(void *ctx, struct userdb_entry **out, int *n);
};

static int file_add(void *ctx, const char *name, const char *pw, uint32_t uid, uint32_t gid)
{
	return userdb_add(ctx, name, pw, uid, gid);
}

static int file_del(void *ctx, const char *name)
{
	return userdb_del(ctx, name);
}

static int file_passwd(void *ctx, const char *name, const char *pw)
{
	return userdb_passwd(ctx, name, pw);
}

static int file_list(void *ctx, struct userdb_entry **out, int *n)
{
	return userdb_list(ctx, out, n);
}

static const struct user_ops file_ops = {file_add, file_del, file_passwd, file_list};

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shoalctl [-c CONFIG] user add NAME [--uid N] [--gid N] [--password-stdin]\n"
		"       shoalctl [-c CONFIG] user del NAME\n"
		"       shoalctl [-c CONFIG] user passwd NAME [--password-stdin]\n"
		"       shoalctl [-c CONFIG] user list\n"
		"  -c, --config FILE  smb.conf-style configuration giving 'state directory' or\n"
		"                     'passdb file' (default: ./run/state/users.db, as shoald's\n"
		"                     embedded configuration)\n"
		"  --password-stdin   read the password as one line from standard input\n"
		"                     (otherwise it is asked twice on the terminal)\n");
}

static int fail(const char *fmt, const char *arg, const char *detail)
{
	fprintf(stderr, "shoalctl: ");
	fprintf(stderr, fmt, arg);
	if (detail)
		fprintf(stderr, ": %s", detail);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

/* The user database path from the configuration, or shoald's embedded default. */
static int db_path(const char *conf_path, char *out, size_t len)
{
	if (!conf_path) {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return fail("%s", "cannot get the current directory", strerror(errno));
		if (snprintf(out, len, "%s/run/state/users.db", cwd) >= (int)len)
			return fail("%s", "path too long", NULL);
		return 0;
	}
	struct shoal_conf *conf = NULL;
	char err[512] = "";
	int rc = conf_load_file(conf_path, &conf, err, sizeof(err));
	if (rc < 0)
		return fail("%s", err[0] ? err : conf_path, err[0] ? NULL : strerror(-rc));
	snprintf(out, len, "%s", conf->passdb);
	conf_put(conf);
	return 0;
}

static bool parse_id(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v >= UINT32_MAX || s[0] == '-' || s[0] == '+')
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Reads one line into buf without its newline; false at end of input or when too long. */
static bool read_line(FILE *f, char *buf, size_t len)
{
	if (!fgets(buf, (int)len, f))
		return false;
	size_t n = strcspn(buf, "\n");
	if (buf[n] != '\n' && !feof(f))
		return false; /* longer than the buffer */
	buf[n] = 0;
	if (n && buf[n - 1] == '\r')
		buf[n - 1] = 0;
	return true;
}

static bool prompt(const char *what, char *buf, size_t len)
{
	struct termios old, quiet;
	fprintf(stderr, "%s", what);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) < 0)
		return false;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	bool ok = read_line(stdin, buf, len);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return ok;
}

/* The new password: one line from stdin, or asked twice on the terminal. 0 or exit status. */
static int get_password(const char *name, bool from_stdin, char *pw, size_t len)
{
	char again[256], q[128];
	if (from_stdin) {
		if (!read_line(stdin, pw, len))
			return fail("%s", "cannot read the password from standard input", NULL);
	} else {
		if (!isatty(STDIN_FILENO))
			return fail("%s",
				    "no terminal to ask for the password: use --password-stdin",
				    NULL);
		snprintf(q, sizeof(q), "New password for '%s': ", name);
		bool ok = prompt(q, pw, len) && prompt("Retype it: ", again, sizeof(again));
		bool same = ok && strcmp(pw, again) == 0;
		explicit_bzero(again, sizeof(again));
		if (!ok)
			return fail("%s", "cannot read the password", NULL);
		if (!same)
			return fail("%s", "the passwords do not match", NULL);
	}
	if (!pw[0])
		return fail("%s", "empty password refused", NULL);
	return 0;
}

struct user_args {
	const char *name;
	uint32_t uid, gid;
	bool have_uid, have_gid, pw_stdin;
};

/* Options after "user add|passwd NAME"; false on a usage error. */
static bool parse_user_opts(int argc, char **argv, bool ids, struct user_args *a)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0) {
			a->pw_stdin = true;
		} else if (ids && strcmp(argv[i], "--uid") == 0 && i + 1 < argc) {
			if (!parse_id(argv[++i], &a->uid))
				return false;
			a->have_uid = true;
		} else if (ids && strcmp(argv[i], "--gid") == 0 && i + 1 < argc) {
			if (!parse_id(argv[++i], &a->gid))
				return false;
			a->have_gid = true;
		} else {
			return false;
		}
	}
	return true;
}

/* Without --uid the system account of the same name gives uid and gid; without --gid the
 * primary group of the account owning the uid, or the uid's own number. */
static int resolve_ids(struct user_args *a)
{
	struct passwd *pw;
	if (!a->have_uid) {
		pw = getpwnam(a->name);
		if (!pw)
			return fail("no system account '%s': pass --uid (and --gid)", a->name,
				    NULL);
		a->uid = pw->pw_uid;
		if (!a->have_gid)
			a->gid = pw->pw_gid;
		return 0;
	}
	if (!a->have_gid) {
		pw = getpwuid(a->uid);
		a->gid = pw ? pw->pw_gid : a->uid;
	}
	return 0;
}

/* adding: -ENOENT can only be about the file's directory, not the user */
static int report(int rc, const char *name, const char *path, bool adding)
{
	if (rc == 0)
		return 0;
	if (rc == -EEXIST)
		return fail("user '%s' already exists", name, NULL);
	if (rc == -ENOENT && !adding)
		return fail("user '%s' does not exist", name, NULL);
	return fail("%s", path, strerror(-rc));
}

static int cmd_add(const struct user_ops *ops, void *ctx, struct user_args *a)
{
	char pw[256];
	int rc = resolve_ids(a);
	if (rc == 0)
		rc = get_password(a->name, a->pw_stdin, pw, sizeof(pw));
	if (rc == 0)
		rc = report(ops->add(ctx, a->name, pw, a->uid, a->gid), a->name, ctx, true);
	explicit_bzero(pw, sizeof(pw));
	return rc;
}

static int cmd_passwd(const struct user_ops *ops, void *ctx, struct user_args *a)
{
	char pw[256];
	int rc = get_password(a->name, a->pw_stdin, pw, sizeof(pw));
	if (rc == 0)
		rc = report(ops->passwd(ctx, a->name, pw), a->name, ctx, false);
	explicit_bzero(pw, sizeof(pw));
	return rc;
}

static int cmd_list(const struct user_ops *ops, void *ctx)
{
	struct userdb_entry *v = NULL;
	int n = 0;
	int rc = ops->list(ctx, &v, &n);
	if (rc < 0)
		return fail("%s", (const char *)ctx, strerror(-rc));
	printf("%-24s %10s %10s %10s\n", "NAME", "UID", "GID", "RID");
	for (int i = 0; i < n; i++)
		printf("%-24s %10u %10u %10u%s\n", v[i].name, v[i].uid, v[i].gid, v[i].rid,
		       v[i].disabled ? "  (disabled)" : "");
	if (v)
		explicit_bzero(v, (size_t)n * sizeof(*v));
	free(v);
	return 0;
}

/* "user ...": the syntax is checked before the configuration is read, so a usage error is
 * always exit status 2. */
static int cmd_user(const struct user_ops *ops, const char *conf_path, int argc, char **argv)
{
	struct user_args a = {0};
	char path[PATH_MAX];
	void *ctx = path;
	const char *verb = argc > 0 ? argv[0] : "";
	if (strcmp(verb, "list") == 0 && argc == 1)
		return db_path(conf_path, path, sizeof(path)) ?: cmd_list(ops, ctx);
	bool add = strcmp(verb, "add") == 0, del = strcmp(verb, "del") == 0;
	bool pwd = strcmp(verb, "passwd") == 0;
	if ((!add && !del && !pwd) || argc < 2 || (del && argc != 2) ||
	    !parse_user_opts(argc - 2, argv + 2, add, &a)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	a.name = argv[1];
	if (!userdb_name_valid(a.name))
		return fail("invalid user name '%s' (1-64 of A-Z a-z 0-9 . _ -, not starting "
			    "with . or -)",
			    a.name, NULL);
	int rc = db_path(conf_path, path, sizeof(path));
	if (rc)
		return rc;
	if (add)
		return cmd_add(ops, ctx, &a);
	if (pwd)
		return cmd_passwd(ops, ctx, &a);
	return report(ops->del(ctx, a.name), a.name, ctx, false);
}

int main(int argc, char **argv)
{
	const char *conf_path = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			conf_path = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc || strcmp(argv[i], "user") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd_user(&file_ops, conf_path, argc - i - 1, argv + i + 1);
}
