/* A small DER reader and writer (ITU-T X.690) on the lib/buf.h cursors, for SPNEGO.
 *
 * Only what SPNEGO needs: single-byte tags (the high-tag-number form is refused), definite
 * lengths of up to four length octets (indefinite lengths are refused), every length checked
 * against its enclosing element. Elements are read one at a time, so nesting depth is whatever
 * the caller's schema walks: a decoder never recurses on its input. */
#ifndef SHOAL_AUTH_ASN1_H
#define SHOAL_AUTH_ASN1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define ASN1_BOOLEAN 0x01
#define ASN1_INTEGER 0x02
#define ASN1_BIT_STRING 0x03
#define ASN1_OCTET_STRING 0x04
#define ASN1_OID 0x06
#define ASN1_ENUMERATED 0x0a
#define ASN1_GENERAL_STRING 0x1b
#define ASN1_SEQUENCE 0x30
#define ASN1_APPLICATION(n) (0x60 | (n)) /* constructed */
#define ASN1_CONTEXT(n) (0xa0 | (n))	 /* constructed */

/* Reads one element from r: its tag, its contents as a cursor (val), and optionally the whole
 * encoding (tag, length and contents) as a cursor (whole). 0, or -EINVAL on any error (r's
 * error flag is then set too). */
int asn1_get(struct rd *r, uint8_t *tag, struct rd *val, struct rd *whole);
/* As asn1_get, but the tag must be the given one. */
int asn1_expect(struct rd *r, uint8_t tag, struct rd *val);
/* True when r has another element and it has this tag (nothing is consumed). */
bool asn1_peek(const struct rd *r, uint8_t tag);

/* Writing: asn1_begin notes where an element's contents start; after writing the contents,
 * asn1_end puts tag and length in front of them. Errors stick in w like every other write. */
size_t asn1_begin(const struct wr *w);
void asn1_end(struct wr *w, size_t start, uint8_t tag);
/* A primitive element with the given contents. */
void asn1_put(struct wr *w, uint8_t tag, const void *p, size_t n);

#endif
