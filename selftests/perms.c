// SPDX-License-Identifier: GPL-2.0
/*
 * perms: who may read and write what.  summary is world-readable; forks
 * and tasks name every process and its memory, so only root reads them;
 * control and the parameters are root's to write.  Checked by modes and
 * by an unprivileged child (uid/gid nobody) that must get EACCES.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define NOBODY 65534

static const struct {
	const char *path;
	unsigned int mode;
	int flags;		/* how nobody tries to open it */
	int want;		/* 0: allowed, else the errno */
} files[] = {
	{ VFA_PROC "/summary", 0444, O_RDONLY, 0 },
	{ VFA_PROC "/forks", 0400, O_RDONLY, EACCES },
	{ VFA_PROC "/tasks", 0400, O_RDONLY, EACCES },
	{ VFA_PROC "/control", 0200, O_WRONLY, EACCES },
	{ VFA_PARAMS "/limit_kb", 0644, O_WRONLY, EACCES },
	{ VFA_PARAMS "/admin_reserve_kb", 0644, O_WRONLY, EACCES },
	{ VFA_PARAMS "/user_reserve_kb", 0644, O_WRONLY, EACCES },
	{ VFA_PARAMS "/log_size", 0444, O_WRONLY, EACCES },
};

#define NFILES (sizeof(files) / sizeof(files[0]))

static bool modes(void)
{
	struct stat st;
	bool ok = true;
	unsigned int i;

	for (i = 0; i < NFILES; i++) {
		if (stat(files[i].path, &st) ||
		    (st.st_mode & 07777) != files[i].mode) {
			ktap_info("%s: mode %o, want %o", files[i].path,
				  st.st_mode & 07777, files[i].mode);
			ok = false;
		}
	}
	return ok;
}

/* In a child that is nobody: bit i set when file i behaved as wanted. */
static int as_nobody(void)
{
	char buf[256];
	int i, fd, mask = 0;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return -1;
	for (i = 0; i < (int)NFILES; i++) {
		fd = open(files[i].path, files[i].flags);
		if (fd >= 0) {
			if (!files[i].want && read(fd, buf, sizeof(buf)) > 0)
				mask |= 1 << i;
			close(fd);
		} else if (errno == files[i].want) {
			mask |= 1 << i;
		}
	}
	return mask;
}

int main(void)
{
	int status, i, mask;
	pid_t pid;

	vfa_require_module();
	ktap_plan(1 + NFILES);
	ktap_test(modes(), "proc_and_param_modes_as_documented");
	pid = fork();
	if (pid == 0)
		_exit(as_nobody() & 0xff);
	waitpid(pid, &status, 0);
	mask = WEXITSTATUS(status);
	for (i = 0; i < (int)NFILES; i++) {
		char name[128];

		snprintf(name, sizeof(name), "nobody_%s_%s",
			 files[i].want ? "refused" : "reads",
			 strrchr(files[i].path, '/') + 1);
		ktap_test(mask & (1 << i), name);
	}
	return ktap_finish();
}
