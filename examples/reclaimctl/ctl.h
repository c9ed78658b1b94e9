/* SPDX-License-Identifier: MIT */
/*
 * reclaimctl's front end, shared by the tool, its tests and its fuzz targets:
 * JSON text in (jansson), reclaim structs through the public API, JSON text
 * out. The format is documented in FORMAT.md and schema/.
 */
#ifndef RECLAIMCTL_CTL_H
#define RECLAIMCTL_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "reclaim.h"

/* ESXi 6 and later run at most 1024 VMs per host. */
#define CTL_DEFAULT_CAPACITY 1024
#define CTL_DEFAULT_MAX_LINE ((size_t)16 << 20)

/* ---- output text (buf.c) ---- */

/* Growable output text. Allocation failure sets oom and drops further
 * output; the caller checks oom once per line. */
struct ctl_buf {
	char *data;
	size_t len;
	size_t cap;
	int oom;
};

void
ctl_buf_free(struct ctl_buf *b);
void
ctl_put(struct ctl_buf *b, const char *s, size_t n);
void
ctl_puts(struct ctl_buf *b, const char *s);
void
ctl_putc(struct ctl_buf *b, char c);
void
ctl_put_u64(struct ctl_buf *b, uint64_t v);
/* A byte count that may be RECLAIM_UNLIMITED, written as "unlimited". */
void
ctl_put_limit(struct ctl_buf *b, uint64_t v);
/* Exact (17 significant digits); null when not finite. */
void
ctl_put_double(struct ctl_buf *b, double v);
/* Shortest text that reads back as the same double; null when not finite. */
void
ctl_put_double_short(struct ctl_buf *b, double v);
/* A JSON string; bytes that are not valid UTF-8 become U+FFFD. */
void
ctl_put_string(struct ctl_buf *b, const char *s, size_t n);
/* Text for a terminal: control characters as \\u00XX, bad UTF-8 as U+FFFD. */
void
ctl_put_text(struct ctl_buf *b, const char *s, size_t n);
/* "1.50 GiB" */
void
ctl_put_human_bytes(struct ctl_buf *b, uint64_t v);

/* ---- names of enum values and flag bits (names.c) ---- */

/* One of the library's name functions (reclaim_state_name, ...): the name
 * of a value or flag bit, NULL for one it does not know. */
typedef const char *ctl_name_fn(uint32_t value);

/* The value (an enum, or one bit when @p flags) that @p names calls @p name:
 * 0 and *value set, or -1. */
int
ctl_value_of(uint32_t *value, ctl_name_fn *names, int flags, const char *name);
/* "a, b, c": every name @p names knows, cut at a whole name to fit. */
void
ctl_names_list(char *out, size_t size, ctl_name_fn *names, int flags);
/* ["a","b"]; a bit without a name is written "bit<N>". */
void
ctl_put_flags(struct ctl_buf *b, ctl_name_fn *names, uint32_t bits);
/* "name", or "unknown" for a value without one. */
void
ctl_put_enum(struct ctl_buf *b, ctl_name_fn *names, uint32_t value);
/* reclaim_status_name(), or "RECLAIM_E_UNKNOWN" for a code the library
 * does not know. */
const char *
ctl_status_name(int status);

/* ---- errors ---- */

enum ctl_error_kind {
	CTL_ERR_JSON = 0,   /* not JSON, or a line that cannot be read */
	CTL_ERR_INPUT = 1,  /* JSON of the wrong shape (key, type, range) */
	CTL_ERR_POLICY = 2  /* rejected by the library */
};

struct ctl_error {
	int kind;         /* enum ctl_error_kind */
	int status;       /* CTL_ERR_POLICY: the enum reclaim_status */
	int column;       /* CTL_ERR_JSON: 1-based byte column, 0 if none */
	char path[192];   /* where, e.g. "vms[2].shares"; may be empty */
	char message[256];
};

/* Sets kind, path and message; clears the rest. */
void
ctl_error_set(struct ctl_error *err, int kind, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;
/* Prepends "prefix." (or "prefix" before "[") to err->path. */
void
ctl_error_prefix(struct ctl_error *err, const char *prefix);
/*
 * After the library returned @p status on a policy, whose
 * reclaim_policy_last_error() is @p where: err becomes a CTL_ERR_POLICY
 * error whose path is the input value the library names
 * ("vms[3].reservation_bytes", "host.free_bytes", "config.idle_tax"; none
 * when it names no input value), and whose message is reclaim_strerror(),
 * plus the earlier VM for RECLAIM_E_VM_DUPLICATE.
 */
void
ctl_error_from_library(struct ctl_error *err, int status, const struct reclaim_error *where);

/* ---- struct <-> JSON members (fields.c) ---- */

enum ctl_type {
	CTL_U64 = 0,   /* integer 0 .. 2^63-1 */
	CTL_LIMIT,     /* as CTL_U64, or "unlimited" (RECLAIM_UNLIMITED) */
	CTL_U32,       /* integer 0 .. 2^32-1 */
	CTL_DOUBLE,    /* any JSON number */
	CTL_FLAGS,     /* uint32_t bits, an array of names */
	CTL_ENUM       /* uint32_t value, one name */
};

/* A table of at most 64 fields (ctl_read_fields' *present), ended by a
 * NULL name. */
struct ctl_field {
	const char *name;
	int type;      /* enum ctl_type */
	size_t offset;
	ctl_name_fn *names; /* CTL_FLAGS, CTL_ENUM: the library's name function */
	int required;
};

/*
 * Reads the members of @p obj (a JSON object) into the struct at @p base.
 * Unknown keys, wrong types and missing required keys fail with err->path
 * set to the key. Keys in @p skip (NULL-terminated, may be NULL) are left
 * for the caller. @p present, if not NULL, gets bit i set for each
 * fields[i] the object has.
 */
int
ctl_read_fields(void *base, struct ctl_error *err, const struct ctl_field *fields,
		json_t *obj, const char *const *skip, uint64_t *present);
/* One enum value named by @p names; err->path is @p path otherwise. */
int
ctl_read_name(uint32_t *value, struct ctl_error *err, ctl_name_fn *names, json_t *j,
	      const char *path);
/* Copies the member @p f from the struct at @p from to the one at @p to. */
void
ctl_copy_field(void *to, const void *from, const struct ctl_field *f);
/* The value of member @p f of the struct at @p base, as JSON. */
void
ctl_put_field(struct ctl_buf *b, const struct ctl_field *f, const void *base);
/* {"name": value, ...} in table order. */
void
ctl_put_fields(struct ctl_buf *b, const struct ctl_field *fields, const void *base);

/* ---- config (config.c) ---- */

/* Every member of struct reclaim_config but struct_size and the reserved
 * ones, in struct order. */
extern const struct ctl_field ctl_config_fields[];

/*
 * A partial config as JSON gives it: the members present, and the profile
 * whose defaults the others take, if it names one.
 */
struct ctl_config_change {
	struct reclaim_config values; /* the members present; others 0 */
	uint64_t present;             /* bit i: ctl_config_fields[i] */
	int profile;                  /* enum reclaim_profile, or -1: none named */
};

/* Reads a partial config object; nothing is validated but types and names. */
int
ctl_config_read(struct ctl_config_change *change, struct ctl_error *err, json_t *obj);
/* Writes the members @p change has into @p cfg. */
void
ctl_config_apply(struct reclaim_config *cfg, const struct ctl_config_change *change);
/*
 * Parses a (partial) config: members of struct reclaim_config plus
 * "profile". Starts from @p profile's defaults (or the file's "profile"),
 * then validates with reclaim_config_check(), naming its field on error.
 */
int
ctl_config_parse(struct reclaim_config *cfg, struct ctl_error *err, const char *text,
		 size_t len, int profile);
/* One line: the config as a JSON object, then a newline. */
void
ctl_config_print(struct ctl_buf *b, const struct reclaim_config *cfg);

/* ---- input lines as requests (snapshot.c) ---- */

struct ctl_request {
	int is_config;                /* a config line: only config is set */
	struct ctl_config_change config;
	struct reclaim_host host;
	struct reclaim_vm_stats *vms; /* n_vms of them, vms_cap allocated */
	size_t n_vms;
	size_t vms_cap;
	int dry_run;
	int admit;                    /* admit_bytes present */
	uint64_t admit_bytes;
};

/*
 * Reads one input line's JSON object: a host snapshot, or a config line.
 * Grows req->vms (owned by @p req) to the line's VMs, and only as each VM
 * turns out to be an object of the right shape, so that what it allocates
 * stays in proportion to the line's length. Running out of memory fails
 * with CTL_ERR_POLICY / RECLAIM_E_NOMEM at "vms".
 */
int
ctl_request_read(struct ctl_request *req, struct ctl_error *err, json_t *line);
/* Frees the VM array; NULL-safe, and the request may be read into again. */
void
ctl_request_free(struct ctl_request *req);

/* ---- one policy, one line at a time (session.c) ---- */

enum ctl_mode {
	CTL_MODE_JSON = 0,       /* decide */
	CTL_MODE_JSON_EXPLAIN,   /* decide --explain */
	CTL_MODE_TEXT            /* explain */
};

struct ctl_session;

/* One input line, parsed. Zero-initialise it; ctl_request_free(&p.req)
 * when done. */
struct ctl_parsed {
	struct ctl_request req;
	struct ctl_error err;   /* when failed */
	int failed;
};

/* A session whose policy starts with room for @p capacity VMs and grows
 * (reclaim_policy_resize()) when a line has more. */
int
ctl_session_new(struct ctl_session **out, const struct reclaim_config *cfg,
		size_t capacity, int mode);
void
ctl_session_destroy(struct ctl_session *s);
/* reclaim_policy_capacity() of the session's policy. */
size_t
ctl_session_capacity(const struct ctl_session *s);
/* The half of a line that needs no policy: several threads may parse at
 * once, each into its own struct ctl_parsed. */
void
ctl_parse_line(struct ctl_parsed *p, const char *line, size_t len);
/*
 * The other half, in line order: applies a config line, or decides (unless
 * parsing failed), growing the policy first when the line has more VMs than
 * it has room for; appends the answer to @p out: in JSON modes exactly one
 * line. Returns 0, or 1 when the line was answered with an error.
 */
int
ctl_session_answer(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
		   struct ctl_parsed *p);
/* Both halves, with the session's own struct ctl_parsed. */
int
ctl_session_line(struct ctl_session *s, struct ctl_buf *out, const char *line, size_t len,
		 uint64_t lineno);
/* Appends an error for line @p lineno in the session's format. */
void
ctl_session_error(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
		  const struct ctl_error *err);

/* ---- the whole stream (pipeline.c) ---- */

/*
 * Answers every line of @p in_fd on @p out_fd, one at a time and flushed.
 * With @p workers > 0, that many threads parse lines ahead of the one
 * deciding, which keeps line order. Returns 0 when every line got a result,
 * 1 when some got an error, -1 on a read, write or memory failure (errno
 * set; *what names the operation).
 */
int
ctl_pipeline_run(struct ctl_session *s, int in_fd, int out_fd, size_t max_line,
		 unsigned workers, const char **what);

/* ---- input lines (reader.c) ---- */

struct ctl_reader {
	int fd;
	int wake_fd;     /* -1, or readable when reading should stop (read as EOF) */
	char *buf;
	size_t cap;
	size_t start;    /* first unconsumed byte */
	size_t end;      /* end of data read */
	size_t max_line;
	int eof;
	int skipping;    /* discarding the rest of an over-long line */
};

enum ctl_read_result {
	CTL_READ_LINE = 0,  /* *line, *len set */
	CTL_READ_LONG,      /* a line longer than max_line was skipped */
	CTL_READ_EOF,
	CTL_READ_ERROR      /* read() failed or out of memory; errno set */
};

void
ctl_reader_init(struct ctl_reader *r, int fd, size_t max_line);
void
ctl_reader_free(struct ctl_reader *r);
/* Blocks only while no whole line is buffered, so a pipe can be driven
 * one request at a time. */
int
ctl_reader_next(struct ctl_reader *r, const char **line, size_t *len);

#endif
