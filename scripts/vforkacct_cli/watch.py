# SPDX-License-Identifier: GPL-2.0
"""`vforkacct watch`: one line per fork as it happens, like execsnoop.

Two sources, one format and the same flags: by default the fork log is
polled every --interval seconds; with --trace, bpftrace follows the
module's trace events (run as a child process, its output reformatted).
A fork is printed once, when its child's outcome is known (exec, exit),
or as `running` after --hold seconds, when the record leaves the log, or
when watch stops.  Gaps in `seq` the log cannot fill any more are said as
`lost N records`."""

import csv
import json
import os
import selectors
import signal
import subprocess
import sys
import time

from .args import cgroup_map_opt, kb_opt, number, positive_float, prompt_opt
from .attrib import Attribution
from .common import (EXIT_OK, EXIT_USAGE, PROG, CliError, need_module,
                     need_root, open_text, proc_path)
from .fmt import hkb, hus, set_exact_kb
from .parse import (ALLOWED, CGROUP, CHARGE, COMM, COMMITTED, EXEC,
                    FAULTS, KIND, LIFE, OUTCOME, PID, PPID, SEQ, TIME, UID,
                    VERDICT, ForksReader, escape_comm, parse_summary,
                    unescape_comm)

DEFAULT_HOLD = 5.0

# The bpftrace program of --trace: one line per event, numbers first and
# the comm last (it may hold blanks).  READY comes from an interval probe,
# which fires only once the probes are attached.
BPFTRACE_PROGRAM = r"""
interval:ms:100 /@vfa_ready == 0/ { @vfa_ready = 1; printf("READY\n"); }
tracepoint:vforkacct:vforkacct_fork
{
	printf("F %llu %llu %d %d %ld %ld %ld %u %llu %s %s %s\n", args->seq,
	       args->time_ns, args->ppid, args->pid, args->charge_kb, args->committed_kb,
	       args->allowed_kb, args->uid, args->cgroup_id, args->kind,
	       args->verdict, args->comm);
}
tracepoint:vforkacct:vforkacct_outcome
{
	printf("O %llu %d %llu %llu %s %s\n", args->seq, args->pid,
	       args->life_us, args->faults, args->outcome, args->exec_comm);
}
END { clear(@vfa_ready); }
"""

FIELDS = ["seq", "time", "time_ns", "ppid", "pid", "comm", "kind",
          "charge_kb", "committed_kb", "allowed_kb", "verdict", "outcome",
          "life_us", "faults", "exec_comm", "uid", "user", "cgroup_id",
          "cgroup", "unit", "spawn"]


def add_parser(sub):
    sp = sub.add_parser(
        "watch", help="one line per fork as it happens (like execsnoop)",
        description="One line per fork from now on (the log's backlog too "
        "with --backlog): time, seq, parent and child pid, parent comm, "
        "kind, charge, verdict, the child's outcome (exec, exit, or running "
        "after --hold seconds) and how soon, faults, the program exec'd, "
        "SPAWN? (YES: a would-fail fork whose child exec'd within "
        "--prompt-ms, as in `report`) and the systemd unit.  When the ring "
        "overwrote records before they were read, it says `lost N "
        "records`.\n\n"
        "By default it polls /proc/vforkacct/forks every --interval seconds; "
        "--trace follows the module's trace events with bpftrace instead "
        "(no record lost between polls).  Same lines, same flags, "
        "--interval and --count either way.  Needs root (the log is root "
        "only).  Ctrl-C stops.\n\n"
        "Times are the wall clock (HH:MM:SS.mmm); with --forks FILE, the "
        "boot-time clock of the records in seconds.")
    src = sp.add_mutually_exclusive_group()
    src.add_argument("--poll", action="store_true",
                     help="poll the log (the default)")
    src.add_argument("--trace", action="store_true",
                     help="follow the trace events with bpftrace")
    sp.add_argument("--forks", metavar="FILE",
                    help="poll this file instead of /proc/vforkacct/forks")
    sp.add_argument("--backlog", action="store_true",
                    help="first print the records already in the log")
    sp.add_argument("--interval", type=positive_float("interval"), default=1.0,
                    metavar="S", help="poll period in seconds (default 1)")
    sp.add_argument("--count", type=number(0, None, "--count"), default=0,
                    metavar="N", help="stop after N polls (N intervals with "
                    "--trace; default 0: never)")
    sp.add_argument("--hold", type=positive_float("hold"), default=DEFAULT_HOLD,
                    metavar="S", help="print a fork whose child still runs "
                    "after S seconds (default %g)" % DEFAULT_HOLD)
    sp.add_argument("-p", "--pid", type=number(0, None, "--pid"), metavar="PID",
                    help="only forks by process PID (the parent)")
    sp.add_argument("-c", "--comm", metavar="COMM",
                    help="only forks by processes named COMM (as in the log "
                    "or decoded)")
    sp.add_argument("--unit", metavar="UNIT",
                    help="only forks from systemd unit UNIT (as `report --by "
                    "unit` names it)")
    sp.add_argument("--cgroup", metavar="PATH",
                    help="only forks from cgroup PATH (under the cgroup2 "
                    "mount) or below it")
    sp.add_argument("-x", "--fail", dest="fail_only", action="store_true",
                    help="only forks that would fail under strict overcommit")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true",
                     help="one JSON object per line: %s; and {\"event\": "
                     "\"lost\", ...} / {\"event\": \"reset\"}"
                     % ", ".join(FIELDS))
    fmt.add_argument("--csv", action="store_true",
                     help="CSV with a header row (the JSON fields; lost "
                     "records are said on stderr)")
    prompt_opt(sp, "SPAWN? is YES when a would-fail fork's child exec'd "
               "within MS")
    cgroup_map_opt(sp)
    kb_opt(sp)
    sp.set_defaults(func=run)


# ------------------------------------------------------------ output

class Clock:
    """Boot-time nanoseconds (the records' clock) to wall-clock text; None
    when the records come from a file of unknown origin."""

    def __init__(self, live):
        self.offset = None
        if live:
            self.offset = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)

    def text(self, ns):
        if self.offset is None:
            return "%.6f" % (ns / 1e9)
        t = self.offset + ns / 1e9
        return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % (
            int(t * 1000) % 1000)

    def iso(self, ns):
        if self.offset is None:
            return None
        t = self.offset + ns / 1e9
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t)) + (
            ".%03d" % (int(t * 1000) % 1000)) + time.strftime(
                "%z", time.localtime(t))


class Output:
    """Writes fork lines and notices in the chosen format."""

    TEXT = "%-12s %6s %7s %7s %-16s %-7s %10s %-7s %-7s %9s %6s %-16s %-6s %s"

    def __init__(self, fmt, attribution, clock, prompt_ms, stream=None):
        self.fmt = fmt
        self.a = attribution
        self.clock = clock
        self.prompt_us = prompt_ms * 1000
        self.out = stream or sys.stdout
        self.csv = csv.writer(self.out, lineterminator="\n") if fmt == "csv" else None

    def header(self):
        if self.fmt == "text":
            self.line(self.TEXT % ("TIME", "SEQ", "PPID", "PID", "COMM", "KIND",
                                   "CHARGE", "VERDICT", "OUTCOME", "AFTER",
                                   "FAULTS", "EXEC", "SPAWN?", "UNIT"))
        elif self.fmt == "csv":
            self.csv.writerow(FIELDS)

    def line(self, s):
        self.out.write(s.rstrip() + "\n")

    def spawn(self, r):
        return (r[KIND] == "fork" and r[VERDICT] == "fail"
                and r[OUTCOME] == "exec" and r[LIFE] is not None
                and r[LIFE] < self.prompt_us)

    def record(self, r):
        if self.fmt == "text":
            d = "-" if r[OUTCOME] in ("running", "refused") else None
            self.line(self.TEXT % (
                self.clock.text(r[TIME]), r[SEQ], r[PPID],
                "-" if r[PID] is None else r[PID], r[COMM], r[KIND],
                hkb(r[CHARGE]), r[VERDICT], r[OUTCOME], d or hus(r[LIFE]),
                d or ("-" if r[FAULTS] is None else r[FAULTS]),
                r[EXEC] or "-", "YES" if self.spawn(r) else "",
                self.a.unit_label(r[CGROUP])))
            return
        d = {"seq": r[SEQ], "time": self.clock.iso(r[TIME]),
             "time_ns": r[TIME], "ppid": r[PPID], "pid": r[PID],
             "comm": unescape_comm(r[COMM]), "kind": r[KIND],
             "charge_kb": r[CHARGE], "committed_kb": r[COMMITTED],
             "allowed_kb": r[ALLOWED], "verdict": r[VERDICT],
             "outcome": r[OUTCOME], "life_us": r[LIFE], "faults": r[FAULTS],
             "exec_comm": None if r[EXEC] is None else unescape_comm(r[EXEC]),
             "uid": r[UID], "user": None if r[UID] is None else
             self.a.user_label(r[UID]),
             "cgroup_id": r[CGROUP],
             "cgroup": self.a.cgroup_path(r[CGROUP]),
             "unit": None if not r[CGROUP] else self.a.unit_label(r[CGROUP]),
             "spawn": self.spawn(r)}
        if self.fmt == "json":
            self.line(json.dumps(dict(event="fork", **d)))
        else:
            self.csv.writerow(["" if d[k] is None else
                               str(d[k]).lower() if isinstance(d[k], bool)
                               else d[k] for k in FIELDS])

    def lost(self, n, first, last):
        if self.fmt == "json":
            self.line(json.dumps({"event": "lost", "records": n,
                                  "first_seq": first, "last_seq": last}))
            return
        msg = "lost %d record%s (seq %s): the log overwrote %s before watch " \
              "read %s (raise log_size)" % (
                  n, "" if n == 1 else "s",
                  first if n == 1 else "%d..%d" % (first, last),
                  "it" if n == 1 else "them", "it" if n == 1 else "them")
        if self.fmt == "text":
            self.line(msg)
        else:
            self.out.flush()
            sys.stderr.write("%s: %s\n" % (PROG, msg))

    def reset(self):
        msg = "the log was reset: following it from seq 0"
        if self.fmt == "json":
            self.line(json.dumps({"event": "reset"}))
        elif self.fmt == "text":
            self.line(msg)
        else:
            self.out.flush()
            sys.stderr.write("%s: %s\n" % (PROG, msg))

    def flush(self):
        self.out.flush()


class Filters:
    def __init__(self, args, attribution):
        self.a = attribution
        self.pid = args.pid
        self.comm = args.comm
        self.unit = args.unit
        self.cgroup = args.cgroup
        self.fail_only = args.fail_only

    def match(self, r):
        if self.pid is not None and r[PPID] != self.pid:
            return False
        if self.comm is not None and r[COMM] != self.comm and \
                unescape_comm(r[COMM]) != self.comm:
            return False
        if self.fail_only and r[VERDICT] != "fail":
            return False
        if self.unit is not None and self.a.unit_label(r[CGROUP]) != self.unit:
            return False
        if self.cgroup is not None and not self.a.in_cgroup(r[CGROUP],
                                                              self.cgroup):
            return False
        return True


# ------------------------------------------------------------ the watcher

class Watcher:
    """Turns records seen (in seq order) and outcomes into one line per
    fork, and seq gaps into `lost` notices."""

    def __init__(self, out, filters, hold, attribution=None, now=time.monotonic):
        self.out = out
        self.filters = filters
        self.hold = hold
        self.a = attribution
        self.now = now
        self.last = None                # the highest seq seen
        self.pending = {}               # seq -> [record, first seen]
        self.refreshed = None

    def start_at(self, top):
        """Start after seq top (-1: an empty log): "now"."""
        self.last = top

    def _known_cgroup(self, r):
        """Walks the cgroup tree again (at most once per hold period) when a
        record names a cgroup not seen yet: cgroups come and go."""
        if self.a is None or not r[CGROUP] or self.a.cgroup_path(r[CGROUP]):
            return
        t = self.now()
        if self.refreshed is None or t - self.refreshed >= min(self.hold, 1.0):
            self.refreshed = t
            self.a.refresh()

    def new(self, r):
        """A record with a seq above every one seen."""
        s = r[SEQ]
        if self.last is not None and s > self.last + 1:
            self.out.lost(s - self.last - 1, self.last + 1, s - 1)
        self.last = s
        self._known_cgroup(r)
        if not self.filters.match(r):
            return
        if r[OUTCOME] == "running":
            self.pending[s] = [r, self.now()]
        else:
            self.out.record(r)

    def outcome(self, r):
        """A pending record whose outcome is now known (or that left the
        log: printed as it was last seen)."""
        p = self.pending.pop(r[SEQ], None)
        if p is not None:
            self.out.record(r)

    def reset(self):
        self.flush()
        self.out.reset()
        self.last = -1

    def tick(self):
        """Prints the forks whose children have run for --hold seconds."""
        t = self.now()
        for s in sorted(s for s, p in self.pending.items()
                        if t - p[1] >= self.hold):
            self.out.record(self.pending.pop(s)[0])

    def flush(self):
        for s in sorted(self.pending):
            self.out.record(self.pending.pop(s)[0])

    def poll(self, lines, reader):
        """One read of the whole log: new records, outcomes of pending ones,
        pending ones gone from it.  lines: the file's lines after the
        header, which `reader` (a ForksReader) has read.  Only records
        above the last seq or pending are parsed in full."""
        last = self.last
        fast = reader.index[SEQ] == 0
        top = -1
        rows = []
        n = reader.line_no
        for line in lines:
            n += 1
            if fast:
                head = line.split(None, 1)
                if not head:
                    continue
                try:
                    s = int(head[0])
                except ValueError:
                    reader.record(line.split(), n)      # says what is wrong
                    raise CliError("%s line %d: bad seq" % (reader.name, n))
                if s > top:
                    top = s
                if last is not None and s <= last and s not in self.pending:
                    continue
                rows.append(reader.record(line.split(), n))
            else:
                t = line.split()
                if not t:
                    continue
                r = reader.record(t, n)
                top = max(top, r[SEQ])
                if last is None or r[SEQ] > last or r[SEQ] in self.pending:
                    rows.append(r)
        if last is not None and top < last:
            # The log went back: it was reset.  The next read starts at 0.
            self.reset()
            return top
        present = set()
        for r in sorted(rows, key=lambda r: r[SEQ]):
            s = r[SEQ]
            if last is None or s > last:
                self.new(r)
            else:
                present.add(s)
                if r[OUTCOME] != "running":
                    self.outcome(r)
        for s in sorted(s for s in self.pending
                        if last is not None and s <= last and s not in present):
            self.out.record(self.pending.pop(s)[0])     # overwritten
        self.tick()
        return top


# ------------------------------------------------------------ sources

def read_log(path, watcher):
    """One poll of the forks file at path."""
    with open_text(path, "watch needs root") as f:
        try:
            header = ForksReader(f, path)
            return watcher.poll(f, header)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise CliError("cannot read %s: %s" % (path, e.strerror or e))


def reset_mark():
    """The live summary's (reset_time, logged); None when it cannot be
    read or has no reset_time.  A new reset_time is a reset; the same
    mark with nothing pending means the log need not be read."""
    try:
        with open(proc_path("vforkacct", "summary")) as f:
            s = parse_summary(f.read())
    except (OSError, CliError):
        return None
    if not isinstance(s.get("reset_time"), int):
        return None
    return (s["reset_time"], s.get("logged"))


def run_poll(args, watcher, out):
    path = args.forks or proc_path("vforkacct", "forks")
    live = args.forks is None
    polls = 0
    mark = None
    while True:
        m = reset_mark() if live else None
        if polls == 0:
            if args.backlog:
                read_log(path, watcher)
            else:
                watcher.start_at(read_log_top(path))
        elif m is not None and mark is not None and m[0] != mark[0]:
            watcher.reset()
            read_log(path, watcher)
        elif m is None or m != mark or watcher.pending:
            read_log(path, watcher)
        else:
            watcher.tick()
        mark = m
        out.flush()
        polls += 1
        if args.count and polls >= args.count:
            watcher.flush()
            out.flush()
            return EXIT_OK
        time.sleep(args.interval)


def read_log_top(path):
    """The highest seq in the log (-1 when empty): where "now" starts."""
    top = -1
    with open_text(path, "watch needs root") as f:
        reader = ForksReader(f, path)
        if reader.index[SEQ] != 0:
            return max((r[SEQ] for r in reader), default=-1)
        n = reader.line_no
        for line in f:
            n += 1
            head = line.split(None, 1)
            if head:
                try:
                    top = max(top, int(head[0]))
                except ValueError:
                    reader.fail_line(line, n)
    return top


def bpftrace_path():
    bt = os.environ.get("VFA_BPFTRACE") or "bpftrace"
    if os.sep in bt:
        return bt if os.access(bt, os.X_OK) else None
    for d in os.environ.get("PATH", "/usr/sbin:/usr/bin").split(os.pathsep):
        p = os.path.join(d or ".", bt)
        if os.access(p, os.X_OK) and os.path.isfile(p):
            return p
    return None


class TraceSource:
    """bpftrace as a child process; its lines parsed into records and
    outcomes."""

    def __init__(self, bt):
        self.p = subprocess.Popen([bt, "-B", "none", "-e", BPFTRACE_PROGRAM],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.p.stdout, selectors.EVENT_READ, "out")
        self.sel.register(self.p.stderr, selectors.EVENT_READ, "err")
        self.buf = {"out": b"", "err": b""}
        self.err = []
        self.eof = False

    def lines(self, timeout):
        """Complete stdout lines within timeout seconds (may be none)."""
        got = []
        for key, _ in self.sel.select(max(0.0, timeout)):
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                self.sel.unregister(key.fileobj)
                if key.data == "out":
                    self.eof = True
                continue
            b = self.buf[key.data] + data
            *complete, self.buf[key.data] = b.split(b"\n")
            if key.data == "out":
                got.extend(complete)
            else:
                self.err.extend(l.decode("utf-8", "replace") for l in complete)
        return got

    def failure(self):
        """The error to report when bpftrace ended: its last stderr line."""
        self.stop()
        try:
            rest = self.buf["err"] + self.p.stderr.read()
        except (OSError, ValueError):
            rest = self.buf["err"]
        tail = [l.strip() for l in self.err + rest.decode(
            "utf-8", "replace").splitlines() if l.strip()]
        return CliError("bpftrace failed (exit %s)%s" % (
            self.p.returncode, ": " + tail[-1][:200] if tail else ""))

    def stop(self):
        """Ends bpftrace: SIGINT, as Ctrl-C would, and once more after 5 s
        (bpftrace 0.17 misses one that lands between two of its polls);
        killed after 10 s."""
        if self.p.poll() is None:
            for _ in range(2):
                self.p.send_signal(signal.SIGINT)
                try:
                    self.p.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    pass
            else:
                self.p.kill()
                self.p.wait()
        if self.sel is not None:
            self.sel.close()
            self.sel = None

    def parse(self, line):
        """("fork", record) or ("outcome", seq, outcome, life, faults, exec)
        or None."""
        try:
            if line.startswith(b"F "):
                f = line.split(b" ", 12)
                if len(f) < 13:
                    return None
                n = [int(x) for x in f[1:10]]
                # pid 0: a fork the kernel refused (there is no child)
                r = [n[0], n[1], n[2], n[3] or None,
                     escape_comm(f[12]), f[10].decode("ascii", "replace"),
                     n[4], n[5], n[6], f[11].decode("ascii", "replace"),
                     "refused" if n[3] == 0 else "running", None, None,
                     None, n[7], n[8], None]
                if r[KIND] != "fork":
                    r[CHARGE] = r[CHARGE] or 0
                return ("fork", r)
            if line.startswith(b"O "):
                f = line.split(b" ", 6)
                if len(f) < 7:
                    return None
                ex = escape_comm(f[6]) if f[5] == b"exec" and f[6] else None
                return ("outcome", int(f[1]), f[5].decode("ascii", "replace"),
                        int(f[3]), int(f[4]), ex)
        except ValueError:
            return None
        return None


def fill_from_log(path, watcher, upto):
    """Records after the last seen and before seq upto, from the log (the
    trace missed them at start, or lost them)."""
    try:
        f = open(path, "r", encoding="ascii", errors="replace")
    except OSError:
        return
    with f:
        try:
            for r in ForksReader(f, path):
                if watcher.last < r[SEQ] < upto:
                    watcher.new(r)
        except CliError:
            return


def run_trace(args, watcher, out):
    need_root("watch --trace")
    need_module()
    bt = bpftrace_path()
    if bt is None:
        raise CliError("bpftrace not found (install it: scripts/deps), or "
                       "watch without --trace")
    path = proc_path("vforkacct", "forks")
    src = TraceSource(bt)
    try:
        follow_trace(args, watcher, out, src, path)
    finally:
        src.stop()
    watcher.flush()
    out.flush()
    return EXIT_OK


def follow_trace(args, watcher, out, src, path):
    ready = False
    early = []                  # lines that came with READY
    deadline = time.monotonic() + 60
    while not ready:
        for line in src.lines(deadline - time.monotonic()):
            if ready:
                early.append(line)
            ready = ready or line.strip() == b"READY"
        if not ready and (src.eof or src.p.poll() is not None):
            raise src.failure()
        if not ready and time.monotonic() > deadline:
            raise CliError("bpftrace did not start within 60 s")
    # "Now" is when the probes are in; the log gives the backlog.
    if args.backlog:
        read_log(path, watcher)
    else:
        watcher.start_at(read_log_top(path))
    out.flush()
    mark = reset_mark()
    ticks = 0
    next_tick = time.monotonic() + args.interval
    while True:
        lines, early = early + src.lines(next_tick - time.monotonic()), []
        for line in lines:
            ev = src.parse(line)
            if ev is None:
                continue
            if ev[0] == "fork":
                r = ev[1]
                if r[SEQ] <= watcher.last:
                    continue            # in the backlog, or before "now"
                if r[SEQ] > watcher.last + 1:
                    fill_from_log(path, watcher, r[SEQ])
                watcher.new(r)
            else:
                _, seq, outcome, life, faults, ex = ev
                p = watcher.pending.get(seq)
                if p is not None:
                    r = list(p[0])
                    r[OUTCOME], r[LIFE], r[FAULTS], r[EXEC] = (
                        outcome, life, faults, ex)
                    watcher.outcome(r)
        if src.eof:
            raise src.failure()
        if time.monotonic() >= next_tick:
            m = reset_mark()
            if m is not None and mark is not None and m[0] != mark[0]:
                watcher.reset()
            mark = m or mark
            watcher.tick()
            ticks += 1
            next_tick += args.interval
            if args.count and ticks >= args.count:
                return
        out.flush()


def stop_on_sigterm(signum, frame):
    """SIGTERM (systemd, kill) ends watch as Ctrl-C does: pending forks
    printed, bpftrace stopped."""
    raise KeyboardInterrupt


def run(args):
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    set_exact_kb(args.kb)
    if args.trace and args.forks:
        raise CliError("--trace follows the live module: no --forks", EXIT_USAGE)
    if args.forks is None:
        need_module()
    attribution = Attribution(args.cgroup_map)
    fmt = "json" if args.json else "csv" if args.csv else "text"
    out = Output(fmt, attribution, Clock(args.forks is None), args.prompt_ms)
    watcher = Watcher(out, Filters(args, attribution), args.hold, attribution)
    out.header()
    try:
        if args.trace:
            return run_trace(args, watcher, out)
        return run_poll(args, watcher, out)
    except KeyboardInterrupt:
        watcher.flush()
        out.flush()
        raise
