# SPDX-License-Identifier: GPL-2.0
"""`vforkacct export`: the module's numbers in the Prometheus text format
for node_exporter's textfile collector, in base units (bytes, seconds).

The counters and gauges of the summary are readable by anyone.  Series
per systemd unit (or cgroup) come from the root-only fork log and are
gauges over the records the log holds now (a ring: they are a window, not
counters), bounded to the top N plus `other`."""

import os
import sys
import tempfile

from .args import cgroup_map_opt, input_opts, number
from .attrib import Attribution
from .common import EXIT_OK, PROG, CliError, proc_path
from .parse import (captured, forks_path, live_forks_unreadable,
                    load_summary, open_forks)
from .stats import Group, aggregate, label_groups, min_safe, numbers_for

DEFAULT_TOP = 10

# summary key, metric, type, help, scale (see scaled()).
SUMMARY_METRICS = [
    ("limit_kb", "limit_bytes", "gauge",
     "The CommitLimit the module judges forks against.", 1024),
    ("admin_reserve_kb", "admin_reserve_bytes", "gauge",
     "The admin reserve the model applies (vm.admin_reserve_kbytes).", 1024),
    ("user_reserve_kb", "user_reserve_bytes", "gauge",
     "The user reserve the model applies (vm.user_reserve_kbytes).", 1024),
    ("committed_kb", "committed_bytes", "gauge",
     "The system's committed address space now (Committed_AS).", 1024),
    ("min_safe_limit_kb", "min_safe_limit_bytes", "gauge",
     "The smallest CommitLimit under which no fork seen would have failed "
     "(0: none charged yet).", 1024),
    ("min_safe_limit_all_kb", "min_safe_limit_all_bytes", "gauge",
     "The smallest CommitLimit under which no commit seen, fork or not, "
     "would have failed.", 1024),
    ("forks", "forks_total", "counter",
     "Clones without CLONE_VM (fork, clone, clone3).", 1),
    ("vforks", "vforks_total", "counter",
     "Clones with CLONE_VM|CLONE_VFORK (vfork, posix_spawn).", 1),
    ("vm_clones", "vm_clones_total", "counter",
     "Clones with CLONE_VM and without CLONE_VFORK, not threads.", 1),
    ("threads", "threads_total", "counter",
     "Threads created (counted, never judged).", 1),
    ("would_fail", "would_fail_total", "counter",
     "Forks strict overcommit would have refused.", 1),
    ("would_fail_exec", "would_fail_exec_total", "counter",
     "Forks strict overcommit would have refused whose child then exec'd.", 1),
    ("would_fail_exit", "would_fail_exit_total", "counter",
     "Forks strict overcommit would have refused whose child exited "
     "without exec.", 1),
    ("exec_after_fork", "exec_after_fork_total", "counter",
     "Fork children that exec'd.", 1),
    ("exit_without_exec", "exit_without_exec_total", "counter",
     "Fork children that exited without exec.", 1),
    ("charged_kb", "charged_bytes_total", "counter",
     "Commit charged to fork children.", 1024),
    ("refused", "refused_total", "counter",
     "Forks the kernel refused for lack of commit.", 1),
    ("commits", "commits_total", "counter",
     "Commit requests judged (any kind).", 1),
    ("commits_would_fail", "commits_would_fail_total", "counter",
     "Commit requests strict overcommit would have refused.", 1),
    ("log_size", "log_size", "gauge",
     "Capacity of the fork log, in records.", 1),
    ("logged", "logged_total", "counter",
     "Records ever written to the fork log.", 1),
    ("untracked", "untracked_total", "counter",
     "Fork children whose outcome could not be followed.", 1),
    ("lock_misses", "lock_misses_total", "counter",
     "Forks whose charge could not be read (mmap lock busy).", 1),
    ("walk_misses", "walk_misses_total", "counter",
     "Forks whose charge was not read (not followed, too many VMAs).", 1),
    ("probe_ns", "probe_seconds_total", "counter",
     "Time spent in the module's probes.", "ns"),
    ("probe_max_ns", "probe_max_seconds", "gauge",
     "The longest time spent in one probe.", "ns"),
    ("load_time", "load_time_seconds", "gauge",
     "When the module was loaded, in seconds since the epoch.", 1),
    ("reset_time", "reset_time_seconds", "gauge",
     "When the counters were last reset (the load time until the first "
     "reset), in seconds since the epoch.", 1),
]

# Per unit/cgroup: attribute of the group dict, metric suffix, help, scale.
GROUP_METRICS = [
    ("forks", "forks", "Forks (charged clones) by processes of this %s "
     "among the records now in the fork log.", 1),
    ("vforks", "vforks", "vforks and other CLONE_VM clones by processes of "
     "this %s among the records now in the fork log.", 1),
    ("would_fail", "would_fail", "Forks by processes of this %s that strict "
     "overcommit would have refused, among the records now in the fork log.", 1),
    ("would_fail_exec", "would_fail_exec", "Would-fail forks by processes of "
     "this %s whose child then exec'd, among the records now in the log.", 1),
    ("charged_kb", "charged_bytes", "Commit charged to fork children of "
     "this %s, over the records now in the fork log.", 1024),
    ("min_safe_limit_kb", "min_safe_limit_bytes", "The smallest CommitLimit "
     "under which no fork of this %s in the fork log would have failed.", 1024),
]


def add_parser(sub):
    sp = sub.add_parser(
        "export", help="metrics for Prometheus (node_exporter textfile "
        "collector)",
        description="The module's numbers in the Prometheus text format, in "
        "base units (bytes, seconds), with HELP and TYPE lines: the "
        "summary's counters and gauges (the limit, min_safe_limit, load and "
        "reset time: anyone can read them), and, from the root-only fork "
        "log, gauges per systemd unit (or cgroup) over the records the log "
        "holds now: the top N units by would-fail then forks, the rest "
        "summed as `other`.\n\n"
        "With --out FILE the text is written to a temporary file in the "
        "same directory and renamed, so a scrape never sees half a file; "
        "point node_exporter's --collector.textfile.directory at that "
        "directory and name the file *.prom.  Without root the per-unit "
        "series are left out (said on stderr, exit 0).",
        epilog="Example (a systemd timer or cron, every minute):\n"
        "    vforkacct export --out /var/lib/prometheus/node-exporter/"
        "vforkacct.prom")
    sp.add_argument("--out", metavar="FILE",
                    help="write FILE atomically (default: standard output)")
    sp.add_argument("--top", type=number(0, 10000, "--top"),
                    default=DEFAULT_TOP, metavar="N",
                    help="series for the N units (cgroups) with most "
                    "would-fail forks, then most forks; the rest as `other` "
                    "(default %d)" % DEFAULT_TOP)
    sp.add_argument("--by", choices=("unit", "cgroup"), default="unit",
                    help="label the per-group series by systemd unit or "
                    "cgroup path (default unit)")
    input_opts(sp)
    cgroup_map_opt(sp)
    sp.set_defaults(func=run)


def escape_label(v):
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(v):
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def number_text(v):
    if isinstance(v, float):
        return repr(v)
    return "%d" % v


class Text:
    """Metric families in the text exposition format."""

    def __init__(self):
        self.lines = []

    def family(self, name, mtype, help_, samples):
        """samples: [(labels dict or None, value)]"""
        if not samples:
            return
        self.lines.append("# HELP %s %s" % (name, escape_help(help_)))
        self.lines.append("# TYPE %s %s" % (name, mtype))
        for labels, v in samples:
            lab = ""
            if labels:
                lab = "{%s}" % ",".join('%s="%s"' % (k, escape_label(x))
                                        for k, x in labels.items())
            self.lines.append("%s%s %s" % (name, lab, number_text(v)))

    def text(self):
        return "\n".join(self.lines) + "\n"


def scaled(v, scale):
    """kB to bytes (scale 1024), ns to seconds (scale "ns"), or as is."""
    if scale == "ns":
        return v / 1e9
    return v * scale


def summary_metrics(t, summary):
    for key, name, mtype, help_, scale in SUMMARY_METRICS:
        v = summary.get(key)
        if isinstance(v, int):
            t.family("vforkacct_" + name, mtype, help_, [(None, scaled(v, scale))])
        if key == "limit_kb" and "limit_source" in summary:
            t.family("vforkacct_limit_estimated", "gauge",
                     "1 when the limit is the module's estimate (50% of RAM), "
                     "0 when set by parameter.",
                     [(None, int(summary["limit_source"] == "estimate"))])


def top_groups(labelled, top, limit_kb):
    """[(label, values dict)] of the top groups, then `other`."""
    rows = []
    for lab, g in labelled.items():
        rows.append((lab, g))
    rows.sort(key=lambda lg: (-lg[1].would_fail, -lg[1].forks,
                              -lg[1].vforks - lg[1].vm_clones, lg[0]))
    out = []
    rest = Group()
    for i, (lab, g) in enumerate(rows):
        if i < top:
            out.append((lab, g))
        else:
            rest.merge(g)
    if len(rows) > top:
        out.append(("other", rest))

    def values(g):
        return {"forks": g.forks, "vforks": g.vforks + g.vm_clones,
                "would_fail": g.would_fail,
                "would_fail_exec": g.would_fail_exec,
                "charged_kb": g.charged,
                "min_safe_limit_kb": min_safe(g.excess, limit_kb)}
    return [(lab, values(g)) for lab, g in out]


def group_metrics(t, by, groups, log, limit_kb, top, attribution):
    t.family("vforkacct_log_records", "gauge",
             "Records now in the fork log (the window the per-%s series "
             "count over)." % by, [(None, log.records)])
    rows = top_groups(label_groups(groups, by, attribution), top, limit_kb)
    for attr, suffix, help_, scale in GROUP_METRICS:
        samples = [({by: lab}, scaled(v[attr], scale)) for lab, v in rows
                   if v[attr] is not None]
        t.family("vforkacct_%s_%s" % (by, suffix), "gauge", help_ % by, samples)


def write_atomic(path, text):
    """Writes path through a temporary file in the same directory, renamed
    over it: a reader sees the old file or the new one, never half."""
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise CliError("cannot write %s: no directory %s" % (path, d))
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".%s." % os.path.basename(path),
                                   suffix=".tmp")
    except OSError as e:
        raise CliError("cannot write in %s: %s" % (d, e.strerror or e))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CliError("cannot write %s: %s" % (path, e.strerror or e))


def run(args):
    summary = load_summary(args)
    if summary is None:
        raise CliError("export needs the summary: give --summary FILE with "
                       "--forks FILE")
    t = Text()
    summary_metrics(t, summary)
    path = forks_path(args)
    if path is not None and not captured(args) and live_forks_unreadable(args):
        sys.stderr.write("%s: the per-%s series need the root-only %s: "
                         "exported the summary's metrics only\n"
                         % (PROG, args.by, proc_path("vforkacct", "forks")))
        path = None
    if path is not None:
        with open_forks(path, numbers_for(args.by)) as reader:
            groups, log = aggregate(reader, args.by)
        group_metrics(t, args.by, groups, log, summary["limit_kb"], args.top,
                      Attribution(args.cgroup_map))
    text = t.text()
    if args.out is None or args.out == "-":
        sys.stdout.write(text)
    else:
        write_atomic(args.out, text)
    return EXIT_OK
