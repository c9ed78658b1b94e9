/* SPDX-License-Identifier: MIT */
/* Log lines, one per event, to stderr (the journal, under systemd); clocks. */
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "lvagent.h"

static FILE *log_out;
static int log_verbose;
static int log_stamp;
static int log_quiet;

void
lv_log_quiet(int on)
{
	log_quiet = on;
}

void
lv_log_setup(FILE *out, int verbose, int stamp)
{
	log_out = out;
	log_verbose = verbose;
	log_stamp = stamp;
}

/*
 * One event, one line: domain names and metadata values (anyone allowed to
 * edit a domain sets them) cannot start a line of their own or hide one,
 * since control characters are written as escapes.
 */
static void
put_escaped(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

void
lv_log(enum lv_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", ""};
	FILE *out = log_out ? log_out : stderr;
	char stamp[40] = "", line[2048];
	va_list ap;

	if (log_quiet || (level == LV_DEBUG && !log_verbose))
		return;
	if (log_stamp) {
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ld ", (long)(tv.tv_usec / 1000));
	}
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	fputs(stamp, out);
	fputs(prefix[level], out);
	put_escaped(out, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	if ((size_t)len >= sizeof(line))
		fputs("...", out);
	fputc('\n', out);
	fflush(out);
}

const char *
lv_virerr(void)
{
	const char *msg = virGetLastErrorMessage();
	return msg ? msg : "unknown libvirt error";
}

struct timespec
lv_deadline(int wait_ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += wait_ms / 1000;
	t.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

uint64_t
lv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t
lv_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}
