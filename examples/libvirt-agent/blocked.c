/* SPDX-License-Identifier: MIT */
/*
 * The domains this agent suspended, one a line in STATE_DIR/blocked: the
 * UUID, then libvirt's domain id and the QEMU process id of the run it
 * suspended ("UUID ID PID", 0 for what is not known; a line of the UUID
 * alone, as earlier agents wrote, is a run not known). A line is written
 * before the domain is suspended and removed after it is resumed, so an
 * agent killed in between leaves it listed, and the next one resumes it,
 * if it is still that run. The directory is the agent's alone: created
 * 0700, refused when others could write into it, and used through the
 * descriptor it was checked by (a path that whoever can write a parent
 * swaps for a link later leads nowhere); the file is replaced atomically,
 * mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvagent.h"

/* A UUID a line: room for some 28,000 domains, far more than a host runs. */
#define BLOCKED_MAX_BYTES (1 << 20)

static int
valid_uuid(const char *s)
{
	if (strlen(s) != VIR_UUID_STRING_BUFLEN - 1)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static int
push(struct lv_blocked *b, const char *uuid, struct lv_run run)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		void *p = realloc(b->entries, cap * sizeof(*b->entries));
		if (p == NULL)
			return -ENOMEM;
		b->entries = p;
		b->cap = cap;
	}
	struct lv_blocked_entry *e = &b->entries[b->n++];
	snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
	e->run = run;
	return 0;
}

/* A line, "UUID" or "UUID ID PID": cut to the UUID, the run in @p run;
 * 0 if it is neither. */
static int
parse_line(char *line, struct lv_run *run)
{
	char *rest = line + strcspn(line, " ");
	memset(run, 0, sizeof(*run));
	if (*rest != '\0') {
		char *end;
		*rest++ = '\0';
		errno = 0;
		unsigned long id = strtoul(rest, &end, 10);
		if (errno || end == rest || *end != ' ' || id > UINT32_MAX || rest[0] == '-')
			return 0;
		rest = end + 1;
		long pid = strtol(rest, &end, 10);
		if (errno || end == rest || *end != '\0' || pid < 0 || rest[0] == '-')
			return 0;
		run->id = (unsigned int)id;
		run->pid = pid;
	}
	return valid_uuid(line);
}

int
blocked_open(struct lv_blocked *b, const char *dir)
{
	memset(b, 0, sizeof(*b));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int err = -errno;
		lv_log(LV_ERROR, "state directory %s: %s", dir, strerror(errno));
		return err;
	}
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno != ENOTDIR && errno != ELOOP) {
		int err = -errno;
		lv_log(LV_ERROR, "state directory %s: %s", dir, strerror(errno));
		return err;
	}
	if (dfd < 0 || fstat(dfd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 0022)) {
		lv_log(LV_ERROR, "state directory %s must be a directory of ours that only we "
		       "can write (mode 0700)", dir);
		if (dfd >= 0)
			close(dfd);
		return -EPERM;
	}
	b->dir_fd = dfd;
	b->has_dir = 1;
	int w = snprintf(b->path, sizeof(b->path), "%s/blocked", dir);
	if (w < 0 || (size_t)w >= sizeof(b->path))
		return -ENAMETOOLONG;

	/* Not through a link, not blocking on a FIFO: a file of ours, as
	 * save() writes it, or nothing is read. */
	int fd = openat(dfd, "blocked", O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!file_is_ours(fd, &st) || st.st_size > BLOCKED_MAX_BYTES) {
		lv_log(LV_ERROR, "%s is not a file the agent wrote (a regular file of ours, mode "
		       "0600, at most %d bytes): not read", b->path, BLOCKED_MAX_BYTES);
		close(fd);
		return -EPERM;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		int err = -errno;
		close(fd);
		return err;
	}
	char line[128];
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		struct lv_run run;
		if (!parse_line(line, &run)) {
			lv_log(LV_WARN, "%s: ignoring a line that is not a UUID (and the run it "
			       "was suspended in)", b->path);
			continue;
		}
		if (!blocked_has(b, line) && push(b, line, run) != 0) {
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	return 0;
}

void
blocked_close(struct lv_blocked *b)
{
	free(b->entries);
	b->entries = NULL;
	b->n = b->cap = 0;
	if (b->has_dir)
		close(b->dir_fd);
	b->has_dir = 0;
}

static struct lv_blocked_entry *
entry_of(const struct lv_blocked *b, const char *uuid)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->entries[i].uuid, uuid))
			return &b->entries[i];
	return NULL;
}

int
blocked_has(const struct lv_blocked *b, const char *uuid)
{
	return entry_of(b, uuid) != NULL;
}

const struct lv_run *
blocked_run(const struct lv_blocked *b, const char *uuid)
{
	const struct lv_blocked_entry *e = entry_of(b, uuid);
	return e ? &e->run : NULL;
}

static int
save(const struct lv_blocked *b)
{
	if (!b->has_dir)
		return -EBADF;
	unlinkat(b->dir_fd, "blocked.new", 0);
	int fd = openat(b->dir_fd, "blocked.new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0600);
	if (fd < 0)
		return -errno;
	int err = 0;
	for (size_t i = 0; i < b->n && !err; i++) {
		const struct lv_blocked_entry *e = &b->entries[i];
		char line[VIR_UUID_STRING_BUFLEN + 48];
		int len = snprintf(line, sizeof(line), "%s %u %ld\n", e->uuid, e->run.id,
				   e->run.pid);
		if (write(fd, line, (size_t)len) != len)
			err = errno ? -errno : -EIO;
	}
	if (!err && fsync(fd) != 0)
		err = -errno;
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && renameat(b->dir_fd, "blocked.new", b->dir_fd, "blocked") != 0)
		err = -errno;
	if (err)
		unlinkat(b->dir_fd, "blocked.new", 0);
	return err;
}

int
blocked_add(struct lv_blocked *b, const char *uuid, struct lv_run run)
{
	if (b->path[0] == '\0')
		return -EBADF;
	struct lv_blocked_entry *e = entry_of(b, uuid);
	if (e != NULL) {
		/* Listed by an earlier run of the agent: now this run's. */
		struct lv_run was = e->run;
		if (was.id == run.id && was.pid == run.pid)
			return 0;
		e->run = run;
		int err = save(b);
		if (err)
			e->run = was;
		return err;
	}
	int err = push(b, uuid, run);
	if (err)
		return err;
	err = save(b);
	if (err)
		b->n--;
	return err;
}

void
blocked_saved(struct lv_blocked *b, const char *uuid)
{
	struct lv_blocked_entry *e = entry_of(b, uuid);
	if (e == NULL || (e->run.id == 0 && e->run.pid == 0))
		return;
	memset(&e->run, 0, sizeof(e->run));
	int err = blocked_sync(b);
	if (err)
		lv_log(LV_WARN, "%s: cannot rewrite it: %s", b->path, strerror(-err));
}

int
blocked_drop(struct lv_blocked *b, const char *uuid)
{
	for (size_t i = 0; i < b->n; i++) {
		if (strcmp(b->entries[i].uuid, uuid) != 0)
			continue;
		memmove(&b->entries[i], &b->entries[i + 1], (b->n - i - 1) * sizeof(b->entries[0]));
		b->n--;
		return 1;
	}
	return 0;
}

int
blocked_lock(struct lv_blocked *b)
{
	if (!b->has_dir)
		return -EBADF;
	if (flock(b->dir_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
	lv_log(LV_ERROR, "%s: another agent uses this state directory", b->path);
	return err;
}

int
blocked_sync(const struct lv_blocked *b)
{
	return b->path[0] ? save(b) : 0;
}

int
blocked_remove(struct lv_blocked *b, const char *uuid)
{
	return blocked_drop(b, uuid) ? blocked_sync(b) : 0;
}
