/* SPDX-License-Identifier: MIT */
/*
 * Runs a libFuzzer target over files and directories of files without
 * libFuzzer, so the committed corpus is an ordinary test on any compiler.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *bigger = realloc(data, cap);
			if (!bigger) {
				fclose(f);
				free(data);
				return -1;
			}
			data = bigger;
		}
		size_t got = fread(data + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (!bad)
		LLVMFuzzerTestOneInput(data, len);
	free(data);
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	int runs = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 1;
			runs++;
			continue;
		}
		DIR *dir = opendir(argv[i]);
		struct dirent *e;
		if (!dir) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(dir))) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			int n = snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (n < 0 || (size_t)n >= sizeof(path) || run_file(path) < 0) {
				closedir(dir);
				return 1;
			}
			runs++;
		}
		closedir(dir);
	}
	printf("replayed %d inputs\n", runs);
	return runs > 0 ? 0 : 1;
}
