// SPDX-License-Identifier: GPL-2.0
/*
 * vfa.c: helpers shared by the vforkacct selftests; see vfa.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfa.h"

char *read_file(const char *path)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t r;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
		len += r;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

long long vfa_summary(const char *key)
{
	char *s = read_file(VFA_PROC "/summary"), *p;
	size_t klen = strlen(key);
	long long v;

	if (!s) {
		printf("# cannot read %s/summary: %s\n", VFA_PROC, strerror(errno));
		exit(1);
	}
	for (p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			v = strtoll(p + klen + 1, NULL, 10);
			free(s);
			return v;
		}
	}
	printf("# summary has no field %s\n", key);
	free(s);
	exit(1);
}

static long parse_num(const char *s)
{
	return strcmp(s, "-") ? strtol(s, NULL, 10) : -1;
}

struct vfa_row *vfa_forks(int *n)
{
	char *s = read_file(VFA_PROC "/forks"), *line, *save = NULL;
	struct vfa_row *rows = NULL;
	int cap = 0;

	*n = 0;
	if (!s)
		return NULL;
	line = strtok_r(s, "\n", &save);	/* the header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		char charge[32], life[32], faults[32];
		struct vfa_row r;

		if (sscanf(line, "%llu %llu %d %d %63s %15s %31s %ld %ld %15s %15s %31s %31s %63s",
			   &r.seq, &r.time_ns, &r.ppid, &r.pid, r.comm, r.kind,
			   charge, &r.committed_kb, &r.allowed_kb, r.verdict,
			   r.outcome, life, faults, r.exec_comm) != 14) {
			printf("# bad forks line: %s\n", line);
			continue;
		}
		r.charge_kb = parse_num(charge);
		r.life_us = parse_num(life);
		r.faults = parse_num(faults);
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			rows = realloc(rows, cap * sizeof(*rows));
			if (!rows)
				exit(1);
		}
		rows[(*n)++] = r;
	}
	free(s);
	if (!rows)
		rows = calloc(1, sizeof(*rows));
	return rows;
}

struct vfa_row *vfa_find(struct vfa_row *rows, int n, int ppid, int pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].ppid == ppid && rows[i].pid == pid)
			return &rows[i];
	return NULL;
}

int vfa_write(const char *path, const char *val, size_t len)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

int vfa_reset(void)
{
	return vfa_write(VFA_PROC "/control", "reset\n", 6);
}

int vfa_param(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), VFA_PARAMS "/%s", name);
	return vfa_write(path, val, strlen(val));
}

long long vfa_param_get(const char *name)
{
	char path[256], *s;
	long long v;

	snprintf(path, sizeof(path), VFA_PARAMS "/%s", name);
	s = read_file(path);
	if (!s)
		return -1;
	v = strtoll(s, NULL, 10);
	free(s);
	return v;
}

int vfa_reload(const char *params)
{
	const char *kver = getenv("VFA_KVER");
	char cmd[1024];

	if (!kver) {
		printf("# VFA_KVER is not set (run under scripts/vm)\n");
		return -1;
	}
	if (system("rmmod vforkacct 2>/dev/null; true"))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "insmod .build/%s/vforkacct.ko %s 2>&1 | sed 's/^/# /'; test -d /sys/module/vforkacct",
		 kver, params);
	return system(cmd);
}

long long meminfo_kb(const char *key)
{
	char *s = read_file("/proc/meminfo"), *p;
	size_t klen = strlen(key);
	long long v = -1;

	if (!s)
		return -1;
	for (p = s; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			v = strtoll(p + klen + 1, NULL, 10);
			break;
		}
	}
	free(s);
	return v;
}

void vfa_require_module(void)
{
	if (access(VFA_PROC "/summary", R_OK)) {
		printf("TAP version 13\n1..0 # SKIP vforkacct module not loaded\n");
		exit(4);
	}
}

pid_t fork_and_reap(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

void *map_private(size_t mb, bool dirty)
{
	size_t len = mb << 20;
	char *p;

	if (!len)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("# mmap %zu MiB: %s\n", mb, strerror(errno));
		exit(1);
	}
	if (dirty)
		memset(p, 1, len);
	return p;
}
