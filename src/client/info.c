/* QUERY_INFO, SET_INFO (MS-SMB2 2.2.37 - 2.2.40) and IOCTL (2.2.31, 2.2.32). */
#include <stdlib.h>
#include <string.h>

#include "client/client_priv.h"

#define INFO_FILE 1
#define FILE_ALL_INFORMATION 18
#define FILE_DISPOSITION_INFORMATION 13
#define SMB2_0_IOCTL_IS_FSCTL 1

/* The output buffer of a QUERY_INFO reply. */
uint32_t smbc_info_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen)
{
	return smbc_dir_parse(msg, len, data, datalen); /* same layout: ss 9, offset, length */
}

/* FILE_ALL_INFORMATION (MS-FSCC 2.4.2): Basic (40 bytes) and Standard (24) come first. */
uint32_t smbc_all_info_parse(const uint8_t *data, size_t len, struct smbc_stat *st)
{
	struct rd r = rd_make(data, len);
	st->create_time = rd_u64(&r);
	st->access_time = rd_u64(&r);
	st->write_time = rd_u64(&r);
	st->change_time = rd_u64(&r);
	st->attrs = rd_u32(&r);
	rd_skip(&r, 4);
	st->alloc_size = rd_u64(&r);
	st->size = rd_u64(&r);
	st->nlink = rd_u32(&r);
	st->delete_pending = rd_u8(&r) != 0;
	st->is_dir = rd_u8(&r) != 0;
	rd_skip(&r, 2);
	return rd_ok(&r) ? STATUS_SUCCESS : STATUS_INVALID_NETWORK_RESPONSE;
}

uint32_t smbc_query_info(struct smbc_file *f, uint8_t info_type, uint8_t cls, uint32_t addl,
			 uint32_t max_out, uint8_t **out, size_t *outlen)
{
	struct smbc_conn *c = f->tree->conn;
	uint8_t body[41] = {0};
	*out = NULL;
	*outlen = 0;
	if (!max_out || max_out > c->max_transact)
		max_out = c->max_transact;
	put_le16(body, 41);
	body[2] = info_type;
	body[3] = cls;
	put_le32(body + 4, max_out);
	put_le32(body + 16, addl);
	memcpy(body + 24, f->cr.file_id, 16);
	struct smbc_reply rep;
	uint32_t st =
	    smbc_call(c, f->tree, SMB2_QUERY_INFO, body, sizeof(body), NULL, 0, max_out, 0, &rep);
	const uint8_t *d = NULL;
	size_t dl = 0;
	if (!st || st == STATUS_BUFFER_OVERFLOW) {
		uint32_t pst = smbc_info_parse(rep.buf, rep.len, &d, &dl);
		st = pst ? pst : st;
	}
	if ((!st || st == STATUS_BUFFER_OVERFLOW) && dl) {
		*out = malloc(dl);
		if (*out) {
			memcpy(*out, d, dl);
			*outlen = dl;
		} else {
			st = STATUS_NO_MEMORY;
		}
	}
	smbc_reply_free(&rep);
	return st;
}

uint32_t smbc_set_info(struct smbc_file *f, uint8_t info_type, uint8_t cls, uint32_t addl,
		       const void *buf, size_t len)
{
	uint8_t body[32] = {0};
	put_le16(body, 33);
	body[2] = info_type;
	body[3] = cls;
	put_le32(body + 4, (uint32_t)len);
	put_le16(body + 8, SMB2_HDR_LEN + 32);
	put_le32(body + 12, addl);
	memcpy(body + 16, f->cr.file_id, 16);
	struct smbc_reply rep;
	uint32_t st = smbc_call(f->tree->conn, f->tree, SMB2_SET_INFO, body, sizeof(body), buf, len,
				0, 0, &rep);
	if (!st && (rep.len < SMB2_HDR_LEN + 2 || get_le16(rep.buf + SMB2_HDR_LEN) != 2))
		st = STATUS_INVALID_NETWORK_RESPONSE;
	smbc_reply_free(&rep);
	return st;
}

uint32_t smbc_stat_file(struct smbc_file *f, struct smbc_stat *st)
{
	uint8_t *buf;
	size_t len;
	uint32_t s = smbc_query_info(f, INFO_FILE, FILE_ALL_INFORMATION, 0, 4096, &buf, &len);
	if (s == STATUS_BUFFER_OVERFLOW)
		s = STATUS_SUCCESS; /* the name did not fit; the fixed part did */
	if (!s)
		s = smbc_all_info_parse(buf, len, st);
	free(buf);
	return s;
}

uint32_t smbc_set_delete(struct smbc_file *f, bool del)
{
	uint8_t b = del ? 1 : 0;
	return smbc_set_info(f, INFO_FILE, FILE_DISPOSITION_INFORMATION, 0, &b, 1);
}

uint32_t smbc_ioctl_parse(const uint8_t *msg, size_t len, const uint8_t **data, size_t *datalen)
{
	struct rd m = rd_make(msg, len);
	struct rd r = rd_make(msg, len);
	rd_seek(&r, SMB2_HDR_LEN);
	uint16_t ss = rd_u16(&r);
	rd_skip(&r, 2 + 4 + 16 + 8);
	uint32_t off = rd_u32(&r);
	uint32_t cnt = rd_u32(&r);
	rd_skip(&r, 8);
	struct rd d = rd_sub(&m, off, cnt);
	if (!rd_ok(&r) || ss != 49 || (cnt && !rd_ok(&d)))
		return STATUS_INVALID_NETWORK_RESPONSE;
	*data = cnt ? d.p : NULL;
	*datalen = cnt;
	return STATUS_SUCCESS;
}

uint32_t smbc_ioctl(struct smbc_file *f, uint32_t ctl, const void *in, size_t inlen,
		    uint32_t max_out, uint8_t **out, size_t *outlen)
{
	struct smbc_conn *c = f->tree->conn;
	uint8_t body[56] = {0};
	*out = NULL;
	*outlen = 0;
	if (max_out > c->max_transact)
		max_out = c->max_transact;
	put_le16(body, 57);
	put_le32(body + 4, ctl);
	memcpy(body + 8, f->cr.file_id, 16);
	put_le32(body + 24, inlen ? SMB2_HDR_LEN + 56 : 0);
	put_le32(body + 28, (uint32_t)inlen);
	put_le32(body + 44, max_out);
	put_le32(body + 48, SMB2_0_IOCTL_IS_FSCTL);
	struct smbc_reply rep;
	uint32_t st = smbc_call(c, f->tree, SMB2_IOCTL, body, sizeof(body), in, inlen,
				max_out > inlen ? max_out : inlen, 0, &rep);
	const uint8_t *d = NULL;
	size_t dl = 0;
	if (rep.buf && (!st || st == STATUS_BUFFER_OVERFLOW)) {
		uint32_t pst = smbc_ioctl_parse(rep.buf, rep.len, &d, &dl);
		st = pst ? pst : st;
	}
	if (dl && (!st || st == STATUS_BUFFER_OVERFLOW)) {
		*out = malloc(dl);
		if (*out) {
			memcpy(*out, d, dl);
			*outlen = dl;
		} else {
			st = STATUS_NO_MEMORY;
		}
	}
	smbc_reply_free(&rep);
	return st;
}
