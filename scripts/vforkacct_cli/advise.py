# SPDX-License-Identifier: GPL-2.0
"""`vforkacct advise`: the smallest vm.overcommit_ratio and
vm.overcommit_kbytes under which no fork seen would have failed, the
sysctl commands, and what-if verdicts for a ratio/kbytes/limit."""

import json
import sys

from .args import kb_opt, limit_group
from .common import EXIT_OK, CliError, can_read
from .fmt import hkb, plural, set_exact_kb
from .limits import advise_calc, commit_limit_kb, hugetlb_kb, whatif_from_args
from .parse import (captured, forks_path, load_summary, open_forks,
                    read_meminfo, read_sysctl_int)
from .report import whatif_words
from .stats import aggregate, all_group_stats, numbers_for

SYSCTLS = ("overcommit_memory", "overcommit_ratio", "overcommit_kbytes",
           "admin_reserve_kbytes", "user_reserve_kbytes")


def add_parser(sub):
    sp = sub.add_parser(
        "advise", help="the smallest vm.overcommit_ratio that fits every "
        "fork seen",
        description="From the summary's min_safe_limit: the smallest "
        "vm.overcommit_ratio (and vm.overcommit_kbytes) whose CommitLimit, "
        "computed as the kernel does from the RAM, hugetlb and swap of "
        "meminfo, leaves no fork seen failing, and the sysctl commands.\n\n"
        "With --ratio, --kbytes or --limit-kb it also says which logged "
        "forks would have failed under that limit (the log: root, or "
        "--forks FILE; without it, whether any would).\n\n"
        "Captured data is judged with captured data only: --summary FILE "
        "needs --meminfo FILE (that host's /proc/meminfo), never this "
        "host's.")
    sp.add_argument("--json", action="store_true", help="JSON: "
                    "min_safe_limit_kb, ratio, ratio_limit_kb, kbytes, "
                    "kbytes_limit_kb, current_limit_kb, mem_total_kb, "
                    "hugetlb_kb, swap_total_kb (int|null), forks (int), "
                    "whatif (obj|null, as in `report --json`); live and "
                    "without --meminfo also current_overcommit_memory, "
                    "current_overcommit_ratio, current_overcommit_kbytes, "
                    "current_admin_reserve_kbytes, "
                    "current_user_reserve_kbytes (int)")
    sp.add_argument("--summary", metavar="FILE",
                    help="a captured /proc/vforkacct/summary (needs --meminfo)")
    sp.add_argument("--meminfo", metavar="FILE",
                    help="a captured /proc/meminfo: the RAM, hugetlb and swap "
                    "the ratio is computed for")
    sp.add_argument("--forks", metavar="FILE",
                    help="a captured /proc/vforkacct/forks, for the what-if "
                    "verdicts (with --summary)")
    limit_group(sp, "say which logged forks would have failed if")
    kb_opt(sp)
    sp.set_defaults(func=run)


def advise_data(summary, mem, cur):
    """What to advise.  need_kb, what the ratio is computed for, is
    min_safe_limit_all (every commit request and fork seen; a module that
    has none: min_safe_limit) plus the MAP_NORESERVE memory held now, which
    mode 2 would commit but this mode never asks for."""
    forks = summary.get("forks", 0)
    mins = summary.get("min_safe_limit_kb", 0)
    mall = summary.get("min_safe_limit_all_kb")
    nr = summary.get("noreserve_kb") or 0
    base = max(mins or 0, mall or 0)
    need = base + nr if base else 0
    d = {"min_safe_limit_kb": mins or None, "forks": forks,
         "min_safe_limit_all_kb": mall, "noreserve_kb": nr,
         "commits": summary.get("commits"),
         "commits_would_fail": summary.get("commits_would_fail"),
         "need_kb": need or None,
         "mem_total_kb": mem["MemTotal"], "hugetlb_kb": hugetlb_kb(mem),
         "swap_total_kb": mem["SwapTotal"],
         "current_limit_kb": mem.get("CommitLimit"),
         "ratio": None, "ratio_limit_kb": None,
         "kbytes": None, "kbytes_limit_kb": None, "whatif": None}
    d.update(cur)
    if need:
        ratio, kbytes = advise_calc(need, mem)
        d["ratio"] = ratio
        d["ratio_limit_kb"] = commit_limit_kb(mem, ratio=ratio)
        if kbytes is not None:
            d["kbytes"] = kbytes
            d["kbytes_limit_kb"] = commit_limit_kb(mem, kbytes=kbytes)
    return d


def judge_whatif(args, summary, whatif, live):
    """The what-if verdicts as in `report --json` (whatif), plus the
    would-fail count per program (list of (comm, n)), from the log if it
    can be read, else from the summary's min_safe_limit alone."""
    w = whatif.as_json()
    path = forks_path(args)
    per_prog = []
    if path is not None and (not live or can_read(path)):
        with open_forks(path, numbers_for("comm")) as reader:
            groups, log = aggregate(reader, "comm", whatif.delta_kb, 0)
        w.update({"all_pass": log.whatif_fail == 0,
                  "would_fail": log.whatif_fail,
                  "module_would_fail": log.would_fail,
                  "newly_failing": log.newly,
                  "no_longer_failing": log.no_longer, "failing": []})
        per_prog = [(g["comm_escaped"], g["would_fail"])
                    for g in all_group_stats(groups) if g["would_fail"]]
        return w, per_prog, log.forks
    ms = summary.get("min_safe_limit_kb")
    w.update({"all_pass": None if ms is None else (ms == 0 or whatif.limit_kb >= ms),
              "would_fail": None, "module_would_fail": None,
              "newly_failing": None, "no_longer_failing": None, "failing": []})
    return w, per_prog, None


def run(args):
    set_exact_kb(args.kb)
    live = not captured(args)
    if args.forks is not None and args.summary is None:
        raise CliError("advise --forks FILE needs the summary that log was "
                       "judged with: give --summary FILE too")
    summary = load_summary(args)
    if "min_safe_limit_kb" not in summary:
        raise CliError("%s has no min_safe_limit line: nothing to advise from"
                       % (args.summary or "the summary"))
    if args.meminfo is not None:
        mem = read_meminfo(args.meminfo)
    elif live:
        mem = read_meminfo()
    else:
        raise CliError("advise --summary FILE uses captured data only: give "
                       "--meminfo FILE too (that host's /proc/meminfo: its "
                       "RAM, hugetlb and swap set the ratio)")
    cur = {}
    if live and args.meminfo is None:
        for k in SYSCTLS:
            try:
                cur["current_" + k] = read_sysctl_int(k)
            except CliError:
                pass
    d = advise_data(summary, mem, cur)
    whatif = whatif_from_args(args, summary, live)
    per_prog, log_forks = [], None
    if whatif is not None:
        d["whatif"], per_prog, log_forks = judge_whatif(args, summary, whatif,
                                                        live)
    if args.json:
        json.dump(d, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    print_advice(d, summary, cur, args.meminfo is not None)
    if whatif is not None:
        print()
        print(whatif_words(d["whatif"], log_forks))
        if per_prog:
            print("Would fail: %s." % ", ".join(
                "%s (%d)" % kv for kv in per_prog))
    return EXIT_OK


def print_advice(d, summary, cur, meminfo_file):
    if not d["need_kb"]:
        print("No fork with a charge seen yet (forks: %d): nothing to advise. "
              "Run the workload with the module loaded, then ask again."
              % d["forks"])
        return
    m = d["need_kb"]
    if d["min_safe_limit_all_kb"] is None:
        print("All %s seen would have passed with a CommitLimit of at least "
              "%s (min_safe_limit).  This module does not judge other commit "
              "requests: mmap, brk and the like are not covered."
              % (plural(d["forks"], "fork"), hkb(d["min_safe_limit_kb"] or 0)))
    else:
        print("All %s and %s seen would have passed with a CommitLimit of at "
              "least %s (min_safe_limit_all; the forks alone: %s)."
              % (plural(d["forks"], "fork"),
                 plural(d["commits"] or 0, "commit request"),
                 hkb(max(d["min_safe_limit_all_kb"],
                         d["min_safe_limit_kb"] or 0)),
                 hkb(d["min_safe_limit_kb"] or 0)))
    if d["noreserve_kb"]:
        print("Plus %s of MAP_NORESERVE memory held now (glibc thread arenas "
              "and the like), which strict mode would commit but this mode "
              "never asks for: %s in all." % (hkb(d["noreserve_kb"]), hkb(m)))
    print("Covers the forks and commit requests since the module was loaded "
          "or reset, and the MAP_NORESERVE memory of now (at most a second "
          "old), not its peaks in between.")
    res = (summary.get("admin_reserve_kb"), summary.get("user_reserve_kb"))
    now = (cur.get("current_admin_reserve_kbytes"),
           cur.get("current_user_reserve_kbytes"))
    if None not in now and res != now:
        print("Note: the module judged with reserves admin %s, user %s; the "
              "system now has %s and %s: run `vforkacct sync`."
              % (hkb(res[0]), hkb(res[1]), hkb(now[0]), hkb(now[1])))
    print("RAM for the ratio: MemTotal %s - Hugetlb %s; SwapTotal %s."
          % (hkb(d["mem_total_kb"]), hkb(d["hugetlb_kb"]),
             hkb(d["swap_total_kb"])))
    if d["ratio"] == 0 and d["kbytes"] is None:
        print("Swap alone covers it: any vm.overcommit_ratio will do, even 0.")
    else:
        print("Smallest vm.overcommit_ratio:   %d  (CommitLimit %s)"
              % (d["ratio"], hkb(d["ratio_limit_kb"])))
        if d["ratio"] > 100:
            print("  (over 100: more than RAM; strict mode then counts on the "
                  "untouched part of each fork)")
        print("Smallest vm.overcommit_kbytes:  %d  (CommitLimit %s)"
              % (d["kbytes"], hkb(d["kbytes_limit_kb"])))
    if d["current_limit_kb"] is not None:
        c = d["current_limit_kb"]
        where = " (in that meminfo)" if meminfo_file else ""
        if c >= m:
            print("The current CommitLimit%s, %s, is already enough (%s to "
                  "spare)." % (where, hkb(c), hkb(c - m)))
        else:
            print("The current CommitLimit%s, %s, is %s short: strict mode "
                  "would refuse some of these forks." % (where, hkb(c),
                                                          hkb(m - c)))
    print("To set it (either line; writing one sysctl clears the other):")
    print("  sysctl -w vm.overcommit_ratio=%d" % d["ratio"])
    if d["kbytes"] is not None:
        print("  sysctl -w vm.overcommit_kbytes=%d" % d["kbytes"])
    print("then enforce strict overcommit:  sysctl -w vm.overcommit_memory=2")
    print("(persist in /etc/sysctl.d/; this is the bare minimum for the forks "
          "seen: leave headroom, and re-run `vforkacct sync` after a change.)")
