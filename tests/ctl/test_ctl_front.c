/* SPDX-License-Identifier: MIT */
/* reclaimctl's front end: text output, line reader, config, snapshots and
 * the session's history across lines. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"

#define GIB ((uint64_t)1 << 30)

/* Output of one call, NUL-terminated for comparisons. */
static const char *
text(struct ctl_buf *b)
{
	ctl_putc(b, '\0');
	b->len--;
	assert_false(b->oom);
	return b->data;
}

static void
test_string_escapes(void **state)
{
	struct ctl_buf b = {0};
	(void)state;

	ctl_put_string(&b, "a\"b\\c\n\x01", 7);
	assert_string_equal(text(&b), "\"a\\\"b\\\\c\\u000a\\u0001\"");
	b.len = 0;
	/* Valid UTF-8 passes: e-acute, euro sign, U+1F600. */
	ctl_put_string(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	assert_string_equal(text(&b), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	b.len = 0;
	/* A stray byte, an overlong NUL, a surrogate, a cut sequence. */
	ctl_put_string(&b, "\xff|\xc0\x80|\xed\xa0\x80|\xe2\x82", 11);
	assert_string_equal(text(&b), "\"\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
				      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
				      "\xef\xbf\xbd\xef\xbf\xbd\"");
	b.len = 0;
	/* Text for a terminal keeps quotes but not control characters. */
	ctl_put_text(&b, "say \"hi\"\x1b[2J", 12);
	assert_string_equal(text(&b), "say \"hi\"\\u001b[2J");
	ctl_buf_free(&b);
}

static void
test_numbers(void **state)
{
	struct ctl_buf b = {0};
	(void)state;

	ctl_put_u64(&b, UINT64_MAX);
	ctl_putc(&b, ' ');
	ctl_put_u64(&b, 0);
	ctl_putc(&b, ' ');
	ctl_put_limit(&b, RECLAIM_UNLIMITED);
	ctl_putc(&b, ' ');
	ctl_put_limit(&b, RECLAIM_UNLIMITED - 1);
	assert_string_equal(text(&b), "18446744073709551615 0 \"unlimited\" 18446744073709551614");
	b.len = 0;
	ctl_put_double_short(&b, 0.06);
	ctl_putc(&b, ' ');
	ctl_put_double_short(&b, 0.1 + 0.2);
	ctl_putc(&b, ' ');
	ctl_put_double_short(&b, 1e-300);
	ctl_putc(&b, ' ');
	ctl_put_double_short(&b, NAN);
	ctl_putc(&b, ' ');
	ctl_put_double(&b, INFINITY);
	ctl_putc(&b, ' ');
	ctl_put_double(&b, 0.25);
	ctl_putc(&b, ' ');
	/* Found by fuzz_ctl_config: "-0" reads back as the integer 0. */
	ctl_put_double_short(&b, -0.0);
	ctl_putc(&b, ' ');
	ctl_put_double(&b, -0.0);
	ctl_putc(&b, ' ');
	ctl_put_double_short(&b, 0.0);
	assert_string_equal(text(&b),
			    "0.06 0.30000000000000004 1e-300 null null 0.25 -0.0 -0.0 0");
	b.len = 0;
	ctl_put_human_bytes(&b, 1023);
	ctl_putc(&b, ' ');
	ctl_put_human_bytes(&b, 1536);
	ctl_putc(&b, ' ');
	ctl_put_human_bytes(&b, 3 * GIB / 2);
	ctl_putc(&b, ' ');
	ctl_put_human_bytes(&b, UINT64_MAX);
	assert_string_equal(text(&b), "1023 B 1.50 KiB 1.50 GiB 16.00 EiB");
	ctl_buf_free(&b);
}

static void
test_names(void **state)
{
	struct ctl_buf b = {0};
	uint32_t v = 0;
	char list[64];
	(void)state;

	ctl_put_flags(&b, reclaim_reason_name,
		      RECLAIM_REASON_PRESSURE | RECLAIM_REASON_HOLD | (1u << 31));
	ctl_put_enum(&b, reclaim_bound_name, RECLAIM_BOUND_CONSUMED);
	ctl_put_enum(&b, reclaim_bound_name, 99);
	assert_string_equal(text(&b), "[\"pressure\",\"hold\",\"bit31\"]\"consumed\"\"unknown\"");
	assert_int_equal(ctl_value_of(&v, reclaim_vm_flag_name, 1, "guest_stats"), 0);
	assert_int_equal(v, RECLAIM_VM_GUEST_STATS);
	assert_int_equal(ctl_value_of(&v, reclaim_vm_flag_name, 1, "Balloon"), -1);
	assert_int_equal(ctl_value_of(&v, reclaim_threshold_base_name, 0, "minfree"), 0);
	assert_int_equal(v, RECLAIM_BASE_MINFREE);
	assert_int_equal(ctl_value_of(&v, reclaim_threshold_base_name, 0, "free"), -1);
	assert_string_equal(ctl_status_name(RECLAIM_E_CAPACITY), "RECLAIM_E_CAPACITY");
	assert_string_equal(ctl_status_name(RECLAIM_E_NOSPACE), "RECLAIM_E_NOSPACE");
	assert_string_equal(ctl_status_name(-99), "RECLAIM_E_UNKNOWN");
	assert_string_equal(ctl_status_name(3), "RECLAIM_E_UNKNOWN");
	ctl_names_list(list, sizeof(list), reclaim_profile_name, 0);
	assert_string_equal(list, "esx, esxi5, paper");
	ctl_names_list(list, sizeof(list), reclaim_host_flag_name, 1);
	assert_string_equal(list, "swap_bounded");
	/* Cut at a whole name. */
	ctl_names_list(list, 10, reclaim_profile_name, 0);
	assert_string_equal(list, "esx");
	ctl_buf_free(&b);
}

/* Every name of every name function the library exports reads back as its
 * value: input and output speak the library's names, and nothing else. */
static void
test_names_round_trip(void **state)
{
	static const struct {
		ctl_name_fn *names;
		int flags;
		unsigned count; /* names reclaim.h defines */
	} sets[] = {
		{reclaim_state_name, 0, 4},
		{reclaim_profile_name, 0, 3},
		{reclaim_config_flag_name, 1, 4},
		{reclaim_threshold_base_name, 0, 2},
		{reclaim_host_flag_name, 1, 1},
		{reclaim_vm_flag_name, 1, 5},
		{reclaim_action_name, 1, 5},
		{reclaim_reason_name, 1, 19},
		{reclaim_bound_name, 0, 5},
		{reclaim_balloon_limit_name, 0, 8},
		{reclaim_summary_flag_name, 1, 5},
		{reclaim_where_name, 0, 6},
		{reclaim_decide_flag_name, 1, 1},
		{reclaim_apply_flag_name, 1, 2},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		unsigned found = 0;
		for (uint32_t k = 0; k < (sets[i].flags ? 32u : 256u); k++) {
			uint32_t value = sets[i].flags ? (uint32_t)1 << k : k, back = ~0u;
			const char *name = sets[i].names(value);
			if (!name)
				continue;
			found++;
			assert_int_equal(ctl_value_of(&back, sets[i].names, sets[i].flags, name), 0);
			assert_int_equal(back, value);
		}
		assert_int_equal(found, sets[i].count);
	}
}

static int
next(struct ctl_reader *r, char *line, size_t size)
{
	const char *at;
	size_t len;
	int got = ctl_reader_next(r, &at, &len);
	if (got == CTL_READ_LINE) {
		assert_true(len < size);
		memcpy(line, at, len);
		line[len] = '\0';
	}
	return got;
}

/* An orchestrator writes one line and waits: the reader must hand it over
 * without waiting for more input (a hang here fails by timeout). */
static void
test_reader_pipe(void **state)
{
	struct ctl_reader r;
	char line[64];
	int fds[2];
	(void)state;

	assert_int_equal(pipe(fds), 0);
	ctl_reader_init(&r, fds[0], 1024);
	assert_int_equal(write(fds[1], "abc\n", 4), 4);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_string_equal(line, "abc");
	assert_int_equal(write(fds[1], "\nde", 3), 3);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_string_equal(line, "");
	close(fds[1]);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_string_equal(line, "de");
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_EOF);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_EOF);
	ctl_reader_free(&r);
	close(fds[0]);
}

static void
test_reader_long_lines(void **state)
{
	const size_t big = 300000; /* several reads */
	struct ctl_reader r;
	const char *at;
	size_t len;
	char line[64];
	FILE *f = tmpfile();
	(void)state;

	assert_non_null(f);
	fputs("short\n", f);
	for (size_t i = 0; i < big; i++)
		fputc('x', f);
	fputs("\nok\n", f);
	for (size_t i = 0; i < big; i++)
		fputc('y', f);
	fputs("\nlast", f);
	for (size_t i = 0; i < big; i++)
		fputc('z', f);
	fflush(f);
	rewind(f);

	/* Room for the long lines: they come back whole. */
	ctl_reader_init(&r, fileno(f), big);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_int_equal(ctl_reader_next(&r, &at, &len), CTL_READ_LINE);
	assert_int_equal(len, big);
	assert_true(at[0] == 'x' && at[big - 1] == 'x');
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_string_equal(line, "ok");
	assert_int_equal(ctl_reader_next(&r, &at, &len), CTL_READ_LINE);
	assert_int_equal(len, big);
	ctl_reader_free(&r);

	/* No room: each is skipped, the lines around them survive, and so does
	 * the end of input. */
	rewind(f);
	ctl_reader_init(&r, fileno(f), 100);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_string_equal(line, "short");
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LONG);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LINE);
	assert_string_equal(line, "ok");
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LONG);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_LONG);
	assert_int_equal(next(&r, line, sizeof(line)), CTL_READ_EOF);
	/* The buffer never held a whole long line. */
	assert_true(r.cap < big);
	ctl_reader_free(&r);
	fclose(f);
}

static int
parse_config(struct reclaim_config *cfg, struct ctl_error *err, const char *json)
{
	return ctl_config_parse(cfg, err, json, strlen(json), RECLAIM_PROFILE_ESX);
}

static void
test_config_round_trip(void **state)
{
	(void)state;
	for (int profile = RECLAIM_PROFILE_ESX; profile <= RECLAIM_PROFILE_PAPER; profile++) {
		struct reclaim_config cfg, back;
		struct ctl_error err;
		struct ctl_buf b = {0};

		assert_int_equal(reclaim_config_init_profile(&cfg, sizeof(cfg), profile), 0);
		ctl_config_print(&b, &cfg);
		assert_false(b.oom);
		assert_int_equal(ctl_config_parse(&back, &err, b.data, b.len, RECLAIM_PROFILE_ESX),
				 0);
		assert_memory_equal(&cfg, &back, sizeof(cfg));
		ctl_buf_free(&b);
	}
}

static void
test_config_partial(void **state)
{
	struct reclaim_config cfg, paper;
	struct ctl_error err;
	(void)state;

	/* The profile applies first wherever its key is; others override it. */
	assert_int_equal(parse_config(&cfg, &err, "{\"idle_tax\": 0, \"profile\": \"paper\","
						  " \"sample_pages\": 7}"),
			 0);
	assert_int_equal(reclaim_config_init_profile(&paper, sizeof(paper), RECLAIM_PROFILE_PAPER),
			 0);
	assert_true(cfg.idle_tax == 0.0);
	assert_int_equal(cfg.sample_pages, 7);
	assert_int_equal(cfg.flags, paper.flags);
	assert_true(cfg.threshold_soft == paper.threshold_soft);
	/* flags replaces the profile's flags. */
	assert_int_equal(parse_config(&cfg, &err, "{\"profile\":\"paper\",\"flags\":[]}"), 0);
	assert_int_equal(cfg.flags, 0);
	/* --profile gives the starting point when the file has none. */
	assert_int_equal(ctl_config_parse(&cfg, &err, "{}", 2, RECLAIM_PROFILE_ESXI5), 0);
	assert_int_equal(cfg.threshold_base, RECLAIM_BASE_MINFREE);
}

static void
test_config_errors(void **state)
{
	struct reclaim_config cfg;
	struct ctl_error err;
	(void)state;

	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(parse_config(&cfg, &err, "{\"idle_tax\": 0.5, \"struct_size\": 8}"), -1);
	assert_int_equal(err.kind, CTL_ERR_INPUT);
	assert_string_equal(err.path, "struct_size");
	assert_string_equal(err.message, "unknown key");
	/* Nothing written on error. */
	assert_int_equal(cfg.struct_size, 0xa5a5a5a5u);

	assert_int_equal(parse_config(&cfg, &err, "{\"page_size\": -4096}"), -1);
	assert_string_equal(err.path, "page_size");
	assert_int_equal(parse_config(&cfg, &err, "{\"threshold_high\": true}"), -1);
	assert_string_equal(err.path, "threshold_high");
	assert_string_equal(err.message, "expected a number");
	assert_int_equal(parse_config(&cfg, &err, "{\"threshold_base\": \"free\"}"), -1);
	assert_string_equal(err.path, "threshold_base");
	assert_int_equal(parse_config(&cfg, &err, "{\"flags\": \"soft_swap\"}"), -1);
	assert_string_equal(err.path, "flags");

	/* Range errors come from reclaim_config_check(), with its field. */
	const char *field = NULL;
	struct reclaim_config bad;
	reclaim_config_init(&bad, sizeof(bad));
	bad.threshold_hard = 0.05;
	int status = reclaim_config_check(&bad, &field);
	assert_int_not_equal(status, 0);
	assert_int_equal(parse_config(&cfg, &err, "{\"threshold_hard\": 0.05}"), -1);
	assert_int_equal(err.kind, CTL_ERR_POLICY);
	assert_int_equal(err.status, status);
	assert_string_equal(err.path, field);
	assert_string_equal(err.message, reclaim_strerror(status));

	assert_int_equal(parse_config(&cfg, &err, "{\"idle_tax\": 0.5"), -1);
	assert_int_equal(err.kind, CTL_ERR_JSON);
}

static int
read_request(struct ctl_request *req, struct ctl_error *err, const char *line)
{
	json_error_t jerr;
	json_t *root = json_loads(line, 0, &jerr);
	assert_non_null(root);
	int rc = ctl_request_read(req, err, root);
	json_decref(root);
	return rc;
}

#define VM_JSON(id)                                                            \
	"{\"id\":" #id ",\"configured_bytes\":100,\"consumed_bytes\":90,\"shares\":5," \
	"\"active_bytes\":9}"

static void
test_request(void **state)
{
	struct ctl_request req = {0};
	struct ctl_error err;
	(void)state;

	assert_int_equal(read_request(&req, &err,
				      "{\"vms\":[{\"id\":7,\"configured_bytes\":100,"
				      "\"consumed_bytes\":90,\"shares\":5,\"active_bytes\":9,"
				      "\"balloon_cap_bytes\":\"unlimited\",\"flags\":[\"balloon\","
				      "\"compress\"]}],\"dry_run\":true,\"host\":{\"total_bytes\":1000,"
				      "\"free_bytes\":10,\"now_ns\":5,\"flags\":[\"swap_bounded\"]}}"),
			 0);
	assert_false(req.is_config);
	assert_int_equal(req.n_vms, 1);
	assert_true(req.dry_run);
	assert_false(req.admit);
	assert_int_equal(req.host.struct_size, sizeof(struct reclaim_host));
	assert_int_equal(req.host.flags, RECLAIM_HOST_SWAP_BOUNDED);
	assert_int_equal(req.host.total_bytes, 1000);
	assert_int_equal(req.vms[0].struct_size, sizeof(struct reclaim_vm_stats));
	assert_int_equal(req.vms[0].id, 7);
	assert_int_equal(req.vms[0].flags, RECLAIM_VM_BALLOON | RECLAIM_VM_COMPRESS);
	/* Left out: RECLAIM_VM_STATS_INIT's values. */
	assert_true(req.vms[0].limit_bytes == RECLAIM_UNLIMITED);
	assert_true(req.vms[0].balloon_cap_bytes == RECLAIM_UNLIMITED);
	assert_int_equal(req.vms[0].reservation_bytes, 0);

	assert_int_equal(read_request(&req, &err,
				      "{\"host\":{\"total_bytes\":1,\"free_bytes\":1,\"now_ns\":1},"
				      "\"vms\":[{\"id\":1,\"configured_bytes\":1,\"consumed_bytes\":1,"
				      "\"shares\":1,\"active_bytes\":1},{\"id\":2,\"flags\":[\"balloon\","
				      "7]}]}"),
			 -1);
	assert_int_equal(err.kind, CTL_ERR_INPUT);
	assert_string_equal(err.path, "vms[1].flags[1]");
	assert_string_equal(err.message, "expected one of balloon, guest_stats, idle_tax, compress, resized");

	assert_int_equal(read_request(&req, &err,
				      "{\"host\":{\"total_bytes\":1,\"free_bytes\":1},\"vms\":[]}"),
			 -1);
	assert_string_equal(err.path, "host.now_ns");
	assert_string_equal(err.message, "missing required key");
	ctl_request_free(&req);
}

/* A line of @p n VMs, ids 1..n, followed by @p tail ("" or ",..."). */
static char *
many_vms_line(size_t n, const char *tail)
{
	struct ctl_buf b = {0};
	ctl_puts(&b, "{\"host\":{\"total_bytes\":1000000000000,\"free_bytes\":1000,\"now_ns\":1},"
		     "\"vms\":[");
	for (size_t i = 1; i <= n; i++) {
		if (i > 1)
			ctl_putc(&b, ',');
		ctl_puts(&b, "{\"id\":");
		ctl_put_u64(&b, i);
		ctl_puts(&b, ",\"flags\":[\"balloon\"],\"configured_bytes\":1073741824,"
			     "\"consumed_bytes\":1073741824,\"shares\":1000,\"active_bytes\":1}");
	}
	ctl_puts(&b, tail);
	ctl_puts(&b, "]}");
	char *line = strdup(text(&b));
	ctl_buf_free(&b);
	return line;
}

/* The VM array grows to any number of VMs, but only with the VMs read:
 * a line of junk after one VM costs no more than a line of one VM. */
static void
test_request_grows(void **state)
{
	struct ctl_request req = {0};
	struct ctl_error err;
	struct ctl_buf junk = {0};
	(void)state;

	char *line = many_vms_line(1000, "");
	assert_int_equal(read_request(&req, &err, line), 0);
	free(line);
	assert_int_equal(req.n_vms, 1000);
	assert_int_equal(req.vms[999].id, 1000);
	assert_true(req.vms_cap >= 1000 && req.vms_cap <= 2000);
	ctl_request_free(&req);
	assert_null(req.vms);

	for (int i = 0; i < 100000; i++)
		ctl_puts(&junk, ",{}");
	line = many_vms_line(1, text(&junk));
	assert_int_equal(read_request(&req, &err, line), -1);
	free(line);
	assert_string_equal(err.path, "vms[1].id");
	assert_true(req.vms_cap <= 16);
	ctl_request_free(&req);
	ctl_buf_free(&junk);
}

/* The bit of ctl_config_change.present for member @p name. */
static uint64_t
config_bit(const char *name)
{
	for (size_t i = 0; ctl_config_fields[i].name; i++)
		if (strcmp(ctl_config_fields[i].name, name) == 0)
			return (uint64_t)1 << i;
	fail_msg("no config member %s", name);
	return 0;
}

static void
test_request_config(void **state)
{
	struct ctl_request req = {0};
	struct ctl_error err;
	(void)state;

	assert_int_equal(read_request(&req, &err,
				      "{\"config\":{\"idle_tax\":0.5,\"profile\":\"paper\","
				      "\"flags\":[\"soft_swap\"]}}"),
			 0);
	assert_true(req.is_config);
	assert_int_equal(req.config.profile, RECLAIM_PROFILE_PAPER);
	assert_true(req.config.values.idle_tax == 0.5);
	assert_int_equal(req.config.values.flags, RECLAIM_CONFIG_SOFT_SWAP);
	assert_true(req.config.present == (config_bit("idle_tax") | config_bit("flags")));

	/* The members it has replace those of any config. */
	struct reclaim_config cfg;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.page_size = 8192;
	ctl_config_apply(&cfg, &req.config);
	assert_true(cfg.idle_tax == 0.5);
	assert_int_equal(cfg.flags, RECLAIM_CONFIG_SOFT_SWAP);
	assert_int_equal(cfg.page_size, 8192);

	assert_int_equal(read_request(&req, &err, "{\"config\":{}}"), 0);
	assert_true(req.is_config);
	assert_int_equal(req.config.profile, -1);
	assert_int_equal(req.config.present, 0);

	assert_int_equal(read_request(&req, &err, "{\"config\":{\"idle_tax\":\"high\"}}"), -1);
	assert_int_equal(err.kind, CTL_ERR_INPUT);
	assert_string_equal(err.path, "config.idle_tax");
	assert_int_equal(read_request(&req, &err, "{\"config\":{\"profile\":\"vmware\"}}"), -1);
	assert_string_equal(err.path, "config.profile");
	assert_string_equal(err.message, "expected one of esx, esxi5, paper");
	assert_int_equal(read_request(&req, &err, "{\"config\":{\"flags\":[\"fast\"]}}"), -1);
	assert_string_equal(err.path, "config.flags[0]");
	assert_int_equal(read_request(&req, &err, "{\"config\":[]}"), -1);
	assert_string_equal(err.path, "config");
	assert_string_equal(err.message, "expected an object");
	/* A config line carries nothing else, in either order. */
	assert_int_equal(read_request(&req, &err, "{\"config\":{},\"vms\":[]}"), -1);
	assert_int_equal(err.kind, CTL_ERR_INPUT);
	assert_string_equal(err.path, "vms");
	assert_int_equal(read_request(&req, &err, "{\"dry_run\":true,\"config\":{}}"), -1);
	assert_string_equal(err.path, "config");
	ctl_request_free(&req);
}

/* The library's record of a failure, mapped to a path; the classes a
 * reclaimctl line cannot reach are made up here. */
static void
test_error_from_library(void **state)
{
	struct reclaim_error e = RECLAIM_ERROR_INIT;
	struct ctl_error err;
	(void)state;

	e.status = RECLAIM_E_VM_BOUNDS;
	e.where = RECLAIM_WHERE_VM;
	e.index = 3;
	e.id = 12;
	e.field = "reservation_bytes";
	ctl_error_from_library(&err, RECLAIM_E_VM_BOUNDS, &e);
	assert_int_equal(err.kind, CTL_ERR_POLICY);
	assert_int_equal(err.status, RECLAIM_E_VM_BOUNDS);
	assert_string_equal(err.path, "vms[3].reservation_bytes");
	assert_string_equal(err.message, reclaim_strerror(RECLAIM_E_VM_BOUNDS));

	e.status = RECLAIM_E_VM_DUPLICATE;
	e.field = "id";
	e.other_index = 1;
	ctl_error_from_library(&err, RECLAIM_E_VM_DUPLICATE, &e);
	assert_string_equal(err.path, "vms[3].id");
	assert_string_equal(err.message, "two VMs have the same id: vms[1] has id 12 too");

	e.status = RECLAIM_E_HOST_FREE;
	e.where = RECLAIM_WHERE_HOST;
	e.field = "free_bytes";
	ctl_error_from_library(&err, RECLAIM_E_HOST_FREE, &e);
	assert_string_equal(err.path, "host.free_bytes");

	e.status = RECLAIM_E_THRESHOLDS;
	e.where = RECLAIM_WHERE_CONFIG;
	e.field = "threshold_soft";
	ctl_error_from_library(&err, RECLAIM_E_THRESHOLDS, &e);
	assert_string_equal(err.path, "config.threshold_soft");

	/* The VM count is the line's vms; other arguments are reclaimctl's. */
	e.status = RECLAIM_E_CAPACITY;
	e.where = RECLAIM_WHERE_ARGUMENT;
	e.field = "n_vms";
	ctl_error_from_library(&err, RECLAIM_E_CAPACITY, &e);
	assert_string_equal(err.path, "vms");
	e.status = RECLAIM_E_VERSION;
	e.field = "summary.decision_size";
	ctl_error_from_library(&err, RECLAIM_E_VERSION, &e);
	assert_string_equal(err.path, "");
	assert_int_equal(err.status, RECLAIM_E_VERSION);

	/* Decisions are no input; no member named; no record. */
	e.status = RECLAIM_E_INVAL;
	e.where = RECLAIM_WHERE_DECISION;
	e.field = "actions";
	ctl_error_from_library(&err, RECLAIM_E_INVAL, &e);
	assert_string_equal(err.path, "");
	e.where = RECLAIM_WHERE_HOST;
	e.field = NULL;
	ctl_error_from_library(&err, RECLAIM_E_INVAL, &e);
	assert_string_equal(err.path, "host");
	e.where = RECLAIM_WHERE_NONE;
	ctl_error_from_library(&err, RECLAIM_E_INVAL, &e);
	assert_string_equal(err.path, "");
	/* A record of another failure than this one says nothing. */
	e.status = RECLAIM_E_HOST_FREE;
	e.where = RECLAIM_WHERE_HOST;
	e.field = "free_bytes";
	ctl_error_from_library(&err, RECLAIM_E_OVERFLOW, &e);
	assert_string_equal(err.path, "");
	assert_int_equal(err.status, RECLAIM_E_OVERFLOW);
	assert_string_equal(err.message, reclaim_strerror(RECLAIM_E_OVERFLOW));
}

/* Host under pressure with one ballooning VM, at time @p t seconds. */
static void
snapshot(char *line, size_t size, int t)
{
	snprintf(line, size,
		 "{\"host\":{\"total_bytes\":%llu,\"free_bytes\":%llu,\"now_ns\":%d000000000},"
		 "\"vms\":[{\"id\":1,\"flags\":[\"balloon\",\"guest_stats\"],"
		 "\"configured_bytes\":%llu,\"consumed_bytes\":%llu,\"shares\":1000,"
		 "\"active_bytes\":%llu,\"guest_free_bytes\":%llu,\"guest_swap_free_bytes\":%llu,"
		 "\"stats_time_ns\":%d000000000}]}",
		 (unsigned long long)(8 * GIB), (unsigned long long)(GIB / 4), t,
		 (unsigned long long)(4 * GIB), (unsigned long long)(4 * GIB),
		 (unsigned long long)GIB, (unsigned long long)(2 * GIB),
		 (unsigned long long)GIB, t);
}

/* Output of the last of @p n lines fed to a fresh session. */
static char *
run_lines(const char *const *lines, size_t n)
{
	struct reclaim_config cfg;
	struct ctl_session *s;
	struct ctl_buf out = {0};

	reclaim_config_init(&cfg, sizeof(cfg));
	assert_int_equal(ctl_session_new(&s, &cfg, 4, CTL_MODE_JSON), 0);
	for (size_t i = 0; i < n; i++) {
		out.len = 0;
		ctl_session_line(s, &out, lines[i], strlen(lines[i]), 1);
	}
	ctl_session_destroy(s);
	char *last = strdup(text(&out));
	ctl_buf_free(&out);
	return last;
}

static void
test_session_history(void **state)
{
	char t1[1024], t2[1024], dry[1100], bad[1024];
	(void)state;

	snapshot(t1, sizeof(t1), 1);
	snapshot(t2, sizeof(t2), 2);
	snprintf(dry, sizeof(dry), "{\"dry_run\":true,%s", t2 + 1);
	snprintf(bad, sizeof(bad), "%s", t2);
	memcpy(strstr(bad, "\"shares\":1000"), "\"shares\":-100", 13);

	const char *fresh[] = {t2};
	const char *kept[] = {t1, t2};
	const char *with_dry[] = {t1, dry, t2};
	const char *with_error[] = {t1, bad, t2};
	char *a = run_lines(fresh, 1);
	char *b = run_lines(kept, 2);
	char *c = run_lines(with_dry, 3);
	char *d = run_lines(with_error, 3);

	/* The balloon asked for at t1 is in flight at t2 only if the policy
	 * remembered it. */
	assert_non_null(strstr(a, "\"in_flight_bytes\":0,"));
	assert_null(strstr(b, "\"in_flight_bytes\":0,"));
	/* Neither a dry run nor a rejected line changes the history. */
	assert_string_equal(b, c);
	assert_string_equal(b, d);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* snapshot() with VMs 2..n beside VM 1: small, without a balloon driver. */
static char *
snapshot_vms(int t, size_t n)
{
	struct ctl_buf b = {0};
	char line[1024];

	snapshot(line, sizeof(line), t);
	line[strlen(line) - 2] = '\0'; /* the closing "]}" */
	ctl_puts(&b, line);
	for (size_t i = 2; i <= n; i++) {
		ctl_puts(&b, ",{\"id\":");
		ctl_put_u64(&b, i);
		ctl_puts(&b, ",\"configured_bytes\":268435456,\"consumed_bytes\":268435456,"
			     "\"shares\":1000,\"active_bytes\":1048576}");
	}
	ctl_puts(&b, "]}");
	char *out = strdup(text(&b));
	ctl_buf_free(&b);
	return out;
}

/* Every answer of a fresh session of @p capacity to @p lines, in one
 * string; the session's capacity at the end in *capacity_after. */
static char *
session_all(const char *const *lines, size_t n, size_t capacity, int mode,
	    size_t *capacity_after, int *errors)
{
	struct reclaim_config cfg;
	struct ctl_session *s;
	struct ctl_buf out = {0};

	reclaim_config_init(&cfg, sizeof(cfg));
	assert_int_equal(ctl_session_new(&s, &cfg, capacity, mode), 0);
	*errors = 0;
	for (size_t i = 0; i < n; i++)
		*errors += ctl_session_line(s, &out, lines[i], strlen(lines[i]), i + 1);
	if (capacity_after)
		*capacity_after = ctl_session_capacity(s);
	ctl_session_destroy(s);
	char *all = strdup(text(&out));
	ctl_buf_free(&out);
	return all;
}

/* The answer to a config line: {"line":N,"config":<cfg>}. */
static char *
config_answer(int lineno, const struct reclaim_config *cfg)
{
	struct ctl_buf b = {0};
	ctl_puts(&b, "{\"line\":");
	ctl_put_u64(&b, (uint64_t)lineno);
	ctl_puts(&b, ",\"config\":");
	ctl_config_print(&b, cfg);
	b.len--; /* its newline */
	ctl_puts(&b, "}\n");
	char *out = strdup(text(&b));
	ctl_buf_free(&b);
	return out;
}

static void
test_session_config_line(void **state)
{
	char t1[1024], t2[1024];
	(void)state;

	snapshot(t1, sizeof(t1), 1);
	snapshot(t2, sizeof(t2), 2);
	const char *plain[] = {t1, t2};
	const char *untaxed[] = {t1, "{\"config\":{\"idle_tax\":0}}", t2};
	const char *rejected[] = {t1, "{\"config\":{\"threshold_soft\":0.07}}", t2};
	char *a = run_lines(plain, 2);
	char *b = run_lines(untaxed, 3);
	char *c = run_lines(rejected, 3);

	/* The new config decides the next line (the idle tax changes the
	 * price of the VM's memory), and the history goes on: the balloon
	 * asked for at t1 is in flight at t2. */
	assert_string_not_equal(a, b);
	assert_null(strstr(a, "\"in_flight_bytes\":0,"));
	assert_null(strstr(b, "\"in_flight_bytes\":0,"));
	/* A rejected config changes nothing. */
	assert_string_equal(a, c);
	free(a);
	free(b);
	free(c);

	/* Each answer is the whole config in force. Members a line leaves out
	 * keep their value in force, unless it names a profile. */
	struct reclaim_config half, esxi5;
	reclaim_config_init(&half, sizeof(half));
	half.idle_tax = 0.5;
	reclaim_config_init_profile(&esxi5, sizeof(esxi5), RECLAIM_PROFILE_ESXI5);
	const char *changes[] = {
		"{\"config\":{\"idle_tax\":0.5}}",
		"{\"config\":{}}",
		"{\"config\":{\"idle_tax\":1}}",
		"{\"config\":{\"profile\":\"esxi5\"}}",
		"{\"config\":{\"threshold_low\":0.5}}",
		"{\"config\":{}}",
	};
	int errors;
	char *all = session_all(changes, 6, 4, CTL_MODE_JSON, NULL, &errors);
	char *want[] = {config_answer(1, &half), config_answer(2, &half),
			strdup("{\"line\":3,\"error\":{\"kind\":\"policy\",\"status\":"
			       "\"RECLAIM_E_CONFIG\",\"code\":-3,\"path\":\"config.idle_tax\","
			       "\"message\":\"configuration value out of range\"}}\n"),
			config_answer(4, &esxi5),
			strdup("{\"line\":5,\"error\":{\"kind\":\"policy\",\"status\":"
			       "\"RECLAIM_E_THRESHOLDS\",\"code\":-4,\"path\":"
			       "\"config.threshold_low\",\"message\":\"thresholds must be strictly "
			       "ordered high > soft > hard > low and lie in (0, 1)\"}}\n"),
			config_answer(6, &esxi5)};
	const char *at = all;
	for (int i = 0; i < 6; i++) {
		assert_memory_equal(at, want[i], strlen(want[i]));
		at += strlen(want[i]);
		free(want[i]);
	}
	assert_int_equal(*at, '\0');
	assert_int_equal(errors, 2);
	free(all);

	/* For people: what changed. */
	const char *people[] = {
		"{\"config\":{\"idle_tax\":0.5}}",
		"{\"config\":{\"idle_tax\":0.5}}",
		"{\"config\":{\"profile\":\"paper\"}}",
		"{\"config\":{\"threshold_low\":0.5}}",
	};
	all = session_all(people, 4, 4, CTL_MODE_TEXT, NULL, &errors);
	assert_string_equal(all,
			    "line 1: config: idle_tax 0.75 -> 0.5\n"
			    "line 2: config unchanged\n"
			    "line 3: config: flags [] -> [\"no_early_balloon\",\"soft_swap\","
			    "\"hard_swap_only\",\"no_guest_cap\"], idle_tax 0.5 -> 0.75\n"
			    "line 4: error: RECLAIM_E_THRESHOLDS: config.threshold_low: thresholds "
			    "must be strictly ordered high > soft > hard > low and lie in (0, 1)\n");
	assert_int_equal(errors, 1);
	free(all);
}

/* Each class of error the library finds in a line, at the path of the
 * value it names. */
static void
test_session_errors_say_where(void **state)
{
	static const struct {
		const char *line;
		const char *status;
		const char *path;
		const char *message; /* NULL: reclaim_strerror()'s */
	} cases[] = {
		{"{\"host\":{\"total_bytes\":100,\"free_bytes\":101,\"now_ns\":1},\"vms\":[]}",
		 "RECLAIM_E_HOST_FREE", "host.free_bytes", NULL},
		{"{\"host\":{\"total_bytes\":100,\"reserved_bytes\":101,\"free_bytes\":1,"
		 "\"now_ns\":1},\"vms\":[]}",
		 "RECLAIM_E_HOST_RESERVED", "host.reserved_bytes", NULL},
		{"{\"host\":{\"total_bytes\":1000,\"free_bytes\":1,\"now_ns\":1},\"vms\":[" VM_JSON(1)
		 ",{\"id\":2,\"configured_bytes\":0,\"consumed_bytes\":0,\"shares\":1,"
		 "\"active_bytes\":0}]}",
		 "RECLAIM_E_VM_SIZE", "vms[1].configured_bytes", NULL},
		{"{\"host\":{\"total_bytes\":1000,\"free_bytes\":1,\"now_ns\":1},\"vms\":[" VM_JSON(1)
		 ",{\"id\":2,\"configured_bytes\":10,\"consumed_bytes\":0,\"reservation_bytes\":11,"
		 "\"shares\":1,\"active_bytes\":0}]}",
		 "RECLAIM_E_VM_BOUNDS", "vms[1].reservation_bytes", NULL},
		{"{\"host\":{\"total_bytes\":1000,\"free_bytes\":1,\"now_ns\":1},\"vms\":[" VM_JSON(9)
		 "," VM_JSON(4) "," VM_JSON(9) "," VM_JSON(4) "]}",
		 "RECLAIM_E_VM_DUPLICATE", "vms[2].id",
		 "two VMs have the same id: vms[0] has id 9 too"},
		{"{\"host\":{\"total_bytes\":1000,\"free_bytes\":1,\"now_ns\":1},\"vms\":["
		 "{\"id\":1,\"configured_bytes\":9000000000000000000,\"consumed_bytes\":"
		 "9000000000000000000,\"shares\":1,\"active_bytes\":0},"
		 "{\"id\":2,\"configured_bytes\":9000000000000000000,\"consumed_bytes\":"
		 "9000000000000000000,\"shares\":1,\"active_bytes\":0},"
		 "{\"id\":3,\"configured_bytes\":9000000000000000000,\"consumed_bytes\":"
		 "9000000000000000000,\"shares\":1,\"active_bytes\":0}]}",
		 "RECLAIM_E_OVERFLOW", "vms[2].consumed_bytes", NULL},
		{"{\"host\":{\"total_bytes\":1000,\"free_bytes\":1,\"now_ns\":1},\"vms\":["
		 "{\"id\":1,\"flags\":[\"idle_tax\"],\"idle_tax\":1.5,\"configured_bytes\":10,"
		 "\"consumed_bytes\":0,\"shares\":1,\"active_bytes\":0}]}",
		 "RECLAIM_E_INVAL", "vms[0].idle_tax", NULL},
		{"{\"config\":{\"page_size\":1000}}", "RECLAIM_E_CONFIG", "config.page_size", NULL},
		{"{\"config\":{\"threshold_low\":0.03}}", "RECLAIM_E_THRESHOLDS",
		 "config.threshold_low", NULL},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *lines[] = {cases[i].line};
		char *answer = run_lines(lines, 1);
		json_t *root = json_loads(answer, 0, NULL);
		json_t *err = json_object_get(root, "error");
		const char *status = json_string_value(json_object_get(err, "status"));
		const char *path = json_string_value(json_object_get(err, "path"));
		const char *message = json_string_value(json_object_get(err, "message"));

		assert_non_null(status);
		assert_string_equal(status, cases[i].status);
		assert_non_null(path);
		assert_string_equal(path, cases[i].path);
		assert_string_equal(message, cases[i].message ? cases[i].message
							      : reclaim_strerror((int)json_integer_value(
									json_object_get(err, "code"))));
		json_decref(root);
		free(answer);
	}
}

/* A line with more VMs than the policy has room for grows it, and every
 * VM's history goes on: the answers are those of a policy large enough
 * from the start. */
static void
test_session_grows(void **state)
{
	char *lines[20];
	size_t n = 0, capacity = 0;
	int errors;
	(void)state;

	/* VM 1 does not deliver its balloon: after balloon_window_ns it is
	 * unresponsive, and stays so for balloon_backoff_ns. */
	for (int t = 1; t <= 15; t++)
		lines[n++] = snapshot_vms(t, 1);
	lines[n++] = snapshot_vms(16, 3);
	lines[n++] = snapshot_vms(17, 4);
	lines[n++] = snapshot_vms(18, 40);

	char *grown = session_all((const char *const *)lines, n, 1, CTL_MODE_JSON, &capacity,
				  &errors);
	assert_int_equal(errors, 0);
	/* 1 -> 3 (twice 1 is too few) -> 6 (twice 3) -> 40. */
	assert_int_equal(capacity, 40);
	char *roomy = session_all((const char *const *)lines, n, 64, CTL_MODE_JSON, &capacity,
				  &errors);
	assert_int_equal(capacity, 64);
	assert_string_equal(grown, roomy);

	/* The history is really there: the grown policy still knows VM 1's
	 * balloon is unresponsive, which a new policy cannot know. */
	const char *at = strstr(grown, "{\"line\":16,");
	assert_non_null(at);
	assert_non_null(strstr(at, "{\"id\":1,\"actions\":[],"));
	/* (it still owes its share: pressure, which its balloon cannot take) */
	assert_non_null(strstr(at, "\"reasons\":[\"pressure\",\"unresponsive\""));
	const char *last[] = {lines[15]};
	char *fresh = session_all(last, 1, 1, CTL_MODE_JSON, &capacity, &errors);
	assert_null(strstr(fresh, "unresponsive"));
	assert_int_equal(capacity, 3);

	free(fresh);
	free(grown);
	free(roomy);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
}

/* Every line of @p input through a fresh session on the pipeline; the output
 * in *out (malloc'ed, NUL-terminated). */
static int
pipeline_file(const char *input, unsigned workers, size_t max_line, char **out)
{
	struct reclaim_config cfg;
	struct ctl_session *s;
	const char *what;
	FILE *in = tmpfile(), *res = tmpfile();

	assert_non_null(in);
	assert_non_null(res);
	fputs(input, in);
	fflush(in);
	rewind(in);
	reclaim_config_init(&cfg, sizeof(cfg));
	assert_int_equal(ctl_session_new(&s, &cfg, 4, CTL_MODE_JSON_EXPLAIN), 0);
	int rc = ctl_pipeline_run(s, fileno(in), fileno(res), max_line, workers, &what);
	ctl_session_destroy(s);
	long size = ftell(res);
	assert_true(size >= 0);
	*out = calloc(1, (size_t)size + 1);
	rewind(res);
	assert_int_equal(fread(*out, 1, (size_t)size, res), (size_t)size);
	fclose(in);
	fclose(res);
	return rc;
}

static void
test_pipeline_threads_keep_order(void **state)
{
	char line[1024], input[1 << 16] = "";
	char *serial, *threaded;
	(void)state;

	/* Results, history and errors interleaved: 40 lines. */
	for (int t = 1; t <= 10; t++) {
		snapshot(line, sizeof(line), t);
		strcat(input, line);
		strcat(input, "\nnot json\n");
		strcat(input, t % 2 ? "{\"host\":{},\"vms\":[]}\n" : "\n");
		strcat(input, t % 3 ? "[1,2,3]\n" : "{\"host\":[],\"vms\":[], \"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n");
	}
	assert_int_equal(pipeline_file(input, 0, 100000, &serial), 1);
	for (unsigned workers = 1; workers <= 4; workers++) {
		assert_int_equal(pipeline_file(input, workers, 100000, &threaded), 1);
		assert_string_equal(serial, threaded);
		free(threaded);
	}
	/* 40 answers, numbered in order. */
	const char *at = serial;
	for (int n = 1; n <= 40; n++) {
		char want[32];
		snprintf(want, sizeof(want), "{\"line\":%d,", n);
		assert_memory_equal(at, want, strlen(want));
		at = strchr(at, '\n');
		assert_non_null(at);
		at++;
	}
	assert_int_equal(*at, '\0');
	free(serial);

	/* All good: 0; a line over the limit: 1, on both paths. */
	snapshot(line, sizeof(line), 1);
	strcat(line, "\n");
	assert_int_equal(pipeline_file(line, 2, 100000, &threaded), 0);
	free(threaded);
	assert_int_equal(pipeline_file(line, 0, 100, &serial), 1);
	assert_int_equal(pipeline_file(line, 2, 100, &threaded), 1);
	assert_string_equal(serial, threaded);
	assert_non_null(strstr(serial, "line longer than 100 bytes"));
	free(serial);
	free(threaded);
}

/* Parser threads take lines of any number of VMs, and config lines, in
 * order: the answers are those of one thread and a policy large enough
 * from the start. */
static void
test_pipeline_grows(void **state)
{
	static const size_t sizes[] = {1, 20, 3, 60, 2, 100, 1, 7, 100, 5, 33, 1};
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	char *lines[2 * sizeof(sizes) / sizeof(sizes[0])];
	struct ctl_buf input = {0};
	char *serial, *threaded;
	int errors;
	(void)state;

	for (size_t i = 0; i < n; i++) {
		lines[2 * i] = snapshot_vms((int)i + 1, sizes[i]);
		lines[2 * i + 1] = strdup(i % 2 ? "{\"config\":{\"idle_tax\":0.5}}"
						: "{\"config\":{\"profile\":\"esx\"}}");
	}
	for (size_t i = 0; i < 2 * n; i++) {
		ctl_puts(&input, lines[i]);
		ctl_putc(&input, '\n');
	}
	char *roomy = session_all((const char *const *)lines, 2 * n, 256, CTL_MODE_JSON_EXPLAIN,
				  NULL, &errors);
	assert_int_equal(errors, 0);
	assert_int_equal(pipeline_file(text(&input), 0, 1 << 20, &serial), 0);
	assert_string_equal(serial, roomy);
	for (unsigned workers = 1; workers <= 3; workers++) {
		assert_int_equal(pipeline_file(text(&input), workers, 1 << 20, &threaded), 0);
		assert_string_equal(threaded, roomy);
		free(threaded);
	}
	free(serial);
	free(roomy);
	ctl_buf_free(&input);
	for (size_t i = 0; i < 2 * n; i++)
		free(lines[i]);
}

struct lockstep {
	int in_fd;
	int out_fd;
	unsigned workers;
	int rc;
};

static void *
run_pipeline(void *arg)
{
	struct lockstep *l = arg;
	struct reclaim_config cfg;
	struct ctl_session *s;
	const char *what;

	reclaim_config_init(&cfg, sizeof(cfg));
	if (ctl_session_new(&s, &cfg, 4, CTL_MODE_JSON) != 0) {
		l->rc = -2;
		return NULL;
	}
	l->rc = ctl_pipeline_run(s, l->in_fd, l->out_fd, 1 << 20, l->workers, &what);
	close(l->out_fd);
	ctl_session_destroy(s);
	return NULL;
}

/* Write a line, wait for its answer, and only then write the next: each
 * answer must come while its input pipe stays open. */
static void
test_pipeline_lockstep(void **state)
{
	(void)state;
	for (unsigned workers = 0; workers <= 2; workers += 2) {
		int to[2], from[2];
		pthread_t thread;
		char line[1024], answer[8192];

		assert_int_equal(pipe(to), 0);
		assert_int_equal(pipe(from), 0);
		struct lockstep l = {to[0], from[1], workers, -3};
		assert_int_equal(pthread_create(&thread, NULL, run_pipeline, &l), 0);
		for (int t = 1; t <= 3; t++) {
			struct pollfd pfd = {from[0], POLLIN, 0};
			size_t got = 0;
			snapshot(line, sizeof(line), t);
			strcat(line, "\n");
			assert_int_equal(write(to[1], line, strlen(line)), (ssize_t)strlen(line));
			while (got == 0 || answer[got - 1] != '\n') {
				assert_int_equal(poll(&pfd, 1, 20000), 1);
				ssize_t n = read(from[0], answer + got, sizeof(answer) - 1 - got);
				assert_true(n > 0);
				got += (size_t)n;
			}
			answer[got] = '\0';
			snprintf(line, sizeof(line), "{\"line\":%d,\"summary\"", t);
			assert_memory_equal(answer, line, strlen(line));
		}
		close(to[1]);
		pthread_join(thread, NULL);
		assert_int_equal(l.rc, 0);
		close(to[0]);
		close(from[0]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_reader_pipe),
		cmocka_unit_test(test_reader_long_lines),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_config_partial),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_request_grows),
		cmocka_unit_test(test_request_config),
		cmocka_unit_test(test_error_from_library),
		cmocka_unit_test(test_session_history),
		cmocka_unit_test(test_session_config_line),
		cmocka_unit_test(test_session_errors_say_where),
		cmocka_unit_test(test_session_grows),
		cmocka_unit_test(test_pipeline_threads_keep_order),
		cmocka_unit_test(test_pipeline_grows),
		cmocka_unit_test(test_pipeline_lockstep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
