/* SPDX-License-Identifier: MIT */
/* reclaimctl: the reclaim policy as a JSON-lines filter (see reclaimctl.1). */
#define _POSIX_C_SOURCE 200809L

#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum exit_code {
	EXIT_LINES_OK = 0,
	EXIT_LINE_FAILED = 1, /* some input line was answered with an error */
	EXIT_USAGE = 2,       /* bad command line or configuration */
	EXIT_IO = 3           /* cannot read, write or allocate */
};

struct options {
	const char *command;
	const char *config_path;
	int profile;
	size_t capacity;
	size_t max_line;
	int explain;
	int defaults;
	unsigned threads;
	const char *line_option; /* the last option only decide and explain take */
};

static const char usage_text[] =
	"usage: reclaimctl decide  [--config FILE] [--profile NAME] [--capacity N] [--explain]\n"
	"                          [--max-line-bytes N] [--threads N]\n"
	"       reclaimctl explain [--config FILE] [--profile NAME] [--capacity N]\n"
	"                          [--max-line-bytes N] [--threads N]\n"
	"       reclaimctl config  (--defaults | --config FILE) [--profile NAME]\n"
	"       reclaimctl --help | --version\n"
	"Reads one JSON host snapshot per line on stdin and writes one JSON answer per\n"
	"line on stdout; see reclaimctl(1).\n";

static int
usage_error(const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 1, 2)))
#endif
	;

static int
usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "reclaimctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	return EXIT_USAGE;
}

static int
parse_size(size_t *out, const char *text)
{
	char *end;
	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v == 0 || v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* "--name VALUE" or "--name=VALUE"; NULL if @p arg is not --name. */
static const char *
option_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];
	if (strncmp(arg, name, n) != 0)
		return NULL;
	if (arg[n] == '=')
		return arg + n + 1;
	if (arg[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

static int
parse_args(struct options *o, int argc, char **argv)
{
	o->command = argv[1];
	for (int i = 2; i < argc; i++) {
		int missing = 0;
		const char *v;
		if ((v = option_value(argc, argv, &i, "--config", &missing))) {
			o->config_path = v;
		} else if ((v = option_value(argc, argv, &i, "--profile", &missing))) {
			uint32_t p;
			if (ctl_value_of(&p, reclaim_profile_name, 0, v) < 0) {
				char list[128];
				ctl_names_list(list, sizeof(list), reclaim_profile_name, 0);
				return usage_error("unknown profile '%s' (%s)", v, list);
			}
			o->profile = (int)p;
		} else if ((v = option_value(argc, argv, &i, "--capacity", &missing))) {
			o->line_option = "--capacity";
			if (parse_size(&o->capacity, v) < 0)
				return usage_error("--capacity needs a positive integer, not '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--max-line-bytes", &missing))) {
			o->line_option = "--max-line-bytes";
			if (parse_size(&o->max_line, v) < 0)
				return usage_error("--max-line-bytes needs a positive integer, not '%s'",
						   v);
		} else if ((v = option_value(argc, argv, &i, "--threads", &missing))) {
			o->line_option = "--threads";
			size_t n = 0;
			if (strcmp(v, "0") != 0 && (parse_size(&n, v) < 0 || n > 64))
				return usage_error("--threads needs an integer from 0 to 64, not '%s'",
						   v);
			o->threads = (unsigned)n;
		} else if (missing) {
			return usage_error("%s needs a value", argv[i]);
		} else if (strcmp(argv[i], "--explain") == 0) {
			o->explain = 1;
		} else if (strcmp(argv[i], "--defaults") == 0) {
			o->defaults = 1;
		} else {
			return usage_error("unknown argument '%s'", argv[i]);
		}
	}
	return 0;
}

/* Reads a whole (small) file; NULL with errno set on failure. */
static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t used = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - used < 4096) {
			if (cap >= ((size_t)16 << 20)) {
				errno = EFBIG;
				goto fail;
			}
			char *bigger = realloc(data, cap ? cap * 2 : 8192);
			if (!bigger) {
				errno = ENOMEM;
				goto fail;
			}
			data = bigger;
			cap = cap ? cap * 2 : 8192;
		}
		size_t got = fread(data + used, 1, cap - used, f);
		used += got;
		if (got == 0) {
			if (ferror(f))
				goto fail;
			break;
		}
	}
	fclose(f);
	*len = used;
	return data;
fail:
	fclose(f);
	free(data);
	return NULL;
}

static int
load_config(struct reclaim_config *cfg, const struct options *o)
{
	struct ctl_error err;
	size_t len;
	char *text;

	if (!o->config_path) {
		int status = reclaim_config_init_profile(cfg, sizeof(*cfg), o->profile);
		if (status != RECLAIM_OK) {
			fprintf(stderr, "reclaimctl: %s\n", reclaim_strerror(status));
			return -1;
		}
		return 0;
	}
	text = read_file(o->config_path, &len);
	if (!text) {
		fprintf(stderr, "reclaimctl: %s: %s\n", o->config_path, strerror(errno));
		return -1;
	}
	int rc = ctl_config_parse(cfg, &err, text, len, o->profile);
	free(text);
	if (rc < 0) {
		struct ctl_buf msg = {0};
		ctl_puts(&msg, "reclaimctl: ");
		ctl_put_text(&msg, o->config_path, strlen(o->config_path));
		ctl_puts(&msg, ": ");
		if (err.path[0]) {
			ctl_put_text(&msg, err.path, strlen(err.path));
			ctl_puts(&msg, ": ");
		}
		if (err.kind == CTL_ERR_POLICY) {
			ctl_puts(&msg, ctl_status_name(err.status));
			ctl_puts(&msg, ": ");
		}
		ctl_put_text(&msg, err.message, strlen(err.message));
		ctl_putc(&msg, '\n');
		if (!msg.oom)
			fwrite(msg.data, 1, msg.len, stderr);
		ctl_buf_free(&msg);
		return -1;
	}
	return 0;
}

static int
write_out(struct ctl_buf *out)
{
	if (out->oom) {
		fprintf(stderr, "reclaimctl: out of memory\n");
		return -1;
	}
	if (fwrite(out->data, 1, out->len, stdout) != out->len || fflush(stdout) != 0) {
		fprintf(stderr, "reclaimctl: write: %s\n", strerror(errno));
		return -1;
	}
	out->len = 0;
	return 0;
}

/* What --help and --version printed, out: an exit status. */
static int
flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "reclaimctl: write: %s\n", errno ? strerror(errno) : "error");
		return EXIT_IO;
	}
	return EXIT_LINES_OK;
}

static int
run_config(const struct options *o)
{
	struct reclaim_config cfg;
	struct ctl_buf out = {0};

	if (o->defaults == (o->config_path != NULL))
		return usage_error("%s", "config needs exactly one of --defaults and --config");
	if (o->line_option)
		return usage_error("%s belongs to the decide and explain commands", o->line_option);
	if (load_config(&cfg, o) < 0)
		return EXIT_USAGE;
	ctl_config_print(&out, &cfg);
	int rc = write_out(&out) < 0 ? EXIT_IO : EXIT_LINES_OK;
	ctl_buf_free(&out);
	return rc;
}

static int
run_lines(const struct options *o, int mode)
{
	struct reclaim_config cfg;
	struct ctl_session *session;
	const char *what;

	if (o->defaults)
		return usage_error("%s", "--defaults belongs to the config command");
	if (load_config(&cfg, o) < 0)
		return EXIT_USAGE;
	int status = ctl_session_new(&session, &cfg, o->capacity, mode);
	if (status != RECLAIM_OK) {
		fprintf(stderr, "reclaimctl: cannot create a policy for %zu VMs: %s\n",
			o->capacity, reclaim_strerror(status));
		return status == RECLAIM_E_NOMEM ? EXIT_IO : EXIT_USAGE;
	}
	int rc = ctl_pipeline_run(session, 0, 1, o->max_line, o->threads, &what);
	if (rc < 0)
		fprintf(stderr, "reclaimctl: %s: %s\n", what, strerror(errno));
	ctl_session_destroy(session);
	return rc < 0 ? EXIT_IO : rc ? EXIT_LINE_FAILED : EXIT_LINES_OK;
}

/* Parser threads: one per online CPU, since parsing is nearly all the work
 * and the deciding thread needs little; none on a single CPU, and at most
 * 8 unless --threads asks for more. */
static unsigned
default_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus <= 1)
		return 0;
	return cpus > 8 ? 8 : (unsigned)cpus;
}

int
main(int argc, char **argv)
{
	struct options o = {
		.profile = RECLAIM_PROFILE_ESX,
		.capacity = CTL_DEFAULT_CAPACITY,
		.max_line = CTL_DEFAULT_MAX_LINE,
		.threads = default_threads(),
	};

	/* An answer nobody reads is a write failure (exit 3, with a
	 * message), not a silent death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage_error("%s", "missing command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return flush_stdout();
	}
	if (strcmp(argv[1], "--version") == 0) {
		uint32_t v = reclaim_version();
		printf("reclaimctl %d.%d.%d (library %u.%u.%u)\n", RECLAIM_VERSION_MAJOR,
		       RECLAIM_VERSION_MINOR, RECLAIM_VERSION_PATCH, (unsigned)(v >> 16),
		       (unsigned)((v >> 8) & 0xff), (unsigned)(v & 0xff));
		return flush_stdout();
	}
	int rc = parse_args(&o, argc, argv);
	if (rc != 0)
		return rc;
	if (strcmp(o.command, "decide") == 0)
		return run_lines(&o, o.explain ? CTL_MODE_JSON_EXPLAIN : CTL_MODE_JSON);
	if (strcmp(o.command, "explain") == 0) {
		if (o.explain)
			return usage_error("%s", "--explain belongs to the decide command");
		return run_lines(&o, CTL_MODE_TEXT);
	}
	if (strcmp(o.command, "config") == 0) {
		if (o.explain)
			return usage_error("%s", "--explain belongs to the decide command");
		return run_config(&o);
	}
	return usage_error("unknown command '%s'", o.command);
}
