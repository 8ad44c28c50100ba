/* The FSCTL input decoders (src/smb2/smb2_fsctl_parse.c) and the stream name splitter
 * (smb2_stream_name.c) on arbitrary bytes: no read past the input, and the promises of the
 * headers hold for whatever is accepted (copychunk within the 3.3.5.15.6 limits, ranges that
 * cannot overflow, a split that only shortens the path). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smb2/smb2_fsctl.h"
#include "smb2/smb2_stream.h"

static void copychunk(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy so ASan catches any read past the end */
	uint8_t *in = malloc(size ? size : 1);
	struct fsctl_copychunk *cc = malloc(sizeof(*cc));
	if (!in || !cc) {
		free(in);
		free(cc);
		return;
	}
	memcpy(in, data, size);
	bool limits = false;
	NTSTATUS st = fsctl_copychunk_parse(rd_make(in, size), cc, &limits);
	FUZZ_CHECK(st == STATUS_SUCCESS || st == STATUS_INVALID_PARAMETER);
	FUZZ_CHECK(!limits || st == STATUS_INVALID_PARAMETER);
	if (st == STATUS_SUCCESS) {
		uint64_t total = 0;
		FUZZ_CHECK(cc->count <= SMB2_COPYCHUNK_MAX_CHUNKS);
		FUZZ_CHECK(size >= 32 + 24 * (size_t)cc->count);
		for (uint32_t i = 0; i < cc->count; i++) {
			FUZZ_CHECK(cc->chunks[i].len > 0);
			FUZZ_CHECK(cc->chunks[i].len <= SMB2_COPYCHUNK_MAX_CHUNK_LEN);
			total += cc->chunks[i].len;
		}
		FUZZ_CHECK(total <= SMB2_COPYCHUNK_MAX_TOTAL);
	}
	uint64_t a, b;
	if (fsctl_zero_data_parse(rd_make(in, size), &a, &b) == STATUS_SUCCESS)
		FUZZ_CHECK(a <= b && b <= INT64_MAX);
	if (fsctl_qar_parse(rd_make(in, size), &a, &b) == STATUS_SUCCESS)
		FUZZ_CHECK(a <= INT64_MAX && b <= (uint64_t)INT64_MAX - a);
	(void)fsctl_set_sparse_parse(rd_make(in, size));
	free(cc);
	free(in);
}

static void stream_split(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	size_t before = strlen(s);
	char *stream = NULL;
	bool dsuf = false;
	NTSTATUS st = smb2_stream_split(s, &stream, &dsuf);
	FUZZ_CHECK(strlen(s) <= before);
	if (st == STATUS_SUCCESS) {
		FUZZ_CHECK(strchr(s, ':') == NULL);
		if (stream) {
			FUZZ_CHECK(*stream && strlen(stream) <= SMB2_STREAM_NAME_MAX);
			FUZZ_CHECK(!strchr(stream, ':') && !strchr(stream, '/') &&
				   !strchr(stream, '\\'));
			FUZZ_CHECK(smb2_stream_id(stream) != 0);
		}
	} else {
		FUZZ_CHECK(stream == NULL);
	}
	free(stream);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	copychunk(data, size);
	stream_split(data, size);
	return 0;
}
