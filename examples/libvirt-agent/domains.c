/* SPDX-License-Identifier: MIT */
/*
 * The libvirt side: one connection, lifecycle and metadata events through
 * libvirt's event loop, a full resync now and then, and reconnection when
 * libvirtd goes away. Domains are followed by UUID; each gets a policy id
 * derived from its UUID, so a domain keeps its id (and its history in the
 * policy) across a missed poll, a libvirtd restart and an agent restart.
 * While libvirtd is away the agent keeps every domain it knew, with the
 * host-side view still fresh and the guest's view going stale.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "lvagent.h"

#define RECONNECT_MS 2000
/* How long a new connection to libvirtd is waited for. */
#define LV_CONNECT_WAIT_MS 10000
#define LV_POLL_MS 100 /* an open under way, looked at from the event loop */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

uint64_t
lv_uuid_id(const char *uuid)
{
	uint64_t id = 0;
	int digits = 0;

	for (const char *p = uuid; *p && digits < 16; p++) {
		int v = hexval((unsigned char)*p);
		if (v < 0)
			continue;
		id = id << 4 | (uint64_t)v;
		digits++;
	}
	return id;
}

/* Reads a whole /proc file (command lines can be long). */
static char *
read_proc(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (n == cap) {
			if (cap >= (1u << 20))
				break;
			char *p = realloc(buf, cap * 2);
			if (p == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

pid_t
lv_find_qemu(const char *uuid)
{
	DIR *dir = opendir("/proc");
	if (dir == NULL)
		return 0;
	char want[64];
	int want_len = snprintf(want, sizeof(want), "-uuid%c%s", '\0', uuid) + 1;
	pid_t found = 0;
	struct dirent *e;
	while (found != -1 && (e = readdir(dir)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		size_t len = 0;
		char *cmd = read_proc(path, &len);
		if (cmd == NULL)
			continue;
		/* "-uuid" and the UUID are two arguments, each NUL-terminated. */
		/* Any local user can start a process with these arguments: a
		 * second one means we cannot tell which is the domain's. */
		if (len >= (size_t)want_len &&
		    memmem(cmd, len, want, (size_t)want_len) != NULL)
			found = found == 0 ? (pid_t)pid : -1;
		free(cmd);
	}
	closedir(dir);
	return found;
}

struct lv_run
lv_run_of(virDomainPtr dom, pid_t pid)
{
	unsigned int id = virDomainGetID(dom);
	struct lv_run run = {id == (unsigned int)-1 ? 0 : id, pid > 0 ? (long)pid : 0};
	return run;
}

int
lv_run_differs(const struct lv_run *was, const struct lv_run *now)
{
	return (was->id != 0 && now->id != 0 && was->id != now->id) ||
	       (was->pid != 0 && now->pid != 0 && was->pid != now->pid);
}

/*
 * Whether the domain behind @p dom runs in another run than the one the
 * agent suspended, as its listing in the state file says: destroyed and
 * started again (paused, by someone else) while no event reached the agent.
 */
static int
suspended_run_gone(const struct lv_agent *a, const char *uuid, virDomainPtr dom)
{
	const struct lv_run *was = blocked_run(&a->blocked, uuid);
	if (was == NULL || (was->id == 0 && was->pid == 0))
		return 0;
	struct lv_run now = lv_run_of(dom, was->pid ? lv_find_qemu(uuid) : 0);
	return lv_run_differs(was, &now);
}

struct lv_domain *
lv_domain_by_id(struct lv_agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->n_doms; i++)
		if (a->doms[i]->id == id && a->doms[i]->managed)
			return a->doms[i];
	return NULL;
}

struct lv_domain *
lv_domain_by_uuid(struct lv_agent *a, const char *uuid)
{
	for (size_t i = 0; i < a->n_doms; i++)
		if (!strcmp(a->doms[i]->uuid, uuid))
			return a->doms[i];
	return NULL;
}

static size_t
managed_count(const struct lv_agent *a)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n_doms; i++)
		n += a->doms[i]->managed;
	return n;
}

/* Host side of a newly managed domain: its QEMU process and guest RAM, the
 * balloon's stats period, active-memory sampling. */
static void
setup_host(struct lv_agent *a, struct lv_domain *d)
{
	char why[200] = "";
	int rc = 0;
	guest_mem_init(&d->mem);
	d->pid = lv_find_qemu(d->uuid);
	if (d->pid == 0) {
		snprintf(why, sizeof(why), "no QEMU process with this UUID on this host");
	} else if (d->pid < 0) {
		d->pid = 0;
		snprintf(why, sizeof(why), "more than one process claims this UUID, and only one "
			 "can be its QEMU");
	} else {
		int err = guest_mem_open_ram(&d->mem, d->pid, d->set.ram, d->set.n_ram, why,
					     sizeof(why));
		if (err && err != -ENOENT)
			snprintf(why, sizeof(why), "QEMU pid %d: %s", (int)d->pid, strerror(-err));
	}
	if (d->mem.n_regions == 0)
		lv_log(LV_WARN, "%s: guest RAM not found (%s): consumed memory is the whole VMM "
		       "process's RSS from libvirt, no random page-out for it", d->name, why);

	if (d->set.has_balloon && d->set.stats_period == 0) {
		if (a->dry_run) {
			lv_log(LV_WARN, "%s: the balloon has no stats period and a dry run does "
			       "not set one: no guest statistics", d->name);
		} else if (d->dom != NULL &&
			   (rc = lv_dom_set_stats_period(&d->call, d->dom,
							 (int)a->stats_interval_s)) == 0) {
			lv_log(LV_INFO, "%s: balloon stats period set to %u s", d->name,
			       a->stats_interval_s);
			d->set.stats_period = a->stats_interval_s;
		} else {
			lv_log(LV_WARN, "%s: cannot set the balloon stats period: %s", d->name,
			       lv_call_err(rc));
		}
	}
	guest_view_init(&d->view, d->set.guest_swap, d->set.deflate_on_oom,
			(double)lv_wall_ns() / 1e9);
	reclaim_rng_seed(&d->rng, a->seed ^ (d->id * 0x9e3779b97f4a7c15ull));
	active_start(a, d);
	lv_swap_setup(a, d);
}

static void
teardown_host(struct lv_domain *d)
{
	active_stop(d);
	guest_mem_close(&d->mem);
	d->pid = 0;
	d->sampled = 0;
	d->have_last = d->have_logged = 0;
}

/* A call of its still running finishes (and frees itself) alone. */
static void
domain_free(struct lv_domain *d)
{
	teardown_host(d);
	lv_call_drop(&d->call);
	if (d->dom != NULL)
		virDomainFree(d->dom);
	free(d->name);
	free(d);
}

static void
log_settings(const struct lv_domain *d, const char *what)
{
	const struct lv_settings *s = &d->set;
	char cfg[32], res[32], lim[32], cap[32], gs[32], ram[48], period[32];
	if (s->stats_period)
		snprintf(period, sizeof(period), "every %u s", s->stats_period);
	else
		snprintf(period, sizeof(period), "none");
	if (d->mem.n_regions > 0)
		snprintf(ram, sizeof(ram), "%zu mapping%s in QEMU pid %d", d->mem.n_regions,
			 d->mem.n_regions == 1 ? "" : "s", (int)d->pid);
	else
		snprintf(ram, sizeof(ram), "not found");
	lv_log(LV_INFO,
	       "%s: %s (uuid %s): type %s, memory %s, guest RAM %s, balloon stats %s; shares "
	       "%" PRIu64 " (%s), reservation %s (%s), limit %s (%s), balloon cap %s (%s), "
	       "guest swap %s (%s); active memory by %s: %s",
	       d->name, what, d->uuid, s->type, format_size(cfg, sizeof(cfg), s->configured), ram,
	       period, s->shares,
	       lv_source_name(s->src_shares), format_size(res, sizeof(res), s->reservation),
	       lv_source_name(s->src_reservation),
	       s->limit == RECLAIM_UNLIMITED ? "none" : format_size(lim, sizeof(lim), s->limit),
	       lv_source_name(s->src_limit),
	       s->balloon_cap == RECLAIM_UNLIMITED ? "none"
						   : format_size(cap, sizeof(cap), s->balloon_cap),
	       lv_source_name(s->src_balloon_cap), format_size(gs, sizeof(gs), s->guest_swap),
	       lv_source_name(s->src_guest_swap), lv_active_name(d->act.method), d->act.why);
}

/* FNV-1a of the live and the inactive XML; never 0. */
static uint64_t
xml_hash(const char *xml, const char *inactive)
{
	/* (between them a byte no XML text has) */
	uint64_t h = fnv1a(fnv1a(fnv1a(FNV1A_BASIS, xml), "\xff"), inactive ? inactive : "");
	return h ? h : 1;
}

void
lv_domain_refresh(struct lv_agent *a, struct lv_domain *d)
{
	if (d->dom == NULL)
		return;
	char *xml = virDomainGetXMLDesc(d->dom, 0);
	char *inactive = d->persistent ? virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE) : NULL;
	struct lv_settings set;
	const char *skip = NULL;
	if (xml == NULL) {
		lv_log(LV_WARN, "%s: cannot read its XML: %s", d->name, lv_virerr());
		free(inactive);
		return; /* keep what we had */
	}
	/* The resync reads every domain's XML again: what a bad value in it
	 * has to say is said once, when the XML is new, not every resync. */
	uint64_t h = xml_hash(xml, inactive);
	lv_log_quiet(h == d->xml_hash);
	int parsed = domxml_parse(&set, d->name, xml, inactive) == 0;
	lv_log_quiet(0);
	d->xml_hash = h;
	if (!parsed)
		skip = "its XML cannot be read";
	free(xml);
	free(inactive);

	if (skip == NULL && !set.has_balloon)
		skip = "no balloon device";
	else if (skip == NULL && !set.manage)
		skip = "metadata says manage='no'";
	else if (skip == NULL && !d->managed && managed_count(a) >= a->max_domains)
		skip = "more domains than --max-domains";

	if (skip != NULL) {
		if (d->managed) {
			if (d->blocked)
				lv_unblock(a, d);
			teardown_host(d);
		}
		if (d->managed || strcmp(d->skip_why, skip) != 0)
			lv_log(LV_INFO, "%s: not managed: %s", d->name, skip);
		d->managed = 0;
		snprintf(d->skip_why, sizeof(d->skip_why), "%s", skip);
		if (parsed)
			d->set = set;
		return;
	}
	if (!d->managed) {
		d->set = set;
		d->managed = 1;
		d->skip_why[0] = '\0';
		setup_host(a, d);
		log_settings(d, "managed");
		return;
	}
	/* Settings the operator may change live (virsh metadata, memtune). */
	int changed = set.shares != d->set.shares || set.reservation != d->set.reservation ||
		      set.limit != d->set.limit || set.balloon_cap != d->set.balloon_cap ||
		      set.guest_swap != d->set.guest_swap;
	unsigned period = d->set.stats_period;
	set.stats_period = set.stats_period ? set.stats_period : period;
	d->set = set;
	d->view.guest_swap = set.guest_swap;
	if (changed)
		log_settings(d, "settings changed");
}

static struct lv_domain *
attach(struct lv_agent *a, virDomainPtr dom)
{
	struct lv_domain *d = calloc(1, sizeof(*d));
	const char *name = virDomainGetName(dom);
	if (d == NULL || name == NULL || (d->name = strdup(name)) == NULL ||
	    virDomainGetUUIDString(dom, d->uuid) != 0) {
		if (d)
			free(d->name);
		free(d);
		virDomainFree(dom);
		lv_log(LV_ERROR, "cannot follow a domain: %s", name ? name : lv_virerr());
		return NULL;
	}
	struct lv_domain **p = realloc(a->doms, (a->n_doms + 1) * sizeof(*p));
	if (p == NULL) {
		free(d->name);
		free(d);
		virDomainFree(dom);
		return NULL;
	}
	a->doms = p;
	a->doms[a->n_doms++] = d;
	d->dom = dom;
	d->persistent = virDomainIsPersistent(dom) == 1;
	guest_mem_init(&d->mem);
	/* Ids must be unique within a decision; UUIDs that agree on their
	 * first 64 bits are as good as never seen, but still work. */
	d->id = lv_uuid_id(d->uuid);
	for (size_t i = 0; i + 1 < a->n_doms; i++) {
		if (a->doms[i]->id == d->id) {
			d->id++;
			i = (size_t)-1;
		}
	}
	lv_domain_refresh(a, d);
	return d;
}

void
lv_domain_drop(struct lv_agent *a, struct lv_domain *d, const char *why, int may_return)
{
	size_t i;
	for (i = 0; i < a->n_doms && a->doms[i] != d; i++)
		;
	if (i == a->n_doms)
		return;
	if (d->managed)
		lv_log(LV_INFO, "%s: dropped (%s)", d->name, why);
	if (d->blocked && !may_return) {
		/* It stopped while suspended: nothing left to resume. */
		blocked_remove(&a->blocked, d->uuid);
		d->blocked = 0;
	}
	/* Saved (or replaced by a snapshot) while suspended, it comes back
	 * suspended, in another run: it stays listed, and is resumed when it
	 * starts again. */
	if (d->blocked)
		blocked_saved(&a->blocked, d->uuid);
	domain_free(d);
	memmove(&a->doms[i], &a->doms[i + 1], (a->n_doms - i - 1) * sizeof(a->doms[0]));
	a->n_doms--;
}

void
lv_domains_free(struct lv_agent *a)
{
	while (a->n_doms > 0) {
		domain_free(a->doms[a->n_doms - 1]);
		a->n_doms--;
	}
	free(a->doms);
	a->doms = NULL;
}

void
lv_resync(struct lv_agent *a)
{
	if (!a->connected)
		return;
	virDomainPtr *list = NULL;
	int n = virConnectListAllDomains(a->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		lv_log(LV_WARN, "cannot list domains: %s", lv_virerr());
		return;
	}
	a->last_resync_ns = lv_now_ns();
	uint8_t *seen = calloc(a->n_doms + 1, 1);
	size_t known = a->n_doms;
	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		if (virDomainGetUUIDString(list[i], uuid) != 0) {
			virDomainFree(list[i]);
			continue;
		}
		struct lv_domain *d = lv_domain_by_uuid(a, uuid);
		if (d == NULL) {
			attach(a, list[i]);
			continue;
		}
		for (size_t j = 0; j < known && seen; j++)
			if (a->doms[j] == d)
				seen[j] = 1;
		if (d->dom == NULL) {
			d->dom = list[i]; /* back after a reconnect */
			/* The events of what we did before it are lost. */
			d->own_suspends = d->own_resumes = 0;
			if (d->blocked && suspended_run_gone(a, d->uuid, d->dom)) {
				lv_log(LV_INFO, "%s: started again while the agent was away from "
				       "libvirt; not the run it suspended, so not its to resume",
				       d->name);
				d->blocked = 0;
				blocked_remove(&a->blocked, d->uuid);
			}
		} else {
			virDomainFree(list[i]);
		}
		lv_domain_refresh(a, d);
	}
	free(list);
	/* Known before and not listed now: gone while we were not looking
	 * (saved, it comes back as we left it: kept listed if suspended). */
	for (size_t j = known; seen && j-- > 0;) {
		int state = 0, reason = 0;
		struct lv_domain *d = a->doms[j];
		if (seen[j])
			continue;
		/* After a reconnect it has no handle: looked up again, so that
		 * one saved while we were away is still known as saved. */
		virDomainPtr dom = d->dom ? d->dom : virDomainLookupByUUIDString(a->conn, d->uuid);
		int saved = dom != NULL && virDomainGetState(dom, &state, &reason, 0) == 0 &&
			    state == VIR_DOMAIN_SHUTOFF &&
			    (reason == VIR_DOMAIN_SHUTOFF_SAVED ||
			     reason == VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT);
		if (dom != NULL && dom != d->dom)
			virDomainFree(dom);
		lv_domain_drop(a, d, saved ? "saved" : "no longer running", saved);
	}
	free(seen);
}

/*
 * A listed domain that starts: restored from the image saved (or the
 * snapshot taken) while we held it suspended, it comes back suspended, and
 * is resumed; started any other way (booted afresh, migrated in) it is not
 * the domain we suspended, and is forgotten.
 */
static void
resume_restored(struct lv_agent *a, virDomainPtr dom, const char *uuid, int detail)
{
	int state = 0, reason = 0;
	const char *name = virDomainGetName(dom);

	if (detail != VIR_DOMAIN_EVENT_STARTED_RESTORED &&
	    detail != VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT) {
		lv_log(LV_INFO, "%s: started afresh; not the domain the agent suspended, so not "
		       "its to resume", name);
	} else if (a->dry_run) {
		return;
	} else if (virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED) {
		int rc = lv_dom_resume(NULL, dom);
		if (rc != 0) {
			lv_log(LV_ERROR, "%s: cannot resume it: %s", name, lv_call_err(rc));
			return; /* still listed: tried again by lv_resume_leftovers() */
		}
		lv_log(LV_INFO, "%s: restored suspended, and resumed", name);
	}
	blocked_remove(&a->blocked, uuid);
}

void
lv_resume_leftovers(struct lv_agent *a)
{
	int dropped = 0;
	if (!a->connected)
		return;
	for (size_t i = 0; i < a->blocked.n;) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		snprintf(uuid, sizeof(uuid), "%s", a->blocked.entries[i].uuid);
		struct lv_domain *d = lv_domain_by_uuid(a, uuid);
		if (d != NULL && d->blocked) {
			i++; /* ours, from this run */
			continue;
		}
		virDomainPtr dom = virDomainLookupByUUIDString(a->conn, uuid);
		int state = VIR_DOMAIN_NOSTATE, reason = 0, rc = 0;
		/* Forgotten only when libvirt says it has no such domain: a
		 * lookup that failed for another reason (the daemon went away
		 * meanwhile) keeps the entry for the next try. */
		int unknown = dom == NULL ? virGetLastErrorCode() != VIR_ERR_NO_DOMAIN
					  : virDomainGetState(dom, &state, &reason, 0) != 0;
		const char *name = dom ? virDomainGetName(dom) : uuid;
		int done = !unknown;
		if (state == VIR_DOMAIN_SHUTOFF && (reason == VIR_DOMAIN_SHUTOFF_SAVED ||
						   reason == VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT)) {
			done = 0; /* back suspended when it starts, in another run */
			if (!a->dry_run)
				blocked_saved(&a->blocked, uuid);
		}
		/* Ours is paused by the user (virDomainSuspend). Paused for a
		 * migration, it may be one being restored: the start event
		 * decides. Paused for any other reason (an I/O error, QEMU
		 * stopped under libvirt), it is not ours to resume. */
		int paused = state == VIR_DOMAIN_PAUSED;
		if (paused && reason == VIR_DOMAIN_PAUSED_MIGRATION) {
			done = 0;
		} else if (paused && reason != VIR_DOMAIN_PAUSED_USER) {
			lv_log(LV_INFO, "%s: paused for another reason (%d) than the agent's; not its "
			       "to resume", name, reason);
		} else if (paused && suspended_run_gone(a, uuid, dom)) {
			lv_log(LV_INFO, "%s: started again since an earlier run of the agent "
			       "suspended it, and paused by someone else; not its to resume", name);
		} else if (paused && a->dry_run) {
			lv_log(LV_INFO, "dry-run: %s was suspended by an earlier run; a real run "
			       "would resume it", name);
			done = 0;
		} else if (paused && (rc = lv_dom_resume(d ? &d->call : NULL, dom)) == 0) {
			if (d != NULL)
				d->own_resumes++;
			lv_log(LV_INFO, "%s: resumed (suspended by an earlier run of the agent)",
			       name);
		} else if (paused) {
			lv_log(LV_ERROR, "%s: cannot resume it: %s", name, lv_call_err(rc));
			done = 0;
		}
		if (dom != NULL)
			virDomainFree(dom);
		if (done && !a->dry_run)
			dropped |= blocked_drop(&a->blocked, uuid);
		else
			i++;
	}
	/* Written once: a list of thousands cost a write and fsync each. */
	if (dropped)
		blocked_sync(&a->blocked);
}

void
lv_resume_all(struct lv_agent *a)
{
	for (size_t i = 0; i < a->n_doms; i++) {
		struct lv_domain *d = a->doms[i];
		if (d->blocked && lv_unblock(a, d) != 0)
			lv_log(LV_ERROR, "%s: left suspended; the next run of the agent resumes it "
			       "(listed in %s)", d->name, a->blocked.path);
	}
}

/* ---- events ---- */

static void
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct lv_agent *a = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];
	(void)conn;
	if (virDomainGetUUIDString(dom, uuid) != 0)
		return;
	struct lv_domain *d = lv_domain_by_uuid(a, uuid);
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
	case VIR_DOMAIN_EVENT_RESUMED:
		if (d == NULL && virDomainRef(dom) == 0) {
			lv_log(LV_DEBUG, "%s: started", virDomainGetName(dom));
			if (event == VIR_DOMAIN_EVENT_STARTED && blocked_has(&a->blocked, uuid))
				resume_restored(a, dom, uuid, detail);
			attach(a, dom);
		} else if (d != NULL && event == VIR_DOMAIN_EVENT_RESUMED && d->own_resumes > 0) {
			d->own_resumes--; /* one of ours */
		} else if (d != NULL && event == VIR_DOMAIN_EVENT_RESUMED && d->blocked &&
			   d->own_suspends == 0) {
			/* Resumed by someone else while we hold it suspended. No
			 * longer ours to resume, so that a pause of theirs later
			 * is never undone by us, even one made before this event
			 * is read: the state now says nothing about who paused
			 * it. */
			d->blocked = 0;
			blocked_remove(&a->blocked, d->uuid);
			lv_log(LV_INFO, "%s: resumed by someone else; not ours to resume any more",
			       d->name);
		}
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (d != NULL) {
			static const char *const why[] = {"shut down", "destroyed", "crashed",
							  "migrated away", "saved", "failed",
							  "snapshot loaded"};
			lv_domain_drop(a, d, detail >= 0 && detail < 7 ? why[detail] : "stopped",
				       detail == VIR_DOMAIN_EVENT_STOPPED_SAVED ||
					       detail == VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT);
		}
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		if (d != NULL && d->own_suspends > 0)
			d->own_suspends--; /* ours: a RESUMED after it is not */
		else if (d != NULL && d->managed && !d->blocked)
			lv_log(LV_INFO, "%s: paused by someone else", d->name);
		break;
	default:
		break;
	}
}

static void
on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque)
{
	struct lv_agent *a = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];
	(void)conn;
	if (type == VIR_DOMAIN_METADATA_ELEMENT && (nsuri == NULL || strcmp(nsuri, LV_METADATA_URI)))
		return;
	if (virDomainGetUUIDString(dom, uuid) != 0)
		return;
	struct lv_domain *d = lv_domain_by_uuid(a, uuid);
	if (d != NULL) {
		lv_log(LV_DEBUG, "%s: metadata changed", d->name);
		lv_domain_refresh(a, d);
	}
}

static void
on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct lv_agent *a = opaque;
	static const char *const why[] = {"error", "end of file", "keepalive timeout",
					  "client closed"};
	(void)conn;
	if (!a->connected)
		return;
	a->connected = 0;
	lv_log(LV_WARN, "lost the connection to libvirt (%s); reconnecting every %d s",
	       reason >= 0 && reason < 4 ? why[reason] : "?", RECONNECT_MS / 1000);
	/* The connection is closed outside this callback. */
	virEventUpdateTimeout(a->reconnect_timer, 0);
}

static void reconnect_timer(int timer, void *opaque);

/* virConnectOpen() in a thread of its own. */
struct lv_opener {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;          /* the open returned */
	int abandoned;     /* the agent no longer waits: the thread cleans up */
	int readonly;
	char *uri;
	virConnectPtr conn;
	char error[256];
	uint64_t started_ns;
	int warned;        /* "accepts but does not answer" was logged */
};

static void
opener_free(struct lv_opener *o)
{
	if (o->conn != NULL)
		virConnectClose(o->conn);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o->uri);
	free(o);
}

static void *
opener_run(void *arg)
{
	struct lv_opener *o = arg;
	/* A dry run cannot change anything: libvirtd itself refuses. */
	virConnectPtr c = o->readonly ? virConnectOpenReadOnly(o->uri) : virConnectOpen(o->uri);
	pthread_mutex_lock(&o->lock);
	o->conn = c;
	if (c == NULL) /* (libvirt's last error is this thread's) */
		snprintf(o->error, sizeof(o->error), "%s", lv_virerr());
	o->done = 1;
	int abandoned = o->abandoned;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	if (abandoned)
		opener_free(o);
	return NULL;
}

static struct lv_opener *
opener_start(const struct lv_agent *a)
{
	struct lv_opener *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;
	pthread_t t;
	pthread_attr_t ta;
	if (o == NULL || (o->uri = strdup(a->uri)) == NULL) {
		free(o);
		return NULL;
	}
	o->readonly = a->dry_run;
	o->started_ns = lv_now_ns();
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	int err = pthread_create(&t, &ta, opener_run, o);
	pthread_attr_destroy(&ta);
	if (err) {
		opener_free(o);
		return NULL;
	}
	return o;
}

/* Waits up to @p wait_ms for the open: 1 when it returned (its connection,
 * or NULL and why, taken), 0 while it is still under way. */
static int
opener_wait(struct lv_opener *o, int wait_ms, virConnectPtr *conn, char *error, size_t len)
{
	struct timespec until = lv_deadline(wait_ms);
	pthread_mutex_lock(&o->lock);
	while (!o->done && pthread_cond_timedwait(&o->cond, &o->lock, &until) == 0)
		;
	int done = o->done;
	if (done) {
		*conn = o->conn;
		o->conn = NULL;
		snprintf(error, len, "%s", o->error);
	}
	pthread_mutex_unlock(&o->lock);
	return done;
}

/* The agent stops waiting for an open under way: its thread cleans up
 * when (if ever) libvirtd answers. */
static void
opener_abandon(struct lv_opener *o)
{
	pthread_mutex_lock(&o->lock);
	int done = o->done;
	o->abandoned = 1;
	pthread_mutex_unlock(&o->lock);
	if (done)
		opener_free(o);
}

void
lv_disconnect(struct lv_agent *a)
{
	if (a->opener != NULL) {
		opener_abandon(a->opener);
		a->opener = NULL;
	}
	for (size_t i = 0; i < a->n_doms; i++) {
		if (a->doms[i]->dom != NULL)
			virDomainFree(a->doms[i]->dom);
		a->doms[i]->dom = NULL;
	}
	if (a->conn == NULL)
		return;
	virResetLastError();
	if (a->lifecycle_cb >= 0)
		virConnectDomainEventDeregisterAny(a->conn, a->lifecycle_cb);
	if (a->metadata_cb >= 0)
		virConnectDomainEventDeregisterAny(a->conn, a->metadata_cb);
	virConnectUnregisterCloseCallback(a->conn, on_close);
	a->lifecycle_cb = a->metadata_cb = -1;
	virConnectClose(a->conn);
	a->conn = NULL;
	a->connected = 0;
}

static int
connect_wait_ms(const struct lv_agent *a)
{
	return a->connect_wait_ms > 0 ? a->connect_wait_ms : LV_CONNECT_WAIT_MS;
}

/* Starts an open, or looks at the one under way, waiting up to @p wait_ms
 * for a new one. */
static int
connect_within(struct lv_agent *a, int wait_ms, int retry)
{
	if (a->reconnect_timer <= 0)
		a->reconnect_timer = virEventAddTimeout(-1, reconnect_timer, a, NULL);
	if (a->opener == NULL) {
		a->opener = opener_start(a);
		if (a->opener == NULL) {
			lv_log(LV_ERROR, "cannot start connecting to %s: out of resources", a->uri);
			if (retry)
				virEventUpdateTimeout(a->reconnect_timer, RECONNECT_MS);
			return -1;
		}
	} else {
		wait_ms = 0;
	}
	virConnectPtr c = NULL;
	char error[256];
	if (!opener_wait(a->opener, wait_ms, &c, error, sizeof(error))) {
		uint64_t waited = lv_now_ns() - a->opener->started_ns;
		if (!a->opener->warned && waited >= (uint64_t)connect_wait_ms(a) * 1000000u) {
			lv_log(LV_WARN, "%s: libvirtd accepts but does not answer (waited %llu s); "
			       "still waiting, and looking again every %d s", a->uri,
			       (unsigned long long)(waited / NS_PER_S), RECONNECT_MS / 1000);
			a->opener->warned = 1;
		}
		if (retry)
			virEventUpdateTimeout(a->reconnect_timer, RECONNECT_MS);
		return -1;
	}
	opener_free(a->opener);
	a->opener = NULL;
	if (c == NULL) {
		if (retry) {
			lv_log(LV_WARN, "cannot connect to %s: %s; retrying every %d s", a->uri,
			       error, RECONNECT_MS / 1000);
			virEventUpdateTimeout(a->reconnect_timer, RECONNECT_MS);
		}
		return -1;
	}
	a->conn = c;
	a->connected = 1;
	a->lifecycle_cb = virConnectDomainEventRegisterAny(
		c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), a,
		NULL);
	a->metadata_cb = virConnectDomainEventRegisterAny(
		c, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_metadata),
		a, NULL);
	if (a->lifecycle_cb < 0)
		lv_log(LV_WARN, "no lifecycle events from %s (%s): domains are found by polling "
		       "only", a->uri, lv_virerr());
	if (virConnectRegisterCloseCallback(c, on_close, a, NULL) != 0)
		lv_log(LV_WARN, "no close notification from %s: %s", a->uri, lv_virerr());
	/* Notice a hung libvirtd too, not only one that closed the socket. */
	virResetLastError();
	if (virConnectSetKeepAlive(c, 5, 3) < 0)
		virResetLastError();
	lv_log(LV_INFO, "connected to %s%s", a->uri, a->dry_run ? " (read-only: dry run)" : "");
	lv_resync(a);
	lv_resume_leftovers(a);
	return 0;
}

/* Never waits: the event loop that runs this also runs the ticks, the
 * signals and the metrics endpoint, and a libvirtd that came back hung
 * must hold none of them. An open under way is looked at every
 * LV_POLL_MS until it has had the connect wait, then every RECONNECT_MS. */
static void
reconnect_timer(int timer, void *opaque)
{
	struct lv_agent *a = opaque;
	(void)timer;
	if (a->conn != NULL && !a->connected)
		lv_disconnect(a);
	if (a->conn == NULL && connect_within(a, 0, 0) == 0) {
		a->reconnects++;
		virEventUpdateTimeout(a->reconnect_timer, -1);
		return;
	}
	virEventUpdateTimeout(a->reconnect_timer,
			      a->opener != NULL && !a->opener->warned ? LV_POLL_MS : RECONNECT_MS);
}

int
lv_connect(struct lv_agent *a, int retry)
{
	/* A new attempt is waited for; one still under way is looked at. */
	return connect_within(a, connect_wait_ms(a), retry);
}
