/* READ and WRITE (MS-SMB2 2.2.19 - 2.2.22), one at a time or pipelined: a window of requests in
 * flight, each charged by its size (3.2.4.1.5), so a transfer runs at the speed of the link
 * rather than of the round trip. */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"

#define DEFAULT_CHUNK (1024 * 1024)
#define DEFAULT_WINDOW 16
#define READ_PADDING 0x50 /* where we would like the data: right after the 16-byte reply body */

void smbc_read_encode(struct wr *w, const uint8_t fid[16], uint64_t off, uint32_t len)
{
	wr_u16(w, 49);
	wr_u8(w, READ_PADDING);
	wr_u8(w, 0);
	wr_u32(w, len);
	wr_u64(w, off);
	wr_bytes(w, fid, 16);
	wr_u32(w, 0); /* MinimumCount */
	wr_u32(w, 0); /* Channel */
	wr_u32(w, 0); /* RemainingBytes */
	wr_u16(w, 0);
	wr_u16(w, 0);
	wr_u8(w, 0); /* Buffer: one byte, as the StructureSize says */
}

void smbc_write_encode(struct wr *w, const uint8_t fid[16], uint64_t off, uint32_t len)
{
	wr_u16(w, 49);
	wr_u16(w, SMB2_HDR_LEN + 48);
	wr_u32(w, len);
	wr_u64(w, off);
	wr_bytes(w, fid, 16);
	wr_u32(w, 0);
	wr_u32(w, 0);
	wr_u16(w, 0);
	wr_u16(w, 0);
	wr_u32(w, 0);
}

uint32_t smbc_read_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen)
{
	struct rd m = rd_make(msg, len);
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	uint8_t off = rd_u8(&r);
	rd_skip(&r, 1);
	uint32_t dlen = rd_u32(&r);
	rd_skip(&r, 8);
	if (!rd_ok(&r) || ss != 17)
		return STATUS_INVALID_NETWORK_RESPONSE;
	*data = NULL;
	*datalen = 0;
	if (!dlen)
		return STATUS_SUCCESS;
	struct rd d = rd_sub(&m, off, dlen);
	if (!rd_ok(&d) || off < SMB2_HDR_LEN + 16)
		return STATUS_INVALID_NETWORK_RESPONSE;
	*data = d.p;
	*datalen = dlen;
	return STATUS_SUCCESS;
}

uint32_t smbc_write_parse(const uint8_t *msg, size_t len, uint32_t *count)
{
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	rd_skip(&r, 2);
	*count = rd_u32(&r);
	rd_skip(&r, 8);
	return rd_ok(&r) && ss == 17 ? STATUS_SUCCESS : STATUS_INVALID_NETWORK_RESPONSE;
}

uint32_t smbc_read(struct smbc_file *f, uint64_t off, void *buf, size_t len, size_t *done)
{
	struct smbc_conn *c = f->tree->conn;
	uint8_t body[49];
	struct wr w;
	*done = 0;
	if (len > c->max_read)
		len = c->max_read;
	wr_init_fixed(&w, body, sizeof(body));
	smbc_read_encode(&w, f->cr.file_id, off, (uint32_t)len);
	struct smbc_reply rep;
	uint32_t st = smbc_call(c, f->tree, SMB2_READ, body, sizeof(body), NULL, 0, len, 0, &rep);
	const uint8_t *d = NULL;
	size_t dl = 0;
	/* a pipe read says BUFFER_OVERFLOW when the message goes on: data came all the same */
	if (!st || st == STATUS_BUFFER_OVERFLOW) {
		uint32_t pst = smbc_read_parse(rep.buf, rep.len, &d, &dl);
		st = pst ? pst : st;
	}
	if (dl > len)
		st = STATUS_INVALID_NETWORK_RESPONSE;
	if ((!st || st == STATUS_BUFFER_OVERFLOW) && dl) {
		memcpy(buf, d, dl);
		*done = dl;
	}
	smbc_reply_free(&rep);
	return st;
}

uint32_t smbc_write(struct smbc_file *f, uint64_t off, const void *buf, size_t len, size_t *done)
{
	struct smbc_conn *c = f->tree->conn;
	uint8_t body[48];
	struct wr w;
	*done = 0;
	if (len > c->max_write)
		len = c->max_write;
	wr_init_fixed(&w, body, sizeof(body));
	smbc_write_encode(&w, f->cr.file_id, off, (uint32_t)len);
	struct smbc_reply rep;
	uint32_t st = smbc_call(c, f->tree, SMB2_WRITE, body, sizeof(body), buf, len, 0, 0, &rep);
	uint32_t count = 0;
	if (!st)
		st = smbc_write_parse(rep.buf, rep.len, &count);
	if (!st && count > len)
		st = STATUS_INVALID_NETWORK_RESPONSE;
	*done = st ? 0 : count;
	smbc_reply_free(&rep);
	return st;
}

/* ---- pipelined transfers ---------------------------------------------------------------- */

struct xfer {
	struct smbc_file *f;
	const struct smbc_xfer *x;
	smbc_sink_fn sink;
	smbc_source_fn source;
	uint8_t *buf; /* put: one chunk read from the source */
	uint64_t size, next, done;
	size_t chunk;
	unsigned window, inflight;
	uint32_t status;
	bool eof;
};

struct piece {
	struct xfer *s;
	uint64_t off;
	uint32_t len;
};

static void issue(struct xfer *s);

static void piece_done(struct xfer *s, struct piece *p, size_t moved)
{
	s->inflight--;
	s->done += moved;
	free(p);
	if (s->x && s->x->progress)
		s->x->progress(s->x->arg, s->done);
	issue(s);
}

static void read_cb(struct smbc_conn *c, const struct smbc_msg *m, void *arg)
{
	struct piece *p = arg;
	struct xfer *s = p->s;
	const uint8_t *d = NULL;
	size_t dl = 0;
	uint32_t st = m->status;
	if (st == STATUS_END_OF_FILE) {
		s->eof = true;
		st = STATUS_SUCCESS;
	} else if (!st) {
		st = smbc_read_parse(m->hdr, SMB2_HDR_LEN + m->bodylen, &d, &dl);
		if (!st && dl > p->len)
			st = STATUS_INVALID_NETWORK_RESPONSE;
		if (!st && dl && s->sink(s->x ? s->x->arg : NULL, p->off, d, dl))
			st = STATUS_CANCELLED;
		if (!st && dl < p->len)
			s->eof = true; /* the file is shorter than it was: stop at its end */
	}
	if (st && !s->status)
		s->status = st;
	piece_done(s, p, dl);
}

static void write_cb(struct smbc_conn *c, const struct smbc_msg *m, void *arg)
{
	struct piece *p = arg;
	struct xfer *s = p->s;
	uint32_t count = 0;
	uint32_t st = m->status;
	if (!st)
		st = smbc_write_parse(m->hdr, SMB2_HDR_LEN + m->bodylen, &count);
	if (!st && count != p->len)
		st = count < p->len ? STATUS_DISK_FULL : STATUS_INVALID_NETWORK_RESPONSE;
	if (st && !s->status)
		s->status = st;
	piece_done(s, p, st ? 0 : count);
}

static uint32_t submit_piece(struct xfer *s, struct piece *p)
{
	struct smbc_tree *t = s->f->tree;
	uint8_t body[49];
	struct wr w;
	wr_init_fixed(&w, body, sizeof(body));
	if (s->sink) {
		smbc_read_encode(&w, s->f->cr.file_id, p->off, p->len);
		return smbc_submit(t->conn, t, SMB2_READ, body, w.len, NULL, 0, p->len, read_cb, p);
	}
	long got = s->source(s->x ? s->x->arg : NULL, p->off, s->buf, p->len);
	if (got < 0)
		return STATUS_CANCELLED;
	if ((size_t)got < p->len) {
		s->size = p->off + (uint64_t)got; /* the source ended early */
		p->len = (uint32_t)got;
		if (!got) {
			s->inflight--;
			free(p);
			return STATUS_SUCCESS;
		}
	}
	smbc_write_encode(&w, s->f->cr.file_id, p->off, p->len);
	return smbc_submit(t->conn, t, SMB2_WRITE, body, w.len, s->buf, p->len, 0, write_cb, p);
}

static void issue(struct xfer *s)
{
	while (!s->status && !s->eof && s->inflight < s->window && s->next < s->size) {
		struct piece *p = calloc(1, sizeof(*p));
		if (!p) {
			s->status = STATUS_NO_MEMORY;
			return;
		}
		p->s = s;
		p->off = s->next;
		p->len = (uint32_t)(s->size - s->next < s->chunk ? s->size - s->next : s->chunk);
		s->next += p->len;
		s->inflight++;
		uint32_t st = submit_piece(s, p);
		if (st) {
			s->inflight--;
			free(p);
			s->status = st;
		}
	}
}

static bool xfer_idle(void *arg)
{
	struct xfer *s = arg;
	return s->inflight == 0 && (s->status || s->eof || s->next >= s->size);
}

static uint32_t run(struct xfer *s, size_t max, uint64_t *done)
{
	struct smbc_conn *c = s->f->tree->conn;
	s->chunk = s->x && s->x->chunk ? s->x->chunk : DEFAULT_CHUNK;
	if (s->chunk > max)
		s->chunk = max;
	s->window = s->x && s->x->window ? s->x->window : DEFAULT_WINDOW;
	if (s->source && !(s->buf = malloc(s->chunk)))
		return STATUS_NO_MEMORY;
	issue(s);
	uint32_t st = smbc_wait(c, xfer_idle, s);
	free(s->buf);
	if (done)
		*done = s->done;
	return s->status ? s->status : st;
}

uint32_t smbc_get(struct smbc_file *f, uint64_t size, const struct smbc_xfer *x, smbc_sink_fn sink,
		  uint64_t *done)
{
	struct xfer s = {.f = f, .x = x, .sink = sink, .size = size};
	return run(&s, f->tree->conn->max_read, done);
}

uint32_t smbc_put(struct smbc_file *f, uint64_t size, const struct smbc_xfer *x,
		  smbc_source_fn source, uint64_t *done)
{
	struct xfer s = {.f = f, .x = x, .source = source, .size = size};
	return run(&s, f->tree->conn->max_write, done);
}
