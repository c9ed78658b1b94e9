/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for reclaimctl's line front end: the input is a stream of
 * lines fed to a fresh session, in decide --explain and in explain form.
 * Besides not crashing, every answer must be exactly one line of valid JSON
 * (valid UTF-8 included) with the right line number, an error exactly when
 * the session reported one; text answers must be valid UTF-8 without
 * control characters. The config a config line is answered with, sent back
 * as a config line, must be answered with the same config.
 */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* The answer's config, if it has one (a new reference), else NULL. */
static json_t *
check_json_answer(const struct ctl_buf *out, uint64_t lineno, int failed)
{
	json_error_t jerr;

	CHECK(!out->oom && out->len > 0 && out->data[out->len - 1] == '\n');
	CHECK(memchr(out->data, '\n', out->len) == out->data + out->len - 1);
	json_t *answer = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(answer && json_is_object(answer));
	json_t *line = json_object_get(answer, "line");
	CHECK(json_is_integer(line) && (uint64_t)json_integer_value(line) == lineno);
	json_t *error = json_object_get(answer, "error");
	json_t *decisions = json_object_get(answer, "decisions");
	json_t *config = json_object_get(answer, "config");
	CHECK(failed ? (json_is_object(error) && !decisions && !config)
		     : (!error && (config ? json_is_object(config) && !decisions
					  : json_is_array(decisions) &&
						    json_is_object(json_object_get(answer, "summary")))));
	if (failed) {
		const char *kind = json_string_value(json_object_get(error, "kind"));
		CHECK(kind && json_is_string(json_object_get(error, "message")));
		CHECK(strcmp(kind, "json") == 0 || strcmp(kind, "input") == 0 ||
		      strcmp(kind, "policy") == 0);
	}
	json_incref(config);
	json_decref(answer);
	return config;
}

/* @p config, from an answer of @p s, as a config line: the same config. */
static void
check_config_round_trip(struct ctl_session *s, json_t *config)
{
	struct ctl_buf out = {0};
	json_t *line = json_pack("{sO}", "config", config);
	char *text = json_dumps(line, JSON_COMPACT);

	CHECK(line && text);
	CHECK(ctl_session_line(s, &out, text, strlen(text), 1) == 0);
	json_t *again = check_json_answer(&out, 1, 0);
	CHECK(again && json_equal(again, config));
	json_decref(again);
	free(text);
	json_decref(line);
	ctl_buf_free(&out);
}

static void
check_text_answer(const struct ctl_buf *out)
{
	CHECK(!out->oom && out->len > 0 && out->data[out->len - 1] == '\n');
	/* json_stringn() refuses text that is not valid UTF-8. */
	json_t *text = json_stringn(out->data, out->len);
	CHECK(text);
	json_decref(text);
	for (size_t i = 0; i < out->len; i++)
		CHECK((unsigned char)out->data[i] >= 0x20 || out->data[i] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reclaim_config cfg;
	struct ctl_session *json = NULL, *text = NULL;
	struct ctl_buf out = {0};
	const char *p = (const char *)data, *end = p + size;
	uint64_t lineno = 0;

	CHECK(reclaim_config_init(&cfg, sizeof(cfg)) == RECLAIM_OK);
	/* A small capacity, so that lines grow the policy. */
	CHECK(ctl_session_new(&json, &cfg, 8, CTL_MODE_JSON_EXPLAIN) == RECLAIM_OK);
	CHECK(ctl_session_new(&text, &cfg, 8, CTL_MODE_TEXT) == RECLAIM_OK);
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!nl && len == 0 && lineno > 0)
			break;
		lineno++;
		out.len = 0;
		int failed = ctl_session_line(json, &out, p, len, lineno);
		json_t *config = check_json_answer(&out, lineno, failed);
		if (config) {
			check_config_round_trip(json, config);
			json_decref(config);
		}
		out.len = 0;
		CHECK(ctl_session_line(text, &out, p, len, lineno) == failed);
		check_text_answer(&out);
		if (!nl)
			break;
		p = nl + 1;
	}
	ctl_buf_free(&out);
	ctl_session_destroy(json);
	ctl_session_destroy(text);
	return 0;
}
