/* SPDX-License-Identifier: MIT */
/*
 * The files an agent keeps for itself (the cgroup v1 journal, its records
 * of the guests it stopped): what makes one its own, and still the one at
 * its name once locked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int
file_is_ours(int fd, struct stat *st)
{
	return fstat(fd, st) == 0 && S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
	       !(st->st_mode & 022);
}

int
file_still_named(int dir, const char *name, int fd)
{
	struct stat held, named;

	return fstat(fd, &held) == 0 && held.st_nlink > 0 &&
	       fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
	       held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}
