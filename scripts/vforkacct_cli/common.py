# SPDX-License-Identifier: GPL-2.0
"""What every subcommand shares: exit statuses, constants, the one-line
error, where /proc and /sys are, and reading files with errors mapped to
those one-line errors."""

import os

PROG = "vforkacct"
# The version `vforkacct --version` prints: dkms.conf's PACKAGE_VERSION,
# which the installed CLI cannot read (it is not installed beside it).
# scripts/tests/test_cli.py checks that the two agree.
VERSION = "0.1"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOMOD, EXIT_NOTROOT = 0, 1, 2, 3, 4
EXIT_INTR = 130

# The module prints sizes in kB; faults count pages of this size.
PAGE_KB = max(1, os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4
LIMIT_MAX_KB = 1 << 50          # the module refuses more
LOG_SIZE_MIN, LOG_SIZE_MAX = 16, 1048576

# "Fast exec": a fork child that exec'd within this many milliseconds did
# not need its parent's copy; `report` (spawn candidates, --prompt-ms) and
# `watch` (the SPAWN? column) use the same threshold.
FAST_EXEC_MS = 50
PROMPT_MS = FAST_EXEC_MS        # the old name, kept for scripts

PKG_DIR = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(PKG_DIR))     # the checkout


class CliError(Exception):
    """An error reported as one line on stderr, with an exit status."""

    def __init__(self, msg, code=EXIT_ERROR):
        super().__init__(msg)
        self.code = code


# ------------------------------------------------------------------ paths

def proc_path(*parts):
    return os.path.join(os.environ.get("VFA_PROC_ROOT", "/proc"), *parts)


def sys_path(*parts):
    return os.path.join(os.environ.get("VFA_SYS_ROOT", "/sys"), *parts)


def param_dir():
    return sys_path("module", "vforkacct", "parameters")


def module_loaded():
    return os.path.isdir(proc_path("vforkacct"))


def need_root(what):
    if os.geteuid() != 0:
        raise CliError("not root: %s needs root" % what, EXIT_NOTROOT)


def not_loaded_error():
    return CliError("module not loaded (no %s): run `vforkacct load`"
                    % proc_path("vforkacct"), EXIT_NOMOD)


def need_module():
    if not module_loaded():
        raise not_loaded_error()


def open_text(path, what=None):
    """Opens a file for reading text; maps the usual failures to one-line
    errors (exit 4 for a permission problem, 3 for a missing module file)."""
    try:
        return open(path, "r", encoding="ascii", errors="replace")
    except PermissionError:
        raise CliError("not root: cannot read %s%s" % (
            path, " (" + what + ")" if what else ""), EXIT_NOTROOT)
    except FileNotFoundError:
        if path.startswith(proc_path("vforkacct")) and not module_loaded():
            raise not_loaded_error()
        raise CliError("cannot read %s: no such file" % path)
    except IsADirectoryError:
        raise CliError("cannot read %s: a directory" % path)
    except OSError as e:
        raise CliError("cannot read %s: %s" % (path, e.strerror or e))


def read_text(path, what=None):
    """A whole (small) file as text, errors as open_text()."""
    with open_text(path, what) as f:
        try:
            return f.read()
        except OSError as e:
            raise CliError("cannot read %s: %s" % (path, e.strerror or e))


def can_read(path):
    """True when path can be opened for reading (root-only files as non-root
    say no)."""
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
