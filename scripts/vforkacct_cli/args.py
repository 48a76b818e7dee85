# SPDX-License-Identifier: GPL-2.0
"""Argument parsing shared by the subcommands: one-line usage errors
(exit 2), checked numbers, the options several subcommands take, and the
config file (--config) that stands in for some of them."""

import argparse
import re
import shlex

from .common import (EXIT_USAGE, FAST_EXEC_MS, LIMIT_MAX_KB, LOG_SIZE_MAX,
                     LOG_SIZE_MIN, CliError, read_text)
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


# The what-if limits: config key, option (its dest), the range of values.
LIMITS = (("RATIO", "--ratio", "ratio", 0, 1 << 31),
          ("KBYTES", "--kbytes", "kbytes", 1, LIMIT_MAX_KB),
          ("LIMIT_KB", "--limit-kb", "limit_kb", 1, LIMIT_MAX_KB))
LOG_SIZE = ("LOG_SIZE", "--log-size", "log_size", LOG_SIZE_MIN, LOG_SIZE_MAX)


def limit_group(sp, what_if_help):
    """--ratio R | --kbytes K | --limit-kb N."""
    g = sp.add_mutually_exclusive_group()
    helps = ("vm.overcommit_ratio were R: limit = (MemTotal - Hugetlb) * R "
             "/ 100 + SwapTotal, in pages as the kernel computes it",
             "vm.overcommit_kbytes were K: limit = K + SwapTotal",
             "the limit were exactly N kB")
    for (_, opt, dest, lo, hi), meta, h in zip(LIMITS, "RKN", helps):
        g.add_argument(opt, type=number(lo, hi, opt), metavar=meta,
                       help="%s %s" % (what_if_help, h))


def config_opt(sp, what):
    sp.add_argument("--config", metavar="FILE",
                    help="read %s from FILE (shell-style KEY=VALUE lines, "
                    "`#` comments, an empty value is unset, as in "
                    "/etc/vforkacct.conf); options given here win" % what)


def read_config(path, keys):
    """The KEY=VALUE lines of a shell-style config file: {KEY: (value,
    line number)}, empty values (unset) left out.  `#` comments, blank
    lines, `export KEY=...` and quotes as the shell reads them; an unknown
    key or a line the shell would not read as one assignment is a usage
    error naming the file and line."""
    conf = {}
    for n, line in enumerate(read_text(path, "config").splitlines(), 1):
        where = "%s:%d" % (path, n)
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", s)
        if not m:
            raise CliError("%s: not a KEY=VALUE line: %.40s" % (where, s),
                           EXIT_USAGE)
        key, raw = m.groups()
        if key not in keys:
            raise CliError("%s: unknown key %s (known: %s)"
                           % (where, key, ", ".join(keys)), EXIT_USAGE)
        # A comment starts with a `#` at the start of a word.
        raw = re.sub(r"(^|\s)#.*$", "", raw)
        try:
            lex = shlex.shlex(raw, posix=True)
            lex.whitespace_split, lex.commenters = True, ""
            words = list(lex)
        except ValueError as e:
            raise CliError("%s: %s: %s" % (where, key, str(e).lower()),
                           EXIT_USAGE)
        if len(words) > 1 or (words and raw[:1].isspace()):
            raise CliError("%s: %s: one value expected, no spaces: %.40s"
                           % (where, key, raw.strip()), EXIT_USAGE)
        if words and words[0] != "":
            conf[key] = (words[0], n)
        else:
            conf.pop(key, None)         # KEY= unsets it, as in the shell
    return conf


def apply_config(args, log_size=True):
    """Fills what args.config sets and the command line did not: one of
    RATIO, KBYTES, LIMIT_KB (at most one in the file) and, with log_size,
    LOG_SIZE (otherwise that key is ignored).  Values are checked as the
    options are; a bad one is a usage error naming the file and key."""
    if not args.config:
        return
    keys = [k[0] for k in LIMITS] + [LOG_SIZE[0]]
    conf = read_config(args.config, keys)

    def value(key, opt, lo, hi):
        v, n = conf[key]
        try:
            return number(lo, hi, key)(v)
        except argparse.ArgumentTypeError as e:
            raise CliError("%s:%d: %s" % (args.config, n, e), EXIT_USAGE)
    given = [k for k in LIMITS if k[0] in conf]
    if len(given) > 1:
        raise CliError("%s: %s: set at most one of them"
                       % (args.config, " and ".join(k[0] for k in given)),
                       EXIT_USAGE)
    for key, opt, dest, lo, hi in given:
        v = value(key, opt, lo, hi)
        if all(getattr(args, k[2], None) is None for k in LIMITS):
            setattr(args, dest, v)
    key, opt, dest, lo, hi = LOG_SIZE
    if log_size and key in conf:
        v = value(key, opt, lo, hi)
        if getattr(args, dest, None) is None:
            setattr(args, dest, v)


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
