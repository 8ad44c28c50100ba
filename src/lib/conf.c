/* smb.conf reader: the syntax Samba's testparm accepts, the parameters shoal uses.
 *
 * Syntax: "[section]" headers, "name = value" lines, '#' or ';' comments at the start of a line, a
 * trailing backslash joining the next line. Parameter names are compared ignoring case, spaces and
 * underscores. As in smb.conf, lines before the first header belong to [global], a share-level
 * parameter given in [global] becomes the default for the shares defined after it, a repeated
 * section header continues the earlier section, and "copy = NAME" copies an earlier share. */
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "utf16.h"

#define CONF_MAX_FILE (16u << 20) /* a config file larger than this is surely a mistake */
#define NOOFF ((size_t)-1)

enum ptype {
	T_BOOL,
	T_BOOL_NOT, /* "writeable" and friends: the inverse of the field */
	T_CASE,	    /* "case sensitive": a boolean that also takes auto/default (= no) */
	T_STR,
	T_PATH,
	T_INT,
	T_OCTAL,
	T_PROTO_MIN,
	T_PROTO_MAX,
	T_SIGNING,
	T_ENCRYPT,
	T_PORTS,
	T_IFACES,
	T_LOGLEVEL,
	T_NBNAME,
	T_USERS,
	T_ENC_ALGS,
	T_SIGN_ALGS,
	T_COPY,
	T_MGMT,
};

/* One known parameter. goff is the field in struct shoal_conf, soff the one in struct
 * conf_share; a parameter with both (smb encrypt) sets the global value and the share default. */
struct param {
	const char *name;
	enum ptype type;
	size_t goff;
	size_t soff;
	int max; /* T_INT upper bound */
};

#define G(f) offsetof(struct shoal_conf, f), NOOFF
#define S(f) NOOFF, offsetof(struct conf_share, f)

static const struct param params[] = {
    {"smb ports", T_PORTS, G(ports), 0},
    {"interfaces", T_IFACES, G(interfaces), 0},
    {"state directory", T_PATH, G(state_dir), 0},
    {"log level", T_LOGLEVEL, G(log_level), 0},
    {"debuglevel", T_LOGLEVEL, G(log_level), 0},
    {"log file", T_STR, G(log_file), 0},
    {"server min protocol", T_PROTO_MIN, G(min_protocol), 0},
    {"min protocol", T_PROTO_MIN, G(min_protocol), 0},
    {"server max protocol", T_PROTO_MAX, G(max_protocol), 0},
    {"max protocol", T_PROTO_MAX, G(max_protocol), 0},
    {"protocol", T_PROTO_MAX, G(max_protocol), 0},
    {"server signing", T_SIGNING, G(signing), 0},
    {"server smb encrypt", T_ENCRYPT, offsetof(struct shoal_conf, server_encrypt),
     offsetof(struct conf_share, smb_encrypt), 0},
    {"smb encrypt", T_ENCRYPT, offsetof(struct shoal_conf, server_encrypt),
     offsetof(struct conf_share, smb_encrypt), 0},
    {"netbios name", T_NBNAME, G(netbios_name), 0},
    {"workgroup", T_NBNAME, G(workgroup), 0},
    {"server string", T_STR, G(server_string), 0},
    {"passdb file", T_PATH, G(passdb), 0},
    {"max connections", T_INT, G(max_connections), 1000000},
    {"worker threads", T_INT, G(worker_threads), 4096},
    {"poll microseconds", T_INT, G(poll_us), 10000},
    {"max sessions per connection", T_INT, G(max_sessions_per_conn), 65535},
    {"max open files", T_INT, G(max_open_files), 1000000},
    {"max async requests", T_INT, G(max_async_requests), 1000000},
    {"handshake timeout", T_INT, G(handshake_timeout), 86400},
    {"oplock break timeout", T_INT, G(oplock_break_timeout_ms), 3600000},
    {"smbtorture fsctls", T_BOOL, G(smbtorture_fsctls), 0},
    {"server multi channel support", T_BOOL, G(multi_channel), 0},
    {"durable handle timeout", T_INT, G(durable_timeout), 86400},
    {"durable handle max timeout", T_INT, G(durable_max_timeout), 86400},
    {"server smb3 encryption algorithms", T_ENC_ALGS, G(encryption_algorithms), 0},
    {"server smb3 signing algorithms", T_SIGN_ALGS, G(signing_algorithms), 0},
    {"management address", T_MGMT, G(mgmt_host), 0},
    {"path", T_PATH, S(path), 0},
    {"directory", T_PATH, S(path), 0},
    {"comment", T_STR, S(comment), 0},
    {"read only", T_BOOL, S(read_only), 0},
    {"writeable", T_BOOL_NOT, S(read_only), 0},
    {"writable", T_BOOL_NOT, S(read_only), 0},
    {"write ok", T_BOOL_NOT, S(read_only), 0},
    {"browseable", T_BOOL, S(browseable), 0},
    {"browsable", T_BOOL, S(browseable), 0},
    {"valid users", T_USERS, S(valid_users), 0},
    {"hide unreadable", T_BOOL, S(hide_unreadable), 0},
    {"case sensitive", T_CASE, S(case_sensitive), 0},
    {"casesignames", T_CASE, S(case_sensitive), 0},
    {"create mask", T_OCTAL, S(create_mask), 0},
    {"create mode", T_OCTAL, S(create_mask), 0},
    {"directory mask", T_OCTAL, S(directory_mask), 0},
    {"directory mode", T_OCTAL, S(directory_mask), 0},
    {"durable handles", T_BOOL, S(durable_handles), 0},
    {"oplocks", T_BOOL, S(oplocks), 0},
    {"copy", T_COPY, S(name), 0},
};

/* Samba parameters that admins commonly carry over and that change nothing for shoal: they are
 * accepted without a warning so that a working smb.conf loads cleanly. Parameters that would
 * restrict access ("hosts allow", "invalid users", "force user", ...) are deliberately NOT here:
 * ignoring them silently would grant more than the admin wrote, so they get the unknown-parameter
 * warning. Parametric options ("smbd:sharedelay", "xattr_tdb:file") are ignored by their colon. */
static const char *const ignored_params[] = {
    "server role",
    "security",
    "map to guest",
    "guest ok",
    "public",
    "guest account",
    "disable netbios",
    "load printers",
    "printing",
    "printcap name",
    "disable spoolss",
    "bind interfaces only",
    "passdb backend",
    "private dir",
    "lock directory",
    "cache directory",
    "pid directory",
    "ncalrpc dir",
    "max log size",
    "syslog",
    "syslog only",
    "debug timestamp",
    "debug hires timestamp",
    "debug pid",
    "debug uid",
    "vfs objects",
    "store dos attributes",
    "ea support",
    "kernel oplocks",
    "kernel share modes",
    "posix locking",
    "strict sync",
    "strict locking",
    "sync always",
    "smb2 leases",
    "level2 oplocks",
    "client min protocol",
    "client max protocol",
    "client signing",
    "map hidden",
    "map system",
    "map readonly",
    "map archive",
    "dos filemode",
    "strict rename",
    "mangled names",
    "wide links",
    "follow symlinks",
    "unix extensions",
    "kernel change notify",
    "encrypt passwords",
    "dns proxy",
    "wins support",
    "local master",
    "domain master",
    "preferred master",
    "os level",
    "name resolve order",
    "socket options",
    "usershare allow guests",
    "usershare max shares",
    "unix password sync",
    "obey pam restrictions",
    "pam password change",
    "passwd program",
    "passwd chat",
    "panic action",
    "restrict anonymous",
    "ntlm auth",
    "lanman auth",
    "server services",
    "dcerpc endpoint servers",
    "aio read size",
    "aio write size",
    "use sendfile",
    "getwd cache",
    "deadtime",
};

struct parser {
	struct shoal_conf *c;
	const char *name; /* source name used in messages */
	char *base_dir;	  /* relative paths are made absolute against this */
	char *err;
	size_t errlen;
	int line;		/* first physical line of the logical line being handled */
	struct conf_share tmpl; /* share defaults, changed by share parameters in [global] */
	int cur;		/* index of the current share, or CUR_GLOBAL / CUR_SKIP */
	int *share_lines;	/* header line of each share, for "has no path" */
	int min_line, max_line;
	bool passdb_set;
};

#define CUR_GLOBAL (-1)
#define CUR_SKIP (-2)
#define CUR_CLIENT (-3) /* [client]: settings of the client library, not a share */

static int perr(struct parser *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "FILE:LINE: message" into the caller's buffer and returns rc. */
static int perr(struct parser *p, int rc, const char *fmt, ...)
{
	if (!p->err || !p->errlen)
		return rc;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, p->line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int bad_value(struct parser *p, const char *key, const char *val)
{
	return perr(p, -EINVAL, "invalid value '%s' for '%s'", val, key);
}

static int no_mem(struct parser *p)
{
	return perr(p, -ENOMEM, "out of memory");
}

/* ---- small helpers ------------------------------------------------------------------------- */

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static char *trim(char *s)
{
	while (is_ws(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_ws(s[n - 1]))
		s[--n] = 0;
	return s;
}

/* Compares a normalised key (lower case, no spaces or underscores) with a table name. */
static bool name_is(const char *key, const char *tname)
{
	for (;; tname++) {
		if (*tname == ' ' || *tname == '_')
			continue;
		if (tolower((unsigned char)*tname) != *key)
			return false;
		if (!*key)
			return true;
		key++;
	}
}

static void normalize_name(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	for (; *in && n + 1 < outlen; in++)
		if (*in != ' ' && *in != '_' && *in != '\t')
			out[n++] = (char)tolower((unsigned char)*in);
	out[n] = 0;
}

static void free_list(char **l)
{
	if (!l)
		return;
	for (char **q = l; *q; q++)
		free(*q);
	free(l);
}

static char **dup_list(char **l, int *n)
{
	*n = 0;
	if (!l)
		return NULL;
	int k = 0;
	while (l[k])
		k++;
	char **d = calloc((size_t)k + 1, sizeof(*d));
	if (!d)
		return NULL;
	for (int i = 0; i < k; i++) {
		d[i] = strdup(l[i]);
		if (!d[i]) {
			free_list(d);
			return NULL;
		}
	}
	*n = k;
	return d;
}

/* Splits an smb.conf list (separated by spaces, tabs, commas or semicolons; "double quotes"
 * keep separators inside one item). An empty list gives *out = NULL. -EINVAL on an unterminated
 * quote. */
static int split_list(const char *v, char ***out, int *count)
{
	*out = NULL;
	*count = 0;
	size_t len = strlen(v);
	char **l = calloc(len / 2 + 2, sizeof(*l)); /* items need a separator between them */
	char *tok = malloc(len + 1);
	int n = 0, rc = 0;
	if (!l || !tok) {
		rc = -ENOMEM;
		goto out;
	}
	for (const char *s = v; *s;) {
		while (*s && strchr(" \t,;", *s))
			s++;
		if (!*s)
			break;
		size_t k = 0;
		bool quoted = false;
		for (; *s && (quoted || !strchr(" \t,;", *s)); s++) {
			if (*s == '"')
				quoted = !quoted;
			else
				tok[k++] = *s;
		}
		if (quoted) {
			rc = -EINVAL;
			goto out;
		}
		if (!k)
			continue;
		tok[k] = 0;
		if (!(l[n] = strdup(tok))) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
out:
	free(tok);
	if (rc || !n) {
		free_list(l);
		return rc;
	}
	*out = l;
	*count = n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "1", "on"};
	static const char *const no[] = {"no", "false", "0", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

struct word {
	const char *w;
	int v;
};

static int parse_word(const struct word *t, size_t n, const char *v, int *out)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(v, t[i].w)) {
			*out = t[i].v;
			return 0;
		}
	return -EINVAL;
}

static const struct word signing_words[] = {
    {"disabled", CONF_SIGNING_DISABLED},
    {"no", CONF_SIGNING_DISABLED},
    {"off", CONF_SIGNING_DISABLED},
    {"false", CONF_SIGNING_DISABLED},
    {"0", CONF_SIGNING_DISABLED},
    {"auto", CONF_SIGNING_AUTO},
    {"default", CONF_SIGNING_AUTO},
    {"if_required", CONF_SIGNING_AUTO},
    {"enabled", CONF_SIGNING_AUTO},
    {"desired", CONF_SIGNING_AUTO},
    {"yes", CONF_SIGNING_AUTO},
    {"true", CONF_SIGNING_AUTO},
    {"on", CONF_SIGNING_AUTO},
    {"1", CONF_SIGNING_AUTO},
    {"mandatory", CONF_SIGNING_MANDATORY},
    {"required", CONF_SIGNING_MANDATORY},
    {"forced", CONF_SIGNING_MANDATORY},
    {"force", CONF_SIGNING_MANDATORY},
    {"enforced", CONF_SIGNING_MANDATORY},
};

static const struct word encrypt_words[] = {
    {"off", CONF_ENC_OFF},
    {"no", CONF_ENC_OFF},
    {"disabled", CONF_ENC_OFF},
    {"false", CONF_ENC_OFF},
    {"0", CONF_ENC_OFF},
    {"if_required", CONF_ENC_IF_REQUIRED},
    {"default", CONF_ENC_IF_REQUIRED},
    {"auto", CONF_ENC_IF_REQUIRED},
    {"desired", CONF_ENC_DESIRED},
    {"enabled", CONF_ENC_DESIRED},
    {"yes", CONF_ENC_DESIRED},
    {"true", CONF_ENC_DESIRED},
    {"on", CONF_ENC_DESIRED},
    {"1", CONF_ENC_DESIRED},
    {"required", CONF_ENC_REQUIRED},
    {"mandatory", CONF_ENC_REQUIRED},
    {"forced", CONF_ENC_REQUIRED},
    {"force", CONF_ENC_REQUIRED},
    {"enforced", CONF_ENC_REQUIRED},
};

#define NWORDS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- protocols --------------------------------------------------------------------------- */

static const struct {
	const char *name;
	uint16_t dialect;
} protocols[] = {
    {"SMB2_02", SMB2_DIALECT_202}, {"SMB2_10", SMB2_DIALECT_210}, {"SMB3_00", SMB2_DIALECT_300},
    {"SMB3_02", SMB2_DIALECT_302}, {"SMB3_11", SMB2_DIALECT_311},
};

uint16_t conf_parse_protocol(const char *s, bool is_max)
{
	if (!s)
		return 0;
	if (!strcasecmp(s, "SMB2"))
		return is_max ? SMB2_DIALECT_210 : SMB2_DIALECT_202;
	if (!strcasecmp(s, "SMB3"))
		return is_max ? SMB2_DIALECT_311 : SMB2_DIALECT_300;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcasecmp(s, protocols[i].name))
			return protocols[i].dialect;
	return 0;
}

uint16_t conf_parse_dialect_version(const char *s)
{
	static const struct {
		const char *name;
		uint16_t dialect;
	} versions[] = {
	    {"2.0.2", SMB2_DIALECT_202}, {"2.1", SMB2_DIALECT_210},   {"3.0", SMB2_DIALECT_300},
	    {"3.0.2", SMB2_DIALECT_302}, {"3.1.1", SMB2_DIALECT_311}, {"max", SMB2_DIALECT_311},
	};
	for (size_t i = 0; s && i < sizeof(versions) / sizeof(versions[0]); i++)
		if (!strcasecmp(s, versions[i].name))
			return versions[i].dialect;
	return 0;
}

const char *conf_protocol_name(uint16_t dialect)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (protocols[i].dialect == dialect)
			return protocols[i].name;
	return "unknown";
}

/* SMB1-era names are valid in Samba; as a minimum they only mean "the oldest you have". */
static bool is_smb1_protocol(const char *s)
{
	static const char *const old[] = {"CORE", "COREPLUS", "LANMAN1", "LANMAN2", "NT1"};
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		if (!strcasecmp(s, old[i]))
			return true;
	return false;
}

/* ---- shares ------------------------------------------------------------------------------ */

static void share_defaults(struct conf_share *s)
{
	memset(s, 0, sizeof(*s));
	s->read_only = true;
	s->browseable = true;
	s->smb_encrypt = CONF_ENC_IF_REQUIRED;
	s->create_mask = 0744;
	s->directory_mask = 0755;
	s->durable_handles = true;
	s->oplocks = true;
}

static void share_free(struct conf_share *s)
{
	free(s->name);
	free(s->path);
	free(s->comment);
	free_list(s->valid_users);
	memset(s, 0, sizeof(*s));
}

/* Copies every setting of src into dst except the name and is_ipc; 0 or -ENOMEM. */
static int share_copy_settings(struct conf_share *dst, const struct conf_share *src)
{
	struct conf_share t = *src;
	t.name = dst->name;
	t.is_ipc = dst->is_ipc;
	t.path = src->path ? strdup(src->path) : NULL;
	t.comment = src->comment ? strdup(src->comment) : NULL;
	t.valid_users = dup_list(src->valid_users, &t.nvalid_users);
	if ((src->path && !t.path) || (src->comment && !t.comment) ||
	    (src->valid_users && !t.valid_users)) {
		free(t.path);
		free(t.comment);
		free_list(t.valid_users);
		return -ENOMEM;
	}
	free(dst->path);
	free(dst->comment);
	free_list(dst->valid_users);
	*dst = t;
	return 0;
}

static int find_share_idx(const struct shoal_conf *c, const char *name)
{
	for (int i = 0; i < c->nshares; i++)
		if (utf8_case_equal(c->shares[i].name, name))
			return i;
	return -1;
}

const struct conf_share *conf_find_share(const struct shoal_conf *c, const char *name)
{
	if (!c || !name)
		return NULL;
	int i = find_share_idx(c, name);
	return i < 0 ? NULL : &c->shares[i];
}

/* Appends a share initialised from the defaults in p->tmpl; returns its index or -ENOMEM. */
static int add_share(struct parser *p, const char *name)
{
	struct shoal_conf *c = p->c;
	struct conf_share *ns = realloc(c->shares, ((size_t)c->nshares + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	c->shares = ns;
	int *nl = realloc(p->share_lines, ((size_t)c->nshares + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	p->share_lines = nl;
	struct conf_share *s = &c->shares[c->nshares];
	share_defaults(s);
	if (!(s->name = strdup(name)))
		return -ENOMEM;
	if (share_copy_settings(s, &p->tmpl)) {
		free(s->name);
		return -ENOMEM;
	}
	p->share_lines[c->nshares] = p->line;
	return c->nshares++;
}

/* ---- conf object ------------------------------------------------------------------------- */

static void conf_free(struct shoal_conf *c)
{
	if (!c)
		return;
	free(c->source);
	free_list(c->interfaces);
	free(c->state_dir);
	free(c->log_level);
	free(c->log_file);
	free(c->netbios_name);
	free(c->workgroup);
	free(c->server_string);
	free(c->passdb);
	free_list(c->encryption_algorithms);
	free_list(c->signing_algorithms);
	free(c->mgmt_host);
	for (int i = 0; i < c->nshares; i++)
		share_free(&c->shares[i]);
	free(c->shares);
	free(c);
}

struct shoal_conf *conf_get(struct shoal_conf *c)
{
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void conf_put(struct shoal_conf *c)
{
	/* acq_rel: the thread that frees must see every other holder's last use */
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		conf_free(c);
}

static struct shoal_conf *conf_new(const char *source)
{
	struct shoal_conf *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->refs = 1;
	c->ports[0] = 445;
	c->nports = 1;
	c->min_protocol = SMB2_DIALECT_202;
	c->max_protocol = SMB2_DIALECT_311;
	c->signing = CONF_SIGNING_AUTO;
	c->server_encrypt = CONF_ENC_IF_REQUIRED;
	c->max_sessions_per_conn = CONF_DEFAULT_MAX_SESSIONS;
	c->max_open_files = CONF_DEFAULT_MAX_OPEN_FILES;
	c->max_async_requests = CONF_DEFAULT_MAX_ASYNC_REQUESTS;
	c->multi_channel = true; /* as Samba on Linux */
	c->handshake_timeout = CONF_DEFAULT_HANDSHAKE_TIMEOUT;
	c->poll_us = 50;
	c->client.encryption_enabled = true;
	c->client.max_dialect = SMB2_DIALECT_311;
	c->oplock_break_timeout_ms = 35000; /* Windows' default (MS-SMB2 3.3.2.1 OplockBreakTimer) */
	c->durable_timeout = 60;      /* v1, and v2 asking 0 (Windows: 60 s, 3.3.5.9.10) */
	c->durable_max_timeout = 300; /* v2 timeouts are capped there (Windows: 300 s) */
	c->source = strdup(source);
	c->state_dir = strdup("/var/lib/shoal");
	c->log_level = strdup("1");
	c->workgroup = strdup("WORKGROUP");
	c->server_string = strdup("shoal");
	if (!c->source || !c->state_dir || !c->log_level || !c->workgroup || !c->server_string) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/* ---- values ------------------------------------------------------------------------------ */

/* Makes v absolute against the parser's base directory and drops trailing slashes. */
static char *make_path(struct parser *p, const char *v)
{
	char *r;
	if (v[0] == '/') {
		r = strdup(v);
	} else {
		size_t n = strlen(p->base_dir) + strlen(v) + 2;
		r = malloc(n);
		if (r)
			snprintf(r, n, "%s%s%s", p->base_dir,
				 p->base_dir[strlen(p->base_dir) - 1] == '/' ? "" : "/", v);
	}
	if (r) {
		size_t n = strlen(r);
		while (n > 1 && r[n - 1] == '/')
			r[--n] = 0;
	}
	return r;
}

static int set_string(struct parser *p, char **dst, char *nv)
{
	if (!nv)
		return no_mem(p);
	free(*dst);
	*dst = nv;
	return 0;
}

static int set_ports(struct parser *p, const char *key, const char *v)
{
	char **l;
	int n;
	int rc = split_list(v, &l, &n);
	if (rc == -ENOMEM)
		return no_mem(p);
	if (rc || n == 0 || n > (int)(sizeof(p->c->ports) / sizeof(p->c->ports[0]))) {
		free_list(l);
		return bad_value(p, key, v);
	}
	uint16_t ports[8];
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long port = strtol(l[i], &end, 10);
		if (errno || *end || !isdigit((unsigned char)l[i][0]) || port < 1 || port > 65535) {
			free_list(l);
			return bad_value(p, key, v);
		}
		ports[i] = (uint16_t)port;
	}
	free_list(l);
	memcpy(p->c->ports, ports, sizeof(ports));
	p->c->nports = n;
	return 0;
}

/* "management address": "off", or an IPv4/IPv6 address literal with an optional port, the IPv6
 * one in brackets when a port follows ("[::1]:4446"). A missing port is filled in by finish(). */
static int set_mgmt(struct parser *p, const char *key, const char *v)
{
	bool on;
	if (!parse_bool(v, &on) && !on) {
		free(p->c->mgmt_host);
		p->c->mgmt_host = NULL;
		p->c->mgmt_off = true;
		p->c->mgmt_port = 0;
		return 0;
	}
	char host[INET6_ADDRSTRLEN + 2];
	const char *h = v, *port = NULL, *rb = v[0] == '[' ? strchr(v, ']') : NULL;
	size_t hlen;
	if (rb) { /* "[V6]" or "[V6]:PORT" */
		if (rb[1] && rb[1] != ':')
			return bad_value(p, key, v);
		h = v + 1;
		hlen = (size_t)(rb - h);
		port = rb[1] ? rb + 2 : NULL;
	} else {
		const char *colon = strchr(v, ':');
		bool v4 = colon && !strchr(colon + 1, ':'); /* exactly one colon: "V4:PORT" */
		hlen = v4 ? (size_t)(colon - v) : strlen(v);
		port = v4 ? colon + 1 : NULL;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return bad_value(p, key, v);
	memcpy(host, h, hlen);
	host[hlen] = 0;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a6) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
		return bad_value(p, key, v);
	long pn = 0;
	if (port) {
		char *end;
		errno = 0;
		pn = strtol(port, &end, 10);
		if (errno || *end || !isdigit((unsigned char)port[0]) || pn < 1 || pn > 65535)
			return bad_value(p, key, v);
	}
	p->c->mgmt_off = false;
	p->c->mgmt_port = (uint16_t)pn;
	return set_string(p, &p->c->mgmt_host, strdup(host));
}

/* An "interfaces" item: an address or an interface name ("eth0", "lo", "eth*"), optionally with
 * "/prefix" or "/netmask", which shoal does not need and drops. */
static bool iface_item_ok(char *item)
{
	char *slash = strchr(item, '/');
	if (slash) {
		*slash = 0;
		const char *m = slash + 1;
		struct in_addr a4;
		char *end;
		long bits = strtol(m, &end, 10);
		bool num = *m && isdigit((unsigned char)*m) && !*end && bits >= 0 && bits <= 128;
		if (!num && inet_pton(AF_INET, m, &a4) != 1)
			return false;
	}
	size_t n = strlen(item);
	if (n == 0 || n > 63)
		return false;
	for (const char *s = item; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:%*-", *s))
			return false;
	return true;
}

static int set_ifaces(struct parser *p, const char *key, const char *v)
{
	char **l;
	int n;
	int rc = split_list(v, &l, &n);
	if (rc == -ENOMEM)
		return no_mem(p);
	if (rc)
		return bad_value(p, key, v);
	for (int i = 0; i < n; i++) {
		if (!iface_item_ok(l[i])) {
			free_list(l);
			return bad_value(p, key, v);
		}
	}
	free_list(p->c->interfaces);
	p->c->interfaces = l;
	p->c->ninterfaces = n;
	return 0;
}

/* Reads a list of names from a fixed vocabulary, storing the vocabulary's spelling. */
static int set_algs(struct parser *p, const char *key, const char *v, const char *const *names,
		    char ***dst)
{
	char **l;
	int n;
	int rc = split_list(v, &l, &n);
	if (rc == -ENOMEM)
		return no_mem(p);
	if (rc || n == 0) {
		free_list(l);
		return bad_value(p, key, v);
	}
	for (int i = 0; i < n; i++) {
		const char *const *k = names;
		while (*k && strcasecmp(*k, l[i]))
			k++;
		char *canon = *k ? strdup(*k) : NULL;
		if (!canon) {
			free_list(l);
			return *k ? no_mem(p) : bad_value(p, key, v);
		}
		free(l[i]);
		l[i] = canon;
	}
	free_list(*dst);
	*dst = l;
	return 0;
}

/* NetBIOS names and workgroups: 1..15 bytes without the characters NetBIOS forbids, stored upper
 * case as they go on the wire. */
static char *nb_name(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 15)
		return NULL;
	for (const char *s = v; *s; s++)
		if ((unsigned char)*s < 0x20 || strchr("\\/:*?\"<>|", *s))
			return NULL;
	char *r = strdup(v);
	for (char *s = r; s && *s; s++)
		*s = (char)toupper((unsigned char)*s);
	return r;
}

static int set_protocol(struct parser *p, const struct param *pm, const char *key, const char *v)
{
	bool is_max = pm->type == T_PROTO_MAX;
	uint16_t d = conf_parse_protocol(v, is_max);
	if (!d && !is_max && is_smb1_protocol(v)) {
		LOG_WARN(LOG_CORE, "%s:%d: SMB1 is not supported; '%s = %s' means SMB2_02", p->name,
			 p->line, key, v);
		d = SMB2_DIALECT_202;
	}
	if (!d)
		return bad_value(p, key, v);
	if (is_max) {
		p->c->max_protocol = d;
		p->max_line = p->line;
	} else {
		p->c->min_protocol = d;
		p->min_line = p->line;
	}
	return 0;
}

static int copy_share(struct parser *p, const char *key, const char *v)
{
	int i = find_share_idx(p->c, v);
	if (i < 0 || i == p->cur)
		return bad_value(p, key, v);
	if (share_copy_settings(&p->c->shares[p->cur], &p->c->shares[i]))
		return no_mem(p);
	return 0;
}

static int parse_octal(const char *v, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long m = strtoul(v, &end, 8);
	if (errno || !*v || *end || !isdigit((unsigned char)v[0]) || m > 07777)
		return -EINVAL;
	*out = (unsigned)m;
	return 0;
}

static int parse_int(const char *v, int max, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || !isdigit((unsigned char)v[0]) || *end || n < 0 || n > max)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

/* Simple typed values: base is the struct (conf or share) holding the field. */
static int set_simple(struct parser *p, const struct param *pm, void *field, const char *key,
		      const char *v)
{
	bool b;
	int iv;
	switch (pm->type) {
	case T_BOOL:
	case T_BOOL_NOT:
		if (parse_bool(v, &b))
			return bad_value(p, key, v);
		*(bool *)field = pm->type == T_BOOL_NOT ? !b : b;
		return 0;
	case T_CASE:
		if (!strcasecmp(v, "auto") || !strcasecmp(v, "default"))
			b = false;
		else if (parse_bool(v, &b))
			return bad_value(p, key, v);
		*(bool *)field = b;
		return 0;
	case T_STR:
		return set_string(p, field, strdup(v));
	case T_PATH:
		if (!*v)
			return bad_value(p, key, v);
		return set_string(p, field, make_path(p, v));
	case T_INT:
		if (parse_int(v, pm->max, &iv))
			return bad_value(p, key, v);
		*(int *)field = iv;
		return 0;
	case T_OCTAL:
		if (parse_octal(v, field))
			return bad_value(p, key, v);
		return 0;
	case T_SIGNING:
	case T_ENCRYPT:
		if (pm->type == T_SIGNING
			? parse_word(signing_words, NWORDS(signing_words), v, &iv)
			: parse_word(encrypt_words, NWORDS(encrypt_words), v, &iv))
			return bad_value(p, key, v);
		*(int *)field = iv; /* both enums are int-sized */
		return 0;
	default:
		return -EINVAL;
	}
}

static const char *const enc_alg_names[] = {"AES-128-GCM", "AES-128-CCM", "AES-256-GCM",
					    "AES-256-CCM", NULL};
static const char *const sign_alg_names[] = {"AES-128-GMAC", "AES-128-CMAC", "HMAC-SHA256", NULL};

/* Applies one parameter to base (a struct shoal_conf or a struct conf_share). */
static int apply(struct parser *p, const struct param *pm, void *base, size_t off, const char *key,
		 const char *v)
{
	void *field = (char *)base + off;
	struct conf_share *share = base;
	char *s;
	char **l;
	int rc, n;
	switch (pm->type) {
	case T_PORTS:
		return set_ports(p, key, v);
	case T_IFACES:
		return set_ifaces(p, key, v);
	case T_LOGLEVEL:
		if (log_check_levels(v))
			return bad_value(p, key, v);
		return set_string(p, field, strdup(v));
	case T_PROTO_MIN:
	case T_PROTO_MAX:
		return set_protocol(p, pm, key, v);
	case T_NBNAME:
		if (!(s = nb_name(v)))
			return bad_value(p, key, v);
		return set_string(p, field, s);
	case T_USERS:
		rc = split_list(v, &l, &n);
		if (rc)
			return rc == -ENOMEM ? no_mem(p) : bad_value(p, key, v);
		free_list(share->valid_users);
		share->valid_users = l;
		share->nvalid_users = n;
		return 0;
	case T_ENC_ALGS:
		return set_algs(p, key, v, enc_alg_names, field);
	case T_SIGN_ALGS:
		return set_algs(p, key, v, sign_alg_names, field);
	case T_COPY:
		return copy_share(p, key, v);
	case T_MGMT:
		return set_mgmt(p, key, v);
	default:
		return set_simple(p, pm, field, key, v);
	}
}

static const struct param *find_param(const char *norm)
{
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (name_is(norm, params[i].name))
			return &params[i];
	return NULL;
}

static bool is_ignored(const char *key, const char *norm)
{
	if (strchr(key, ':'))
		return true;
	for (size_t i = 0; i < sizeof(ignored_params) / sizeof(ignored_params[0]); i++)
		if (name_is(norm, ignored_params[i]))
			return true;
	return false;
}

/* A parameter of the [client] section; they have no meaning elsewhere. */
static int client_param(struct parser *p, const char *norm, const char *key, const char *v)
{
	struct conf_client *cl = &p->c->client;
	if (name_is(norm, "Smb3EncryptionEnabled"))
		return parse_bool(v, &cl->encryption_enabled) ? bad_value(p, key, v) : 0;
	if (name_is(norm, "Smb3EncryptionRequired"))
		return parse_bool(v, &cl->encryption_required) ? bad_value(p, key, v) : 0;
	if (name_is(norm, "MaxSmb2DialectVersion")) {
		uint16_t d = conf_parse_dialect_version(v);
		if (!d)
			return bad_value(p, key, v);
		cl->max_dialect = d;
		return 0;
	}
	LOG_WARN(LOG_CORE, "%s:%d: unknown parameter '%s' in [client] ignored", p->name, p->line,
		 key);
	return 0;
}

static int handle_param(struct parser *p, const char *key, const char *v)
{
	char norm[128];
	if (p->cur == CUR_SKIP)
		return 0;
	normalize_name(key, norm, sizeof(norm));
	if (p->cur == CUR_CLIENT)
		return client_param(p, norm, key, v);
	const struct param *pm = find_param(norm);
	if (!pm) {
		if (!is_ignored(key, norm))
			LOG_WARN(LOG_CORE, "%s:%d: unknown parameter '%s' ignored", p->name,
				 p->line, key);
		return 0;
	}
	if (p->cur == CUR_GLOBAL) {
		if (pm->type == T_COPY) {
			LOG_WARN(LOG_CORE, "%s:%d: 'copy' in [global] ignored", p->name, p->line);
			return 0;
		}
		int rc = 0;
		if (pm->goff != NOOFF)
			rc = apply(p, pm, p->c, pm->goff, key, v);
		if (!rc && pm->soff != NOOFF)
			rc = apply(p, pm, &p->tmpl, pm->soff, key, v);
		if (!rc && pm->goff == offsetof(struct shoal_conf, passdb))
			p->passdb_set = true;
		return rc;
	}
	if (pm->soff == NOOFF) {
		LOG_WARN(LOG_CORE, "%s:%d: global parameter '%s' in section [%s] ignored", p->name,
			 p->line, key, p->c->shares[p->cur].name);
		return 0;
	}
	return apply(p, pm, &p->c->shares[p->cur], pm->soff, key, v);
}

/* ---- sections and lines ------------------------------------------------------------------ */

static bool share_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 80 || utf16_len(n) < 0)
		return false;
	for (const char *s = n; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F || strchr("\"/\\[]:|<>+=;,*?", *s))
			return false;
	return true;
}

static int handle_section(struct parser *p, char *line)
{
	char *end = strchr(line, ']');
	if (!end)
		return perr(p, -EINVAL, "missing ']' in section header");
	char *rest = trim(end + 1);
	if (*rest && *rest != '#' && *rest != ';')
		return perr(p, -EINVAL, "unexpected text after section header");
	*end = 0;
	char *name = trim(line + 1);
	if (!strcasecmp(name, "global")) {
		p->cur = CUR_GLOBAL;
		return 0;
	}
	if (!strcasecmp(name, "client")) {
		p->cur = CUR_CLIENT;
		return 0;
	}
	if (!strcasecmp(name, "homes") || !strcasecmp(name, "printers")) {
		LOG_WARN(LOG_CORE, "%s:%d: section [%s] is not supported; ignored", p->name,
			 p->line, name);
		p->cur = CUR_SKIP;
		return 0;
	}
	if (!share_name_ok(name))
		return perr(p, -EINVAL, "invalid share name '%s'", name);
	int i = find_share_idx(p->c, name);
	if (i < 0) {
		i = add_share(p, name);
		if (i < 0)
			return no_mem(p);
		if (utf8_case_equal(name, "IPC$"))
			p->c->shares[i].is_ipc = true;
	}
	p->cur = i;
	return 0;
}

static int handle_line(struct parser *p, char *line)
{
	line = trim(line);
	if (!*line)
		return 0;
	if (*line == '[')
		return handle_section(p, line);
	char *eq = strchr(line, '=');
	if (!eq || eq == line) {
		LOG_WARN(LOG_CORE, "%s:%d: ignoring line without 'name = value'", p->name, p->line);
		return 0;
	}
	*eq = 0;
	return handle_param(p, trim(line), trim(eq + 1));
}

/* Splits text into logical lines (joining backslash continuations) and handles each. */
static int parse_text(struct parser *p, const char *text)
{
	size_t cap = 256, len = 0;
	char *buf = malloc(cap);
	int lineno = 0, rc = 0;
	bool cont = false; /* the previous physical line ended in a backslash */
	if (!buf)
		return no_mem(p);
	if (!strncmp(text, "\xEF\xBB\xBF", 3))
		text += 3; /* a UTF-8 byte order mark from a Windows editor */
	for (const char *s = text; *s && !rc;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		const char *q = s;
		s = nl ? nl + 1 : s + n;
		lineno++;
		if (!cont) {
			p->line = lineno;
			while (n && is_ws(*q))
				q++, n--;
			if (n && (*q == '#' || *q == ';'))
				continue;
		} else {
			while (n && is_ws(*q))
				q++,
				    n--; /* a continuation's indentation is not part of the value */
		}
		while (n && (q[n - 1] == '\r'))
			n--;
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return no_mem(p);
			}
			buf = nb;
		}
		memcpy(buf + len, q, n);
		len += n;
		cont = len && buf[len - 1] == '\\' && *s;
		if (cont) {
			len--;
			continue;
		}
		if (len && buf[len - 1] == '\\')
			len--; /* a backslash on the last line of the file joins nothing */
		buf[len] = 0;
		len = 0;
		rc = handle_line(p, buf);
	}
	free(buf);
	return rc;
}

/* ---- finishing --------------------------------------------------------------------------- */

static char *default_netbios_name(void)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) || !host[0])
		strcpy(host, "SHOAL");
	host[strcspn(host, ".")] = 0;
	host[15] = 0;
	char *r = nb_name(host);
	return r ? r : strdup("SHOAL");
}

static int finish_ipc(struct parser *p)
{
	struct shoal_conf *c = p->c;
	int i = find_share_idx(c, "IPC$");
	if (i < 0) {
		struct conf_share ipc;
		share_defaults(&ipc);
		struct conf_share *ns = realloc(c->shares, ((size_t)c->nshares + 1) * sizeof(*ns));
		if (!ns)
			return no_mem(p);
		c->shares = ns;
		ipc.name = strdup("IPC$");
		if (!ipc.name)
			return no_mem(p);
		ipc.smb_encrypt = c->server_encrypt;
		c->shares[c->nshares] = ipc;
		i = c->nshares++;
	}
	struct conf_share *s = &c->shares[i];
	s->is_ipc = true;
	free(s->path);
	s->path = NULL; /* IPC$ serves named pipes, never files */
	if (!s->comment) {
		size_t n = strlen(c->server_string) + 32;
		if (!(s->comment = malloc(n)))
			return no_mem(p);
		snprintf(s->comment, n, "IPC Service (%s)", c->server_string);
	}
	return 0;
}

static int finish(struct parser *p)
{
	struct shoal_conf *c = p->c;
	for (int i = 0; i < c->nshares; i++) {
		struct conf_share *s = &c->shares[i];
		if (!s->is_ipc && !s->path) {
			p->line = p->share_lines[i];
			return perr(p, -EINVAL, "share '%s' has no path", s->name);
		}
		if (!s->is_ipc && !s->comment && !(s->comment = strdup("")))
			return no_mem(p);
	}
	if (c->min_protocol > c->max_protocol) {
		p->line = p->min_line > p->max_line ? p->min_line : p->max_line;
		return perr(p, -EINVAL, "server min protocol %s is above server max protocol %s",
			    conf_protocol_name(c->min_protocol),
			    conf_protocol_name(c->max_protocol));
	}
	if (!c->netbios_name && !(c->netbios_name = default_netbios_name()))
		return no_mem(p);
	if (!p->passdb_set) {
		size_t n = strlen(c->state_dir) + sizeof("/users.db");
		free(c->passdb);
		if (!(c->passdb = malloc(n)))
			return no_mem(p);
		snprintf(c->passdb, n, "%s/users.db",
			 strcmp(c->state_dir, "/") ? c->state_dir : "");
	}
	if (!c->mgmt_off && !c->mgmt_host && !(c->mgmt_host = strdup("127.0.0.1")))
		return no_mem(p);
	if (!c->mgmt_off && !c->mgmt_port) {
		/* next to the SMB port; the last port number has no neighbour, so no API there */
		c->mgmt_port = c->ports[0] < 65535 ? (uint16_t)(c->ports[0] + 1) : 0;
		if (!c->mgmt_port) {
			free(c->mgmt_host);
			c->mgmt_host = NULL;
			c->mgmt_off = true;
		}
	}
	return finish_ipc(p);
}

static int load(const char *text, const char *name, const char *base_dir, struct shoal_conf **out,
		char *err, size_t errlen)
{
	struct parser p = {.name = name, .err = err, .errlen = errlen, .cur = CUR_GLOBAL};
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	share_defaults(&p.tmpl);
	p.c = conf_new(name);
	p.base_dir = strdup(base_dir);
	int rc = (!p.c || !p.base_dir) ? no_mem(&p) : parse_text(&p, text);
	if (!rc)
		rc = finish(&p);
	share_free(&p.tmpl);
	free(p.share_lines);
	free(p.base_dir);
	if (rc) {
		conf_free(p.c);
		return rc;
	}
	*out = p.c;
	return 0;
}

int conf_load_string(const char *text, const char *name, struct shoal_conf **out, char *err,
		     size_t errlen)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	return load(text, name ? name : "(embedded default)", cwd, out, err, errlen);
}

static int read_file(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st)) {
		rc = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
	} else if (st.st_size > (off_t)CONF_MAX_FILE) {
		rc = -EFBIG;
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = -ENOMEM;
	} else {
		size_t got = 0;
		ssize_t r;
		while (got < (size_t)st.st_size &&
		       (r = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = -errno;
				break;
			}
			got += (size_t)r;
		}
		buf[got] = 0;
		if (!rc && memchr(buf, 0, got))
			rc = -EINVAL;
	}
	close(fd);
	if (rc)
		free(buf);
	else
		*out = buf;
	return rc;
}

int conf_load_file(const char *path, struct shoal_conf **out, char *err, size_t errlen)
{
	char *text = NULL;
	*out = NULL;
	int rc = read_file(path, &text);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s:0: %s", path,
				 rc == -EINVAL ? "file contains a NUL byte" : strerror(-rc));
		return rc;
	}
	/* the directory of the file, absolute, for relative share paths */
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == path) {
		strcpy(dir, "/");
	} else if (path[0] == '/') {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	} else {
		char cwd[4096];
		if (!getcwd(cwd, sizeof(cwd)))
			strcpy(cwd, "/");
		if (slash)
			snprintf(dir, sizeof(dir), "%s/%.*s", cwd, (int)(slash - path), path);
		else
			snprintf(dir, sizeof(dir), "%s", cwd);
	}
	rc = load(text, path, dir, out, err, errlen);
	free(text);
	return rc;
}

/* ---- access ------------------------------------------------------------------------------ */

bool conf_user_allowed(const struct conf_share *s, const char *user, const char *const *groups)
{
	if (!s->valid_users || s->nvalid_users == 0)
		return true;
	for (int i = 0; i < s->nvalid_users; i++) {
		const char *e = s->valid_users[i];
		/* "@g" (netgroup, then unix group), "+g" (unix group), "&g" (netgroup) and their
		 * combinations all name a group for shoal, which has no netgroups */
		const char *g = e;
		while (*g == '@' || *g == '+' || *g == '&')
			g++;
		if (g == e) {
			if (user && utf8_case_equal(e, user))
				return true;
			continue;
		}
		for (const char *const *q = groups; q && *q; q++)
			if (utf8_case_equal(g, *q))
				return true;
	}
	return false;
}
