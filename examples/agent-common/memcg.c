/* SPDX-License-Identifier: MIT */
/*
 * A VM's memory cgroup, and reclaim from it by the kernel's own LRU lists.
 *
 * The kernel keeps active and inactive lists per memory cgroup; asked to
 * reclaim from one, it takes the pages nobody touched lately and leaves the
 * working set. Two ways to ask:
 *
 * cgroup v2   memory.reclaim: write a byte count; the kernel reclaims that
 *             much from the cgroup, or fails the write with EAGAIN when it
 *             falls short. No limit moves.
 * cgroup v1   no such file. Lowering memory.limit_in_bytes below the usage
 *             makes the kernel reclaim until the usage fits
 *             (mem_cgroup_resize_max in mm/memcontrol*.c): the new limit only
 *             takes effect once the usage is under it, and when reclaim
 *             stops making progress the write fails with EBUSY and the old
 *             limit stays. That path never invokes the OOM killer. So: lower
 *             it to usage - bytes, and put the old limit back at once,
 *             whatever the write returned.
 *
 * Why v1 cannot kill the VM (memcg_reclaim() below does each step):
 * - The lowered limit lives from the moment the kernel accepts it to the
 *   next write, a few microseconds. While it does, a charge that cannot be
 *   reclaimed would meet the cgroup's OOM killer, so oom_kill_disable is set
 *   around the two writes: a task that hits the limit in a page fault waits,
 *   and raising the limit wakes it.
 * - memory.memsw.limit_in_bytes is never touched. Swapping a page out moves
 *   its charge from memory to swap and leaves memory+swap as it was, and a
 *   lower memory limit keeps the kernel's rule memory <= memory+swap.
 * - Every catchable signal is blocked from before the first write to after
 *   the last, so no handler, no terminating signal and no stop can come
 *   between lowering and restoring. Only a deadline (SIGALRM with a handler
 *   of ours, armed around the lowering write alone) can interrupt the
 *   kernel's reclaim loop, which then fails with EINTR and keeps the old
 *   limit.
 * - Against SIGKILL between the two writes, a journal file names the cgroup,
 *   its limit and the value written before the limit is lowered, locked
 *   (flock) while its agent is in the gap, on disk (fsync) before the limit
 *   moves; it is removed once the limit is back. memcg_recover() (each agent
 *   calls it when it starts) puts back a limit it finds still lowered, from
 *   journals no live agent holds. A journal also names the boot and the
 *   cgroup directory's inode it was written for: a cgroup made again at the
 *   same path since (a VM restarted, the host rebooted) is another cgroup,
 *   and is left as its new owner set it.
 * - A restore that fails is retried; if it still fails the journal stays and
 *   the caller is told (-EIO).
 *
 * The cgroup's own swappiness (v1 memory.swappiness; v2 uses the host's
 * vm.swappiness) decides how much of it the kernel may swap: it is read and
 * reported, never changed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define PF_KTHREAD_FLAG 0x00200000u /* include/linux/sched.h */
#define JOURNAL_PREFIX "memcg-restore-"
#define MAX_DEPTH 16
#define RESTORE_TRIES 50

/* ---- files ---- */

static int
real_read(void *ctx, const char *path, char *buf, size_t len)
{
	(void)ctx;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t r = read(fd, buf + got, len - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return 0;
}

static int
real_write(void *ctx, const char *path, const char *value)
{
	(void)ctx;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t len = strlen(value);
	/* A cgroup file takes the value in one write; its answer is the
	 * kernel's (EBUSY, EAGAIN, EINTR, ...). */
	ssize_t r = write(fd, value, len);
	int err = r < 0 ? -errno : (size_t)r == len ? 0 : -EIO;
	if (close(fd) != 0 && err == 0)
		err = -errno;
	return err;
}

static const struct memcg_io real_io = {real_read, real_write, NULL};

static const struct memcg_io *
io_of(const struct memcg *cg)
{
	return cg->io != NULL ? cg->io : &real_io;
}

static int
cg_path(char *out, size_t len, const char *dir, const char *name)
{
	int w = snprintf(out, len, "%s/%s", dir, name);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static int
cg_read(const struct memcg *cg, const char *dir, const char *name, char *buf, size_t len)
{
	char path[MEMCG_PATH_MAX + 64];
	int err = cg_path(path, sizeof(path), dir, name);
	if (err)
		return err;
	const struct memcg_io *io = io_of(cg);
	return io->read(io->ctx, path, buf, len);
}

static int
cg_write(const struct memcg *cg, const char *dir, const char *name, const char *value)
{
	char path[MEMCG_PATH_MAX + 64];
	int err = cg_path(path, sizeof(path), dir, name);
	if (err)
		return err;
	const struct memcg_io *io = io_of(cg);
	return io->write(io->ctx, path, value);
}

static int
cg_read_u64(const struct memcg *cg, const char *name, uint64_t *out)
{
	char buf[64];
	int err = cg_read(cg, cg->dir, name, buf, sizeof(buf));
	if (err)
		return err;
	if (!strncmp(buf, "max", 3)) { /* v2's "no limit" */
		*out = UINT64_MAX;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0'))
		return -EPROTO;
	*out = (uint64_t)v;
	return 0;
}

static int
cg_write_u64(const struct memcg *cg, const char *name, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cg_write(cg, cg->dir, name, buf);
}

/* A "key value" line of a flat-keyed file (memory.oom_control). */
static int
keyed_u64(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			*out = strtoull(p + klen + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- where the cgroup is ---- */

const char *
memcg_version_name(enum memcg_version v)
{
	switch (v) {
	case MEMCG_V1:
		return "v1";
	case MEMCG_V2:
		return "v2";
	case MEMCG_NONE:
		break;
	}
	return "none";
}

int
memcg_parse_cgroup(char *v1, size_t v1_len, char *v2, size_t v2_len, FILE *f)
{
	char line[MEMCG_PATH_MAX + 128];
	int found = 0;

	v1[0] = v2[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* hierarchy-ID:controller-list:cgroup-path */
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL || c2[1] != '/')
			continue;
		*c1 = *c2 = '\0';
		const char *controllers = c1 + 1, *path = c2 + 1;
		if (!strcmp(line, "0") && controllers[0] == '\0') {
			if (strlen(path) < v2_len) {
				strcpy(v2, path);
				found |= 2;
			}
			continue;
		}
		/* v1: "memory" among the comma-separated controllers. */
		for (const char *p = controllers; p != NULL; p = strchr(p, ',')) {
			if (*p == ',')
				p++;
			if (!strncmp(p, "memory", 6) && (p[6] == ',' || p[6] == '\0')) {
				if (strlen(path) < v1_len) {
					strcpy(v1, path);
					found |= 1;
				}
				break;
			}
		}
	}
	return found;
}

/* Decodes mountinfo's octal escapes (\040 for a blank) in place. */
static void
unescape_octal(char *s)
{
	char *o = s;
	for (char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

int
memcg_parse_mountinfo(struct memcg_mounts *mnt, FILE *f)
{
	char line[2048];
	int found = 0;

	memset(mnt, 0, sizeof(*mnt));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
		char *fields[6] = {0};
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		int n = 0;
		while (tok != NULL && n < 6) {
			fields[n++] = tok;
			tok = n < 6 ? strtok_r(NULL, " ", &save) : NULL;
		}
		if (n < 6)
			continue;
		char *rest = save;
		char *dash = rest ? strstr(rest, "- ") : NULL;
		while (dash != NULL && dash != rest && dash[-1] != ' ')
			dash = strstr(dash + 1, "- ");
		if (dash == NULL)
			continue;
		char *fstype = strtok_r(dash + 2, " ", &save);
		char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
		char *superopts = source ? strtok_r(NULL, " ", &save) : NULL;
		if (fstype == NULL)
			continue;
		char *root = fields[3], *point = fields[4];
		unescape_octal(root);
		unescape_octal(point);
		if (!strcmp(fstype, "cgroup2") && !(found & 2)) {
			if (strlen(point) < sizeof(mnt->v2_dir) && strlen(root) < sizeof(mnt->v2_root)) {
				strcpy(mnt->v2_dir, point);
				strcpy(mnt->v2_root, root);
				found |= 2;
			}
		} else if (!strcmp(fstype, "cgroup") && !(found & 1) && superopts != NULL) {
			int memory = 0;
			char *s2 = NULL;
			for (char *o = strtok_r(superopts, ",", &s2); o; o = strtok_r(NULL, ",", &s2))
				memory |= !strcmp(o, "memory");
			if (memory && strlen(point) < sizeof(mnt->v1_dir) &&
			    strlen(root) < sizeof(mnt->v1_root)) {
				strcpy(mnt->v1_dir, point);
				strcpy(mnt->v1_root, root);
				found |= 1;
			}
		}
	}
	return found;
}

/*
 * The directory of cgroup @p path in a hierarchy mounted at @p dir whose
 * mount shows the part from @p root down. -ENOENT when the cgroup is not
 * below that part, -EINVAL for a path with "..".
 */
static int
join_mount(char *out, size_t len, const char *dir, const char *root, const char *path)
{
	if (strstr(path, "/..") != NULL)
		return -EINVAL;
	const char *rel = path;
	if (strcmp(root, "/") != 0) {
		size_t rl = strlen(root);
		if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
			return -ENOENT;
		rel = path + rl;
	}
	if (!strcmp(rel, "/"))
		rel = "";
	int w = snprintf(out, len, "%s%s", dir, rel);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static int
exists(const char *dir, const char *name)
{
	char path[MEMCG_PATH_MAX + 64];
	struct stat st;
	return cg_path(path, sizeof(path), dir, name) == 0 && stat(path, &st) == 0;
}

int
memcg_locate(struct memcg *cg, const struct memcg_mounts *mnt, const char *v1, const char *v2,
	     char *why, size_t why_len)
{
	const struct memcg_io *io = cg->io;
	memset(cg, 0, sizeof(*cg));
	cg->io = io;
	int err;

	/* Where the memory controller is bound to a v1 hierarchy, that is
	 * where the process's memory is charged. */
	if (v1[0] != '\0' && mnt->v1_dir[0] != '\0') {
		err = join_mount(cg->dir, sizeof(cg->dir), mnt->v1_dir, mnt->v1_root, v1);
		if (err) {
			snprintf(why, why_len, "memory cgroup %.200s is not under %.200s", v1,
				 mnt->v1_dir);
			return err;
		}
		if (!strcmp(v1, mnt->v1_root) || !strcmp(v1, "/")) {
			snprintf(why, why_len, "it is in the root memory cgroup (v1)");
			return -ENOENT;
		}
		if (!exists(cg->dir, "memory.limit_in_bytes")) {
			snprintf(why, why_len, "%.200s has no memory.limit_in_bytes", cg->dir);
			return -ENOENT;
		}
		cg->version = MEMCG_V1;
		snprintf(cg->name, sizeof(cg->name), "%s", v1);
		return 0;
	}
	if (v2[0] == '\0' || mnt->v2_dir[0] == '\0') {
		snprintf(why, why_len, "no memory cgroup (neither a v1 memory hierarchy nor cgroup2 "
			 "mounted for it)");
		return -ENOENT;
	}
	char rel[MEMCG_PATH_MAX];
	snprintf(rel, sizeof(rel), "%s", v2);
	/* The memory controller lives in domain cgroups; a threaded leaf
	 * (libvirt's emulator and vcpu cgroups) is charged to the nearest
	 * one above it. Never the root: it holds everybody. */
	for (;;) {
		if (!strcmp(rel, "/") || !strcmp(rel, mnt->v2_root)) {
			snprintf(why, why_len, "no memory cgroup below the cgroup2 root for %.200s "
				 "(memory controller not enabled, or no memory.reclaim: Linux >= 5.19)",
				 v2);
			return -ENOENT;
		}
		err = join_mount(cg->dir, sizeof(cg->dir), mnt->v2_dir, mnt->v2_root, rel);
		if (err) {
			snprintf(why, why_len, "cgroup %.200s is not under %.200s", v2, mnt->v2_dir);
			return err;
		}
		if (exists(cg->dir, "memory.reclaim") && exists(cg->dir, "memory.current"))
			break;
		char *slash = strrchr(rel, '/');
		if (slash == rel)
			rel[1] = '\0';
		else
			*slash = '\0';
	}
	cg->version = MEMCG_V2;
	snprintf(cg->name, sizeof(cg->name), "%s", rel);
	return 0;
}

int
memcg_of_pid(struct memcg *cg, pid_t pid, char *why, size_t why_len)
{
	char path[64], v1[MEMCG_PATH_MAX], v2[MEMCG_PATH_MAX];
	struct memcg_mounts mnt;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		int err = errno == ENOENT ? -ESRCH : -errno;
		snprintf(why, why_len, "%s: %s", path, strerror(-err));
		return err;
	}
	memcg_parse_cgroup(v1, sizeof(v1), v2, sizeof(v2), f);
	fclose(f);
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL) {
		int err = -errno;
		snprintf(why, why_len, "/proc/self/mountinfo: %s", strerror(-err));
		return err;
	}
	memcg_parse_mountinfo(&mnt, f);
	fclose(f);
	return memcg_locate(cg, &mnt, v1, v2, why, why_len);
}

/* ---- who else is in it ---- */

static int
pid_is_kthread(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (real_read(NULL, path, buf, sizeof(buf)) != 0)
		return 0;
	const char *p = strrchr(buf, ')'); /* the name may hold anything */
	unsigned flags = 0;
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) != 1)
		return 0;
	return (flags & PF_KTHREAD_FLAG) != 0;
}

static pid_t
tid_tgid(pid_t tid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (real_read(NULL, path, buf, sizeof(buf)) != 0)
		return 0;
	const char *p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
}

static void
pid_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (real_read(NULL, path, out, len) != 0)
		snprintf(out, len, "?");
	out[strcspn(out, "\n")] = '\0';
}

/* 1 when every task listed in @p dir's procs (or threads) is @p pid's or a
 * kernel thread, 0 otherwise (@p why says who), or -errno. */
static int
alone_in(const struct memcg *cg, const char *dir, pid_t pid, int depth, char *why,
	 size_t why_len)
{
	static char buf[1 << 16]; /* the agents are single-threaded */
	int threads = 0;
	int err = cg_read(cg, dir, "cgroup.procs", buf, sizeof(buf));
	if (err == -EOPNOTSUPP) { /* a v2 threaded cgroup lists threads only */
		err = cg_read(cg, dir, "cgroup.threads", buf, sizeof(buf));
		threads = 1;
	}
	if (err) {
		snprintf(why, why_len, "cannot list the tasks of %.200s: %s", dir, strerror(-err));
		return err;
	}
	if (strlen(buf) + 1 >= sizeof(buf)) {
		snprintf(why, why_len, "%.200s holds too many tasks", dir);
		return 0;
	}
	for (char *p = buf; *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		p = end + strspn(end, " \n");
		pid_t other = (pid_t)v;
		if (other == pid || (threads && tid_tgid(other) == pid) || pid_is_kthread(other))
			continue;
		char comm[32];
		pid_comm(other, comm, sizeof(comm));
		snprintf(why, why_len, "pid %d (%s) is in it too", (int)other, comm);
		return 0;
	}
	if (depth >= MAX_DEPTH) {
		snprintf(why, why_len, "%.200s is nested too deep to check", dir);
		return 0;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		err = -errno;
		snprintf(why, why_len, "%.200s: %s", dir, strerror(-err));
		return err;
	}
	int r = 1;
	struct dirent *e;
	while (r == 1 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char sub[MEMCG_PATH_MAX];
		struct stat st;
		int w = snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (w < 0 || (size_t)w >= sizeof(sub)) {
			snprintf(why, why_len, "a path under %.200s is too long", dir);
			r = 0;
			break;
		}
		if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		r = alone_in(cg, sub, pid, depth + 1, why, why_len);
	}
	closedir(d);
	return r;
}

int
memcg_alone(const struct memcg *cg, pid_t pid, char *why, size_t why_len)
{
	if (cg->version == MEMCG_NONE)
		return -ENOENT;
	return alone_in(cg, cg->dir, pid, 0, why, why_len);
}

int
memcg_move(struct memcg *cg, pid_t pid, const char *name, char *note, size_t note_len)
{
	char child[MEMCG_PATH_MAX], leaf[64];
	size_t j = 0;

	note[0] = '\0';
	if (cg->version == MEMCG_NONE)
		return -ENOENT;
	/* reclaim-NAME, with anything but [A-Za-z0-9._-] made '_'. */
	j = (size_t)snprintf(leaf, sizeof(leaf), "reclaim-");
	for (const char *p = name; *p && j + 1 < sizeof(leaf); p++)
		leaf[j++] = (strchr("._-", *p) || (*p >= '0' && *p <= '9') ||
			     (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
				    ? *p
				    : '_';
	leaf[j] = '\0';
	int w = snprintf(child, sizeof(child), "%s/%s", cg->dir, leaf);
	if (w < 0 || (size_t)w >= sizeof(child))
		return -ENAMETOOLONG;
	if (mkdir(child, 0755) != 0 && errno != EEXIST)
		return -errno;
	struct memcg c = *cg;
	snprintf(c.dir, sizeof(c.dir), "%s", child);
	if (cg->version == MEMCG_V1) {
		/* Charges follow a moved task only where the kernel still
		 * moves them (removed from recent kernels). */
		if (cg_write(&c, c.dir, "memory.move_charge_at_immigrate", "3") != 0)
			snprintf(note, note_len, "this kernel does not move memory charges with a task");
	} else {
		int err = cg_write(&c, cg->dir, "cgroup.subtree_control", "+memory");
		if (err) {
			rmdir(child);
			return err;
		}
		snprintf(note, note_len, "cgroup v2 never moves memory charges with a task");
	}
	char pidbuf[32];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int err = cg_write(&c, c.dir, "cgroup.procs", pidbuf);
	if (err) {
		rmdir(child);
		return err;
	}
	size_t nl = strlen(cg->name);
	snprintf(c.name, sizeof(c.name), "%.*s%s%s", (int)(nl > 400 ? 400 : nl), cg->name,
		 (nl && cg->name[nl - 1] == '/') ? "" : "/", leaf);
	*cg = c;
	return 0;
}

/* ---- what is in it ---- */

int
memcg_usage(const struct memcg *cg, uint64_t *bytes)
{
	switch (cg->version) {
	case MEMCG_V1:
		return cg_read_u64(cg, "memory.usage_in_bytes", bytes);
	case MEMCG_V2:
		return cg_read_u64(cg, "memory.current", bytes);
	case MEMCG_NONE:
		break;
	}
	return -ENOENT;
}

int
memcg_swappiness(const struct memcg *cg, int *own)
{
	uint64_t v;
	*own = 0;
	if (cg->version == MEMCG_V1 && cg_read_u64(cg, "memory.swappiness", &v) == 0) {
		*own = 1;
		return (int)v;
	}
	char buf[32];
	if (real_read(NULL, "/proc/sys/vm/swappiness", buf, sizeof(buf)) != 0)
		return -1;
	return atoi(buf);
}

int
memcg_writable(const struct memcg *cg, char *why, size_t why_len)
{
	static const char *const v1_files[] = {"memory.limit_in_bytes", "memory.oom_control",
					       "memory.usage_in_bytes"};
	static const char *const v2_files[] = {"memory.reclaim", "memory.current"};
	const char *const *files = cg->version == MEMCG_V1 ? v1_files : v2_files;
	size_t n = cg->version == MEMCG_V1 ? 3 : 2;
	if (cg->version == MEMCG_NONE)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		char path[MEMCG_PATH_MAX + 64];
		int err = cg_path(path, sizeof(path), cg->dir, files[i]);
		if (!err && access(path, i == n - 1 ? R_OK : W_OK) != 0)
			err = -errno;
		if (err) {
			snprintf(why, why_len, "%.200s/%s: %s", cg->dir, files[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* ---- reclaim ---- */

static volatile sig_atomic_t deadline_hit;

static void
on_deadline(int sig)
{
	(void)sig;
	deadline_hit = 1;
}

/* Signals while reclaiming: all blocked, and SIGALRM ours for the deadline. */
struct guard {
	sigset_t old_mask;
	struct sigaction old_alarm;
	struct itimerval old_timer;
};

static void
guard_enter(struct guard *g)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &g->old_mask);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_deadline; /* no SA_RESTART: the write must return */
	sigfillset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &g->old_alarm);
	getitimer(ITIMER_REAL, &g->old_timer);
}

/* Writes @p value to @p name with only SIGALRM deliverable, for at most
 * @p deadline_ns (0: no deadline). */
static int
guarded_write(const struct memcg *cg, const char *name, const char *value, uint64_t deadline_ns)
{
	struct itimerval t;
	memset(&t, 0, sizeof(t));
	sigset_t alarm;
	sigemptyset(&alarm);
	sigaddset(&alarm, SIGALRM);
	deadline_hit = 0;
	if (deadline_ns > 0) {
		t.it_value.tv_sec = (time_t)(deadline_ns / NS_PER_S);
		t.it_value.tv_usec = (suseconds_t)(deadline_ns % NS_PER_S / 1000);
		if (t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0)
			t.it_value.tv_usec = 1;
		setitimer(ITIMER_REAL, &t, NULL);
		pthread_sigmask(SIG_UNBLOCK, &alarm, NULL);
	}
	int err = cg_write(cg, cg->dir, name, value);
	if (deadline_ns > 0) {
		pthread_sigmask(SIG_BLOCK, &alarm, NULL);
		memset(&t, 0, sizeof(t));
		setitimer(ITIMER_REAL, &t, NULL);
		/* A SIGALRM that fired after the write: ours, take it now. */
		struct timespec zero = {0, 0};
		while (sigtimedwait(&alarm, NULL, &zero) == SIGALRM)
			deadline_hit = 1;
	}
	return err;
}

static void
guard_leave(struct guard *g)
{
	sigaction(SIGALRM, &g->old_alarm, NULL);
	setitimer(ITIMER_REAL, &g->old_timer, NULL);
	pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
}

int
memcg_journal_path(char *out, size_t len, const char *dir, const struct memcg *cg)
{
	uint64_t h = fnv1a(FNV1A_BASIS, cg->dir);
	int w = snprintf(out, len, "%s/" JOURNAL_PREFIX "%016" PRIx64, dir, h);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/* This boot's id ("-" where it cannot be read): a journal from another
 * boot names a cgroup that no longer exists, whatever is at its path. */
static const char *
boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int ok = f != NULL && fgets(buf, (int)len, f) != NULL;
	if (f != NULL)
		fclose(f);
	if (!ok)
		snprintf(buf, len, "-");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* A rename is durable once its directory is. */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* A journal on disk, locked while its agent is in the gap. */
struct journal {
	int fd;
	char path[MEMCG_PATH_MAX + 64];
};

static int
journal_write(struct journal *j, const char *dir, const struct memcg *cg, uint64_t limit,
	      uint64_t lowered, uint64_t oom_kill_disable)
{
	char tmp[MEMCG_PATH_MAX + 80];
	j->fd = -1;
	int err = memcg_journal_path(j->path, sizeof(j->path), dir, cg);
	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Held until the limit is back: memcg_recover() leaves a locked
	 * journal alone, its agent is alive. */
	if (flock(fd, LOCK_EX) != 0) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	char text[MEMCG_PATH_MAX + 240], boot[40];
	struct stat st;
	memset(&st, 0, sizeof(st));
	if (stat(cg->dir, &st) != 0)
		err = -errno;
	int n = snprintf(text, sizeof(text),
			 "dir %s\nlimit %" PRIu64 "\nlowered %" PRIu64 "\noom_kill_disable %" PRIu64
			 "\nboot %s\ncgroup %" PRIu64 " %" PRIu64 "\n",
			 cg->dir, limit, lowered, oom_kill_disable, boot_id(boot, sizeof(boot)),
			 (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (err == 0 && (n < 0 || (size_t)n >= sizeof(text)))
		err = -ENAMETOOLONG;
	else if (err == 0 && write(fd, text, (size_t)n) != n)
		err = -EIO;
	/* On disk before the limit moves: a crash must not leave an empty
	 * journal behind a lowered limit. */
	if (err == 0 && fsync(fd) != 0)
		err = -errno;
	if (err == 0 && rename(tmp, j->path) != 0)
		err = -errno;
	if (err == 0)
		sync_dir(dir);
	if (err) {
		unlink(tmp);
		close(fd);
		return err;
	}
	j->fd = fd;
	return 0;
}

/* The limit is back: no more journal. */
static void
journal_done(struct journal *j)
{
	if (j->fd < 0)
		return;
	unlink(j->path);
	close(j->fd);
	j->fd = -1;
}

/* It could not be put back: the journal stays, unlocked, for the next agent. */
static void
journal_keep(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

/* Puts the limit back unless someone else changed it meanwhile. */
static int
restore_limit(const struct memcg *cg, uint64_t limit, uint64_t lowered, int *changed_by_other)
{
	uint64_t now = 0;
	int err = 0;
	*changed_by_other = 0;
	for (int i = 0; i < RESTORE_TRIES; i++) {
		int rerr = cg_read_u64(cg, "memory.limit_in_bytes", &now);
		if (rerr == 0 && now == limit)
			return 0;
		if (rerr == 0 && now != lowered) {
			*changed_by_other = 1;
			return 0;
		}
		err = cg_write_u64(cg, "memory.limit_in_bytes", limit);
		if (err == 0)
			continue; /* read it back */
	}
	return err ? err : -EIO;
}

static int
set_oom_kill_disable(const struct memcg *cg, uint64_t v)
{
	int err = 0;
	for (int i = 0; i < RESTORE_TRIES; i++) {
		err = cg_write(cg, cg->dir, "memory.oom_control", v ? "1" : "0");
		if (err != -EINTR)
			break;
	}
	return err;
}

static int
reclaim_v1(struct memcg_reclaim *r, const struct memcg *cg, uint64_t bytes,
	   uint64_t deadline_ns, const char *journal)
{
	char buf[256];
	uint64_t oom_kill_disable = 0, under_oom = 0;
	int err = cg_read(cg, cg->dir, "memory.oom_control", buf, sizeof(buf));
	if (err == 0 && (keyed_u64(buf, "oom_kill_disable", &oom_kill_disable) != 0 ||
			 keyed_u64(buf, "under_oom", &under_oom) != 0))
		err = -EPROTO;
	if (err) {
		snprintf(r->note, sizeof(r->note), "memory.oom_control: %s", strerror(-err));
		return err;
	}
	if (under_oom) {
		snprintf(r->note, sizeof(r->note), "the cgroup is under OOM: not touching its limit");
		return -EBUSY;
	}
	err = cg_read_u64(cg, "memory.limit_in_bytes", &r->limit);
	if (err) {
		snprintf(r->note, sizeof(r->note), "memory.limit_in_bytes: %s", strerror(-err));
		return err;
	}
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t page = ps > 0 ? (uint64_t)ps : 4096;
	uint64_t usage = r->usage_before;
	if (bytes >= usage || usage - bytes < page) {
		snprintf(r->note, sizeof(r->note), "asked for all of the cgroup's %" PRIu64 " bytes",
			 usage);
		return -EINVAL;
	}
	uint64_t lowered = (usage - bytes) / page * page;
	if (lowered >= r->limit) {
		r->status = 0; /* the usage is above the limit: nothing to ask */
		return 0;
	}
	r->lowered = lowered;

	struct guard g;
	struct journal j = {.fd = -1};
	guard_enter(&g);
	if (journal != NULL) {
		err = journal_write(&j, journal, cg, r->limit, lowered, oom_kill_disable);
		if (err) {
			guard_leave(&g);
			snprintf(r->note, sizeof(r->note), "journal in %.150s: %s", journal,
				 strerror(-err));
			return err;
		}
	}
	if (!oom_kill_disable) {
		err = set_oom_kill_disable(cg, 1);
		if (err) {
			journal_done(&j);
			guard_leave(&g);
			snprintf(r->note, sizeof(r->note),
				 "cannot disable the cgroup's OOM killer (%s): limit left alone",
				 strerror(-err));
			return err;
		}
	}
	char value[32];
	snprintf(value, sizeof(value), "%" PRIu64, lowered);
	r->status = guarded_write(cg, "memory.limit_in_bytes", value, deadline_ns);
	int other = 0;
	int rerr = restore_limit(cg, r->limit, lowered, &other);
	int oerr = oom_kill_disable ? 0 : set_oom_kill_disable(cg, 0);
	if (rerr == 0 && oerr == 0)
		journal_done(&j);
	else
		journal_keep(&j);
	guard_leave(&g);

	r->restored = rerr == 0 && oerr == 0;
	if (rerr) {
		snprintf(r->note, sizeof(r->note),
			 "COULD NOT RESTORE memory.limit_in_bytes %" PRIu64 " (%s)%s", r->limit,
			 strerror(-rerr), journal ? "; the journal keeps it" : "");
		return -EIO;
	}
	if (oerr) {
		snprintf(r->note, sizeof(r->note), "COULD NOT RESTORE oom_kill_disable 0 (%s)%s",
			 strerror(-oerr), journal ? "; the journal keeps it" : "");
		return -EIO;
	}
	snprintf(r->note, sizeof(r->note), "limit lowered to %" PRIu64 " (%s), %s", lowered,
		 r->status == 0 ? "reached"
		 : r->status == -EBUSY ? "EBUSY: fell short"
		 : r->status == -EINTR ? "deadline: interrupted"
				       : strerror(-r->status),
		 other ? "then changed by someone else: left as they set it" : "restored");
	return 0;
}

int
memcg_reclaim(struct memcg_reclaim *r, const struct memcg *cg, uint64_t bytes,
	      uint64_t deadline_ns, const char *journal)
{
	memset(r, 0, sizeof(*r));
	r->asked = bytes;
	if (cg->version == MEMCG_NONE)
		return -ENOENT;
	int err = memcg_usage(cg, &r->usage_before);
	if (err) {
		snprintf(r->note, sizeof(r->note), "usage: %s", strerror(-err));
		return err;
	}
	if (bytes == 0) {
		r->usage_after = r->usage_before;
		return 0;
	}
	if (cg->version == MEMCG_V1) {
		err = reclaim_v1(r, cg, bytes, deadline_ns, journal);
	} else {
		char value[32];
		snprintf(value, sizeof(value), "%" PRIu64, bytes);
		struct guard g;
		guard_enter(&g);
		r->status = guarded_write(cg, "memory.reclaim", value, deadline_ns);
		guard_leave(&g);
		r->restored = 1;
		snprintf(r->note, sizeof(r->note), "memory.reclaim %s",
			 r->status == 0 ? "done"
			 : r->status == -EAGAIN ? "EAGAIN: fell short"
			 : r->status == -EINTR ? "deadline: interrupted"
					       : strerror(-r->status));
		/* Not allowed to write it: the caller may fall back. */
		if (r->status == -EPERM || r->status == -EACCES || r->status == -EROFS ||
		    r->status == -ENOENT)
			err = r->status;
	}
	if (memcg_usage(cg, &r->usage_after) != 0)
		r->usage_after = r->usage_before;
	return err;
}

/* Why the cgroup at a journal's path is not the one it was written for, or
 * NULL when it is (or the journal, from an older agent, does not say). */
static const char *
journal_elsewhere(const char *keys, const char *dir)
{
	uint64_t dev = 0, ino = 0;
	struct stat st;
	char boot[40];
	const char *b = strstr(keys, "boot ");

	if (b != NULL && (b == keys || b[-1] == '\n')) {
		size_t len = strcspn(b + 5, "\n");
		boot_id(boot, sizeof(boot));
		/* ("-": a boot id that could not be read says nothing) */
		if (strcmp(boot, "-") != 0 && strncmp(b + 5, "-\n", 2) != 0 &&
		    (len != strlen(boot) || strncmp(b + 5, boot, len) != 0))
			return "written before the host last started, for a cgroup that is gone";
	}
	const char *c = strstr(keys, "\ncgroup ");
	if (c != NULL && sscanf(c + 8, "%" SCNu64 " %" SCNu64, &dev, &ino) == 2 &&
	    stat(dir, &st) == 0 && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino))
		return "made again since its journal was written (another cgroup at the same path)";
	return NULL;
}

/* Replays one journal; 1 restored, 0 nothing to do, or -errno. */
static int
recover_one(const char *path, const struct memcg_io *io, char *msg, size_t msg_len)
{
	char buf[MEMCG_PATH_MAX + 256];
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno == EWOULDBLOCK ? 0 : -errno;
		close(fd); /* its agent is alive and in the gap */
		return err;
	}
	/* Only a journal an agent of ours wrote is replayed: one another user
	 * could have written would have root write its numbers anywhere. */
	struct stat st;
	if (!file_is_ours(fd, &st)) {
		close(fd);
		snprintf(msg, msg_len, "%.200s: not written by us; left alone", path);
		return -EPERM;
	}
	/* Locked, but is it still the journal at @p path? Its agent may have
	 * removed it (the limit back) between our open and our lock, and be in
	 * its next gap with a new journal there, locked: that one is its. */
	if (!file_still_named(AT_FDCWD, path, fd)) {
		close(fd);
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	size_t plen = strlen(path);
	if (plen > 4 && !strcmp(path + plen - 4, ".tmp")) {
		/* Written, never committed: the limit was not lowered. */
		unlink(path);
		close(fd);
		return 0;
	}
	if (n == 0) {
		/* Committed but empty: an agent without the fsync before the
		 * limit moved, and a crash. What it lowered cannot be known. */
		unlink(path);
		close(fd);
		snprintf(msg, msg_len, "%.200s: empty (a crash before it reached the disk); "
			 "removed, with nothing to restore", path);
		return 0;
	}
	struct memcg cg;
	memset(&cg, 0, sizeof(cg));
	cg.io = io;
	cg.version = MEMCG_V1;
	uint64_t limit = 0, lowered = 0, okd = 0;
	char *dir = strncmp(buf, "dir ", 4) == 0 ? buf + 4 : NULL;
	char *nl = dir ? strchr(dir, '\n') : NULL;
	if (nl == NULL || keyed_u64(nl + 1, "limit", &limit) != 0 ||
	    keyed_u64(nl + 1, "lowered", &lowered) != 0 ||
	    keyed_u64(nl + 1, "oom_kill_disable", &okd) != 0 ||
	    (size_t)(nl - dir) >= sizeof(cg.dir)) {
		close(fd);
		snprintf(msg, msg_len, "%.200s: not a journal of ours; left alone", path);
		return -EPROTO;
	}
	memcpy(cg.dir, dir, (size_t)(nl - dir));
	cg.dir[nl - dir] = '\0';
	if (!exists(cg.dir, "memory.limit_in_bytes")) {
		unlink(path);
		close(fd);
		snprintf(msg, msg_len, "%.200s is gone; nothing to restore", cg.dir);
		return 0;
	}
	const char *other_cgroup = journal_elsewhere(nl + 1, cg.dir);
	if (other_cgroup != NULL) {
		unlink(path);
		close(fd);
		snprintf(msg, msg_len, "%.200s: %s; its journal is removed and the cgroup left as "
			 "it is", cg.dir, other_cgroup);
		return 0;
	}
	struct guard g;
	guard_enter(&g);
	int other = 0;
	int rerr = restore_limit(&cg, limit, lowered, &other);
	int oerr = okd ? 0 : set_oom_kill_disable(&cg, 0);
	if (rerr == 0 && oerr == 0)
		unlink(path);
	guard_leave(&g);
	close(fd);
	if (rerr || oerr) {
		snprintf(msg, msg_len, "%.200s: cannot restore memory.limit_in_bytes %" PRIu64
			 " and oom_kill_disable %" PRIu64 ": %s", cg.dir, limit, okd,
			 strerror(rerr ? -rerr : -oerr));
		return rerr ? rerr : oerr;
	}
	snprintf(msg, msg_len, "%.200s: %s memory.limit_in_bytes %" PRIu64
		 " and oom_kill_disable %" PRIu64 " left by an agent that stopped between "
		 "lowering and restoring", cg.dir,
		 other ? "someone else had changed the limit; restored only" : "restored", limit,
		 okd);
	return 1;
}

int
memcg_recover(const char *dir, const struct memcg_io *io, char *msg, size_t msg_len)
{
	msg[0] = '\0';
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		int err = -errno;
		snprintf(msg, msg_len, "%.200s: %s", dir, strerror(-err));
		return err;
	}
	int restored = 0, failed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)) != 0)
			continue;
		char path[MEMCG_PATH_MAX + 64], one[600] = "";
		int w = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (w < 0 || (size_t)w >= sizeof(path))
			continue;
		int r = recover_one(path, io, one, sizeof(one));
		if (r > 0)
			restored += r;
		else if (r < 0)
			failed = r;
		if (one[0] != '\0') {
			size_t used = strlen(msg);
			snprintf(msg + used, msg_len - used, "%s%s", used ? "\n" : "", one);
		}
	}
	closedir(d);
	return failed ? failed : restored;
}
