/* Stream name syntax (see smb2_stream.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smb2/smb2_stream.h"

NTSTATUS smb2_stream_split(char *path, char **stream, bool *data_suffix)
{
	*stream = NULL;
	*data_suffix = false;
	char *colon = strchr(path, ':');
	if (!colon)
		return STATUS_SUCCESS;
	/* only the last component may name a stream */
	if (strchr(colon, '\\'))
		return STATUS_OBJECT_NAME_INVALID;
	char *name = colon + 1;
	char *type = strchr(name, ':');
	if (type) {
		*type++ = '\0';
		if (strchr(type, ':') || strcasecmp(type, "$DATA") != 0)
			return STATUS_OBJECT_NAME_INVALID;
	}
	if (!*name) {
		if (!type)
			return STATUS_OBJECT_NAME_INVALID; /* "file:" */
		*colon = '\0';
		*data_suffix = true;
		return STATUS_SUCCESS;
	}
	if (strchr(name, '/') || strlen(name) > SMB2_STREAM_NAME_MAX)
		return STATUS_OBJECT_NAME_INVALID;
	if (colon == path)
		return STATUS_OBJECT_NAME_INVALID; /* streams of the share root are not offered */
	char *s = strdup(name);
	if (!s)
		return STATUS_NO_MEMORY;
	*colon = '\0';
	*stream = s;
	return STATUS_SUCCESS;
}

uint64_t smb2_stream_id(const char *stored)
{
	uint64_t h = 14695981039346656037ull;
	for (const unsigned char *p = (const unsigned char *)stored; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h ? h : 1;
}
