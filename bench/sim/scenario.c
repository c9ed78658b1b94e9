/* SPDX-License-Identifier: MIT */
/* Scenario files: INI-like "key = value" lines in [sections]. Format in
 * bench/README.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char *const policy_names[SIM_POLICY_COUNT] = {
	"reclaim", "paper", "swap-only", "mom", "squeezed", "kernel-only", "psi",
};

const char *
sim_policy_name(int policy)
{
	if (policy < 0 || policy >= SIM_POLICY_COUNT)
		return "invalid";
	return policy_names[policy];
}

int
sim_policy_parse(const char *name)
{
	for (int i = 0; i < SIM_POLICY_COUNT; i++)
		if (strcmp(name, policy_names[i]) == 0)
			return i;
	return -1;
}

int
sim_swap_pick_parse(const char *name)
{
	if (!strcmp(name, "random"))
		return SIM_SWAP_RANDOM;
	if (!strcmp(name, "cold"))
		return SIM_SWAP_COLD;
	return -1;
}

static int
parse_double(double *out, const char *s, char **end)
{
	errno = 0;
	double v = strtod(s, end);
	if (*end == s || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

int
sim_parse_bytes(uint64_t *out, const char *s)
{
	char *end;
	double v;

	if (strcmp(s, "none") == 0 || strcmp(s, "unlimited") == 0) {
		*out = RECLAIM_UNLIMITED;
		return 0;
	}
	if (parse_double(&v, s, &end) < 0)
		return -1;
	double mult = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = 1024.0; end++; break;
	case 'M': mult = 1024.0 * 1024; end++; break;
	case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (mult > 1 && *end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end != '\0' || v * mult >= 1.8e19)
		return -1;
	*out = (uint64_t)llround(v * mult);
	return 0;
}

int
sim_parse_duration(uint64_t *out, const char *s)
{
	char *end;
	double v;

	if (strcmp(s, "never") == 0) {
		*out = SIM_NEVER;
		return 0;
	}
	if (parse_double(&v, s, &end) < 0)
		return -1;
	double mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1e9;
	else if (strcmp(end, "ms") == 0)
		mult = 1e6;
	else if (strcmp(end, "us") == 0)
		mult = 1e3;
	else if (strcmp(end, "ns") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60e9;
	else if (strcmp(end, "h") == 0)
		mult = 3600e9;
	else if (strcmp(end, "d") == 0)
		mult = 86400e9;
	else
		return -1;
	if (v * mult >= 1.8e19)
		return -1;
	*out = (uint64_t)llround(v * mult);
	return 0;
}

static int
parse_bool(int *out, const char *s)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static void
vm_defaults(struct sim_vm_spec *v)
{
	memset(v, 0, sizeof(*v));
	v->limit = RECLAIM_UNLIMITED;
	v->balloon = 1;
	v->balloon_rate = 64 * SIM_MIB;
	v->deflate_rate = 128 * SIM_MIB;
	v->balloon_delay_ns = 0;
	v->balloon_stall_ns = SIM_NEVER;
	v->cache_rate = 2 * SIM_MIB;
	v->trace_col = -1;
	v->ws_base_fraction = 0.05;
	v->ws_base_max = 128 * SIM_MIB;
	v->guest_swap = SIM_NEVER; /* "rhel": sized from configured */
	v->ws_every_ns = 6 * 3600 * SIM_NS;
	v->ws_rise_ns = 300 * SIM_NS;
	v->ws_hold_ns = 1800 * SIM_NS;
	v->ws_fall_ns = 600 * SIM_NS;
	v->ws_amplitude = 1;
}

/* RHEL 7's recommended swap: 2x RAM up to 2 GiB, = RAM up to 8 GiB, 4 GiB
 * above ("at least 4 GB" up to 64 GB). */
static uint64_t
rhel_swap(uint64_t ram)
{
	if (ram <= 2 * SIM_GIB)
		return 2 * ram;
	if (ram <= 8 * SIM_GIB)
		return ram;
	return 4 * SIM_GIB;
}

/* A guest's swap as guest_swap says it (SIM_NEVER: "rhel"), in bytes. */
static uint64_t
guest_swap_of(uint64_t configured, uint64_t guest_swap)
{
	return guest_swap == SIM_NEVER ? rhel_swap(configured) : guest_swap;
}

int
sim_parse_guest_swap(uint64_t *out, const char *s)
{
	if (!strcmp(s, "rhel")) {
		*out = SIM_NEVER;
		return 0;
	}
	return sim_parse_bytes(out, s);
}

uint64_t
sim_vm_shares(const struct sim_vm_spec *spec)
{
	/* ESX "normal": 10 shares per MiB of configured memory. */
	return spec->shares ? spec->shares : 10 * (spec->configured / SIM_MIB) + 1;
}

struct parser {
	struct sim_scenario *sc;
	const char *label;
	int line;
	char *err;
	size_t errlen;
	enum { SEC_NONE, SEC_HOST, SEC_RUN, SEC_TRACE, SEC_DEFAULTS, SEC_VM } sec;
	struct sim_vm_spec tmpl;
	struct sim_vm_spec *vm;
	int trace_all;
	uint64_t trace_ids[SIM_VMS_MAX];
	size_t n_trace_ids;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
fail(struct parser *p, const char *fmt, ...);

static int
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->label, p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_schedule(struct parser *p, struct sim_vm_spec *v, char *s)
{
	v->n_ws = 0;
	for (char *tok = strtok(s, ";,"); tok; tok = strtok(NULL, ";,")) {
		char t[64], b[64];
		if (sscanf(tok, " %63s %63s", t, b) != 2)
			return fail(p, "ws: expected \"time bytes\" pairs separated by ';'");
		if (v->n_ws == SIM_SCHEDULE_MAX)
			return fail(p, "ws: more than %d points", SIM_SCHEDULE_MAX);
		struct sim_point *pt = &v->ws[v->n_ws];
		if (sim_parse_duration(&pt->t_ns, t) < 0 || sim_parse_bytes(&pt->bytes, b) < 0)
			return fail(p, "ws: bad point \"%s\"", tok);
		if (v->n_ws > 0 && pt->t_ns < v->ws[v->n_ws - 1].t_ns)
			return fail(p, "ws: times must not decrease");
		v->n_ws++;
	}
	return 0;
}

static int
vm_key(struct parser *p, struct sim_vm_spec *v, const char *k, char *val)
{
	int r = 0;
	if (!strcmp(k, "configured"))
		r = sim_parse_bytes(&v->configured, val);
	else if (!strcmp(k, "reservation"))
		r = sim_parse_bytes(&v->reservation, val);
	else if (!strcmp(k, "limit"))
		r = sim_parse_bytes(&v->limit, val);
	else if (!strcmp(k, "shares")) {
		char *end;
		errno = 0;
		v->shares = strtoull(val, &end, 10);
		r = (*end || errno) ? -1 : 0;
	} else if (!strcmp(k, "guest_swap")) {
		r = sim_parse_guest_swap(&v->guest_swap, val);
	} else if (!strcmp(k, "balloon"))
		r = parse_bool(&v->balloon, val);
	else if (!strcmp(k, "balloon_rate"))
		r = sim_parse_bytes(&v->balloon_rate, val);
	else if (!strcmp(k, "deflate_rate"))
		r = sim_parse_bytes(&v->deflate_rate, val);
	else if (!strcmp(k, "balloon_delay"))
		r = sim_parse_duration(&v->balloon_delay_ns, val);
	else if (!strcmp(k, "balloon_stall"))
		r = sim_parse_duration(&v->balloon_stall_ns, val);
	else if (!strcmp(k, "cache_rate"))
		r = sim_parse_bytes(&v->cache_rate, val);
	else if (!strcmp(k, "deflate_on_oom"))
		r = parse_bool(&v->deflate_on_oom, val);
	else if (!strcmp(k, "start"))
		r = sim_parse_duration(&v->start_ns, val);
	else if (!strcmp(k, "idle_tax")) {
		char *end;
		r = parse_double(&v->idle_tax, val, &end);
		if (r == 0 && (*end || v->idle_tax >= 1))
			r = -1;
		v->has_idle_tax = 1;
	} else if (!strcmp(k, "ws"))
		return parse_schedule(p, v, val);
	else if (!strcmp(k, "ws_shape")) {
		if (!strcmp(val, "step"))
			v->ws_linear = 0;
		else if (!strcmp(val, "linear"))
			v->ws_linear = 1;
		else
			r = -1;
	} else if (!strcmp(k, "ws_base_fraction")) {
		char *end;
		r = parse_double(&v->ws_base_fraction, val, &end);
		if (r == 0 && (*end || v->ws_base_fraction > 1))
			r = -1;
	} else if (!strcmp(k, "ws_base_max"))
		r = sim_parse_bytes(&v->ws_base_max, val);
	else if (!strcmp(k, "ws_pattern")) {
		if (!strcmp(val, "spikes"))
			v->ws_pattern = SIM_WS_SPIKES;
		else if (!strcmp(val, "ramps"))
			v->ws_pattern = SIM_WS_RAMPS;
		else if (!strcmp(val, "none"))
			v->ws_pattern = SIM_WS_SCHEDULE;
		else
			r = -1;
	} else if (!strcmp(k, "ws_low"))
		r = sim_parse_bytes(&v->ws_low, val);
	else if (!strcmp(k, "ws_high"))
		r = sim_parse_bytes(&v->ws_high, val);
	else if (!strcmp(k, "ws_every"))
		r = sim_parse_duration(&v->ws_every_ns, val);
	else if (!strcmp(k, "ws_rise"))
		r = sim_parse_duration(&v->ws_rise_ns, val);
	else if (!strcmp(k, "ws_hold"))
		r = sim_parse_duration(&v->ws_hold_ns, val);
	else if (!strcmp(k, "ws_fall"))
		r = sim_parse_duration(&v->ws_fall_ns, val);
	else if (!strcmp(k, "ws_amplitude")) {
		char *end;
		r = parse_double(&v->ws_amplitude, val, &end);
		if (r == 0 && (*end || v->ws_amplitude > 1))
			r = -1;
	} else if (!strcmp(k, "boot_touch"))
		r = sim_parse_bytes(&v->boot_touch, val);
	else if (!strcmp(k, "boot_time"))
		r = sim_parse_duration(&v->boot_ns, val);
	else
		return fail(p, "unknown VM key \"%s\"", k);
	if (r < 0)
		return fail(p, "bad value \"%s\" for %s", val, k);
	return 0;
}

static int
run_key(struct parser *p, const char *k, char *val)
{
	struct sim_scenario *sc = p->sc;
	int r = 0;
	char *end;

	if (!strcmp(k, "name"))
		snprintf(sc->name, sizeof(sc->name), "%s", val);
	else if (!strcmp(k, "duration"))
		r = sim_parse_duration(&sc->duration_ns, val);
	else if (!strcmp(k, "step"))
		r = sim_parse_duration(&sc->step_ns, val);
	else if (!strcmp(k, "decide"))
		r = sim_parse_duration(&sc->decide_ns, val);
	else if (!strcmp(k, "csv"))
		r = sim_parse_duration(&sc->csv_ns, val);
	else if (!strcmp(k, "touch"))
		r = sim_parse_duration(&sc->touch_ns, val);
	else if (!strcmp(k, "oom_clear"))
		r = sim_parse_duration(&sc->oom_clear_ns, val);
	else if (!strcmp(k, "seed")) {
		errno = 0;
		sc->seed = strtoull(val, &end, 0);
		r = (*end || errno) ? -1 : 0;
	} else if (!strcmp(k, "policies")) {
		sc->policies = 0;
		for (char *tok = strtok(val, " ,"); tok; tok = strtok(NULL, " ,")) {
			int pol = !strcmp(tok, "all") ? -2 : sim_policy_parse(tok);
			if (pol == -1)
				return fail(p, "unknown policy \"%s\"", tok);
			sc->policies |= pol == -2 ? (1u << SIM_POLICY_COUNT) - 1 : 1u << pol;
		}
	} else if (!strcmp(k, "idle_tax")) {
		r = parse_double(&sc->idle_tax, val, &end);
		if (r == 0 && (*end || sc->idle_tax >= 1))
			r = -1;
	} else if (!strcmp(k, "demand_memory")) {
		r = sim_parse_duration(&sc->demand_memory_ns, val);
		sc->has_demand_memory = r == 0;
	} else if (!strcmp(k, "tau_change")) {
		char t[64];
		double tau;
		if (sc->n_tau_change == SIM_TAU_CHANGES)
			return fail(p, "too many tau_change lines");
		if (sscanf(val, "%63s %lf", t, &tau) != 2 || tau < 0 || tau >= 1 ||
		    sim_parse_duration(&sc->tau_change[sc->n_tau_change].t_ns, t) < 0)
			return fail(p, "tau_change: expected \"time tau\"");
		sc->tau_change[sc->n_tau_change++].tau = tau;
	} else if (!strcmp(k, "mom_guaranteed")) {
		if (!strcmp(val, "ovirt")) {
			sc->mom_guaranteed = -1;
	sc->psi_pressure_ns = 10 * 1000 * 1000; /* senpai.py --pressure 10 ms */
	sc->psi_interval_ns = 6 * SIM_NS;       /* senpai.py --interval 6 s */
	sc->psi_fault_ns = 100 * 1000;          /* a 4 KiB swap-in from an SSD */
		} else {
			r = parse_double(&sc->mom_guaranteed, val, &end);
			if (r == 0 && (*end || sc->mom_guaranteed > 1))
				r = -1;
		}
	} else if (!strcmp(k, "squeezed_host")) {
		if (!strcmp(val, "xen"))
			sc->squeezed_host = SIM_HOST_XEN;
		else if (!strcmp(val, "linux"))
			sc->squeezed_host = SIM_HOST_LINUX;
		else
			r = -1;
	} else if (!strcmp(k, "psi_pressure")) {
		r = sim_parse_duration(&sc->psi_pressure_ns, val);
	} else if (!strcmp(k, "psi_interval")) {
		r = sim_parse_duration(&sc->psi_interval_ns, val);
	} else if (!strcmp(k, "psi_fault_cost")) {
		r = sim_parse_duration(&sc->psi_fault_ns, val);
	} else if (!strcmp(k, "squeezed_dyn_min")) {
		r = parse_double(&sc->squeezed_dyn_min, val, &end);
		if (r == 0 && (*end || sc->squeezed_dyn_min > 1))
			r = -1;
	} else
		return fail(p, "unknown [run] key \"%s\"", k);
	if (r < 0)
		return fail(p, "bad value \"%s\" for %s", val, k);
	return 0;
}

static int
host_key(struct parser *p, const char *k, char *val)
{
	struct sim_scenario *sc = p->sc;
	int r;
	char *end;

	if (!strcmp(k, "total"))
		r = sim_parse_bytes(&sc->total, val);
	else if (!strcmp(k, "reserved"))
		r = sim_parse_bytes(&sc->reserved, val);
	else if (!strcmp(k, "swap"))
		r = sim_parse_bytes(&sc->host_swap, val);
	else if (!strcmp(k, "swap_pick")) {
		r = sim_swap_pick_parse(val);
		if (r >= 0)
			sc->swap_pick = r;
	}
	else if (!strcmp(k, "overcommit")) {
		r = parse_double(&sc->overcommit, val, &end);
		if (r == 0 && (*end || sc->overcommit <= 0))
			r = -1;
	} else
		return fail(p, "unknown [host] key \"%s\"", k);
	if (r < 0)
		return fail(p, "bad value \"%s\" for %s", val, k);
	return 0;
}

static int
trace_key(struct parser *p, const char *k, char *val)
{
	if (!strcmp(k, "dir")) {
		int n;
		if (val[0] == '/')
			n = snprintf(p->sc->trace_dir, sizeof(p->sc->trace_dir), "%s", val);
		else
			n = snprintf(p->sc->trace_dir, sizeof(p->sc->trace_dir), "%s/%s",
				     p->sc->dir, val);
		if (n < 0 || (size_t)n >= sizeof(p->sc->trace_dir))
			return fail(p, "trace directory path too long");
		return 0;
	}
	if (!strcmp(k, "vms")) {
		p->trace_all = !strcmp(val, "all");
		p->n_trace_ids = 0;
		if (p->trace_all)
			return 0;
		for (char *tok = strtok(val, " ,"); tok; tok = strtok(NULL, " ,")) {
			char *end;
			if (p->n_trace_ids == SIM_VMS_MAX)
				return fail(p, "too many trace VMs");
			p->trace_ids[p->n_trace_ids++] = strtoull(tok, &end, 10);
			if (*end || tok[0] < '0' || tok[0] > '9')
				return fail(p, "vms: bad id \"%s\"", tok);
		}
		return 0;
	}
	return fail(p, "unknown [trace] key \"%s\"", k);
}

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
section(struct parser *p, char *name)
{
	struct sim_scenario *sc = p->sc;

	p->vm = NULL;
	if (!strcmp(name, "host"))
		p->sec = SEC_HOST;
	else if (!strcmp(name, "run"))
		p->sec = SEC_RUN;
	else if (!strcmp(name, "trace"))
		p->sec = SEC_TRACE;
	else if (!strcmp(name, "defaults"))
		p->sec = SEC_DEFAULTS;
	else if (!strncmp(name, "vm", 2) && (name[2] == ' ' || name[2] == '\t')) {
		char *vname = trim(name + 2);
		if (!*vname)
			return fail(p, "[vm NAME]: missing name");
		if (sc->n_vms == SIM_VMS_MAX)
			return fail(p, "more than %d VMs", SIM_VMS_MAX);
		for (size_t i = 0; i < sc->n_vms; i++)
			if (!strcmp(sc->vms[i].name, vname))
				return fail(p, "duplicate VM \"%s\"", vname);
		p->sec = SEC_VM;
		p->vm = &sc->vms[sc->n_vms++];
		*p->vm = p->tmpl;
		snprintf(p->vm->name, sizeof(p->vm->name), "%s", vname);
		p->vm->id = sc->n_vms;
	} else
		return fail(p, "unknown section [%s]", name);
	return 0;
}

static int
add_trace_vms(struct parser *p)
{
	struct sim_scenario *sc = p->sc;
	struct sim_trace *t = &sc->trace;

	for (size_t c = 0; c < t->n_vms; c++) {
		int want = p->trace_all;
		for (size_t j = 0; j < p->n_trace_ids && !want; j++)
			want = p->trace_ids[j] == t->ids[c];
		if (!want)
			continue;
		if (sc->n_vms == SIM_VMS_MAX)
			return fail(p, "more than %d VMs", SIM_VMS_MAX);
		struct sim_vm_spec *v = &sc->vms[sc->n_vms++];
		*v = p->tmpl;
		snprintf(v->name, sizeof(v->name), "bb%llu", (unsigned long long)t->ids[c]);
		v->id = sc->n_vms;
		v->trace_col = (int)c;
		v->configured = t->max_provisioned[c];
	}
	/* A VM asked for by id must be there: a typo would quietly run
	 * another host. */
	for (size_t j = 0; j < p->n_trace_ids; j++) {
		size_t c = 0;

		while (c < t->n_vms && t->ids[c] != p->trace_ids[j])
			c++;
		if (c == t->n_vms)
			return fail(p, "vms: VM %llu is not in the trace",
				    (unsigned long long)p->trace_ids[j]);
	}
	return 0;
}

static int
parse_scenario(struct sim_scenario *sc, const char *text, const char *base_dir,
	       const char *label, char *err, size_t errlen)
{
	struct parser p;
	char buf[4096];
	const char *s = text;

	memset(sc, 0, sizeof(*sc));
	memset(&p, 0, sizeof(p));
	snprintf(sc->dir, sizeof(sc->dir), "%s", base_dir ? base_dir : ".");
	snprintf(sc->name, sizeof(sc->name), "%s", label);
	sc->duration_ns = 3600 * SIM_NS;
	sc->step_ns = SIM_NS;
	sc->decide_ns = 10 * SIM_NS;
	sc->csv_ns = 10 * SIM_NS;
	sc->touch_ns = 30 * SIM_NS;
	sc->oom_clear_ns = 600 * SIM_NS;
	sc->seed = 1;
	sc->policies = (1u << SIM_POLICY_COUNT) - 1;
	sc->idle_tax = -1;
	sc->squeezed_dyn_min = 0.25;
	sc->squeezed_host = SIM_HOST_XEN;
	sc->mom_guaranteed = -1;
	sc->psi_pressure_ns = 10 * 1000 * 1000; /* senpai.py --pressure 10 ms */
	sc->psi_interval_ns = 6 * SIM_NS;       /* senpai.py --interval 6 s */
	sc->psi_fault_ns = 100 * 1000;          /* a 4 KiB swap-in from an SSD */
	sc->reserved = 0;
	sc->host_swap = SIM_NEVER;
	p.sc = sc;
	p.label = label;
	p.err = err;
	p.errlen = errlen;
	vm_defaults(&p.tmpl);

	while (*s) {
		size_t n = strcspn(s, "\n");
		p.line++;
		if (n >= sizeof(buf))
			return fail(&p, "line too long");
		memcpy(buf, s, n);
		buf[n] = '\0';
		s += n + (s[n] == '\n');
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *line = trim(buf);
		if (!*line)
			continue;
		if (*line == '[') {
			char *close = strchr(line, ']');
			if (!close || close[1])
				return fail(&p, "bad section header");
			*close = '\0';
			if (section(&p, trim(line + 1)) < 0)
				return -1;
			continue;
		}
		char *eq = strchr(line, '=');
		if (!eq)
			return fail(&p, "expected key = value");
		*eq = '\0';
		char *k = trim(line), *v = trim(eq + 1);
		int r;
		switch (p.sec) {
		case SEC_HOST: r = host_key(&p, k, v); break;
		case SEC_RUN: r = run_key(&p, k, v); break;
		case SEC_TRACE: r = trace_key(&p, k, v); break;
		case SEC_DEFAULTS: r = vm_key(&p, &p.tmpl, k, v); break;
		case SEC_VM: r = vm_key(&p, p.vm, k, v); break;
		default: r = fail(&p, "key outside a section");
		}
		if (r < 0)
			return -1;
	}
	p.line = 0;
	if (sc->trace_dir[0]) {
		if (sim_trace_load(&sc->trace, sc->trace_dir, err, errlen) < 0)
			return -1;
		sc->has_trace = 1;
		if (add_trace_vms(&p) < 0)
			return -1;
	}
	for (size_t i = 0; i < sc->n_vms; i++) {
		struct sim_vm_spec *v = &sc->vms[i];
		if (v->configured == 0 || v->configured == RECLAIM_UNLIMITED)
			return fail(&p, "VM %s: configured size missing", v->name);
		v->guest_swap = guest_swap_of(v->configured, v->guest_swap);
		if (v->reservation > v->configured ||
		    (v->limit != RECLAIM_UNLIMITED && v->reservation > v->limit))
			return fail(&p, "VM %s: reservation above configured size or limit",
				    v->name);
		if (v->balloon && v->balloon_rate == 0)
			return fail(&p, "VM %s: balloon_rate must be > 0", v->name);
		if (v->ws_pattern != SIM_WS_SCHEDULE &&
		    (v->ws_high < v->ws_low || v->ws_every_ns == 0 || v->trace_col >= 0))
			return fail(&p, "VM %s: ws_pattern needs ws_high >= ws_low, ws_every > 0 "
				    "and no trace", v->name);
	}
	if (sc->n_vms == 0)
		return fail(&p, "no VMs");
	if (sc->step_ns == 0 || sc->decide_ns == 0 || sc->csv_ns == 0 || sc->touch_ns == 0)
		return fail(&p, "step, decide, csv and touch must be > 0");
	if (sc->psi_pressure_ns == 0 || sc->psi_interval_ns == 0)
		return fail(&p, "psi_pressure and psi_interval must be > 0");
	if (sc->total == 0 && sc->overcommit == 0)
		return fail(&p, "[host] needs total or overcommit");
	sim_scenario_size_host(sc);
	if (sc->reserved >= sc->total)
		return fail(&p, "[host] reserved must be below total");
	return sim_scenario_generate(sc, err, errlen);
}

int
sim_scenario_parse(struct sim_scenario *sc, const char *text, const char *base_dir,
		   const char *label, char *err, size_t errlen)
{
	int r = parse_scenario(sc, text, base_dir, label, err, errlen);

	if (r < 0)
		sim_scenario_free(sc); /* the trace, when a later check failed */
	return r;
}

/* ---- generated working sets ---------------------------------------------- */

/* splitmix64: small, seedable, the same on every platform. */
static uint64_t
gen_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
gen_unit(uint64_t *s)
{
	return (double)(gen_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t
gen_scale(uint64_t ns, double f)
{
	return (uint64_t)((double)ns * f);
}

static int
gen_point(struct sim_vm_spec *v, uint64_t t, uint64_t bytes)
{
	if (v->n_ws == SIM_SCHEDULE_MAX)
		return -1;
	v->ws[v->n_ws++] = (struct sim_point){.t_ns = t, .bytes = bytes};
	return 0;
}

static int
generate_vm(struct sim_vm_spec *v, uint64_t seed, uint64_t duration)
{
	/* The VM's own stream: the scenario seed and its name (FNV-1a). */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *c = v->name; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
	uint64_t s = seed ^ h, t = 0;
	double range = (double)(v->ws_high - v->ws_low);

	v->n_ws = 0;
	v->ws_linear = 1;
	if (gen_point(v, 0, v->ws_low) < 0)
		return -1;
	while (t < duration) {
		double amp = v->ws_amplitude + (1 - v->ws_amplitude) * gen_unit(&s);
		uint64_t top = v->ws_low + (uint64_t)(amp * range), up, hold;
		if (v->ws_pattern == SIM_WS_SPIKES) {
			/* Poisson arrivals, every ws_every on average. */
			t += gen_scale(v->ws_every_ns, -log1p(-gen_unit(&s)));
			up = v->ws_rise_ns;
			hold = gen_scale(v->ws_hold_ns, 0.5 + gen_unit(&s));
		} else {
			t += gen_scale(v->ws_hold_ns, 0.5 + gen_unit(&s));
			up = gen_scale(v->ws_every_ns, 0.5 + gen_unit(&s));
			hold = 0;
		}
		if (t >= duration)
			break;
		if (gen_point(v, t, v->ws_low) < 0 || gen_point(v, t + up, top) < 0 ||
		    gen_point(v, t + up + hold, top) < 0 ||
		    gen_point(v, t + up + hold + v->ws_fall_ns, v->ws_low) < 0)
			return -1;
		t += up + hold + v->ws_fall_ns;
	}
	return 0;
}

int
sim_scenario_generate(struct sim_scenario *sc, char *err, size_t errlen)
{
	for (size_t i = 0; i < sc->n_vms; i++) {
		struct sim_vm_spec *v = &sc->vms[i];
		if (v->ws_pattern == SIM_WS_SCHEDULE)
			continue;
		if (generate_vm(v, sc->seed, sc->duration_ns) < 0) {
			snprintf(err, errlen, "%s: VM %s: ws_pattern needs more than %u points over "
				 "the run", sc->name, v->name, SIM_SCHEDULE_MAX);
			return -1;
		}
	}
	return 0;
}

void
sim_scenario_size_host(struct sim_scenario *sc)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < sc->n_vms; i++)
		sum += sc->vms[i].configured;
	if (sc->overcommit > 0)
		sc->total = (uint64_t)((double)sum / sc->overcommit) + sc->reserved;
	if (sc->host_swap == SIM_NEVER)
		sc->host_swap = sum; /* ESX: a swap file of configured - reservation per VM */
}

void
sim_scenario_set_guest_swap(struct sim_scenario *sc, uint64_t bytes)
{
	for (size_t i = 0; i < sc->n_vms; i++)
		sc->vms[i].guest_swap = guest_swap_of(sc->vms[i].configured, bytes);
}

int
sim_scenario_load(struct sim_scenario *sc, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	size_t got;
	while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (len + 1 == cap) {
			char *bigger = realloc(text, cap * 2);
			if (!bigger) {
				free(text);
				text = NULL;
				break;
			}
			text = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	text[len] = '\0';
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	const char *base = strrchr(path, '/');
	int r = sim_scenario_parse(sc, text, dir, base ? base + 1 : path, err, errlen);
	free(text);
	return r;
}

void
sim_scenario_free(struct sim_scenario *sc)
{
	if (sc->has_trace)
		sim_trace_free(&sc->trace);
	sc->has_trace = 0;
}
