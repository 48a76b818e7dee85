// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: /proc/vforkacct/, the module's whole user interface.
 *
 * summary (0444) counters; forks (0400) the log; tasks (0400) what a fork
 * of each process would cost now; programs (0400) which programs' commit
 * requests strict mode would refuse; control (0200) "reset".  forks and
 * tasks name every process and its memory, and control clears what the
 * whole system counted: mode bits alone would let root in a container
 * without a user namespace (it keeps CAP_DAC_OVERRIDE) read the host's
 * processes, so opening them also takes, as perf does, CAP_PERFMON or
 * CAP_SYS_ADMIN in the initial user namespace.  A reader in a child pid
 * namespace sees only that namespace's processes, numbered as it numbers
 * them, and cannot reset.  Readers copy one record at a time out of the
 * ledger, so a slow reader never holds up forks; tasks walks other
 * processes' mms from process context only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mutex.h>
#include <linux/jiffies.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "vforkacct.h"

static struct proc_dir_entry *vfa_dir;

/* Checked at open, on the opener's credentials (capable() is current's). */
static int vfa_may_open(void)
{
	return perfmon_capable() ? 0 : -EPERM;
}

u64 vfa_pid_ns_birth(struct pid_namespace *ns)
{
	struct task_struct *reaper = READ_ONCE(ns->child_reaper);

	/* A thread of init can become the reaper: its leader stays. */
	return reaper ? reaper->group_leader->start_time : 0;
}

/* As /proc/self/mountinfo: blanks, backslash and unprintables as \ooo. */
static void vfa_seq_comm(struct seq_file *m, const char *s)
{
	if (!*s) {
		seq_putc(m, '-');
		return;
	}
	for (; *s; s++) {
		unsigned char c = *s;

		if (c <= ' ' || c == '\\' || c >= 0x7f)
			seq_printf(m, "\\%03o", c);
		else
			seq_putc(m, c);
	}
}

/* ---- summary ---- */

static void vfa_kb(struct seq_file *m, const char *name, long long kb)
{
	seq_printf(m, "%-18s %12lld kB\n", name, kb);
}

static void vfa_num(struct seq_file *m, const char *name, u64 v)
{
	seq_printf(m, "%-18s %12llu\n", name, v);
}

/*
 * The tgids of the user processes that @ns can see (all, for NULL),
 * referenced, in a kvmalloc'd array of *@n; NULL when out of memory.
 * There is room for 64 processes born between the count and the walk;
 * any more are left out.
 */
struct pid **vfa_collect_pids(struct pid_namespace *ns, unsigned int *n)
{
	struct task_struct *p;
	struct pid **pids;
	unsigned int cap = 64;

	rcu_read_lock();
	for_each_process(p)
		cap++;
	rcu_read_unlock();
	pids = kvmalloc_array(cap, sizeof(*pids), GFP_KERNEL);
	if (!pids)
		return NULL;
	*n = 0;
	rcu_read_lock();
	for_each_process(p) {
		/* Each may be exiting: its flags and pid change under us. */
		if (READ_ONCE(p->flags) & VFA_NOT_USER)
			continue;
		/*
		 * Outside the reader's pid namespace: not its business.
		 * (pid_alive()'s plain read races with release_task(), a
		 * benign race: see vfa_tasks_show().)
		 */
		if (ns && !data_race(task_tgid_nr_ns(p, ns)))
			continue;
		if (*n == cap)
			break;
		pids[*n] = get_task_pid(p, PIDTYPE_TGID);
		if (pids[*n])
			(*n)++;
	}
	rcu_read_unlock();
	return pids;
}

/*
 * Private writable MAP_NORESERVE memory of every process: what mode 2
 * would add to the commit.  A walk of every mm, so summary readers (anyone)
 * get a figure at most a second old rather than a walk each.
 */
static DEFINE_MUTEX(vfa_noreserve_mutex);
static unsigned long vfa_noreserve_pages;
static unsigned long vfa_noreserve_stamp;	/* jiffies + 1; 0: never */

static unsigned long vfa_noreserve_walk(void)
{
	struct task_struct *task;
	struct pid **pids;
	unsigned long total = 0;
	unsigned int n, i;

	pids = vfa_collect_pids(NULL, &n);
	if (!pids)
		return 0;
	for (i = 0; i < n; i++) {
		struct mm_struct *mm = NULL;
		struct vfa_charge c;

		task = get_pid_task(pids[i], PIDTYPE_TGID);
		/* A vfork child shares its parent's mm: count that once. */
		if (task && !READ_ONCE(task->vfork_done))
			mm = get_task_mm(task);
		if (task)
			put_task_struct(task);
		if (mm && !mmap_read_lock_killable(mm)) {
			vfa_charge_walk(mm, &c);
			mmap_read_unlock(mm);
			total += c.noreserve_pages;
		}
		if (mm)
			mmput(mm);
		put_pid(pids[i]);
		cond_resched();
	}
	kvfree(pids);
	return total;
}

static unsigned long vfa_noreserve_kb(void)
{
	unsigned long pages;

	mutex_lock(&vfa_noreserve_mutex);
	if (!vfa_noreserve_stamp ||
	    time_after(jiffies, vfa_noreserve_stamp - 1 + HZ)) {
		vfa_noreserve_pages = vfa_noreserve_walk();
		vfa_noreserve_stamp = jiffies + 1;
	}
	pages = vfa_noreserve_pages;
	mutex_unlock(&vfa_noreserve_mutex);
	return pages * (PAGE_SIZE / 1024);
}

static int vfa_summary_show(struct seq_file *m, void *v)
{
	time64_t load_time, reset_time;
	struct vfa_commit_stats cs;
	struct vfa_counters c;
	bool estimated;
	long limit = vfa_limit_kb(&estimated);

	vfa_ledger_counters(&c);
	vfa_commit_stats(&cs);
	vfa_kb(m, "limit:", limit);
	seq_printf(m, "%-18s %12s\n", "limit_source:",
		   estimated ? "estimate" : "param");
	vfa_kb(m, "admin_reserve:", vfa_admin_reserve_kb());
	vfa_kb(m, "user_reserve:", vfa_user_reserve_kb());
	vfa_kb(m, "committed:", vfa_committed_pages() * (PAGE_SIZE / 1024));
	vfa_num(m, "forks:", c.forks);
	vfa_num(m, "vforks:", c.vforks);
	vfa_num(m, "vm_clones:", c.vm_clones);
	vfa_num(m, "threads:", c.threads);
	vfa_num(m, "would_fail:", c.would_fail);
	vfa_num(m, "would_fail_exec:", c.would_fail_exec);
	vfa_num(m, "would_fail_exit:", c.would_fail_exit);
	vfa_num(m, "exec_after_fork:", c.exec_after_fork);
	vfa_num(m, "exit_without_exec:", c.exit_without_exec);
	vfa_kb(m, "charged:", c.charged_kb);
	vfa_kb(m, "min_safe_limit:", c.min_safe_limit_kb);
	vfa_num(m, "log_size:", vfa_log_size());
	vfa_num(m, "logged:", c.logged);
	vfa_num(m, "untracked:", c.untracked);
	vfa_num(m, "lock_misses:", c.lock_misses);
	vfa_num(m, "walk_misses:", c.walk_misses);
	vfa_num(m, "probe_ns:", c.probe_ns);
	vfa_num(m, "probe_max_ns:", c.probe_max_ns);
	vfa_num(m, "walk_ns:", c.walk_ns);
	vfa_num(m, "walk_atomic:", cs.walks_atomic);
	vfa_num(m, "refused:", c.refused);
	/* A fork is one request: the kernel's per-VMA ones are its parts. */
	vfa_num(m, "commits:", cs.commits + c.forks);
	vfa_num(m, "commits_would_fail:", cs.would_fail + c.would_fail);
	vfa_kb(m, "min_safe_limit_all:",
	       max(cs.min_safe_kb, c.min_safe_limit_kb));
	vfa_num(m, "commit_misses:", cs.misses);
	vfa_kb(m, "noreserve:", vfa_noreserve_kb());
	vfa_num(m, "noreserve_walks:", c.noreserve_walks);
	seq_printf(m, "%-18s %12ld\n", "noreserve_mms:", vfa_noreserve_mms());
	vfa_ledger_times(&load_time, &reset_time);
	seq_printf(m, "%-18s %12lld\n", "load_time:", (long long)load_time);
	seq_printf(m, "%-18s %12lld\n", "reset_time:", (long long)reset_time);
	return 0;
}

/* ---- forks: *pos is 0 for the header, else seq + 1 ---- */

struct vfa_forks_iter {
	u64 seq;
	struct vfa_record rec;
	/* The reader's pid namespace; inum 0: the initial one, sees all. */
	u32 ns_inum;
	u64 ns_birth;
};

static void *vfa_forks_start(struct seq_file *m, loff_t *pos)
{
	struct vfa_forks_iter *it = m->private;

	if (!*pos)
		return SEQ_START_TOKEN;
	it->seq = *pos - 1;
	if (!vfa_ledger_read(&it->seq, &it->rec))
		return NULL;
	*pos = it->seq + 1;	/* skips records overwritten meanwhile */
	return it;
}

static void *vfa_forks_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return vfa_forks_start(m, pos);
}

static void vfa_forks_stop(struct seq_file *m, void *v)
{
}

static int vfa_forks_show(struct seq_file *m, void *v)
{
	const struct vfa_forks_iter *it = m->private;
	const struct vfa_record *r;
	pid_t ppid, pid;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "seq time_ns ppid pid comm kind charge_kB committed_kB allowed_kB verdict outcome life_us faults exec_comm uid cgroup_id noreserve_kB mode2_charge_kB\n");
		return 0;
	}
	r = &it->rec;
	ppid = r->ppid;
	pid = r->pid;
	if (it->ns_inum) {
		if (r->ns_inum != it->ns_inum || r->ns_birth != it->ns_birth)
			return SEQ_SKIP;
		ppid = r->ns_ppid;
		pid = r->ns_pid;
	}
	seq_printf(m, "%llu %llu %d ", r->seq, r->time_ns, ppid);
	if (r->outcome == VFA_REFUSED)
		seq_puts(m, "- ");	/* there is no child */
	else
		seq_printf(m, "%d ", pid);
	vfa_seq_comm(m, r->comm);
	seq_printf(m, " %s ", vfa_kind_name(r->kind));
	if (r->charge_kb < 0)
		seq_puts(m, "-");
	else
		seq_printf(m, "%ld", r->charge_kb);
	seq_printf(m, " %ld %ld %s %s ", r->committed_kb, r->allowed_kb,
		   vfa_verdict_name(r->verdict),
		   vfa_outcome_name(r->outcome));
	if (r->outcome == VFA_RUNNING || r->outcome == VFA_REFUSED)
		seq_puts(m, "- - ");
	else
		seq_printf(m, "%llu %llu ", r->life_us, r->faults);
	vfa_seq_comm(m, r->exec_comm);
	seq_printf(m, " %u %llu ", r->uid, r->cgroup_id);
	if (r->charge_kb < 0 || r->noreserve_kb < 0)
		seq_puts(m, "- -\n");
	else
		seq_printf(m, "%ld %ld\n", r->noreserve_kb,
			   r->charge_kb + r->noreserve_kb);
	return 0;
}

static const struct seq_operations vfa_forks_ops = {
	.start = vfa_forks_start,
	.next = vfa_forks_next,
	.stop = vfa_forks_stop,
	.show = vfa_forks_show,
};

static int vfa_forks_open(struct inode *inode, struct file *file)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct vfa_forks_iter *it;
	int ret = vfa_may_open();

	if (ret)
		return ret;
	it = __seq_open_private(file, &vfa_forks_ops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	if (ns != &init_pid_ns) {
		it->ns_inum = ns->ns.inum;
		rcu_read_lock();
		it->ns_birth = vfa_pid_ns_birth(ns);
		rcu_read_unlock();
	}
	return 0;
}

static const struct proc_ops vfa_forks_fops = {
	.proc_open = vfa_forks_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = seq_release_private,
};

/* ---- tasks: a snapshot of pids at open, each walked at show ---- */

struct vfa_tasks {
	struct pid_namespace *ns;	/* the reader's: whose pids it shows */
	unsigned int n;
	struct pid **pids;
};

static void *vfa_tasks_start(struct seq_file *m, loff_t *pos)
{
	struct vfa_tasks *t = m->private;

	if (!*pos)
		return SEQ_START_TOKEN;
	return *pos <= t->n ? &t->pids[*pos - 1] : NULL;
}

static void *vfa_tasks_next(struct seq_file *m, void *v, loff_t *pos)
{
	/* One mm walk per line: let others run on a huge process list. */
	cond_resched();
	++*pos;
	return vfa_tasks_start(m, pos);
}

static int vfa_tasks_show(struct seq_file *m, void *v)
{
	char comm[TASK_COMM_LEN];
	struct vfa_tasks *t = m->private;
	struct task_struct *task;
	pid_t pid, ppid;
	struct vfa_judgement j;
	unsigned long total_vm;
	struct vfa_charge c;
	struct mm_struct *mm;
	const struct cred *cred;
	bool admin;
	int ret = 0;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "pid ppid comm committed_kB fork_charge_kB fork_now noreserve_kB mode2_committed_kB mode2_fork_charge_kB\n");
		return 0;
	}
	task = get_pid_task(*(struct pid **)v, PIDTYPE_TGID);
	if (!task)
		return 0;	/* exited since open */
	mm = get_task_mm(task);
	if (!mm)
		goto put_task;
	ret = mmap_read_lock_killable(mm);
	if (ret)
		goto put_mm;
	vfa_charge_walk(mm, &c);
	/* Stack growth raises it under the read lock too. */
	total_vm = READ_ONCE(mm->total_vm);
	mmap_read_unlock(mm);

	cred = get_task_cred(task);
	admin = vfa_has_sys_admin(cred);
	put_cred(cred);
	/* As mode 2 would: its MAP_NORESERVE memory committed, and copied. */
	vfa_judge(admin, total_vm, c.fork_pages + c.noreserve_fork_pages,
		  vfa_committed_pages() + c.noreserve_pages + c.fork_pages +
		  c.noreserve_fork_pages, &j);

	/*
	 * 0: it exited since open and its pid is gone; say nothing of it.
	 * Both helpers test pid_alive() with a plain read of thread_pid,
	 * which release_task() clears meanwhile (KCSAN saw it): benign, as
	 * in the kernel's own /proc/PID/status, since what they then follow
	 * is RCU-protected and a stale answer only shows a dying process.
	 */
	pid = data_race(task_tgid_nr_ns(task, t->ns));
	if (!pid)
		goto put_mm;
	/* The same benign race, for it and for its parent. */
	ppid = data_race(task_ppid_nr_ns(task, t->ns));
	get_task_comm(comm, task);
	seq_printf(m, "%d %d ", pid, ppid);
	vfa_seq_comm(m, comm);
	seq_printf(m, " %lu %lu %s %lu %lu %lu\n",
		   c.acct_pages * (PAGE_SIZE / 1024),
		   c.fork_pages * (PAGE_SIZE / 1024),
		   vfa_verdict_name(j.verdict),
		   c.noreserve_pages * (PAGE_SIZE / 1024),
		   (c.acct_pages + c.noreserve_pages) * (PAGE_SIZE / 1024),
		   (c.fork_pages + c.noreserve_fork_pages) * (PAGE_SIZE / 1024));
put_mm:
	mmput(mm);
put_task:
	put_task_struct(task);
	return ret;
}

static const struct seq_operations vfa_tasks_ops = {
	.start = vfa_tasks_start,
	.next = vfa_tasks_next,
	.stop = vfa_forks_stop,
	.show = vfa_tasks_show,
};

static void vfa_tasks_free(struct vfa_tasks *t)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		put_pid(t->pids[i]);
	kvfree(t->pids);
	put_pid_ns(t->ns);
	kfree(t);
}

static int vfa_tasks_open(struct inode *inode, struct file *file)
{
	struct vfa_tasks *t;
	int ret = vfa_may_open();

	if (ret)
		return ret;
	t = kmalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->ns = get_pid_ns(task_active_pid_ns(current));
	t->pids = vfa_collect_pids(t->ns, &t->n);
	if (!t->pids) {
		put_pid_ns(t->ns);
		kfree(t);
		return -ENOMEM;
	}

	ret = seq_open(file, &vfa_tasks_ops);
	if (ret) {
		vfa_tasks_free(t);
		return ret;
	}
	((struct seq_file *)file->private_data)->private = t;
	return 0;
}

static int vfa_tasks_release(struct inode *inode, struct file *file)
{
	vfa_tasks_free(((struct seq_file *)file->private_data)->private);
	return seq_release(inode, file);
}

static const struct proc_ops vfa_tasks_fops = {
	.proc_open = vfa_tasks_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = vfa_tasks_release,
};

/* ---- programs: each CPU's table, merged by program at open ---- */

struct vfa_programs {
	unsigned int n, cap;
	struct vfa_program p[];
};

static void vfa_programs_add(const struct vfa_program *p, void *arg)
{
	struct vfa_programs *t = arg;
	unsigned int i;

	for (i = 0; i < t->n; i++) {
		struct vfa_program *q = &t->p[i];

		if (q->uid == p->uid && !strncmp(q->comm, p->comm,
						 TASK_COMM_LEN)) {
			q->count += p->count;
			q->largest_kb = max(q->largest_kb, p->largest_kb);
			q->min_safe_kb = max(q->min_safe_kb, p->min_safe_kb);
			return;
		}
	}
	if (t->n < t->cap)
		t->p[t->n++] = *p;
}

static int vfa_programs_show(struct seq_file *m, void *v)
{
	struct vfa_programs *t;
	unsigned int i;

	seq_puts(m, "comm uid would_fail largest_kB min_safe_kB\n");
	/* Programs are not namespaced: only the initial namespace sees them. */
	if (task_active_pid_ns(current) != &init_pid_ns)
		return 0;
	t = kvmalloc(struct_size(t, p, VFA_PROGRAMS * num_possible_cpus()),
		     GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->n = 0;
	t->cap = VFA_PROGRAMS * num_possible_cpus();
	vfa_commit_programs(vfa_programs_add, t);
	for (i = 0; i < t->n; i++) {
		vfa_seq_comm(m, t->p[i].comm);
		seq_printf(m, " %u %llu %llu %llu\n", t->p[i].uid,
			   t->p[i].count, t->p[i].largest_kb,
			   t->p[i].min_safe_kb);
	}
	kvfree(t);
	return 0;
}

static int vfa_programs_open(struct inode *inode, struct file *file)
{
	int ret = vfa_may_open();

	return ret ? ret : single_open(file, vfa_programs_show, NULL);
}

static const struct proc_ops vfa_programs_fops = {
	.proc_open = vfa_programs_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

/* ---- control ---- */

static ssize_t vfa_control_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *off)
{
	char buf[8];

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	/* sysfs_streq: "reset" with or without echo's newline. */
	if (!sysfs_streq(buf, "reset"))
		return -EINVAL;
	/* The counters are the whole system's: not a container's to clear. */
	if (task_active_pid_ns(current) != &init_pid_ns)
		return -EPERM;
	vfa_ledger_reset();
	vfa_commit_reset();
	return len;
}

static int vfa_control_open(struct inode *inode, struct file *file)
{
	return vfa_may_open();
}

static const struct proc_ops vfa_control_fops = {
	.proc_open = vfa_control_open,
	.proc_write = vfa_control_write,
	.proc_lseek = noop_llseek,
};

int vfa_procfs_init(void)
{
	vfa_dir = proc_mkdir("vforkacct", NULL);
	if (!vfa_dir)
		return -ENOMEM;
	if (!proc_create_single("summary", 0444, vfa_dir, vfa_summary_show) ||
	    !proc_create("forks", 0400, vfa_dir, &vfa_forks_fops) ||
	    !proc_create("tasks", 0400, vfa_dir, &vfa_tasks_fops) ||
	    !proc_create("programs", 0400, vfa_dir, &vfa_programs_fops) ||
	    !proc_create("control", 0200, vfa_dir, &vfa_control_fops)) {
		proc_remove(vfa_dir);
		return -ENOMEM;
	}
	return 0;
}

void vfa_procfs_exit(void)
{
	/* Waits for readers inside our code; later reads get EIO. */
	proc_remove(vfa_dir);
}
