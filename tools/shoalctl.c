/* shoalctl: the administration tool.
 *
 * DESIGN.md wants shoalctl to speak only the REST API. The status commands do: a plain HTTP/1.1
 * GET to shoald's "management address" (read from the same configuration file). Until the API
 * has user resources the user commands edit the user database file directly, with the locking
 * userdb.h describes, so they work whether or not shoald runs. The commands go through struct
 * user_ops so a REST transport can replace the file one without touching the command line
 * handling. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
		"       shoalctl [-c CONFIG] status sessions [--format table|json|csv|yaml|xml]\n"
		"  -c, --config FILE  smb.conf-style configuration giving 'state directory' or\n"
		"                     'passdb file' (default: ./run/state/users.db, as shoald's\n"
		"                     embedded configuration)\n"
		"  --password-stdin   read the password as one line from standard input\n"
		"                     (otherwise it is asked twice on the terminal)\n"
		"  status commands ask shoald's REST API at the configuration's 'management\n"
		"  address' (default 127.0.0.1 and the first smb port + 1; 127.0.0.1:4446\n"
		"  without -c)\n");
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

/* ---- the REST API: status ---- */

#define HTTP_MAX_BODY (64u << 20)
#define HTTP_TIMEOUT_S 30

struct api_addr {
	char host[64];
	uint16_t port;
};

/* The management address from the configuration, or shoald's embedded default. */
static int api_addr(const char *conf_path, struct api_addr *a)
{
	if (!conf_path) {
		snprintf(a->host, sizeof(a->host), "127.0.0.1");
		a->port = 4446; /* the embedded configuration's smb port 4445, + 1 */
		return 0;
	}
	struct shoal_conf *conf = NULL;
	char err[512] = "";
	int rc = conf_load_file(conf_path, &conf, err, sizeof(err));
	if (rc < 0)
		return fail("%s", err[0] ? err : conf_path, err[0] ? NULL : strerror(-rc));
	rc = 0;
	if (conf->mgmt_off || !conf->mgmt_host)
		rc = fail("%s: 'management address' is off: shoald serves no API", conf_path, NULL);
	else
		snprintf(a->host, sizeof(a->host), "%s", conf->mgmt_host);
	a->port = conf->mgmt_port;
	conf_put(conf);
	return rc;
}

static int api_connect(const struct api_addr *a)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	if (inet_pton(AF_INET, a->host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(a->port);
		sl = sizeof(*a4);
	} else if (inet_pton(AF_INET6, a->host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(a->port);
		sl = sizeof(*a6);
	} else {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {HTTP_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Sends the request and reads the whole response (the request asks the server to close). */
static int http_exchange(int fd, const char *req, char **resp, size_t *len)
{
	size_t n = strlen(req), off = 0, cap = 0;
	while (off < n) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	char *buf = NULL;
	*len = 0;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			char *nb = cap <= HTTP_MAX_BODY ? realloc(buf, cap) : NULL;
			if (!nb) {
				free(buf);
				errno = cap > HTTP_MAX_BODY ? EFBIG : ENOMEM;
				return -1;
			}
			buf = nb;
		}
		ssize_t r = recv(fd, buf + *len, cap - *len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	buf[*len] = 0;
	*resp = buf;
	return 0;
}

/* Decodes a chunked body (RFC 9112 7.1) in place; -1 if malformed. */
static int dechunk(char *body, size_t len, size_t *out_len)
{
	size_t in = 0, out = 0;
	for (;;) {
		char *end;
		errno = 0;
		unsigned long sz = strtoul(body + in, &end, 16);
		char *crlf = strstr(body + in, "\r\n");
		if (errno || end == body + in || !crlf || (size_t)(crlf - body) + 2 > len)
			return -1;
		in = (size_t)(crlf - body) + 2;
		if (sz == 0)
			break;
		if (sz > len - in || len - in - sz < 2)
			return -1;
		memmove(body + out, body + in, sz);
		out += sz;
		in += sz + 2;
	}
	body[out] = 0;
	*out_len = out;
	return 0;
}

/* Splits a response into status and body (moved to the start of resp). */
static int http_parse(char *resp, size_t len, int *status, size_t *body_len)
{
	int code;
	char *hend = strstr(resp, "\r\n\r\n");
	if (!hend || sscanf(resp, "HTTP/1.%*1[01] %3d", &code) != 1)
		return -1;
	*hend = 0;
	bool chunked = strcasestr(resp, "\r\ntransfer-encoding: chunked") != NULL;
	char *cl = strcasestr(resp, "\r\ncontent-length:");
	char *body = hend + 4;
	size_t blen = len - (size_t)(body - resp);
	if (chunked) {
		if (dechunk(body, blen, &blen) < 0)
			return -1;
	} else if (cl) {
		unsigned long n = strtoul(cl + 17, NULL, 10);
		if (n > blen)
			return -1; /* cut short */
		blen = n;
	}
	memmove(resp, body, blen);
	resp[blen] = 0;
	*status = code;
	*body_len = blen;
	return 0;
}

/* GET path from the API; *body is the response body (free it). Returns 0 or an exit status. */
static int api_get(const struct api_addr *a, const char *path, char **body, int *status)
{
	char req[512], where[96];
	bool v6 = strchr(a->host, ':') != NULL;
	snprintf(where, sizeof(where), "%s%s%s:%u", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: shoalctl\r\nAccept: */*\r\n"
		 "Connection: close\r\n\r\n",
		 path, where);
	int fd = api_connect(a);
	if (fd < 0)
		return fail("cannot reach shoald's REST API at %s (is shoald running? see "
			    "'management address')",
			    where, strerror(errno));
	size_t len, blen;
	int rc = http_exchange(fd, req, body, &len);
	int e = errno;
	close(fd);
	if (rc < 0)
		return fail("REST API at %s", where, strerror(e));
	if (http_parse(*body, len, status, &blen) < 0) {
		free(*body);
		*body = NULL;
		return fail("REST API at %s: malformed HTTP response", where, NULL);
	}
	return 0;
}

/* An error document {"error": {"message": ...}} as one line on stderr. */
static int api_error(int status, const char *body)
{
	json_t *doc = json_loads(body, 0, NULL);
	const json_t *e = json_object_get(doc, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	char what[32];
	snprintf(what, sizeof(what), "HTTP %d", status);
	fail("REST API: %s", what, msg ? msg : "unexpected response");
	json_decref(doc);
	return EXIT_FAILURE;
}

/* One column of the sessions table: the JSON member and how to show it. */
struct column {
	const char *title;
	const char *key;
};

static const struct column session_cols[] = {
    {"SESSION ID", "session_id"}, {"USER", "user"},	  {"CLIENT", "client"},
    {"DIALECT", "dialect"},	  {"SIGNING", "signing"}, {"CIPHER", "cipher"},
    {"ENCRYPTED", "encrypted"},	  {"TREES", "trees"},	  {"OPENS", "opens"},
};
#define NCOLS (sizeof(session_cols) / sizeof(session_cols[0]))

static void cell_text(const json_t *s, const struct column *c, char *out, size_t len)
{
	const json_t *v = json_object_get(s, c->key);
	if (strcmp(c->key, "user") == 0 && json_is_true(json_object_get(s, "anonymous")))
		snprintf(out, len, "(anonymous)");
	else if (json_is_string(v))
		snprintf(out, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(out, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(out, len, "-");
}

static int print_sessions_table(const char *body)
{
	json_error_t jerr;
	json_t *doc = json_loads(body, 0, &jerr);
	json_t *list = json_object_get(doc, "sessions");
	if (!json_is_array(list)) {
		json_decref(doc);
		return fail("REST API: %s", "malformed sessions document", jerr.text);
	}
	size_t w[NCOLS], i;
	char cell[128];
	json_t *s;
	for (size_t c = 0; c < NCOLS; c++)
		w[c] = strlen(session_cols[c].title);
	for (i = 0; i < json_array_size(list); i++) {
		s = json_array_get(list, i);
		for (size_t c = 0; c < NCOLS; c++) {
			cell_text(s, &session_cols[c], cell, sizeof(cell));
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
	}
	for (size_t c = 0; c + 1 < NCOLS; c++)
		printf("%-*s  ", (int)w[c], session_cols[c].title);
	printf("%s\n", session_cols[NCOLS - 1].title);
	for (i = 0; i < json_array_size(list); i++) {
		s = json_array_get(list, i);
		for (size_t c = 0; c < NCOLS; c++) {
			cell_text(s, &session_cols[c], cell, sizeof(cell));
			if (c + 1 < NCOLS)
				printf("%-*s  ", (int)w[c], cell);
			else
				printf("%s\n", cell); /* no trailing blanks */
		}
	}
	json_decref(doc);
	return 0;
}

/* "status sessions [--format F]" */
static int cmd_status(const char *conf_path, int argc, char **argv)
{
	const char *fmt = "table";
	if (argc < 1 || strcmp(argv[0], "sessions") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
			fmt = argv[++i];
		else if (strncmp(argv[i], "--format=", 9) == 0)
			fmt = argv[i] + 9;
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	static const char *const fmts[] = {"table", "json", "csv", "yaml", "xml"};
	bool known = false;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		known = known || strcmp(fmt, fmts[i]) == 0;
	if (!known) {
		usage(stderr);
		return EXIT_USAGE;
	}
	struct api_addr a;
	int rc = api_addr(conf_path, &a);
	if (rc)
		return rc;
	char path[128], *body = NULL;
	int status = 0;
	bool table = strcmp(fmt, "table") == 0;
	snprintf(path, sizeof(path), "/rest/status/sessions?format=%s", table ? "json" : fmt);
	rc = api_get(&a, path, &body, &status);
	if (rc)
		return rc;
	if (status != 200)
		rc = api_error(status, body);
	else if (table)
		rc = print_sessions_table(body);
	else
		fputs(body, stdout);
	free(body);
	return rc;
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
	if (i < argc && strcmp(argv[i], "status") == 0)
		return cmd_status(conf_path, argc - i - 1, argv + i + 1);
	if (i >= argc || strcmp(argv[i], "user") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd_user(&file_ops, conf_path, argc - i - 1, argv + i + 1);
}
