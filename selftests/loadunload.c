// SPDX-License-Identifier: GPL-2.0
/*
 * loadunload: 50 insmod/rmmod cycles while forks and /proc readers run.
 * A reader holding a file open across rmmod gets an error or EOF, never
 * a crash; after the last rmmod nothing of the module is left (no
 * /proc/vforkacct, no tracefs events, forks still work) and kernel memory
 * (Slab, Percpu, VmallocUsed) is back where it was, within noise.  On a
 * kernel with kmemleak (the debug kernel of scripts/debug-kernel), a scan
 * after the cycles finds no leak that points at the module.  rmmod
 * beside a clone in flight (a vfork whose child has not exited yet)
 * neither waits for it nor breaks it: the module logged the vfork when
 * its child was made, and left nothing on the parent.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define CYCLES 50
#define KMEMLEAK "/sys/kernel/debug/kmemleak"

static char ko[256];

static int load(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	return system(cmd);
}

static int unload(void)
{
	return system("rmmod vforkacct");
}

/*
 * Frees what the kernel keeps for reuse, so that Slab measures what is in
 * use: page and dentry caches, then every slab cache's free objects (with
 * KASAN this also empties its quarantine of freed objects, megabytes).
 */
static void settle(void)
{
	struct dirent *e;
	char path[300];
	DIR *d;

	sync();
	vfa_write("/proc/sys/vm/drop_caches", "3", 1);
	d = opendir("/sys/kernel/slab");
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) > 200)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		vfa_write(path, "1", 1);
	}
	if (d)
		closedir(d);
	usleep(300000);
}

static void forker(volatile int *stop)
{
	while (!*stop) {
		fork_and_reap();
		vfork_and_reap();
	}
}

static void reader(volatile int *stop)
{
	static const char * const f[] = {
		VFA_PROC "/summary", VFA_PROC "/forks", VFA_PROC "/tasks",
	};
	char buf[512];
	int i = 0, fd;

	while (!*stop) {
		fd = open(f[i++ % 3], O_RDONLY);
		if (fd < 0)
			continue;	/* unloaded right now */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
}

static bool kmemleak_cmd(const char *cmd)
{
	return vfa_write(KMEMLEAK, cmd, strlen(cmd)) == 0;
}

/*
 * kmemleak's suspects that point at the module: allocated by insmod or
 * rmmod, or with a module frame in their backtrace: [vforkacct], the
 * module loader, or a bare address (module text, gone since rmmod, is
 * printed as a number).  Returns their count, -1 if kmemleak cannot be
 * read; *total gets the count of all suspects.
 */
static int module_leaks(int *total)
{
	static const char * const marks[] = {
		"comm \"insmod\"", "comm \"rmmod\"", "vforkacct",
		"load_module", "do_init_module", "] 0xffffffff",
	};
	char *s = read_file(KMEMLEAK), *obj, *next;
	int n = 0;
	size_t i;

	if (!s)
		return -1;
	*total = 0;
	for (obj = strstr(s, "unreferenced object"); obj; obj = next) {
		next = strstr(obj + 1, "unreferenced object");
		if (next)
			next[-1] = '\0';
		++*total;
		for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
			if (strstr(obj, marks[i]))
				break;
		if (i < sizeof(marks) / sizeof(marks[0]) && !n++)
			printf("# the first leak of the module:\n%s\n", obj);
	}
	free(s);
	return n;
}

/* Open @path, read a little, rmmod, read again: error or EOF. */
static bool open_across_rmmod(const char *path)
{
	char buf[64];
	ssize_t r;
	int fd;

	if (load() && access(VFA_PROC, F_OK))
		return false;
	fork_and_reap();
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, 10) != 10)
		return false;
	if (unload())
		return false;
	r = read(fd, buf, sizeof(buf));
	close(fd);
	ktap_info("%s: read after rmmod returned %zd", path, r);
	return r <= 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A vfork whose child sleeps @hold_s before it exits keeps its parent
 * inside kernel_clone() for that long, after task_newtask logged it.
 * Nothing of the module's is left to run on the parent (a task_work
 * would run freed code: an Oops), so rmmod need not wait for it.
 * Returns how long rmmod took, or -1 if it or the parent failed.
 */
static double rmmod_beside_vfork(int hold_s)
{
	double t0, t1;
	int rc, status;
	pid_t holder;

	if (load() && access(VFA_PROC, F_OK))
		return -1;
	holder = fork();
	if (holder == 0) {
		pid_t c = vfork();

		if (c == 0) {
			sleep(hold_s);
			_exit(0);
		}
		_exit(c > 0 && waitpid(c, NULL, 0) == c ? 0 : 1);
	}
	usleep(500000);		/* the holder is in its vfork by now */
	t0 = now_s();
	rc = unload();
	t1 = now_s();
	if (holder < 0 || waitpid(holder, &status, 0) != holder ||
	    !WIFEXITED(status) || WEXITSTATUS(status) || rc)
		return -1;
	return t1 - t0;
}

int main(void)
{
	volatile int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long slab0, pcpu0, vm0, slab1, pcpu1, vm1;
	const char *kver = getenv("VFA_KVER");
	bool leakcheck = !access(KMEMLEAK, F_OK);
	int i, fails = 0, leaks, total = 0;
	double t;
	pid_t kids[3];

	vfa_require_module();
	if (!kver) {
		printf("# VFA_KVER is not set (run under scripts/vm)\n");
		return 1;
	}
	snprintf(ko, sizeof(ko), ".build/%s/vforkacct.ko", kver);
	ktap_plan(7);

	unload();
	settle();
	/* Older suspects, reported by this scan, are not counted after. */
	if (leakcheck && !(kmemleak_cmd("scan") && kmemleak_cmd("clear")))
		leakcheck = false;
	slab0 = meminfo_kb("Slab");
	pcpu0 = meminfo_kb("Percpu");
	vm0 = meminfo_kb("VmallocUsed");

	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			if (i == 2)
				reader(stop);
			else
				forker(stop);
			_exit(0);
		}
	}
	for (i = 0; i < CYCLES; i++) {
		fails += load() != 0;
		usleep(20000);
		fails += unload() != 0;
	}
	*stop = 1;
	for (i = 0; i < 3; i++)
		waitpid(kids[i], NULL, 0);
	ktap_info("%d insmod/rmmod cycles under fire, %d failed", CYCLES, fails);
	ktap_test(!fails, "insmod_rmmod_cycles_under_fire");

	ktap_test(open_across_rmmod(VFA_PROC "/forks") &&
		  open_across_rmmod(VFA_PROC "/tasks") &&
		  open_across_rmmod(VFA_PROC "/summary"),
		  "reader_open_across_rmmod_gets_eof_or_error");

	ktap_test(access(VFA_PROC, F_OK) &&
		  access("/sys/kernel/tracing/events/vforkacct", F_OK) &&
		  access(VFA_PARAMS, F_OK),
		  "nothing_left_after_rmmod");
	ktap_test(fork_and_reap() > 0, "forks_work_after_rmmod");

	settle();
	slab1 = meminfo_kb("Slab");
	pcpu1 = meminfo_kb("Percpu");
	vm1 = meminfo_kb("VmallocUsed");
	ktap_info("Slab %lld -> %lld kB, Percpu %lld -> %lld kB, VmallocUsed %lld -> %lld kB",
		  slab0, slab1, pcpu0, pcpu1, vm0, vm1);
	/*
	 * One cycle's vmalloc (the ring) is ~500 kB and 50 leaked cycles
	 * would be 25 MB: the bounds sit well between noise and a leak.
	 */
	ktap_test(vm1 - vm0 < 400 && pcpu1 - pcpu0 < 64 && slab1 - slab0 < 2048,
		  "kernel_memory_back_after_cycles");

	if (!leakcheck) {
		ktap_skip("kmemleak_finds_no_module_leak",
			  "no " KMEMLEAK " (kernel without CONFIG_DEBUG_KMEMLEAK; make check-debug has it)");
	} else {
		/* kmemleak ignores objects younger than 5 s. */
		sleep(6);
		leaks = kmemleak_cmd("scan") && kmemleak_cmd("scan") ?
			module_leaks(&total) : -1;
		ktap_info("kmemleak: %d suspects after the cycles, %d of them the module's",
			  total, leaks);
		ktap_test(leaks == 0, "kmemleak_finds_no_module_leak");
	}

	t = rmmod_beside_vfork(4);
	ktap_info("rmmod beside a vfork held 4 s: %.2f s", t);
	ktap_test(t >= 0 && t < 3.5 && access(VFA_PROC, F_OK) &&
		  fork_and_reap() > 0, "rmmod_beside_a_vfork_in_flight");

	load();	/* leave it as the runner expects */
	return ktap_finish();
}
