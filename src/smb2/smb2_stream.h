/* Alternate data stream names (MS-FSCC 2.1.5.3): "file:stream", "file:stream:$DATA",
 * "file::$DATA". Pure string handling, unit-tested on its own. */
#ifndef SHOAL_SMB2_STREAM_H
#define SHOAL_SMB2_STREAM_H

#include <stdbool.h>

#include <stdint.h>

#include "lib/ntstatus.h"

/* Longest stream name in UTF-8 bytes this server stores (the xattr name holds it). */
#define SMB2_STREAM_NAME_MAX 200

/* Splits the stream part off a wire path (UTF-8, '\' separated, as received). On success path
 * is cut at the first ':', *stream is a malloc'ed stream name (NULL for the unnamed data
 * stream) and *data_suffix tells whether the name spelt "::$DATA" explicitly. A colon before
 * the last component, an empty stream name without type, a type other than $DATA (any case),
 * a third colon or a stream name with '/' or over SMB2_STREAM_NAME_MAX bytes is
 * STATUS_OBJECT_NAME_INVALID. */
NTSTATUS smb2_stream_split(char *path, char **stream, bool *data_suffix);

/* The share-mode table's id of a stream (its stored name): FNV-1a, never 0 (0 is the file's
 * data). */
uint64_t smb2_stream_id(const char *stored);

#endif
