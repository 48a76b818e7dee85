// SPDX-License-Identifier: GPL-2.0
/*
 * loadunload: 50 insmod/rmmod cycles while forks and /proc readers run.
 * A reader holding a file open across rmmod gets an error or EOF, never
 * a crash; after the last rmmod nothing of the module is left (no
 * /proc/vforkacct, no tracefs events, forks still work) and kernel memory
 * (Slab, Percpu, VmallocUsed) is back where it was, within noise.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define CYCLES 50

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

static void settle(void)
{
	sync();
	vfa_write("/proc/sys/vm/drop_caches", "3", 1);
	usleep(300000);
}

static void forker(volatile int *stop)
{
	while (!*stop) {
		fork_and_reap();
		if (vfork() == 0)
			_exit(0);
		wait(NULL);
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

int main(void)
{
	volatile int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long slab0, pcpu0, vm0, slab1, pcpu1, vm1;
	const char *kver = getenv("VFA_KVER");
	int i, fails = 0;
	pid_t kids[3];

	vfa_require_module();
	if (!kver) {
		printf("# VFA_KVER is not set (run under scripts/vm)\n");
		return 1;
	}
	snprintf(ko, sizeof(ko), ".build/%s/vforkacct.ko", kver);
	ktap_plan(5);

	unload();
	settle();
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

	load();	/* leave it as the runner expects */
	return ktap_finish();
}
