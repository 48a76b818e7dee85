// SPDX-License-Identifier: GPL-2.0
/*
 * spawnbench: what it costs to start a tiny program from a parent holding
 * 0..1024 MiB of private writable memory, by fork+exec, vfork+exec and
 * posix_spawn (each followed by waitpid), with the memory untouched or
 * dirtied (every 4 KiB page written).
 *
 * One worker process per parent state holds its memory for the whole run;
 * the coordinator asks them in turn to start PROG once and report the
 * time.  Every round runs every variant (state x method) once, in a fresh
 * random order, so drift and the noise of a shared host hit all variants
 * alike.  Only one variant runs at a time.
 *
 * Dirty memory is dirtied with MADV_NOHUGEPAGE: 4 KiB pages, one PTE
 * each, which fork must copy and the child's exec must tear down.  With
 * transparent huge pages ("always" on Debian kernels) a freshly dirtied
 * aligned region is 2 MiB pages instead, and much cheaper to fork: the
 * largest size is measured that way too, afterwards (-T), not interleaved
 * with the grid (both would not fit in the VM's memory at once).
 *
 * Usage: spawnbench [-r ROUNDS] [-w WARMUP] [-T THP_ROUNDS] [-o OUTDIR] PROG
 * Writes OUTDIR/spawn.md (markdown table), spawn.dat (gnuplot data),
 * spawn-raw.csv (every sample).
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "bench.h"

extern char **environ;

enum { M_FORK, M_VFORK, M_SPAWN, NMETH };
static const char *const meth_name[NMETH] = {
	"fork+exec", "vfork+exec", "posix_spawn",
};

enum { MEM_CLEAN, MEM_DIRTY, MEM_THP };
static const char *const mem_name[] = { "untouched", "dirty", "dirty, THP" };

static const size_t sizes[] = { 0, 16, 64, 256, 1024 };
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))
#define MAXPAR	(2 * NSIZES)

struct parent {
	size_t mib;
	int mem;
	pid_t pid;
	int cmd, res;		/* pipes to and from the worker */
	long rss_kb, huge_kb;	/* as the worker reports them */
};

struct result {
	int64_t ns;
	int status;
};

/* `key:` of a small /proc file, in kB; -1 if missing.  No malloc. */
static long proc_kb(const char *path, const char *key)
{
	char buf[4096], *p;
	size_t klen = strlen(key);
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
	}
	return -1;
}

/* Starts @prog once by method @m and waits for it; the time in ns. */
static int64_t spawn_once(int m, const char *prog, int *status)
{
	char *argv[] = { (char *)prog, NULL };
	int64_t t0 = now_ns();
	pid_t pid = -1;

	switch (m) {
	case M_FORK:
		pid = fork();
		if (pid == 0) {
			execve(prog, argv, environ);
			_exit(127);
		}
		break;
	case M_VFORK:
		pid = vfork();
		if (pid == 0) {
			execve(prog, argv, environ);
			_exit(127);
		}
		break;
	default:
		if (posix_spawn(&pid, prog, NULL, NULL, argv, environ))
			pid = -1;
		break;
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
	size_t len = p->mib << 20, i;
	struct result r;
	long info[2];
	char *mem;
	char c;

	if (len) {
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			die("mmap %zu MiB: %s", p->mib, strerror(errno));
		if (p->mem != MEM_THP &&
		    madvise(mem, len, MADV_NOHUGEPAGE))
			die("madvise: %s", strerror(errno));
		if (p->mem != MEM_CLEAN)
			for (i = 0; i < len; i += 4096)
				mem[i] = 1;
	}
	info[0] = proc_kb("/proc/self/status", "VmRSS");
	info[1] = proc_kb("/proc/self/smaps_rollup", "AnonHugePages");
	if (write_full(res, info, sizeof(info)))
		_exit(1);
	while (read_full(cmd, &c, 1) == 0) {
		r.status = -1;
		r.ns = spawn_once(c, prog, &r.status);
		if (write_full(res, &r, sizeof(r)))
			_exit(1);
	}
	_exit(0);
}

static void start(struct parent *p, const char *prog)
{
	long info[2];

	p->pid = fork_worker(&p->cmd, &p->res);
	if (p->pid == 0)
		worker(p, p->cmd, p->res, prog);
	if (read_full(p->res, info, sizeof(info)))
		die("worker for %zu MiB %s did not start", p->mib,
		    mem_name[p->mem]);
	p->rss_kb = info[0];
	p->huge_kb = info[1];
}

static void stop(struct parent *p)
{
	close(p->cmd);
	close(p->res);
	waitpid(p->pid, NULL, 0);
}

static int64_t ask(struct parent *p, int m)
{
	char c = m;
	struct result r;

	if (write_full(p->cmd, &c, 1) || read_full(p->res, &r, sizeof(r)))
		die("worker for %zu MiB %s died", p->mib, mem_name[p->mem]);
	if (r.ns < 0 || !WIFEXITED(r.status) || WEXITSTATUS(r.status))
		die("%s from %zu MiB %s: spawn failed or child status 0x%x",
		    meth_name[m], p->mib, mem_name[p->mem], r.status);
	return r.ns;
}

struct stat2 {
	double med;
	int64_t p90;
};

static struct stat2 stats(int64_t *v, int n)
{
	struct stat2 s;

	s.med = median(v, n);
	s.p90 = pctile(v, n, 90);
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: spawnbench [-r ROUNDS] [-w WARMUP] [-T THP_ROUNDS] [-o OUTDIR] PROG\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int rounds = 100, warmup = 3, thp_rounds = 30;
	struct stat2 st[MAXPAR][NMETH], thp[NMETH];
	struct parent par[MAXPAR], big;
	int order[MAXPAR * NMETH];
	const char *out = ".", *prog;
	char path[4096];
	int64_t *samp[MAXPAR][NMETH], *tsamp[NMETH];
	int npar = 0, nvar, i, j, m, r, opt, loaded;
	int64_t t0, t1;
	FILE *md, *dat, *raw;

	while ((opt = getopt(argc, argv, "r:w:T:o:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 'T':
			thp_rounds = atoi(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || rounds < 1 || warmup < 0 || thp_rounds < 0)
		usage();
	prog = argv[optind];
	if (access(prog, X_OK))
		die("%s: %s", prog, strerror(errno));
	loaded = !access("/proc/vforkacct", F_OK);
	pin_cpu(0);

	snprintf(path, sizeof(path), "%s/spawn-raw.csv", out);
	raw = fopen(path, "w");
	if (!raw)
		die("%s: %s", path, strerror(errno));
	fprintf(raw, "round,parent_mib,memory,method,ns\n");

	t0 = now_ns();
	for (i = 0; i < (int)NSIZES; i++) {
		par[npar++] = (struct parent){ .mib = sizes[i], .mem = MEM_CLEAN };
		if (sizes[i])
			par[npar++] = (struct parent){ .mib = sizes[i],
						       .mem = MEM_DIRTY };
	}
	for (i = 0; i < npar; i++)
		start(&par[i], prog);
	printf("# spawnbench: %d parents ready in %.1f s; %d rounds of %d variants (+%d warm-up)\n",
	       npar, (now_ns() - t0) / 1e9, rounds, npar * NMETH, warmup);
	fflush(stdout);

	nvar = npar * NMETH;
	for (i = 0; i < npar; i++)
		for (m = 0; m < NMETH; m++) {
			samp[i][m] = calloc(rounds, sizeof(int64_t));
			if (!samp[i][m])
				die("out of memory");
		}
	t0 = now_ns();
	for (r = -warmup; r < rounds; r++) {
		for (j = 0; j < nvar; j++)
			order[j] = j;
		shuffle(order, nvar);
		for (j = 0; j < nvar; j++) {
			struct parent *p = &par[order[j] / NMETH];
			int64_t ns;

			m = order[j] % NMETH;
			ns = ask(p, m);
			if (r < 0)
				continue;
			samp[order[j] / NMETH][m][r] = ns;
			fprintf(raw, "%d,%zu,%s,%s,%lld\n", r, p->mib,
				p->mib ? mem_name[p->mem] : "-", meth_name[m],
				(long long)ns);
		}
		if (r >= 0 && (r + 1) % 25 == 0) {
			printf("# spawnbench: round %d/%d, %.0f s\n", r + 1,
			       rounds, (now_ns() - t0) / 1e9);
			fflush(stdout);
		}
	}
	t1 = now_ns();
	for (i = 0; i < npar; i++) {
		stop(&par[i]);
		for (m = 0; m < NMETH; m++)
			st[i][m] = stats(samp[i][m], rounds);
	}

	/* Afterwards, alone: the largest size dirtied with THP allowed. */
	big = (struct parent){ .mib = sizes[NSIZES - 1], .mem = MEM_THP };
	if (thp_rounds) {
		int ord[NMETH];

		start(&big, prog);
		for (m = 0; m < NMETH; m++) {
			tsamp[m] = calloc(thp_rounds, sizeof(int64_t));
			if (!tsamp[m])
				die("out of memory");
		}
		for (r = -warmup; r < thp_rounds; r++) {
			for (j = 0; j < NMETH; j++)
				ord[j] = j;
			shuffle(ord, NMETH);
			for (j = 0; j < NMETH; j++) {
				int64_t ns = ask(&big, ord[j]);

				if (r < 0)
					continue;
				tsamp[ord[j]][r] = ns;
				fprintf(raw, "%d,%zu,%s,%s,%lld\n", r, big.mib,
					"dirty THP", meth_name[ord[j]],
					(long long)ns);
			}
		}
		stop(&big);
		for (m = 0; m < NMETH; m++)
			thp[m] = stats(tsamp[m], thp_rounds);
	}
	fclose(raw);

	snprintf(path, sizeof(path), "%s/spawn.md", out);
	md = fopen(path, "w");
	if (!md)
		die("%s: %s", path, strerror(errno));
	fprintf(md, "| parent holds | memory | fork+exec median | p90 | vfork+exec median | p90 | posix_spawn median | p90 | fork+exec / posix_spawn |\n");
	fprintf(md, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (i = 0; i < npar; i++) {
		fprintf(md, "| %zu MiB | %s |", par[i].mib,
			par[i].mib ? mem_name[par[i].mem] : "-");
		for (m = 0; m < NMETH; m++)
			fprintf(md, " %.2f | %.2f |", ms(st[i][m].med),
				ms(st[i][m].p90));
		fprintf(md, " %.2f |\n", st[i][M_FORK].med / st[i][M_SPAWN].med);
	}
	if (thp_rounds) {
		fprintf(md, "| %zu MiB | dirty, 2 MiB THP pages (%d rounds, afterwards) |",
			big.mib, thp_rounds);
		for (m = 0; m < NMETH; m++)
			fprintf(md, " %.2f | %.2f |", ms(thp[m].med),
				ms(thp[m].p90));
		fprintf(md, " %.2f |\n", thp[M_FORK].med / thp[M_SPAWN].med);
	}
	fprintf(md, "\nMilliseconds from just before fork/vfork/posix_spawn to waitpid()'s return, child = a static do-nothing program on tmpfs; all on one vCPU (pinned); vforkacct %s. %d rounds (after %d warm-up rounds); each round runs all %d variants once, in a fresh random order. Dirty = every 4 KiB page written, MADV_NOHUGEPAGE (one PTE per page: resident",
		loaded ? "loaded" : "not loaded",
		rounds, warmup, nvar);
	for (i = 0; i < npar; i++)
		if (par[i].mem == MEM_DIRTY)
			fprintf(md, " %ld", par[i].rss_kb / 1024);
	fprintf(md, " MiB). The grid took %.0f s.", (t1 - t0) / 1e9);
	if (thp_rounds)
		fprintf(md, " THP row: the kernel's default policy (`always` on Debian), %ld MiB of the %zu MiB in huge pages, measured alone after the grid (it does not fit in the VM's memory beside it).",
			big.huge_kb / 1024, big.mib);
	fprintf(md, "\n");
	fclose(md);

	/* gnuplot: x position (0 MiB drawn at 4), then medians in ms. */
	snprintf(path, sizeof(path), "%s/spawn.dat", out);
	dat = fopen(path, "w");
	if (!dat)
		die("%s: %s", path, strerror(errno));
	fprintf(dat, "# x mib clean:fork vfork spawn dirty:fork vfork spawn (median ms)\n");
	for (i = 0; i < npar; i++) {
		int c = i, d = i;

		if (par[i].mem == MEM_DIRTY)
			continue;
		if (par[i].mib)
			d = i + 1;
		fprintf(dat, "%zu %zu", par[i].mib ? par[i].mib : 4, par[i].mib);
		for (m = 0; m < NMETH; m++)
			fprintf(dat, " %.3f", ms(st[c][m].med));
		for (m = 0; m < NMETH; m++)
			fprintf(dat, " %.3f", ms(st[d][m].med));
		fprintf(dat, "\n");
	}
	fclose(dat);
	printf("# spawnbench: done, grid %.0f s\n", (t1 - t0) / 1e9);
	return 0;
}
