// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: the ledger: counters, the fork log ring, and the table that
 * follows each logged child to its first exec or its exit.
 *
 * Everything is preallocated at load and guarded by one raw spinlock held
 * for a few dozen instructions: the probes run with preemption disabled
 * (a spinlock_t would sleep on PREEMPT_RT), and /proc readers copy one
 * record at a time so they never hold up a fork for long.  reset bumps an
 * epoch instead of clearing the tracking table, so it is O(1) and children
 * forked before it can no longer touch the new counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/moduleparam.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "vforkacct.h"

#define VFA_LOG_MIN	16
#define VFA_LOG_MAX	1048576

/* A child being followed to its exec or exit; tgid 0 marks a free slot. */
struct vfa_track {
	pid_t tgid;
	u32 epoch;
	u64 start_time;		/* tells a reused pid from the child */
	u64 seq;
	u64 fork_ns;
	u8 kind;
	u8 verdict;
};

static unsigned int log_size = 4096;
/*
 * Children followed at once.  Not tied to log_size: a prefork server's
 * long-lived workers must not leave later children untracked.
 */
static unsigned int track_size = 65536;

static DEFINE_RAW_SPINLOCK(vfa_lock);
static struct vfa_counters counters;
static struct vfa_record *ring;
static struct vfa_track *track;
static unsigned int track_bits;
static unsigned int track_used;
static unsigned int track_max;
static u32 epoch;
/* Wall-clock seconds of load and of the last reset, for rates. */
static time64_t load_time, reset_time;

/* log_size and track_size: a count, VFA_LOG_MIN..VFA_LOG_MAX. */
static int vfa_param_set_size(const char *val, const struct kernel_param *kp)
{
	unsigned int v;

	if (kstrtouint(val, 10, &v) || v < VFA_LOG_MIN || v > VFA_LOG_MAX) {
		pr_err("invalid %s (want %u..%u)\n", kp->name,
		       VFA_LOG_MIN, VFA_LOG_MAX);
		return -EINVAL;
	}
	*(unsigned int *)kp->arg = v;
	return 0;
}

static const struct kernel_param_ops vfa_size_ops = {
	.set = vfa_param_set_size,
	.get = param_get_uint,
};

module_param_cb(log_size, &vfa_size_ops, &log_size, 0444);
MODULE_PARM_DESC(log_size, "capacity of the fork log ring, records (16..1048576, load time only)");
module_param_cb(track_size, &vfa_size_ops, &track_size, 0444);
MODULE_PARM_DESC(track_size, "children followed to their exec or exit at once (16..1048576, load time only)");

unsigned int vfa_log_size(void)
{
	return log_size;
}

static unsigned int vfa_track_slot(pid_t tgid)
{
	return hash_32((u32)tgid, track_bits);
}

static int vfa_track_find(pid_t tgid, u64 start_time)
{
	unsigned int mask = (1U << track_bits) - 1;
	unsigned int i = vfa_track_slot(tgid);

	for (; track[i].tgid; i = (i + 1) & mask)
		if (track[i].tgid == tgid && track[i].start_time == start_time)
			return i;
	return -1;
}

/* Linear probing: delete by shifting later entries of the run back. */
static void vfa_track_del(unsigned int i)
{
	unsigned int mask = (1U << track_bits) - 1;
	unsigned int j = i, k;

	WRITE_ONCE(track_used, track_used - 1);
	for (;;) {
		track[i].tgid = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!track[j].tgid)
				return;
			k = vfa_track_slot(track[j].tgid);
			/* Stays if its home slot lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		track[i] = track[j];
		i = j;
	}
}

static bool vfa_track_add(struct task_struct *child,
			  const struct vfa_record *rec)
{
	unsigned int mask = (1U << track_bits) - 1;
	unsigned int i;

	if (track_used >= track_max)
		return false;
	for (i = vfa_track_slot(child->tgid); track[i].tgid; i = (i + 1) & mask)
		;
	track[i] = (struct vfa_track) {
		.tgid = child->tgid,
		.epoch = epoch,
		.start_time = child->start_time,
		.seq = rec->seq,
		.fork_ns = rec->time_ns,
		.kind = rec->kind,
		.verdict = rec->verdict,
	};
	WRITE_ONCE(track_used, track_used + 1);
	return true;
}

static void vfa_account_probe(u64 start)
{
	u64 ns = local_clock() - start;

	counters.probe_ns += ns;
	counters.probe_max_ns = max(counters.probe_max_ns, ns);
}

void vfa_ledger_thread(u64 probe_start)
{
	raw_spin_lock(&vfa_lock);
	counters.threads++;
	vfa_account_probe(probe_start);
	raw_spin_unlock(&vfa_lock);
}

/* Logs @rec (giving it its seq) and starts following @child. */
void vfa_ledger_fork(struct vfa_record *rec, struct task_struct *child,
		     u64 min_limit_kb, u64 probe_start, u64 walk_ns)
{
	raw_spin_lock(&vfa_lock);
	counters.walk_ns += walk_ns;
	rec->seq = counters.logged++;
	switch (rec->kind) {
	case VFA_FORK:
		counters.forks++;
		if (rec->charge_kb > 0)
			counters.charged_kb += rec->charge_kb;
		if (rec->verdict == VFA_UNKNOWN)
			counters.lock_misses++;
		if (rec->verdict == VFA_FAIL)
			counters.would_fail++;
		counters.min_safe_limit_kb = max(counters.min_safe_limit_kb,
						 min_limit_kb);
		break;
	case VFA_VFORK:
		counters.vforks++;
		break;
	default:
		counters.vm_clones++;
		break;
	}
	ring[rec->seq % log_size] = *rec;
	if (!vfa_track_add(child, rec))
		counters.untracked++;
	vfa_account_probe(probe_start);
	raw_spin_unlock(&vfa_lock);
}

/* Logs a fork the kernel refused: there is no child to follow. */
void vfa_ledger_refused(struct vfa_record *rec)
{
	raw_spin_lock(&vfa_lock);
	rec->seq = counters.logged++;
	counters.refused++;
	ring[rec->seq % log_size] = *rec;
	raw_spin_unlock(&vfa_lock);
}

/*
 * @p execs or its thread group dies.  If it is a child we follow, close
 * its record (if the ring still holds it), count the outcome, and fill
 * @rec's seq, pid and outcome fields for the trace event.
 */
bool vfa_ledger_outcome(struct task_struct *p, u8 outcome,
			struct vfa_record *rec)
{
	u64 start = local_clock();
	u64 start_time = p->group_leader->start_time;
	struct vfa_record *r;
	struct vfa_track t;
	bool fail, found = false;
	int i;

	/* Nothing followed: every exec and exit of the system goes by. */
	if (!READ_ONCE(track_used))
		return false;

	raw_spin_lock(&vfa_lock);
	i = vfa_track_find(p->tgid, start_time);
	if (i < 0)
		goto out;
	t = track[i];
	vfa_track_del(i);
	if (t.epoch != epoch)	/* forked before a reset */
		goto out;

	fail = t.verdict == VFA_FAIL;
	if (t.kind == VFA_FORK && outcome == VFA_EXEC) {
		counters.exec_after_fork++;
		counters.would_fail_exec += fail;
	} else if (t.kind == VFA_FORK) {
		counters.exit_without_exec++;
		counters.would_fail_exit += fail;
	}

	rec->seq = t.seq;
	rec->pid = p->tgid;
	rec->kind = t.kind;
	rec->verdict = t.verdict;
	rec->outcome = outcome;
	rec->life_us = div_u64(ktime_get_boottime_ns() - t.fork_ns, 1000);
	rec->faults = p->min_flt + p->maj_flt +
		      p->signal->min_flt + p->signal->maj_flt;
	rec->exec_comm[0] = '\0';
	if (outcome == VFA_EXEC) {
		memcpy(rec->exec_comm, p->comm, TASK_COMM_LEN);
		rec->exec_comm[TASK_COMM_LEN - 1] = '\0';
	}
	r = &ring[t.seq % log_size];
	if (r->seq == t.seq) {	/* not overwritten yet */
		r->outcome = outcome;
		r->life_us = rec->life_us;
		r->faults = rec->faults;
		memcpy(r->exec_comm, rec->exec_comm, TASK_COMM_LEN);
	}
	found = true;
	vfa_account_probe(start);
out:
	raw_spin_unlock(&vfa_lock);
	return found;
}

void vfa_ledger_reset(void)
{
	raw_spin_lock(&vfa_lock);
	memset(&counters, 0, sizeof(counters));
	epoch++;
	reset_time = ktime_get_real_seconds();
	raw_spin_unlock(&vfa_lock);
}

void vfa_ledger_counters(struct vfa_counters *c)
{
	raw_spin_lock(&vfa_lock);
	*c = counters;
	raw_spin_unlock(&vfa_lock);
}

/*
 * Copies the record numbered *@seq, or the oldest one still in the ring
 * if that was overwritten (*@seq moves forward).  False past the newest.
 */
void vfa_ledger_times(time64_t *load, time64_t *reset)
{
	raw_spin_lock(&vfa_lock);
	*load = load_time;
	*reset = reset_time;
	raw_spin_unlock(&vfa_lock);
}

bool vfa_ledger_read(u64 *seq, struct vfa_record *rec)
{
	bool ok = false;
	u64 oldest;

	raw_spin_lock(&vfa_lock);
	oldest = counters.logged > log_size ? counters.logged - log_size : 0;
	if (*seq < oldest)
		*seq = oldest;
	if (*seq < counters.logged) {
		*rec = ring[*seq % log_size];
		ok = true;
	}
	raw_spin_unlock(&vfa_lock);
	return ok;
}

int vfa_ledger_init(void)
{
	unsigned int i;

	ring = vmalloc_array(log_size, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (i = 0; i < log_size; i++)
		ring[i].seq = U64_MAX;

	load_time = ktime_get_real_seconds();
	reset_time = load_time;
	track_max = track_size;
	/* At most half full, so probe runs stay short. */
	track_bits = ilog2(roundup_pow_of_two(track_max)) + 1;
	track = vzalloc(array_size(1U << track_bits, sizeof(*track)));
	if (!track) {
		vfree(ring);
		return -ENOMEM;
	}
	return 0;
}

void vfa_ledger_exit(void)
{
	vfree(track);
	vfree(ring);
}
