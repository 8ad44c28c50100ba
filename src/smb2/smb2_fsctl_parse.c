/* Decoders of FSCTL input buffers (see smb2_fsctl.h). */
#include "smb2/smb2_fsctl.h"

NTSTATUS fsctl_copychunk_parse(struct rd in, struct fsctl_copychunk *out, bool *limits)
{
	*limits = false;
	rd_bytes(&in, out->key, SMB2_RESUME_KEY_LEN);
	uint32_t count = rd_u32(&in);
	rd_skip(&in, 4); /* Reserved */
	if (!rd_ok(&in))
		return STATUS_INVALID_PARAMETER;
	if (count > SMB2_COPYCHUNK_MAX_CHUNKS) {
		*limits = true;
		return STATUS_INVALID_PARAMETER;
	}
	/* each entry is 24 bytes: the buffer must hold ChunkCount of them */
	if (rd_left(&in) < (size_t)count * 24)
		return STATUS_INVALID_PARAMETER;
	uint64_t total = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct fsctl_chunk *c = &out->chunks[i];
		c->src_off = rd_u64(&in);
		c->dst_off = rd_u64(&in);
		c->len = rd_u32(&in);
		rd_skip(&in, 4);
		if (c->len == 0 || c->len > SMB2_COPYCHUNK_MAX_CHUNK_LEN) {
			*limits = true;
			return STATUS_INVALID_PARAMETER;
		}
		total += c->len;
	}
	if (!rd_ok(&in))
		return STATUS_INVALID_PARAMETER;
	if (total > SMB2_COPYCHUNK_MAX_TOTAL) {
		*limits = true;
		return STATUS_INVALID_PARAMETER;
	}
	out->count = count;
	return STATUS_SUCCESS;
}

bool fsctl_set_sparse_parse(struct rd in)
{
	if (rd_left(&in) == 0)
		return true;
	return rd_u8(&in) != 0;
}

NTSTATUS fsctl_zero_data_parse(struct rd in, uint64_t *off, uint64_t *beyond)
{
	uint64_t o = rd_u64(&in), b = rd_u64(&in);
	if (!rd_ok(&in) || o > INT64_MAX || b > INT64_MAX || o > b)
		return STATUS_INVALID_PARAMETER;
	*off = o;
	*beyond = b;
	return STATUS_SUCCESS;
}

NTSTATUS fsctl_qar_parse(struct rd in, uint64_t *off, uint64_t *len)
{
	uint64_t o = rd_u64(&in), l = rd_u64(&in);
	if (!rd_ok(&in) || o > INT64_MAX || l > INT64_MAX || l > (uint64_t)INT64_MAX - o)
		return STATUS_INVALID_PARAMETER;
	*off = o;
	*len = l;
	return STATUS_SUCCESS;
}
