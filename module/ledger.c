// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: the ledger: counters, the fork log ring, and the table that
 * follows each logged child to its first exec or its exit.
 *
 * Everything is preallocated at load, and no lock is shared by all CPUs:
 * the probes of every fork, exec and exit of the system run here.
 * Counters are per CPU, summed at read.  A record's seq is the one shared
 * atomic per record; its ring slot has its own raw spinlock, which only a
 * writer lapping the ring or a reader of that slot contends.  The table of
 * followed children is split into stripes by pid hash, each with its own
 * raw spinlock.  Raw: the probes run with preemption disabled, where a
 * spinlock_t would sleep on PREEMPT_RT.  reset bumps an epoch instead of
 * clearing anything: each CPU clears its own counters when it next sees
 * the new epoch, and children forked before it are no longer counted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "vforkacct.h"

#define VFA_LOG_MIN	16
#define VFA_LOG_MAX	1048576
/* Stripes of the tracking table: one per 1024 children, at most 64. */
#define VFA_STRIPE_SHARE	1024
#define VFA_STRIPES_MAX		64

bool vfa_ticks_hw __read_mostly;

/* @t ticks (vfa_ticks()) in ns, at the counter's rate now. */
static u64 vfa_ticks_ns(u64 t)
{
	u32 khz;

	if (!vfa_ticks_hw)
		return t;
	khz = vfa_counter_khz();
	return khz ? mul_u64_u32_div(t, USEC_PER_SEC, khz) : 0;
}

/* A child being followed to its exec or exit; tgid 0 marks a free slot. */
struct vfa_track {
	pid_t tgid;
	u32 epoch;
	u64 start_time;		/* tells a reused pid from the child */
	union {
		u64 seq;		/* its record's, once written */
		struct vfa_pending *pend;	/* until then */
	};
	u64 fork_ns;
	u8 kind;
	u8 verdict;
	bool pending;		/* the record is not written yet */
};

/* A part of the tracking table: pids hash to one stripe. */
struct vfa_stripe {
	raw_spinlock_t lock;
	unsigned int used;
	struct vfa_track *slots;	/* a linear-probing hash table */
} ____cacheline_aligned_in_smp;

/* A record of the ring; seq U64_MAX: never written. */
struct vfa_slot {
	raw_spinlock_t lock;
	struct vfa_record rec;
};

/* One CPU's counters, valid for the epoch they carry. */
struct vfa_cpu_counters {
	u32 epoch;
	struct vfa_counters c;
};

static unsigned int log_size = 4096;
/*
 * Children followed at once.  Not tied to log_size: a prefork server's
 * long-lived workers must not leave later children untracked.
 */
static unsigned int track_size = 65536;

static DEFINE_PER_CPU(struct vfa_cpu_counters, vfa_cpu);
static atomic64_t next_seq;	/* seq of the next record, never reset */
static u64 log_base;		/* next_seq at the last reset */
static struct vfa_slot *ring;
static struct vfa_stripe *stripes;
static unsigned int stripe_bits;	/* log2 of the number of stripes */
static unsigned int slot_bits;		/* log2 of the slots per stripe */
static unsigned int stripe_max;		/* children per stripe */
static u32 epoch;
static DEFINE_MUTEX(vfa_reset_mutex);
/* Wall-clock seconds of load and of the last reset, for rates. */
static time64_t load_time, reset_time;

/* log_size, track_size, noreserve_size: a count, VFA_LOG_MIN..VFA_LOG_MAX. */
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

const struct kernel_param_ops vfa_size_ops = {
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

/*
 * This CPU's counters for the current epoch; the caller has preemption
 * disabled.  The first use after a reset clears them: only their own CPU
 * ever writes them, so a reset needs no lock and loses no racing fork.
 */
static struct vfa_counters *vfa_counters_here(void)
{
	struct vfa_cpu_counters *cc = this_cpu_ptr(&vfa_cpu);
	u32 e = READ_ONCE(epoch);

	if (unlikely(cc->epoch != e)) {
		u64 *f = (u64 *)&cc->c;
		unsigned int i;

		/* Read racily by readers that saw the old epoch. */
		for (i = 0; i < sizeof(cc->c) / sizeof(u64); i++)
			WRITE_ONCE(f[i], 0);
		/* Readers that see the epoch see the cleared counters. */
		smp_store_release(&cc->epoch, e);
	}
	return &cc->c;
}

/* The epoch of @c (from vfa_counters_here()): one reading per probe. */
static u32 vfa_counters_epoch(struct vfa_counters *c)
{
	return container_of(c, struct vfa_cpu_counters, c)->epoch;
}

/* Per-CPU counters: their own CPU's stores are read racily by readers. */
static void vfa_add(u64 *f, u64 v)
{
	WRITE_ONCE(*f, *f + v);
}

static void vfa_raise(u64 *f, u64 v)
{
	if (v > *f)
		WRITE_ONCE(*f, v);
}

static struct vfa_stripe *vfa_stripe_of(pid_t tgid, unsigned int *home)
{
	u32 h = hash_32((u32)tgid, stripe_bits + slot_bits);

	*home = h & ((1U << slot_bits) - 1);
	return &stripes[h >> slot_bits];
}

static unsigned int vfa_track_home(pid_t tgid)
{
	unsigned int home;

	vfa_stripe_of(tgid, &home);
	return home;
}

static int vfa_track_find(struct vfa_stripe *st, unsigned int i, pid_t tgid,
			  u64 start_time)
{
	unsigned int mask = (1U << slot_bits) - 1;
	struct vfa_track *t = st->slots;

	for (; t[i].tgid; i = (i + 1) & mask)
		if (t[i].tgid == tgid && t[i].start_time == start_time)
			return i;
	return -1;
}

/* Linear probing: delete by shifting later entries of the run back. */
static void vfa_track_del(struct vfa_stripe *st, unsigned int i)
{
	unsigned int mask = (1U << slot_bits) - 1;
	struct vfa_track *t = st->slots;
	unsigned int j = i, k;

	WRITE_ONCE(st->used, st->used - 1);
	for (;;) {
		t[i].tgid = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!t[j].tgid)
				return;
			k = vfa_track_home(t[j].tgid);
			/* Stays if its home slot lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t[i] = t[j];
		i = j;
	}
}

static bool vfa_track_add(const struct vfa_track *t)
{
	unsigned int mask = (1U << slot_bits) - 1;
	struct vfa_stripe *st;
	unsigned int i;
	bool ok = false;

	st = vfa_stripe_of(t->tgid, &i);
	raw_spin_lock(&st->lock);
	if (st->used < stripe_max) {
		for (; st->slots[i].tgid; i = (i + 1) & mask)
			;
		st->slots[i] = *t;
		WRITE_ONCE(st->used, st->used + 1);
		ok = true;
	}
	raw_spin_unlock(&st->lock);
	return ok;
}

/* A probe's time, from @start (vfa_ticks()) to now: one CPU throughout. */
static void vfa_account_probe(struct vfa_counters *c, u64 start)
{
	u64 t = vfa_ticks() - start;	/* one CPU: preemption is off */

	vfa_add(&c->probe_ns, t);
	vfa_raise(&c->probe_max_ns, t);
}

void vfa_ledger_thread(u64 probe_start)
{
	struct vfa_counters *c = vfa_counters_here();

	vfa_add(&c->threads, 1);
	vfa_account_probe(c, probe_start);
}

/* Gives @rec the next seq and writes it to its ring slot. */
static void vfa_log(struct vfa_record *rec)
{
	struct vfa_slot *s;

	rec->seq = atomic64_fetch_inc(&next_seq);
	s = &ring[rec->seq % log_size];
	raw_spin_lock(&s->lock);
	/* A writer lapping the ring: the newer record stays. */
	if (s->rec.seq == U64_MAX || s->rec.seq < rec->seq)
		s->rec = *rec;
	raw_spin_unlock(&s->lock);
}

/* The seq that readers and trace events see: counted from the reset. */
static u64 vfa_seq_shown(u64 seq)
{
	return seq - READ_ONCE(log_base);
}

static void vfa_count_fork(struct vfa_counters *c,
			   const struct vfa_record *rec, u64 min_limit_kb,
			   u64 walk_ticks, enum vfa_miss miss)
{
	vfa_add(&c->walk_ns, walk_ticks);
	switch (rec->kind) {
	case VFA_FORK:
		vfa_add(&c->forks, 1);
		if (rec->charge_kb > 0)
			vfa_add(&c->charged_kb, rec->charge_kb);
		if (miss == VFA_MISS_LOCK)
			vfa_add(&c->lock_misses, 1);
		else if (miss == VFA_MISS_WALK)
			vfa_add(&c->walk_misses, 1);
		if (rec->verdict == VFA_FAIL)
			vfa_add(&c->would_fail, 1);
		vfa_raise(&c->min_safe_limit_kb, min_limit_kb);
		break;
	case VFA_VFORK:
		vfa_add(&c->vforks, 1);
		break;
	default:
		vfa_add(&c->vm_clones, 1);
		break;
	}
}

static void vfa_count_outcome(struct vfa_counters *c, u8 kind, u8 verdict,
			      u8 outcome)
{
	bool fail = verdict == VFA_FAIL;

	if (kind == VFA_FORK && outcome == VFA_EXEC) {
		vfa_add(&c->exec_after_fork, 1);
		vfa_add(&c->would_fail_exec, fail);
	} else if (kind == VFA_FORK) {
		vfa_add(&c->exit_without_exec, 1);
		vfa_add(&c->would_fail_exit, fail);
	}
}

/*
 * From task_newtask: logs @rec (giving it its seq, as readers number it)
 * and starts following @child.  @fr: what the clone's requests showed,
 * if it was followed from kernel_clone().
 */
void vfa_ledger_fork(struct vfa_record *rec, struct task_struct *child,
		     u64 min_limit_kb, u64 probe_start,
		     const struct vfa_fork_result *fr, enum vfa_miss miss)
{
	struct vfa_counters *c = vfa_counters_here();
	struct vfa_track t = {
		.tgid = child->tgid,
		.epoch = vfa_counters_epoch(c),
		.start_time = child->start_time,
		.fork_ns = rec->time_ns,
		.kind = rec->kind,
		.verdict = rec->verdict,
	};

	vfa_count_fork(c, rec, min_limit_kb, fr ? fr->walk_ticks : 0, miss);
	if (fr)
		vfa_add(&c->noreserve_walks, fr->noreserve_walked);
	vfa_log(rec);
	t.seq = rec->seq;
	if (!vfa_track_add(&t))
		vfa_add(&c->untracked, 1);
	rec->seq = vfa_seq_shown(rec->seq);
	vfa_account_probe(c, probe_start);
}

/*
 * From task_newtask, for a clone followed from kernel_clone(): starts
 * following @child, whose record @p will carry to the parent's task_work
 * (vfa_ledger_pending()).  All the probe does for it.
 */
void vfa_ledger_follow(struct task_struct *child, struct vfa_pending *p,
		       u64 probe_start)
{
	struct vfa_counters *c = vfa_counters_here();
	struct vfa_track t = {
		.tgid = p->tgid,
		.start_time = p->start_time,
		.pend = p,
		.fork_ns = p->fork_ns,
		.kind = p->kind,
		.pending = true,
	};

	p->tracked = vfa_track_add(&t);
	vfa_account_probe(c, probe_start);
}

/*
 * From the parent's task_work, preemptible: counts and logs @rec, the
 * record of the clone @p that vfa_ledger_follow() started following.
 * Its child may have exec'd or exited meanwhile (it has run by then):
 * then the record is written with its outcome, and true is returned with
 * @out filled as vfa_ledger_outcome() would have; @rec stays as at the
 * fork, for the fork's trace event.  Else its tracking entry
 * learns the record's seq and verdict, under its stripe's lock, so that
 * the outcome, when it comes, finds the record.
 */
bool vfa_ledger_pending(struct vfa_record *rec, struct vfa_pending *p,
			u64 min_limit_kb, u64 work_start,
			const struct vfa_fork_result *fr, struct vfa_record *out)
{
	bool ended = false;
	struct vfa_counters *c;
	struct vfa_stripe *st;
	struct vfa_track *t;
	unsigned int home;
	int i = -1;
	u32 e;

	/* Its CPU's counters: pinned for the adds. */
	preempt_disable();
	c = vfa_counters_here();
	e = vfa_counters_epoch(c);
	vfa_count_fork(c, rec, min_limit_kb, 0, VFA_MISS_NONE);
	if (!p->tracked)
		vfa_add(&c->untracked, 1);
	preempt_enable();

	if (p->tracked) {
		st = vfa_stripe_of(p->tgid, &home);
		raw_spin_lock(&st->lock);
		i = vfa_track_find(st, home, p->tgid, p->start_time);
		if (i >= 0) {
			t = &st->slots[i];
			vfa_log(rec);
			t->seq = rec->seq;
			t->verdict = rec->verdict;
			/* Its outcome is counted if its fork was. */
			t->epoch = e;
			t->pending = false;
		}
		raw_spin_unlock(&st->lock);
		if (i >= 0)
			goto logged;
	}
	if (!p->ended) {	/* not tracked */
		vfa_log(rec);
		goto logged;
	}

	/* vfa_ledger_outcome() took its entry away, under the lock. */
	ended = true;
	*out = *rec;
	out->outcome = p->outcome;
	out->life_us = p->life_us;
	out->faults = p->faults;
	memcpy(out->exec_comm, p->exec_comm, TASK_COMM_LEN);
	vfa_log(out);
	rec->seq = out->seq;
logged:
	rec->seq = vfa_seq_shown(rec->seq);
	out->seq = rec->seq;
	preempt_disable();
	c = vfa_counters_here();
	/* Counted with its fork, in the same epoch but for a racing reset. */
	if (ended)
		vfa_count_outcome(c, out->kind, out->verdict, out->outcome);
	vfa_add(&c->walk_ns, fr->walk_ticks + vfa_ticks_since(work_start));
	vfa_add(&c->noreserve_walks, fr->noreserve_walked);
	preempt_enable();
	return ended;
}

/* Logs a fork the kernel refused: there is no child to follow. */
void vfa_ledger_refused(struct vfa_record *rec)
{
	/* From a task_work, preemptible: pinned to its CPU for the add. */
	preempt_disable();
	vfa_add(&vfa_counters_here()->refused, 1);
	preempt_enable();
	vfa_log(rec);
	rec->seq = vfa_seq_shown(rec->seq);
}

/* What @p's record shows of it at its exec or exit. */
static void vfa_outcome_fill(struct task_struct *p, u8 outcome, u64 *faults,
			     char *exec_comm)
{
	*faults = p->min_flt + p->maj_flt +
		  p->signal->min_flt + p->signal->maj_flt;
	exec_comm[0] = '\0';
	if (outcome == VFA_EXEC) {
		memcpy(exec_comm, p->comm, TASK_COMM_LEN);
		exec_comm[TASK_COMM_LEN - 1] = '\0';
	}
}

/*
 * @p execs or its thread group dies.  If it is a child we follow, close
 * its record (if the ring still holds it), count the outcome, and fill
 * @rec's seq, pid and outcome fields for the trace event.  If its record
 * is not written yet, leave the outcome to the parent's task_work
 * (vfa_ledger_pending()), which logs both: false.
 */
bool vfa_ledger_outcome(struct task_struct *p, u8 outcome,
			struct vfa_record *rec)
{
	u64 start_time = p->group_leader->start_time;
	struct vfa_counters *c;
	struct vfa_pending *pend;
	struct vfa_stripe *st;
	struct vfa_track t;
	struct vfa_slot *s;
	unsigned int home;
	u64 start, now;
	int i;

	/* Nothing followed in its stripe: no lock taken, no clock read. */
	st = vfa_stripe_of(p->tgid, &home);
	if (!READ_ONCE(st->used))
		return false;

	start = vfa_ticks();
	raw_spin_lock(&st->lock);
	i = vfa_track_find(st, home, p->tgid, start_time);
	if (i >= 0) {
		/* Only a followed child's end reads the boot clock. */
		now = ktime_get_boottime_ns();
		t = st->slots[i];
		vfa_track_del(st, i);
		if (t.pending) {
			/* Before its record: the parent's task_work logs it. */
			pend = t.pend;
			pend->outcome = outcome;
			pend->life_us = div_u64(now - t.fork_ns, 1000);
			vfa_outcome_fill(p, outcome, &pend->faults,
					 pend->exec_comm);
			pend->ended = true;
		}
	}
	raw_spin_unlock(&st->lock);
	if (i < 0)
		return false;
	c = vfa_counters_here();
	if (t.pending) {
		vfa_account_probe(c, start);
		return false;
	}
	if (t.epoch != vfa_counters_epoch(c))	/* forked before a reset */
		return false;
	vfa_count_outcome(c, t.kind, t.verdict, outcome);

	rec->seq = vfa_seq_shown(t.seq);
	rec->pid = p->tgid;
	rec->kind = t.kind;
	rec->verdict = t.verdict;
	rec->outcome = outcome;
	rec->life_us = div_u64(now - t.fork_ns, 1000);
	vfa_outcome_fill(p, outcome, &rec->faults, rec->exec_comm);
	s = &ring[t.seq % log_size];
	raw_spin_lock(&s->lock);
	if (s->rec.seq == t.seq) {	/* not overwritten yet */
		s->rec.outcome = outcome;
		s->rec.life_us = rec->life_us;
		s->rec.faults = rec->faults;
		memcpy(s->rec.exec_comm, rec->exec_comm, TASK_COMM_LEN);
	}
	raw_spin_unlock(&s->lock);
	vfa_account_probe(c, start);
	return true;
}

/*
 * Records logged before the reset are no longer read, counters of the old
 * epoch no longer summed.  A fork racing with it on another CPU lands on
 * one side or the other.
 */
void vfa_ledger_reset(void)
{
	mutex_lock(&vfa_reset_mutex);
	WRITE_ONCE(log_base, atomic64_read(&next_seq));
	WRITE_ONCE(reset_time, ktime_get_real_seconds());
	WRITE_ONCE(epoch, epoch + 1);
	mutex_unlock(&vfa_reset_mutex);
}

static void vfa_sum(u64 *to, const u64 *from)
{
	*to += READ_ONCE(*from);
}

static void vfa_top(u64 *to, const u64 *from)
{
	*to = max(*to, READ_ONCE(*from));
}

void vfa_ledger_counters(struct vfa_counters *c)
{
	u32 e = READ_ONCE(epoch);
	int cpu;

	memset(c, 0, sizeof(*c));
	for_each_possible_cpu(cpu) {
		struct vfa_cpu_counters *cc = per_cpu_ptr(&vfa_cpu, cpu);
		const struct vfa_counters *f = &cc->c;

		/* Pairs with vfa_counters_here(): cleared before marked. */
		if (smp_load_acquire(&cc->epoch) != e)
			continue;	/* nothing since the reset */
		vfa_sum(&c->forks, &f->forks);
		vfa_sum(&c->vforks, &f->vforks);
		vfa_sum(&c->vm_clones, &f->vm_clones);
		vfa_sum(&c->threads, &f->threads);
		vfa_sum(&c->would_fail, &f->would_fail);
		vfa_sum(&c->would_fail_exec, &f->would_fail_exec);
		vfa_sum(&c->would_fail_exit, &f->would_fail_exit);
		vfa_sum(&c->exec_after_fork, &f->exec_after_fork);
		vfa_sum(&c->exit_without_exec, &f->exit_without_exec);
		vfa_sum(&c->charged_kb, &f->charged_kb);
		vfa_top(&c->min_safe_limit_kb, &f->min_safe_limit_kb);
		vfa_sum(&c->untracked, &f->untracked);
		vfa_sum(&c->refused, &f->refused);
		vfa_sum(&c->lock_misses, &f->lock_misses);
		vfa_sum(&c->walk_misses, &f->walk_misses);
		vfa_sum(&c->probe_ns, &f->probe_ns);
		vfa_top(&c->probe_max_ns, &f->probe_max_ns);
		vfa_sum(&c->walk_ns, &f->walk_ns);
		vfa_sum(&c->noreserve_walks, &f->noreserve_walks);
	}
	c->probe_ns = vfa_ticks_ns(c->probe_ns);
	c->probe_max_ns = vfa_ticks_ns(c->probe_max_ns);
	c->walk_ns = vfa_ticks_ns(c->walk_ns);
	c->logged = atomic64_read(&next_seq) - READ_ONCE(log_base);
}

void vfa_ledger_times(time64_t *load, time64_t *reset)
{
	*load = load_time;
	*reset = READ_ONCE(reset_time);
}

/*
 * Copies the record numbered *@seq (counted from the reset), or the
 * oldest one still in the ring if that was overwritten (*@seq moves
 * forward).  False past the newest, or at a record still being written.
 */
bool vfa_ledger_read(u64 *seq, struct vfa_record *rec)
{
	u64 base = READ_ONCE(log_base);
	u64 want = *seq + base, next, got;
	struct vfa_slot *s;

	for (;;) {
		next = atomic64_read(&next_seq);
		want = max3(want, base, next > log_size ? next - log_size : 0);
		if (want >= next)
			return false;
		s = &ring[want % log_size];
		raw_spin_lock(&s->lock);
		got = s->rec.seq;
		if (got == want)
			*rec = s->rec;
		raw_spin_unlock(&s->lock);
		if (got == want)
			break;
		if (got == U64_MAX || got < want)
			return false;	/* claimed, not written yet */
		/* overwritten meanwhile: on to the oldest */
	}
	*seq = want - base;
	rec->seq = *seq;
	return true;
}

int vfa_ledger_init(void)
{
	unsigned int i, nstripes, slots;

	ring = vmalloc_array(log_size, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (i = 0; i < log_size; i++) {
		raw_spin_lock_init(&ring[i].lock);
		ring[i].rec.seq = U64_MAX;
	}

	load_time = ktime_get_real_seconds();
	reset_time = load_time;
	vfa_ticks_hw = vfa_counter_khz() != 0;
	/*
	 * Small tables are one stripe holding exactly track_size; larger
	 * ones are split, each stripe holding its share and a quarter more,
	 * so that an uneven hash does not leave children untracked early.
	 */
	nstripes = clamp(track_size / VFA_STRIPE_SHARE, 1U, VFA_STRIPES_MAX);
	nstripes = rounddown_pow_of_two(nstripes);
	stripe_bits = ilog2(nstripes);
	stripe_max = track_size / nstripes;
	if (nstripes > 1)
		stripe_max += stripe_max / 4;
	/* At most about two thirds full, so probe runs stay short. */
	slots = roundup_pow_of_two(stripe_max + stripe_max / 2);
	slot_bits = ilog2(slots);
	stripes = kcalloc(nstripes, sizeof(*stripes), GFP_KERNEL);
	if (!stripes)
		goto err;
	for (i = 0; i < nstripes; i++) {
		raw_spin_lock_init(&stripes[i].lock);
		stripes[i].slots = vzalloc(array_size(slots,
						      sizeof(struct vfa_track)));
		if (!stripes[i].slots)
			goto err;
	}
	return 0;
err:
	vfa_ledger_exit();
	return -ENOMEM;
}

void vfa_ledger_exit(void)
{
	unsigned int i;

	if (stripes)
		for (i = 0; i < (1U << stripe_bits); i++)
			vfree(stripes[i].slots);
	kfree(stripes);
	stripes = NULL;
	vfree(ring);
	ring = NULL;
}
