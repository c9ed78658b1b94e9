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

void
lv_log_setup(FILE *out, int verbose, int stamp)
{
	log_out = out;
	log_verbose = verbose;
	log_stamp = stamp;
}

void
lv_log(enum lv_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", ""};
	FILE *out = log_out ? log_out : stderr;
	char stamp[40] = "";
	va_list ap;

	if (level == LV_DEBUG && !log_verbose)
		return;
	if (log_stamp) {
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ld ", (long)(tv.tv_usec / 1000));
	}
	fputs(stamp, out);
	fputs(prefix[level], out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

const char *
lv_virerr(void)
{
	const char *msg = virGetLastErrorMessage();
	return msg ? msg : "unknown libvirt error";
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
