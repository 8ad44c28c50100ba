#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

volatile int log_levels[LOG_NSUB] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
static int log_fd = 2;

static const char *const sub_names[LOG_NSUB] = {"core", "smb2", "auth",    "vfs",   "state",
						 "rpc",  "mgmt", "cluster", "client"};

const char *log_sub_name(enum log_sub s)
{
	return (unsigned)s < LOG_NSUB ? sub_names[s] : "?";
}

void log_set_level(int level)
{
	for (int i = 0; i < LOG_NSUB; i++)
		log_levels[i] = level;
}

static int parse_num(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 10)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Parses spec into lv (which holds the starting levels); lv is left partly written on error. */
static int parse_levels_into(const char *spec, int *lv)
{
	char buf[256];
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	int first = 1;
	char *save = NULL;
	for (char *tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		char *colon = strchr(tok, ':');
		int v;
		if (!colon) {
			if (!first || parse_num(tok, &v))
				return -EINVAL;
			for (int i = 0; i < LOG_NSUB; i++)
				lv[i] = v;
		} else {
			*colon = 0;
			int idx = -1;
			for (int i = 0; i < LOG_NSUB; i++)
				if (!strcmp(tok, sub_names[i]))
					idx = i;
			if (idx < 0 || parse_num(colon + 1, &v))
				return -EINVAL;
			lv[idx] = v;
		}
		first = 0;
	}
	return 0;
}

int log_parse_levels(const char *spec)
{
	int lv[LOG_NSUB];
	for (int i = 0; i < LOG_NSUB; i++)
		lv[i] = log_levels[i];
	if (parse_levels_into(spec, lv))
		return -EINVAL;
	for (int i = 0; i < LOG_NSUB; i++)
		log_levels[i] = lv[i];
	return 0;
}

int log_check_levels(const char *spec)
{
	int lv[LOG_NSUB] = {0};
	return parse_levels_into(spec, lv);
}

int log_set_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int old = log_fd;
	log_fd = fd;
	if (old > 2)
		close(old);
	return 0;
}

void log_write(enum log_sub sub, int level, const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s:%d: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, log_sub_name(sub), level, base, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	/* one write() per line keeps lines from different threads whole */
	ssize_t w = write(log_fd, buf, len);
	(void)w;
}
