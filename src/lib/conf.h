/* shoal's configuration: smb.conf syntax ([global] plus one section per share).
 *
 * A loaded configuration is immutable and reference counted: the server swaps in a new one on
 * SIGHUP, and requests in flight keep the one they started with (conf_get/conf_put). Unknown
 * parameters are logged with file and line and ignored; an invalid value of a known parameter
 * makes loading fail with a one-line reason "FILE:LINE: ...". */
#ifndef SHOAL_LIB_CONF_H
#define SHOAL_LIB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Dialects as on the wire (MS-SMB2 2.2.3). */
#define SMB2_DIALECT_202 0x0202
#define SMB2_DIALECT_210 0x0210
#define SMB2_DIALECT_300 0x0300
#define SMB2_DIALECT_302 0x0302
#define SMB2_DIALECT_311 0x0311

enum conf_signing { CONF_SIGNING_DISABLED, CONF_SIGNING_AUTO, CONF_SIGNING_MANDATORY };
/* smb.conf's "server smb encrypt" / "smb encrypt" (consumed by the encryption issue). */
enum conf_encrypt { CONF_ENC_OFF, CONF_ENC_IF_REQUIRED, CONF_ENC_DESIRED, CONF_ENC_REQUIRED };

struct conf_share {
	char *name;        /* as written in the section header; compared case-insensitively */
	char *path;        /* absolute path; NULL only for IPC$ */
	char *comment;     /* "" if unset */
	bool read_only;    /* default true, as in smb.conf ("writeable = yes" / "writable" invert it) */
	bool browseable;   /* default true ("browsable" is an alias) */
	bool is_ipc;       /* the built-in IPC$ share */
	char **valid_users; /* NULL-terminated list or NULL (= everyone); "@group" entries allowed */
	int nvalid_users;
	enum conf_encrypt smb_encrypt; /* "smb encrypt", default CONF_ENC_IF_REQUIRED ("default") */
	bool hide_unreadable;          /* "hide unreadable" */
	bool case_sensitive;           /* "case sensitive", default false */
	unsigned create_mask;          /* "create mask", default 0744 */
	unsigned directory_mask;       /* "directory mask", default 0755 */
	bool durable_handles;          /* "durable handles", default true: grant DHnQ/DH2Q */
	bool oplocks;                  /* "oplocks", default true */
};

/* The [client] section: settings of the client library and shoal-smb, under the names that
 * administrators of scale-out NAS already use. */
struct conf_client {
	bool encryption_enabled;  /* "Smb3EncryptionEnabled", default true: encrypt when offered */
	bool encryption_required; /* "Smb3EncryptionRequired", default false */
	uint16_t max_dialect;     /* "MaxSmb2DialectVersion": max (= 3.1.1), 2.0.2, 2.1, 3.0, 3.0.2,
				     3.1.1; default 3.1.1 */
};

struct shoal_conf {
	int refs;               /* managed by conf_get/conf_put */
	char *source;           /* file name, or "(embedded default)" */
	uint16_t ports[8];      /* "smb ports", default 445 */
	int nports;
	char **interfaces;      /* "interfaces": addresses to bind ("127.0.0.1", "::1", "0.0.0.0",
				   "192.168.1.5/24" -> address part); NULL-terminated; NULL = all */
	int ninterfaces;
	char *state_dir;        /* "state directory", default /var/lib/shoal */
	char *log_level;        /* "log level" as written ("1", "3 smb2:5"), validated */
	char *log_file;         /* "log file", NULL = stderr */
	uint16_t min_protocol;  /* "server min protocol", default SMB2_02 */
	uint16_t max_protocol;  /* "server max protocol", default SMB3_11 */
	enum conf_signing signing; /* "server signing", default auto */
	enum conf_encrypt server_encrypt; /* "server smb encrypt", default if_required */
	char *netbios_name;     /* "netbios name", default gethostname() upper-cased, first label */
	char *workgroup;        /* "workgroup", default WORKGROUP */
	char *server_string;    /* "server string", default "shoal" */
	char *passdb;           /* "passdb file", default STATE_DIR/users.db */
	/* Limits (docs/ARCHITECTURE.md, Robustness); 0 lifts the last three. */
	int max_connections;    /* "max connections": accepted connections at once, default 0 =
				   half the descriptor limit (RLIMIT_NOFILE, whose soft
				   limit shoald raises to the hard one) */
	int max_sessions_per_conn; /* "max sessions per connection", default 64; past it
				      SESSION_SETUP gets STATUS_INSUFFICIENT_RESOURCES */
	int max_open_files;     /* "max open files": opens per session, default 16384; past it
				   CREATE gets STATUS_TOO_MANY_OPENED_FILES */
	int handshake_timeout;  /* "handshake timeout": seconds a connection may stay without an
				   authenticated session, default 60 */
	int max_async_requests; /* "max async requests": requests one connection may keep waiting
				   (change notify, blocked locks, creates held by breaks), default
				   4096; past it the request gets STATUS_INSUFFICIENT_RESOURCES */
	int worker_threads;     /* "worker threads": threads in all, default 0 = four per core */
	int poll_us;            /* "poll microseconds": how long a loop that has gone quiet polls
				   for the next request before its thread sleeps, default 50;
				   0: never (src/server/net.c wait_event) */
	bool smbtorture_fsctls;  /* "smbtorture fsctls", default no: answer smbtorture's test-only
				    FSCTL_SMBTORTURE_* codes (smb2_torture.c); test servers only */
	int oplock_break_timeout_ms; /* "oplock break timeout" (ms): how long an oplock or lease
					break waits for its acknowledgement; default 35000 */
	bool multi_channel;     /* "server multi channel support": SMB2_GLOBAL_CAP_MULTI_CHANNEL and
				   session binding on 3.x, default yes (docs/ARCHITECTURE.md,
				   Multichannel) */
	int durable_timeout;    /* "durable handle timeout" (s, default 60): how long a v1 durable
				   open (or a v2 one asking no timeout) outlives its connection */
	int durable_max_timeout; /* "durable handle max timeout" (s, default 300): the most a v2
				    open may ask for */
	char **encryption_algorithms; /* "server smb3 encryption algorithms", NULL = default */
	char **signing_algorithms;    /* "server smb3 signing algorithms", NULL = default */
	/* "management address": where the REST API listens, "HOST[:PORT]" ("[V6][:PORT]") or "off".
	   Default 127.0.0.1 and the first smb port + 1, so shoalctl finds it from the same file. */
	bool mgmt_off;
	char *mgmt_host;        /* address literal without brackets; NULL when mgmt_off */
	uint16_t mgmt_port;
	struct conf_share *shares;    /* IPC$ is always present, added by the loader */
	int nshares;
	struct conf_client client;    /* the [client] section (not a share) */
};

#define CONF_DEFAULT_MAX_SESSIONS 64
#define CONF_DEFAULT_MAX_OPEN_FILES 16384
#define CONF_DEFAULT_MAX_ASYNC_REQUESTS 4096
#define CONF_DEFAULT_HANDSHAKE_TIMEOUT 60

/* Parses a file; on success *out has refs == 1. On failure returns -EINVAL (or -errno when the
 * file cannot be read) and writes "FILE:LINE: reason" into err. */
int conf_load_file(const char *path, struct shoal_conf **out, char *err, size_t errlen);
/* Same for text held in memory; name is used in messages. */
int conf_load_string(const char *text, const char *name, struct shoal_conf **out, char *err,
		     size_t errlen);
struct shoal_conf *conf_get(struct shoal_conf *c); /* atomic ref++ */
void conf_put(struct shoal_conf *c);               /* atomic ref--, frees at 0 */
/* Case-insensitive share lookup; NULL if absent. */
const struct conf_share *conf_find_share(const struct shoal_conf *c, const char *name);
/* "SMB3_11" -> 0x0311 etc. (SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11, plus "SMB2" and "SMB3"
 * which mean SMB2_10/SMB3_11 as a maximum and SMB2_02/SMB3_00 as a minimum); 0 if unknown. */
uint16_t conf_parse_protocol(const char *s, bool is_max);
const char *conf_protocol_name(uint16_t dialect); /* 0x0311 -> "SMB3_11" */
/* MaxSmb2DialectVersion's values: "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1" or "max" (= 0x0311);
 * 0 if unknown. */
uint16_t conf_parse_dialect_version(const char *s);
/* True if user (and the given groups by name) may use the share per "valid users". */
bool conf_user_allowed(const struct conf_share *s, const char *user, const char *const *groups);

#endif
