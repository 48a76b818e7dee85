// SPDX-License-Identifier: GPL-2.0
/*
 * direct: how the commit callback is attached, and that a fork's charge
 * stays exact either way.
 *
 * On x86-64 the entry of __vm_enough_memory(), called once per accounted
 * VMA of every fork, calls the module's own trampoline (an ftrace direct
 * call, the way BPF fentry programs are called) rather than ftrace's:
 * tracefs's enabled_functions must show it.  A function takes one direct
 * call at most: while the module holds it, a BPF fentry program cannot
 * attach there; if one holds it when the module loads, the module must
 * fall back to ftrace's trampoline, say so in the kernel log, and still
 * log each fork's charge to the page, while the BPF program keeps seeing
 * the requests.  That program is a bpftrace kfunc probe.  Once it is
 * gone, the next load calls the trampoline directly again.
 *
 * x86-64 only (elsewhere the module always uses ftrace's trampoline);
 * skipped if bpftrace, tracefs or the kernel's BTF (for kfunc) is missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define FUNC		"__vm_enough_memory"
#define TRAMP		"vfa_commit_tramp"
#define FALLBACK_MSG	"no direct call to the commit callback"
#define MAP_MB		64

static const char *tracefs;

static const char *find_tracefs(void)
{
	static const char * const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[256];
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/enabled_functions", dirs[i]);
		if (!access(path, R_OK))
			return dirs[i];
	}
	return NULL;
}

/*
 * FUNC's entry in enabled_functions with its continuation lines (the
 * "direct-->" one names the direct call's target), or "" if not traced.
 */
static void func_entry(char *buf, size_t len)
{
	char path[256], *s, *p, *end;
	size_t flen = strlen(FUNC);

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/enabled_functions", tracefs);
	s = read_file(path);
	for (p = s; p && *p; p = end) {
		end = strchrnul(p, '\n');
		if (*end)
			end++;
		if (strncmp(p, FUNC, flen) || (p[flen] != ' ' && p[flen] != '\t'))
			continue;
		/* Continuation lines start with a tab. */
		while (*end == '\t') {
			end = strchrnul(end, '\n');
			if (*end)
				end++;
		}
		snprintf(buf, len, "%.*s", (int)(end - p), p);
		break;
	}
	free(s);
}

static bool calls_tramp_directly(void)
{
	char e[1024], *line, *save = NULL;
	bool direct;

	func_entry(e, sizeof(e));
	direct = strstr(e, "direct-->" TRAMP) != NULL;
	if (!e[0])
		ktap_info("enabled_functions: no " FUNC);
	else
		ktap_info("enabled_functions:");
	for (line = strtok_r(e, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		ktap_info("  %s", line);
	return direct;
}

/* How many lines of the kernel log say the module fell back. */
static int fallback_lines(void)
{
	FILE *f = popen("dmesg | grep -c '" FALLBACK_MSG "'", "r");
	int n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	pclose(f);
	return n;
}

/* A fork whose logged charge is what smaps says dup_mmap() charges. */
static bool fork_charge_exact(void)
{
	struct vfa_row *rows, *r;
	long long want;
	bool ok = false;
	int n;
	pid_t pid;

	want = smaps_fork_charge_kb();
	pid = fork_and_reap();
	if (want < 0 || pid < 0) {
		ktap_info("smaps %lld kB, fork %d", want, pid);
		return false;
	}
	rows = vfa_forks(&n);
	r = rows ? vfa_find(rows, n, getpid(), pid) : NULL;
	if (r) {
		ktap_info("fork %d: charge_kB %ld, smaps says %lld", pid,
			  r->charge_kb, want);
		ok = r->charge_kb == want;
	} else {
		ktap_info("no forks row for %d -> %d", getpid(), pid);
	}
	free(rows);
	return ok;
}

static pid_t start_bpftrace(const char *out)
{
	char *argv[] = { "bpftrace", "-e",
			 "BEGIN { printf(\"fentry ready\\n\"); } kfunc:" FUNC
			 " { @requests = count(); }", NULL };

	return bpftrace_start(out, argv);
}

static bool wait_ready(pid_t bt, const char *out)
{
	return bpftrace_wait_ready(bt, out, "fentry ready\n",
				   "bpftrace kfunc:" FUNC);
}

static bool output_has(const char *out, const char *what)
{
	char *s = read_file(out);
	bool has = s && strstr(s, what);

	free(s);
	return has;
}

/* The count bpftrace printed at exit, or -1. */
static long bpftrace_requests(const char *out)
{
	char *s = read_file(out), *p;
	long n = -1;

	p = s ? strstr(s, "@requests: ") : NULL;
	if (p)
		n = strtol(p + strlen("@requests: "), NULL, 10);
	free(s);
	return n;
}

int main(void)
{
	char out[] = "/tmp/vfa-direct.XXXXXX";
	bool ready, loaded, fell_back, refused;
	int before, fd;
	long seen;
	pid_t bt;

	vfa_require_module();
#ifndef __x86_64__
	printf("TAP version 13\n1..0 # SKIP not x86-64: the module calls its commit callback through ftrace's trampoline here\n");
	return 4;
#endif
	tracefs = find_tracefs();
	if (!tracefs) {
		printf("TAP version 13\n1..0 # SKIP no tracefs with enabled_functions\n");
		return 4;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		printf("TAP version 13\n1..0 # SKIP no /sys/kernel/btf/vmlinux (bpftrace kfunc needs it)\n");
		return 4;
	}
	if (!find_in_path("bpftrace")) {
		printf("TAP version 13\n1..0 # SKIP bpftrace is not installed\n");
		return 4;
	}
	ktap_plan(7);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!map_private(MAP_MB, true)) {
		ktap_info("cannot map %d MiB", MAP_MB);
		return ktap_finish();
	}

	ktap_test(calls_tramp_directly() && fork_charge_exact(),
		  "commit_callback_is_a_direct_call_and_charges_exactly");

	/* While the module holds the direct call, fentry cannot have it. */
	fd = mkstemp(out);
	if (fd >= 0)
		close(fd);
	bt = start_bpftrace(out);
	ready = bt > 0 && wait_ready(bt, out);
	if (ready)
		bpftrace_stop(bt);
	refused = bt > 0 && !ready && output_has(out, "Error attaching probe");
	ktap_test(refused,
		  "bpf_fentry_cannot_attach_while_the_module_holds_the_call");

	/* A BPF fentry program takes the function's direct call first. */
	if (system("rmmod vforkacct"))
		ktap_info("rmmod failed");
	bt = start_bpftrace(out);
	ready = bt > 0 && wait_ready(bt, out);
	ktap_test(ready, "bpf_fentry_attached_with_the_module_unloaded");

	before = fallback_lines();
	loaded = vfa_reload("") == 0;
	fell_back = loaded && fallback_lines() == before + 1 &&
		    !calls_tramp_directly();
	fflush(stdout);
	if (system("dmesg | grep '" FALLBACK_MSG "' | tail -1 | sed 's/^/# /'"))
		ktap_info("cannot read the kernel log");
	ktap_test(ready && fell_back,
		  "module_loads_beside_bpf_fentry_and_says_it_falls_back");
	ktap_test(ready && loaded && fork_charge_exact(),
		  "charge_exact_through_ftrace_trampoline");

	seen = -1;
	if (bt > 0) {
		bpftrace_stop(bt);
		seen = bpftrace_requests(out);
		ktap_info("bpftrace counted %ld requests", seen);
	}
	ktap_test(ready && seen > 0, "bpf_fentry_kept_seeing_the_requests");

	/* Gone: the next load calls the trampoline directly again. */
	loaded = vfa_reload("") == 0;
	ktap_test(loaded && calls_tramp_directly() && fork_charge_exact(),
		  "direct_call_again_once_bpf_fentry_is_gone");
	unlink(out);
	return ktap_finish();
}
