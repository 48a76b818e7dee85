// SPDX-License-Identifier: GPL-2.0
/*
 * readcost: what reading vforkacct's big files costs.
 *
 * forks: resets the module (loaded with log_size >= FORKS), fills the
 * ring with FORKS vfork+_exit children from two forkers at once (the
 * cheapest records to make), then reads /proc/vforkacct/forks whole REPS
 * times.  tasks: starts PROCS sleeping processes and reads
 * /proc/vforkacct/tasks whole REPS times, and for comparison every
 * /proc/PID/stat (what ps does).
 *
 * Usage: readcost [-n FORKS] [-P PROCS] [-r REPS] [-o OUTDIR]
 * Writes OUTDIR/readcost.md.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "bench.h"

#define VFA_PROC	"/proc/vforkacct"

static long long summary(const char *key)
{
	char buf[4096], k[64];
	ssize_t n;
	char *p;
	int fd;

	fd = open(VFA_PROC "/summary", O_RDONLY);
	if (fd < 0)
		die("vforkacct is not loaded");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die("cannot read the summary");
	buf[n] = '\0';
	snprintf(k, sizeof(k), "\n%s:", key);
	p = strstr(buf, k);
	if (!p)
		die("no %s in the summary", key);
	return strtoll(p + strlen(k), NULL, 10);
}

/* Reads @path whole; the time in ns; bytes and lines through the args. */
static int64_t read_whole(const char *path, long long *bytes, long *lines)
{
	static char buf[1 << 17];
	int64_t t0 = now_ns();
	ssize_t r, i;
	int fd;

	*bytes = 0;
	*lines = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		*bytes += r;
		for (i = 0; i < r; i++)
			*lines += buf[i] == '\n';
	}
	if (r < 0)
		die("%s: %s", path, strerror(errno));
	close(fd);
	return now_ns() - t0;
}

/* What ps does: every /proc/PID/stat; the time in ns. */
static int64_t read_all_stat(long *procs)
{
	int64_t t0 = now_ns();
	char path[300], buf[1024];
	struct dirent *d;
	DIR *dir;
	int fd;

	*procs = 0;
	dir = opendir("/proc");
	if (!dir)
		die("/proc: %s", strerror(errno));
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf)) > 0)
			(*procs)++;
		close(fd);
	}
	closedir(dir);
	return now_ns() - t0;
}

/* A vfork child that exits at once (alone in its frame: see vfork(2)). */
static __attribute__((noinline)) pid_t vfork_exit(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(0);
	return pid;
}

static void forker(long n)
{
	pid_t pid;
	long i;

	for (i = 0; i < n; i++) {
		pid = vfork_exit();
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			_exit(1);
	}
	_exit(0);
}

static void usage(void)
{
	fprintf(stderr, "usage: readcost [-n FORKS] [-P PROCS] [-r REPS] [-o OUTDIR]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long forks = 65536, procs = 2000, lines = 0, nproc = 0, i;
	int reps = 5, opt, r, st, pfd[2];
	const char *out = ".";
	int64_t t0, t_fill, *tf, *tt, *tp;
	long long bytes = 0, tbytes = 0, logged, log_size;
	long tlines = 0;
	pid_t pid[2], *kids;
	char path[4096];
	FILE *md;

	while ((opt = getopt(argc, argv, "n:P:r:o:")) != -1) {
		switch (opt) {
		case 'n':
			forks = atol(optarg);
			break;
		case 'P':
			procs = atol(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || forks < 1 || procs < 1 || reps < 1)
		usage();
	tf = calloc(reps, sizeof(int64_t));
	tt = calloc(reps, sizeof(int64_t));
	tp = calloc(reps, sizeof(int64_t));
	kids = calloc(procs, sizeof(pid_t));
	if (!tf || !tt || !tp || !kids)
		die("out of memory");

	/* Fill the ring: two forkers, one per vCPU. */
	log_size = summary("log_size");
	if (log_size < forks)
		die("log_size %lld < %ld: load the module with log_size=%ld",
		    log_size, forks, forks);
	i = open(VFA_PROC "/control", O_WRONLY);
	if (i < 0 || write(i, "reset", 5) != 5)
		die("reset: %s", strerror(errno));
	close(i);
	fflush(NULL);
	t0 = now_ns();
	/* One forker per vCPU, each child on its parent's vCPU. */
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			die("fork: %s", strerror(errno));
		if (pid[i] == 0) {
			pin_cpu(i % sysconf(_SC_NPROCESSORS_ONLN));
			forker((forks + 1) / 2 + 16);
		}
	}
	for (i = 0; i < 2; i++)
		if (waitpid(pid[i], &st, 0) != pid[i] || st)
			die("forker failed");
	t_fill = now_ns() - t0;
	logged = summary("logged");
	printf("# readcost: %lld records logged in %.1f s\n", logged,
	       t_fill / 1e9);
	fflush(stdout);

	pin_cpu(0);
	for (r = 0; r < reps; r++)
		tf[r] = read_whole(VFA_PROC "/forks", &bytes, &lines);

	/* PROCS processes asleep on a pipe. */
	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	for (i = 0; i < procs; i++) {
		char c;

		kids[i] = fork();
		if (kids[i] < 0)
			die("fork %ld: %s", i, strerror(errno));
		if (kids[i] == 0) {
			close(pfd[1]);
			if (read(pfd[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(pfd[0]);
	for (r = 0; r < reps; r++) {
		tt[r] = read_whole(VFA_PROC "/tasks", &tbytes, &tlines);
		tp[r] = read_all_stat(&nproc);
	}
	close(pfd[1]);
	for (i = 0; i < procs; i++)
		waitpid(kids[i], NULL, 0);

	snprintf(path, sizeof(path), "%s/readcost.md", out);
	md = fopen(path, "w");
	if (!md)
		die("%s: %s", path, strerror(errno));
	fprintf(md, "| file | content | size | median (ms) | min | max | per line (us) |\n");
	fprintf(md, "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
	fprintf(md, "| /proc/vforkacct/forks | full ring: %ld records (log_size %lld, %lld logged) | %.1f MiB | %.1f | %.1f | %.1f | %.2f |\n",
		lines - 1, log_size, logged, bytes / 1048576.0,
		ms(median(tf, reps)), ms(tf[0]), ms(tf[reps - 1]),
		median(tf, reps) / 1e3 / (lines - 1));
	fprintf(md, "| /proc/vforkacct/tasks | %ld processes (%ld of them sleeping children) | %.0f KiB | %.1f | %.1f | %.1f | %.2f |\n",
		tlines - 1, procs, tbytes / 1024.0,
		ms(median(tt, reps)), ms(tt[0]), ms(tt[reps - 1]),
		median(tt, reps) / 1e3 / (tlines - 1));
	fprintf(md, "| every /proc/PID/stat (as ps does; for comparison) | %ld processes | - | %.1f | %.1f | %.1f | %.2f |\n",
		nproc, ms(median(tp, reps)), ms(tp[0]), ms(tp[reps - 1]),
		median(tp, reps) / 1e3 / nproc);
	fprintf(md, "\n%d whole reads of each (128 KiB read() calls), reader pinned to one vCPU. Filling the ring took %.1f s (%ld vfork+_exit from 2 processes at once, one per vCPU, %.0f us each).\n",
		reps, t_fill / 1e9, 2 * ((forks + 1) / 2 + 16),
		t_fill / 1e3 / ((forks + 1) / 2 + 16));
	fclose(md);
	printf("# readcost: done\n");
	return 0;
}
