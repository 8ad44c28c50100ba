/* UTF-16LE (as on the wire) <-> UTF-8 (as in the file system and in memory), and Windows-style
 * case-insensitive comparison. Invalid input (unpaired surrogates, bad UTF-8) is an error, never
 * silently replaced, so two different wire names can never map to one file name. */
#ifndef SHOAL_LIB_UTF16_H
#define SHOAL_LIB_UTF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Converts nbytes of UTF-16LE (nbytes must be even) to a NUL-terminated malloc'ed UTF-8 string.
 * A UTF-16 NUL inside the input is an error. Returns 0, -EINVAL (bad input) or -ENOMEM. */
int utf16le_to_utf8(const uint8_t *in, size_t nbytes, char **out);
/* Converts NUL-terminated UTF-8 to malloc'ed UTF-16LE (not terminated); *nbytes gets the size.
 * Returns 0, -EINVAL or -ENOMEM. */
int utf8_to_utf16le(const char *in, uint8_t **out, size_t *nbytes);
/* Appends the UTF-16LE form of s (no terminator) to w; returns bytes appended or -EINVAL/-ENOMEM
 * (w->err is set on -ENOMEM). */
long wr_utf16(struct wr *w, const char *s);
/* Number of UTF-16LE bytes s encodes to, or -EINVAL. */
long utf16_len(const char *s);
/* Case-insensitive equality of two UTF-8 strings by simple Unicode upper-casing per code point
 * (as NTFS's upcase table does for the BMP); false on invalid UTF-8. */
bool utf8_case_equal(const char *a, const char *b);
/* A hash of s that is the same for every s utf8_case_equal calls equal (FNV-1a over the
 * upper-cased code points); false on invalid UTF-8, which equals nothing. */
bool utf8_case_hash(const char *s, uint64_t *hash);
/* Upper-cases a UTF-8 string in a new malloc'ed buffer (NULL on error). */
char *utf8_upper(const char *s);

#endif
