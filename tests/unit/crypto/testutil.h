/* Small helpers shared by the crypto unit tests: hex decoding and a seeded PRNG whose seed is
 * printed so that a failing randomized run can be repeated (CRYPTO_TEST_SEED=<n>). */
#ifndef SHOAL_TEST_CRYPTO_UTIL_H
#define SHOAL_TEST_CRYPTO_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

/* Decodes a hex string (no separators) into out; returns the number of bytes. */
static inline size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
	return n;
}

struct trng {
	uint64_t s;
};

static inline void trng_seed(struct trng *r, const char *who)
{
	const char *env = getenv("CRYPTO_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();

	if (seed == 0)
		seed = 1;
	fprintf(stderr, "%s: CRYPTO_TEST_SEED=%llu\n", who, (unsigned long long)seed);
	r->s = seed;
}

static inline uint64_t trng_next(struct trng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static inline size_t trng_below(struct trng *r, size_t n)
{
	return n ? (size_t)(trng_next(r) % n) : 0;
}

static inline void trng_fill(struct trng *r, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)trng_next(r);
}

/* Splits buf[0..len) into between 1 and max iovecs of random sizes (some possibly empty), the
 * first at least `first` bytes long (clamped to len); returns the count. */
static inline int trng_split(struct trng *r, uint8_t *buf, size_t len, size_t first,
			     struct iovec *iov, int max)
{
	int n = 1 + (int)trng_below(r, (size_t)max);
	size_t off = 0;

	if (first > len)
		first = len;
	for (int i = 0; i < n; i++) {
		size_t left = len - off, take;
		if (i == n - 1)
			take = left;
		else
			take = trng_below(r, left + 1);
		if (i == 0 && take < first)
			take = first;
		iov[i].iov_base = buf + off;
		iov[i].iov_len = take;
		off += take;
	}
	return n;
}

#endif
