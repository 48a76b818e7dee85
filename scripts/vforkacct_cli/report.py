# SPDX-License-Identifier: GPL-2.0
"""`vforkacct report`: the summary in plain words, then a table per
parent program, cgroup, systemd unit or user built from the fork log in
one streaming pass, the spawn candidates, and what-if verdicts."""

import json
import os
import sys

from .args import (by_opt, cgroup_map_opt, input_opts, kb_opt, prompt_opt,
                   whatif_opts)
from .attrib import Attribution, UNKNOWN
from .common import (EXIT_OK, FAST_EXEC_MS, PAGE_KB, CliError, can_read,
                     proc_path, read_text, sys_path)
from .fmt import hkb, hus, percent, plural, set_exact_kb, table, when
from .limits import whatif_from_args
from .parse import (ALLOWED, CGROUP, CHARGE, COMM, COMMITTED, OUTCOME, SEQ,
                    UID, captured, forks_path, live_forks_unreadable,
                    load_summary, open_forks, unescape_comm)
from .stats import aggregate, all_group_stats, min_safe, numbers_for

SCHEMA = "vforkacct-report/2"
KEEP_FAILING = 20               # what-if failures listed one by one
BY_TITLE = {"comm": "program", "cgroup": "cgroup", "unit": "unit", "uid": "user"}

SCHEMA_DOC = """\
JSON (--json), schema "vforkacct-report/2"; sizes in kB, times in us:
  schema            str   "vforkacct-report/2"
  by                str   comm, cgroup, unit or uid (--by)
  summary           obj|null  every summary line: a `N kB` size as
                          NAME_kb (int), other numbers as int, words as str
                          (limit_kb, limit_source, admin_reserve_kb,
                          user_reserve_kb, committed_kb, forks, vforks,
                          vm_clones, threads, would_fail, would_fail_exec,
                          would_fail_exit, exec_after_fork,
                          exit_without_exec, charged_kb, min_safe_limit_kb,
                          log_size, logged, untracked, load_time,
                          reset_time, ...); null with --forks alone
  log               obj|null  what the log holds: records, first_seq,
                          last_seq (int|null), missing (gaps), overwritten
                          (records before first_seq), forks, vforks,
                          vm_clones, would_fail (the module's verdicts),
                          min_safe_limit_kb (int|null: from the rows);
                          null when the log cannot be read (see note)
  prompt_ms         int   the --prompt-ms threshold
  whatif            obj|null  with --ratio/--kbytes/--limit-kb: limit_kb,
                          how (str), judged_limit_kb (the summary's
                          limit), delta_kb, all_pass (bool|null),
                          would_fail, module_would_fail, newly_failing,
                          no_longer_failing (int|null without the log),
                          failing (the first 20 would-fail records: seq,
                          comm, key, charge_kb, committed_kb, allowed_kb
                          under the what-if limit, outcome)
  groups            list|null  one object per group, most would-fail
                          first (verdicts under the what-if limit if any):
    key             str   the group: comm (decoded), cgroup path, unit,
                          or user name (the uid when it has none);
                          `(unknown)` when the record has no id (an older
                          module's log, or id 0); `cgroup:ID` for an id
                          not found under the cgroup2 mount
    comm, comm_escaped  str   (--by comm) as decoded and as in the log
    top_comm        str   (other --by) the comm with most records
    forks, vforks, vm_clones, would_fail, would_fail_exec, unknown,
    exec, exit, running, refused                  int (forks only for
                          the last seven)
    exec_share      float|null  exec / (exec + exit)
    life_us_median, life_us_p99                 int|null  fork to exec
    faults_median   int|null    faults before exec
    touched_kb_median  int|null faults_median x page size
    charge_kb_median   int|null charge of the children that exec'd
    touched_share   float|null  touched_kb_median / charge_kb_median
    charge_kb_max   int|null    largest charge of its forks
    charged_kb      int         total charged to its forks
    min_safe_limit_kb  int|null smallest limit under which none of its
                          forks fails (null without a summary)
    fail_exec_life_us_median  int|null  over would-fail forks that exec'd
    spawn_candidate bool  would-fail forks exec'd, median life < prompt_ms
  spawn_candidates  list|null  the keys with spawn_candidate true
  note              str|null   why there is no log, when there is none
  notes             list of str  what --by could not resolve, and why
  programs          list|null  live, root: the programs whose commit
                    requests would fail (comm, uid, would_fail, largest_kb,
                    min_safe_kb), most failures first
Medians and p99 are nearest-rank (the value at rank ceil(p/100*n))."""


def add_parser(sub):
    sp = sub.add_parser(
        "report", help="the summary in words and a table per program, "
        "cgroup, unit or user",
        description="The summary in plain words, then a table per parent "
        "program (or cgroup, systemd unit, user: --by) built from the fork "
        "log: forks, would-fail, share that exec'd and how fast, pages "
        "touched before exec against the charge, and the spawn candidates: "
        "programs whose would-fail children exec'd promptly and should use "
        "posix_spawn/vfork.\n\n"
        "With --ratio, --kbytes or --limit-kb every logged fork is judged "
        "again under that limit (with the reserves that applied to it) and "
        "the report says which would have failed.\n\n"
        "Without root the log cannot be read: the report then says what the "
        "summary allows and what needs root (exit 0).",
        epilog=SCHEMA_DOC)
    sp.add_argument("--json", action="store_true", help="JSON (schema below)")
    by_opt(sp)
    input_opts(sp)
    whatif_opts(sp)
    cgroup_map_opt(sp)
    kb_opt(sp)
    prompt_opt(sp, "median life under which a would-fail child 'exec'd "
               "promptly'")
    sp.set_defaults(func=run)


# ------------------------------------------------------------ building

def failing_json(r, by, attribution, delta_kb):
    key = {"comm": lambda: unescape_comm(r[COMM]),
           "cgroup": lambda: attribution.cgroup_label(r[CGROUP]),
           "unit": lambda: attribution.unit_label(r[CGROUP]),
           "uid": lambda: attribution.user_label(r[UID])}[by]()
    return {"seq": r[SEQ], "comm": unescape_comm(r[COMM]), "key": key,
            "charge_kb": r[CHARGE], "committed_kb": r[COMMITTED],
            "allowed_kb": r[ALLOWED] + delta_kb, "outcome": r[OUTCOME]}


def build_report(summary, groups, log, by="comm", prompt_ms=FAST_EXEC_MS,
                 whatif=None, attribution=None, note=None, page_kb=PAGE_KB):
    """The report as a dict (the --json output).  groups/log come from
    stats.aggregate(), or are None when there is no log."""
    attribution = attribution or Attribution()
    limit = summary["limit_kb"] if summary else None
    rep = {"schema": SCHEMA, "by": by, "summary": summary, "log": None,
           "prompt_ms": prompt_ms, "whatif": None, "groups": None,
           "spawn_candidates": None, "note": note, "notes": [],
           "programs": None}
    log_min_safe = None
    if log is not None:
        # 0, as the summary says, when no fork in the log had a charge.
        log_min_safe = None if limit is None else (
            min_safe(log.excess, limit, page_kb) or 0)
        rep["log"] = {
            "records": log.records,
            "first_seq": log.first_seq,
            "last_seq": log.last_seq,
            "missing": (log.last_seq - log.first_seq + 1 - log.records)
            if log.records else 0,
            "overwritten": (log.first_seq if log.records else
                            (summary or {}).get("logged", 0)),
            "forks": log.forks,
            "vforks": log.vforks,
            "vm_clones": log.vm_clones,
            "would_fail": log.would_fail,
            "min_safe_limit_kb": log_min_safe,
        }
        gs = all_group_stats(groups, by, limit, prompt_ms, attribution, page_kb)
        rep["groups"] = gs
        rep["spawn_candidates"] = [g["key"] for g in gs if g["spawn_candidate"]]
    if whatif is not None:
        w = whatif.as_json()
        if log is not None:
            w.update({"all_pass": log.whatif_fail == 0,
                      "would_fail": log.whatif_fail,
                      "module_would_fail": log.would_fail,
                      "newly_failing": log.newly,
                      "no_longer_failing": log.no_longer,
                      "failing": [failing_json(r, by, attribution,
                                               whatif.delta_kb)
                                  for r in log.failing]})
        else:
            ms = (summary or {}).get("min_safe_limit_kb")
            w.update({"all_pass": None if ms is None else
                      (ms == 0 or whatif.limit_kb >= ms),
                      "would_fail": None, "module_would_fail": None,
                      "newly_failing": None, "no_longer_failing": None,
                      "failing": []})
        rep["whatif"] = w
    return rep


# ------------------------------------------------------------ text

def summary_words(s):
    g = s.get
    lines = []
    lim = "%s (%s)" % (hkb(g("limit_kb", 0)), "an ESTIMATE, 50% of RAM: run "
                       "`vforkacct sync`" if g("limit_source") == "estimate"
                       else "set by parameter")
    lines.append("Judged against a strict-overcommit limit of %s; reserves: "
                 "admin %s, user %s." % (lim, hkb(g("admin_reserve_kb", 0)),
                                         hkb(g("user_reserve_kb", 0))))
    if g("limit_kb"):
        lines.append("System commit now: %s, %s of the limit."
                     % (hkb(g("committed_kb", 0)),
                        percent(g("committed_kb", 0) / g("limit_kb"))))
    if isinstance(g("load_time"), int):
        rt = g("reset_time")
        if not isinstance(rt, int) or rt == g("load_time"):
            lines.append("Counting since the module was loaded, %s."
                         % when(g("load_time")))
        else:
            lines.append("Counting since the last reset, %s (module loaded "
                         "%s)." % (when(rt), when(g("load_time"))))
    lines.append("Seen: %s, %s (vfork, posix_spawn), %s (CLONE_VM, no "
                 "vfork), %s." % (plural(g("forks", 0), "fork"),
                                  plural(g("vforks", 0), "vfork"),
                                  plural(g("vm_clones", 0), "other clone"),
                                  plural(g("threads", 0), "thread")))
    wf = g("would_fail", 0)
    if wf:
        rest = wf - g("would_fail_exec", 0) - g("would_fail_exit", 0)
        lines.append("%d fork%s would have FAILED (ENOMEM) under strict "
                     "overcommit: %d then exec'd (a needless failure: vfork "
                     "or posix_spawn would have worked), %d exited without "
                     "exec%s." % (wf, "" if wf == 1 else "s",
                                  g("would_fail_exec", 0), g("would_fail_exit", 0),
                                  ", %d still running" % rest if rest > 0 else ""))
    else:
        lines.append("No fork would have failed under strict overcommit.")
    lines.append("Fork children: %d exec'd, %d exited without exec; %s "
                 "charged in all." % (g("exec_after_fork", 0),
                                      g("exit_without_exec", 0),
                                      hkb(g("charged_kb", 0))))
    if g("min_safe_limit_kb"):
        lines.append("Smallest CommitLimit under which no fork seen would have "
                     "failed: %s (`vforkacct advise` turns it into a "
                     "vm.overcommit_ratio)." % hkb(g("min_safe_limit_kb")))
    if g("refused"):
        lines.append("%d fork%s REFUSED by the kernel for lack of commit "
                     "(the log's `refused` rows: no child; not counted in "
                     "forks)." % (g("refused"), " was" if g("refused") == 1
                                  else "s were"))
    if isinstance(g("commits"), int):
        cf = g("commits_would_fail", 0)
        lines.append("Commit requests judged (mmap, brk, stack, exec, shmem, "
                     "and each fork as one): %d; %s under strict overcommit."
                     % (g("commits"), "%d would have FAILED" % cf if cf
                        else "none would have failed"))
        if g("min_safe_limit_all_kb"):
            lines.append("Smallest CommitLimit under which no request seen, "
                         "fork or not, would have failed: %s "
                         "(min_safe_limit_all)." % hkb(g("min_safe_limit_all_kb")))
    if g("noreserve_kb"):
        lines.append("MAP_NORESERVE memory held now: %s; this mode never "
                     "commits it, strict mode would (advise adds it)."
                     % hkb(g("noreserve_kb")))
    extra = []
    if g("untracked"):
        extra.append("%d children untracked (tracking table full)" % g("untracked"))
    if g("lock_misses"):
        extra.append("%d forks with an unknown charge (lock busy)" % g("lock_misses"))
    if g("walk_misses"):
        extra.append("%d forks with an unknown charge (not followed, too "
                     "many VMAs to walk)" % g("walk_misses"))
    if extra:
        lines.append("Note: " + "; ".join(extra) + ".")
    return "\n".join(lines)


def whatif_words(w, forks=None):
    """The what-if verdict in a sentence (forks: how many the log has)."""
    head = "What if the limit were %s (%s) instead of %s" % (
        hkb(w["limit_kb"]), w["how"], hkb(w["judged_limit_kb"]))
    if w["would_fail"] is None:
        if w["all_pass"] is None:
            return head + ": the summary has no min_safe_limit to tell."
        if w["all_pass"]:
            return head + ": every fork seen would have passed."
        return head + (": at least one fork seen would have FAILED (its "
                       "min_safe_limit is above that); which ones, the log "
                       "tells (root).")
    if w["would_fail"]:
        s = "%s: %d of the %s in the log would have FAILED" % (
            head, w["would_fail"], plural(forks, "fork"))
    else:
        s = "%s: none of the %s in the log would have failed" % (
            head, plural(forks, "fork"))
    return s + " (the module said %d: %d more, %d fewer)." % (
        w["module_would_fail"], w["newly_failing"], w["no_longer_failing"])


def programs_words(progs):
    """The programs whose commit requests would fail, most first."""
    if not progs:
        return None
    return "Programs whose commit requests would fail: %s." % ", ".join(
        "%s (uid %d): %d, the largest %s" % (
            p["comm"], p["uid"], p["would_fail"], hkb(p["largest_kb"]))
        for p in progs)


def read_programs(path):
    """/proc/vforkacct/programs as a list of dicts, most failures first,
    one per (comm, uid)."""
    merged = {}
    lines = read_text(path).splitlines()
    if not lines or lines[0].split() != ["comm", "uid", "would_fail",
                                         "largest_kB", "min_safe_kB"]:
        raise CliError("%s: not a programs file" % path)
    for n, line in enumerate(lines[1:], 2):
        t = line.split()
        try:
            comm, uid, nf, big, ms = t[0], int(t[1]), int(t[2]), int(t[3]), int(t[4])
        except (IndexError, ValueError):
            raise CliError("%s line %d: a bad record" % (path, n))
        p = merged.setdefault((comm, uid), {"comm": unescape_comm(comm),
                                            "uid": uid, "would_fail": 0,
                                            "largest_kb": 0, "min_safe_kb": 0})
        p["would_fail"] += nf
        p["largest_kb"] = max(p["largest_kb"], big)
        p["min_safe_kb"] = max(p["min_safe_kb"], ms)
    return sorted(merged.values(), key=lambda p: (-p["would_fail"], p["comm"]))


def report_text(rep):
    out = []
    s, lg, by = rep["summary"], rep["log"], rep["by"]
    if s:
        out.append(summary_words(s))
        pw = programs_words(rep.get("programs"))
        if pw:
            out.append(pw)
        out.append("")
    w = rep["whatif"]
    if lg is None:
        if w:
            out.append(whatif_words(w))
        out.append(rep["note"])
        return "\n".join(out)
    if not lg["records"]:
        if w:
            out.append(whatif_words(w, 0))
        out.append("The log is empty: no fork, vfork or clone seen since "
                   "load or reset.")
        return "\n".join(out)
    out.append("Log: %d records (seq %d..%d)%s%s." % (
        lg["records"], lg["first_seq"], lg["last_seq"],
        "; %d older ones overwritten (raise log_size)" % lg["overwritten"]
        if lg["overwritten"] else "",
        "; %d missing inside" % lg["missing"] if lg["missing"] else ""))
    out.extend(rep["notes"])
    if w:
        out.append(whatif_words(w, lg["forks"]) +
                   " The table is judged under that limit.")
    out.append("")
    hdr = [BY_TITLE[by], "forks", "vforks", "fail", "fail>exec", "exec%",
           "life-med", "life-p99", "touched", "charged", "touch%", "spawn?"]
    if by != "comm":
        hdr.append("top program")
    rows = []
    for p in rep["groups"]:
        row = [p["comm_escaped"] if by == "comm" else p["key"],
               p["forks"], p["vforks"] + p["vm_clones"],
               p["would_fail"], p["would_fail_exec"],
               percent(p["exec_share"]),
               hus(p["life_us_median"]), hus(p["life_us_p99"]),
               hkb(p["touched_kb_median"]), hkb(p["charge_kb_median"]),
               percent(p["touched_share"]),
               "YES" if p["spawn_candidate"] else ""]
        if by != "comm":
            row.append(p["top_comm"] or "-")
        rows.append(row)
    out.append(table(hdr, rows, right=set(range(1, 11))))
    out.append("")
    out.append("forks: fork-like clones (charged); vforks: vfork/posix_spawn/"
               "CLONE_VM (never charged); fail: would fail in strict mode;")
    out.append("exec%%, life (fork to exec, median/p99), touched (median faults "
               "before exec x %s) and charged (median) are over" % hkb(PAGE_KB))
    out.append("fork children that exec'd; touch% = touched / charged.")
    if w and w["failing"]:
        out.append("")
        out.append("Would fail under %s (%s):" % (
            hkb(w["limit_kb"]), "all %d" % w["would_fail"]
            if len(w["failing"]) == w["would_fail"] else
            "the first %d of %d" % (len(w["failing"]), w["would_fail"])))
        fhdr = ["seq", "program"] + ([BY_TITLE[by]] if by != "comm" else []) + [
            "charge", "commit after", "allowed", "outcome"]
        frows = []
        for f in w["failing"]:
            frows.append([f["seq"], f["comm"]] + (
                [f["key"]] if by != "comm" else []) + [
                hkb(f["charge_kb"]), hkb(f["committed_kb"] + f["charge_kb"]),
                hkb(f["allowed_kb"]), f["outcome"]])
        n = len(fhdr)
        out.append("\n".join("  " + l for l in table(
            fhdr, frows, right={0, n - 4, n - 3, n - 2}).splitlines()))
    out.append("")
    what = BY_TITLE[by] + "s"
    cands = [p for p in rep["groups"] if p["spawn_candidate"]]
    if cands:
        out.append("Spawn candidates (%s whose would-fail forks' children "
                   "exec'd within %d ms, median):" % (what, rep["prompt_ms"]))
        for p in cands:
            name = p["comm_escaped"] if by == "comm" else "%s (%s)" % (
                p["key"], p["top_comm"])
            out.append("  %s: %d would-fail fork%s exec'd after %s (median), "
                       "touching %s of %s charged: start children with "
                       "posix_spawn() or vfork()+exec instead of fork()+exec."
                       % (name, p["would_fail_exec"],
                          "" if p["would_fail_exec"] == 1 else "s",
                          hus(p["fail_exec_life_us_median"]),
                          hkb(p["touched_kb_median"]), hkb(p["charge_kb_median"])))
    else:
        out.append("Spawn candidates: none (no would-fail fork whose child "
                   "exec'd within %d ms)." % rep["prompt_ms"])
    return "\n".join(out)


def attribution_notes(by, reader, attribution, captured_log):
    """One-line notes on what --by cgroup/unit/uid can resolve."""
    notes = []
    if by in ("cgroup", "unit"):
        if not reader.has_cgroup:
            notes.append("This log has no cgroup_id column (from a module "
                         "that did not record it): every record shows as "
                         "`%s`." % UNKNOWN)
        elif attribution.source is None:
            notes.append("No cgroup2 mount under %s: cgroups show as "
                         "cgroup:ID (--cgroup-map FILE maps them)."
                         % sys_path("fs", "cgroup"))
        elif captured_log and attribution.map_file is None:
            notes.append("cgroup ids are resolved against this host's "
                         "cgroup tree (a log from another host needs "
                         "--cgroup-map FILE).")
    if by == "uid" and not reader.has_uid:
        notes.append("This log has no uid column (from a module that did not "
                     "record it): every record shows as `%s`." % UNKNOWN)
    return notes


def run(args):
    set_exact_kb(args.kb)
    live = not captured(args)
    summary = load_summary(args)
    whatif = whatif_from_args(args, summary, live)
    attribution = Attribution(args.cgroup_map)
    path = forks_path(args)
    note = None
    if path is None:
        note = ("No log given: --forks FILE adds the per-%s table."
                % BY_TITLE[args.by])
    elif live_forks_unreadable(args):
        note = ("The per-%s table needs the fork log %s, which is root only: "
                "run as root (or give --forks FILE)."
                % (BY_TITLE[args.by], proc_path("vforkacct", "forks")))
    if note:
        rep = build_report(summary, None, None, args.by, args.prompt_ms,
                           whatif, attribution, note)
    else:
        with open_forks(path, numbers_for(args.by)) as reader:
            groups, log = aggregate(reader, args.by,
                                    whatif.delta_kb if whatif else None,
                                    KEEP_FAILING)
        rep = build_report(summary, groups, log, args.by, args.prompt_ms,
                           whatif, attribution)
        rep["notes"] = attribution_notes(args.by, reader, attribution,
                                         args.forks is not None)
    progs = proc_path("vforkacct", "programs")
    if live and os.path.exists(progs) and can_read(progs):
        rep["programs"] = read_programs(progs)
    if args.json:
        json.dump(rep, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report_text(rep))
    return EXIT_OK
