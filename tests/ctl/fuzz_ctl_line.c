/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for reclaimctl's line front end: the input is a stream of
 * lines fed to a fresh session, in decide --explain and in explain form.
 * Besides not crashing, every answer must be exactly one line of valid JSON
 * (valid UTF-8 included) with the right line number, an error exactly when
 * the session reported one; text answers must be valid UTF-8 without
 * control characters.
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

static void
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
	CHECK(failed ? (json_is_object(error) && !decisions)
		     : (!error && json_is_array(decisions) &&
			json_is_object(json_object_get(answer, "summary"))));
	if (failed) {
		const char *kind = json_string_value(json_object_get(error, "kind"));
		CHECK(kind && json_is_string(json_object_get(error, "message")));
		CHECK(strcmp(kind, "json") == 0 || strcmp(kind, "input") == 0 ||
		      strcmp(kind, "policy") == 0);
	}
	json_decref(answer);
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
		check_json_answer(&out, lineno, failed);
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
