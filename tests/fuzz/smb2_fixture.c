/* See smb2_fixture.h. The environment (temporary folder, configuration, user) is made once per
 * process and removed at exit; the server and connection are made per input. */
#include "smb2_fixture.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/spnego.h"
#include "fuzz.h"
#include "lib/log.h"
#include "lib/utf16.h"
#include "smb2/smb2_file.h"

#define FZ_USER "fuzz"
#define FZ_PASS "Fuzz-pass-1"

struct fz_env {
	char dir[64];
	char share[96];
	struct shoal_conf *conf;
	uid_t uid;
	gid_t gid;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

/* The share's contents: a file, and a folder with a file, owned by the mapped user. */
static void share_reset(struct fz_env *e)
{
	static const char *const files[] = {"a.txt", "dir/b.txt"};
	nftw(e->share, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	char p[160];
	snprintf(p, sizeof(p), "%s/dir", e->share);
	mkdir(p, 0755);
	if (chown(p, e->uid, e->gid) < 0 || chown(e->share, e->uid, e->gid) < 0)
		fprintf(stderr, "fuzz: chown %s: %s\n", p, strerror(errno));
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", e->share, files[i]);
		FILE *fp = fopen(p, "w");
		if (!fp)
			continue;
		if (i == 0)
			fputs("hello, fuzz\n", fp);
		fclose(fp);
		if (chown(p, e->uid, e->gid) < 0)
			fprintf(stderr, "fuzz: chown %s: %s\n", p, strerror(errno));
	}
}

static struct fz_env *env_once;

static void env_cleanup(void)
{
	if (!env_once)
		return;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", env_once->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: cannot remove %s\n", env_once->dir);
	conf_put(env_once->conf);
	free(env_once);
	env_once = NULL;
}

static struct fz_env *env_get(void)
{
	if (env_once)
		return env_once;
	struct fz_env *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	const char *tmp = getenv("TMPDIR");
	snprintf(e->dir, sizeof(e->dir), "%s/shoal-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(e->dir)) {
		free(e);
		return NULL;
	}
	chmod(e->dir, 0755); /* the mapped user must reach the share below it */
	snprintf(e->share, sizeof(e->share), "%s/share", e->dir);
	mkdir(e->share, 0755);
	/* running as root, files are reached as the mapped user: give it one of its own */
	e->uid = getuid() == 0 ? 4242 : getuid();
	e->gid = getuid() == 0 ? 4242 : getgid();
	char text[512], err[256], db[128];
	snprintf(text, sizeof(text),
		 "[global]\n state directory = %s/state\n log level = 0\n"
		 "[test]\n path = %s\n read only = no\n",
		 e->dir, e->share);
	snprintf(db, sizeof(db), "%s/state/users.db", e->dir);
	snprintf(err, sizeof(err), "%s/state", e->dir);
	mkdir(err, 0700);
	err[0] = '\0';
	if (conf_load_string(text, "fuzz", &e->conf, err, sizeof(err)) < 0 ||
	    userdb_add(db, FZ_USER, FZ_PASS, e->uid, e->gid) < 0) {
		fprintf(stderr, "fuzz: cannot set up %s: %s\n", e->dir, err);
		abort();
	}
	share_reset(e);
	env_once = e;
	atexit(env_cleanup);
	return e;
}

bool smb2_fz_begin(struct smb2_fz *f)
{
	memset(f, 0, sizeof(*f));
	/* every refused request would be logged; SHOAL_FUZZ_LOG=LEVEL shows them */
	const char *lv = getenv("SHOAL_FUZZ_LOG");
	log_set_level(lv ? atoi(lv) : -1);
	struct fz_env *e = env_get();
	if (!e)
		return false;
	char err[256];
	f->srv = smb2_server_new(e->conf, err, sizeof(err));
	if (!f->srv)
		return false;
	f->c = smb2_conn_new(f->srv, -1, "fuzz");
	if (!f->c) {
		smb2_server_free(f->srv);
		f->srv = NULL;
		return false;
	}
	return true;
}

void smb2_fz_end(struct smb2_fz *f)
{
	if (f->c)
		smb2_conn_free(f->c);
	if (f->srv)
		smb2_server_free(f->srv);
	f->c = NULL;
	f->srv = NULL;
	/* a fuzzed compound can even log on anonymously and write: always start afresh */
	share_reset(env_once);
}

/* The response chain must be well framed: each message an SMB2 header marked as a response,
 * NextCommand 8-aligned and inside the chain (MS-SMB2 2.2.1, 3.3.4.1.3). */
static void dump(const char *what, const uint8_t *p, size_t len)
{
	fprintf(stderr, "%s (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 512; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", p[i]);
	fprintf(stderr, "\n");
}

static void check_response(const uint8_t *p, size_t len)
{
	/* SHOAL_FUZZ_DUMP=1 shows each response, to see why a check fails */
	if (getenv("SHOAL_FUZZ_DUMP"))
		dump("response", p, len);
	FUZZ_CHECK(len >= SMB2_HDR_LEN);
	if (get_le32(p) == SMB2_TRANSFORM_ID)
		return;
	size_t off = 0;
	for (;;) {
		FUZZ_CHECK(len - off >= SMB2_HDR_LEN + 2);
		FUZZ_CHECK(get_le32(p + off) == SMB2_PROTOCOL_ID);
		FUZZ_CHECK(get_le16(p + off + HDR_OFF_STRUCT_SIZE) == 64);
		FUZZ_CHECK(get_le32(p + off + HDR_OFF_FLAGS) & SMB2_FLAGS_SERVER_TO_REDIR);
		uint32_t next = get_le32(p + off + HDR_OFF_NEXT_COMMAND);
		if (!next)
			break;
		FUZZ_CHECK(next % 8 == 0 && next <= len - off);
		off += next;
	}
}

void (*smb2_fz_input_hook)(bool entering);

void smb2_fz_check_chain(const uint8_t *p, size_t len, uint64_t session_id)
{
	FUZZ_CHECK(get_le32(p) == SMB2_PROTOCOL_ID);
	check_response(p, len);
	for (size_t off = 0;;) {
		/* an error response to a message with another SessionId would name that id; a
		   decrypted chain carries only the transform's session (3.3.5.2.1.1) */
		FUZZ_CHECK(get_le64(p + off + HDR_OFF_SESSION_ID) == session_id);
		uint32_t next = get_le32(p + off + HDR_OFF_NEXT_COMMAND);
		if (!next)
			break;
		off += next;
	}
}

/* Runs one frame; the response (without headroom) is left in *resp when resp is given. */
static int fz_run(struct smb2_fz *f, const uint8_t *frame, size_t len, uint32_t *status,
		  struct wr *resp)
{
	if (status)
		*status = 0xFFFFFFFFu;
	if (resp)
		wr_init(resp, 0);
	/* what the transport refuses before the request path sees it */
	if (len == 0 || len > smb2_conn_max_frame(f->c))
		return -1;
	uint8_t *copy = malloc(len);
	if (!copy)
		return -1;
	memcpy(copy, frame, len);
	struct wr out;
	wr_init(&out, 512);
	wr_space(&out, SMB2_OUT_HEADROOM);
	size_t start = SMB2_OUT_HEADROOM;
	if (smb2_fz_input_hook)
		smb2_fz_input_hook(true);
	int rc = smb2_conn_input(f->c, copy, len, &out, &start);
	if (smb2_fz_input_hook)
		smb2_fz_input_hook(false);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (wr_ok(&out) && out.len > SMB2_OUT_HEADROOM) {
		FUZZ_CHECK(start <= SMB2_OUT_HEADROOM && start >= 4);
		check_response(out.p + start, out.len - start);
		if (status && get_le32(out.p + start) == SMB2_PROTOCOL_ID)
			*status = get_le32(out.p + start + HDR_OFF_STATUS);
		if (resp)
			wr_bytes(resp, out.p + start, out.len - start);
	}
	wr_free(&out);
	free(copy);
	return rc;
}

int smb2_fz_input(struct smb2_fz *f, const uint8_t *frame, size_t len, uint32_t *status)
{
	return fz_run(f, frame, len, status, NULL);
}

int smb2_fz_input_resp(struct smb2_fz *f, const uint8_t *frame, size_t len, uint32_t *status,
		       struct wr *resp)
{
	return fz_run(f, frame, len, status, resp);
}

void smb2_fz_patch_session(const struct smb2_fz *f, uint8_t *frame, size_t len)
{
	size_t off = 0;
	while (len - off >= SMB2_HDR_LEN && get_le32(frame + off) == SMB2_PROTOCOL_ID) {
		if (get_le64(frame + off + HDR_OFF_SESSION_ID) == SMB2_FZ_SESSION)
			put_le64(frame + off + HDR_OFF_SESSION_ID, f->session_id);
		uint32_t next = get_le32(frame + off + HDR_OFF_NEXT_COMMAND);
		if (!next || next > len - off)
			break;
		off += next;
	}
}

/* ---- the requests that set the connection up ---- */

/* A sync request header (MS-SMB2 2.2.1.2) asking for 64 credits. */
static void fz_hdr(struct wr *w, uint16_t cmd, uint64_t mid, uint64_t sid, uint32_t tid)
{
	wr_u32(w, SMB2_PROTOCOL_ID);
	wr_u16(w, 64);
	wr_u16(w, 1); /* CreditCharge */
	wr_u32(w, 0);
	wr_u16(w, cmd);
	wr_u16(w, 64);
	wr_u32(w, 0); /* Flags */
	wr_u32(w, 0); /* NextCommand */
	wr_u64(w, mid);
	wr_u32(w, 0);
	wr_u32(w, tid);
	wr_u64(w, sid);
	wr_zero(w, 16);
}

/* Sends w, which is then freed; true when the answer has the expected status. */
static bool fz_send(struct smb2_fz *f, struct wr *w, uint32_t want, struct wr *resp)
{
	uint32_t st;
	struct wr r;
	bool ok = wr_ok(w) && fz_run(f, w->p, w->len, &st, &r) == 0 && st == want;
	wr_free(w);
	if (ok && resp)
		*resp = r;
	else
		wr_free(&r);
	return ok;
}

/* NEGOTIATE (2.2.3) for 2.0.2 to 3.1.1 with the three 3.1.1 contexts (2.2.3.1). */
bool smb2_fz_negotiate(struct smb2_fz *f)
{
	static const uint16_t d[] = {0x202, 0x210, 0x300, 0x302, 0x311};
	struct wr w;
	wr_init(&w, 256);
	fz_hdr(&w, SMB2_NEGOTIATE, f->mid++, 0, 0);
	wr_u16(&w, 36);
	wr_u16(&w, 5);
	wr_u16(&w, SMB2_NEGOTIATE_SIGNING_ENABLED);
	wr_u16(&w, 0);
	wr_u32(&w, SMB2_GLOBAL_CAP_ENCRYPTION | SMB2_GLOBAL_CAP_LARGE_MTU);
	memcpy(wr_at(&w, wr_space(&w, 16)), "shoal-fuzz-guid!", 16);
	size_t ctxoff = w.len;
	wr_u32(&w, 0);
	wr_u16(&w, 3);
	wr_u16(&w, 0);
	for (int i = 0; i < 5; i++)
		wr_u16(&w, d[i]);
	wr_align(&w, 8);
	wr_set_u32(&w, ctxoff, (uint32_t)w.len);
	wr_u16(&w, 1); /* PREAUTH_INTEGRITY: SHA-512, 32-byte salt */
	wr_u16(&w, 38);
	wr_u32(&w, 0);
	wr_u16(&w, 1);
	wr_u16(&w, 32);
	wr_u16(&w, 1);
	wr_zero(&w, 32);
	wr_align(&w, 8);
	wr_u16(&w, 2); /* ENCRYPTION: GCM, CCM */
	wr_u16(&w, 6);
	wr_u32(&w, 0);
	wr_u16(&w, 2);
	wr_u16(&w, SMB2_CIPHER_AES128_GCM);
	wr_u16(&w, SMB2_CIPHER_AES128_CCM);
	wr_align(&w, 8);
	wr_u16(&w, 8); /* SIGNING: GMAC, CMAC */
	wr_u16(&w, 6);
	wr_u32(&w, 0);
	wr_u16(&w, 2);
	wr_u16(&w, SMB2_SIGN_AES_GMAC);
	wr_u16(&w, SMB2_SIGN_AES_CMAC);
	return fz_send(f, &w, STATUS_SUCCESS, NULL);
}

/* SESSION_SETUP (2.2.5) rounds with the project's SPNEGO client until SUCCESS. */
static bool fz_session_setup(struct smb2_fz *f)
{
	struct ntlmssp_client_cfg cc = {.user = FZ_USER, .domain = "WORKGROUP",
					.password = FZ_PASS, .workstation = "FUZZ"};
	struct spnego_client *sc = spnego_client_new(&cc);
	uint8_t *tok = NULL;
	size_t toklen = 0;
	bool done = false;
	int crc = sc ? spnego_client_step(sc, NULL, 0, &tok, &toklen) : -1;
	for (int round = 0; round < 3 && crc >= 0 && !done; round++) {
		struct wr w, r;
		uint32_t st;
		wr_init(&w, 256);
		fz_hdr(&w, SMB2_SESSION_SETUP, f->mid++, f->session_id, 0);
		wr_u16(&w, 25);
		wr_u8(&w, 0);
		wr_u8(&w, SMB2_NEGOTIATE_SIGNING_ENABLED);
		wr_u32(&w, 0);
		wr_u32(&w, 0);
		wr_u16(&w, 64 + 24);
		wr_u16(&w, (uint16_t)toklen);
		wr_u64(&w, 0);
		wr_bytes(&w, tok, toklen);
		free(tok);
		tok = NULL;
		int rc = wr_ok(&w) ? fz_run(f, w.p, w.len, &st, &r) : -1;
		wr_free(&w);
		if (rc < 0 || r.len < 64 + 8 ||
		    (st != STATUS_SUCCESS && st != STATUS_MORE_PROCESSING_REQUIRED)) {
			wr_free(&r);
			break;
		}
		f->session_id = get_le64(r.p + HDR_OFF_SESSION_ID);
		done = st == STATUS_SUCCESS;
		struct rd rr = rd_make(r.p, r.len);
		struct rd blob = rd_sub(&rr, get_le16(r.p + 64 + 4), get_le16(r.p + 64 + 6));
		if (!done && rd_ok(&blob))
			crc = spnego_client_step(sc, blob.p, blob.len, &tok, &toklen);
		wr_free(&r);
	}
	free(tok);
	spnego_client_free(sc);
	return done;
}

/* TREE_CONNECT (2.2.9) to \\fuzz\share. */
static bool fz_tree_connect(struct smb2_fz *f, const char *share)
{
	char unc[64];
	uint8_t *path = NULL;
	size_t plen = 0;
	snprintf(unc, sizeof(unc), "\\\\fuzz\\%s", share);
	if (utf8_to_utf16le(unc, &path, &plen) < 0)
		return false;
	struct wr w;
	wr_init(&w, 256);
	fz_hdr(&w, SMB2_TREE_CONNECT, f->mid++, f->session_id, 0);
	wr_u16(&w, 9);
	wr_u16(&w, 0);
	wr_u16(&w, 64 + 8);
	wr_u16(&w, (uint16_t)plen);
	wr_bytes(&w, path, plen);
	free(path);
	/* signed, as 3.1.1 requires of an authenticated user (MS-SMB2 3.2.4.1.1, 3.3.5.7) */
	struct smb2_session *s = smb2_session_lookup(f->c, f->session_id);
	if (!s || !wr_ok(&w)) {
		if (s)
			smb2_session_put(s);
		wr_free(&w);
		return false;
	}
	wr_set_u32(&w, HDR_OFF_FLAGS, SMB2_FLAGS_SIGNED);
	smb2_sign_message(f->c, s, w.p, w.len);
	smb2_session_put(s);
	return fz_send(f, &w, STATUS_SUCCESS, NULL);
}

/* CREATE (2.2.13) of an existing name; the FileId from the response (2.2.14) goes to id. */
static bool fz_create(struct smb2_fz *f, uint32_t tid, const char *name, uint32_t options,
		      uint64_t id[2])
{
	uint8_t *uname = NULL;
	size_t nlen = 0;
	if (utf8_to_utf16le(name, &uname, &nlen) < 0)
		return false;
	struct wr w, r;
	wr_init(&w, 256);
	fz_hdr(&w, SMB2_CREATE, f->mid++, f->session_id, tid);
	wr_u16(&w, 57);
	wr_u8(&w, 0);
	wr_u8(&w, 0);  /* no oplock */
	wr_u32(&w, 2); /* Impersonation */
	wr_u64(&w, 0);
	wr_u64(&w, 0);
	wr_u32(&w, MAXIMUM_ALLOWED);
	wr_u32(&w, 0);
	wr_u32(&w, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE);
	wr_u32(&w, 1); /* FILE_OPEN */
	wr_u32(&w, options);
	wr_u16(&w, 64 + 56);
	wr_u16(&w, (uint16_t)nlen);
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_bytes(&w, uname, nlen);
	if (nlen == 0)
		wr_u8(&w, 0);
	free(uname);
	if (!fz_send(f, &w, STATUS_SUCCESS, &r))
		return false;
	bool ok = r.len >= 64 + 80;
	if (ok) {
		id[0] = get_le64(r.p + 64 + 64);
		id[1] = get_le64(r.p + 64 + 72);
	}
	wr_free(&r);
	return ok;
}

bool smb2_fz_open_all(struct smb2_fz *f)
{
	return smb2_fz_negotiate(f) && fz_session_setup(f) && fz_tree_connect(f, "test") &&
	       fz_tree_connect(f, "IPC$") &&
	       fz_create(f, SMB2_FZ_TREE_DISK, "a.txt", 0, f->file_id) &&
	       fz_create(f, SMB2_FZ_TREE_DISK, "", FILE_DIRECTORY_FILE, f->dir_id) &&
	       fz_create(f, SMB2_FZ_TREE_IPC, "srvsvc", 0, f->pipe_id) &&
	       f->mid == SMB2_FZ_FIRST_MID;
}
