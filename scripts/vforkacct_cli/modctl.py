# SPDX-License-Identifier: GPL-2.0
"""`vforkacct load`, `sync` and `unload`: the module with its limit set
to the system's CommitLimit (or a what-if limit) and the reserves of
/proc/sys/vm."""

import os
import subprocess

from .args import LOG_SIZE, apply_config, config_opt, limit_group, number
from .common import (EXIT_NOMOD, EXIT_OK, LIMIT_MAX_KB, TOP, CliError,
                     module_loaded, need_root, param_dir, read_text)
from .limits import commit_limit_kb
from .parse import read_meminfo, read_sysctl_int


def limit_opts(sp, config_what):
    limit_group(sp, "what if")
    config_opt(sp, config_what)
    sp.add_argument("--meminfo", metavar="FILE",
                    help="read this meminfo instead of /proc/meminfo")
    sp.add_argument("-n", "--dry-run", action="store_true",
                    help="print the parameters, change nothing")


def add_parsers(sub):
    sp = sub.add_parser(
        "load", help="load the module, limit synced to the system",
        description="Load vforkacct with limit_kb = CommitLimit from "
        "/proc/meminfo (or the what-if limit of --ratio/--kbytes, or "
        "--limit-kb), admin_reserve_kb and user_reserve_kb from "
        "/proc/sys/vm/.\n\n"
        "The module: the --ko file (insmod); else, run from a source "
        "checkout, the module built there, .build/$(uname -r)/vforkacct.ko "
        "or vforkacct.ko, or ./vforkacct.ko (insmod); else the installed "
        "one (DKMS, the vforkacct-dkms package or `make install`), "
        "through `modprobe vforkacct limit_kb=... admin_reserve_kb=... "
        "user_reserve_kb=... [log_size=...]`.\n\n"
        "--config FILE reads LOG_SIZE and at most one of RATIO, KBYTES, "
        "LIMIT_KB from FILE (as vforkacct.service does with "
        "/etc/vforkacct.conf); --sync-if-loaded makes an already loaded "
        "module a `sync` instead of an error.")
    limit_opts(sp, "LOG_SIZE and at most one of RATIO, KBYTES, LIMIT_KB")
    key, opt, dest, lo, hi = LOG_SIZE
    sp.add_argument(opt, type=number(lo, hi, opt), metavar="N",
                    help="log capacity in records (%d..%d)" % (lo, hi))
    sp.add_argument("--ko", metavar="PATH",
                    help="the module file to insmod (default: the one built "
                    "in the checkout, else modprobe)")
    sp.add_argument("--sync-if-loaded", action="store_true",
                    help="if the module is already loaded, do what `sync` "
                    "does (exit 0) instead of failing")
    sp.set_defaults(func=cmd_load)

    sp = sub.add_parser(
        "sync", help="rewrite the limit and reserves of the loaded module",
        description="Rewrite limit_kb, admin_reserve_kb and user_reserve_kb "
        "of the loaded module, as `load` computes them: after a sysctl or "
        "swap change, or to judge what-if. Only the values that differ are "
        "written. Forks already logged keep their verdicts (`report "
        "--ratio` re-judges them). --config FILE: as for `load`, its "
        "LOG_SIZE ignored (vforkacct-sync.timer runs `sync --quiet --config "
        "/etc/vforkacct.conf` every minute).")
    limit_opts(sp, "at most one of RATIO, KBYTES, LIMIT_KB (LOG_SIZE is ignored)")
    sp.add_argument("--quiet", action="store_true",
                    help="print nothing unless a value changed (or on error)")
    sp.set_defaults(func=cmd_sync)

    sp = sub.add_parser("unload", help="rmmod the module",
                        description="rmmod vforkacct: every hook and file goes.")
    sp.set_defaults(func=cmd_unload)


def wanted_params(args):
    """(params, how) for load/sync."""
    mem = read_meminfo(args.meminfo)
    if args.limit_kb is not None:
        limit, how = args.limit_kb, "given"
    elif args.ratio is not None:
        limit = commit_limit_kb(mem, ratio=args.ratio)
        how = "what-if vm.overcommit_ratio=%d" % args.ratio
    elif args.kbytes is not None:
        limit = commit_limit_kb(mem, kbytes=args.kbytes)
        how = "what-if vm.overcommit_kbytes=%d" % args.kbytes
    else:
        if "CommitLimit" not in mem:
            raise CliError("meminfo has no CommitLimit line")
        limit, how = mem["CommitLimit"], "CommitLimit"
    if limit <= 0:
        raise CliError("the limit comes out as 0 kB (%s, no swap): the module "
                       "would read 0 as 'estimate'" % how)
    if limit > LIMIT_MAX_KB:
        raise CliError("the limit %d kB is beyond the module's 2^50 kB" % limit)
    params = [("limit_kb", limit),
              ("admin_reserve_kb", read_sysctl_int("admin_reserve_kbytes")),
              ("user_reserve_kb", read_sysctl_int("user_reserve_kbytes"))]
    return params, how


def in_checkout():
    """True when the CLI runs from a source checkout (scripts/vforkacct),
    not installed (/usr/share/vforkacct/vforkacct)."""
    return (os.path.isfile(os.path.join(TOP, "Kbuild")) and
            os.path.isdir(os.path.join(TOP, "module")))


def find_ko(arg):
    """The module file to insmod, or None: modprobe the installed one."""
    if arg:
        if not os.path.isfile(arg):
            raise CliError("no module file %s" % arg)
        return arg
    if not in_checkout():
        return None
    rel = os.uname().release
    for c in (os.path.join(TOP, ".build", rel, "vforkacct.ko"),
              os.path.join(TOP, "vforkacct.ko"), "vforkacct.ko"):
        if os.path.isfile(c):
            return c
    return None


def run_tool(cmd, hint=""):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    except FileNotFoundError:
        raise CliError("%s not found (install kmod)" % cmd[0])
    if p.returncode != 0:
        msg = (p.stderr.strip() or p.stdout.strip() or "exit %d" % p.returncode)
        raise CliError("%s failed: %s%s" % (cmd[0], msg.splitlines()[-1], hint))
    return p


def describe(params, how):
    return "limit_kb=%d (%s) admin_reserve_kb=%d user_reserve_kb=%d" % (
        params[0][1], how, params[1][1], params[2][1]) + "".join(
        " %s=%d" % kv for kv in params[3:])


def is_loaded():
    return module_loaded() or os.path.isdir(param_dir())


def cmd_load(args):
    apply_config(args, log_size=True)
    params, how = wanted_params(args)
    if args.sync_if_loaded and is_loaded():
        return sync(args, params, how, "load")
    if args.log_size is not None:
        params.append(("log_size", args.log_size))
    if args.dry_run:
        print("would load with " + describe(params, how))
        return EXIT_OK
    need_root("load")
    if is_loaded():
        raise CliError("the module is already loaded: `vforkacct sync` "
                       "rewrites its limit, `vforkacct unload` removes it")
    values = ["%s=%d" % kv for kv in params]
    ko = find_ko(args.ko)
    if ko:
        run_tool(["insmod", ko] + values)
        what = ko if args.ko else os.path.relpath(ko)
    else:
        hint = ""
        if in_checkout():
            hint = (" (and no vforkacct.ko for %s in the checkout: build it "
                    "with make, or give --ko)" % os.uname().release)
        run_tool(["modprobe", "vforkacct"] + values, hint)
        what = "vforkacct (modprobe)"
    print("loaded %s: %s" % (what, describe(params, how)))
    return EXIT_OK


def current(path):
    """A parameter's value as the module reads it back, None if unreadable."""
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def sync(args, params, how, what="sync"):
    """Writes the parameters that differ from the module's; says what it
    did (with --quiet only when something changed)."""
    quiet = getattr(args, "quiet", False)
    if args.dry_run:
        print("would set " + describe(params, how))
        return EXIT_OK
    need_root(what)
    if not os.path.isdir(param_dir()):
        raise CliError("module not loaded (no %s): run `vforkacct load`"
                       % param_dir(), EXIT_NOMOD)
    changed = []
    for name, val in params:
        path = os.path.join(param_dir(), name)
        was = current(path)
        if was == str(val):
            continue
        try:
            with open(path, "w") as f:
                f.write("%d\n" % val)
        except OSError as e:
            raise CliError("cannot write %s=%d: %s" % (name, val,
                                                       e.strerror or e))
        got = read_text(path).strip()
        if got != str(val):
            raise CliError("%s reads back %r after writing %d" % (name, got, val))
        changed.append("%s was %s" % (name, was if was is not None else "?"))
    if changed:
        print("synced: %s (changed: %s)" % (describe(params, how),
                                            ", ".join(changed)))
    elif not quiet:
        print("in sync: %s (nothing changed)" % describe(params, how))
    return EXIT_OK


def cmd_sync(args):
    apply_config(args, log_size=False)
    params, how = wanted_params(args)
    return sync(args, params, how)


def cmd_unload(args):
    need_root("unload")
    if not is_loaded():
        raise CliError("module not loaded", EXIT_NOMOD)
    run_tool(["rmmod", "vforkacct"])
    print("unloaded vforkacct")
    return EXIT_OK
