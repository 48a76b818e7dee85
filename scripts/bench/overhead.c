// SPDX-License-Identifier: GPL-2.0
/*
 * overhead: fork+_exit+wait and fork+exec+wait latency of parents with
 * many VMAs, with no observer (N), with vforkacct loaded (M), and with the
 * bpftrace oracle attached (B), measured side by side in one boot.
 *
 * One worker process per VMA count holds its VMAs for the whole run, so
 * every state sees the very same parents.  The run is a schedule of
 * visits: PAIRS pairs of N and M visits (N M N M ...), one B visit, then
 * the same backwards (... M N M N), symmetric about the middle so that
 * slow drift weighs alike on every state; each N visit is also compared
 * with the M visit next to it (the paired estimate), and the B visits
 * with the N visits nearest to them.  N and M switch by unloading and
 * loading the module with delete_module()/finit_module() (no exec: quick
 * enough to switch often).  The bpftrace block unloads it and runs
 * `BT start`, then `BT stop` (a shell command: bpftrace takes long to
 * start under TCG, so it attaches once); inside it, visits with all
 * kprobes armed (B) and disarmed (b, through debugfs) alternate, so that
 * the oracle's kprobes are also compared side by side with their absence.
 * A visit is REPS repetitions (B: REPS_B); a repetition runs every variant
 * (VMA count x operation) WEIGHT times, in a fresh random order.  After
 * each switch one fork is done and not counted.
 *
 * Around every operation, outside the timed part and in every state, the
 * coordinator writes `reset` to /proc/vforkacct/control and reads
 * forks, probe_ns and probe_max_ns from /proc/vforkacct/summary (both
 * simply fail when the module is not loaded): with the module, that is
 * the probe time of exactly that fork, its exec and its exit.
 *
 * VMAs are made by mapping N pages private writable and making every
 * other one PROT_EXEC too: N VMAs that cannot merge, all VM_ACCOUNT
 * (charged to the child, so the oracle's kprobe fires for each), never
 * touched (no page tables to copy: the cheapest fork for that many VMAs,
 * the least flattering denominator for an observer).
 *
 * With -p (the file holding bpftrace's pid), the oracle's own in-kernel
 * time is read around each fork too: the run_time_ns of its BPF programs
 * (kernel.bpf_stats_enabled is on while it is attached).
 *
 * Usage: overhead [-v VMAS,..] [-w WEIGHT,..] [-k REPS] [-b REPS_B]
 *                 [-c PAIRS] [-m MODULE.ko [-n NAME]] [-x BT [-p PIDFILE]]
 *                 [-o OUTDIR] PROG
 * Without -m only N is measured; without -x, no B.  -n: the module's name
 * if it is not vforkacct (to measure what loading any module does).
 * Writes OUTDIR/overhead.md, overhead.dat (gnuplot), overhead-raw.csv.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "bench.h"

#define VFA_PROC	"/proc/vforkacct"
#define MAXPAR		8
#define PAGE		4096UL

enum { OP_EXIT, OP_EXEC, NOPS };
static const char *const op_name[NOPS] = { "fork+_exit", "fork+exec" };

enum { S_NONE, S_MODULE, S_BPF, S_BOFF, NSTATES };
static const char *const st_name[NSTATES] = {
	"none", "module", "bpftrace", "bpftrace-disarmed",
};
static const char st_letter[] = "NMBb";

/* Arms or disarms every kprobe of the system (bpftrace's included). */
#define KPROBES_ENABLED	"/sys/kernel/debug/kprobes/enabled"

struct parent {
	int target, vmas, weight;
	pid_t pid;
	int cmd, res;
};

struct result {
	int64_t ns;
	int status;
};

/* Every sample of one state x parent x operation. */
struct series {
	int n, cap;
	int64_t *ns, *probe, *probe_max, *forks;
	int64_t *walk;		/* the module's preemptible walk_ns */
	int *blk;		/* run of same-state visits it came from */
	int *visit;		/* the visit it came from */
};

static struct series ser[NSTATES][MAXPAR][NOPS];

static void push(struct series *s, int visit, int blk, int64_t ns,
		 int64_t forks, int64_t probe, int64_t probe_max, int64_t walk)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->ns = realloc(s->ns, s->cap * sizeof(int64_t));
		s->probe = realloc(s->probe, s->cap * sizeof(int64_t));
		s->probe_max = realloc(s->probe_max, s->cap * sizeof(int64_t));
		s->forks = realloc(s->forks, s->cap * sizeof(int64_t));
		s->walk = realloc(s->walk, s->cap * sizeof(int64_t));
		s->blk = realloc(s->blk, s->cap * sizeof(int));
		s->visit = realloc(s->visit, s->cap * sizeof(int));
		if (!s->ns || !s->probe || !s->probe_max || !s->forks ||
		    !s->walk || !s->blk || !s->visit)
			die("out of memory");
	}
	s->blk[s->n] = blk;
	s->visit[s->n] = visit;
	s->ns[s->n] = ns;
	s->forks[s->n] = forks;
	s->probe[s->n] = probe;
	s->probe_max[s->n] = probe_max;
	s->walk[s->n] = walk;
	s->n++;
}

/* VMAs of this process, as /proc/self/maps lists them (no vsyscall). */
static int count_vmas(void)
{
	static const char vsys[] = "ffffffffff600000-";
	char buf[65536], head[sizeof(vsys)];
	int fd, n = 0, col = 0;
	ssize_t r, i;

	fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < r; i++) {
			if (col < (int)sizeof(vsys) - 1)
				head[col] = buf[i];
			col++;
			if (buf[i] != '\n')
				continue;
			if (col <= (int)sizeof(vsys) - 1 ||
			    memcmp(head, vsys, sizeof(vsys) - 1))
				n++;
			col = 0;
		}
	}
	close(fd);
	return n;
}

/* Adds non-mergeable, accountable, untouched VMAs up to @target. */
static int make_vmas(int target)
{
	int n, tries, i, k;
	char *p;

	for (tries = 0; tries < 50; tries++) {
		n = count_vmas();
		if (n < 0 || n >= target)
			return n;
		k = target - n;
		p = mmap(NULL, k * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		for (i = 1; i < k; i += 2)
			if (mprotect(p + i * PAGE, PAGE,
				     PROT_READ | PROT_WRITE | PROT_EXEC))
				return -1;
	}
	return count_vmas();
}

static int64_t op_once(int op, const char *prog, int *status)
{
	char *argv[] = { (char *)prog, NULL };
	char *envp[] = { NULL };
	int64_t t0 = now_ns();
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		if (op == OP_EXEC)
			execve(prog, argv, envp);
		_exit(op == OP_EXEC ? 127 : 0);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return now_ns() - t0;
}

static void worker(struct parent *p, int cmd, int res, const char *prog)
{
	struct result r;
	int n;
	char c;

	n = make_vmas(p->target);
	if (write_full(res, &n, sizeof(n)))
		_exit(1);
	while (read_full(cmd, &c, 1) == 0) {
		r.status = -1;
		r.ns = op_once(c, prog, &r.status);
		if (write_full(res, &r, sizeof(r)))
			_exit(1);
	}
	_exit(0);
}

static void start(struct parent *p, const char *prog)
{
	p->pid = fork_worker(&p->cmd, &p->res);
	if (p->pid == 0)
		worker(p, p->cmd, p->res, prog);
	if (read_full(p->res, &p->vmas, sizeof(p->vmas)) || p->vmas < 0)
		die("worker for %d VMAs failed", p->target);
}

static int64_t ask(struct parent *p, int op)
{
	char c = op;
	struct result r;

	if (write_full(p->cmd, &c, 1) || read_full(p->res, &r, sizeof(r)))
		die("worker for %d VMAs died", p->target);
	if (r.ns < 0 || !WIFEXITED(r.status) || WEXITSTATUS(r.status))
		die("%s from %d VMAs: failed, status 0x%x", op_name[op],
		    p->target, r.status);
	return r.ns;
}

static void module_reset(void)
{
	int fd = open(VFA_PROC "/control", O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, "reset", 5) != 5)
		die("reset: %s", strerror(errno));
	close(fd);
}

static long long field(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/*
 * forks, probe_ns, probe_max_ns, walk_ns (-1 from a module without it)
 * from the summary; false without module.
 */
static int module_read(int64_t *forks, int64_t *probe, int64_t *probe_max,
		       int64_t *walk)
{
	char buf[4096];
	ssize_t n;
	int fd;

	*forks = *probe = *probe_max = *walk = -1;
	fd = open(VFA_PROC "/summary", O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	*forks = field(buf, "\nforks:");
	*probe = field(buf, "\nprobe_ns:");
	*probe_max = field(buf, "\nprobe_max_ns:");
	*walk = field(buf, "\nwalk_ns:");
	return 1;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int parse_list(const char *s, int *v, int max)
{
	int n = 0;
	char *end;

	while (*s && n < max) {
		v[n++] = strtol(s, &end, 10);
		if (end == s)
			return -1;
		s = *end == ',' ? end + 1 : end;
	}
	return *s ? -1 : n;
}

static void usage(void)
{
	fprintf(stderr, "usage: overhead [-v VMAS,..] [-w WEIGHT,..] [-k REPS] [-b REPS_B] [-c PAIRS] [-m MODULE.ko [-n NAME]] [-x BT [-p PIDFILE]] [-o OUTDIR] PROG\n");
	exit(2);
}

static double med_of(struct series *s)
{
	int64_t *tmp = malloc((s->n + 1) * sizeof(int64_t));
	double m;

	if (!tmp)
		die("out of memory");
	memcpy(tmp, s->ns, s->n * sizeof(int64_t));
	m = median(tmp, s->n);
	free(tmp);
	return m;
}

static const char *verdict(int ok)
{
	return ok ? "**met**" : "**not met**";
}

/* Whether the interval [@lo, @hi] decides "ratio <= @lim" either way. */
static const char *conclusive(double lo, double hi, double lim)
{
	if (hi <= lim)
		return " (whole interval under the target)";
	if (lo > lim)
		return " (whole interval over the target)";
	return " (the interval straddles the target: not conclusive)";
}

#define BOOT	1000

/* The runs (blocks of consecutive samples from one run of visits). */
static int blocks(const struct series *s, int *start, int *len)
{
	int nb = 0, k;

	for (k = 0; k < s->n; k++) {
		if (!k || s->blk[k] != s->blk[k - 1]) {
			start[nb] = k;
			len[nb++] = 0;
		}
		len[nb - 1]++;
	}
	return nb;
}

static double boot_median(const struct series *s, const int *start,
			  const int *len, int nb, int64_t *tmp)
{
	int n = 0, k, b;

	for (k = 0; k < nb; k++) {
		b = rng() % nb;
		memcpy(tmp + n, s->ns + start[b], len[b] * sizeof(int64_t));
		n += len[b];
	}
	return median(tmp, n);
}

/*
 * A 95% interval for median(@a) / median(@b) by a block bootstrap:
 * resampling whole runs of visits, not single forks, since forks of one
 * visit share its moment's host load.
 */
static void ratio_ci(const struct series *a, const struct series *b,
		     double *lo, double *hi)
{
	int *sa = calloc(a->n + 1, sizeof(int)), *la = calloc(a->n + 1, sizeof(int));
	int *sb = calloc(b->n + 1, sizeof(int)), *lb = calloc(b->n + 1, sizeof(int));
	int64_t *tmp;
	double r[BOOT];
	int na, nb, k, maxl = 0;

	if (!sa || !la || !sb || !lb)
		die("out of memory");
	na = blocks(a, sa, la);
	nb = blocks(b, sb, lb);
	for (k = 0; k < na; k++)
		maxl = la[k] > maxl ? la[k] : maxl;
	for (k = 0; k < nb; k++)
		maxl = lb[k] > maxl ? lb[k] : maxl;
	tmp = calloc((size_t)(na > nb ? na : nb) * maxl + 1, sizeof(int64_t));
	if (!tmp)
		die("out of memory");
	for (k = 0; k < BOOT; k++) {
		double ma = boot_median(a, sa, la, na, tmp);

		r[k] = ma / boot_median(b, sb, lb, nb, tmp);
	}
	qsort(r, BOOT, sizeof(double), cmp_dbl);
	*lo = r[BOOT / 40];
	*hi = r[BOOT - 1 - BOOT / 40];
	free(tmp);
	free(sa);
	free(la);
	free(sb);
	free(lb);
}

/* The median of @s's samples from visit @v; 0 if none. */
static double visit_median(const struct series *s, int v, int64_t *tmp)
{
	int n = 0, k;

	for (k = 0; k < s->n; k++)
		if (s->visit[k] == v)
			tmp[n++] = s->ns[k];
	return n ? median(tmp, n) : 0;
}

/*
 * The paired estimate: the visits of state @cb (series @n0) and @ct
 * (series @m), taken two by two in schedule order (other states left
 * out), are adjacent in time; the median over those pairs of
 * median(@ct visit) / median(@cb visit), and a 95% interval from a
 * bootstrap over pairs.  Slow drift cancels within each pair.
 */
static double paired_ratio(const struct series *n0, const struct series *m,
			   const char *sched, char cb, char ct, double *lo,
			   double *hi, int *npairs)
{
	int nv = strlen(sched), *vis = calloc(nv + 1, sizeof(int));
	int64_t *tmp = calloc(n0->n + m->n + 1, sizeof(int64_t));
	double *r = calloc(nv + 1, sizeof(double)), *b, est;
	int nnm = 0, np = 0, k, j;

	if (!vis || !tmp || !r)
		die("out of memory");
	for (k = 0; k < nv; k++)
		if (sched[k] == cb || sched[k] == ct)
			vis[nnm++] = k;
	for (k = 0; k + 1 < nnm; k += 2) {
		int vn = sched[vis[k]] == cb ? vis[k] : vis[k + 1];
		int vm = sched[vis[k]] == cb ? vis[k + 1] : vis[k];
		double a, c;

		if (sched[vn] != cb || sched[vm] != ct)
			continue;
		a = visit_median(m, vm, tmp);
		c = visit_median(n0, vn, tmp);
		if (a > 0 && c > 0)
			r[np++] = a / c;
	}
	*npairs = np;
	*lo = *hi = est = 0;
	if (np) {
		double *t = calloc(np, sizeof(double));

		b = calloc(BOOT, sizeof(double));
		if (!b || !t)
			die("out of memory");
		for (k = 0; k < BOOT; k++) {
			for (j = 0; j < np; j++)
				t[j] = r[rng() % np];
			qsort(t, np, sizeof(double), cmp_dbl);
			b[k] = np % 2 ? t[np / 2] : (t[np / 2 - 1] + t[np / 2]) / 2;
		}
		qsort(b, BOOT, sizeof(double), cmp_dbl);
		*lo = b[BOOT / 40];
		*hi = b[BOOT - 1 - BOOT / 40];
		qsort(r, np, sizeof(double), cmp_dbl);
		est = np % 2 ? r[np / 2] : (r[np / 2 - 1] + r[np / 2]) / 2;
		free(b);
		free(t);
	}
	free(vis);
	free(tmp);
	free(r);
	return est;
}

/*
 * The median of @n0's samples from the @want N visits nearest in time to
 * a B visit: the baseline of the moment bpftrace was attached.
 */
static double nearby_median(const struct series *n0, const char *sched,
			    int want)
{
	int nv = strlen(sched), *dist = calloc(nv + 1, sizeof(int));
	int64_t *tmp = calloc(n0->n + 1, sizeof(int64_t));
	int k, j, d, n = 0, taken = 0;
	double m;

	if (!dist || !tmp)
		die("out of memory");
	for (k = 0; k < nv; k++) {
		dist[k] = -1;
		if (sched[k] != 'N')
			continue;
		for (j = 0; j < nv; j++)
			if ((sched[j] == 'B' || sched[j] == 'b') &&
			    (dist[k] < 0 || abs(j - k) < dist[k]))
				dist[k] = abs(j - k);
	}
	for (d = 1; d <= nv && taken < want; d++)
		for (k = 0; k < nv; k++) {
			if (dist[k] != d)
				continue;
			taken++;
			for (j = 0; j < n0->n; j++)
				if (n0->visit[j] == k)
					tmp[n++] = n0->ns[j];
		}
	m = median(tmp, n);
	free(dist);
	free(tmp);
	return m;
}

static void kprobes_arm(int on)
{
	int fd = open(KPROBES_ENABLED, O_WRONLY);

	if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
		die("%s: %s", KPROBES_ENABLED, strerror(errno));
	close(fd);
}

/*
 * The oracle's own time in the kernel: with kernel.bpf_stats_enabled, each
 * BPF program counts its run time, shown as run_time_ns in the fdinfo of
 * the bpftrace process's program fds.  The sum over its programs, read
 * around each fork like the module's probe_ns (a lower bound of its cost:
 * kprobe traps and kretprobe trampolines are not in it).
 */
#define BPF_STATS	"/proc/sys/kernel/bpf_stats_enabled"
#define MAXPROGS	64

static int bt_pid, bt_fds[MAXPROGS], bt_nfds;

static void bpf_stats(int on)
{
	int fd = open(BPF_STATS, O_WRONLY);

	if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
		die("%s: %s", BPF_STATS, strerror(errno));
	close(fd);
}

/* Finds the BPF program fds of the bpftrace whose pid is in @pidfile. */
static void bt_find(const char *pidfile)
{
	char path[300], link[64];
	struct dirent *d;
	ssize_t n;
	FILE *f;
	DIR *dir;

	bt_nfds = 0;
	f = fopen(pidfile, "r");
	if (!f || fscanf(f, "%d", &bt_pid) != 1)
		die("%s: no bpftrace pid", pidfile);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/fd", bt_pid);
	dir = opendir(path);
	if (!dir)
		die("%s: %s", path, strerror(errno));
	while ((d = readdir(dir)) && bt_nfds < MAXPROGS) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", bt_pid,
			 d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:bpf-prog"))
			bt_fds[bt_nfds++] = atoi(d->d_name);
	}
	closedir(dir);
}

/* The total run time of the oracle's programs, ns. */
static int64_t bt_run_ns(void)
{
	char path[64], buf[1024], *p;
	int64_t sum = 0;
	ssize_t n;
	int k, fd;

	for (k = 0; k < bt_nfds; k++) {
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", bt_pid,
			 bt_fds[k]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		p = strstr(buf, "run_time_ns:");
		if (p)
			sum += strtoll(p + 12, NULL, 10);
	}
	return sum;
}

static const char *mod_name = "vforkacct";

/* Loads (@load) or unloads the module; the kernel's own syscalls. */
static void module_set(int load, int ko_fd)
{
	if (load) {
		if (syscall(SYS_finit_module, ko_fd, "", 0) && errno != EEXIST)
			die("finit_module: %s", strerror(errno));
	} else {
		if (syscall(SYS_delete_module, mod_name, O_NONBLOCK) &&
		    errno != ENOENT)
			die("delete_module: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	int targets[MAXPAR] = { 10, 1000, 30000, 65000 };
	int weights[MAXPAR] = { 32, 8, 1, 1 };
	int npar = 4, nw = 4, reps = 2, reps_b = 12, pairs = 10;
	int i, o, s, v, rep, nlist, opt, nsched, ko_fd = -1;
	const char *bt = NULL, *ko = NULL, *out = ".", *prog, *bt_pidfile = NULL;
	double med[NSTATES][MAXPAR][NOPS];
	int list[MAXPAR * NOPS * 64];
	struct parent par[MAXPAR];
	int64_t t0, tv, switch_ns[NSTATES] = { 0 };
	int cur = -1, run = -1, visits[NSTATES] = { 0 }, toggle = 0;
	char path[4096], cmd[4096], sched[1024];
	FILE *md, *dat, *raw;

	while ((opt = getopt(argc, argv, "v:w:k:b:c:m:n:x:p:o:")) != -1) {
		switch (opt) {
		case 'v':
			npar = parse_list(optarg, targets, MAXPAR);
			break;
		case 'w':
			nw = parse_list(optarg, weights, MAXPAR);
			break;
		case 'k':
			reps = atoi(optarg);
			break;
		case 'b':
			reps_b = atoi(optarg);
			break;
		case 'c':
			pairs = atoi(optarg);
			break;
		case 'm':
			ko = optarg;
			break;
		case 'n':
			mod_name = optarg;
			break;
		case 'x':
			bt = optarg;
			break;
		case 'p':
			bt_pidfile = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || npar < 1 || nw != npar || reps < 1 ||
	    reps_b < 0 || pairs < 0 || pairs > 100)
		usage();
	for (i = 0; i < npar; i++)
		if (weights[i] < 1 || weights[i] > 64)
			usage();
	prog = argv[optind];
	if (access(prog, X_OK))
		die("%s: %s", prog, strerror(errno));
	pin_cpu(0);
	if (!ko)
		pairs = 0;
	if (!bt)
		reps_b = 0;
	if (reps_b > 200)
		usage();
	toggle = reps_b && !access(KPROBES_ENABLED, W_OK);
	if (ko) {
		ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
		if (ko_fd < 0)
			die("%s: %s", ko, strerror(errno));
	}

	/*
	 * PAIRS pairs of N and M visits, the bpftrace visit, then the same
	 * backwards: symmetric about the middle.
	 */
	nsched = 0;
	for (i = 0; i < pairs; i++) {
		sched[nsched++] = 'N';
		sched[nsched++] = 'M';
	}
	/*
	 * The bpftrace block: attached once; if kprobes can be disarmed,
	 * visits with them armed (B) and disarmed (b) alternate, B b B b ...
	 * then b B b B ..., REPS_B repetitions armed in all.
	 */
	if (reps_b && toggle) {
		int nb = reps_b / (2 * reps) > 0 ? reps_b / (2 * reps) : 1;

		for (i = 0; i < nb; i++) {
			sched[nsched++] = 'B';
			sched[nsched++] = 'b';
		}
		for (i = 0; i < nb; i++) {
			sched[nsched++] = 'b';
			sched[nsched++] = 'B';
		}
	} else if (reps_b) {
		sched[nsched++] = 'B';
	}
	for (i = 2 * pairs - 1; i >= 0; i--)
		sched[nsched++] = sched[i];
	if (!nsched)
		sched[nsched++] = 'N';
	sched[nsched] = '\0';

	t0 = now_ns();
	for (i = 0; i < npar; i++) {
		par[i] = (struct parent){ .target = targets[i],
					  .weight = weights[i] };
		start(&par[i], prog);
	}
	printf("# overhead: parents with");
	for (i = 0; i < npar; i++)
		printf(" %d", par[i].vmas);
	printf(" VMAs ready in %.1f s; schedule %s\n",
	       (now_ns() - t0) / 1e9, sched);
	fflush(stdout);

	snprintf(path, sizeof(path), "%s/overhead-raw.csv", out);
	raw = fopen(path, "w");
	if (!raw)
		die("%s: %s", path, strerror(errno));
	fprintf(raw, "visit,state,vmas,op,ns,forks,probe_ns,probe_max_ns\n");

	t0 = now_ns();
	for (v = 0; v < nsched; v++) {
		int nreps;

		s = strchr(st_letter, sched[v]) - st_letter;
		if (s != cur) {
			int bt_was = cur == S_BPF || cur == S_BOFF;
			int bt_now = s == S_BPF || s == S_BOFF;

			tv = now_ns();
			if (bt_was && !bt_now) {
				if (bt_pidfile)
					bpf_stats(0);
				if (toggle)
					kprobes_arm(1);
				snprintf(cmd, sizeof(cmd), "%s stop", bt);
				if (system(cmd))
					die("'%s' failed", cmd);
			}
			if (ko)
				module_set(s == S_MODULE, ko_fd);
			if (bt_now && !bt_was) {
				snprintf(cmd, sizeof(cmd), "%s start", bt);
				if (system(cmd))
					die("'%s' failed", cmd);
				if (bt_pidfile) {
					bt_find(bt_pidfile);
					bpf_stats(1);
				}
			}
			if (bt_now && toggle)
				kprobes_arm(s == S_BPF);
			switch_ns[s] += now_ns() - tv;
			run++;
			/* A first fork in the new state, not counted. */
			module_reset();
			ask(&par[0], OP_EXIT);
		}
		cur = s;
		visits[s]++;
		nreps = s == S_BPF && !toggle ? reps_b : reps;
		tv = now_ns();
		for (rep = 0; rep < nreps; rep++) {
			nlist = 0;
			for (i = 0; i < npar; i++)
				for (o = 0; o < NOPS; o++)
					for (int w = 0; w < par[i].weight; w++)
						list[nlist++] = i * NOPS + o;
			shuffle(list, nlist);
			for (int j = 0; j < nlist; j++) {
				int64_t ns, forks, probe, pmax, walk;

				i = list[j] / NOPS;
				o = list[j] % NOPS;
				int64_t bt0 = 0;

				module_reset();
				if (bt_nfds && (s == S_BPF || s == S_BOFF))
					bt0 = bt_run_ns();
				ns = ask(&par[i], o);
				module_read(&forks, &probe, &pmax, &walk);
				if (bt_nfds && (s == S_BPF || s == S_BOFF)) {
					probe = bt_run_ns() - bt0;
					forks = 1;
					pmax = -1;
				}
				push(&ser[s][i][o], v, run, ns, forks, probe, pmax,
				     walk);
				fprintf(raw, "%d,%s,%d,%s,%lld,%lld,%lld,%lld\n",
					v, st_name[s], par[i].vmas, op_name[o],
					(long long)ns, (long long)forks,
					(long long)probe, (long long)pmax);
			}
		}
		if ((v + 1) % 10 == 0 || v + 1 == nsched) {
			printf("# overhead: visit %d/%d (%s) %.1f s, total %.0f s\n",
			       v + 1, nsched, st_name[s], (now_ns() - tv) / 1e9,
			       (now_ns() - t0) / 1e9);
			fflush(stdout);
		}
	}
	if (cur == S_BPF || cur == S_BOFF) {
		if (bt_pidfile)
			bpf_stats(0);
		if (toggle)
			kprobes_arm(1);
		snprintf(cmd, sizeof(cmd), "%s stop", bt);
		if (system(cmd))
			die("'%s' failed", cmd);
	}
	fclose(raw);
	for (i = 0; i < npar; i++) {
		close(par[i].cmd);
		close(par[i].res);
		waitpid(par[i].pid, NULL, 0);
	}

	for (s = 0; s < NSTATES; s++)
		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				med[s][i][o] = med_of(&ser[s][i][o]);

	/* The module's own probe time, fork by fork. */
	double mean_probe[MAXPAR][NOPS] = { { 0 } }, med_probe[MAXPAR][NOPS] = { { 0 } };
	double med_walk[MAXPAR][NOPS] = { { 0 } };
	double worst[MAXPAR][NOPS] = { { 0 } };
	int64_t fsum[MAXPAR][NOPS] = { { 0 } }, pmax[MAXPAR][NOPS] = { { 0 } };
	double worst_frac = 0, max_probe_all = 0;
	int extra_forks = 0, have_m = ser[S_MODULE][0][0].n > 0;
	int have_b = ser[S_BPF][0][0].n > 0;
	/* The summary's numbers (absent with another module: -m, -n). */
	int have_probe = have_m && ser[S_MODULE][0][0].forks[0] >= 0;

	for (i = 0; i < npar; i++)
		for (o = 0; o < NOPS; o++) {
			struct series *m = &ser[S_MODULE][i][o];
			int64_t psum = 0, *per = calloc(m->n + 1, sizeof(int64_t));
			int64_t *wper = calloc(m->n + 1, sizeof(int64_t));
			int k, np = 0, nw = 0;

			if (!per || !wper)
				die("out of memory");
			for (k = 0; k < m->n && have_probe; k++) {
				psum += m->probe[k];
				fsum[i][o] += m->forks[k];
				extra_forks += m->forks[k] != 1;
				if (m->forks[k] == 1)
					per[np++] = m->probe[k];
				if (m->forks[k] == 1 && m->walk[k] >= 0)
					wper[nw++] = m->walk[k];
				if (m->probe_max[k] > pmax[i][o])
					pmax[i][o] = m->probe_max[k];
				if ((double)m->probe_max[k] / m->ns[k] > worst[i][o])
					worst[i][o] = (double)m->probe_max[k] / m->ns[k];
			}
			if (fsum[i][o])
				mean_probe[i][o] = (double)psum / fsum[i][o];
			med_probe[i][o] = median(per, np);
			med_walk[i][o] = nw ? median(wper, nw) : -1;
			free(per);
			free(wper);
			if (worst[i][o] > worst_frac)
				worst_frac = worst[i][o];
			if (pmax[i][o] > max_probe_all)
				max_probe_all = pmax[i][o];
		}

	snprintf(path, sizeof(path), "%s/overhead.md", out);
	md = fopen(path, "w");
	if (!md)
		die("%s: %s", path, strerror(errno));

	fprintf(md, "Median latency in ms (samples in brackets). Ratios of medians to no module, with a 95%% interval from a bootstrap over runs of visits. Paired: the median over adjacent none/module visit pairs of their ratio of medians (drift cancels within a pair), 95%% interval from a bootstrap over pairs. Nearby none: the none visits nearest in time to the bpftrace ones, as many repetitions as they have. Armed / disarmed: bpftrace attached throughout its block, its kprobes armed and disarmed (%s) in alternate visits, paired like the module: a lower bound of the oracle's cost (disarmed, its task_newtask tracepoint program still runs). While bpftrace is attached, kernel.bpf_stats_enabled is on (its own accounting is in the bpftrace latencies). Oracle extra / module extra: the oracle's extra (armed / disarmed - 1; without that, bpftrace / nearby none - 1) over the module's, the larger of its paired ratio - 1 and its probe time / latency (next table).\n\n",
		KPROBES_ENABLED);
	fprintf(md, "| parent VMAs | operation | no module | module | module / none | module / none, paired | bpftrace | bpftrace / none | bpftrace / nearby none | bpftrace armed / disarmed, paired | oracle extra / module extra |\n");
	fprintf(md, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	double rm[MAXPAR][NOPS], rlo[MAXPAR][NOPS], rhi[MAXPAR][NOPS];
	double pr[MAXPAR][NOPS], plo[MAXPAR][NOPS], phi[MAXPAR][NOPS];
	double blo[MAXPAR][NOPS], bhi[MAXPAR][NOPS], bnear[MAXPAR][NOPS];
	double xtra[MAXPAR][NOPS], ar, alo, ahi;
	int npairs = 0, nbpairs = 0, near = (reps_b + reps - 1) / reps;
	int have_off = ser[S_BOFF][0][0].n > 0;

	for (i = 0; i < npar; i++)
		for (o = 0; o < NOPS; o++) {
			double n0 = med[S_NONE][i][o], m = med[S_MODULE][i][o];
			double b = med[S_BPF][i][o], mx;

			fprintf(md, "| %d | %s | %.3f (%d) |", par[i].vmas,
				op_name[o], ms(n0), ser[S_NONE][i][o].n);
			rm[i][o] = m / n0;
			if (have_m) {
				ratio_ci(&ser[S_MODULE][i][o], &ser[S_NONE][i][o],
					 &rlo[i][o], &rhi[i][o]);
				pr[i][o] = paired_ratio(&ser[S_NONE][i][o],
							&ser[S_MODULE][i][o], sched,
							'N', 'M', &plo[i][o],
							&phi[i][o], &npairs);
				fprintf(md, " %.3f (%d) | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] |",
					ms(m), ser[S_MODULE][i][o].n, rm[i][o],
					rlo[i][o], rhi[i][o], pr[i][o], plo[i][o],
					phi[i][o]);
			} else {
				fprintf(md, " - | - | - |");
			}
			if (have_b) {
				ratio_ci(&ser[S_BPF][i][o], &ser[S_NONE][i][o],
					 &blo[i][o], &bhi[i][o]);
				bnear[i][o] = b / nearby_median(&ser[S_NONE][i][o],
								sched, near);
				fprintf(md, " %.3f (%d) | %.3f [%.3f, %.3f] | %.3f |",
					ms(b), ser[S_BPF][i][o].n, b / n0,
					blo[i][o], bhi[i][o], bnear[i][o]);
			} else {
				fprintf(md, " - | - | - |");
			}
			ar = have_b ? bnear[i][o] : 1;
			if (have_off) {
				ar = paired_ratio(&ser[S_BOFF][i][o],
						  &ser[S_BPF][i][o], sched, 'b', 'B',
						  &alo, &ahi, &nbpairs);
				fprintf(md, " %.3f [%.3f, %.3f] |", ar, alo, ahi);
			} else {
				fprintf(md, " - |");
			}
			mx = have_m ? pr[i][o] - 1 : 0;
			if (have_probe && med_probe[i][o] / n0 > mx)
				mx = med_probe[i][o] / n0;
			xtra[i][o] = mx > 0 ? (ar - 1) / mx : 0;
			if (have_m && have_b && mx > 0)
				fprintf(md, " %.1f |\n", xtra[i][o]);
			else
				fprintf(md, " - |\n");
		}
	if (have_m || have_off)
		fprintf(md, "\n(%d none/module pairs, %d armed/disarmed pairs.)\n",
			npairs, nbpairs);

	if (have_probe) {
		fprintf(md, "\nPer-fork probe time vs fork latency, module loaded. Probe time: the summary's probe_ns after that one fork (`reset` before it): its task_newtask probe plus the exec and exit probes of its child, all with preemption disabled; longest: probe_max_ns, one probe. Preemptible work: walk_ns, the walk of the parent's VMAs during its dup_mmap() and the verdict and record written by the parent's task_work. Probe-time estimate of the overhead: 1 + (median probe time + median walk) / median latency with no module.\n\n");
		fprintf(md, "| parent VMAs | operation | forks | probe time per fork (preemption off), median (us) | mean (us) | longest probe (us) | preemptible work per fork, median (us) | probe-time estimate | longest probe / its own fork's latency | module delta of medians (us) |\n");
		fprintf(md, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				fprintf(md, "| %d | %s | %lld | %.1f | %.1f | %.1f | %.1f | %.3f | %.2f%% | %.1f |\n",
					par[i].vmas, op_name[o],
					(long long)fsum[i][o],
					med_probe[i][o] / 1e3,
					mean_probe[i][o] / 1e3, pmax[i][o] / 1e3,
					med_walk[i][o] < 0 ? 0 : med_walk[i][o] / 1e3,
					1 + (med_probe[i][o] +
					     (med_walk[i][o] < 0 ? 0 : med_walk[i][o])) /
					    med[S_NONE][i][o],
					100 * worst[i][o],
					(med[S_MODULE][i][o] - med[S_NONE][i][o]) / 1e3);
		if (extra_forks)
			fprintf(md, "\n(%d measurements saw other forks than the measured one in the summary: their probe time counts in the mean, not in the median.)\n",
				extra_forks);
	}

	/* The oracle's BPF run time per fork, when it could be read. */
	double med_bt[MAXPAR][NOPS] = { { 0 } }, med_bt_off[MAXPAR][NOPS] = { { 0 } };
	int have_bt = have_b && ser[S_BPF][0][0].probe[0] >= 0;

	for (i = 0; i < npar && have_bt; i++)
		for (o = 0; o < NOPS; o++) {
			struct series *b = &ser[S_BPF][i][o];
			struct series *f = &ser[S_BOFF][i][o];
			int64_t *tmp = calloc(b->n + f->n + 1, sizeof(int64_t));

			if (!tmp)
				die("out of memory");
			memcpy(tmp, b->probe, b->n * sizeof(int64_t));
			med_bt[i][o] = median(tmp, b->n);
			memcpy(tmp, f->probe, f->n * sizeof(int64_t));
			med_bt_off[i][o] = median(tmp, f->n);
			free(tmp);
		}
	if (have_bt && have_probe) {
		fprintf(md, "\nIn-kernel time per fork: the oracle's BPF programs (run_time_ns summed over the bpftrace process's programs, kernel.bpf_stats_enabled on during its block; kprobe traps and kretprobe trampolines not included) against the module's probes (as above). Medians, us.\n\n");
		fprintf(md, "| parent VMAs | operation | oracle BPF time, kprobes armed | oracle BPF time, disarmed | module probe time | oracle / module |\n");
		fprintf(md, "| ---: | --- | ---: | ---: | ---: | ---: |\n");
		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				fprintf(md, "| %d | %s | %.1f | %.1f | %.1f | %.1f |\n",
					par[i].vmas, op_name[o],
					med_bt[i][o] / 1e3, med_bt_off[i][o] / 1e3,
					med_probe[i][o] / 1e3,
					med_bt[i][o] / med_probe[i][o]);
	}

	/*
	 * The hot-path targets (issue 12): paired ratio <= 1.01 at 10 and
	 * 1,000 VMAs (with an interval whose upper end is under 1.03), <= 1.03
	 * at 30,000 and more; fork+_exit and fork+exec alike.
	 */
	fprintf(md, "\nTargets (issue 12, the hot path):\n\n");
	for (i = 0; i < npar && have_m; i++) {
		double lim = par[i].target >= 30000 ? 1.03 : 1.01;

		for (o = 0; o < NOPS; o++)
			fprintf(md, "- module overhead on %s at %d VMAs <= %.2f: paired %.3f [%.3f, %.3f] %s%s%s; ratio of medians %.3f [%.3f, %.3f]\n",
				op_name[o], par[i].vmas, lim, pr[i][o],
				plo[i][o], phi[i][o], verdict(pr[i][o] <= lim),
				conclusive(plo[i][o], phi[i][o], lim),
				lim < 1.03 ? (phi[i][o] < 1.03 ?
					      "; interval's upper end under 1.03" :
					      "; interval's upper end not under 1.03: more rounds needed") : "",
				rm[i][o], rlo[i][o], rhi[i][o]);
	}
	if (have_probe && npar > 1 && med_probe[0][OP_EXIT] > 0)
		fprintf(md, "- preemption-off time per fork+_exit at %d VMAs at most 2x that at %d: %.2fx %s; at %d VMAs at most 6.5 us: %.1f us %s\n",
			par[npar - 1].vmas, par[0].vmas,
			med_probe[npar - 1][OP_EXIT] / med_probe[0][OP_EXIT],
			verdict(med_probe[npar - 1][OP_EXIT] <=
				2 * med_probe[0][OP_EXIT]),
			par[0].vmas, med_probe[0][OP_EXIT] / 1e3,
			verdict(med_probe[0][OP_EXIT] <= 6500));
	fprintf(md, "\nTargets (issue 7, the bpftrace oracle):\n\n");
	if (have_bt && have_probe) {
		int nok = 0;

		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				nok += med_bt[i][o] >= 3 * med_probe[i][o];
		fprintf(md, "- the bpftrace oracle's overhead at least 3x the module's, by in-kernel time per fork in every row: %s (in %d of %d rows)",
			verdict(nok == npar * NOPS), nok, npar * NOPS);
		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				if (med_bt[i][o] < 3 * med_probe[i][o])
					fprintf(md, "; not at %d VMAs %s (%.1fx)",
						par[i].vmas, op_name[o],
						med_bt[i][o] / med_probe[i][o]);
		fprintf(md, "\n");
	}
	if (have_m && have_b) {
		int nok = 0;

		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				nok += xtra[i][o] >= 3;
		fprintf(md, "- the bpftrace oracle's overhead at least 3x the module's, by latency (oracle extra / module extra >= 3) in every row: %s (in %d of %d rows)",
			verdict(nok == npar * NOPS), nok, npar * NOPS);
		for (i = 0; i < npar; i++)
			for (o = 0; o < NOPS; o++)
				if (xtra[i][o] < 3)
					fprintf(md, "; not at %d VMAs %s (%.1fx)",
						par[i].vmas, op_name[o], xtra[i][o]);
		fprintf(md, "\n");
	}
	if (have_probe)
		fprintf(md, "- no probe longer than the fork it observes: longest probe %.1f us; at worst a probe took %.2f%% of its own fork's latency: %s\n",
			max_probe_all / 1e3, 100 * worst_frac,
			verdict(worst_frac < 1));

	if (have_probe && npar >= 2) {
		int z = npar - 1;
		double w0 = med_walk[0][OP_EXIT] < 0 ? 0 : med_walk[0][OP_EXIT];
		double wz = med_walk[z][OP_EXIT] < 0 ? 0 : med_walk[z][OP_EXIT];
		double per_vma = (med_probe[z][OP_EXIT] + wz -
				  med_probe[0][OP_EXIT] - w0) /
				 (par[z].vmas - par[0].vmas);
		double fork_per_vma = (med[S_NONE][z][OP_EXIT] - med[S_NONE][0][OP_EXIT]) /
				      (par[z].vmas - par[0].vmas);
		double dz = med[S_MODULE][z][OP_EXIT] - med[S_NONE][z][OP_EXIT];

		fprintf(md, "\nThe VMA walk: the module's median probe time plus walk per fork+_exit grows by %.0f ns per VMA (%d -> %d VMAs: %.1f -> %.1f us), while fork+_exit itself grows by %.0f ns per VMA: the walk adds %.1f%% to the per-VMA cost of a fork. At %d VMAs probe time plus walk is %.2f%% of the fork's median latency with no module; the difference of medians there is %.1f us (%.2f%%).\n",
			per_vma, par[0].vmas, par[z].vmas,
			(med_probe[0][OP_EXIT] + w0) / 1e3,
			(med_probe[z][OP_EXIT] + wz) / 1e3,
			fork_per_vma, 100 * per_vma / fork_per_vma,
			par[z].vmas,
			100 * (med_probe[z][OP_EXIT] + wz) / med[S_NONE][z][OP_EXIT],
			dz / 1e3, 100 * dz / med[S_NONE][z][OP_EXIT]);
	}
	fprintf(md, "\nSchedule %s (N none, M module, B bpftrace, b bpftrace with kprobes disarmed; visits: %d N, %d M, %d B, %d b; symmetric, so slow drift weighs alike on every state), %d repetition(s) per visit%s (module unloaded while bpftrace is attached; it attaches once: it takes long to start under TCG); one repetition runs the variants of each parent",
		sched, visits[S_NONE], visits[S_MODULE], visits[S_BPF],
		visits[S_BOFF], reps, toggle ? "" : ", the B one excepted");
	for (i = 0; i < npar; i++)
		fprintf(md, "%s%d", i ? "/" : " ", par[i].weight);
	fprintf(md, " time(s), all in a fresh random order; a state switch is followed by one uncounted fork. %.0f s in all; state switches took",
		(now_ns() - t0) / 1e9);
	for (s = 0; s < NSTATES; s++)
		fprintf(md, " %s %.1f s%s", st_name[s], switch_ns[s] / 1e9,
			s < NSTATES - 1 ? "," : ".");
	fprintf(md, " Parent VMAs as /proc/PID/maps counts them; the added ones alternate RW and RWX single pages, all VM_ACCOUNT, untouched. Everything but the oracle's user-space half runs pinned to one vCPU.\n");
	fclose(md);

	snprintf(path, sizeof(path), "%s/overhead.dat", out);
	dat = fopen(path, "w");
	if (!dat)
		die("%s: %s", path, strerror(errno));
	fprintf(dat, "# vmas, then median ms: fork+_exit none module bpftrace, fork+exec none module bpftrace;\n");
	fprintf(dat, "# then 95%% intervals of the ratios: module/none fork+_exit lo hi, fork+exec lo hi; bpftrace/none the same;\n");
	fprintf(dat, "# then the probe-time estimates: fork+_exit, fork+exec\n");
	for (i = 0; i < npar; i++) {
		fprintf(dat, "%d", par[i].vmas);
		for (o = 0; o < NOPS; o++)
			for (s = 0; s <= S_BPF; s++)
				if (ser[s][i][o].n)
					fprintf(dat, " %.4f", ms(med[s][i][o]));
				else
					fprintf(dat, " NaN");
		for (o = 0; o < NOPS; o++)
			if (have_m)
				fprintf(dat, " %.4f %.4f", rlo[i][o], rhi[i][o]);
			else
				fprintf(dat, " NaN NaN");
		for (o = 0; o < NOPS; o++)
			if (have_b)
				fprintf(dat, " %.4f %.4f", blo[i][o], bhi[i][o]);
			else
				fprintf(dat, " NaN NaN");
		for (o = 0; o < NOPS; o++)
			if (have_probe)
				fprintf(dat, " %.4f",
					1 + med_probe[i][o] / med[S_NONE][i][o]);
			else
				fprintf(dat, " NaN");
		fprintf(dat, "\n");
	}
	fclose(dat);
	printf("# overhead: done, %.0f s\n", (now_ns() - t0) / 1e9);
	return 0;
}
