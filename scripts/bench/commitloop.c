// SPDX-License-Identifier: GPL-2.0
/*
 * commitloop: what judging every commit request costs.  Two loops that
 * make the kernel call __vm_enough_memory() once per iteration, timed
 * with no module (N) and with vforkacct loaded (M), side by side in one
 * boot:
 *   mmap+munmap  mmap of one private writable page, then munmap;
 *   brk          brk up by one page, then back down.
 * A visit is one block of ITERS iterations of each loop (in alternating
 * order); visits go N M N M ... then backwards (symmetric about the
 * middle, so slow drift weighs alike on both).  Each adjacent N/M pair
 * gives a ratio of ns per iteration; the estimate is the median of those
 * ratios, with a 95% interval from a bootstrap over pairs.  Loading and
 * unloading use finit_module()/delete_module().
 *
 * Usage: commitloop -m MODULE.ko [-c PAIRS] [-i ITERS] [-o OUTDIR]
 * Writes OUTDIR/commitloop.md.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "bench.h"

#define BOOT	2000
#define NLOOP	2

static const char *const loop_name[NLOOP] = { "mmap+munmap", "brk" };

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void module_set(int load, int ko_fd)
{
	if (load) {
		if (syscall(SYS_finit_module, ko_fd, "", 0) && errno != EEXIST)
			die("finit_module: %s", strerror(errno));
	} else if (syscall(SYS_delete_module, "vforkacct", O_NONBLOCK) &&
		   errno != ENOENT) {
		die("delete_module: %s", strerror(errno));
	}
}

/* ns per iteration of @loop over @iters iterations. */
static double run_loop(int loop, long iters)
{
	int64_t t0 = now_ns();
	long i;

	for (i = 0; i < iters; i++) {
		if (loop == 0) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED || munmap(p, 4096))
				die("mmap: %s", strerror(errno));
		} else {
			char *b = sbrk(4096);

			if (b == (void *)-1 || sbrk(-4096) == (void *)-1)
				die("sbrk: %s", strerror(errno));
		}
	}
	return (double)(now_ns() - t0) / iters;
}

static double med(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *ko = NULL, *outdir = ".";
	int pairs = 20, opt, k, l, j, ko_fd;
	long iters = 2000;
	double *ns[NLOOP][2], *r, *t, *b;
	char path[4096];
	FILE *md;

	while ((opt = getopt(argc, argv, "m:c:i:o:")) != -1) {
		switch (opt) {
		case 'm': ko = optarg; break;
		case 'c': pairs = atoi(optarg); break;
		case 'i': iters = atol(optarg); break;
		case 'o': outdir = optarg; break;
		default: die("usage: commitloop -m MODULE.ko [-c PAIRS] [-i ITERS] [-o OUTDIR]");
		}
	}
	if (!ko || pairs < 2 || iters < 1)
		die("usage: commitloop -m MODULE.ko [-c PAIRS] [-i ITERS] [-o OUTDIR]");
	ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (ko_fd < 0)
		die("%s: %s", ko, strerror(errno));
	for (l = 0; l < NLOOP; l++)
		for (j = 0; j < 2; j++)
			ns[l][j] = calloc(pairs, sizeof(double));
	r = calloc(pairs, sizeof(double));
	t = calloc(pairs, sizeof(double));
	b = calloc(BOOT, sizeof(double));
	if (!r || !t || !b)
		die("out of memory");

	/* Visit v of 2 * pairs: N M N M ... then M N M N ... */
	for (k = 0; k < 2 * pairs; k++) {
		int first_half = k < pairs;
		int m = first_half ? k % 2 : !(k % 2);
		int p = k / 2;

		module_set(m, ko_fd);
		run_loop(0, iters / 10 + 1);	/* settle after the switch */
		for (l = 0; l < NLOOP; l++) {
			int loop = (k + l) % NLOOP;

			ns[loop][m][p] = run_loop(loop, iters);
		}
	}
	module_set(0, ko_fd);

	snprintf(path, sizeof(path), "%s/commitloop.md", outdir);
	md = fopen(path, "w");
	if (!md)
		die("%s: %s", path, strerror(errno));
	fprintf(md, "| loop | none ns/iter | module ns/iter | paired ratio | 95%% interval | target <= 1.05 |\n");
	fprintf(md, "| --- | ---: | ---: | ---: | --- | --- |\n");
	for (l = 0; l < NLOOP; l++) {
		double est, lo, hi, n_med, m_med;

		for (j = 0; j < pairs; j++)
			r[j] = ns[l][1][j] / ns[l][0][j];
		for (k = 0; k < BOOT; k++) {
			for (j = 0; j < pairs; j++)
				t[j] = r[rng() % pairs];
			b[k] = med(t, pairs);
		}
		qsort(b, BOOT, sizeof(double), cmp_dbl);
		lo = b[BOOT / 40];
		hi = b[BOOT - 1 - BOOT / 40];
		est = med(r, pairs);
		n_med = med(ns[l][0], pairs);
		m_med = med(ns[l][1], pairs);
		fprintf(md, "| %s | %.0f | %.0f | %.3f | [%.3f, %.3f] | %s |\n",
			loop_name[l], n_med, m_med, est, lo, hi,
			hi <= 1.05 ? "met (whole interval under)" :
			lo > 1.05 ? "NOT met (whole interval over)" :
			est <= 1.05 ? "met by the estimate, interval straddles" :
			"NOT met by the estimate, interval straddles");
	}
	fprintf(md, "\n%d pairs of visits, %ld iterations of each loop per visit; each iteration makes one commit request (the module judges it) and gives it back.\n",
		pairs, iters);
	fclose(md);
	return 0;
}
