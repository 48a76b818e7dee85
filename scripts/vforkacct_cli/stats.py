# SPDX-License-Identifier: GPL-2.0
"""Statistics over a fork log in one streaming pass, grouped by parent
comm, cgroup, systemd unit or uid, optionally re-judged under a what-if
limit.  Per group only counters and the few numbers whose medians are
wanted are kept (compact arrays), so a 1,048,576-record log fits in
well under 200 MB."""

import math
from array import array

from .attrib import Attribution
from .common import FAST_EXEC_MS, PAGE_KB
from .limits import fails_under
from .parse import (ALLOWED, CGROUP, CHARGE, COLUMNS, COMM, COMMITTED, EXEC,
                    FAULTS, KIND, LIFE, NORESERVE, OUTCOME, SEQ, UID,
                    VERDICT, unescape_comm)



BY = ("comm", "cgroup", "unit", "uid")
KEY_COLUMN = {"comm": COMM, "cgroup": CGROUP, "unit": CGROUP, "uid": UID}


def numbers_for(by):
    """The numeric columns aggregate() reads when grouping by `by` (the
    `numbers` of ForksReader)."""
    key = KEY_COLUMN[by]
    return (SEQ, CHARGE, COMMITTED, ALLOWED, LIFE, FAULTS, NORESERVE) + (
        (key,) if key != COMM else ())


def pct(values, p):
    """Nearest-rank percentile of a list of numbers (None when empty): the
    value at rank ceil(p/100 * n), 1-based.  The median is p=50 (the lower
    middle for an even count), so integers stay integers."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)]


NO_EXCESS = -(1 << 62)          # Group.excess before any charged fork


class Group:
    """Counters of one group of records."""

    __slots__ = ("forks", "vforks", "vm_clones", "would_fail",
                 "would_fail_exec", "unknown", "exec", "exit", "running",
                 "refused", "charged", "charge_max", "excess", "life",
                 "faults", "charge", "fail_life", "comms")

    def __init__(self):
        self.forks = self.vforks = self.vm_clones = 0
        self.would_fail = self.would_fail_exec = self.unknown = 0
        self.exec = self.exit = self.running = self.refused = 0
        self.charged = 0
        self.charge_max = -1            # -1: no fork with a known charge
        self.excess = NO_EXCESS         # max(committed + charge - allowed)
        self.life = array("q")          # fork children that exec'd
        self.faults = array("q")
        self.charge = array("q")
        self.fail_life = array("q")     # ... of would-fail forks
        self.comms = {}                 # comm -> records

    def merge(self, o):
        for k in ("forks", "vforks", "vm_clones", "would_fail",
                  "would_fail_exec", "unknown", "exec", "exit", "running",
                  "refused", "charged"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.charge_max = max(self.charge_max, o.charge_max)
        self.excess = max(self.excess, o.excess)
        for k in ("life", "faults", "charge", "fail_life"):
            getattr(self, k).extend(getattr(o, k))
        for c, n in o.comms.items():
            self.comms[c] = self.comms.get(c, 0) + n


class LogStats:
    """What the whole log holds, and the what-if verdicts."""

    def __init__(self, keep_failing=20):
        self.records = 0
        self.first_seq = self.last_seq = None
        self.forks = self.vforks = self.vm_clones = 0
        self.would_fail = 0             # the module's verdicts
        self.excess = NO_EXCESS
        self.whatif_fail = 0            # under the what-if limit
        self.newly = self.no_longer = 0
        self.failing = []               # the first what-if failures
        self.keep_failing = keep_failing


def aggregate(records, by="comm", delta_kb=None, keep_failing=20):
    """One pass over records (lists, as ForksReader yields, with at least
    the numbers_for(by) converted).  Returns ({raw key: Group}, LogStats);
    the raw key is the comm (escaped), the cgroup id or the uid (None when
    the log has no such column).  With delta_kb, fork verdicts are
    re-judged under the limit moved by it.  (Written for speed: this loop
    runs once per record of a log of up to 1,048,576.)"""
    col = KEY_COLUMN[by]
    comms = by != "comm"
    groups = {}
    log = LogStats(keep_failing)
    n = module_fail = 0
    first, last = 1 << 64, -1
    for r in records:
        n += 1
        s = r[SEQ]
        if s > last:
            last = s
        if s < first:
            first = s
        key = r[col]
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group()
        if comms:
            c = r[COMM]
            g.comms[c] = g.comms.get(c, 0) + 1
        kind = r[KIND]
        if kind != "fork":
            if kind == "vfork":
                g.vforks += 1
            else:
                g.vm_clones += 1
            continue
        outcome = r[OUTCOME]
        if outcome == "refused":        # the kernel refused it: no child
            g.refused += 1
            continue
        g.forks += 1
        charge = r[CHARGE]
        # As mode 2 would judge it: the parent's MAP_NORESERVE memory
        # committed, and the child's copy of it charged.
        nr = r[NORESERVE] or 0
        committed = r[COMMITTED] + nr
        if charge is not None:
            charge += nr
        verdict = r[VERDICT]
        if verdict == "fail":
            module_fail += 1
        if charge is not None:
            g.charged += charge
            if charge > g.charge_max:
                g.charge_max = charge
            if charge:
                x = committed + charge - r[ALLOWED]
                if x > g.excess:
                    g.excess = x
            if delta_kb is not None:
                verdict = rejudge_one(log, r, committed, charge, verdict,
                                      delta_kb)
        if verdict == "fail":
            g.would_fail += 1
            if outcome == "exec":
                g.would_fail_exec += 1
                if r[LIFE] is not None:
                    g.fail_life.append(r[LIFE])
        elif verdict != "ok":
            g.unknown += 1
        if outcome == "exec":
            g.exec += 1
            if r[LIFE] is not None:
                g.life.append(r[LIFE])
            if r[FAULTS] is not None:
                g.faults.append(r[FAULTS])
            if charge is not None:
                g.charge.append(charge)
        elif outcome == "exit":
            g.exit += 1
        elif outcome == "running":
            g.running += 1
    log.records = n
    if n:
        log.first_seq, log.last_seq = first, last
    log.would_fail = module_fail
    for g in groups.values():
        log.forks += g.forks
        log.vforks += g.vforks
        log.vm_clones += g.vm_clones
        log.excess = max(log.excess, g.excess)
    return groups, log


def rejudge_one(log, r, committed, charge, verdict, delta_kb):
    """The verdict of fork record r (mode-2 commit and charge) under the
    what-if limit, counted in log (would fail, newly, no longer, the first
    ones kept)."""
    fail = fails_under(committed, charge, r[ALLOWED], delta_kb)
    if fail:
        log.whatif_fail += 1
        if verdict != "fail":
            log.newly += 1
        if len(log.failing) < log.keep_failing:
            log.failing.append(r)
    elif verdict == "fail":
        log.no_longer += 1
    return "fail" if fail else "ok"


def min_safe(excess, limit_kb, page_kb=PAGE_KB):
    """The smallest limit under which no fork with that excess fails (None
    without a charged fork or a limit)."""
    if excess == NO_EXCESS or limit_kb is None:
        return None
    return excess + limit_kb + page_kb


def label_groups(groups, by, attribution=None):
    """Raw keys to display labels ({label: Group}), merging groups that
    share a label (cgroups of one unit; ids not resolved)."""
    if by == "comm":
        return dict(groups)
    a = attribution or Attribution()
    name = {"cgroup": a.cgroup_label, "unit": a.unit_label,
            "uid": a.user_label}[by]
    out = {}
    for key, g in groups.items():
        lab = name(key)
        if lab in out:
            out[lab].merge(g)
        else:
            out[lab] = g
    return out


def group_stats(label, g, by="comm", limit_kb=None, prompt_ms=FAST_EXEC_MS,
                page_kb=PAGE_KB):
    """One group's numbers as a dict (the report's JSON `groups` items)."""
    fmed = pct(g.faults, 50)
    cmed = pct(g.charge, 50)
    touched = fmed * page_kb if fmed is not None else None
    flmed = pct(g.fail_life, 50)
    finished = g.exec + g.exit
    d = {"key": label if by != "comm" else unescape_comm(label)}
    if by == "comm":
        d["comm"] = unescape_comm(label)
        d["comm_escaped"] = label
    else:
        # The comm with the most records (ties: by name).
        top = min(g.comms.items(), key=lambda kv: (-kv[1], kv[0]),
                  default=None)
        d["top_comm"] = unescape_comm(top[0]) if top else None
    d.update({
        "forks": g.forks,
        "vforks": g.vforks,
        "vm_clones": g.vm_clones,
        "would_fail": g.would_fail,
        "would_fail_exec": g.would_fail_exec,
        "unknown": g.unknown,
        "exec": g.exec,
        "exit": g.exit,
        "running": g.running,
        "refused": g.refused,
        "exec_share": (g.exec / finished) if finished else None,
        "life_us_median": pct(g.life, 50),
        "life_us_p99": pct(g.life, 99),
        "faults_median": fmed,
        "touched_kb_median": touched,
        "charge_kb_median": cmed,
        "touched_share": (touched / cmed) if touched is not None and cmed else None,
        "charge_kb_max": g.charge_max if g.charge_max >= 0 else None,
        "charged_kb": g.charged,
        "min_safe_limit_kb": min_safe(g.excess, limit_kb, page_kb),
        "fail_exec_life_us_median": flmed,
        "spawn_candidate": bool(g.would_fail_exec) and flmed is not None
                           and flmed < prompt_ms * 1000,
    })
    return d


def sort_key(d):
    return (-d["would_fail"], -d["forks"], -d["vforks"], d.get("comm_escaped",
                                                             d["key"]))


def all_group_stats(groups, by="comm", limit_kb=None, prompt_ms=FAST_EXEC_MS,
                    attribution=None, page_kb=PAGE_KB):
    """Every group's stats, most would-fail first."""
    out = [group_stats(k, g, by, limit_kb, prompt_ms, page_kb)
           for k, g in label_groups(groups, by, attribution).items()]
    out.sort(key=sort_key)
    return out


def record_of(d):
    """A parse_forks() dict back to a record list."""
    r = [d.get(c) for c in COLUMNS]
    if r[EXEC] == "-":
        r[EXEC] = None
    return r


def program_stats(rows, prompt_ms=FAST_EXEC_MS, page_kb=PAGE_KB):
    """Per parent comm statistics of parse_forks() dicts, sorted by
    would_fail, forks, comm (for scripts; the report streams instead)."""
    groups, _ = aggregate((record_of(r) for r in rows), "comm")
    return all_group_stats(groups, "comm", None, prompt_ms, page_kb=page_kb)
