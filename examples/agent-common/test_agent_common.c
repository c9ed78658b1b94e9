/* SPDX-License-Identifier: MIT */
/*
 * agent-common's host swap parts without a VM: where a process's memory
 * cgroup is (from /proc/PID/cgroup and mountinfo text), who else is in it,
 * cgroup v1's lower-and-restore and cgroup v2's memory.reclaim against a
 * directory standing in for the cgroup (its files written by a stand-in
 * for the kernel that answers as mem_cgroup_resize_max does), the journal
 * and its recovery, and the cold-first order of the page picker, over this
 * process's own memory. The real kernel is the QEMU end-to-end test
 * lru-swap's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"

#define MIB (1ull << 20)
#define UNLIMITED "9223372036854771712"

static char tmp[256];

static void
put_file(const char *dir, const char *name, const char *text)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
get_file(const char *dir, const char *name, char *buf, size_t len)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static uint64_t
get_u64(const char *dir, const char *name)
{
	char buf[64];
	get_file(dir, name, buf, sizeof(buf));
	return strtoull(buf, NULL, 10);
}

static void
make_dir(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", tmp, rel);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", out);
	assert_int_equal(system(cmd), 0);
}

/* ---- where the cgroup is ---- */

/* @p text as a file to read. */
static FILE *
text_file(const char *text)
{
	static char buf[4096];
	size_t n = strlen(text);
	assert_true(n < sizeof(buf));
	memcpy(buf, text, n + 1);
	return fmemopen(buf, n, "r");
}

static void
test_parse_cgroup(void **state)
{
	(void)state;
	char v1[256], v2[256];
	static const char v1_text[] = "9:name=systemd:/\n"
				      "5:cpu,cpuacct:/machine/qemu-1-web.libvirt-qemu/emulator\n"
				      "4:memory:/machine/qemu-1-web.libvirt-qemu\n"
				      "0::/\n";
	FILE *f = text_file(v1_text);
	assert_int_equal(memcg_parse_cgroup(v1, sizeof(v1), v2, sizeof(v2), f), 3);
	fclose(f);
	assert_string_equal(v1, "/machine/qemu-1-web.libvirt-qemu");
	assert_string_equal(v2, "/");

	/* Pure v2, as systemd and libvirt lay a domain out; a name with ':'. */
	static const char v2_text[] =
		"0::/machine.slice/machine-qemu\\x2d1\\x2dweb.scope/libvirt/emu:lator\n";
	f = text_file(v2_text);
	assert_int_equal(memcg_parse_cgroup(v1, sizeof(v1), v2, sizeof(v2), f), 2);
	fclose(f);
	assert_string_equal(v1, "");
	assert_string_equal(v2, "/machine.slice/machine-qemu\\x2d1\\x2dweb.scope/libvirt/emu:lator");

	/* memory among other controllers; "memory_x" is not memory. */
	static const char mixed[] = "3:memory_x:/no\n7:blkio,memory:/yes\n";
	f = text_file(mixed);
	assert_int_equal(memcg_parse_cgroup(v1, sizeof(v1), v2, sizeof(v2), f), 1);
	fclose(f);
	assert_string_equal(v1, "/yes");
}

static void
test_parse_mountinfo(void **state)
{
	(void)state;
	struct memcg_mounts m;
	static const char text[] =
		"22 1 0:20 / /sys rw - sysfs sysfs rw\n"
		"30 22 0:25 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n"
		"31 22 0:26 /lxc/c1 /sys/fs/cgroup/mem\\040ory rw,relatime shared:10 - cgroup "
		"cgroup rw,memory\n"
		"32 22 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";
	FILE *f = text_file(text);
	assert_int_equal(memcg_parse_mountinfo(&m, f), 3);
	fclose(f);
	assert_string_equal(m.v1_dir, "/sys/fs/cgroup/mem ory");
	assert_string_equal(m.v1_root, "/lxc/c1");
	assert_string_equal(m.v2_dir, "/sys/fs/cgroup/unified");
	assert_string_equal(m.v2_root, "/");
}

static void
test_locate_v1(void **state)
{
	(void)state;
	char dir[512], why[256];
	struct memcg cg = {0};
	struct memcg_mounts m = {0};
	make_dir(dir, sizeof(dir), "v1/machine/vm1.libvirt-qemu");
	put_file(dir, "memory.limit_in_bytes", UNLIMITED "\n");
	snprintf(m.v1_dir, sizeof(m.v1_dir), "%s/v1", tmp);
	snprintf(m.v1_root, sizeof(m.v1_root), "/");

	assert_int_equal(memcg_locate(&cg, &m, "/machine/vm1.libvirt-qemu", "/", why, sizeof(why)),
			 0);
	assert_int_equal(cg.version, MEMCG_V1);
	assert_string_equal(cg.dir, dir);
	assert_string_equal(cg.name, "/machine/vm1.libvirt-qemu");

	/* The root is everybody's; ".." climbs out; a cgroup without the
	 * files is no memory cgroup. */
	assert_int_equal(memcg_locate(&cg, &m, "/", "/", why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "root memory cgroup"));
	assert_int_equal(memcg_locate(&cg, &m, "/machine/../..", "/", why, sizeof(why)), -EINVAL);
	assert_int_equal(memcg_locate(&cg, &m, "/machine", "/", why, sizeof(why)), -ENOENT);

	/* A mount showing only part of the hierarchy (a container's). */
	snprintf(m.v1_root, sizeof(m.v1_root), "/lxc");
	snprintf(m.v1_dir, sizeof(m.v1_dir), "%s/v1/machine", tmp);
	assert_int_equal(memcg_locate(&cg, &m, "/lxc/vm1.libvirt-qemu", "/", why, sizeof(why)), 0);
	assert_string_equal(cg.dir, dir);
	assert_int_equal(memcg_locate(&cg, &m, "/other/vm1", "/", why, sizeof(why)), -ENOENT);
}

static void
test_locate_v2(void **state)
{
	(void)state;
	char scope[512], emu[512], why[256];
	struct memcg cg = {0};
	struct memcg_mounts m = {0};
	make_dir(emu, sizeof(emu), "v2/machine.slice/vm.scope/libvirt/emulator");
	make_dir(scope, sizeof(scope), "v2/machine.slice/vm.scope");
	snprintf(m.v2_dir, sizeof(m.v2_dir), "%s/v2", tmp);
	snprintf(m.v2_root, sizeof(m.v2_root), "/");
	/* The root has memory.reclaim too, and must never be chosen. */
	put_file(m.v2_dir, "memory.reclaim", "");
	put_file(m.v2_dir, "memory.current", "1\n");

	assert_int_equal(memcg_locate(&cg, &m, "", "/machine.slice/vm.scope/libvirt/emulator", why,
				      sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "no memory cgroup below the cgroup2 root"));

	/* A threaded leaf has no memory files: the nearest domain above. */
	put_file(scope, "memory.reclaim", "");
	put_file(scope, "memory.current", "1\n");
	assert_int_equal(memcg_locate(&cg, &m, "", "/machine.slice/vm.scope/libvirt/emulator", why,
				      sizeof(why)),
			 0);
	assert_int_equal(cg.version, MEMCG_V2);
	assert_string_equal(cg.dir, scope);
	assert_string_equal(cg.name, "/machine.slice/vm.scope");

	/* v1's memory hierarchy wins where the controller is bound there. */
	char v1dir[512];
	make_dir(v1dir, sizeof(v1dir), "v1/machine/vm2");
	put_file(v1dir, "memory.limit_in_bytes", UNLIMITED "\n");
	snprintf(m.v1_dir, sizeof(m.v1_dir), "%s/v1", tmp);
	snprintf(m.v1_root, sizeof(m.v1_root), "/");
	assert_int_equal(memcg_locate(&cg, &m, "/machine/vm2", "/machine.slice/vm.scope", why,
				      sizeof(why)),
			 0);
	assert_int_equal(cg.version, MEMCG_V1);
}

/* A kernel thread this process can see, or 0. */
static pid_t
some_kthread(void)
{
	for (pid_t p = 2; p < 200; p++) {
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *q = strrchr(buf, ')');
		unsigned flags = 0;
		if (q && sscanf(q + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) == 1 &&
		    (flags & 0x00200000u))
			return p;
	}
	return 0;
}

static void
test_alone(void **state)
{
	(void)state;
	char dir[512], sub[512], why[256], list[64];
	struct memcg cg = {0};
	make_dir(dir, sizeof(dir), "alone/vm");
	make_dir(sub, sizeof(sub), "alone/vm/emulator");
	cg.version = MEMCG_V1;
	snprintf(cg.dir, sizeof(cg.dir), "%s", dir);
	pid_t me = getpid();

	snprintf(list, sizeof(list), "%d\n", (int)me);
	put_file(dir, "cgroup.procs", list);
	put_file(sub, "cgroup.procs", "");
	assert_int_equal(memcg_alone(&cg, me, why, sizeof(why)), 1);

	/* Kernel threads (vhost workers on older kernels) hold no user memory. */
	pid_t kt = some_kthread();
	if (kt > 0) {
		snprintf(list, sizeof(list), "%d\n%d\n", (int)kt, (int)me);
		put_file(dir, "cgroup.procs", list);
		assert_int_equal(memcg_alone(&cg, me, why, sizeof(why)), 1);
	}

	/* Another process, even in a cgroup below, makes it shared. */
	snprintf(list, sizeof(list), "%d\n", (int)getppid());
	put_file(sub, "cgroup.procs", list);
	assert_int_equal(memcg_alone(&cg, me, why, sizeof(why)), 0);
	char expect[64];
	snprintf(expect, sizeof(expect), "pid %d (", (int)getppid());
	assert_non_null(strstr(why, expect));
	assert_int_equal(memcg_alone(&cg, getppid(), why, sizeof(why)), 0);
}

/* ---- a stand-in for the kernel behind a cgroup directory ---- */

struct fake {
	char dir[512];
	const char *journal;
	int lower_answer;  /* the lowering write's answer: 0 (the usage fits), -EBUSY */
	int lower_sleeps;  /* the lowering write reclaims until a signal comes */
	int lower_raises;  /* a signal arrives during the lowering write */
	int lower_late;    /* the deadline passes as the lowering write returns */
	int restore_eintr; /* restore writes that fail with EINTR first */
	int restore_fails; /* restore writes fail with EINVAL */
	int oom_fails;     /* oom_control writes fail */
	int reclaim_answer;/* v2 memory.reclaim's answer */
	int journal_ok;    /* the journal named the old limit during the lowering */
	int oom_disabled_during; /* oom_kill_disable was 1 during the lowering */
	char log[64][48];
	int n_log;
};

static void fake_log(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fake_log(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (f->n_log < 64)
		vsnprintf(f->log[f->n_log++], sizeof(f->log[0]), fmt, ap);
	va_end(ap);
}

static int
fake_read(void *ctx, const char *path, char *buf, size_t len)
{
	(void)ctx;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
fake_write(void *ctx, const char *path, const char *value)
{
	struct fake *f = ctx;
	const char *name = strrchr(path, '/') + 1;
	uint64_t v = strtoull(value, NULL, 10);

	if (!strcmp(name, "memory.limit_in_bytes")) {
		uint64_t limit = get_u64(f->dir, "memory.limit_in_bytes");
		uint64_t usage = get_u64(f->dir, "memory.usage_in_bytes");
		if (v < limit && v < usage) { /* lowering below the usage: reclaim */
			fake_log(f, "lower %" PRIu64, v);
			char j[512] = "", want[64];
			if (f->journal != NULL) {
				FILE *jf = fopen(f->journal, "r");
				if (jf != NULL) {
					size_t n = fread(j, 1, sizeof(j) - 1, jf);
					j[n] = '\0';
					fclose(jf);
				}
			}
			snprintf(want, sizeof(want), "limit %" PRIu64 "\n", limit);
			f->journal_ok = strstr(j, want) != NULL && strstr(j, f->dir) != NULL;
			char oom[128];
			get_file(f->dir, "memory.oom_control", oom, sizeof(oom));
			f->oom_disabled_during = strncmp(oom, "oom_kill_disable 1", 18) == 0;
			if (f->lower_late) {
				/* The timer fires between the kernel's answer and
				 * the agent's next step: SIGALRM left pending. */
				sigset_t alarm;
				sigemptyset(&alarm);
				sigaddset(&alarm, SIGALRM);
				pthread_sigmask(SIG_BLOCK, &alarm, NULL);
				struct timespec ts = {0, 300000000};
				nanosleep(&ts, NULL);
			}
			if (f->lower_sleeps) {
				struct timespec ts = {5, 0};
				if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
					return -EINTR; /* signal_pending() in the kernel's loop */
			}
			if (f->lower_answer)
				return f->lower_answer; /* the old limit stays */
			write_text(path, value);
			put_file(f->dir, "memory.usage_in_bytes", value);
			/* A signal right after the kernel took the lower limit. */
			if (f->lower_raises)
				raise(SIGUSR1);
			return 0;
		}
		if (f->restore_fails) {
			fake_log(f, "restore refused");
			return -EINVAL;
		}
		if (f->restore_eintr > 0) {
			f->restore_eintr--;
			fake_log(f, "restore EINTR");
			return -EINTR;
		}
		fake_log(f, "restore %" PRIu64, v);
		write_text(path, value);
		return 0;
	}
	if (!strcmp(name, "memory.oom_control")) {
		if (f->oom_fails)
			return -EACCES;
		fake_log(f, "oom_kill_disable %" PRIu64, v);
		char text[96];
		snprintf(text, sizeof(text), "oom_kill_disable %" PRIu64 "\nunder_oom 0\noom_kill 0\n",
			 v);
		write_text(path, text);
		return 0;
	}
	if (!strcmp(name, "memory.reclaim")) {
		fake_log(f, "reclaim %" PRIu64, v);
		if (f->reclaim_answer == 0) {
			char text[32];
			snprintf(text, sizeof(text), "%" PRIu64 "\n",
				 get_u64(f->dir, "memory.current") - v);
			put_file(f->dir, "memory.current", text);
		}
		return f->reclaim_answer;
	}
	write_text(path, value);
	return 0;
}

static struct fake fk;
static const struct memcg_io fake_io = {fake_read, fake_write, &fk};
static char jdir[600];  /* the journals' directory */
static char journal[1300]; /* the fake cgroup's journal in it */

/* A v1 cgroup using 400 MiB under no limit, OOM killer on. */
static void
fake_v1(struct memcg *cg)
{
	memset(&fk, 0, sizeof(fk));
	make_dir(fk.dir, sizeof(fk.dir), "fake-v1");
	put_file(fk.dir, "memory.limit_in_bytes", UNLIMITED "\n");
	put_file(fk.dir, "memory.usage_in_bytes", "419430400\n");
	put_file(fk.dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
	put_file(fk.dir, "memory.swappiness", "60\n");
	make_dir(jdir, sizeof(jdir), "journals");
	memset(cg, 0, sizeof(*cg));
	cg->version = MEMCG_V1;
	cg->io = &fake_io;
	snprintf(cg->dir, sizeof(cg->dir), "%s", fk.dir);
	assert_int_equal(memcg_journal_path(journal, sizeof(journal), jdir, cg), 0);
	unlink(journal);
	fk.journal = journal;
}

/* The fake cgroup's limit and OOM setting are @p limit and @p okd, and no
 * journal is left. */
static void
assert_settings(uint64_t limit, int okd)
{
	char oom[128], want[32];
	assert_int_equal(get_u64(fk.dir, "memory.limit_in_bytes"), limit);
	get_file(fk.dir, "memory.oom_control", oom, sizeof(oom));
	snprintf(want, sizeof(want), "oom_kill_disable %d", okd);
	assert_true(strncmp(oom, want, strlen(want)) == 0);
	assert_int_equal(access(journal, F_OK), -1);
}

static void
assert_as_before(void)
{
	assert_settings(9223372036854771712ull, 0);
}

static void
test_v1_lower_and_restore(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	fake_v1(&cg);
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.lowered, 300 * MIB);
	assert_int_equal(r.usage_before, 400 * MIB);
	assert_int_equal(r.usage_after, 300 * MIB);
	assert_true(r.restored);
	/* The order that keeps QEMU safe. */
	assert_int_equal(fk.n_log, 4);
	assert_string_equal(fk.log[0], "oom_kill_disable 1");
	assert_string_equal(fk.log[1], "lower 314572800");
	assert_string_equal(fk.log[2], "restore 9223372036854771712");
	assert_string_equal(fk.log[3], "oom_kill_disable 0");
	assert_true(fk.journal_ok);
	assert_true(fk.oom_disabled_during);
	assert_as_before();
	assert_non_null(strstr(r.note, "(reached), restored"));
}

static void
test_v1_ebusy(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	fake_v1(&cg);
	fk.lower_answer = -EBUSY;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), 0);
	assert_int_equal(r.status, -EBUSY);
	/* The kernel kept the old limit: nothing to write back. */
	assert_int_equal(fk.n_log, 3);
	assert_string_equal(fk.log[2], "oom_kill_disable 0");
	assert_as_before();
	assert_non_null(strstr(r.note, "EBUSY: fell short"));
}

static void
test_v1_restore_retried(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	fake_v1(&cg);
	fk.restore_eintr = 3;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), 0);
	assert_true(r.restored);
	assert_string_equal(fk.log[fk.n_log - 2], "restore 9223372036854771712");
	assert_as_before();
}

static void
test_v1_restore_fails_then_recovered(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	char msg[600];
	fake_v1(&cg);
	fk.restore_fails = 1;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), -EIO);
	assert_false(r.restored);
	assert_non_null(strstr(r.note, "COULD NOT RESTORE"));
	/* The journal keeps what to put back... */
	assert_int_equal(access(journal, F_OK), 0);
	assert_int_equal(get_u64(fk.dir, "memory.limit_in_bytes"), 300 * MIB);
	/* ... and the next agent does. */
	fk.restore_fails = 0;
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "restored memory.limit_in_bytes 9223372036854771712"));
	assert_as_before();
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 0);
}

static void
test_v1_recover_leaves_a_live_agents_journal(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	char msg[600];
	fake_v1(&cg);
	fk.restore_fails = 1;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), -EIO);
	fk.restore_fails = 0;
	/* Another agent holds it: it is in the gap, alive. */
	int fd = open(journal, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 0);
	assert_int_equal(get_u64(fk.dir, "memory.limit_in_bytes"), 300 * MIB);
	assert_int_equal(access(journal, F_OK), 0);
	close(fd);
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 1);
	assert_as_before();
}

static void
test_v1_recover_leaves_a_limit_changed_since(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	char msg[600];
	fake_v1(&cg);
	fk.restore_fails = 1;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), -EIO);
	fk.restore_fails = 0;
	/* The administrator set a limit of their own meanwhile. */
	put_file(fk.dir, "memory.limit_in_bytes", "524288000\n");
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 1);
	assert_int_equal(get_u64(fk.dir, "memory.limit_in_bytes"), 500 * MIB);
	assert_non_null(strstr(msg, "someone else had changed the limit"));
	assert_int_equal(access(journal, F_OK), -1);
}

/* A journal kept by an agent killed in the gap (restore refused). */
static void
kept_journal(struct memcg *cg)
{
	struct memcg_reclaim r;
	fake_v1(cg);
	fk.restore_fails = 1;
	assert_int_equal(memcg_reclaim(&r, cg, 100 * MIB, 0, jdir), -EIO);
	fk.restore_fails = 0;
	assert_int_equal(access(journal, F_OK), 0);
}

/* Its new owner's settings, on the cgroup now at the journal's path. */
static void
new_owner_settings(void)
{
	put_file(fk.dir, "memory.limit_in_bytes", "1073741824\n");
	put_file(fk.dir, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n");
}

/* Recovery finds the journal is for another cgroup than the one at its
 * path (@p why, in its message): the new owner's settings stay. */
static void
assert_left_to_new_owner(const char *why)
{
	char msg[600];
	new_owner_settings();
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, why));
	assert_settings(1024 * MIB, 1);
}

static void
test_v1_recover_leaves_a_cgroup_made_again(void **state)
{
	(void)state;
	struct memcg cg;
	char old[1100];
	kept_journal(&cg);
	/* The VM restarted: its cgroup is made again at the same path. */
	snprintf(old, sizeof(old), "%s.old", fk.dir);
	assert_int_equal(rename(fk.dir, old), 0);
	assert_int_equal(mkdir(fk.dir, 0755), 0);
	put_file(fk.dir, "memory.usage_in_bytes", "104857600\n");
	assert_left_to_new_owner("made again");
}

static void
test_v1_recover_leaves_a_cgroup_of_another_boot(void **state)
{
	(void)state;
	struct memcg cg;
	char text[1500], *b;
	kept_journal(&cg);
	/* The host rebooted, and the VM's cgroup has the same inode number. */
	FILE *f = fopen(journal, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	b = strstr(text, "\nboot ");
	assert_non_null(b);
	assert_true(strlen(b) > 8);
	b[6] = b[6] == '0' ? '1' : '0';
	write_text(journal, text);
	assert_left_to_new_owner("before the host last started");
}

static void
test_v1_recover_removes_an_empty_journal(void **state)
{
	(void)state;
	struct memcg cg;
	char msg[600];
	fake_v1(&cg);
	int fd = open(journal, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "empty"));
	assert_int_equal(access(journal, F_OK), -1);
	assert_int_equal(memcg_recover(jdir, &fake_io, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
}

static volatile sig_atomic_t usr1_seen;
static uint64_t usr1_limit;

static void
on_usr1(int sig)
{
	(void)sig;
	usr1_seen = 1;
	usr1_limit = get_u64(fk.dir, "memory.limit_in_bytes");
}

static void
test_v1_signal_waits_for_restore(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, &old);
	fake_v1(&cg);
	fk.lower_raises = 1;
	usr1_seen = 0;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), 0);
	/* The handler ran, after the limit was back. */
	assert_true(usr1_seen);
	assert_int_equal(usr1_limit, 9223372036854771712ull);
	assert_as_before();
	sigaction(SIGUSR1, &old, NULL);
}

static void
test_v1_deadline(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	struct timespec t0, t1;
	fake_v1(&cg);
	fk.lower_sleeps = 1;
	signal(SIGALRM, SIG_DFL); /* ours must not stay installed */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 100000000ull, jdir), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(s < 2.0);
	assert_int_equal(r.status, -EINTR);
	assert_non_null(strstr(r.note, "deadline"));
	assert_as_before();
	struct sigaction now;
	sigaction(SIGALRM, NULL, &now);
	assert_true(now.sa_handler == SIG_DFL);
	/* No SIGALRM left pending for SIG_DFL to kill us with. */
	sigset_t pending;
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGALRM));
}

static void
test_v1_deadline_after_the_write(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;
	fake_v1(&cg);
	fk.lower_late = 1;
	signal(SIGALRM, SIG_DFL); /* a SIGALRM let through would kill us */
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 100000000ull, jdir), 0);
	assert_int_equal(r.status, 0);
	assert_as_before();
	sigset_t pending;
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGALRM));
}

static void
test_v1_refusals(void **state)
{
	(void)state;
	struct memcg cg;
	struct memcg_reclaim r;

	/* Without the OOM killer out of the way, the limit is not touched. */
	fake_v1(&cg);
	fk.oom_fails = 1;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), -EACCES);
	assert_int_equal(fk.n_log, 0);
	assert_as_before();

	/* Nor while the cgroup is already out of memory. */
	fake_v1(&cg);
	put_file(fk.dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 0\n");
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), -EBUSY);
	assert_int_equal(fk.n_log, 0);

	/* Nor without a journal to put it back from. */
	fake_v1(&cg);
	char nowhere[700];
	snprintf(nowhere, sizeof(nowhere), "%s/missing", tmp);
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, nowhere), -ENOENT);
	assert_int_equal(fk.n_log, 0);
	assert_non_null(strstr(r.note, "journal"));

	/* Nor for all of it. */
	fake_v1(&cg);
	assert_int_equal(memcg_reclaim(&r, &cg, 400 * MIB, 0, jdir), -EINVAL);
	assert_int_equal(fk.n_log, 0);

	/* An OOM killer the host turned off stays off. */
	fake_v1(&cg);
	put_file(fk.dir, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n");
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, jdir), 0);
	assert_int_equal(fk.n_log, 2);
	assert_string_equal(fk.log[0], "lower 314572800");
	assert_string_equal(fk.log[1], "restore 9223372036854771712");
}

static void
test_v2_reclaim(void **state)
{
	(void)state;
	struct memcg cg = {0};
	struct memcg_reclaim r;
	memset(&fk, 0, sizeof(fk));
	make_dir(fk.dir, sizeof(fk.dir), "fake-v2");
	put_file(fk.dir, "memory.current", "419430400\n");
	put_file(fk.dir, "memory.max", "max\n");
	cg.version = MEMCG_V2;
	cg.io = &fake_io;
	snprintf(cg.dir, sizeof(cg.dir), "%s", fk.dir);

	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, NULL), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.usage_before - r.usage_after, 100 * MIB);
	/* memory.max is never written. */
	assert_int_equal(fk.n_log, 1);
	assert_string_equal(fk.log[0], "reclaim 104857600");

	fk.reclaim_answer = -EAGAIN;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, NULL), 0);
	assert_int_equal(r.status, -EAGAIN);
	assert_non_null(strstr(r.note, "EAGAIN: fell short"));

	fk.reclaim_answer = -EPERM;
	assert_int_equal(memcg_reclaim(&r, &cg, 100 * MIB, 0, NULL), -EPERM);
}

/* ---- host swap: lru and its fallback ---- */

#define PAGES 64

static long page_size;
static char *region;

/* This process's own memory, standing in for guest RAM. */
static void
own_mem(struct guest_mem *m)
{
	guest_mem_init(m);
	m->pid = getpid();
	m->page_size = (uint64_t)page_size;
	m->n_regions = 1;
	m->region[0].start = (uint64_t)(uintptr_t)region;
	m->region[0].len = PAGES * (uint64_t)page_size;
	memset(region, 0x5a, PAGES * (size_t)page_size);
}

static void
test_host_swap_fallback(void **state)
{
	(void)state;
	struct host_swap hs;
	struct guest_mem m;
	struct reclaim_rng rng;
	char list[32];
	uint64_t done;
	own_mem(&m);
	m.pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	reclaim_rng_seed(&rng, 1);

	/* auto, in a v2 cgroup of our own whose memory.reclaim the kernel
	 * refuses us: random from then on. */
	memset(&hs, 0, sizeof(hs));
	memset(&fk, 0, sizeof(fk));
	make_dir(fk.dir, sizeof(fk.dir), "hs-v2");
	put_file(fk.dir, "memory.current", "419430400\n");
	snprintf(list, sizeof(list), "%d\n", (int)getpid());
	put_file(fk.dir, "cgroup.procs", list);
	hs.asked = HOST_SWAP_AUTO;
	hs.method = HOST_SWAP_LRU;
	hs.pid = getpid();
	hs.cg.version = MEMCG_V2;
	hs.cg.io = &fake_io;
	snprintf(hs.cg.dir, sizeof(hs.cg.dir), "%s", fk.dir);
	fk.reclaim_answer = -EPERM;
	int err = host_swap_out(&hs, &done, &m, 8 * (uint64_t)page_size, &rng, NULL);
	assert_int_equal(hs.method, HOST_SWAP_RANDOM);
	assert_non_null(strstr(hs.why, "not allowed to write the cgroup's files"));
	assert_int_equal(fk.n_log, 1);
	if (m.pidfd >= 0) {
		assert_int_equal(err, 0);
		assert_int_equal(done, 8 * (uint64_t)page_size);
		assert_non_null(strstr(hs.last, "random: asked"));
	}

	/* lru, and another process joins the cgroup: never reclaimed from,
	 * and lru does not turn into random. */
	memset(&hs, 0, sizeof(hs));
	fk.n_log = 0;
	fk.reclaim_answer = 0;
	snprintf(list, sizeof(list), "%d\n%d\n", (int)getpid(), (int)getppid());
	put_file(fk.dir, "cgroup.procs", list);
	hs.asked = HOST_SWAP_LRU;
	hs.method = HOST_SWAP_LRU;
	hs.pid = getpid();
	hs.cg.version = MEMCG_V2;
	hs.cg.io = &fake_io;
	snprintf(hs.cg.dir, sizeof(hs.cg.dir), "%s", fk.dir);
	assert_int_equal(host_swap_out(&hs, &done, &m, 8 * (uint64_t)page_size, &rng, NULL),
			 -ENOTSUP);
	assert_int_equal(done, 0);
	assert_int_equal(fk.n_log, 0);
	assert_int_equal(hs.method, HOST_SWAP_LRU);
	assert_non_null(strstr(hs.last, "no longer alone"));
	guest_mem_close(&m);
}

static void
test_method_names(void **state)
{
	(void)state;
	enum host_swap_method m;
	assert_int_equal(host_swap_method_parse(&m, "lru"), 0);
	assert_int_equal(m, HOST_SWAP_LRU);
	assert_int_equal(host_swap_method_parse(&m, "random"), 0);
	assert_int_equal(m, HOST_SWAP_RANDOM);
	assert_int_equal(host_swap_method_parse(&m, "auto"), 0);
	assert_int_equal(m, HOST_SWAP_AUTO);
	assert_int_equal(host_swap_method_parse(&m, "pick"), -1);
	assert_string_equal(host_swap_method_name(HOST_SWAP_LRU), "lru");
}

/* ---- the picker: cold pages first ---- */

struct taken {
	uint64_t addr[PAGES];
	size_t n;
};

static int
take(void *ctx, uint64_t addr)
{
	struct taken *t = ctx;
	if (t->n < PAGES)
		t->addr[t->n++] = addr;
	return 0;
}

static size_t
page_of(uint64_t addr)
{
	return (size_t)((addr - (uint64_t)(uintptr_t)region) / (uint64_t)page_size);
}

/* Every fourth page referenced. */
static uint64_t ref_addrs[PAGES / 4];

static struct guest_refs
every_fourth(void)
{
	for (size_t i = 0; i < PAGES / 4; i++)
		ref_addrs[i] = (uint64_t)(uintptr_t)region + 4 * i * (uint64_t)page_size + 17;
	struct guest_refs r = {ref_addrs, PAGES / 4};
	return r;
}

static void
test_pick_cold_first(void **state)
{
	(void)state;
	struct guest_mem m;
	struct reclaim_rng rng;
	struct guest_refs refs = every_fourth();
	own_mem(&m);

	/* Fewer than the cold pages: only cold ones, distinct, in order. */
	for (uint64_t seed = 1; seed <= 50; seed++) {
		struct taken t = {.n = 0};
		reclaim_rng_seed(&rng, seed);
		assert_int_equal(guest_mem_pick(&m, 40, &rng, &refs, take, &t), 0);
		assert_int_equal(t.n, 40);
		for (size_t i = 0; i < t.n; i++) {
			assert_true(page_of(t.addr[i]) % 4 != 0);
			if (i > 0)
				assert_true(t.addr[i] > t.addr[i - 1]);
		}
	}
	/* More: all 48 cold ones, then referenced ones. */
	struct taken t = {.n = 0};
	reclaim_rng_seed(&rng, 7);
	assert_int_equal(guest_mem_pick(&m, 56, &rng, &refs, take, &t), 0);
	assert_int_equal(t.n, 56);
	size_t hot = 0;
	for (size_t i = 0; i < t.n; i++)
		hot += page_of(t.addr[i]) % 4 == 0;
	assert_int_equal(hot, 8);
	/* More than there are: every resident page once. */
	t.n = 0;
	assert_int_equal(guest_mem_pick(&m, 1000, &rng, &refs, take, &t), 0);
	assert_int_equal(t.n, PAGES);
	/* Unsorted references are refused. */
	uint64_t bad[2] = {ref_addrs[1], ref_addrs[0]};
	struct guest_refs unsorted = {bad, 2};
	assert_int_equal(guest_mem_pick(&m, 4, &rng, &unsorted, take, &t), -EINVAL);
}

static void
test_pick_uniform(void **state)
{
	(void)state;
	struct guest_mem m;
	struct reclaim_rng rng;
	struct guest_refs refs = every_fourth();
	unsigned count[PAGES] = {0}, plain[PAGES] = {0};
	const unsigned rounds = 4000;
	own_mem(&m);
	reclaim_rng_seed(&rng, 42);
	for (unsigned r = 0; r < rounds; r++) {
		struct taken t = {.n = 0}, u = {.n = 0};
		assert_int_equal(guest_mem_pick(&m, 24, &rng, &refs, take, &t), 0);
		for (size_t i = 0; i < t.n; i++)
			count[page_of(t.addr[i])]++;
		assert_int_equal(guest_mem_pick(&m, 16, &rng, NULL, take, &u), 0);
		for (size_t i = 0; i < u.n; i++)
			plain[page_of(u.addr[i])]++;
	}
	for (size_t p = 0; p < PAGES; p++) {
		/* Cold pages: 24 of 48, each drawn half the time; referenced
		 * ones never. Without references: 16 of 64, a quarter. */
		if (p % 4 == 0)
			assert_int_equal(count[p], 0);
		else
			assert_true(count[p] > rounds * 0.44 && count[p] < rounds * 0.56);
		assert_true(plain[p] > rounds * 0.20 && plain[p] < rounds * 0.30);
	}
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/agent-common-test.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	page_size = sysconf(_SC_PAGESIZE);
	region = mmap(NULL, PAGES * (size_t)page_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return region == MAP_FAILED ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- sizes, durations and policy files ---- */

static void
test_units_exact(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(parse_size(&v, "18446744073709551615"), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_size(&v, "9007199254740993"), 0); /* 2^53 + 1 */
	assert_true(v == 9007199254740993ull);
	assert_int_equal(parse_size(&v, "16777215T"), 0);
	assert_true(v == 16777215ull << 40);
	assert_int_equal(parse_size(&v, "16777216T"), -1); /* 2^64 */
	assert_int_equal(parse_size(&v, "18446744073709551616"), -1);
	assert_int_equal(parse_duration(&v, "18446744073709551615ns"), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_duration(&v, "18446744073s"), 0);
	assert_true(v == 18446744073000000000ull);
	assert_int_equal(parse_duration(&v, "18446744074s"), -1);
	/* fractions and exponents as before */
	assert_int_equal(parse_size(&v, "1.5G"), 0);
	assert_true(v == 1536 * MIB);
	assert_int_equal(parse_duration(&v, "1.5m"), 0);
	assert_true(v == 90000000000ull);
	assert_int_equal(parse_size(&v, "1e3"), 0);
	assert_true(v == 1000);
	assert_int_equal(parse_size(&v, " -5"), -1);
	assert_int_equal(parse_size(&v, "-5"), -1);
	assert_int_equal(parse_size(&v, "5X"), -1);
	assert_int_equal(parse_size(&v, ""), -1);
}

/* What policy_config_print() writes loads back to the same config, at the
 * ends of every range the library accepts. */
static void
test_policy_print_loads_back(void **state)
{
	(void)state;
	struct reclaim_config cfg, back;
	char path[400];
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.max_block_ns = UINT64_MAX;
	cfg.deflate_budget_bytes = UINT64_MAX;
	cfg.demand_memory_ns = (1ull << 53) + 1;
	cfg.guest_margin_bytes = (1ull << 53) + 3;
	assert_int_equal(reclaim_config_check(&cfg, NULL), RECLAIM_OK);
	snprintf(path, sizeof(path), "%s/policy.conf", tmp);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	policy_config_print(f, &cfg);
	fclose(f);
	reclaim_config_init(&back, sizeof(back));
	assert_int_equal(policy_config_load(&back, path, stderr), 0);
	assert_true(back.max_block_ns == UINT64_MAX);
	assert_true(back.deflate_budget_bytes == UINT64_MAX);
	assert_true(back.demand_memory_ns == (1ull << 53) + 1);
	assert_true(back.guest_margin_bytes == (1ull << 53) + 3);
	assert_memory_equal(&back, &cfg, sizeof(cfg));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cgroup),
		cmocka_unit_test(test_parse_mountinfo),
		cmocka_unit_test(test_locate_v1),
		cmocka_unit_test(test_locate_v2),
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_v1_lower_and_restore),
		cmocka_unit_test(test_v1_ebusy),
		cmocka_unit_test(test_v1_restore_retried),
		cmocka_unit_test(test_v1_restore_fails_then_recovered),
		cmocka_unit_test(test_v1_recover_leaves_a_live_agents_journal),
		cmocka_unit_test(test_v1_recover_leaves_a_limit_changed_since),
		cmocka_unit_test(test_v1_recover_leaves_a_cgroup_made_again),
		cmocka_unit_test(test_v1_recover_leaves_a_cgroup_of_another_boot),
		cmocka_unit_test(test_v1_recover_removes_an_empty_journal),
		cmocka_unit_test(test_v1_signal_waits_for_restore),
		cmocka_unit_test(test_v1_deadline),
		cmocka_unit_test(test_v1_deadline_after_the_write),
		cmocka_unit_test(test_v1_refusals),
		cmocka_unit_test(test_v2_reclaim),
		cmocka_unit_test(test_host_swap_fallback),
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_pick_cold_first),
		cmocka_unit_test(test_pick_uniform),
		cmocka_unit_test(test_units_exact),
		cmocka_unit_test(test_policy_print_loads_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
