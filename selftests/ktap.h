/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktap.h: the KTAP output of kselftest, small enough to read at a glance.
 *
 *	ktap_plan(3);
 *	ktap_test(ok, "name");			ok 1 name / not ok 1 name
 *	ktap_skip("name", "why");		ok 2 name # SKIP why
 *	ktap_info("charge %ld", c);		# charge 42
 *	return ktap_finish();			exit 0 pass, 1 fail, 4 all skipped
 */
#ifndef VFA_KTAP_H
#define VFA_KTAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int ktap_num, ktap_pass, ktap_fail, ktap_skipped;

static inline void ktap_plan(int n)
{
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

static inline __attribute__((format(printf, 1, 2)))
void ktap_info(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline bool ktap_test(bool ok, const char *name)
{
	printf("%sok %d %s\n", ok ? "" : "not ", ++ktap_num, name);
	fflush(stdout);
	if (ok)
		ktap_pass++;
	else
		ktap_fail++;
	return ok;
}

static inline void ktap_skip(const char *name, const char *why)
{
	printf("ok %d %s # SKIP %s\n", ++ktap_num, name, why);
	fflush(stdout);
	ktap_skipped++;
}

static inline int ktap_finish(void)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       ktap_pass, ktap_fail, ktap_skipped);
	fflush(stdout);
	if (ktap_fail)
		return 1;
	return ktap_pass ? 0 : 4;
}

#endif
