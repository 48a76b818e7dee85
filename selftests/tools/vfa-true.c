// SPDX-License-Identifier: GPL-2.0
/*
 * vfa-true: the tiniest program to exec, built static so that exec costs
 * no dynamic loading and no 9p lookups in the test VM (/bin/true costs
 * ~100 ms per exec there under TCG, this ~10 ms once copied to tmpfs).
 */
int main(void)
{
	return 0;
}
