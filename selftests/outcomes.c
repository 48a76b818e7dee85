// SPDX-License-Identifier: GPL-2.0
/*
 * outcomes: each logged child is followed to its first exec or its exit,
 * and its row says which, how long it lived, and how many faults it took.
 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

extern char **environ;

static struct vfa_row row_of(pid_t ppid, pid_t pid)
{
	struct vfa_row *rows, *r, out;
	int n;

	memset(&out, 0, sizeof(out));
	strcpy(out.outcome, "missing");
	rows = vfa_forks(&n);
	r = vfa_find(rows, n, ppid, pid);
	if (r)
		out = *r;
	free(rows);
	return out;
}

static bool fork_exec(void)
{
	long long before = vfa_summary("exec_after_fork");
	struct vfa_row r;
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/true", "true", NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	r = row_of(getpid(), pid);
	ktap_info("fork+exec: outcome %s exec_comm %s life_us %lld faults %lld",
		  r.outcome, r.exec_comm, r.life_us, r.faults);
	return !strcmp(r.outcome, "exec") && !strcmp(r.exec_comm, "true") &&
	       r.life_us >= 0 && r.faults > 0 &&
	       vfa_summary("exec_after_fork") == before + 1;
}

static bool fork_exit(void)
{
	long long before = vfa_summary("exit_without_exec");
	pid_t pid = fork_and_reap();
	struct vfa_row r = row_of(getpid(), pid);

	ktap_info("fork+_exit: outcome %s exec_comm %s life_us %lld",
		  r.outcome, r.exec_comm, r.life_us);
	return !strcmp(r.outcome, "exit") && !strcmp(r.exec_comm, "-") &&
	       r.life_us >= 0 && r.faults >= 0 &&
	       vfa_summary("exit_without_exec") == before + 1;
}

static bool running_child(void)
{
	struct vfa_row r;
	int wfd = -1;
	pid_t pid = fork_sleeper(&wfd);

	r = row_of(getpid(), pid);
	close(wfd);
	waitpid(pid, NULL, 0);
	ktap_info("sleeping child: outcome %s life_us %lld faults %lld",
		  r.outcome, r.life_us, r.faults);
	return !strcmp(r.outcome, "running") && r.life_us == -1 &&
	       r.faults == -1 && !strcmp(r.exec_comm, "-");
}

/* /proc/PID/stat's starttime (field 22), in clock ticks; -1 if unread. */
static long long start_ticks(pid_t pid)
{
	char path[64], *buf, *p;
	long long t = -1;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	buf = read_file(path);
	if (!buf)
		return -1;
	/* Fields count from after the comm's closing parenthesis (3). */
	p = strrchr(buf, ')');
	for (i = 2; p && i < 22; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%lld", &t);
	free(buf);
	return t;
}

/*
 * A fork's time is the boot-clock time the kernel gave the child as it
 * created it, so the row's time_ns, in clock ticks, is the child's
 * starttime in /proc/PID/stat exactly.
 */
static bool fork_time_is_start_time(void)
{
	long long hz = sysconf(_SC_CLK_TCK), st;
	struct vfa_row r;
	int wfd = -1;
	pid_t pid = fork_sleeper(&wfd);

	st = start_ticks(pid);
	r = row_of(getpid(), pid);
	close(wfd);
	waitpid(pid, NULL, 0);
	ktap_info("child %d: time_ns %llu, starttime %lld ticks of 1/%lld s",
		  pid, (unsigned long long)r.time_ns, st, hz);
	return hz > 0 && st > 0 && r.time_ns > 0 &&
	       (long long)(r.time_ns / (1000000000ULL / hz)) == st;
}

static void *exec_from_thread(void *arg)
{
	(void)arg;
	execl("/bin/true", "true", NULL);
	return NULL;
}

/* de_thread(): a non-leader thread execs and takes over the tgid. */
static bool exec_non_leader(void)
{
	struct vfa_row r;
	pthread_t t;
	pid_t pid = fork();

	if (pid == 0) {
		pthread_create(&t, NULL, exec_from_thread, NULL);
		pause();
		_exit(1);
	}
	waitpid(pid, NULL, 0);
	r = row_of(getpid(), pid);
	ktap_info("exec from a non-leader thread: outcome %s exec_comm %s",
		  r.outcome, r.exec_comm);
	return !strcmp(r.outcome, "exec") && !strcmp(r.exec_comm, "true");
}

static void *noop(void *arg)
{
	return arg;
}

static bool threads_dont_end_record(void)
{
	struct vfa_row mid, end;
	int p[2], q[2];
	pthread_t t;
	char c = 0;
	pid_t pid;

	if (pipe(p) || pipe(q))
		return false;
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		pthread_create(&t, NULL, noop, NULL);
		pthread_join(t, NULL);
		/* the thread is gone: tell the parent, wait for its go */
		if (write(q[1], &c, 1) != 1 || read(p[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	if (read(q[0], &c, 1) != 1)
		return false;
	usleep(100000);	/* the thread's exit tracepoint fires after join */
	mid = row_of(getpid(), pid);
	close(p[1]);
	waitpid(pid, NULL, 0);
	end = row_of(getpid(), pid);
	ktap_info("child with an exited thread: %s, after its exit: %s",
		  mid.outcome, end.outcome);
	return !strcmp(mid.outcome, "running") && !strcmp(end.outcome, "exit");
}

static bool grandchild(void)
{
	struct vfa_row *rows, *r;
	int p[2], n, ok;
	pid_t pid, gpid = 0;

	if (pipe(p))
		return false;
	pid = fork();
	if (pid == 0) {
		pid_t g = fork();

		if (g == 0) {
			execl("/bin/true", "true", NULL);
			_exit(127);
		}
		waitpid(g, NULL, 0);
		if (write(p[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		_exit(0);
	}
	if (read(p[0], &gpid, sizeof(gpid)) != sizeof(gpid))
		return false;
	waitpid(pid, NULL, 0);
	rows = vfa_forks(&n);
	r = vfa_find(rows, n, pid, gpid);
	ok = r && !strcmp(r->kind, "fork") && !strcmp(r->outcome, "exec");
	ktap_info("grandchild %d of %d: %s", gpid, pid, r ? r->outcome : "no row");
	r = vfa_find(rows, n, getpid(), pid);
	ok = ok && r && !strcmp(r->outcome, "exit");
	free(rows);
	return ok;
}

static bool spawn_exec(void)
{
	char *argv[] = { "true", NULL };
	struct vfa_row r;
	pid_t pid;

	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ))
		return false;
	waitpid(pid, NULL, 0);
	r = row_of(getpid(), pid);
	ktap_info("posix_spawn: kind %s outcome %s exec_comm %s", r.kind,
		  r.outcome, r.exec_comm);
	return !strcmp(r.kind, "vfork") && !strcmp(r.outcome, "exec") &&
	       !strcmp(r.exec_comm, "true");
}

/*
 * A clone's record is written before its child runs, so a child that
 * execs or exits before its parent returns from the fork (a vfork's
 * always does) still finds it.  CLONE_VFORK without
 * CLONE_VM is a fork (own mm, charged) whose parent waits like a vfork's,
 * until the child's exec replaces its mm, a little before the exec
 * tracepoint.  Both as SCHED_FIFO on one CPU, the woken parent cannot
 * run before the child reaches the tracepoint: the outcome comes first,
 * and the fork's row and counters must still have all of it.
 */
static bool fork_ends_before_record(void)
{
	long long before = vfa_summary("exec_after_fork");
	long long forks = vfa_summary("forks");
	struct sched_param fifo = { .sched_priority = 10 }, other = { 0 };
	struct timespec ts = { 0, 300000000 };
	cpu_set_t one, all;
	struct vfa_row r;
	pid_t pid;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_getaffinity(0, sizeof(all), &all) ||
	    sched_setaffinity(0, sizeof(one), &one) ||
	    sched_setscheduler(0, SCHED_FIFO, &fifo)) {
		ktap_info("cannot run SCHED_FIFO on CPU 0");
		return false;
	}
	pid = syscall(SYS_clone, CLONE_VFORK | SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0) {
		nanosleep(&ts, NULL);
		execl("/bin/true", "true", NULL);
		_exit(127);
	}
	sched_setscheduler(0, SCHED_OTHER, &other);
	sched_setaffinity(0, sizeof(all), &all);
	if (pid < 0)
		return false;
	waitpid(pid, NULL, 0);
	r = row_of(getpid(), pid);
	ktap_info("CLONE_VFORK fork: kind %s outcome %s exec_comm %s life_us %lld faults %lld",
		  r.kind, r.outcome, r.exec_comm, r.life_us, r.faults);
	return !strcmp(r.kind, "fork") && !strcmp(r.outcome, "exec") &&
	       !strcmp(r.exec_comm, "true") && r.life_us >= 250000 &&
	       r.faults > 0 && vfa_summary("forks") == forks + 1 &&
	       vfa_summary("exec_after_fork") == before + 1;
}

/*
 * The same for a vfork whose child exits: exit_mm() wakes the parent just
 * before the exit tracepoint, and a vfork's exit_mm() has no address
 * space to tear down, so the child is there first.
 */
static bool vfork_ends_before_record(void)
{
	struct timespec ts = { 0, 300000000 };
	struct vfa_row r;
	pid_t pid;

	pid = vfork();
	if (pid == 0) {
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(0);
	}
	if (pid < 0)
		return false;
	waitpid(pid, NULL, 0);
	r = row_of(getpid(), pid);
	ktap_info("vfork+_exit: kind %s outcome %s life_us %lld", r.kind,
		  r.outcome, r.life_us);
	return !strcmp(r.kind, "vfork") && !strcmp(r.outcome, "exit") &&
	       !strcmp(r.exec_comm, "-") && r.life_us >= 250000;
}

#define BARE_STACK	(256 * 1024)

static ucontext_t bare_main, bare_side;

/*
 * Runs on a stack of its own (shared memory): replaces each private data
 * mapping of the process (data, bss, heap, the stack it came from, and
 * the read-only ones that were writable once, as a loader's relro parts,
 * still charged) with a shared copy at the same address, so that the
 * process holds nothing a fork is charged for.  The kernel's own
 * mappings ([vvar], [vdso]) stay.  Plain syscalls only: nothing may map
 * private memory again.
 */
static void bare_convert(void)
{
	char buf[8192], *line, *end, *perms, *name;
	unsigned long lo, hi;
	ssize_t n;
	void *copy;
	int fd;

	fd = open("/proc/self/maps", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0 || n == sizeof(buf) - 1)
		_exit(3);
	close(fd);
	buf[n] = '\0';
	for (line = buf; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			_exit(4);
		perms = strchr(line, ' ') + 1;
		name = strchr(line, '[');
		if (strncmp(perms, "rw-p", 4) && strncmp(perms, "r--p", 4))
			continue;
		if (name && (!end || name < end) &&
		    strncmp(name, "[heap]", 6) && strncmp(name, "[stack]", 7))
			continue;
		copy = mmap(NULL, hi - lo, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (copy == MAP_FAILED)
			_exit(5);
		memcpy(copy, (void *)lo, hi - lo);
		if (mremap(copy, hi - lo, hi - lo, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)lo) == MAP_FAILED)
			_exit(6);
	}
	swapcontext(&bare_side, &bare_main);
}

/*
 * clone(CLONE_VFORK | SIGCHLD): a fork whose parent waits until the child
 * exits, which it does at once, in the same asm: parent and child share
 * the (shared) stack, so the child must not touch it, not even to return
 * from a call.  The child's pid, or -1.
 */
static long bare_clone_and_exit(void)
{
#if defined(__x86_64__)
	register long r10 asm("r10") = 0;
	register long r8 asm("r8") = 0;
	long ret;

	asm volatile("syscall\n\t"
		     "test %%rax, %%rax\n\t"
		     "jnz 1f\n\t"
		     "mov %[nr_exit], %%eax\n\t"
		     "xor %%edi, %%edi\n\t"
		     "syscall\n"
		     "1:"
		     : "=a"(ret)
		     : "0"((long)SYS_clone), "D"((long)(CLONE_VFORK | SIGCHLD)),
		       "S"(0L), "d"(0L), "r"(r10), "r"(r8),
		       [nr_exit] "i"(SYS_exit)
		     : "rcx", "r11", "memory");
	return ret < 0 ? -1 : ret;
#elif defined(__aarch64__)
	register long x0 asm("x0") = CLONE_VFORK | SIGCHLD;
	register long x1 asm("x1") = 0, x2 asm("x2") = 0, x3 asm("x3") = 0;
	register long x4 asm("x4") = 0;
	register long x8 asm("x8") = SYS_clone;

	asm volatile("svc #0\n\t"
		     "cbnz x0, 1f\n\t"
		     "mov x8, %[nr_exit]\n\t"
		     "mov x0, #0\n\t"
		     "svc #0\n"
		     "1:"
		     : "+r"(x0), "+r"(x8)
		     : "r"(x1), "r"(x2), "r"(x3), "r"(x4),
		       [nr_exit] "i"(SYS_exit)
		     : "memory");
	return x0 < 0 ? -1 : x0;
#else
	return -1;
#endif
}

/*
 * A process that holds no private writable memory at all forks: the fork
 * asks for no commit, so the module sums the commit in the parent's
 * task_work and logs the record there.  CLONE_VFORK (without CLONE_VM:
 * still a fork) keeps the parent waiting until the child has exited
 * (the child runs on the same shared stack meanwhile, and only exits),
 * so the outcome comes before the record, and the row must have both.
 */
static bool bare_fork_logged_by_parent(void)
{
	long long forks = vfa_summary("forks");
	long long exits = vfa_summary("exit_without_exec");
	int p[2], status = 0;
	pid_t helper, pid = -1;
	struct vfa_row r;
	void *stack;

	if (pipe(p))
		return false;
	helper = fork();
	if (helper == 0) {
		stack = mmap(NULL, BARE_STACK, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (stack == MAP_FAILED || getcontext(&bare_side))
			_exit(3);
		bare_side.uc_stack.ss_sp = stack;
		bare_side.uc_stack.ss_size = BARE_STACK;
		bare_side.uc_link = NULL;
		makecontext(&bare_side, bare_convert, 0);
		if (swapcontext(&bare_main, &bare_side))
			_exit(7);
		pid = bare_clone_and_exit();
		write(p[1], &pid, sizeof(pid));
		syscall(SYS_wait4, pid, NULL, 0, NULL);
		syscall(SYS_exit_group, 0);
	}
	close(p[1]);
	if (helper < 0 || read(p[0], &pid, sizeof(pid)) != sizeof(pid))
		pid = -1;
	close(p[0]);
	if (helper > 0)
		waitpid(helper, &status, 0);
	if (pid <= 0) {
		ktap_info("the bare process could not fork (its exit status %d)",
			  helper > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return false;
	}
	r = row_of(helper, pid);
	ktap_info("fork asking no commit: kind %s charge %ld kB committed %ld kB outcome %s; forks +%lld, exits +%lld",
		  r.kind, r.charge_kb, r.committed_kb, r.outcome,
		  vfa_summary("forks") - forks,
		  vfa_summary("exit_without_exec") - exits);
	return !strcmp(r.kind, "fork") && r.charge_kb == 0 &&
	       r.committed_kb > 0 && !strcmp(r.outcome, "exit") &&
	       vfa_summary("forks") == forks + 2 &&
	       vfa_summary("exit_without_exec") == exits + 2;
}

/*
 * A new task reusing a logged child's pid must not close the old record.
 * ns_last_pid makes the kernel hand out the dead child's pid again.
 */
static bool pid_reuse(void)
{
	pid_t pid = fork_and_reap(), again;
	struct vfa_row *rows;
	int n, i, seen = 0, ok = 1;
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");

	if (!f) {
		ktap_info("cannot open ns_last_pid (CONFIG_CHECKPOINT_RESTORE?)");
		return false;
	}
	fprintf(f, "%d", pid - 1);
	fclose(f);
	again = fork();
	if (again == 0) {
		execl("/bin/true", "true", NULL);
		_exit(127);
	}
	waitpid(again, NULL, 0);
	if (again != pid) {
		ktap_info("could not reuse pid %d (got %d)", pid, again);
		return false;
	}
	/* Two rows carry this pid, oldest first: exit, then exec. */
	rows = vfa_forks(&n);
	for (i = 0; i < n; i++) {
		if (rows[i].ppid != getpid() || rows[i].pid != pid)
			continue;
		if (strcmp(rows[i].outcome, seen ? "exec" : "exit"))
			ok = 0;
		seen++;
	}
	free(rows);
	ktap_info("pid %d logged %d times", pid, seen);
	return ok && seen == 2;
}

int main(void)
{
	vfa_require_module();
	ktap_plan(12);
	vfa_reset();
	ktap_test(fork_exec(), "fork_exec_outcome_is_exec");
	ktap_test(fork_exit(), "fork_exit_outcome_is_exit");
	ktap_test(running_child(), "sleeping_child_is_running");
	ktap_test(fork_time_is_start_time(), "fork_time_is_the_childs_start_time");
	ktap_test(exec_non_leader(), "exec_from_non_leader_thread_is_exec");
	ktap_test(threads_dont_end_record(), "child_threads_do_not_end_record");
	ktap_test(grandchild(), "child_that_forks_is_a_new_parent");
	ktap_test(spawn_exec(), "posix_spawn_child_exec_is_followed");
	ktap_test(pid_reuse(), "reused_pid_does_not_inherit_outcome");
	ktap_test(fork_ends_before_record(),
		  "fork_child_exec_before_parent_returns_is_in_its_row");
	ktap_test(vfork_ends_before_record(),
		  "vfork_child_exit_is_in_its_row_with_its_life");
	ktap_test(bare_fork_logged_by_parent(),
		  "fork_asking_no_commit_is_logged_with_its_outcome");
	return ktap_finish();
}
