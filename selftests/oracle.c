// SPDX-License-Identifier: GPL-2.0
/*
 * oracle: the module against the kernel's own accounting, fork by fork.
 *
 * scripts/bpftrace/forkcharge.bt, which does not use the module, sums the
 * kernel's own __vm_enough_memory() calls made by dup_mmap() for each
 * fork: the pages the kernel really charged.  It runs (bpftrace from the
 * host root, output to a file) while a workload of forks runs: processes
 * ("holders") holding 0, 16, 64 and 200 MiB, one with a MADV_DONTFORK
 * region, one with a MAP_SHARED region, one with a bit of everything
 * (mprotect'ed, MAP_NORESERVE, MADV_WIPEONFORK, file-backed private
 * mappings, many small VMAs, a dead thread's cached stack, no
 * CAP_SYS_ADMIN, and a fork from a second thread), and one so big that
 * strict mode would refuse its fork.  Each holder forks (child exits),
 * forks and execs, vforks and posix_spawns.
 *
 * For every process the workload created (parent: this test or a holder),
 * the module's row in /proc/vforkacct/forks, matched by ppid and pid, must
 * say charge_kB = pages * 4.  With the module's limit and reserves synced
 * to the kernel's (the script reads the reserves from the kernel and gets
 * the same CommitLimit), the two models' allowed_kB must be equal (the
 * script takes CAP_SYS_ADMIN from the kernel's own argument) and, away
 * from the boundary, their verdicts too.  Meanwhile the module's
 * vforkacct_fork events are captured through tracefs: each must equal its
 * row field by field, and every row logged must have its event.
 *
 * Skipped only if bpftrace is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define SCRIPT		"scripts/bpftrace/forkcharge.bt"
/* Verdicts are compared only this far (kB) from the boundary. */
#define MARGIN_KB	(16 * 1024)

extern char **environ;

static const char *tracefs;	/* with the vforkacct events, or NULL */

/* ------------------------------------------------------------ the workload */

struct holder {
	const char *name;
	size_t private_mb;	/* private writable, dirtied */
	size_t dontfork_mb;	/* private writable, MADV_DONTFORK */
	size_t shared_mb;	/* MAP_SHARED | MAP_ANONYMOUS, dirtied */
	bool mixed;		/* odd mappings, no CAP_SYS_ADMIN, threads */
	bool huge;		/* private_mb is set at run time, untouched */
	pid_t pid;
	int made;		/* processes it created (its exit status) */
};

static struct holder holders[] = {
	{ .name = "mem0" },
	{ .name = "mem16", .private_mb = 16 },
	{ .name = "mem64", .private_mb = 64 },
	{ .name = "mem200", .private_mb = 200 },
	{ .name = "dontfork", .private_mb = 16, .dontfork_mb = 64 },
	{ .name = "shared", .private_mb = 16, .shared_mb = 64 },
	{ .name = "mixed", .private_mb = 8, .mixed = true },
	{ .name = "huge", .huge = true },
};

#define NHOLDERS	((int)(sizeof(holders) / sizeof(holders[0])))

static void *map_or_die(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		printf("# mmap %zu bytes: %s\n", len, strerror(errno));
		_exit(255);
	}
	return p;
}

static void madvise_or_die(void *p, size_t len, int advice)
{
	if (madvise(p, len, advice)) {
		printf("# madvise %d: %s\n", advice, strerror(errno));
		_exit(255);
	}
}

/* fork; the child exits or execs /bin/true.  1 if a process was made. */
static int fork_child(bool exec)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (exec)
			execl("/bin/true", "true", (char *)NULL);
		_exit(0);
	}
	if (pid < 0)
		return 0;
	waitpid(pid, NULL, 0);
	return 1;
}

static int vfork_child(void)
{
	return vfork_and_reap() > 0;
}

static int spawn_child(void)
{
	char *argv[] = { "true", NULL };
	pid_t pid;

	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ))
		return 0;
	waitpid(pid, NULL, 0);
	return 1;
}

static void *thread_idle(void *arg)
{
	return arg;
}

static void *thread_fork(void *arg)
{
	*(int *)arg = fork_child(false);
	return NULL;
}

/* The odd mappings of the "mixed" holder. */
static void map_mixed(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p;
	pthread_t t;
	int i, fd;

	/* Read-only, then writable: mprotect() charges it. */
	p = map_or_die(4 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (mprotect(p, 4 << 20, PROT_READ | PROT_WRITE))
		_exit(255);
	p[0] = 1;
	/* NORESERVE: uncharged outside strict mode. */
	map_or_die(4 << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	/* WIPEONFORK: still charged. */
	p = map_or_die(4 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	madvise_or_die(p, 4 << 20, MADV_WIPEONFORK);
	/* A private writable file mapping: charged. */
	fd = open("/bin/true", O_RDONLY);
	if (fd >= 0) {
		map_or_die(page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
		close(fd);
	}
	/* 40 small VMAs: alternate protections so none merge. */
	p = map_or_die(80 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	for (i = 0; i < 80; i += 2)
		if (mprotect(p + i * page, page, PROT_READ))
			_exit(255);
	/* A dead thread leaves its stack mapped (glibc's cache). */
	if (!pthread_create(&t, NULL, thread_idle, NULL))
		pthread_join(t, NULL);
	if (drop_cap_sys_admin())
		_exit(255);
}

/* A holder's life: map, then make processes; the exit status is how many. */
static int holder_main(const struct holder *h)
{
	int made = 0, from_thread = 0;
	pthread_t t;
	char *p;

	if (h->private_mb)
		map_private(h->private_mb, !h->huge);
	if (h->dontfork_mb) {
		p = map_private(h->dontfork_mb, true);
		madvise_or_die(p, h->dontfork_mb << 20, MADV_DONTFORK);
	}
	if (h->shared_mb) {
		p = map_or_die(h->shared_mb << 20, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1);
		memset(p, 1, h->shared_mb << 20);
	}
	if (h->mixed) {
		map_mixed();
		if (pthread_create(&t, NULL, thread_fork, &from_thread))
			_exit(255);
		pthread_join(t, NULL);
		made += from_thread;
	}
	made += fork_child(false);
	made += fork_child(false);
	made += fork_child(true);
	made += vfork_child();
	made += spawn_child();
	return made;
}

/* Runs every holder, one after the other.  False if one went wrong. */
static bool run_workload(void)
{
	bool ok = true;
	int i, status;

	for (i = 0; i < NHOLDERS; i++) {
		struct holder *h = &holders[i];

		if (h->huge) {
			long long limit = meminfo_kb("CommitLimit");
			long long committed = meminfo_kb("Committed_AS");

			/*
			 * committed + 2 * M >= limit, by 20% of the headroom:
			 * strict mode would refuse the fork, not the mmap.
			 */
			h->private_mb = (limit - committed) * 6 / 10 / 1024;
		}
		fflush(stdout);
		h->pid = fork();
		if (h->pid == 0)
			_exit(holder_main(h));
		if (h->pid < 0) {
			ktap_info("%s: fork: %s", h->name, strerror(errno));
			return false;
		}
		waitpid(h->pid, &status, 0);
		h->made = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
		if (h->made == 255) {
			ktap_info("holder %s (%zu MiB) failed", h->name,
				  h->private_mb);
			ok = false;
		}
	}
	return ok;
}

/* ------------------------------------------------------------ bpftrace */

/* One line of forkcharge.bt. */
struct bt_fork {
	int ppid, pid;			/* pid -1: a failed fork */
	char kind[16];
	long pages, charge_kb, committed_kb, allowed_kb; /* -1 for "-" */
	int vmas;
	char mode2[16], kernel[16];
};

/* The checkout's top: this program is .build/selftests/oracle in it. */
static void top_dir(char *buf, size_t len)
{
	ssize_t r = readlink("/proc/self/exe", buf, len - 1);
	int i;

	if (r <= 0) {
		snprintf(buf, len, ".");
		return;
	}
	buf[r] = '\0';
	for (i = 0; i < 3; i++) {
		char *s = strrchr(buf, '/');

		if (s)
			*s = '\0';
	}
}

/* Starts forkcharge.bt LIMIT_KB with stdout and stderr to @out. */
static pid_t start_bpftrace(const char *script, long long limit_kb,
			    const char *out)
{
	char limit[32];
	char *argv[] = { "bpftrace", "-B", "none", (char *)script, limit,
			 NULL };

	snprintf(limit, sizeof(limit), "%lld", limit_kb);
	return bpftrace_start(out, argv);
}

/* forkcharge.bt's BEGIN line, its settings, ends " ready". */
static bool wait_ready(pid_t bt, const char *out)
{
	return bpftrace_wait_ready(bt, out, " ready\n", "forkcharge.bt");
}

static long num_or_dash(const char *s)
{
	return strcmp(s, "-") ? strtol(s, NULL, 10) : -1;
}

/* The fork lines of forkcharge.bt's output; *n of them, caller frees. */
static struct bt_fork *parse_bpftrace(const char *out, int *n, int *bad)
{
	char *s = read_file(out), *line, *save = NULL;
	struct bt_fork *f = NULL;
	int cap = 0;

	*n = 0;
	*bad = 0;
	if (!s)
		return NULL;
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char pid[16], comm_kb[32], allowed[32];
		struct bt_fork b;

		if (strncmp(line, "ppid=", 5))
			continue;
		if (sscanf(line, "ppid=%d pid=%15s kind=%15s pages=%ld charge_kb=%ld vmas=%d committed_kb=%31s allowed_kb=%31s mode2=%15s kernel=%15s",
			   &b.ppid, pid, b.kind, &b.pages, &b.charge_kb,
			   &b.vmas, comm_kb, allowed, b.mode2,
			   b.kernel) != 10) {
			ktap_info("bad forkcharge.bt line: %s", line);
			(*bad)++;
			continue;
		}
		b.pid = num_or_dash(pid);
		b.committed_kb = num_or_dash(comm_kb);
		b.allowed_kb = num_or_dash(allowed);
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			f = realloc(f, cap * sizeof(*f));
			if (!f)
				exit(1);
		}
		f[(*n)++] = b;
	}
	free(s);
	return f;
}

/* ------------------------------------------------------------ tracefs */

struct event {
	unsigned long long seq;
	int ppid, pid;
	char comm[64], kind[16], verdict[16];
	long charge_kb, committed_kb, allowed_kb;
};

static int tracefs_write(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	return vfa_write(path, val, strlen(val));
}

static const char *find_tracefs(void)
{
	static const char * const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[256];
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/vforkacct/vforkacct_fork/enable",
			 dirs[i]);
		if (!access(path, W_OK))
			return dirs[i];
	}
	return NULL;
}

/* Empties the ring buffer and enables vforkacct_fork alone; 0 or -errno. */
static int capture_start(void)
{
	char path[256];
	int fd, ret;

	ret = tracefs_write("events/vforkacct/enable", "0");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/trace", tracefs);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	close(fd);
	ret = tracefs_write("events/vforkacct/vforkacct_fork/enable", "1");
	return ret ? ret : tracefs_write("tracing_on", "1");
}

/*
 * The vforkacct_fork events in the ring buffer; *n of them, *lost: how
 * many the buffer dropped (entries-written minus entries-in-buffer).
 */
static struct event *capture_read(int *n, long *lost)
{
	char path[256], *s, *line, *save = NULL, *p;
	struct event *ev = NULL;
	long in = 0, written = 0;
	int cap = 0;

	*n = 0;
	*lost = 0;
	snprintf(path, sizeof(path), "%s/trace", tracefs);
	s = read_file(path);
	if (!s)
		return NULL;
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct event e;
		char *k;
		size_t len;

		p = strstr(line, "entries-in-buffer/entries-written:");
		if (p) {
			sscanf(p, "entries-in-buffer/entries-written: %ld/%ld",
			       &in, &written);
			*lost = written - in;
			continue;
		}
		p = strstr(line, " vforkacct_fork: seq=");
		if (!p)
			continue;
		/* comm is raw (may hold blanks): it ends at " kind=". */
		p = strstr(p, "seq=");
		k = strstr(p, " kind=");
		if (sscanf(p, "seq=%llu ppid=%d pid=%d comm=", &e.seq, &e.ppid,
			   &e.pid) != 3 || !k || !strstr(p, " comm=")) {
			ktap_info("bad trace line: %s", line);
			continue;
		}
		p = strstr(p, " comm=") + 6;
		len = k - p < (long)sizeof(e.comm) - 1 ? (size_t)(k - p) :
			sizeof(e.comm) - 1;
		memcpy(e.comm, p, len);
		e.comm[len] = '\0';
		if (sscanf(k, " kind=%15s charge_kb=%ld committed_kb=%ld allowed_kb=%ld verdict=%15s",
			   e.kind, &e.charge_kb, &e.committed_kb,
			   &e.allowed_kb, e.verdict) != 5) {
			ktap_info("bad trace line: %s", line);
			continue;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			ev = realloc(ev, cap * sizeof(*ev));
			if (!ev)
				exit(1);
		}
		ev[(*n)++] = e;
	}
	free(s);
	return ev;
}

/* forks escapes comm like mountinfo: blanks, '\' and the like as \ooo. */
static void unescape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	while (*in && o < len - 1) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' &&
		    in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
			out[o++] = (in[1] - '0') * 64 + (in[2] - '0') * 8 +
				   (in[3] - '0');
			in += 4;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------ checks */

static bool in_workload(int ppid)
{
	int i;

	if (ppid == getpid())
		return true;
	for (i = 0; i < NHOLDERS; i++)
		if (holders[i].pid == ppid)
			return true;
	return false;
}

static bool check_seen(const struct bt_fork *b, int nb, int bad)
{
	bool ok = !bad;
	int i, j, seen;

	for (i = 0; i < NHOLDERS; i++) {
		for (seen = 0, j = 0; j < nb; j++)
			if (b[j].ppid == holders[i].pid && b[j].pid > 0)
				seen++;
		if (seen != holders[i].made) {
			ktap_info("holder %s (pid %d) made %d processes, forkcharge.bt saw %d",
				  holders[i].name, holders[i].pid,
				  holders[i].made, seen);
			ok = false;
		}
	}
	for (seen = 0, j = 0; j < nb; j++) {
		if (!in_workload(b[j].ppid))
			continue;
		if (b[j].pid > 0 && b[j].ppid == getpid())
			seen++;
		if (b[j].pid < 0 || strcmp(b[j].kernel, "ok")) {
			ktap_info("a workload fork of %d failed: kernel=%s",
				  b[j].ppid, b[j].kernel);
			ok = false;
		}
	}
	if (seen != NHOLDERS) {
		ktap_info("forkcharge.bt saw %d holders forked, not %d",
			  seen, NHOLDERS);
		ok = false;
	}
	return ok;
}

static bool check_charges(const struct bt_fork *b, int nb,
			  struct vfa_row *rows, int nr)
{
	long page_kb = sysconf(_SC_PAGESIZE) / 1024;
	int i, compared = 0, charged = 0, bad = 0;
	long long total = 0;
	struct vfa_row *r;

	for (i = 0; i < nb; i++) {
		if (!in_workload(b[i].ppid) || b[i].pid < 0)
			continue;
		r = vfa_find(rows, nr, b[i].ppid, b[i].pid);
		compared++;
		if (!r) {
			ktap_info("fork %d -> %d: kernel charged %ld pages, no row",
				  b[i].ppid, b[i].pid, b[i].pages);
			bad++;
			continue;
		}
		if (r->charge_kb != b[i].pages * page_kb ||
		    strcmp(r->kind, b[i].kind)) {
			ktap_info("fork %d -> %d (%s): kernel charged %ld pages = %ld kB in %d VMAs (%s), module says %ld kB (%s)",
				  b[i].ppid, b[i].pid, r->comm, b[i].pages,
				  b[i].pages * page_kb, b[i].vmas, b[i].kind,
				  r->charge_kb, r->kind);
			bad++;
			continue;
		}
		if (b[i].pages) {
			charged++;
			total += r->charge_kb;
		}
	}
	for (i = 0; i < NHOLDERS; i++) {
		int j;

		for (j = 0; j < nb; j++)
			if (b[j].ppid == holders[i].pid && b[j].pid > 0 &&
			    !strcmp(b[j].kind, "fork"))
				break;
		if (j < nb)
			ktap_info("holder %-8s %4zu MiB: %d processes, a fork charged %ld pages in %d VMAs",
				  holders[i].name, holders[i].private_mb,
				  holders[i].made, b[j].pages, b[j].vmas);
	}
	ktap_info("compared %d workload forks with the kernel's charge: %d matched, %d did not (%d charged, %lld kB in all)",
		  compared, compared - bad, bad, charged, total);
	return !bad && compared > 0 && charged > 0;
}

static bool check_models(const struct bt_fork *b, int nb,
			 struct vfa_row *rows, int nr)
{
	int i, allowed = 0, verdicts = 0, fails = 0, bad = 0;
	long long maxdiff = 0;
	struct vfa_row *r;

	for (i = 0; i < nb; i++) {
		long long d;

		if (!in_workload(b[i].ppid) || b[i].pid < 0 || !b[i].vmas)
			continue;
		r = vfa_find(rows, nr, b[i].ppid, b[i].pid);
		if (!r)
			continue;	/* reported by check_charges */
		allowed++;
		if (r->allowed_kb != b[i].allowed_kb) {
			ktap_info("fork %d -> %d: allowed %ld kB by the kernel's reserves and CAP_SYS_ADMIN, module says %ld",
				  b[i].ppid, b[i].pid, b[i].allowed_kb,
				  r->allowed_kb);
			bad++;
		}
		d = llabs((long long)r->committed_kb - b[i].committed_kb);
		if (d > maxdiff)
			maxdiff = d;
		d = (long long)b[i].committed_kb + b[i].charge_kb -
		    b[i].allowed_kb;
		if (llabs(d) < MARGIN_KB)
			continue;
		verdicts++;
		fails += !strcmp(b[i].mode2, "fail");
		if (strcmp(r->verdict, b[i].mode2)) {
			ktap_info("fork %d -> %d: committed %ld + charge %ld vs allowed %ld kB: %s, module says %s",
				  b[i].ppid, b[i].pid, b[i].committed_kb,
				  b[i].charge_kb, b[i].allowed_kb, b[i].mode2,
				  r->verdict);
			bad++;
		}
	}
	ktap_info("compared allowed_kB of %d charged forks, verdicts of %d (%d fail); committed_kB differed by up to %lld kB",
		  allowed, verdicts, fails, maxdiff);
	if (!fails || fails == verdicts)
		ktap_info("the workload should give both verdicts");
	return !bad && fails && fails < verdicts;
}

static bool check_events(const struct event *ev, int ne, long lost,
			 struct vfa_row *rows, int nr)
{
	int i, j, matched = 0, bad = 0;
	char comm[64];

	if (lost) {
		ktap_info("the trace buffer dropped %ld events", lost);
		bad++;
	}
	for (i = 0; i < ne; i++) {
		const struct event *e = &ev[i];
		struct vfa_row *r = NULL;

		for (j = 0; j < nr && !r; j++)
			if (rows[j].seq == e->seq)
				r = &rows[j];
		if (!r) {
			ktap_info("event seq %llu (%d -> %d): no row", e->seq,
				  e->ppid, e->pid);
			bad++;
			continue;
		}
		unescape(r->comm, comm, sizeof(comm));
		if (r->ppid != e->ppid || r->pid != e->pid ||
		    strcmp(comm, e->comm) || strcmp(r->kind, e->kind) ||
		    r->charge_kb != e->charge_kb ||
		    r->committed_kb != e->committed_kb ||
		    r->allowed_kb != e->allowed_kb ||
		    strcmp(r->verdict, e->verdict)) {
			ktap_info("event seq=%llu ppid=%d pid=%d comm=%s kind=%s charge_kb=%ld committed_kb=%ld allowed_kb=%ld verdict=%s",
				  e->seq, e->ppid, e->pid, e->comm, e->kind,
				  e->charge_kb, e->committed_kb, e->allowed_kb,
				  e->verdict);
			ktap_info("  row seq=%llu ppid=%d pid=%d comm=%s kind=%s charge_kb=%ld committed_kb=%ld allowed_kb=%ld verdict=%s",
				  r->seq, r->ppid, r->pid, r->comm, r->kind,
				  r->charge_kb, r->committed_kb, r->allowed_kb,
				  r->verdict);
			bad++;
			continue;
		}
		matched++;
	}
	ktap_info("compared %d vforkacct_fork events with their rows: %d matched",
		  ne, matched);
	return !bad && ne > 0;
}

/* Every row logged since the reset has its event. */
static bool check_rows_have_events(const struct event *ev, int ne,
				   struct vfa_row *rows, int nr)
{
	int i, j, missing = 0;

	for (i = 0; i < nr; i++) {
		for (j = 0; j < ne; j++)
			if (ev[j].seq == rows[i].seq)
				break;
		if (j == ne) {
			ktap_info("row seq %llu (%d -> %d %s) has no event",
				  rows[i].seq, rows[i].ppid, rows[i].pid,
				  rows[i].comm);
			missing++;
		}
	}
	ktap_info("%d rows, %d events", nr, ne);
	return !missing && nr == ne;
}

int main(void)
{
	char top[PATH_MAX], script[PATH_MAX + 64], val[32];
	char out[] = "/tmp/vfa-oracle.XXXXXX";
	struct bt_fork *b = NULL;
	struct event *ev = NULL;
	struct vfa_row *rows;
	int nb = 0, bad = 0, ne = 0, nr, fd;
	bool ready, ran, captured;
	long long limit;
	long lost = 0;
	pid_t bt;

	vfa_require_module();
	if (!find_in_path("bpftrace")) {
		printf("TAP version 13\n1..0 # SKIP bpftrace is not installed\n");
		return 4;
	}
	ktap_plan(7);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The module judges with the kernel's own limit and reserves. */
	limit = meminfo_kb("CommitLimit");
	snprintf(val, sizeof(val), "%lld", limit);
	vfa_param("limit_kb", val);
	snprintf(val, sizeof(val), "%lld", vm_sysctl("admin_reserve_kbytes"));
	vfa_param("admin_reserve_kb", val);
	snprintf(val, sizeof(val), "%lld", vm_sysctl("user_reserve_kbytes"));
	vfa_param("user_reserve_kb", val);
	ktap_info("CommitLimit %lld kB, admin_reserve %lld kB, user_reserve %lld kB",
		  limit, vfa_param_get("admin_reserve_kb"),
		  vfa_param_get("user_reserve_kb"));

	top_dir(top, sizeof(top));
	snprintf(script, sizeof(script), "%s/%s", top, SCRIPT);
	fd = mkstemp(out);
	if (fd >= 0)
		close(fd);
	bt = start_bpftrace(script, limit, out);
	ready = bt > 0 && wait_ready(bt, out);
	ktap_test(ready, "forkcharge_bt_attached");

	ran = false;
	captured = false;
	if (ready) {
		tracefs = find_tracefs();
		vfa_reset();
		if (!tracefs)
			ktap_info("no tracefs with the vforkacct events");
		else if (capture_start())
			ktap_info("cannot enable vforkacct_fork in %s", tracefs);
		else
			captured = true;
		ran = run_workload();
		if (captured)
			tracefs_write("events/vforkacct/vforkacct_fork/enable",
				      "0");
		bpftrace_stop(bt);
		b = parse_bpftrace(out, &nb, &bad);
		if (captured)
			ev = capture_read(&ne, &lost);
	} else if (bt > 0) {
		bpftrace_stop(bt);
	}
	rows = vfa_forks(&nr);
	if (!rows) {
		ktap_info("cannot read %s/forks", VFA_PROC);
		nr = 0;
	}

	ktap_test(ran, "workload_ran");
	ktap_test(ran && b && check_seen(b, nb, bad),
		  "forkcharge_bt_saw_every_workload_fork");
	ktap_test(ran && b && rows && check_charges(b, nb, rows, nr),
		  "charge_kB_is_what_the_kernel_charged");
	ktap_test(ran && b && rows && check_models(b, nb, rows, nr),
		  "allowed_and_verdict_agree_with_forkcharge_bt");
	ktap_test(captured && ev && rows && check_events(ev, ne, lost, rows, nr),
		  "every_vforkacct_fork_event_matches_its_row");
	ktap_test(captured && ev && rows &&
		  check_rows_have_events(ev, ne, rows, nr),
		  "every_row_has_its_event");
	if (ktap_fail) {
		ktap_info("forkcharge.bt output:");
		print_file(out, 200);
	}
	unlink(out);
	free(b);
	free(ev);
	free(rows);
	return ktap_finish();
}
