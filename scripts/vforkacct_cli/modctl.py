# SPDX-License-Identifier: GPL-2.0
"""`vforkacct load`, `sync` and `unload`: the module with its limit set
to the system's CommitLimit (or a what-if limit) and the reserves of
/proc/sys/vm."""

import os
import subprocess

from .args import limit_group, number
from .common import (EXIT_NOMOD, EXIT_OK, LIMIT_MAX_KB, LOG_SIZE_MAX,
                     LOG_SIZE_MIN, TOP, CliError, module_loaded, need_root,
                     param_dir, read_text)
from .limits import commit_limit_kb
from .parse import read_meminfo, read_sysctl_int


def limit_opts(sp):
    limit_group(sp, "what if")
    sp.add_argument("--meminfo", metavar="FILE",
                    help="read this meminfo instead of /proc/meminfo")
    sp.add_argument("-n", "--dry-run", action="store_true",
                    help="print the parameters, change nothing")


def add_parsers(sub):
    sp = sub.add_parser(
        "load", help="insmod the module, limit synced to the system",
        description="insmod vforkacct.ko with limit_kb = CommitLimit from "
        "/proc/meminfo (or the what-if limit of --ratio/--kbytes, or "
        "--limit-kb), admin_reserve_kb and user_reserve_kb from "
        "/proc/sys/vm/. The module is the --ko file, else "
        ".build/$(uname -r)/vforkacct.ko or vforkacct.ko in the checkout, "
        "else ./vforkacct.ko.")
    limit_opts(sp)
    sp.add_argument("--log-size", type=number(LOG_SIZE_MIN, LOG_SIZE_MAX,
                                              "--log-size"),
                    metavar="N", help="log capacity in records (%d..%d)"
                    % (LOG_SIZE_MIN, LOG_SIZE_MAX))
    sp.add_argument("--ko", metavar="PATH", help="the module file to load")
    sp.set_defaults(func=cmd_load)

    sp = sub.add_parser(
        "sync", help="rewrite the limit and reserves of the loaded module",
        description="Rewrite limit_kb, admin_reserve_kb and user_reserve_kb "
        "of the loaded module, as `load` computes them: after a sysctl or "
        "swap change, or to judge what-if. Forks already logged keep their "
        "verdicts (`report --ratio` re-judges them).")
    limit_opts(sp)
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


def find_ko(arg):
    if arg:
        if not os.path.isfile(arg):
            raise CliError("no module file %s" % arg)
        return arg
    rel = os.uname().release
    for c in (os.path.join(TOP, ".build", rel, "vforkacct.ko"),
              os.path.join(TOP, "vforkacct.ko"), "vforkacct.ko"):
        if os.path.isfile(c):
            return c
    raise CliError("no vforkacct.ko for %s (looked in .build/%s/, the "
                   "checkout and .): build it (make) or give --ko" % (rel, rel))


def run_tool(cmd):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    except FileNotFoundError:
        raise CliError("%s not found (install kmod)" % cmd[0])
    if p.returncode != 0:
        msg = (p.stderr.strip() or p.stdout.strip() or "exit %d" % p.returncode)
        raise CliError("%s failed: %s" % (cmd[0], msg.splitlines()[-1]))
    return p


def describe(params, how):
    return "limit_kb=%d (%s) admin_reserve_kb=%d user_reserve_kb=%d" % (
        params[0][1], how, params[1][1], params[2][1])


def cmd_load(args):
    params, how = wanted_params(args)
    if args.log_size is not None:
        params.append(("log_size", args.log_size))
    if args.dry_run:
        print("would load with " + describe(params, how) +
              (" log_size=%d" % args.log_size if args.log_size else ""))
        return EXIT_OK
    need_root("load")
    if module_loaded() or os.path.isdir(param_dir()):
        raise CliError("the module is already loaded: `vforkacct sync` "
                       "rewrites its limit, `vforkacct unload` removes it")
    ko = find_ko(args.ko)
    run_tool(["insmod", ko] + ["%s=%d" % kv for kv in params])
    print("loaded %s: %s%s" % (os.path.relpath(ko) if not args.ko else ko,
                               describe(params, how),
                               " log_size=%d" % args.log_size
                               if args.log_size else ""))
    return EXIT_OK


def cmd_sync(args):
    params, how = wanted_params(args)
    if args.dry_run:
        print("would set " + describe(params, how))
        return EXIT_OK
    need_root("sync")
    if not os.path.isdir(param_dir()):
        raise CliError("module not loaded (no %s): run `vforkacct load`"
                       % param_dir(), EXIT_NOMOD)
    for name, val in params:
        path = os.path.join(param_dir(), name)
        try:
            with open(path, "w") as f:
                f.write("%d\n" % val)
        except OSError as e:
            raise CliError("cannot write %s=%d: %s" % (name, val,
                                                       e.strerror or e))
        got = read_text(path).strip()
        if got != str(val):
            raise CliError("%s reads back %r after writing %d" % (name, got, val))
    print("synced: " + describe(params, how))
    return EXIT_OK


def cmd_unload(args):
    need_root("unload")
    if not module_loaded() and not os.path.isdir(param_dir()):
        raise CliError("module not loaded", EXIT_NOMOD)
    run_tool(["rmmod", "vforkacct"])
    print("unloaded vforkacct")
    return EXIT_OK
