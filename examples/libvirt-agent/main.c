/* SPDX-License-Identifier: MIT */
/*
 * reclaim-libvirt-agent: manages the memory of every running libvirt domain
 * with a balloon on this host with reclaim. Single-threaded around libvirt's
 * event loop: a timer runs the ticks, libvirt's callbacks follow domains, a
 * self-pipe turns signals into events, and the metrics endpoint is one more
 * handle. See README.md and reclaim-libvirt-agent(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "lvagent.h"

#ifndef RECLAIM_AGENT_VERSION
#define RECLAIM_AGENT_VERSION "0"
#endif
#define DEFAULT_STATE_DIR "/var/lib/reclaim-libvirt-agent"

static int signal_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(signal_pipe[1], &b, 1) < 0) {
		/* full pipe: a signal is pending already */
	}
	errno = saved;
}

static void
reload(struct lv_agent *a)
{
	if (a->config_path == NULL) {
		lv_log(LV_INFO, "SIGHUP: no --config file to reload");
		return;
	}
	struct reclaim_config cfg;
	if (policy_config_load(&cfg, a->config_path, stderr) != 0) {
		lv_log(LV_ERROR, "SIGHUP: %s not reloaded; the policy in force stays", a->config_path);
		return;
	}
	int status = reclaim_policy_set_config(a->policy, &cfg);
	if (status != RECLAIM_OK) {
		lv_log(LV_ERROR, "SIGHUP: %s refused (%s); the policy in force stays", a->config_path,
		       reclaim_strerror(status));
		return;
	}
	a->cfg = cfg;
	a->logged_state = -1; /* restate the host under the new thresholds */
	lv_log(LV_INFO, "SIGHUP: policy reloaded from %s, history kept", a->config_path);
}

static void
signal_event(int watch, int fd, int events, void *opaque)
{
	struct lv_agent *a = opaque;
	unsigned char sigs[16];
	(void)watch;
	(void)events;
	ssize_t n = read(fd, sigs, sizeof(sigs));
	for (ssize_t i = 0; i < n; i++) {
		if (sigs[i] == SIGHUP) {
			reload(a);
		} else {
			lv_log(LV_INFO, "signal %d: stopping", sigs[i]);
			a->stop = 1;
		}
	}
}

static void
tick_timer(int timer, void *opaque)
{
	(void)timer;
	lv_tick(opaque);
}

static void
quiet_libvirt(void *opaque, virErrorPtr err)
{
	/* Errors are logged where they matter, with their context. */
	(void)opaque;
	(void)err;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: reclaim-libvirt-agent [options]\n"
		"Manages the memory of every running libvirt domain with a balloon, with\n"
		"reclaim's policy (ballooning, host swap, suspending). See reclaim-libvirt-agent(8).\n"
		"\n"
		"  --uri URI             libvirt connection (qemu:///system)\n"
		"  --dry-run             decide and log everything, change nothing (libvirt is\n"
		"                        opened read-only)\n"
		"  --config FILE         policy file (key = value), reloaded on SIGHUP\n"
		"  --tick DURATION       decision interval (1s)\n"
		"  --metrics [ADDR:]PORT serve Prometheus metrics over HTTP; ADDR is 127.0.0.1\n"
		"                        unless given\n"
		"  --metrics-file PATH   write the metrics to PATH each tick (node_exporter's\n"
		"                        textfile collector; mode 0644)\n"
		"  --state-dir DIR       where suspended domains are remembered\n"
		"                        (" DEFAULT_STATE_DIR ")\n"
		"  --active-method M     auto, page-idle, clear-refs or guest (auto)\n"
		"  --swap-method M       host swap by the kernel's LRU through the domain's\n"
		"                        memory cgroup (lru), by random page-out (random), or\n"
		"                        lru where available (auto) (auto)\n"
		"  --stats-interval SEC  balloon stats period set on domains without one (2)\n"
		"  --budget SIZE         pretend the host has SIZE bytes used by the managed\n"
		"                        guests only (tests and demos; default: the real host)\n"
		"  --reserved SIZE       memory kept back for the host itself (0)\n"
		"  --max-domains N       manage at most N domains (128)\n"
		"  --warmup DURATION     only measure active memory this long first (0)\n"
		"  --ticks N             stop after N ticks\n"
		"  --duration DURATION   stop after this long\n"
		"  --seed N              seed of the random page picker (1)\n"
		"  --verbose             log every decision of every tick\n"
		"  --print-config        print the policy in force and exit\n"
		"  --version, --help\n");
}

static int
parse_args(struct lv_agent *a, int argc, char **argv)
{
	enum { O_URI = 256, O_DRY, O_CONFIG, O_TICK, O_METRICS, O_METRICS_FILE, O_STATE, O_ACTIVE,
	       O_SWAP, O_STATS, O_BUDGET, O_RESERVED, O_MAX, O_WARMUP, O_TICKS, O_DURATION, O_SEED,
	       O_VERBOSE, O_PRINT, O_VERSION, O_HELP };
	static const struct option opts[] = {
		{"uri", required_argument, NULL, O_URI},
		{"dry-run", no_argument, NULL, O_DRY},
		{"config", required_argument, NULL, O_CONFIG},
		{"tick", required_argument, NULL, O_TICK},
		{"metrics", required_argument, NULL, O_METRICS},
		{"metrics-file", required_argument, NULL, O_METRICS_FILE},
		{"state-dir", required_argument, NULL, O_STATE},
		{"active-method", required_argument, NULL, O_ACTIVE},
		{"swap-method", required_argument, NULL, O_SWAP},
		{"stats-interval", required_argument, NULL, O_STATS},
		{"budget", required_argument, NULL, O_BUDGET},
		{"reserved", required_argument, NULL, O_RESERVED},
		{"max-domains", required_argument, NULL, O_MAX},
		{"warmup", required_argument, NULL, O_WARMUP},
		{"ticks", required_argument, NULL, O_TICKS},
		{"duration", required_argument, NULL, O_DURATION},
		{"seed", required_argument, NULL, O_SEED},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"print-config", no_argument, NULL, O_PRINT},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	int print_config = 0, opt;
	char *end;

	a->uri = "qemu:///system";
	a->state_dir = DEFAULT_STATE_DIR;
	a->tick_ns = NS_PER_S;
	a->stats_interval_s = 2;
	a->seed = 1;
	a->max_domains = 128;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int ok = 1;
		unsigned long long v;
		switch (opt) {
		case O_URI:
			a->uri = optarg;
			break;
		case O_DRY:
			a->dry_run = 1;
			break;
		case O_CONFIG:
			a->config_path = optarg;
			break;
		case O_TICK:
			ok = parse_duration(&a->tick_ns, optarg) == 0 && a->tick_ns >= 1000000 &&
			     a->tick_ns <= 3600 * NS_PER_S;
			break;
		case O_METRICS:
			a->metrics_listen = optarg;
			break;
		case O_METRICS_FILE:
			a->metrics_file = optarg;
			break;
		case O_STATE:
			a->state_dir = optarg;
			break;
		case O_ACTIVE:
			if (!strcmp(optarg, "auto"))
				a->active_method = LV_ACTIVE_AUTO;
			else if (!strcmp(optarg, "page-idle"))
				a->active_method = LV_ACTIVE_PAGE_IDLE;
			else if (!strcmp(optarg, "clear-refs"))
				a->active_method = LV_ACTIVE_CLEAR_REFS;
			else if (!strcmp(optarg, "guest"))
				a->active_method = LV_ACTIVE_GUEST;
			else
				ok = 0;
			break;
		case O_SWAP:
			ok = host_swap_method_parse(&a->swap_method, optarg) == 0;
			break;
		case O_STATS:
			v = strtoull(optarg, &end, 10);
			ok = *optarg != '\0' && *end == '\0' && v > 0 && v < 3600;
			a->stats_interval_s = (unsigned)v;
			break;
		case O_BUDGET:
			ok = parse_size(&a->budget, optarg) == 0 && a->budget > 0;
			break;
		case O_RESERVED:
			ok = parse_size(&a->reserved, optarg) == 0;
			break;
		case O_MAX:
			v = strtoull(optarg, &end, 10);
			ok = *optarg != '\0' && *end == '\0' && v > 0 && v <= LV_MAX_DOMAINS;
			a->max_domains = (size_t)v;
			break;
		case O_WARMUP:
			ok = parse_duration(&a->warmup_ns, optarg) == 0;
			break;
		case O_TICKS:
			a->max_ticks = strtoull(optarg, &end, 10);
			ok = *optarg != '\0' && *end == '\0';
			break;
		case O_DURATION:
			ok = parse_duration(&a->duration_ns, optarg) == 0;
			break;
		case O_SEED:
			a->seed = strtoull(optarg, &end, 0);
			ok = *optarg != '\0' && *end == '\0';
			break;
		case O_VERBOSE:
			a->verbose = 1;
			break;
		case O_PRINT:
			print_config = 1;
			break;
		case O_VERSION:
			printf("reclaim-libvirt-agent %s (libreclaim %u.%u.%u)\n", RECLAIM_AGENT_VERSION,
			       reclaim_version() >> 16, (reclaim_version() >> 8) & 0xff,
			       reclaim_version() & 0xff);
			exit(0);
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (!ok) {
			fprintf(stderr, "reclaim-libvirt-agent: bad value for --%s: %s\n",
				opts[opt - O_URI].name, optarg);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "reclaim-libvirt-agent: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (a->config_path != NULL) {
		if (policy_config_load(&a->cfg, a->config_path, stderr) != 0)
			return -1;
	} else if (RECLAIM_CONFIG_INIT_DEFAULT(&a->cfg) != RECLAIM_OK) {
		fprintf(stderr, "reclaim_config_init failed\n");
		return -1;
	}
	if (print_config) {
		policy_config_print(stdout, &a->cfg);
		exit(0);
	}
	return 0;
}

/* In a dry run the state directory is only read, if it is there. */
static int
open_state(struct lv_agent *a)
{
	struct stat st;
	if (a->dry_run && stat(a->state_dir, &st) != 0) {
		memset(&a->blocked, 0, sizeof(a->blocked));
		return 0;
	}
	if (blocked_open(&a->blocked, a->state_dir) != 0)
		return -1;
	if (a->dry_run)
		a->blocked.path[0] = '\0'; /* never written */
	else if (blocked_lock(&a->blocked) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct lv_agent a;
	memset(&a, 0, sizeof(a));
	a.page_idle_fd = -1;
	a.lifecycle_cb = a.metadata_cb = -1;
	a.logged_state = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(&a, argc, argv) != 0)
		return 2;
	/* Under systemd the journal stamps each line already. */
	lv_log_setup(stderr, a.verbose, getenv("JOURNAL_STREAM") == NULL);

	int timer = -1;
	a.exit_code = 1;
	int status = reclaim_policy_new(&a.policy, &a.cfg, a.max_domains);
	if (status != RECLAIM_OK) {
		lv_log(LV_ERROR, "reclaim_policy_new: %s", reclaim_strerror(status));
		goto out;
	}
	if (open_state(&a) != 0)
		goto out;
	/* Host swap by lru on cgroup v1 lowers a limit for an instant; the
	 * journal says what to put back if we are killed in between. */
	snprintf(a.journal, sizeof(a.journal), "%s", a.state_dir);
	if (!a.dry_run) {
		char msg[600];
		int r = memcg_recover(a.journal, NULL, msg, sizeof(msg));
		if (r != 0)
			lv_log(r > 0 ? LV_WARN : LV_ERROR, "%s", msg);
	}
	virSetErrorFunc(NULL, quiet_libvirt);
	if (virEventRegisterDefaultImpl() != 0) {
		lv_log(LV_ERROR, "libvirt event loop: %s", lv_virerr());
		goto out;
	}
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    virEventAddHandle(signal_pipe[0], VIR_EVENT_HANDLE_READABLE, signal_event, &a, NULL) < 0) {
		lv_log(LV_ERROR, "cannot set up signal handling");
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	active_probe(&a);
	char total[32];
	struct meminfo mi;
	if (meminfo_read(&mi, NULL) != 0)
		mi.total = 0;
	lv_log(LV_INFO, "reclaim-libvirt-agent %s%s: %s, tick %.3g s, host %s%s, host swap by %s, "
	       "%s",
	       RECLAIM_AGENT_VERSION, a.dry_run ? " (DRY RUN: nothing will be changed)" : "", a.uri,
	       (double)a.tick_ns / 1e9,
	       format_size(total, sizeof(total), a.budget ? a.budget : mi.total),
	       a.budget ? " (--budget: free = budget - guests' resident RAM)"
			: " (free = MemAvailable)",
	       host_swap_method_name(a.swap_method), a.page_idle_why);
	if (a.metrics_listen != NULL && metrics_http_start(&a, a.metrics_listen) != 0)
		goto out;

	a.start_ns = lv_now_ns();
	lv_connect(&a, 1);
	timer = virEventAddTimeout((int)(a.tick_ns / 1000000), tick_timer, &a, NULL);
	if (timer < 0) {
		lv_log(LV_ERROR, "cannot add the tick timer");
		goto out;
	}
	a.exit_code = 0;
	while (!a.stop) {
		if (virEventRunDefaultImpl() < 0) {
			lv_log(LV_ERROR, "libvirt event loop: %s", lv_virerr());
			a.exit_code = 1;
			break;
		}
	}

	/* Never leave a domain suspended behind us. */
	if (!a.connected && a.conn != NULL)
		lv_disconnect(&a);
	if (a.conn == NULL) {
		for (size_t i = 0; i < a.n_doms; i++)
			if (a.doms[i]->blocked) {
				lv_connect(&a, 0);
				break;
			}
	}
	lv_resume_all(&a);
	if (timer >= 0)
		virEventRemoveTimeout(timer);
	lv_log(LV_INFO, "stopped after %llu tick(s)", (unsigned long long)a.ticks);
out:
	metrics_http_stop(&a);
	lv_disconnect(&a);
	lv_domains_free(&a);
	blocked_close(&a.blocked);
	reclaim_policy_destroy(a.policy);
	free(a.vms);
	free(a.dec);
	free(a.res);
	free(a.metrics);
	free(a.http);
	if (a.page_idle_fd >= 0)
		close(a.page_idle_fd);
	return a.exit_code;
}
