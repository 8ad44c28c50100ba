/* The corpus replayer: a main() that feeds every file named on the command line, or found in a
 * directory named there (sorted by name, not recursive), to the target's LLVMFuzzerTestOneInput.
 * Built with the project compiler under ASan+UBSan for make test, so the checked-in corpus is a
 * fast, deterministic regression test. Exits 1 when an argument cannot be read or when nothing
 * was replayed (an empty corpus tests nothing); a bug aborts through the sanitizers. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* The input being replayed, named when it aborts (sanitizer reports end in abort()). */
static const char *current;

static void on_abort(int sig)
{
	if (current) {
		const char m[] = "replay: the input that failed: ";
		ssize_t rc = write(2, m, sizeof(m) - 1);
		rc = write(2, current, strlen(current));
		rc = write(2, "\n", 1);
		(void)rc;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		return -1;
	}
	/* an exact-size copy, so that ASan sees a read one byte past the input */
	uint8_t *in = malloc(len ? len : 1);
	if (!in) {
		free(buf);
		return -1;
	}
	memcpy(in, buf, len);
	free(buf);
	current = path;
	LLVMFuzzerTestOneInput(in, len);
	current = NULL;
	free(in);
	return 0;
}

static int only_files(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Returns the number of inputs replayed, or -1. */
static long replay_dir(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, only_files, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	long count = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (count >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			count = replay_file(path) < 0 ? -1 : count + 1;
		free(ents[i]);
	}
	free(ents);
	return count;
}

int main(int argc, char **argv)
{
	long total = 0;
	signal(SIGABRT, on_abort);
	signal(SIGSEGV, on_abort);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	printf("replayed %ld input%s\n", total, total == 1 ? "" : "s");
	return total > 0 ? 0 : 1;
}
