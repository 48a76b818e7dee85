// SPDX-License-Identifier: GPL-2.0
/*
 * ring: the fork log is a ring of log_size records with consecutive seq
 * numbers, the child-tracking table is bounded and counts what it could
 * not follow, reset empties both, and byte-sized reads see the same text.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

static bool keeps_last_16(void)
{
	struct vfa_row *rows;
	int i, n, ok;

	for (i = 0; i < 100; i++)
		fork_and_reap();
	rows = vfa_forks(&n);
	ok = n == 16 && vfa_summary("logged") == 100 &&
	     vfa_summary("forks") == 100;
	for (i = 0; ok && i < n; i++)
		ok = rows[i].seq == 84ULL + i && rows[i].ppid == getpid();
	ktap_info("log_size=16 after 100 forks: %d rows, seq %llu..%llu, logged %lld",
		  n, n ? rows[0].seq : 0, n ? rows[n - 1].seq : 0,
		  vfa_summary("logged"));
	free(rows);
	return ok;
}

static bool untracked_beyond_table(void)
{
	pid_t pids[20];
	int wfd;

	vfa_reset();
	wfd = fork_sleepers(pids, 20);
	if (wfd < 0)
		return false;
	close(wfd);
	reap_all(pids, 20);
	ktap_info("20 live children, table of 16: untracked %lld, exits %lld",
		  vfa_summary("untracked"), vfa_summary("exit_without_exec"));
	return vfa_summary("untracked") == 4 &&
	       vfa_summary("exit_without_exec") == 16;
}

static bool reset_empties(void)
{
	struct vfa_row *rows;
	int n;

	fork_and_reap();
	if (vfa_summary("logged") == 0 || vfa_reset())
		return false;
	rows = vfa_forks(&n);
	free(rows);
	return n == 0 && vfa_summary("logged") == 0 &&
	       vfa_summary("forks") == 0 && vfa_summary("charged") == 0 &&
	       vfa_summary("min_safe_limit") == 0 &&
	       vfa_summary("exit_without_exec") == 0;
}

static bool byte_reads(void)
{
	char *whole = read_file(VFA_PROC "/forks"), *bytes;
	size_t len = 0;
	int fd;
	bool ok;

	if (!whole)
		return false;
	bytes = calloc(1, strlen(whole) + 2);
	fd = open(VFA_PROC "/forks", O_RDONLY);
	while (fd >= 0 && len <= strlen(whole) && read(fd, bytes + len, 1) == 1)
		len++;
	if (fd >= 0)
		close(fd);
	ok = len > 100 && len == strlen(whole) && !strcmp(whole, bytes);
	ktap_info("read %zu bytes one at a time, %zu at once", len, strlen(whole));
	free(whole);
	free(bytes);
	return ok;
}

int main(void)
{
	vfa_require_module();
	if (vfa_reload("log_size=16 track_size=16")) {
		printf("# cannot reload the module with log_size=16 track_size=16\n");
		return 1;
	}
	ktap_plan(4);
	ktap_test(keeps_last_16(), "ring_keeps_last_16_with_consecutive_seq");
	ktap_test(byte_reads(), "byte_reads_equal_whole_read");
	ktap_test(untracked_beyond_table(), "untracked_counts_children_beyond_table");
	ktap_test(reset_empties(), "reset_empties_counters_and_log");
	return ktap_finish();
}
