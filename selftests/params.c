// SPDX-License-Identifier: GPL-2.0
/*
 * params: every parameter refuses bad input with EINVAL and keeps its old
 * value, accepts echo's trailing newline, log_size is fixed at load,
 * insmod with a bad value fails and leaves nothing behind, and control
 * takes "reset" and nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

/* "\n" is what `echo > param` writes for an empty value. */
static const char * const bad[] = {
	"\n", "abc", "-1", "1e3", "12x", " 12", "0x10", "18446744073709551616",
	"1125899906842625",	/* 2^50 + 1 kB: beyond any real limit */
};

/* A 1 MiB string of digits: sysfs hands us its first page. */
static char big[1 << 20];

static bool refuses_bad_values(const char *name)
{
	long long old = vfa_param_get(name);
	unsigned int i;
	int ok = 1, ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + 2; i++) {
		const char *v = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] :
				i == sizeof(bad) / sizeof(bad[0]) ? big : "1\001\377" "2";

		ret = vfa_param(name, v);
		if (ret != -EINVAL || vfa_param_get(name) != old) {
			ktap_info("%s='%.20s': %s, value now %lld (was %lld)",
				  name, v, strerror(-ret),
				  vfa_param_get(name), old);
			ok = 0;
		}
	}
	return ok;
}

static bool takes_newline(const char *name)
{
	long long old = vfa_param_get(name);
	bool ok = !vfa_param(name, "123456\n") &&
		  vfa_param_get(name) == 123456;
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", old);
	return !vfa_param(name, buf) && ok;
}

static bool log_size_fixed(void)
{
	long long old = vfa_param_get("log_size");

	return vfa_param("log_size", "64") < 0 &&
	       vfa_param_get("log_size") == old;
}

static bool limit_zero_estimates(void)
{
	long long mem = meminfo_kb("MemTotal");
	long long lim;
	char *s;
	bool est;

	if (vfa_param("limit_kb", "0"))
		return false;
	lim = vfa_summary("limit");
	s = read_file(VFA_PROC "/summary");
	est = s && strstr(s, "estimate");
	free(s);
	ktap_info("limit_kb=0: limit %lld kB, MemTotal %lld kB", lim, mem);
	if (vfa_param("limit_kb", "500000") || !est)
		return false;
	s = read_file(VFA_PROC "/summary");
	est = s && strstr(s, "estimate");
	free(s);
	return !est && vfa_summary("limit") == 500000 &&
	       lim >= mem / 2 - 4 && lim <= mem / 2;
}

static bool insmod_refuses(const char *params)
{
	int ret = vfa_reload(params);
	bool gone = access(VFA_PROC, F_OK) && access(VFA_PARAMS, F_OK);

	if (ret == 0 || !gone)
		ktap_info("insmod %s: status %d, leftovers %s", params, ret,
			  gone ? "none" : "present");
	return ret != 0 && gone;
}

static bool insmod_bad(void)
{
	static const char * const p[] = {
		"log_size=0", "log_size=15", "log_size=1048577",
		"log_size=abc", "limit_kb=abc", "limit_kb=-1",
		"admin_reserve_kb=12x", "user_reserve_kb=",
		"track_size=15", "noreserve_size=15", "noreserve_size=1048577",
		"noreserve_size=-1",
	};
	unsigned int i;
	bool ok = true;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		ok &= insmod_refuses(p[i]);
	return ok && vfa_reload("log_size=16 limit_kb=1000 admin_reserve_kb=0 noreserve_size=16") == 0 &&
	       vfa_param_get("log_size") == 16 &&
	       vfa_param_get("noreserve_size") == 16 &&
	       vfa_param_get("limit_kb") == 1000 &&
	       vfa_param_get("admin_reserve_kb") == 0 && vfa_reload("") == 0;
}

static bool control_only_reset(void)
{
	static const char * const no[] = {
		"", "RESET", "reset reset", "resetx", "res", "reset\n\n", "1",
	};
	const char *path = VFA_PROC "/control";
	unsigned int i;
	bool ok = true;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		int ret = vfa_write(path, no[i], strlen(no[i]));

		if (ret != -EINVAL && !(ret == 0 && !*no[i])) {
			ktap_info("control '%s': %s", no[i], strerror(-ret));
			ok = false;
		}
	}
	fork_and_reap();
	if (vfa_write(path, "reset", 5) || vfa_summary("logged") != 0)
		ok = false;
	fork_and_reap();
	return ok && !vfa_write(path, "reset\n", 6) &&
	       vfa_summary("logged") == 0 && vfa_summary("forks") == 0;
}

int main(void)
{
	static const char * const names[] = {
		"limit_kb", "admin_reserve_kb", "user_reserve_kb",
	};
	char name[64];
	unsigned int i;

	vfa_require_module();
	memset(big, '7', sizeof(big) - 1);
	ktap_plan(10);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s_refuses_bad_values", names[i]);
		ktap_test(refuses_bad_values(names[i]), name);
		snprintf(name, sizeof(name), "%s_takes_trailing_newline", names[i]);
		ktap_test(takes_newline(names[i]), name);
	}
	ktap_test(log_size_fixed(), "log_size_is_load_time_only");
	ktap_test(limit_zero_estimates(), "limit_kb_0_estimates_half_of_ram");
	ktap_test(control_only_reset(), "control_takes_only_reset");
	ktap_test(insmod_bad(), "insmod_with_bad_value_fails_cleanly");
	return ktap_finish();
}
