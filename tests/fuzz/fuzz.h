/* Shared by every fuzz target: the libFuzzer entry point (each target defines it), and helpers
 * for targets whose input is several messages.
 *
 * A target is built twice: with clang and -fsanitize=fuzzer as a libFuzzer binary (make fuzz),
 * and with the project compiler and replay.c's main() as a corpus replayer that runs in
 * make test. So a target must be deterministic and must not keep state between inputs that
 * changes what a later input does. */
#ifndef SHOAL_FUZZ_H
#define SHOAL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test does not hold: report it and abort, so that libFuzzer
 * keeps the input and the replay fails. */
#define FUZZ_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
