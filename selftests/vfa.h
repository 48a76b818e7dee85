/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfa.h: what every vforkacct selftest needs: read the files of /proc/vforkacct,
 * set parameters, reload the module, and read /proc/meminfo.
 */
#ifndef VFA_TEST_H
#define VFA_TEST_H

#include <stdbool.h>
#include <sys/types.h>

#define VFA_PROC	"/proc/vforkacct"
#define VFA_PARAMS	"/sys/module/vforkacct/parameters"

struct vfa_row {
	unsigned long long seq, time_ns;
	int ppid, pid;
	char comm[64];
	char kind[16];
	long charge_kb, committed_kb, allowed_kb;	/* -1 for "-" */
	char verdict[16];
	char outcome[16];
	long long life_us, faults;			/* -1 for "-" */
	char exec_comm[64];
};

/* A summary field ("forks", "limit", ...); exits the test if missing. */
long long vfa_summary(const char *key);
/* All rows of forks; *n rows, caller frees.  NULL on error. */
struct vfa_row *vfa_forks(int *n);
/* The row of child pid @pid forked by @ppid, or NULL. */
struct vfa_row *vfa_find(struct vfa_row *rows, int n, int ppid, int pid);
/* Writes @val to @path; 0 or -errno. */
int vfa_write(const char *path, const char *val, size_t len);
int vfa_reset(void);
int vfa_param(const char *name, const char *val);
/* Reads a parameter; -1 on error. */
long long vfa_param_get(const char *name);
/* rmmod, then insmod with @params ("" for defaults); insmod's status. */
int vfa_reload(const char *params);
/* A /proc/meminfo field in kB, or -1. */
long long meminfo_kb(const char *key);
/* Reads a whole file into a malloc'd string; NULL and errno on error. */
char *read_file(const char *path);
/* Exits 4 (KSFT_SKIP) with a KTAP plan of 0 unless the module is loaded. */
void vfa_require_module(void);
/* Forks and waits for a child that does nothing but _exit(0). */
pid_t fork_and_reap(void);
/* Maps @mb MiB private writable anonymous memory; touch it if @dirty. */
void *map_private(size_t mb, bool dirty);

#endif
