// SPDX-License-Identifier: GPL-2.0
/*
 * rtfork VMAS SECONDS [READY]: holds VMAS non-mergeable accountable VMAs
 * and forks (child _exit, reaped) in a loop for SECONDS, pinned to CPU 0:
 * the load beside cyclictest in scripts/bench/rt.  Creates the file READY
 * once its VMAs are made; prints "forks N vmas V" at the end.  VMAs are pages mapped private writable, every other one made
 * PROT_EXEC too so that none merge (as in overhead.c).
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static int count_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int target = argc > 1 ? atoi(argv[1]) : 65000;
	int secs = argc > 2 ? atoi(argv[2]) : 10;
	long forks = 0;
	cpu_set_t set;
	time_t end;
	int i, k, n;
	char *p;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return perror("sched_setaffinity"), 1;
	while ((n = count_vmas()) >= 0 && n < target) {
		k = target - n;
		p = mmap(NULL, (size_t)k * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return perror("mmap"), 1;
		for (i = 1; i < k; i += 2)
			if (mprotect(p + (size_t)i * PAGE, PAGE,
				     PROT_READ | PROT_WRITE | PROT_EXEC))
				return perror("mprotect"), 1;
	}
	if (argc > 3 && (n = creat(argv[3], 0644)) >= 0)
		close(n);
	end = time(NULL) + secs;
	while (time(NULL) < end) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0)
			return perror("fork"), 1;
		waitpid(pid, NULL, 0);
		forks++;
	}
	printf("forks %ld vmas %d\n", forks, count_vmas());
	return 0;
}
