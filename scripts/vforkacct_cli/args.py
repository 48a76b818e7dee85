# SPDX-License-Identifier: GPL-2.0
"""Argument parsing shared by the subcommands: one-line usage errors
(exit 2), checked numbers, and the options several subcommands take."""

import argparse
import re

from .common import EXIT_USAGE, FAST_EXEC_MS, LIMIT_MAX_KB, CliError
from .fmt import HelpFormatter
from .stats import BY


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, exit status 2, and help wrapped to
    the terminal."""

    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", HelpFormatter)
        super().__init__(*a, **kw)

    def error(self, message):
        raise CliError("%s (try `%s --help`)" % (message, self.prog), EXIT_USAGE)


def number(lo, hi, what):
    def conv(s):
        if not re.match(r"^[0-9]+$", s or ""):
            raise argparse.ArgumentTypeError(
                "bad number %r for %s (a decimal integer expected)" % (s, what))
        v = int(s)
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(
                "%s %d out of range (%d..%s)" % (what, v, lo,
                                                 hi if hi is not None else "inf"))
        return v
    return conv


def positive_float(what):
    def conv(s):
        try:
            v = float(s)
        except ValueError:
            v = -1
        if not v > 0 or v != v or v == float("inf"):
            raise argparse.ArgumentTypeError(
                "bad %s %r (seconds > 0 expected)" % (what, s))
        return v
    return conv


def limit_group(sp, what_if_help):
    """--ratio R | --kbytes K | --limit-kb N."""
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--ratio", type=number(0, 1 << 31, "--ratio"),
                   metavar="R", help="%s vm.overcommit_ratio were R: limit = "
                   "(MemTotal - Hugetlb) * R / 100 + SwapTotal, in pages as "
                   "the kernel computes it" % what_if_help)
    g.add_argument("--kbytes", type=number(1, LIMIT_MAX_KB, "--kbytes"),
                   metavar="K", help="%s vm.overcommit_kbytes were K: limit = "
                   "K + SwapTotal" % what_if_help)
    g.add_argument("--limit-kb", type=number(1, LIMIT_MAX_KB, "--limit-kb"),
                   metavar="N", help="%s the limit were exactly N kB"
                   % what_if_help)


def input_opts(sp, summary=True):
    sp.add_argument("--forks", metavar="FILE",
                    help="a captured /proc/vforkacct/forks (never paired with "
                    "the live summary)")
    if summary:
        sp.add_argument("--summary", metavar="FILE",
                        help="a captured /proc/vforkacct/summary")


def whatif_opts(sp):
    limit_group(sp, "re-judge every logged fork as if")
    sp.add_argument("--meminfo", metavar="FILE",
                    help="the meminfo --ratio/--kbytes compute with (needed "
                    "with captured files: this host's is used only for live "
                    "data)")


def by_opt(sp, choices=BY, default="comm"):
    sp.add_argument("--by", choices=choices, default=default,
                    help="group by the parent's comm, cgroup (path under the "
                    "cgroup2 mount), systemd unit (derived from the cgroup "
                    "path; containers by id) or user (default %s)"
                    % default if len(choices) > 2 else
                    "label series by systemd unit or cgroup path (default %s)"
                    % default)


def cgroup_map_opt(sp):
    sp.add_argument("--cgroup-map", metavar="FILE",
                    help="cgroup ids to paths from this file (`INODE PATH` "
                    "lines, as `find /sys/fs/cgroup -type d -printf '%%i "
                    "%%P\\n'` prints on the host the log comes from) instead "
                    "of walking this host's cgroup2 mount")


def kb_opt(sp):
    sp.add_argument("--kb", action="store_true",
                    help="sizes in exact kB (as the module prints them) "
                    "instead of KiB/MiB/GiB")


def prompt_opt(sp, what):
    sp.add_argument("--prompt-ms", type=number(1, 1 << 31, "--prompt-ms"),
                    default=FAST_EXEC_MS, metavar="MS",
                    help="%s (default %d, shared by report and watch)"
                    % (what, FAST_EXEC_MS))
