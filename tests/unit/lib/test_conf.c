/* Unit tests for lib/conf.h: the smb.conf reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/log.h"

/* A copy of the shared Samba reference configuration (samba-reference-smb.conf): a real-world
 * file that must load without an error and without a single warning. */
static const char reference_conf[] =
    "# Private Samba 4.17 anchor instance for SMB2/3 oracle testing.\n"
    "[global]\n"
    "    workgroup = WORKGROUP\n"
    "    netbios name = ORACLESMB\n"
    "    server role = standalone server\n"
    "    security = user\n"
    "    map to guest = never\n"
    "    passdb backend = tdbsam:/srv/smbref/samba/private/passdb.tdb\n"
    "    private dir = /srv/smbref/samba/private\n"
    "    lock directory = /srv/smbref/samba/lock\n"
    "    state directory = /srv/smbref/samba/state\n"
    "    cache directory = /srv/smbref/samba/cache\n"
    "    pid directory = /srv/smbref/samba/pid\n"
    "    ncalrpc dir = /srv/smbref/samba/ncalrpc\n"
    "    log file = /srv/smbref/samba/log/log.%m\n"
    "    max log size = 10000\n"
    "    log level = 1\n"
    "\n"
    "    # --- network: loopback, custom port only ---\n"
    "    smb ports = 14450\n"
    "    interfaces = 127.0.0.1/8\n"
    "    bind interfaces only = yes\n"
    "    disable netbios = yes\n"
    "    load printers = no\n"
    "    printing = bsd\n"
    "    printcap name = /dev/null\n"
    "    disable spoolss = yes\n"
    "    server min protocol = SMB2_02\n"
    "    server max protocol = SMB3_11\n"
    "    client min protocol = SMB2_02\n"
    "    server signing = auto\n"
    "    server smb encrypt = if_required\n"
    "    server multi channel support = yes\n"
    "    smb2 leases = yes\n"
    "    smbd:FSCTL_SMBTORTURE = yes\n"
    "    smbd:sharedelay = 100000\n"
    "    smbd:writetimeupdatedelay = 500000\n"
    "    kernel oplocks = no\n"
    "    kernel share modes = no\n"
    "    kernel change notify = no\n"
    "    posix locking = no\n"
    "    map hidden = no\n"
    "    map system = no\n"
    "    map readonly = no\n"
    "    store dos attributes = yes\n"
    "    dos filemode = yes\n"
    "    strict rename = yes\n"
    "    strict sync = yes\n"
    "    mangled names = yes\n"
    "    ea support = yes\n"
    "\n"
    "[test]\n"
    "    path = /srv/smbref/share\n"
    "    read only = no\n"
    "    guest ok = no\n"
    "    create mask = 0755\n"
    "    # xattr_tdb keeps NT ACLs out of ext4 inodes\n"
    "    vfs objects = acl_xattr xattr_tdb streams_depot\n"
    "    xattr_tdb:file = /srv/smbref/samba/state/xattr.tdb\n"
    "    durable handles = yes\n"
    "    oplocks = yes\n"
    "    level2 oplocks = yes\n"
    "\n"
    "[hideunread]\n"
    "    copy = test\n"
    "    hide unreadable = yes\n"
    "\n"
    "[noperm]\n"
    "    path = /srv/smbref/noperm\n"
    "    read only = no\n"
    "    wide links = yes\n"
    "\n"
    "[scratch]\n"
    "    path = /srv/smbref/scratch\n"
    "    read only = no\n"
    "    vfs objects = acl_xattr streams_depot\n"
    "\n"
    "[enc]\n"
    "    path = /srv/smbref/encshare\n"
    "    read only = no\n"
    "    server smb encrypt = required\n"
    "    vfs objects = acl_xattr streams_depot\n";

static char log_path[64];

/* Sends log lines to a temporary file so tests can look at the warnings. */
static int setup(void **st)
{
	(void)st;
	strcpy(log_path, "/tmp/shoal-test-conf-XXXXXX");
	int fd = mkstemp(log_path);
	if (fd < 0)
		return -1;
	close(fd);
	log_set_level(1);
	return log_set_file(log_path);
}

static int teardown(void **st)
{
	(void)st;
	log_set_file("/dev/null");
	unlink(log_path);
	return 0;
}

static void log_clear(void)
{
	assert_int_equal(truncate(log_path, 0), 0);
}

static char *log_read(void)
{
	static char buf[8192];
	FILE *f = fopen(log_path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static struct shoal_conf *load_ok(const char *text)
{
	struct shoal_conf *c = NULL;
	char err[256] = "";
	int rc = conf_load_string(text, "t.conf", &c, err, sizeof(err));
	if (rc)
		fprintf(stderr, "unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(c);
	assert_int_equal(c->refs, 1);
	return c;
}

static void load_fail(const char *text, const char *want)
{
	struct shoal_conf *c = (struct shoal_conf *)1;
	char err[256] = "";
	int rc = conf_load_string(text, "t.conf", &c, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_null(c);
	if (strcmp(err, want))
		fprintf(stderr, "for:\n%s\ngot:  %s\nwant: %s\n", text, err, want);
	assert_string_equal(err, want);
}

static void t_reference(void **st)
{
	(void)st;
	log_clear();
	struct shoal_conf *c = load_ok(reference_conf);
	assert_string_equal(log_read(), ""); /* not one warning */
	assert_string_equal(c->source, "t.conf");
	assert_int_equal(c->nports, 1);
	assert_int_equal(c->ports[0], 14450);
	assert_int_equal(c->ninterfaces, 1);
	assert_string_equal(c->interfaces[0], "127.0.0.1");
	assert_null(c->interfaces[1]);
	assert_string_equal(c->netbios_name, "ORACLESMB");
	assert_false(c->smbtorture_fsctls); /* smbd:FSCTL_SMBTORTURE is Samba's, not ours */
	assert_string_equal(c->workgroup, "WORKGROUP");
	assert_string_equal(c->state_dir, "/srv/smbref/samba/state");
	assert_string_equal(c->passdb, "/srv/smbref/samba/state/users.db");
	assert_string_equal(c->log_file, "/srv/smbref/samba/log/log.%m");
	assert_string_equal(c->log_level, "1");
	assert_int_equal(c->min_protocol, SMB2_DIALECT_202);
	assert_int_equal(c->max_protocol, SMB2_DIALECT_311);
	assert_int_equal(c->signing, CONF_SIGNING_AUTO);
	assert_int_equal(c->server_encrypt, CONF_ENC_IF_REQUIRED);
	assert_int_equal(c->nshares, 6);

	const struct conf_share *t = conf_find_share(c, "TEST");
	assert_non_null(t);
	assert_string_equal(t->name, "test");
	assert_string_equal(t->path, "/srv/smbref/share");
	assert_string_equal(t->comment, "");
	assert_false(t->read_only);
	assert_int_equal(t->create_mask, 0755);
	assert_int_equal(t->directory_mask, 0755);
	assert_true(t->durable_handles);
	assert_true(t->oplocks);
	assert_false(t->hide_unreadable);
	assert_false(t->is_ipc);

	const struct conf_share *h = conf_find_share(c, "hideunread");
	assert_non_null(h);
	assert_string_equal(h->name, "hideunread");
	assert_string_equal(h->path, "/srv/smbref/share");
	assert_ptr_not_equal(h->path, t->path);
	assert_false(h->read_only);
	assert_true(h->hide_unreadable);
	assert_int_equal(h->create_mask, 0755);

	const struct conf_share *e = conf_find_share(c, "enc");
	assert_int_equal(e->smb_encrypt, CONF_ENC_REQUIRED);
	assert_int_equal(t->smb_encrypt, CONF_ENC_IF_REQUIRED);
	assert_string_equal(conf_find_share(c, "noperm")->path, "/srv/smbref/noperm");
	assert_string_equal(conf_find_share(c, "scratch")->path, "/srv/smbref/scratch");

	const struct conf_share *ipc = conf_find_share(c, "ipc$");
	assert_non_null(ipc);
	assert_true(ipc->is_ipc);
	assert_null(ipc->path);
	assert_string_equal(ipc->comment, "IPC Service (shoal)");
	assert_null(conf_find_share(c, "nosuch"));
	assert_null(conf_find_share(c, "homes"));
	conf_put(c);
}

/* The shared file itself, when this machine has it. */
static void t_reference_file(void **st)
{
	(void)st;
	const char *path = "/work/shared/conformance/samba-reference-smb.conf";
	if (access(path, R_OK)) {
		skip();
		return;
	}
	struct shoal_conf *c = NULL;
	char err[256] = "";
	int rc = conf_load_file(path, &c, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(conf_find_share(c, "enc"));
	assert_string_equal(c->source, path);
	conf_put(c);
}

static void t_defaults(void **st)
{
	(void)st;
	struct shoal_conf *c = load_ok("");
	assert_int_equal(c->nports, 1);
	assert_int_equal(c->ports[0], 445);
	assert_null(c->interfaces);
	assert_int_equal(c->ninterfaces, 0);
	assert_string_equal(c->state_dir, "/var/lib/shoal");
	assert_string_equal(c->passdb, "/var/lib/shoal/users.db");
	assert_null(c->log_file);
	assert_int_equal(c->min_protocol, SMB2_DIALECT_202);
	assert_int_equal(c->max_protocol, SMB2_DIALECT_311);
	assert_int_equal(c->signing, CONF_SIGNING_AUTO);
	assert_int_equal(c->server_encrypt, CONF_ENC_IF_REQUIRED);
	assert_string_equal(c->workgroup, "WORKGROUP");
	assert_string_equal(c->server_string, "shoal");
	assert_int_equal(c->max_connections, 0);
	assert_int_equal(c->max_sessions_per_conn, CONF_DEFAULT_MAX_SESSIONS);
	assert_int_equal(c->max_open_files, CONF_DEFAULT_MAX_OPEN_FILES);
	assert_int_equal(c->handshake_timeout, CONF_DEFAULT_HANDSHAKE_TIMEOUT);
	assert_true(c->multi_channel);
	assert_int_equal(c->worker_threads, 0);
	assert_false(c->smbtorture_fsctls); /* test-only FSCTLs: opt-in */
	assert_null(c->encryption_algorithms);
	assert_null(c->signing_algorithms);
	size_t nl = strlen(c->netbios_name);
	assert_true(nl >= 1 && nl <= 15);
	assert_null(strchr(c->netbios_name, '.'));
	for (const char *s = c->netbios_name; *s; s++)
		assert_false(*s >= 'a' && *s <= 'z');
	assert_int_equal(c->nshares, 1);
	assert_true(c->shares[0].is_ipc);
	conf_put(c);

	c = load_ok("smbtorture fsctls = yes\n");
	assert_true(c->smbtorture_fsctls);
	conf_put(c);

	c = load_ok("[s]\npath=/x\n");
	const struct conf_share *s = conf_find_share(c, "s");
	assert_true(s->read_only);
	assert_true(s->browseable);
	assert_false(s->is_ipc);
	assert_null(s->valid_users);
	assert_int_equal(s->nvalid_users, 0);
	assert_int_equal(s->smb_encrypt, CONF_ENC_IF_REQUIRED);
	assert_false(s->hide_unreadable);
	assert_false(s->case_sensitive);
	assert_int_equal(s->create_mask, 0744);
	assert_int_equal(s->directory_mask, 0755);
	assert_true(s->durable_handles);
	assert_true(s->oplocks);
	assert_string_equal(s->comment, "");
	conf_put(c);
}

static void t_aliases(void **st)
{
	(void)st;
	struct shoal_conf *c =
	    load_ok("Server_Min_Protocol = SMB3_00\n"
		    "servermax PROTOCOL = smb3_02\n"
		    "Server Signing = Mandatory\n"
		    "smb encrypt = desired\n"
		    "[a]\n path = /a\n writeable = yes\n browsable = no\n"
		    "[b]\n path = /b\n writable = no\n casesignames = yes\n"
		    "[c]\n path = /c\n write ok = yes\n directory mode = 0700\n"
		    " create mode = 600\n case sensitive = auto\n"
		    "[d]\n directory = /d\n read_only = false\n READONLY = on\n");
	assert_int_equal(c->min_protocol, SMB2_DIALECT_300);
	assert_int_equal(c->max_protocol, SMB2_DIALECT_302);
	assert_int_equal(c->signing, CONF_SIGNING_MANDATORY);
	assert_int_equal(c->server_encrypt, CONF_ENC_DESIRED);
	const struct conf_share *a = conf_find_share(c, "a"), *b = conf_find_share(c, "b");
	const struct conf_share *cc = conf_find_share(c, "c"), *d = conf_find_share(c, "d");
	assert_false(a->read_only);
	assert_false(a->browseable);
	assert_int_equal(a->smb_encrypt, CONF_ENC_DESIRED); /* from [global] */
	assert_true(b->read_only);
	assert_true(b->case_sensitive);
	assert_false(cc->read_only);
	assert_int_equal(cc->directory_mask, 0700);
	assert_int_equal(cc->create_mask, 0600);
	assert_false(cc->case_sensitive);
	assert_string_equal(d->path, "/d");
	assert_true(d->read_only);
	conf_put(c);

	c = load_ok("min protocol = SMB2\nmax protocol = SMB2\n");
	assert_int_equal(c->min_protocol, SMB2_DIALECT_202);
	assert_int_equal(c->max_protocol, SMB2_DIALECT_210);
	conf_put(c);
	c = load_ok("server min protocol = NT1\nprotocol = SMB3\nserver signing = disabled\n"
		    "server smb encrypt = off\n");
	assert_int_equal(c->min_protocol, SMB2_DIALECT_202);
	assert_int_equal(c->max_protocol, SMB2_DIALECT_311);
	assert_int_equal(c->signing, CONF_SIGNING_DISABLED);
	assert_int_equal(c->server_encrypt, CONF_ENC_OFF);
	conf_put(c);
}

static void t_words(void **st)
{
	(void)st;
	static const struct {
		const char *v;
		int sign; /* -1: invalid */
		int enc;
	} w[] = {
	    {"disabled", CONF_SIGNING_DISABLED, CONF_ENC_OFF},
	    {"no", CONF_SIGNING_DISABLED, CONF_ENC_OFF},
	    {"OFF", CONF_SIGNING_DISABLED, CONF_ENC_OFF},
	    {"auto", CONF_SIGNING_AUTO, CONF_ENC_IF_REQUIRED},
	    {"default", CONF_SIGNING_AUTO, CONF_ENC_IF_REQUIRED},
	    {"if_required", CONF_SIGNING_AUTO, CONF_ENC_IF_REQUIRED},
	    {"enabled", CONF_SIGNING_AUTO, CONF_ENC_DESIRED},
	    {"yes", CONF_SIGNING_AUTO, CONF_ENC_DESIRED},
	    {"desired", CONF_SIGNING_AUTO, CONF_ENC_DESIRED},
	    {"mandatory", CONF_SIGNING_MANDATORY, CONF_ENC_REQUIRED},
	    {"required", CONF_SIGNING_MANDATORY, CONF_ENC_REQUIRED},
	    {"forced", CONF_SIGNING_MANDATORY, CONF_ENC_REQUIRED},
	    {"maybe", -1, -1},
	    {"", -1, -1},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		char text[128], want[128];
		snprintf(text, sizeof(text), "server signing = %s\n", w[i].v);
		if (w[i].sign < 0) {
			snprintf(want, sizeof(want),
				 "t.conf:1: invalid value '%s' for 'server signing'", w[i].v);
			load_fail(text, want);
		} else {
			struct shoal_conf *c = load_ok(text);
			assert_int_equal(c->signing, w[i].sign);
			conf_put(c);
		}
		snprintf(text, sizeof(text), "[s]\npath=/s\nsmb encrypt = %s\n", w[i].v);
		if (w[i].enc < 0) {
			snprintf(want, sizeof(want),
				 "t.conf:3: invalid value '%s' for 'smb encrypt'", w[i].v);
			load_fail(text, want);
		} else {
			struct shoal_conf *c = load_ok(text);
			assert_int_equal(conf_find_share(c, "s")->smb_encrypt, w[i].enc);
			assert_int_equal(c->server_encrypt, CONF_ENC_IF_REQUIRED);
			conf_put(c);
		}
	}
	static const char *const yes[] = {"yes", "true", "1", "on", "YES", "True"};
	static const char *const no[] = {"no", "false", "0", "off", "No", "FALSE"};
	for (size_t i = 0; i < 6; i++) {
		char text[128];
		snprintf(text, sizeof(text), "[s]\npath=/s\noplocks=%s\nhide unreadable=%s\n",
			 no[i], yes[i]);
		struct shoal_conf *c = load_ok(text);
		assert_false(conf_find_share(c, "s")->oplocks);
		assert_true(conf_find_share(c, "s")->hide_unreadable);
		conf_put(c);
	}
}

static void t_lists(void **st)
{
	(void)st;
	struct shoal_conf *c =
	    load_ok("smb ports = 445 139,14450\n"
		    "interfaces = lo eth0, 192.168.1.5/24;10.0.0.1/255.0.0.0 ::1 fe80::1/64\n"
		    "server smb3 encryption algorithms = aes-256-gcm AES-128-CCM\n"
		    "server smb3 signing algorithms = AES-128-GMAC, hmac-sha256\n"
		    "max connections = 100\nworker threads = 8\n"
		    "max sessions per connection = 2\nmax open files = 0\nhandshake timeout = 5\n"
		    "netbios name = myhost\nworkgroup = corp\nserver string = My \"box\"\n"
		    "log level = 3 smb2:5 auth:10\nserver multi channel support = no\n");
	assert_false(c->multi_channel);
	assert_int_equal(c->nports, 3);
	assert_int_equal(c->ports[0], 445);
	assert_int_equal(c->ports[1], 139);
	assert_int_equal(c->ports[2], 14450);
	assert_int_equal(c->ninterfaces, 6);
	static const char *const want[] = {"lo",       "eth0", "192.168.1.5",
					   "10.0.0.1", "::1",  "fe80::1"};
	for (int i = 0; i < 6; i++)
		assert_string_equal(c->interfaces[i], want[i]);
	assert_null(c->interfaces[6]);
	assert_string_equal(c->encryption_algorithms[0], "AES-256-GCM");
	assert_string_equal(c->encryption_algorithms[1], "AES-128-CCM");
	assert_null(c->encryption_algorithms[2]);
	assert_string_equal(c->signing_algorithms[0], "AES-128-GMAC");
	assert_string_equal(c->signing_algorithms[1], "HMAC-SHA256");
	assert_int_equal(c->max_connections, 100);
	assert_int_equal(c->max_sessions_per_conn, 2);
	assert_int_equal(c->max_open_files, 0);
	assert_int_equal(c->handshake_timeout, 5);
	assert_int_equal(c->worker_threads, 8);
	assert_string_equal(c->netbios_name, "MYHOST");
	assert_string_equal(c->workgroup, "CORP");
	assert_string_equal(c->server_string, "My \"box\"");
	assert_string_equal(c->log_level, "3 smb2:5 auth:10");
	assert_string_equal(conf_find_share(c, "IPC$")->comment, "IPC Service (My \"box\")");
	/* validating "log level" must not apply it */
	assert_int_equal(log_levels[LOG_AUTH], 1);
	conf_put(c);
}

static void t_invalid(void **st)
{
	(void)st;
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
	    {"server min protocol = SMB4\n",
	     "t.conf:1: invalid value 'SMB4' for 'server min protocol'"},
	    {"\n\n  Server Max Protocol =  NT1 \n",
	     "t.conf:3: invalid value 'NT1' for 'Server Max Protocol'"},
	    {"server min protocol = SMB3_11\nserver max protocol = SMB2_10\n",
	     "t.conf:2: server min protocol SMB3_11 is above server max protocol SMB2_10"},
	    {"server signing = sometimes\n",
	     "t.conf:1: invalid value 'sometimes' for 'server signing'"},
	    {"server smb encrypt = strong\n",
	     "t.conf:1: invalid value 'strong' for 'server smb encrypt'"},
	    {"smb ports = 0\n", "t.conf:1: invalid value '0' for 'smb ports'"},
	    {"smb ports = 65536\n", "t.conf:1: invalid value '65536' for 'smb ports'"},
	    {"smb ports = 445x\n", "t.conf:1: invalid value '445x' for 'smb ports'"},
	    {"smb ports = -1\n", "t.conf:1: invalid value '-1' for 'smb ports'"},
	    {"smb ports =\n", "t.conf:1: invalid value '' for 'smb ports'"},
	    {"smb ports = 1 2 3 4 5 6 7 8 9\n",
	     "t.conf:1: invalid value '1 2 3 4 5 6 7 8 9' for 'smb ports'"},
	    {"interfaces = 10.0.0.1/33x\n",
	     "t.conf:1: invalid value '10.0.0.1/33x' for 'interfaces'"},
	    {"interfaces = /24\n", "t.conf:1: invalid value '/24' for 'interfaces'"},
	    {"interfaces = a$b\n", "t.conf:1: invalid value 'a$b' for 'interfaces'"},
	    {"interfaces = \"lo\n", "t.conf:1: invalid value '\"lo' for 'interfaces'"},
	    {"log level = 11\n", "t.conf:1: invalid value '11' for 'log level'"},
	    {"log level = 1 passdb:5\n", "t.conf:1: invalid value '1 passdb:5' for 'log level'"},
	    {"log level = smb2:5 1\n", "t.conf:1: invalid value 'smb2:5 1' for 'log level'"},
	    {"log level = x\n", "t.conf:1: invalid value 'x' for 'log level'"},
	    {"netbios name = ABCDEFGHIJKLMNOP\n",
	     "t.conf:1: invalid value 'ABCDEFGHIJKLMNOP' for 'netbios name'"},
	    {"netbios name = a/b\n", "t.conf:1: invalid value 'a/b' for 'netbios name'"},
	    {"workgroup =\n", "t.conf:1: invalid value '' for 'workgroup'"},
	    {"max connections = -1\n", "t.conf:1: invalid value '-1' for 'max connections'"},
	    {"max connections = 1e3\n", "t.conf:1: invalid value '1e3' for 'max connections'"},
	    {"worker threads = 99999\n", "t.conf:1: invalid value '99999' for 'worker threads'"},
	    {"worker threads = 99999999999999999999\n",
	     "t.conf:1: invalid value '99999999999999999999' for 'worker threads'"},
	    {"server smb3 encryption algorithms = AES-512-GCM\n",
	     "t.conf:1: invalid value 'AES-512-GCM' for 'server smb3 encryption algorithms'"},
	    {"server smb3 signing algorithms =\n",
	     "t.conf:1: invalid value '' for 'server smb3 signing algorithms'"},
	    {"state directory =\n", "t.conf:1: invalid value '' for 'state directory'"},
	    {"[s]\npath=/s\nread only = maybe\n",
	     "t.conf:3: invalid value 'maybe' for 'read only'"},
	    {"[s]\npath=/s\nwriteable = 2\n", "t.conf:3: invalid value '2' for 'writeable'"},
	    {"[s]\npath=/s\nbrowseable =\n", "t.conf:3: invalid value '' for 'browseable'"},
	    {"[s]\npath=/s\ncreate mask = 0789\n",
	     "t.conf:3: invalid value '0789' for 'create mask'"},
	    {"[s]\npath=/s\ndirectory mask = 017777\n",
	     "t.conf:3: invalid value '017777' for 'directory mask'"},
	    {"[s]\npath=/s\ncase sensitive = sometimes\n",
	     "t.conf:3: invalid value 'sometimes' for 'case sensitive'"},
	    {"[s]\npath=/s\nvalid users = alice \"bob\n",
	     "t.conf:3: invalid value 'alice \"bob' for 'valid users'"},
	    {"[s]\npath=\n", "t.conf:2: invalid value '' for 'path'"},
	    {"[s]\ncopy = nosuch\npath=/s\n", "t.conf:2: invalid value 'nosuch' for 'copy'"},
	    {"[s]\npath=/s\ncopy = S\n", "t.conf:3: invalid value 'S' for 'copy'"},
	    {"[s]\npath=/s\n[t]\ncomment = x\n", "t.conf:3: share 't' has no path"},
	    {"[a]\npath=/a\n[b]\n[c]\npath=/c\n", "t.conf:3: share 'b' has no path"},
	    {"[s\npath=/s\n", "t.conf:1: missing ']' in section header"},
	    {"[s] x\npath=/s\n", "t.conf:1: unexpected text after section header"},
	    {"[]\n", "t.conf:1: invalid share name ''"},
	    {"[a/b]\npath=/s\n", "t.conf:1: invalid share name 'a/b'"},
	    {"[a\xC3]\npath=/s\n", "t.conf:1: invalid share name 'a\xC3'"},
	    {"comment = x\n[s]\n# a comment\n\\\n\n", "t.conf:2: share 's' has no path"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		load_fail(cases[i].text, cases[i].err);

	/* errors longer than the buffer are cut, still terminated */
	char err[16];
	struct shoal_conf *c;
	assert_int_equal(conf_load_string("smb ports = 0\n", "t.conf", &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.conf:1: inval");
	assert_int_equal(conf_load_string("smb ports = 0\n", "t.conf", &c, NULL, 0), -EINVAL);
}

static void t_unknown_and_ignored(void **st)
{
	(void)st;
	log_clear();
	struct shoal_conf *c = load_ok("[global]\n"
				       "frobnicate = 3\n"
				       "vfs objects = fruit\n"
				       "fruit:metadata = stream\n"
				       "idmap config * : backend = tdb\n"
				       "Kernel_Oplocks = no\n"
				       "[s]\npath = /s\n"
				       "hosts allow = 10.\n"
				       "smb ports = 1\n"
				       "this line has no equals sign\n"
				       "[homes]\nread only = nonsense\n"
				       "[printers]\npath = /var/spool\n");
	const char *log = log_read();
	assert_non_null(strstr(log, "t.conf:2: unknown parameter 'frobnicate' ignored"));
	assert_non_null(strstr(log, "t.conf:9: unknown parameter 'hosts allow' ignored"));
	assert_non_null(
	    strstr(log, "t.conf:10: global parameter 'smb ports' in section [s] ignored"));
	assert_non_null(strstr(log, "t.conf:11: ignoring line without 'name = value'"));
	assert_non_null(strstr(log, "t.conf:12: section [homes] is not supported; ignored"));
	assert_non_null(strstr(log, "t.conf:14: section [printers] is not supported; ignored"));
	assert_null(strstr(log, "vfs objects"));
	assert_null(strstr(log, "fruit"));
	assert_null(strstr(log, "idmap"));
	assert_null(strstr(log, "Kernel"));
	assert_int_equal(c->ports[0], 445);
	assert_int_equal(c->nshares, 2);
	assert_null(conf_find_share(c, "homes"));
	assert_null(conf_find_share(c, "printers"));
	conf_put(c);
}

static void t_continuation(void **st)
{
	(void)st;
	struct shoal_conf *c = load_ok("[s]\n"
				       "  path = /very/long\\\n"
				       "         /path\n"
				       "  valid users = alice, \\\r\n"
				       "\tbob \\\n"
				       "  carol\n"
				       "  comment = a\\\n"
				       "\n"
				       "  read only = no\n"
				       "  # comment lines do not continue \\\n"
				       "  browseable = no\n"
				       "  oplocks = no\\");
	const struct conf_share *s = conf_find_share(c, "s");
	assert_string_equal(s->path, "/very/long/path");
	assert_int_equal(s->nvalid_users, 3);
	assert_string_equal(s->valid_users[0], "alice");
	assert_string_equal(s->valid_users[1], "bob");
	assert_string_equal(s->valid_users[2], "carol");
	assert_string_equal(s->comment, "a");
	assert_false(s->read_only);
	assert_false(s->browseable);
	assert_false(s->oplocks);
	conf_put(c);

	/* the error line of a continued line is its first line */
	load_fail("\n[s]\npath=/s\ncreate mask = 07\\\n7\\\n78\n",
		  "t.conf:4: invalid value '07778' for 'create mask'");
	/* CRLF files, a BOM, ';' comments and parameters before any section header */
	c = load_ok("\xEF\xBB\xBFworkgroup = w\r\n; comment\r\n[s]\r\npath = /s\r\n");
	assert_string_equal(c->workgroup, "W");
	assert_string_equal(conf_find_share(c, "s")->path, "/s");
	conf_put(c);
}

static void t_copy(void **st)
{
	(void)st;
	struct shoal_conf *c =
	    load_ok("[base]\n path = /base\n comment = Base\n read only = no\n"
		    " valid users = alice @staff\n create mask = 0700\n"
		    "[derived]\n comment = early\n copy = BASE\n path = /derived\n"
		    " read only = yes\n"
		    "[again]\n copy = derived\n");
	const struct conf_share *b = conf_find_share(c, "base");
	const struct conf_share *d = conf_find_share(c, "derived");
	const struct conf_share *a = conf_find_share(c, "again");
	assert_string_equal(d->name, "derived");
	assert_string_equal(d->path, "/derived");
	assert_string_equal(d->comment, "Base"); /* copy replaces what came before it */
	assert_true(d->read_only);
	assert_int_equal(d->create_mask, 0700);
	assert_int_equal(d->nvalid_users, 2);
	assert_ptr_not_equal(d->valid_users, b->valid_users);
	assert_string_equal(d->valid_users[1], "@staff");
	assert_false(b->read_only);
	assert_string_equal(b->path, "/base");
	assert_string_equal(a->path, "/derived");
	assert_true(a->read_only);
	conf_put(c);
}

static void t_sections(void **st)
{
	(void)st;
	/* share parameters in [global] are defaults for later shares; a repeated header
	 * continues the same share; [global] may come back */
	struct shoal_conf *c = load_ok("read only = no\noplocks = no\nvalid users = admin\n"
				       "[one]\npath = /one\n"
				       "[global]\nread only = yes\n"
				       "[two]\npath = /two\n"
				       "[ONE]\ncomment = merged\n"
				       "[ipc$]\ncomment = pipes\npath = /ignored\n");
	assert_int_equal(c->nshares, 3);
	const struct conf_share *one = conf_find_share(c, "one"), *two = conf_find_share(c, "two");
	assert_false(one->read_only);
	assert_false(one->oplocks);
	assert_string_equal(one->comment, "merged");
	assert_string_equal(one->valid_users[0], "admin");
	assert_true(two->read_only);
	assert_false(two->oplocks);
	const struct conf_share *ipc = conf_find_share(c, "IPC$");
	assert_true(ipc->is_ipc);
	assert_null(ipc->path);
	assert_string_equal(ipc->comment, "pipes");
	conf_put(c);

	/* UTF-8 share names compare case-insensitively */
	c = load_ok("[\xC3\xA9t\xC3\xA9]\npath=/e\n");
	assert_non_null(conf_find_share(c, "\xC3\x89T\xC3\x89"));
	conf_put(c);
}

static void t_relative_paths(void **st)
{
	(void)st;
	char cwd[1024], want[1200];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	struct shoal_conf *c = load_ok("state directory = state/\n[s]\npath = data/share/\n");
	snprintf(want, sizeof(want), "%s/data/share", cwd);
	assert_string_equal(conf_find_share(c, "s")->path, want);
	snprintf(want, sizeof(want), "%s/state/users.db", cwd);
	assert_string_equal(c->passdb, want);
	conf_put(c);

	char dir[] = "/tmp/shoal-conf-dir-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/smb.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("passdb file = /etc/pass.db\n[s]\npath = share\n[r]\npath = /\n", f);
	fclose(f);
	char err[256];
	assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/share", dir);
	assert_string_equal(conf_find_share(c, "s")->path, want);
	assert_string_equal(conf_find_share(c, "r")->path, "/");
	assert_string_equal(c->passdb, "/etc/pass.db");
	assert_string_equal(c->source, path);
	conf_put(c);
	/* relative name of the file itself */
	assert_int_equal(chdir("/tmp"), 0);
	assert_int_equal(conf_load_file(path + 5, &c, err, sizeof(err)), 0);
	assert_string_equal(conf_find_share(c, "s")->path, want);
	conf_put(c);
	assert_int_equal(chdir(cwd), 0);
	unlink(path);

	assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), -ENOENT);
	assert_null(c);
	assert_non_null(strstr(err, path));
	assert_int_equal(conf_load_file(dir, &c, err, sizeof(err)), -EISDIR);
	/* a NUL byte inside the file is refused */
	f = fopen(path, "w");
	fwrite("a = b\n\0[x]\n", 1, 11, f);
	fclose(f);
	assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), -EINVAL);
	unlink(path);
	rmdir(dir);
}

static void t_protocols(void **st)
{
	(void)st;
	static const uint16_t d[] = {SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
				     SMB2_DIALECT_302, SMB2_DIALECT_311};
	static const char *const n[] = {"SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"};
	for (int i = 0; i < 5; i++) {
		assert_string_equal(conf_protocol_name(d[i]), n[i]);
		assert_int_equal(conf_parse_protocol(n[i], false), d[i]);
		assert_int_equal(conf_parse_protocol(n[i], true), d[i]);
		assert_int_equal(conf_parse_protocol(conf_protocol_name(d[i]), true), d[i]);
	}
	assert_int_equal(conf_parse_protocol("smb3_11", true), SMB2_DIALECT_311);
	assert_int_equal(conf_parse_protocol("SMB2", true), SMB2_DIALECT_210);
	assert_int_equal(conf_parse_protocol("SMB2", false), SMB2_DIALECT_202);
	assert_int_equal(conf_parse_protocol("SMB3", true), SMB2_DIALECT_311);
	assert_int_equal(conf_parse_protocol("SMB3", false), SMB2_DIALECT_300);
	assert_int_equal(conf_parse_protocol("NT1", false), 0);
	assert_int_equal(conf_parse_protocol("SMB3_1", false), 0);
	assert_int_equal(conf_parse_protocol("", false), 0);
	assert_int_equal(conf_parse_protocol(NULL, false), 0);
	assert_string_equal(conf_protocol_name(0x0300 + 1), "unknown");
}

static void t_valid_users(void **st)
{
	(void)st;
	struct shoal_conf *c =
	    load_ok("[open]\npath=/o\n"
		    "[s]\npath=/s\nvalid users = Alice, \"Bob Smith\";@Staff +wheel"
		    " &ng \"\"\n");
	const struct conf_share *open = conf_find_share(c, "open");
	const struct conf_share *s = conf_find_share(c, "s");
	const char *const none[] = {NULL};
	const char *const staff[] = {"users", "staff", NULL};
	const char *const wheel[] = {"WHEEL", NULL};
	const char *const ng[] = {"ng", NULL};
	assert_true(conf_user_allowed(open, "anyone", NULL));
	assert_true(conf_user_allowed(open, "anyone", none));
	assert_int_equal(s->nvalid_users, 5);
	assert_string_equal(s->valid_users[1], "Bob Smith");
	assert_true(conf_user_allowed(s, "alice", NULL));
	assert_true(conf_user_allowed(s, "ALICE", none));
	assert_true(conf_user_allowed(s, "bob smith", NULL));
	assert_false(conf_user_allowed(s, "bob", NULL));
	assert_false(conf_user_allowed(s, "mallory", none));
	assert_true(conf_user_allowed(s, "mallory", staff));
	assert_true(conf_user_allowed(s, "mallory", wheel));
	assert_true(conf_user_allowed(s, "mallory", ng));
	/* a user named like a group is not the group */
	assert_false(conf_user_allowed(s, "staff", none));
	assert_false(conf_user_allowed(s, "@staff", none));
	assert_false(conf_user_allowed(s, NULL, none));
	conf_put(c);

	c = load_ok("[s]\npath=/s\nvalid users = \n");
	assert_null(conf_find_share(c, "s")->valid_users);
	assert_true(conf_user_allowed(conf_find_share(c, "s"), "x", NULL));
	conf_put(c);
}

static void t_refcount(void **st)
{
	(void)st;
	struct shoal_conf *c = load_ok("[s]\npath=/s\n");
	assert_ptr_equal(conf_get(c), c);
	assert_ptr_equal(conf_get(c), c);
	assert_int_equal(c->refs, 3);
	conf_put(c);
	conf_put(c);
	assert_int_equal(c->refs, 1);
	conf_put(c); /* freed here; ASan reports a leak or double free otherwise */
	assert_null(conf_get(NULL));
	conf_put(NULL);
}

/* [client] holds the client library's settings; it is not a share and needs no path. */
static void t_client_section(void **st)
{
	(void)st;
	struct shoal_conf *c = load_ok("[s]\npath=/s\n");
	assert_true(c->client.encryption_enabled);
	assert_false(c->client.encryption_required);
	assert_int_equal(c->client.max_dialect, SMB2_DIALECT_311);
	conf_put(c);

	c = load_ok("[client]\nSmb3EncryptionEnabled = no\nSmb3EncryptionRequired = yes\n"
		    "MaxSmb2DialectVersion = 2.1\n[s]\npath=/s\n");
	assert_false(c->client.encryption_enabled);
	assert_true(c->client.encryption_required);
	assert_int_equal(c->client.max_dialect, SMB2_DIALECT_210);
	assert_null(conf_find_share(c, "client"));
	assert_int_equal(c->nshares, 2); /* s and IPC$ */
	conf_put(c);

	c = load_ok("[CLIENT]\nmax smb2 dialect version = max\n");
	assert_int_equal(c->client.max_dialect, SMB2_DIALECT_311);
	conf_put(c);

	static const char *const bad[] = {"[client]\nMaxSmb2DialectVersion = 3.3\n",
					  "[client]\nSmb3EncryptionRequired = maybe\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shoal_conf *out = NULL;
		char err[256];
		assert_int_equal(conf_load_string(bad[i], "t.conf", &out, err, sizeof(err)), -EINVAL);
		assert_null(out);
		assert_non_null(strstr(err, "t.conf:2: invalid value"));
	}
	static const char *const v[] = {"2.0.2", "2.1", "3.0", "3.0.2", "3.1.1", "MAX"};
	static const uint16_t d[] = {SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
				     SMB2_DIALECT_302, SMB2_DIALECT_311, SMB2_DIALECT_311};
	for (int i = 0; i < 6; i++)
		assert_int_equal(conf_parse_dialect_version(v[i]), d[i]);
	assert_int_equal(conf_parse_dialect_version("SMB3_11"), 0);
	assert_int_equal(conf_parse_dialect_version(NULL), 0);
}

/* "management address": default next to the first smb port, explicit forms, off, bad values. */
static void t_mgmt_address(void **st)
{
	(void)st;
	struct shoal_conf *c = load_ok("[s]\npath=/s\n");
	assert_false(c->mgmt_off);
	assert_string_equal(c->mgmt_host, "127.0.0.1");
	assert_int_equal(c->mgmt_port, 446);
	conf_put(c);

	/* the default follows "smb ports" wherever it is written */
	c = load_ok("[global]\nsmb ports = 4445 139\n");
	assert_int_equal(c->mgmt_port, 4446);
	conf_put(c);
	c = load_ok("management address = 10.1.2.3\nsmb ports = 7000\n");
	assert_string_equal(c->mgmt_host, "10.1.2.3");
	assert_int_equal(c->mgmt_port, 7001);
	conf_put(c);
	c = load_ok("smb ports = 65535\n");
	assert_true(c->mgmt_off);
	assert_null(c->mgmt_host);
	conf_put(c);

	c = load_ok("Management_Address = 0.0.0.0:9000\n");
	assert_string_equal(c->mgmt_host, "0.0.0.0");
	assert_int_equal(c->mgmt_port, 9000);
	conf_put(c);
	c = load_ok("management address = [::1]:8080\n");
	assert_string_equal(c->mgmt_host, "::1");
	assert_int_equal(c->mgmt_port, 8080);
	conf_put(c);
	c = load_ok("management address = fe80::1\nsmb ports = 445\n");
	assert_string_equal(c->mgmt_host, "fe80::1");
	assert_int_equal(c->mgmt_port, 446);
	conf_put(c);
	c = load_ok("management address = off\n");
	assert_true(c->mgmt_off);
	assert_null(c->mgmt_host);
	assert_int_equal(c->mgmt_port, 0);
	conf_put(c);
	/* a later value turns it back on */
	c = load_ok("management address = no\nmanagement address = 127.0.0.1:5000\n");
	assert_false(c->mgmt_off);
	assert_int_equal(c->mgmt_port, 5000);
	conf_put(c);

	static const char *const bad[] = {
	    "localhost:80", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", ":80",	"[::1",
	    "[::1]80",	    "[]:80",	   "1.2.3.4:-5",      "1.2.3.4:8x", "1.2.3.4.5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shoal_conf *out = NULL;
		char err[256], text[96];
		snprintf(text, sizeof(text), "management address = %s\n", bad[i]);
		int rc = conf_load_string(text, "t.conf", &out, err, sizeof(err));
		assert_int_equal(rc, -EINVAL);
		assert_null(out);
		assert_non_null(strstr(err, "t.conf:1: invalid value"));
	}
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_reference),    cmocka_unit_test(t_reference_file),
	    cmocka_unit_test(t_defaults),     cmocka_unit_test(t_aliases),
	    cmocka_unit_test(t_words),	      cmocka_unit_test(t_lists),
	    cmocka_unit_test(t_invalid),      cmocka_unit_test(t_unknown_and_ignored),
	    cmocka_unit_test(t_continuation), cmocka_unit_test(t_copy),
	    cmocka_unit_test(t_sections),     cmocka_unit_test(t_relative_paths),
	    cmocka_unit_test(t_protocols),    cmocka_unit_test(t_valid_users),
	    cmocka_unit_test(t_refcount),     cmocka_unit_test(t_client_section),
	    cmocka_unit_test(t_mgmt_address),
	};
	return cmocka_run_group_tests(t, setup, teardown);
}
