/* Unit tests for the client core over a socketpair standing in for the server: message ids and
 * credits, signing, the transform header with each cipher, and refusal of tampered, unsigned or
 * unexpected replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_priv.h"

struct peer {
	struct smbc_conn *c;
	int fd; /* the "server" end */
};

struct done {
	int calls;
	uint32_t status;
};

static void cb(struct smbc_conn *c, const struct smbc_msg *m, void *arg)
{
	struct done *d = arg;
	d->calls++;
	d->status = m->status;
}

static void setup_peer(struct peer *p, uint16_t dialect)
{
	int sv[2];
	struct smbc_opts o;
	smbc_opts_init(&o);
	o.host = "h";
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* the client's end is non-blocking, as smbc_conn_new makes it */
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	p->c = smbc_conn_alloc(&o);
	assert_non_null(p->c);
	p->c->fd = sv[0];
	p->fd = sv[1];
	p->c->dialect = dialect;
	p->c->server_caps = SMB2_GLOBAL_CAP_LARGE_MTU;
	p->c->max_read = p->c->max_write = p->c->max_transact = 1 << 20;
}

static void teardown_peer(struct peer *p)
{
	smbc_conn_free(p->c);
	close(p->fd);
}

/* Reads one frame the client sent; returns its length (without the 4-byte prefix). */
static size_t read_frame(struct peer *p, uint8_t *buf, size_t cap)
{
	uint8_t l[4];
	assert_int_equal(read(p->fd, l, 4), 4);
	size_t n = ((size_t)l[1] << 16) | ((size_t)l[2] << 8) | l[3];
	assert_true(n <= cap);
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(p->fd, buf + got, n - got);
		assert_true(k > 0);
		got += (size_t)k;
	}
	return n;
}

static void send_frame(struct peer *p, const uint8_t *m, size_t len)
{
	uint8_t l[4];
	put_be32(l, (uint32_t)len);
	assert_int_equal(write(p->fd, l, 4), 4);
	assert_int_equal(write(p->fd, m, len), (ssize_t)len);
}

/* A reply to the request in req (same command and message id). */
static size_t make_reply(const uint8_t *req, uint8_t *out, uint16_t credits, uint32_t status)
{
	memset(out, 0, 72);
	memcpy(out, req, 64);
	put_le32(out + HDR_OFF_STATUS, status);
	put_le16(out + HDR_OFF_CREDIT, credits);
	put_le32(out + HDR_OFF_FLAGS, SMB2_FLAGS_SERVER_TO_REDIR);
	memset(out + HDR_OFF_SIGNATURE, 0, 16);
	put_le16(out + 64, 4);
	return 68;
}

static void t_credits(void **st)
{
	(void)st;
	struct peer p;
	struct done d[3] = {{0}};
	uint8_t body[4] = {4, 0, 0, 0}, buf[256], rep[128];
	setup_peer(&p, SMB2_DIALECT_311);
	for (int i = 0; i < 3; i++)
		assert_int_equal(smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d[i]),
				 0);
	/* one credit: one request on the wire, two waiting */
	assert_int_equal(p.c->inflight, 1);
	assert_int_equal(smbc_conn_pending(p.c), 3);
	size_t n = read_frame(&p, buf, sizeof(buf));
	assert_int_equal(n, 68);
	assert_int_equal(get_le64(buf + HDR_OFF_MESSAGE_ID), 0);
	send_frame(&p, rep, make_reply(buf, rep, 2, 0));
	assert_int_equal(smbc_conn_on_readable(p.c), 0);
	assert_int_equal(d[0].calls, 1);
	assert_int_equal(p.c->inflight, 2);
	for (uint64_t mid = 1; mid <= 2; mid++) {
		read_frame(&p, buf, sizeof(buf));
		assert_int_equal(get_le64(buf + HDR_OFF_MESSAGE_ID), mid);
		send_frame(&p, rep, make_reply(buf, rep, 1, 0));
	}
	assert_int_equal(smbc_conn_on_readable(p.c), 0);
	assert_int_equal(d[1].calls + d[2].calls, 2);
	assert_int_equal(smbc_conn_pending(p.c), 0);
	/* a 1 MiB read costs 16 credits; holding 2 with nothing in flight can never succeed */
	struct done big = {0};
	assert_int_equal(smbc_submit(p.c, NULL, SMB2_READ, body, 4, NULL, 0, 1 << 20, cb, &big), 0);
	assert_int_equal(big.calls, 1);
	assert_int_equal(big.status, STATUS_INSUFFICIENT_RESOURCES);
	teardown_peer(&p);
}

static void t_bad_replies(void **st)
{
	(void)st;
	struct peer p;
	struct done d = {0};
	uint8_t body[4] = {4, 0, 0, 0}, buf[256], rep[128];
	setup_peer(&p, SMB2_DIALECT_311);
	smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d);
	read_frame(&p, buf, sizeof(buf));
	size_t n = make_reply(buf, rep, 1, 0);
	put_le64(rep + HDR_OFF_MESSAGE_ID, 99); /* a message id never sent */
	send_frame(&p, rep, n);
	assert_int_equal(smbc_conn_on_readable(p.c), STATUS_INVALID_NETWORK_RESPONSE);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.status, STATUS_INVALID_NETWORK_RESPONSE);
	/* a dead connection refuses new work */
	assert_int_equal(smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d),
			 STATUS_INVALID_NETWORK_RESPONSE);
	teardown_peer(&p);

	/* compound offsets that are not 8-aligned or point past the end */
	setup_peer(&p, SMB2_DIALECT_311);
	memset(&d, 0, sizeof(d));
	smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d);
	read_frame(&p, buf, sizeof(buf));
	n = make_reply(buf, rep, 1, 0);
	put_le32(rep + HDR_OFF_NEXT_COMMAND, 4096);
	assert_int_equal(smbc_conn_process_frame(p.c, rep, n), STATUS_INVALID_NETWORK_RESPONSE);
	put_le32(rep + HDR_OFF_NEXT_COMMAND, 65);
	assert_int_equal(smbc_conn_process_frame(p.c, rep, n), STATUS_INVALID_NETWORK_RESPONSE);
	put_le32(rep + HDR_OFF_NEXT_COMMAND, 0);
	put_le32(rep + HDR_OFF_FLAGS, 0); /* a request, not a reply */
	assert_int_equal(smbc_conn_process_frame(p.c, rep, n), STATUS_INVALID_NETWORK_RESPONSE);
	assert_int_equal(smbc_conn_process_frame(p.c, rep, 63), STATUS_INVALID_NETWORK_RESPONSE);
	/* a transform frame without a session */
	uint8_t tf[128] = {0};
	put_le32(tf, SMB2_TRANSFORM_ID);
	put_le32(tf + 36, 64);
	put_le16(tf + 42, 1);
	assert_int_not_equal(smbc_conn_process_frame(p.c, tf, 52 + 64), 0);
	put_le32(tf + 36, 0xFFFFFFF0u);
	assert_int_equal(smbc_conn_process_frame(p.c, tf, 52 + 64),
			 STATUS_INVALID_NETWORK_RESPONSE);
	assert_int_equal(d.calls, 0);
	teardown_peer(&p);
}

static void t_signing(void **st)
{
	(void)st;
	static const enum smb2_sign_alg algs[] = {SMB2_SIGN_HMAC_SHA256, SMB2_SIGN_AES_CMAC,
						  SMB2_SIGN_AES_GMAC};
	for (int a = 0; a < 3; a++) {
		struct peer p;
		struct done d = {0};
		uint8_t body[4] = {4, 0, 0, 0}, buf[256], rep[128];
		setup_peer(&p, SMB2_DIALECT_311);
		p.c->session_ready = p.c->signing = true;
		p.c->sign_alg = algs[a];
		memset(p.c->sign_key, 0x5a, 16);
		p.c->session_id = 77;
		smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d);
		size_t n = read_frame(&p, buf, sizeof(buf));
		assert_true(get_le32(buf + HDR_OFF_FLAGS) & SMB2_FLAGS_SIGNED);
		struct iovec iov = {buf, n};
		assert_int_equal(smb2_sign_verify(algs[a], p.c->sign_key, &iov, 1), 0);
		/* a reply signed with the key passes; the same reply altered does not */
		n = make_reply(buf, rep, 8, 0);
		put_le32(rep + HDR_OFF_FLAGS, SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_SIGNED);
		iov = (struct iovec){rep, n};
		assert_int_equal(
		    smb2_sign(algs[a], p.c->sign_key, &iov, 1, rep + HDR_OFF_SIGNATURE), 0);
		send_frame(&p, rep, n);
		assert_int_equal(smbc_conn_on_readable(p.c), 0);
		assert_int_equal(d.calls, 1);
		assert_int_equal(d.status, 0);
		smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d);
		n = read_frame(&p, buf, sizeof(buf));
		n = make_reply(buf, rep, 8, 0);
		put_le32(rep + HDR_OFF_FLAGS, SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_SIGNED);
		smb2_sign(algs[a], p.c->sign_key, &iov, 1, rep + HDR_OFF_SIGNATURE);
		rep[66] ^= 1;
		send_frame(&p, rep, n);
		assert_int_equal(smbc_conn_on_readable(p.c), STATUS_INVALID_SIGNATURE);
		assert_int_equal(d.calls, 2);
		teardown_peer(&p);
	}
	/* an unsigned success reply on a signing session is refused */
	struct peer p;
	struct done d = {0};
	uint8_t body[4] = {4, 0, 0, 0}, buf[256], rep[128];
	setup_peer(&p, SMB2_DIALECT_300);
	p.c->session_ready = p.c->signing = true;
	p.c->sign_alg = SMB2_SIGN_AES_CMAC;
	smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d);
	read_frame(&p, buf, sizeof(buf));
	send_frame(&p, rep, make_reply(buf, rep, 1, 0));
	assert_int_equal(smbc_conn_on_readable(p.c), STATUS_ACCESS_DENIED);
	teardown_peer(&p);
}

static void t_transform(void **st)
{
	(void)st;
	for (uint16_t cipher = 1; cipher <= 4; cipher++) {
		struct peer p;
		struct done d = {0};
		uint8_t payload[3000], buf[4096], rep[4096];
		setup_peer(&p, SMB2_DIALECT_311);
		p.c->session_ready = p.c->encrypt_all = true;
		p.c->cipher = cipher;
		p.c->session_id = 0x1122334455667788ull;
		for (int i = 0; i < 32; i++) {
			p.c->enc_key[i] = (uint8_t)i;
			p.c->dec_key[i] = (uint8_t)(0x80 + i);
		}
		memset(payload, 0xab, sizeof(payload));
		uint8_t body[4] = {4, 0, 0, 0};
		smbc_submit(p.c, NULL, SMB2_WRITE, body, 4, payload, sizeof(payload), 0, cb, &d);
		size_t n = read_frame(&p, buf, sizeof(buf));
		assert_int_equal(n, 52 + 64 + 4 + sizeof(payload));
		assert_int_equal(get_le32(buf), SMB2_TRANSFORM_ID);
		assert_int_equal(get_le64(buf + 44), p.c->session_id);
		assert_int_equal(get_le32(buf + 36), 64 + 4 + sizeof(payload));
		/* the server decrypts with the client's encryption key */
		struct iovec iov = {buf + 52, n - 52};
		assert_int_equal(smb2_aead_decrypt((enum smb2_cipher)cipher, p.c->enc_key, buf + 20,
						   buf + 20, 32, &iov, 1, buf + 4),
				 0);
		assert_int_equal(get_le32(buf + 52), SMB2_PROTOCOL_ID);
		assert_int_equal(buf[52 + 64 + 4], 0xab);
		/* and answers under the client's decryption key */
		size_t m = make_reply(buf + 52, rep + 52, 1, 0);
		memset(rep, 0, 52);
		put_le32(rep, SMB2_TRANSFORM_ID);
		memset(rep + 20, 0x33, 16);
		put_le32(rep + 36, (uint32_t)m);
		put_le16(rep + 42, 1);
		put_le64(rep + 44, p.c->session_id);
		iov = (struct iovec){rep + 52, m};
		assert_int_equal(smb2_aead_encrypt((enum smb2_cipher)cipher, p.c->dec_key, rep + 20,
						   rep + 20, 32, &iov, 1, rep + 4),
				 0);
		uint8_t copy[4096];
		memcpy(copy, rep, 52 + m);
		send_frame(&p, rep, 52 + m);
		assert_int_equal(smbc_conn_on_readable(p.c), 0);
		assert_int_equal(d.calls, 1);
		assert_int_equal(d.status, 0);
		/* a tampered reply, and an unencrypted one, break the connection */
		smbc_submit(p.c, NULL, SMB2_ECHO, body, 4, NULL, 0, 0, cb, &d);
		n = read_frame(&p, buf, sizeof(buf));
		put_le64(copy + 52 + HDR_OFF_MESSAGE_ID, 1); /* inside the ciphertext: tampering */
		send_frame(&p, copy, 52 + m);
		assert_int_equal(smbc_conn_on_readable(p.c), STATUS_DECRYPTION_FAILED);
		assert_int_equal(d.calls, 2);
		teardown_peer(&p);
	}
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(t_credits),
	    cmocka_unit_test(t_bad_replies),
	    cmocka_unit_test(t_signing),
	    cmocka_unit_test(t_transform),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
