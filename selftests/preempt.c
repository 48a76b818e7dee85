// SPDX-License-Identifier: GPL-2.0
/*
 * preempt: the module's tracepoint probes run with preemption disabled on
 * every kernel.  6.1 and 6.12 call probes that way; 7.2 and 7.3 call them
 * preemptible (under SRCU-fast), so the probes disable it themselves:
 * their per-CPU counters lose adds otherwise (a CI run on 7.3-rt lost 4
 * exits of 16).
 *
 * A SCHED_FIFO 99 sampler shares one CPU with a process that forks
 * children that exit at once.  It wakes every SLEEP_US and reads the
 * kernel stack of the forker, or of its newest child, which it has just
 * preempted.  A stack inside a function that a tracepoint probe
 * (vfa_probe_*) called means that probe ran preemptible: none may show
 * one.  A stack at the probe function itself is allowed: its last
 * preempt_enable() is where a wakeup held off during the probe preempts
 * it (and its first instructions run before it disables preemption).
 * On 7.3 and 7.3-rt before the fix, 31 of the 34 and 35 stacks in a
 * probe were inside a function it called.  The control: on a kernel
 * that preempts anywhere (full, lazy or PREEMPT_RT), the same sampler
 * must catch the module's preemptible code, outside any probe, in a
 * second forker on the same CPU: it holds MAP_NORESERVE memory and VMAS
 * mappings, so each of its forks walks its VMAs at its first commit
 * request, preemptibly by design; else the sampler could not have caught
 * a probe either.  A PREEMPT_DYNAMIC kernel booted voluntary is switched to full
 * for the run; on one built voluntary only, nothing is preempted inside
 * the kernel, probes included, and the control is skipped.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define SAMPLES		4000
#define SLEEP_US	300
#define VMAS		200
#define PREEMPT_FILE	"/sys/kernel/debug/sched/preempt"

struct shared {
	volatile int stop;
	volatile pid_t child;	/* the forker's newest child */
	volatile long forks;
};

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Forks children that _exit at once, until told to stop.  The walker's
 * VMAS mappings, one of them MAP_NORESERVE, make each of its forks' walks
 * long enough for the sampler to land in.
 */
static void forker(struct shared *sh, bool walker)
{
	int prot, i;
	pid_t pid;

	if (walker) {
		mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		for (i = 0; i < VMAS; i++) {
			/* Alternate protections: neighbours do not merge. */
			prot = i % 2 ? PROT_READ : PROT_READ | PROT_WRITE;
			mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		}
	}
	while (!sh->stop) {
		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0)
			continue;
		if (!walker)
			sh->child = pid;
		waitpid(pid, NULL, 0);
		sh->forks += !walker;
	}
}

/* Reads /proc/@pid/stack into @buf; its length, 0 if it is gone. */
static ssize_t stack_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

enum { PROBE_NONE, PROBE_EDGE, PROBE_BODY };

/*
 * Where a stack (innermost frame first) was preempted: PROBE_BODY inside a
 * function a probe called (another of the module's frames above the
 * vfa_probe_* one), where preemption must be off; PROBE_EDGE in the probe
 * function itself, as at its last preempt_enable(), where the sampler's
 * wakeup, held off during the body, takes effect (or at its entry).
 */
static int in_a_probe(char *buf)
{
	char *probe = strstr(buf, "vfa_probe_"), *mod;

	if (!probe)
		return PROBE_NONE;
	mod = strstr(buf, "[vforkacct]");
	return mod && mod < probe ? PROBE_BODY : PROBE_EDGE;
}

/* A stack, as KTAP comments. */
static void print_stack(pid_t pid, char *buf)
{
	char *line, *save;

	printf("# stack of %d:\n", pid);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("#   %s\n", line);
}

/*
 * The preemption model: PREEMPT_RT, or the one the scheduler's debugfs
 * file shows in parentheses ("none voluntary (full) lazy"), or
 * "voluntary" on a kernel built without a choice of model.
 */
static void preempt_model(char *model, size_t len)
{
	char *s = read_file(PREEMPT_FILE), *open, *close;
	struct utsname u;

	snprintf(model, len, "voluntary");
	if (!uname(&u) && strstr(u.version, "PREEMPT_RT"))
		snprintf(model, len, "PREEMPT_RT");
	else if (s && (open = strchr(s, '(')) && (close = strchr(open, ')'))) {
		*close = '\0';
		snprintf(model, len, "%s", open + 1);
	}
	free(s);
}

static bool preempts_in_kernel(const char *model)
{
	return !strcmp(model, "PREEMPT_RT") || !strcmp(model, "full") ||
	       !strcmp(model, "lazy");
}

int main(void)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sched_param sp = { .sched_priority = 99 };
	struct timespec ts = { 0, SLEEP_US * 1000 };
	long seen = 0, in_probe = 0, at_edge = 0, outside = 0, i;
	static char buf[8192];
	char model[32], boot_model[32];
	bool full;
	pid_t pid, walker, who;

	vfa_require_module();
	ktap_plan(2);
	if (sh == MAP_FAILED || stack_of(getpid(), buf, sizeof(buf)) <= 0) {
		ktap_skip("probes_never_preempted", "no /proc/PID/stack (CONFIG_STACKTRACE)");
		ktap_skip("sampler_catches_preemptible_module_code", "no /proc/PID/stack");
		return ktap_finish();
	}
	/* A kernel that can switch (PREEMPT_DYNAMIC) preempts fully for the run. */
	preempt_model(boot_model, sizeof(boot_model));
	if (!preempts_in_kernel(boot_model))
		vfa_write(PREEMPT_FILE, "full", 4);
	preempt_model(model, sizeof(model));
	full = preempts_in_kernel(model);
	pin_to(0);
	pid = fork();
	if (pid == 0) {
		forker(sh, false);
		_exit(0);
	}
	walker = fork();
	if (walker == 0) {
		forker(sh, true);
		_exit(0);
	}
	if (pid < 0 || walker < 0) {
		printf("# cannot fork the forkers: %s\n", strerror(errno));
		sh->stop = 1;
		while (wait(NULL) > 0)
			;
		if (strcmp(model, boot_model))
			vfa_write(PREEMPT_FILE, boot_model, strlen(boot_model));
		return 1;
	}
	if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
		printf("# cannot run SCHED_FIFO: %s\n", strerror(errno));
		kill(pid, SIGKILL);
		kill(walker, SIGKILL);
		waitpid(pid, NULL, 0);
		waitpid(walker, NULL, 0);
		if (strcmp(model, boot_model))
			vfa_write(PREEMPT_FILE, boot_model, strlen(boot_model));
		return 1;
	}
	for (i = 0; i < SAMPLES; i++) {
		nanosleep(&ts, NULL);
		/* newtask runs in the forker, exit in its child; and the walker. */
		who = i % 3 == 2 ? walker : i % 3 ? sh->child : pid;
		if (who <= 0 || stack_of(who, buf, sizeof(buf)) <= 0)
			continue;
		seen++;
		switch (in_a_probe(buf)) {
		case PROBE_BODY:
			if (in_probe++ < 3)
				print_stack(who, buf);
			break;
		case PROBE_EDGE:
			at_edge++;
			break;
		default:
			/* The module's code outside a probe: preemptible. */
			outside += !!strstr(buf, "[vforkacct]");
			break;
		}
	}
	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	sh->stop = 1;
	waitpid(pid, NULL, 0);
	waitpid(walker, NULL, 0);
	if (strcmp(model, boot_model))
		vfa_write(PREEMPT_FILE, boot_model, strlen(boot_model));
	ktap_info("preemption model %s: %ld forks, %ld stacks sampled, %ld inside a probe, %ld at a probe's edge, %ld in the module outside a probe",
		  model, sh->forks, seen, in_probe, at_edge, outside);
	ktap_test(seen > SAMPLES / 4 && sh->forks > 0 && in_probe == 0,
		  "probes_never_preempted");
	if (full)
		ktap_test(outside > 0, "sampler_catches_preemptible_module_code");
	else
		ktap_skip("sampler_catches_preemptible_module_code",
			  "this kernel preempts only at voluntary points (no PREEMPT_DYNAMIC)");
	return ktap_finish();
}
