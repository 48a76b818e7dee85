// SPDX-License-Identifier: GPL-2.0
/*
 * vfa.c: helpers shared by the vforkacct selftests; see vfa.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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
		char pid[32], charge[32], life[32], faults[32], nr[32], m2[32];
		struct vfa_row r;

		if (sscanf(line, "%llu %llu %d %31s %63s %15s %31s %ld %ld %15s %15s %31s %31s %63s %u %llu %31s %31s",
			   &r.seq, &r.time_ns, &r.ppid, pid, r.comm, r.kind,
			   charge, &r.committed_kb, &r.allowed_kb, r.verdict,
			   r.outcome, life, faults, r.exec_comm, &r.uid,
			   &r.cgroup_id, nr, m2) != 18) {
			printf("# bad forks line: %s\n", line);
			continue;
		}
		r.pid = parse_num(pid);		/* -1: refused, no child */
		r.noreserve_kb = parse_num(nr);
		r.mode2_charge_kb = parse_num(m2);
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

pid_t vfork_and_reap(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

int fork_sleepers(pid_t *pids, int n)
{
	int p[2], i;
	char c;

	if (pipe(p))
		return -1;
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[1]);
			if (read(p[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(p[0]);
	return p[1];
}

void reap_all(const pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
}

pid_t fork_sleeper(int *wfd)
{
	pid_t pid;

	*wfd = fork_sleepers(&pid, 1);
	return *wfd < 0 ? -1 : pid;
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

struct vfa_task *vfa_tasks(int *n)
{
	static const char header[] =
		"pid ppid comm committed_kB fork_charge_kB fork_now noreserve_kB mode2_committed_kB mode2_fork_charge_kB";
	char *s = read_file(VFA_PROC "/tasks"), *line, *save = NULL;
	struct vfa_task *rows = NULL;
	int cap = 0;

	*n = 0;
	if (!s) {
		printf("# cannot read %s/tasks: %s\n", VFA_PROC, strerror(errno));
		return NULL;
	}
	line = strtok_r(s, "\n", &save);
	if (!line || strcmp(line, header)) {
		printf("# bad tasks header: %s\n", line ? line : "(none)");
		goto bad;
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		struct vfa_task t;
		int end = -1;

		if (sscanf(line, "%d %d %63s %ld %ld %15s %ld %ld %ld%n",
			   &t.pid, &t.ppid, t.comm, &t.committed_kb,
			   &t.fork_charge_kb, t.fork_now, &t.noreserve_kb,
			   &t.mode2_committed_kb, &t.mode2_fork_charge_kb,
			   &end) != 9 || line[end]) {
			printf("# bad tasks line: %s\n", line);
			goto bad;
		}
		if (*n == cap) {
			struct vfa_task *nr;

			cap = cap ? cap * 2 : 256;
			nr = realloc(rows, cap * sizeof(*rows));
			if (!nr)
				goto bad;
			rows = nr;
		}
		rows[(*n)++] = t;
	}
	free(s);
	if (!rows)
		rows = calloc(1, sizeof(*rows));
	return rows;
bad:
	free(rows);
	free(s);
	*n = 0;
	return NULL;
}

struct vfa_task *vfa_task_find(struct vfa_task *rows, int n, int pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].pid == pid)
			return &rows[i];
	return NULL;
}

long long proc_kb(const char *path, const char *key)
{
	size_t klen = strlen(key), len = 0;
	char buf[16384], *p;
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = '\0';
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtoll(p + klen + 1, NULL, 10);
	return -1;
}

long long vm_sysctl(const char *name)
{
	char path[128], buf[64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	return strtoll(buf, NULL, 10);
}

int vm_sysctl_set(const char *name, long long val)
{
	char path[128], s[32];

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	snprintf(s, sizeof(s), "%lld\n", val);
	return vfa_write(path, s, strlen(s));
}

static int caps(struct __user_cap_data_struct d[2], bool set)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	if (syscall(set ? SYS_capset : SYS_capget, &h, d))
		return -errno;
	return 0;
}

int drop_cap_sys_admin(void)
{
	struct __user_cap_data_struct d[2];
	int ret = caps(d, false);

	if (ret)
		return ret;
	d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	return caps(d, true);
}

bool has_cap_sys_admin(void)
{
	struct __user_cap_data_struct d[2];

	return !caps(d, false) &&
	       (d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
		CAP_TO_MASK(CAP_SYS_ADMIN));
}

/* Whether a VmFlags line has the two-letter flag @f. */
static bool has_vmflag(const char *line, const char *f)
{
	const char *p;

	for (p = strstr(line, f); p; p = strstr(p + 1, f))
		if (p[-1] == ' ' && (p[2] == ' ' || !p[2]))
			return true;
	return false;
}

long long smaps_fork_charge_kb(void)
{
	static char buf[1 << 18];
	long long total = 0, cur = 0;
	size_t len = 0;
	char *line, *nl;
	ssize_t r;
	int fd = open("/proc/self/smaps", O_RDONLY);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	if (r < 0 || len >= sizeof(buf) - 1)
		return -1;
	buf[len] = '\0';
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		unsigned long start, end;

		*nl = '\0';
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			cur = (end - start) / 1024;
		else if (!strncmp(line, "VmFlags:", 8) &&
			 has_vmflag(line, "ac") && !has_vmflag(line, "dc"))
			total += cur;
	}
	return total;
}

const char *tiny_true(void)
{
	static const char *path = "/tmp/vfa-true";

	if (access(path, X_OK) &&
	    system("cp .build/tools/vfa-true /tmp/vfa-true")) {
		printf("# cannot copy .build/tools/vfa-true to /tmp\n");
		exit(1);
	}
	return path;
}

bool find_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	const char *p, *e;

	for (p = path ? path : "/usr/bin:/bin"; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p, prog);
		if (!access(buf, X_OK))
			return true;
	}
	return false;
}

void print_file(const char *path, int max_lines)
{
	char *s = read_file(path), *line, *save = NULL;
	int n = 0;

	if (!s)
		return;
	for (line = strtok_r(s, "\n", &save); line && n < max_lines;
	     line = strtok_r(NULL, "\n", &save), n++)
		printf("#   %s\n", line);
	fflush(stdout);
	free(s);
}

pid_t bpftrace_start(const char *out, char *const argv[])
{
	pid_t pid;
	int fd;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		_exit(127);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	/* Do not outlive this test, however it ends. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	execvp("bpftrace", argv);
	_exit(127);
}

bool bpftrace_wait_ready(pid_t bt, const char *out, const char *ready,
			 const char *what)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	time_t start = time(NULL);
	bool found;
	char *s;

	while (time(NULL) - start < BPFTRACE_READY_S) {
		s = read_file(out);
		found = s && strstr(s, ready);
		free(s);
		if (found) {
			printf("# %s attached after %ld s\n", what,
			       (long)(time(NULL) - start));
			return true;
		}
		if (waitpid(bt, NULL, WNOHANG) == bt) {
			printf("# bpftrace exited before it was ready:\n");
			print_file(out, 30);
			return false;
		}
		nanosleep(&ts, NULL);
	}
	printf("# bpftrace not ready after %d s:\n", BPFTRACE_READY_S);
	print_file(out, 30);
	return false;
}

/* Whether bpftrace @bt's main thread is waiting in epoll_wait() now. */
static bool bpftrace_polling(pid_t bt)
{
	char path[64], *s;
	long nr;
	bool polling;

	snprintf(path, sizeof(path), "/proc/%d/syscall", bt);
	s = read_file(path);
	if (!s || sscanf(s, "%ld", &nr) != 1)
		nr = -1;
	free(s);
	polling = nr == SYS_epoll_pwait;
#ifdef SYS_epoll_wait
	polling = polling || nr == SYS_epoll_wait;
#endif
	return polling;
}

void bpftrace_stop(pid_t bt)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	time_t start = time(NULL), last = start;

	kill(bt, SIGINT);
	while (waitpid(bt, NULL, WNOHANG) != bt) {
		if (time(NULL) - start > BPFTRACE_STOP_S) {
			printf("# bpftrace did not stop in %d s, killing it\n",
			       BPFTRACE_STOP_S);
			kill(bt, SIGKILL);
			waitpid(bt, NULL, 0);
			return;
		}
		/*
		 * bpftrace (0.17 at least) only stops if the SIGINT breaks
		 * its epoll_wait(); one that lands between two calls is
		 * lost, and it polls on.  Still polling twice, half a second
		 * apart, after BPFTRACE_RESEND_S: it is not draining its last
		 * events (that takes one or two 100 ms polls), so say it
		 * again.
		 */
		if (time(NULL) - last >= BPFTRACE_RESEND_S &&
		    bpftrace_polling(bt)) {
			nanosleep(&(struct timespec){ 0, 500 * 1000 * 1000 },
				  NULL);
			if (bpftrace_polling(bt)) {
				printf("# bpftrace still polling %ld s after SIGINT: it missed it, sending another\n",
				       (long)(time(NULL) - start));
				kill(bt, SIGINT);
			}
			last = time(NULL);
		}
		nanosleep(&ts, NULL);
	}
	printf("# bpftrace stopped %ld s after SIGINT\n",
	       (long)(time(NULL) - start));
}
