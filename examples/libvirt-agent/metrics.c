/* SPDX-License-Identifier: MIT */
/*
 * Metrics in the Prometheus text format (version 0.0.4): rendered once per
 * tick, served over HTTP from libvirt's event loop (localhost by default) and
 * written to a textfile for node_exporter's textfile collector (replaced
 * atomically, mode 0644). The HTTP side is deliberately small: GET only,
 * one request per connection, a few connections at a time, each given five
 * seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvagent.h"

#ifndef RECLAIM_AGENT_VERSION
#define RECLAIM_AGENT_VERSION "0"
#endif

#define HTTP_MAX_CLIENTS 8
/* A label value's room: every metric cuts a domain's name at the same place. */
#define LABEL_MAX 512
#define HTTP_TIMEOUT_MS 5000

/* ---- rendering ---- */

struct out {
	char *buf;
	size_t len;
	size_t cap;
	int failed;
};

__attribute__((format(printf, 2, 3))) static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = o->cap - o->len;
		va_start(ap, fmt);
		int n = o->buf ? vsnprintf(o->buf + o->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 8192;
		if (n >= 0 && cap < o->len + (size_t)n + 1)
			cap = o->len + (size_t)n + 1;
		char *p = realloc(o->buf, cap);
		if (p == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = p;
		o->cap = cap;
	}
}

/* The length of the valid UTF-8 character at @p s (1 to 4), or 0. */
static size_t
utf8_length(const unsigned char *s)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0; /* no overlong forms */
	else if (s[0] == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

const char *
metrics_label(char *buf, size_t len, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t j = 0;

	while (*s) {
		/* One character at a time: escaped, copied whole if it is
		 * valid UTF-8, else U+FFFD; cut only between characters. */
		char one[4];
		size_t n = utf8_length(s), take = n ? n : 1;
		if (*s == '\\' || *s == '"' || *s == '\n') {
			one[0] = '\\';
			one[1] = *s == '\n' ? 'n' : (char)*s;
			n = 2;
		} else if (n) {
			memcpy(one, s, n);
		} else {
			memcpy(one, "\xef\xbf\xbd", 3);
			n = 3;
		}
		if (j + n + 1 > len)
			break;
		memcpy(buf + j, one, n);
		j += n;
		s += take;
	}
	if (len)
		buf[j] = '\0';
	return buf;
}

static void
help(struct out *o, const char *name, const char *type, const char *text)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* One gauge or counter per managed domain. */
static void
per_vm(struct out *o, const struct lv_agent *a, const char *name, const char *type,
       const char *text, uint64_t (*get)(const struct lv_domain *))
{
	help(o, name, type, text);
	for (size_t i = 0; i < a->n_doms; i++) {
		const struct lv_domain *d = a->doms[i];
		char lbl[LABEL_MAX];
		if (!d->managed)
			continue;
		put(o, "%s{domain=\"%s\",uuid=\"%s\"} %" PRIu64 "\n", name,
		    metrics_label(lbl, sizeof(lbl), d->name), d->uuid, get(d));
	}
}

#define GETTER(fn, expr)                                                                   \
	static uint64_t fn(const struct lv_domain *d)                                      \
	{                                                                                  \
		return (expr);                                                             \
	}
GETTER(g_configured, d->set.configured)
GETTER(g_consumed, d->consumed)
GETTER(g_active, d->active)
GETTER(g_target, d->have_last ? d->last.target_bytes : d->set.configured)
GETTER(g_balloon, d->balloon)
GETTER(g_balloon_target, d->have_last ? d->last.balloon_target_bytes : d->balloon)
GETTER(g_balloon_cap, d->have_last ? d->last.balloon_cap_bytes : 0)
GETTER(g_swapped, d->usage.swap_bytes)
GETTER(g_swap_decided, d->swap_decided_total)
GETTER(g_paged_out, d->paged_out_total)
GETTER(g_blocked, (uint64_t)d->blocked)
GETTER(g_hung, (uint64_t)(d->call != NULL))
GETTER(g_stats, (uint64_t)d->has_stats)
GETTER(g_guest_free, d->has_stats ? d->gstats.free_bytes : 0)
GETTER(g_errors, d->op_errors_total)
GETTER(g_guest_ram, (uint64_t)(d->mem.n_regions > 0))
#undef GETTER

void
metrics_render(struct lv_agent *a)
{
	struct out o = {0};
	char lbl[LABEL_MAX];
	static const char *const states[] = {"high", "soft", "hard", "low"};

	help(&o, "reclaim_agent_info", "gauge", "The agent and how it runs.");
	put(&o, "reclaim_agent_info{version=\"%s\",uri=\"%s\",dry_run=\"%d\",swap_method=\"%s\","
	    "free=\"%s\"} 1\n", RECLAIM_AGENT_VERSION, metrics_label(lbl, sizeof(lbl), a->uri),
	    a->dry_run, host_swap_method_name(a->swap_method), a->free_source ? a->free_source : "");
	help(&o, "reclaim_agent_connected", "gauge", "1 while connected to libvirt.");
	put(&o, "reclaim_agent_connected %d\n", a->connected);
	help(&o, "reclaim_agent_reconnects_total", "counter", "Reconnections to libvirt.");
	put(&o, "reclaim_agent_reconnects_total %" PRIu64 "\n", a->reconnects);
	help(&o, "reclaim_agent_ticks_total", "counter", "Ticks run.");
	put(&o, "reclaim_agent_ticks_total %" PRIu64 "\n", a->ticks);
	size_t managed = 0;
	for (size_t i = 0; i < a->n_doms; i++)
		managed += a->doms[i]->managed;
	help(&o, "reclaim_agent_domains", "gauge", "Running domains, managed or left alone.");
	put(&o, "reclaim_agent_domains{managed=\"yes\"} %zu\n", managed);
	put(&o, "reclaim_agent_domains{managed=\"no\"} %zu\n", a->n_doms - managed);
	help(&o, "reclaim_agent_page_idle", "gauge",
	     "1 when idle page tracking (sees KVM guests' accesses) is usable here.");
	put(&o, "reclaim_agent_page_idle %d\n", a->page_idle_fd >= 0);

	if (a->have_sum) {
		const struct reclaim_summary *s = &a->sum;
		help(&o, "reclaim_host_state", "gauge", "The host's free-memory state (1 for the current one).");
		for (int i = 0; i < 4; i++)
			put(&o, "reclaim_host_state{state=\"%s\"} %d\n", states[i], (int)s->state == i);
		help(&o, "reclaim_host_total_bytes", "gauge", "Host memory (or --budget).");
		put(&o, "reclaim_host_total_bytes %" PRIu64 "\n", a->host.total_bytes);
		help(&o, "reclaim_host_usable_bytes", "gauge", "Host memory less --reserved.");
		put(&o, "reclaim_host_usable_bytes %" PRIu64 "\n", s->usable_bytes);
		help(&o, "reclaim_host_free_bytes", "gauge",
		     "Free host memory the policy used (MemAvailable, or the budget's).");
		put(&o, "reclaim_host_free_bytes %" PRIu64 "\n", s->free_bytes);
		help(&o, "reclaim_host_swap_free_bytes", "gauge", "Free host swap (SwapFree).");
		put(&o, "reclaim_host_swap_free_bytes %" PRIu64 "\n", a->host.swap_free_bytes);
		help(&o, "reclaim_host_threshold_bytes", "gauge", "Free-memory thresholds.");
		for (int i = 0; i < 4; i++)
			put(&o, "reclaim_host_threshold_bytes{threshold=\"%s\"} %" PRIu64 "\n",
			    states[i], s->threshold_bytes[i]);
		help(&o, "reclaim_host_need_bytes", "gauge",
		     "Memory to reclaim to get back to the high threshold.");
		put(&o, "reclaim_host_need_bytes %" PRIu64 "\n", s->need_bytes);
	}

	per_vm(&o, a, "reclaim_vm_configured_bytes", "gauge", "Guest memory size (<memory>).",
	       g_configured);
	per_vm(&o, a, "reclaim_vm_consumed_bytes", "gauge", "Guest RAM resident on the host.",
	       g_consumed);
	per_vm(&o, a, "reclaim_vm_guest_ram_found", "gauge",
	       "1 when the guest RAM mappings were found (else consumed is QEMU's RSS).",
	       g_guest_ram);
	per_vm(&o, a, "reclaim_vm_active_bytes", "gauge", "Estimated active memory.", g_active);
	help(&o, "reclaim_vm_active_method", "gauge", "How active memory is measured, and why.");
	for (size_t i = 0; i < a->n_doms; i++) {
		const struct lv_domain *d = a->doms[i];
		char why[256];
		if (!d->managed)
			continue;
		put(&o, "reclaim_vm_active_method{domain=\"%s\",uuid=\"%s\",method=\"%s\",why=\"%s\"} 1\n",
		    metrics_label(lbl, sizeof(lbl), d->name), d->uuid, lv_active_name(d->act.method),
		    metrics_label(why, sizeof(why), d->act.why));
	}
	per_vm(&o, a, "reclaim_vm_target_bytes", "gauge", "Target allocation the policy decided.",
	       g_target);
	per_vm(&o, a, "reclaim_vm_balloon_bytes", "gauge", "Balloon size now.", g_balloon);
	per_vm(&o, a, "reclaim_vm_balloon_target_bytes", "gauge", "Balloon size decided.",
	       g_balloon_target);
	per_vm(&o, a, "reclaim_vm_balloon_cap_bytes", "gauge", "The balloon cap that applied.",
	       g_balloon_cap);
	help(&o, "reclaim_vm_balloon_cap_by", "gauge", "Which bound set the balloon cap.");
	for (size_t i = 0; i < a->n_doms; i++) {
		const struct lv_domain *d = a->doms[i];
		const char *by = d->have_last ? reclaim_balloon_limit_name(d->last.balloon_limit) : NULL;
		if (!d->managed || by == NULL)
			continue;
		put(&o, "reclaim_vm_balloon_cap_by{domain=\"%s\",uuid=\"%s\",by=\"%s\"} 1\n",
		    metrics_label(lbl, sizeof(lbl), d->name), d->uuid, by);
	}
	per_vm(&o, a, "reclaim_vm_swapped_bytes", "gauge", "Guest RAM in host swap now.", g_swapped);
	help(&o, "reclaim_vm_swap_method", "gauge",
	     "How host swap takes this domain's RAM (lru: the kernel's LRU through its memory "
	     "cgroup; random: random page-out), and why.");
	for (size_t i = 0; i < a->n_doms; i++) {
		const struct lv_domain *d = a->doms[i];
		char why[600];
		if (!d->managed)
			continue;
		put(&o, "reclaim_vm_swap_method{domain=\"%s\",uuid=\"%s\",method=\"%s\",why=\"%s\"} 1\n",
		    metrics_label(lbl, sizeof(lbl), d->name), d->uuid,
		    host_swap_method_name(d->swap.method), metrics_label(why, sizeof(why), d->swap.why));
	}
	help(&o, "reclaim_vm_swapped_by_bytes_total", "counter",
	     "Guest RAM each host swap method took out of RAM.");
	for (size_t i = 0; i < a->n_doms; i++) {
		const struct lv_domain *d = a->doms[i];
		if (!d->managed)
			continue;
		metrics_label(lbl, sizeof(lbl), d->name);
		put(&o, "reclaim_vm_swapped_by_bytes_total{domain=\"%s\",uuid=\"%s\",method=\"lru\"} %"
		    PRIu64 "\n", lbl, d->uuid, d->swap.lru_bytes);
		put(&o, "reclaim_vm_swapped_by_bytes_total{domain=\"%s\",uuid=\"%s\",method=\"random\"} %"
		    PRIu64 "\n", lbl, d->uuid, d->swap.random_bytes);
	}
	per_vm(&o, a, "reclaim_vm_swap_decided_bytes_total", "counter",
	       "Host swap the policy decided.", g_swap_decided);
	per_vm(&o, a, "reclaim_vm_paged_out_bytes_total", "counter",
	       "Guest RAM the kernel accepted to page out.", g_paged_out);
	per_vm(&o, a, "reclaim_vm_blocked", "gauge", "1 while suspended by the agent.", g_blocked);
	per_vm(&o, a, "reclaim_vm_libvirt_call_hung", "gauge",
	       "1 while a libvirt call for the domain that outlasted its wait has not returned "
	       "(its QEMU's monitor may hang): its calls wait until it does.",
	       g_hung);
	per_vm(&o, a, "reclaim_vm_guest_stats", "gauge", "1 when the guest's statistics are used.",
	       g_stats);
	per_vm(&o, a, "reclaim_vm_guest_free_bytes", "gauge",
	       "Guest free memory, as the guest reports it.", g_guest_free);
	per_vm(&o, a, "reclaim_vm_action_errors_total", "counter", "Actions that failed.",
	       g_errors);
	help(&o, "reclaim_vm_reason", "gauge", "Why the last decision is what it is.");
	for (size_t i = 0; i < a->n_doms; i++) {
		const struct lv_domain *d = a->doms[i];
		if (!d->managed || !d->have_last)
			continue;
		metrics_label(lbl, sizeof(lbl), d->name);
		for (uint32_t bit = 1; bit != 0; bit <<= 1) {
			const char *r = reclaim_reason_name(bit);
			if (r == NULL)
				break;
			put(&o, "reclaim_vm_reason{domain=\"%s\",uuid=\"%s\",reason=\"%s\"} %d\n", lbl,
			    d->uuid, r, (d->last.reasons & bit) != 0);
		}
	}
	if (o.failed) {
		free(o.buf);
		return; /* keep the last rendering */
	}
	free(a->metrics);
	a->metrics = o.buf;
	a->metrics_len = o.len;
}

int
metrics_write_file(const struct lv_agent *a, const char *path)
{
	char tmp[4200];
	int w = snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if (w < 0 || (size_t)w >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int err = 0;
	/* Readable by node_exporter, writable by us only, whatever the umask. */
	if (fchmod(fd, 0644) != 0)
		err = -errno;
	size_t off = 0;
	while (!err && off < a->metrics_len) {
		ssize_t n = write(fd, a->metrics + off, a->metrics_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* ---- HTTP ---- */

struct lv_http {
	int fd;
	int watch;
	int clients;         /* allocated, closing ones included */
	/* The clients not closing, oldest first: when they fill it, a new
	 * one takes the place of the oldest, so that clients that connect
	 * and wait keep nobody out for longer than it takes to connect. */
	struct client *open[HTTP_MAX_CLIENTS];
	int n_open;
};

struct client {
	struct lv_agent *a;
	int fd;
	int watch;
	int timer;
	size_t len;
	char buf[2048];
	/* The reply, once the request is read: a copy of its own (the next
	 * tick replaces the metrics), sent as the socket takes it, so that a
	 * client that reads slowly, or not at all, holds up nobody; the
	 * client's deadline ends it. */
	char *out;
	size_t out_len, out_off;
};

/* Takes @p c off the open list, if it is on it. */
static void
client_unlist(struct client *c)
{
	struct lv_http *h = c->a->http;

	for (int i = 0; i < h->n_open; i++) {
		if (h->open[i] != c)
			continue;
		memmove(&h->open[i], &h->open[i + 1], (size_t)(h->n_open - i - 1) * sizeof(h->open[0]));
		h->n_open--;
		return;
	}
}

static void
client_free(void *opaque)
{
	struct client *c = opaque;
	client_unlist(c);
	close(c->fd);
	c->a->http->clients--;
	free(c->out);
	free(c);
}

static void
client_close(struct client *c)
{
	client_unlist(c);
	if (c->timer >= 0)
		virEventRemoveTimeout(c->timer);
	c->timer = -1;
	if (c->watch >= 0)
		virEventRemoveHandle(c->watch); /* client_free runs after */
	c->watch = -1;
}

/* The client a new one replaces when all places are taken: the oldest of
 * those that have not finished asking, or else the oldest. */
static struct client *
client_to_drop(const struct lv_http *h)
{
	for (int i = 0; i < h->n_open; i++)
		if (h->open[i]->out == NULL)
			return h->open[i];
	return h->open[0];
}

/* Sends what the socket takes now; closes the client when all is sent or
 * the peer is gone. */
static void
client_send(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the rest when it is writable again */
		if (w <= 0)
			break;
		c->out_off += (size_t)w;
	}
	client_close(c);
}

static void
respond(struct client *c, const char *status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, len);
	c->out = n > 0 ? malloc((size_t)n + len) : NULL;
	if (c->out == NULL) {
		client_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)n);
	memcpy(c->out + n, body, len);
	c->out_len = (size_t)n + len;
	c->out_off = 0;
	virEventUpdateHandle(c->watch, VIR_EVENT_HANDLE_WRITABLE);
	client_send(c);
}

static void
client_event(int watch, int fd, int events, void *opaque)
{
	struct client *c = opaque;
	(void)watch;
	if (c->out != NULL) {
		if (events & (VIR_EVENT_HANDLE_WRITABLE | VIR_EVENT_HANDLE_ERROR |
			      VIR_EVENT_HANDLE_HANGUP))
			client_send(c);
		return;
	}
	ssize_t n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") == NULL && strstr(c->buf, "\n\n") == NULL) {
		if (c->len == sizeof(c->buf) - 1) {
			static const char msg[] = "request too large\n";
			respond(c, "431 Request Header Fields Too Large", msg, sizeof(msg) - 1);
		}
		return;
	}
	if (!strncmp(c->buf, "GET /metrics ", 13) || !strncmp(c->buf, "GET / ", 6)) {
		const char *body = c->a->metrics ? c->a->metrics : "";
		respond(c, "200 OK", body, c->a->metrics ? c->a->metrics_len : 0);
	} else {
		static const char msg[] = "not found: try /metrics\n";
		respond(c, "404 Not Found", msg, sizeof(msg) - 1);
	}
}

static void
client_timeout(int timer, void *opaque)
{
	struct client *c = opaque;
	(void)timer;
	client_close(c);
}

static void
on_accept(int watch, int fd, int events, void *opaque)
{
	struct lv_agent *a = opaque;
	(void)watch;
	(void)events;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (a->http->n_open == HTTP_MAX_CLIENTS)
		client_close(client_to_drop(a->http));
	struct client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(cfd);
		return;
	}
	c->a = a;
	c->fd = cfd;
	c->timer = -1;
	a->http->clients++;
	a->http->open[a->http->n_open++] = c;
	c->watch = virEventAddHandle(cfd, VIR_EVENT_HANDLE_READABLE, client_event, c,
				     client_free);
	if (c->watch < 0) {
		client_free(c);
		return;
	}
	c->timer = virEventAddTimeout(HTTP_TIMEOUT_MS, client_timeout, c, NULL);
}

int
metrics_http_start(struct lv_agent *a, const char *listen_spec)
{
	char host[128] = "127.0.0.1";
	const char *port = listen_spec;
	const char *colon = strrchr(listen_spec, ':');
	if (colon != NULL) {
		const char *h = listen_spec;
		size_t hl = (size_t)(colon - listen_spec);
		if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
			h++;
			hl -= 2;
		}
		if (hl == 0 || hl >= sizeof(host)) {
			lv_log(LV_ERROR, "--metrics %s: expected [ADDRESS:]PORT", listen_spec);
			return -1;
		}
		memcpy(host, h, hl);
		host[hl] = '\0';
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		lv_log(LV_ERROR, "--metrics %s: %s (a numeric address and port)", listen_spec,
		       gai_strerror(gai));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		lv_log(LV_ERROR, "--metrics %s: %s", listen_spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	a->http = calloc(1, sizeof(*a->http));
	if (a->http == NULL) {
		close(fd);
		return -1;
	}
	a->http->fd = fd;
	a->http->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, on_accept, a, NULL);
	if (a->http->watch < 0) {
		close(fd);
		free(a->http);
		a->http = NULL;
		return -1;
	}
	lv_log(LV_INFO, "metrics on http://%s%s%s:%d/metrics", strchr(host, ':') ? "[" : "", host,
	       strchr(host, ':') ? "]" : "", metrics_http_port(a));
	return 0;
}

int
metrics_http_port(const struct lv_agent *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (a->http == NULL || a->http->fd < 0 ||
	    getsockname(a->http->fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void
metrics_http_stop(struct lv_agent *a)
{
	if (a->http == NULL)
		return;
	virEventRemoveHandle(a->http->watch);
	close(a->http->fd);
	a->http->fd = -1;
	/* Clients still open are freed by the event loop, or with the
	 * process: they count themselves out of a->http. */
	if (a->http->clients == 0) {
		free(a->http);
		a->http = NULL;
	}
}
