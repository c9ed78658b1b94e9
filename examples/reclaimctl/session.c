/* SPDX-License-Identifier: MIT */
/* One policy kept across input lines: parse, decide, write one answer. */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

struct ctl_session {
	struct reclaim_policy *policy;
	int mode;
	struct reclaim_decision *decisions; /* decisions_cap elements */
	size_t decisions_cap;
	struct ctl_parsed own; /* ctl_session_line()'s */
	char *text;      /* reclaim_decision_format() output */
	size_t text_cap;
	/* Every VM of the committed lines still within its absence grace, by
	 * id: the policy keeps their history while it has room, so room is
	 * made for them too. */
	struct seen *seen, *seen_next;
	size_t n_seen, seen_cap;
	uint64_t *ids; /* the line's ids, sorted */
	size_t ids_cap;
};

struct seen {
	uint64_t id;
	uint64_t last_ns; /* the last line it was in */
};

int
ctl_session_new(struct ctl_session **out, const struct reclaim_config *cfg, size_t capacity,
		int mode)
{
	struct ctl_session *s = calloc(1, sizeof(*s));
	int status;

	if (!s)
		return RECLAIM_E_NOMEM;
	status = reclaim_policy_new(&s->policy, cfg, capacity);
	if (status != RECLAIM_OK) {
		free(s);
		return status;
	}
	s->mode = mode;
	s->decisions_cap = capacity;
	s->decisions = calloc(capacity, sizeof(*s->decisions));
	s->text_cap = 256;
	s->text = malloc(s->text_cap);
	if (!s->decisions || !s->text) {
		ctl_session_destroy(s);
		return RECLAIM_E_NOMEM;
	}
	*out = s;
	return RECLAIM_OK;
}

void
ctl_session_destroy(struct ctl_session *s)
{
	if (!s)
		return;
	reclaim_policy_destroy(s->policy);
	free(s->decisions);
	free(s->seen);
	free(s->seen_next);
	free(s->ids);
	ctl_request_free(&s->own.req);
	free(s->text);
	free(s);
}

size_t
ctl_session_capacity(const struct ctl_session *s)
{
	return reclaim_policy_capacity(s->policy);
}

static const char *const kind_names[] = {"json", "input", "policy"};

void
ctl_session_error(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
		  const struct ctl_error *err)
{
	if (s->mode == CTL_MODE_TEXT) {
		ctl_puts(out, "line ");
		ctl_put_u64(out, lineno);
		ctl_puts(out, ": error: ");
		ctl_puts(out, err->kind == CTL_ERR_POLICY ? ctl_status_name(err->status)
							   : kind_names[err->kind]);
		if (err->path[0]) {
			ctl_puts(out, ": ");
			ctl_put_text(out, err->path, strlen(err->path));
		}
		ctl_puts(out, ": ");
		ctl_put_text(out, err->message, strlen(err->message));
		ctl_putc(out, '\n');
		return;
	}
	ctl_puts(out, "{\"line\":");
	ctl_put_u64(out, lineno);
	ctl_puts(out, ",\"error\":{\"kind\":\"");
	ctl_puts(out, kind_names[err->kind]);
	ctl_putc(out, '"');
	if (err->kind == CTL_ERR_POLICY) {
		ctl_puts(out, ",\"status\":\"");
		ctl_puts(out, ctl_status_name(err->status));
		ctl_puts(out, "\",\"code\":-");
		ctl_put_u64(out, (uint64_t)-(int64_t)err->status);
	}
	if (err->path[0] || err->kind == CTL_ERR_INPUT) {
		ctl_puts(out, ",\"path\":");
		ctl_put_string(out, err->path, strlen(err->path));
	}
	if (err->column > 0) {
		ctl_puts(out, ",\"column\":");
		ctl_put_u64(out, (uint64_t)err->column);
	}
	ctl_puts(out, ",\"message\":");
	ctl_put_string(out, err->message, strlen(err->message));
	ctl_puts(out, "}}\n");
}

static void
put_key(struct ctl_buf *out, const char *key)
{
	ctl_puts(out, ",\"");
	ctl_puts(out, key);
	ctl_puts(out, "\":");
}

static void
put_summary(struct ctl_buf *out, const struct reclaim_summary *sum)
{
	ctl_puts(out, "{\"state\":");
	ctl_put_enum(out, reclaim_state_name, sum->state);
	put_key(out, "previous_state");
	ctl_put_enum(out, reclaim_state_name, sum->previous_state);
	put_key(out, "flags");
	ctl_put_flags(out, reclaim_summary_flag_name, sum->flags);
	put_key(out, "usable_bytes");
	ctl_put_u64(out, sum->usable_bytes);
	put_key(out, "free_bytes");
	ctl_put_u64(out, sum->free_bytes);
	put_key(out, "threshold_bytes");
	for (int i = 0; i < 4; i++) {
		ctl_putc(out, i ? ',' : '[');
		ctl_put_u64(out, sum->threshold_bytes[i]);
	}
	ctl_putc(out, ']');
	put_key(out, "need_bytes");
	ctl_put_u64(out, sum->need_bytes);
	put_key(out, "in_flight_bytes");
	ctl_put_u64(out, sum->in_flight_bytes);
	put_key(out, "reclaimable_bytes");
	ctl_put_u64(out, sum->reclaimable_bytes);
	put_key(out, "balloon_bytes");
	ctl_put_u64(out, sum->balloon_bytes);
	put_key(out, "swap_bytes");
	ctl_put_u64(out, sum->swap_bytes);
	put_key(out, "compress_bytes");
	ctl_put_u64(out, sum->compress_bytes);
	put_key(out, "deflate_bytes");
	ctl_put_u64(out, sum->deflate_bytes);
	put_key(out, "level");
	ctl_put_double(out, sum->level);
	ctl_putc(out, '}');
}

/* reclaim_decision_format() into s->text; NULL if the library refuses. */
static const char *
format_decision(struct ctl_session *s, const struct reclaim_decision *d, size_t *len)
{
	int n = reclaim_decision_format(s->text, s->text_cap, d);
	if (n >= 0 && (size_t)n >= s->text_cap) {
		char *text = realloc(s->text, (size_t)n + 1);
		if (!text)
			return NULL;
		s->text = text;
		s->text_cap = (size_t)n + 1;
		n = reclaim_decision_format(s->text, s->text_cap, d);
	}
	if (n < 0 || (size_t)n >= s->text_cap)
		return NULL;
	*len = (size_t)n;
	return s->text;
}

static void
put_decision(struct ctl_session *s, struct ctl_buf *out, const struct reclaim_decision *d)
{
	ctl_puts(out, "{\"id\":");
	ctl_put_u64(out, d->id);
	put_key(out, "actions");
	ctl_put_flags(out, reclaim_action_name, d->actions);
	put_key(out, "target_bytes");
	ctl_put_u64(out, d->target_bytes);
	put_key(out, "balloon_target_bytes");
	ctl_put_u64(out, d->balloon_target_bytes);
	put_key(out, "swap_bytes");
	ctl_put_u64(out, d->swap_bytes);
	put_key(out, "compress_bytes");
	ctl_put_u64(out, d->compress_bytes);
	put_key(out, "excess_bytes");
	ctl_put_u64(out, d->excess_bytes);
	put_key(out, "balloon_cap_bytes");
	ctl_put_limit(out, d->balloon_cap_bytes);
	put_key(out, "block");
	ctl_puts(out, d->block ? "true" : "false");
	put_key(out, "state");
	ctl_put_enum(out, reclaim_state_name, d->state);
	put_key(out, "reasons");
	ctl_put_flags(out, reclaim_reason_name, d->reasons);
	put_key(out, "bound");
	ctl_put_enum(out, reclaim_bound_name, d->bound);
	put_key(out, "balloon_limit");
	ctl_put_enum(out, reclaim_balloon_limit_name, d->balloon_limit);
	put_key(out, "rho");
	ctl_put_double(out, d->rho);
	if (s->mode == CTL_MODE_JSON_EXPLAIN) {
		size_t len;
		const char *text = format_decision(s, d, &len);
		put_key(out, "explain");
		if (text)
			ctl_put_string(out, text, len);
		else
			ctl_puts(out, "null");
	}
	ctl_putc(out, '}');
}

static void
put_json(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
	 const struct ctl_request *req, const struct reclaim_summary *sum)
{
	ctl_puts(out, "{\"line\":");
	ctl_put_u64(out, lineno);
	if (req->dry_run) {
		put_key(out, reclaim_decide_flag_name(RECLAIM_DECIDE_DRY_RUN));
		ctl_puts(out, "true");
	}
	if (req->admit) {
		put_key(out, "admit_bytes");
		ctl_put_u64(out, req->admit_bytes);
		put_key(out, "admitted");
		ctl_puts(out, (sum->flags & RECLAIM_SUMMARY_SHORTFALL) ? "false" : "true");
	}
	put_key(out, "summary");
	put_summary(out, sum);
	put_key(out, "decisions");
	ctl_putc(out, '[');
	for (size_t i = 0; i < req->n_vms; i++) {
		if (i)
			ctl_putc(out, ',');
		put_decision(s, out, &s->decisions[i]);
	}
	ctl_puts(out, "]}\n");
}

static void
put_text(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
	 const struct ctl_request *req, const struct reclaim_summary *sum)
{
	const char *state = reclaim_state_name(sum->state);
	const char *previous = reclaim_state_name(sum->previous_state);

	ctl_puts(out, "line ");
	ctl_put_u64(out, lineno);
	ctl_puts(out, ": ");
	ctl_puts(out, state ? state : "unknown");
	ctl_puts(out, " (was ");
	ctl_puts(out, previous ? previous : "unknown");
	ctl_puts(out, "), free ");
	ctl_put_human_bytes(out, sum->free_bytes);
	ctl_puts(out, " of ");
	ctl_put_human_bytes(out, sum->usable_bytes);
	ctl_puts(out, ", high threshold ");
	ctl_put_human_bytes(out, sum->threshold_bytes[0]);
	ctl_puts(out, ", need ");
	ctl_put_human_bytes(out, sum->need_bytes);
	if (sum->flags) {
		const char *sep = ", flags ";
		for (unsigned bit = 0; bit < 32; bit++) {
			uint32_t mask = (uint32_t)1 << bit;
			const char *name = reclaim_summary_flag_name(mask);
			if (!(sum->flags & mask))
				continue;
			ctl_puts(out, sep);
			if (name) {
				ctl_puts(out, name);
			} else {
				ctl_puts(out, "bit");
				ctl_put_u64(out, bit);
			}
			sep = ",";
		}
	}
	if (req->dry_run)
		ctl_puts(out, ", dry run");
	if (req->admit) {
		ctl_puts(out, ", admit ");
		ctl_put_human_bytes(out, req->admit_bytes);
		ctl_puts(out, (sum->flags & RECLAIM_SUMMARY_SHORTFALL) ? ": no" : ": yes");
	}
	ctl_putc(out, '\n');
	for (size_t i = 0; i < req->n_vms; i++) {
		size_t len;
		const char *text = format_decision(s, &s->decisions[i], &len);
		ctl_puts(out, "  ");
		if (text) {
			ctl_put(out, text, len);
		} else {
			ctl_puts(out, "vm ");
			ctl_put_u64(out, s->decisions[i].id);
			ctl_puts(out, ": (no text)");
		}
		ctl_putc(out, '\n');
	}
}

void
ctl_parse_line(struct ctl_parsed *p, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *root;

	p->failed = 1;
	if (len == 0) {
		ctl_error_set(&p->err, CTL_ERR_JSON, "", "empty line");
		return;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* (jansson leaves the text empty when it runs out of memory) */
		ctl_error_set(&p->err, CTL_ERR_JSON, "", "%s",
			      json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]
				      ? "out of memory reading the line"
				      : jerr.text);
		p->err.column = jerr.column;
		return;
	}
	if (ctl_request_read(&p->req, &p->err, root) == 0)
		p->failed = 0;
	json_decref(root);
}

/* The library's last error on the session's policy, as err. */
static void
policy_error(struct ctl_session *s, struct ctl_error *err, int status)
{
	struct reclaim_error where = RECLAIM_ERROR_INIT;

	if (reclaim_policy_last_error(s->policy, &where) != RECLAIM_OK)
		where.status = RECLAIM_OK; /* names nothing */
	ctl_error_from_library(err, status, &where);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Still remembered at @p now: absent for no longer than @p grace (a clock
 * that went back counts as no time). */
static int
within_grace(const struct seen *e, uint64_t now, uint64_t grace)
{
	return now <= e->last_ns || now - e->last_ns <= grace;
}

/*
 * The VMs the policy may be keeping besides the line's own: those of
 * earlier committed lines, absent from this one and within their grace.
 * Sorts the line's ids into s->ids (the line's order is the caller's: the
 * request is not touched). -1 when memory runs out.
 */
static int
count_absent(struct ctl_session *s, const struct ctl_request *req, uint64_t grace, size_t *absent)
{
	size_t i, j = 0;

	if (req->n_vms > s->ids_cap) {
		uint64_t *ids = req->n_vms <= SIZE_MAX / sizeof(*ids)
					? realloc(s->ids, req->n_vms * sizeof(*ids))
					: NULL;
		if (!ids)
			return -1;
		s->ids = ids;
		s->ids_cap = req->n_vms;
	}
	for (i = 0; i < req->n_vms; i++)
		s->ids[i] = req->vms[i].id;
	if (req->n_vms > 1)
		qsort(s->ids, req->n_vms, sizeof(*s->ids), cmp_u64);
	*absent = 0;
	for (i = 0; i < s->n_seen; i++) {
		while (j < req->n_vms && s->ids[j] < s->seen[i].id)
			j++;
		if ((j == req->n_vms || s->ids[j] != s->seen[i].id) &&
		    within_grace(&s->seen[i], req->host.now_ns, grace))
			(*absent)++;
	}
	return 0;
}

/*
 * After a committed line: its VMs, seen now, and the absent ones still
 * within their grace (s->ids holds the line's ids, sorted). Duplicates
 * cannot occur: the library refused the line.
 */
static int
remember_seen(struct ctl_session *s, const struct ctl_request *req, uint64_t grace)
{
	size_t i = 0, j = 0, m = 0, most = s->n_seen + req->n_vms;
	uint64_t now = req->host.now_ns;
	struct seen *next;

	if (most > s->seen_cap) {
		struct seen *a = most <= SIZE_MAX / sizeof(*a) ? malloc(most * sizeof(*a)) : NULL;
		struct seen *b = a ? malloc(most * sizeof(*b)) : NULL;

		if (!b) {
			free(a);
			return -1;
		}
		if (s->n_seen)
			memcpy(a, s->seen, s->n_seen * sizeof(*a));
		free(s->seen);
		free(s->seen_next);
		s->seen = a;
		s->seen_next = b;
		s->seen_cap = most;
	}
	next = s->seen_next;
	while (i < s->n_seen || j < req->n_vms) {
		if (j == req->n_vms || (i < s->n_seen && s->seen[i].id < s->ids[j])) {
			if (within_grace(&s->seen[i], now, grace))
				next[m++] = s->seen[i];
			i++;
		} else {
			if (i < s->n_seen && s->seen[i].id == s->ids[j])
				i++;
			next[m++] = (struct seen){s->ids[j++], now};
		}
	}
	s->seen_next = s->seen;
	s->seen = next;
	s->n_seen = m;
	return 0;
}

/*
 * Room for @p n VMs: the policy grows keeping its history, to twice its
 * size at least, so that VMs arriving one by one do not copy it every line
 * and absent VMs keep room for their grace period.
 */
static int
make_room(struct ctl_session *s, size_t n, struct ctl_error *err)
{
	size_t cap = reclaim_policy_capacity(s->policy);

	if (n > cap) {
		size_t want = cap > SIZE_MAX / 2 || cap * 2 < n ? n : cap * 2;
		int status = reclaim_policy_resize(&s->policy, want);
		if (status == RECLAIM_E_INVAL && want > n)
			/* Twice is more than the library takes; n may not be. */
			status = reclaim_policy_resize(&s->policy, n);
		if (status != RECLAIM_OK) {
			ctl_error_set(err, CTL_ERR_POLICY, "vms",
				      "cannot grow the policy to %zu VMs: %s", n,
				      reclaim_strerror(status));
			err->status = status;
			return -1;
		}
		cap = reclaim_policy_capacity(s->policy);
	}
	if (n > s->decisions_cap) {
		struct reclaim_decision *d = cap <= SIZE_MAX / sizeof(*d)
						     ? realloc(s->decisions, cap * sizeof(*d))
						     : NULL;
		if (!d) {
			ctl_error_set(err, CTL_ERR_POLICY, "vms", "out of memory for %zu decisions",
				      cap);
			err->status = RECLAIM_E_NOMEM;
			return -1;
		}
		s->decisions = d;
		s->decisions_cap = cap;
	}
	return 0;
}

/* What changed from @p old to @p now, for people. */
static void
put_config_text(struct ctl_buf *out, uint64_t lineno, const struct reclaim_config *old,
		const struct reclaim_config *now)
{
	const char *sep = ": ";

	ctl_puts(out, "line ");
	ctl_put_u64(out, lineno);
	ctl_puts(out, ": config");
	for (const struct ctl_field *f = ctl_config_fields; f->name; f++) {
		struct ctl_buf a = {0}, b = {0};
		ctl_put_field(&a, f, old);
		ctl_put_field(&b, f, now);
		if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) {
			ctl_puts(out, sep);
			ctl_puts(out, f->name);
			ctl_putc(out, ' ');
			ctl_put(out, a.data, a.len);
			ctl_puts(out, " -> ");
			ctl_put(out, b.data, b.len);
			sep = ", ";
		}
		if (a.oom || b.oom)
			out->oom = 1;
		ctl_buf_free(&a);
		ctl_buf_free(&b);
	}
	if (sep[0] == ':')
		ctl_puts(out, " unchanged");
	ctl_putc(out, '\n');
}

/*
 * A config line: the members it has over the config in force, or over its
 * profile's defaults when it names one; then reclaim_policy_set_config(),
 * which validates it and keeps every VM's history.
 */
static int
answer_config(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
	      struct ctl_parsed *p)
{
	const struct ctl_config_change *change = &p->req.config;
	struct reclaim_config old, cfg;
	int status;

	old.struct_size = sizeof(old);
	status = reclaim_policy_get_config(s->policy, &old);
	if (status == RECLAIM_OK) {
		cfg = old;
		if (change->profile >= 0)
			status = reclaim_config_init_profile(&cfg, sizeof(cfg),
							     (uint32_t)change->profile);
	}
	if (status != RECLAIM_OK) {
		ctl_error_set(&p->err, CTL_ERR_POLICY, "config", "%s", reclaim_strerror(status));
		p->err.status = status;
		return -1;
	}
	ctl_config_apply(&cfg, change);
	status = reclaim_policy_set_config(s->policy, &cfg);
	if (status != RECLAIM_OK) {
		policy_error(s, &p->err, status);
		return -1;
	}
	/* What is in force now, as the library holds it. */
	cfg.struct_size = sizeof(cfg);
	if (reclaim_policy_get_config(s->policy, &cfg) != RECLAIM_OK)
		cfg = old; /* cannot happen: the same call worked above */
	if (s->mode == CTL_MODE_TEXT) {
		put_config_text(out, lineno, &old, &cfg);
		return 0;
	}
	ctl_puts(out, "{\"line\":");
	ctl_put_u64(out, lineno);
	ctl_puts(out, ",\"config\":");
	ctl_put_fields(out, ctl_config_fields, &cfg);
	ctl_puts(out, "}\n");
	return 0;
}

int
ctl_session_answer(struct ctl_session *s, struct ctl_buf *out, uint64_t lineno,
		   struct ctl_parsed *p)
{
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	const struct ctl_request *req = &p->req;
	uint64_t grace = 0;
	size_t absent;
	int status, commit;

	if (p->failed)
		goto fail;
	if (req->is_config) {
		if (answer_config(s, out, lineno, p) < 0)
			goto fail;
		return 0;
	}
	commit = !req->admit && !req->dry_run;
	absent = 0;
	if (commit) {
		struct reclaim_config cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.struct_size = sizeof(cfg);
		if (reclaim_policy_get_config(s->policy, &cfg) != RECLAIM_OK ||
		    count_absent(s, req, cfg.absent_grace_ns, &absent) < 0) {
			ctl_error_set(&p->err, CTL_ERR_POLICY, "vms", "out of memory for %zu VMs",
				      req->n_vms);
			p->err.status = RECLAIM_E_NOMEM;
			goto fail;
		}
		grace = cfg.absent_grace_ns;
	}
	if (make_room(s, req->n_vms + absent, &p->err) < 0)
		goto fail;
	if (req->admit)
		status = reclaim_plan_admission(s->policy, &req->host, req->vms, req->n_vms,
						req->admit_bytes, &sum, s->decisions);
	else
		status = reclaim_decide(s->policy, &req->host, req->vms, req->n_vms,
					req->dry_run ? RECLAIM_DECIDE_DRY_RUN : 0, &sum,
					s->decisions);
	if (status != RECLAIM_OK) {
		policy_error(s, &p->err, status);
		goto fail;
	}
	/* (Out of memory here loses track of absent VMs only: the answer
	 * stands.) */
	if (commit && remember_seen(s, req, grace) < 0)
		s->n_seen = 0;
	if (s->mode == CTL_MODE_TEXT)
		put_text(s, out, lineno, req, &sum);
	else
		put_json(s, out, lineno, req, &sum);
	return 0;
fail:
	p->failed = 1;
	ctl_session_error(s, out, lineno, &p->err);
	return 1;
}

int
ctl_session_line(struct ctl_session *s, struct ctl_buf *out, const char *line, size_t len,
		 uint64_t lineno)
{
	ctl_parse_line(&s->own, line, len);
	return ctl_session_answer(s, out, lineno, &s->own);
}
