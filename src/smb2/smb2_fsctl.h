/* FSCTL codes and the pure decoders of their input buffers (MS-SMB2 2.2.31.1, MS-FSCC 2.3).
 * No file access here: smb2_fsctl_parse.c only reads bytes, so the unit tests exercise it
 * with any input. The handlers live in smb2_copychunk.c and smb2_sparse.c. */
#ifndef SHOAL_SMB2_FSCTL_H
#define SHOAL_SMB2_FSCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/ntstatus.h"

#define FSCTL_SRV_REQUEST_RESUME_KEY 0x00140078u
#define FSCTL_SRV_COPYCHUNK 0x001440F2u
#define FSCTL_SRV_COPYCHUNK_WRITE 0x001480F2u
#define FSCTL_SET_SPARSE 0x000900C4u
#define FSCTL_SET_ZERO_DATA 0x000980C8u
#define FSCTL_QUERY_ALLOCATED_RANGES 0x000940CFu
#define FSCTL_GET_COMPRESSION 0x0009003Cu
#define FSCTL_SET_COMPRESSION 0x0009C040u
#define FSCTL_CREATE_OR_GET_OBJECT_ID 0x000900C0u
#define FSCTL_GET_OBJECT_ID 0x0009009Cu

/* Server-side copy limits (MS-SMB2 3.3.3: ServerSideCopyMaxNumberofChunks,
 * ServerSideCopyMaxChunkSize, ServerSideCopyMaxDataSize), the values Windows uses. */
#define SMB2_COPYCHUNK_MAX_CHUNKS 256u
#define SMB2_COPYCHUNK_MAX_CHUNK_LEN (1024u * 1024u)
#define SMB2_COPYCHUNK_MAX_TOTAL (16u * 1024u * 1024u)

#define SMB2_RESUME_KEY_LEN 24
/* SRV_REQUEST_RESUME_KEY response (2.2.32.3): key, ContextLength = 0, 4 bytes of context */
#define SMB2_RESUME_KEY_RSP_LEN 32
/* SRV_COPYCHUNK_RESPONSE (2.2.32.1) */
#define SMB2_COPYCHUNK_RSP_LEN 12

/* One SRV_COPYCHUNK entry (2.2.31.1.1). */
struct fsctl_chunk {
	uint64_t src_off, dst_off;
	uint32_t len;
};

/* SRV_COPYCHUNK_COPY (2.2.31.1): the parsed request. chunks points into storage owned by the
 * caller (at most SMB2_COPYCHUNK_MAX_CHUNKS entries are ever decoded). */
struct fsctl_copychunk {
	uint8_t key[SMB2_RESUME_KEY_LEN];
	uint32_t count;
	struct fsctl_chunk chunks[SMB2_COPYCHUNK_MAX_CHUNKS];
};

/* Decodes a SRV_COPYCHUNK_COPY and checks it against the limits of 3.3.5.15.6:
 *  - STATUS_INVALID_PARAMETER for a truncated buffer (fewer chunk entries than ChunkCount);
 *  - STATUS_INVALID_PARAMETER with *limits = true when ChunkCount, a chunk's Length (0 or over
 *    the maximum) or the total exceeds the server's limits: the caller then answers with the
 *    limits in a SRV_COPYCHUNK_RESPONSE.
 * Returns STATUS_SUCCESS with *out filled otherwise. */
NTSTATUS fsctl_copychunk_parse(struct rd in, struct fsctl_copychunk *out, bool *limits);

/* FILE_SET_SPARSE_BUFFER (MS-FSCC 2.3.64): no buffer means "set"; a longer one is accepted
 * (Windows reads the first byte). */
bool fsctl_set_sparse_parse(struct rd in);

/* FILE_ZERO_DATA_INFORMATION (2.3.67): FileOffset, BeyondFinalZero. Both must be
 * non-negative and off <= beyond; else (or a short buffer) STATUS_INVALID_PARAMETER. */
NTSTATUS fsctl_zero_data_parse(struct rd in, uint64_t *off, uint64_t *beyond);

/* FILE_ALLOCATED_RANGE_BUFFER (2.3.33) of QUERY_ALLOCATED_RANGES: FileOffset, Length.
 * Negative values, offset + length overflowing INT64, or a short buffer are
 * STATUS_INVALID_PARAMETER. Extra bytes after the first range are ignored. */
NTSTATUS fsctl_qar_parse(struct rd in, uint64_t *off, uint64_t *len);

#endif
