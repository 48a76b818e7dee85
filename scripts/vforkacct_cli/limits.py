# SPDX-License-Identifier: GPL-2.0
"""The strict-overcommit arithmetic: CommitLimit as the kernel computes
it, the smallest ratio/kbytes covering a limit, and re-judging logged
forks under another limit (what-if)."""

from .common import PAGE_KB, CliError
from .parse import read_meminfo


def hugetlb_kb(mem):
    if "Hugetlb" in mem:
        return mem["Hugetlb"]
    return mem.get("HugePages_Total", 0) * mem.get("Hugepagesize", 0)


def commit_limit_kb(mem, ratio=None, kbytes=None, page_kb=PAGE_KB):
    """CommitLimit in kB exactly as vm_commit_limit() computes it, in pages:

        overcommit_kbytes / page_kb                          if kbytes set
        (totalram_pages - hugetlb_pages) * ratio / 100       otherwise
        + total_swap_pages
    """
    swap_pages = mem["SwapTotal"] // page_kb
    if kbytes:
        pages = kbytes // page_kb
    else:
        ram_pages = mem["MemTotal"] // page_kb - hugetlb_kb(mem) // page_kb
        pages = ram_pages * ratio // 100
    return (pages + swap_pages) * page_kb


def advise_calc(min_safe_kb, mem, page_kb=PAGE_KB):
    """The smallest overcommit_ratio and overcommit_kbytes whose CommitLimit
    is >= min_safe_kb.  Returns (ratio, kbytes); kbytes is None when swap
    alone is enough (overcommit_kbytes=0 means "use the ratio")."""
    ram_pages = mem["MemTotal"] // page_kb - hugetlb_kb(mem) // page_kb
    swap_pages = mem["SwapTotal"] // page_kb
    need = -(-min_safe_kb // page_kb) - swap_pages     # pages beyond swap
    if need <= 0:
        return 0, None
    if ram_pages <= 0:
        raise CliError("meminfo: no RAM outside hugetlb, no ratio can do")
    ratio = -(-need * 100 // ram_pages)
    while ram_pages * ratio // 100 < need:             # never taken; cheap
        ratio += 1
    while ratio > 0 and ram_pages * (ratio - 1) // 100 >= need:
        ratio -= 1
    return ratio, need * page_kb


def fails_under(committed, charge, allowed, delta_kb):
    """The module's verdict with its limit moved by delta_kb (the reserves
    that applied stay as they were): a fork with a charge fails when
    committed + charge >= allowed + delta; one with nothing to charge is
    never checked."""
    return bool(charge) and committed + charge >= allowed + delta_kb


def rejudge(rows, delta_kb):
    """The would-fail rows (dicts, as parse_forks gives) with the limit
    moved by delta_kb."""
    return [r for r in rows if r["kind"] == "fork"
            and fails_under(r["committed_kB"], r["charge_kB"],
                            r["allowed_kB"], delta_kb)]


def log_min_safe_limit(rows, limit_kb, page_kb=PAGE_KB):
    """min_safe_limit recomputed from the log (dicts): the module's per-fork
    min limit is committed + charge + (limit - allowed) + one page."""
    best = 0
    for r in rows:
        if r["kind"] == "fork" and r["charge_kB"]:
            best = max(best, r["committed_kB"] + r["charge_kB"]
                       + limit_kb - r["allowed_kB"] + page_kb)
    return best


class WhatIf:
    """A what-if limit: limit_kb, how it was asked for, and delta_kb, its
    distance from the limit the log was judged against."""

    def __init__(self, limit_kb, how, judged_kb):
        self.limit_kb = limit_kb
        self.how = how
        self.judged_kb = judged_kb
        self.delta_kb = limit_kb - judged_kb

    def as_json(self):
        return {"limit_kb": self.limit_kb, "how": self.how,
                "judged_limit_kb": self.judged_kb, "delta_kb": self.delta_kb}


def asked_whatif(args):
    return any(getattr(args, k, None) is not None
               for k in ("ratio", "kbytes", "limit_kb"))


def whatif_from_args(args, summary, live):
    """The WhatIf of --ratio/--kbytes/--limit-kb, or None.  A captured
    summary is judged only with captured values: --ratio and --kbytes need
    --meminfo FILE then (never this host's RAM and swap)."""
    if not asked_whatif(args):
        return None
    if summary is None:
        raise CliError("--ratio/--kbytes/--limit-kb re-judge the log against "
                       "the limit it was judged with: give --summary FILE "
                       "with --forks FILE")
    if args.limit_kb is not None:
        return WhatIf(args.limit_kb, "--limit-kb %d" % args.limit_kb,
                      summary["limit_kb"])
    if getattr(args, "meminfo", None) is not None:
        mem = read_meminfo(args.meminfo)
    elif live:
        mem = read_meminfo()
    else:
        raise CliError("--%s on captured data needs --meminfo FILE (the "
                       "captured host's /proc/meminfo): this host's RAM and "
                       "swap say nothing about that host"
                       % ("ratio" if args.ratio is not None else "kbytes"))
    if args.ratio is not None:
        lim = commit_limit_kb(mem, ratio=args.ratio)
        how = "vm.overcommit_ratio=%d" % args.ratio
    else:
        lim = commit_limit_kb(mem, kbytes=args.kbytes)
        how = "vm.overcommit_kbytes=%d" % args.kbytes
    return WhatIf(lim, how, summary["limit_kb"])
