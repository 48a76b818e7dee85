# SPDX-License-Identifier: GPL-2.0
"""Reading what the module and the kernel print, in one place:
/proc/meminfo, /proc/vforkacct/summary and /proc/vforkacct/forks (streamed:
a 1,048,576-record log is never held in memory), and where each comes
from (live /proc or captured files)."""

import contextlib
import re

from .common import (CliError, can_read, need_module, open_text, proc_path,
                     read_text)


# ------------------------------------------------------------ meminfo

def parse_meminfo(text, where="meminfo"):
    """/proc/meminfo as {name: kB (int)}."""
    mem = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$", line)
        if m:
            mem[m.group(1)] = int(m.group(2))
    for k in ("MemTotal", "SwapTotal"):
        if k not in mem:
            raise CliError("%s has no %s line" % (where, k))
    return mem


def read_meminfo(path=None):
    path = path or proc_path("meminfo")
    return parse_meminfo(read_text(path), path)


def read_sysctl_int(name):
    """/proc/sys/vm/NAME as an int."""
    path = proc_path("sys", "vm", name)
    s = read_text(path).strip()
    if not re.match(r"^\d+$", s):
        raise CliError("%s: not a number: %r" % (path, s[:40]))
    return int(s)


# ------------------------------------------------------------ summary

def parse_summary(text):
    """summary as {key: value}: sizes (`N kB`) under `NAME_kb` as int,
    other numbers as int, anything else as str."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = re.match(r"^\s*([A-Za-z0-9_]+):\s*(\S+)(\s+kB)?\s*$", line)
        if not m:
            raise CliError("summary line %d is not `name: value`: %r"
                           % (n, line[:60]))
        name, val, kb = m.group(1), m.group(2), m.group(3)
        if kb:
            out[name + "_kb"] = int(val) if re.match(r"^-?\d+$", val) else val
        elif re.match(r"^-?\d+$", val):
            out[name] = int(val)
        else:
            out[name] = val
    if "limit_kb" not in out:
        raise CliError("summary has no `limit:` line: not a vforkacct summary?")
    return out


# ------------------------------------------------------------ comm

def unescape_comm(s):
    """Undoes the module's \\ooo escaping; returns text (bytes that are not
    UTF-8 come back as \\xNN)."""
    if "\\" not in s:
        return s
    b = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8) & 0xff]),
               s.encode("latin-1", "replace"))
    return b.decode("utf-8", "backslashreplace")


def escape_comm(b):
    """Escapes a raw comm (bytes) as the module does: blanks, backslash and
    unprintable bytes as \\ooo."""
    return "".join(chr(c) if 0x21 <= c <= 0x7e and c != 0x5c else "\\%03o" % c
                   for c in b)


# ------------------------------------------------------------ forks

# The columns every forks file has, in order; then the ones added later
# (older captures lack them: read as unknown).  Readers find columns by
# the header's names and ignore columns they do not know.
FORKS_HEADER = ("seq time_ns ppid pid comm kind charge_kB committed_kB "
                "allowed_kB verdict outcome life_us faults exec_comm").split()
FORKS_OPTIONAL = ["uid", "cgroup_id", "noreserve_kB"]
COLUMNS = FORKS_HEADER + FORKS_OPTIONAL

# A record is a list in COLUMNS order: numbers as int, `-` as None.
(SEQ, TIME, PPID, PID, COMM, KIND, CHARGE, COMMITTED, ALLOWED, VERDICT,
 OUTCOME, LIFE, FAULTS, EXEC, UID, CGROUP, NORESERVE) = range(len(COLUMNS))

KINDS = ("fork", "vfork", "vmclone")
OUTCOMES = ("running", "exec", "exit", "refused")
_STRICT = (SEQ, TIME, PPID, COMMITTED, ALLOWED)         # never `-`
_MAY_BE_DASH = (PID, CHARGE, LIFE, FAULTS, UID, CGROUP, NORESERVE)
NUMBERS = _STRICT + _MAY_BE_DASH


class ForksReader:
    """The records of a forks file, one at a time, as lists indexed by SEQ,
    COMM, CHARGE, ... (see COLUMNS).  `lines` is an iterator of lines (an
    open file streams); the first must be the header.

    Every record is checked for its field count, kind and outcome.  The
    numeric columns in `numbers` (default: all) are converted to int (`-`
    to None where a column may be `-`) and checked; the others stay text,
    unchecked: a reader of a whole log converts only what it uses, which
    is most of the time `report` takes on 1,048,576 records."""

    def __init__(self, lines, name="forks", numbers=None):
        self.name = name
        self.lines = iter(lines)
        names = next(self.lines, "").split()
        missing = [c for c in FORKS_HEADER if c not in names]
        if missing:
            raise CliError("%s: the first line is not the forks header "
                           "(`seq time_ns ppid ...`%s)" % (
                               name, "; no " + " ".join(missing)
                               if names and len(missing) < len(FORKS_HEADER)
                               else ""))
        self.width = len(names)
        self.index = [names.index(c) if c in names else None for c in COLUMNS]
        self.has_uid = self.index[UID] is not None
        self.has_cgroup = self.index[CGROUP] is not None
        # The usual case: the known columns come first, in order.
        k = len(FORKS_HEADER) + sum(1 for c in FORKS_OPTIONAL if c in names)
        self.in_order = names[:k] == COLUMNS[:k]
        self.pad = ["-"] * (len(COLUMNS) - k)
        self.keep = k
        self.line_no = 1
        want = set(NUMBERS if numbers is None else numbers)
        self.strict = tuple(i for i in _STRICT if i in want)
        self.dash = tuple(i for i in _MAY_BE_DASH if i in want)

    def record(self, t, n):
        """Tokens of line n (already split) to a record, checked."""
        if len(t) != self.width:
            raise CliError("%s line %d has %d fields, want %d"
                           % (self.name, n, len(t), self.width))
        if self.in_order:
            if len(t) > self.keep:
                del t[self.keep:]       # columns this reader does not know
            if self.pad:
                t.extend(self.pad)      # an older file: uid, cgroup_id unknown
        else:
            t = [t[i] if i is not None else "-" for i in self.index]
        try:
            for i in self.strict:
                t[i] = int(t[i])
            for i in self.dash:
                v = t[i]
                t[i] = None if v == "-" else int(v)
        except ValueError:
            raise self._number_error(t, n)
        if t[KIND] not in KINDS:
            raise CliError("%s line %d: unknown kind %r" % (self.name, n, t[KIND]))
        if t[OUTCOME] not in OUTCOMES:
            raise CliError("%s line %d: unknown outcome %r"
                           % (self.name, n, t[OUTCOME]))
        if t[EXEC] == "-":
            t[EXEC] = None
        return t

    def fail_line(self, line, n):
        """Raises the error record() finds in line n."""
        self.record(line.split(), n)
        raise CliError("%s line %d: a bad record" % (self.name, n))

    def _number_error(self, t, n):
        for i in self.strict + self.dash:
            v = t[i]
            if isinstance(v, int) or v is None:
                continue
            if v == "-" and i in _MAY_BE_DASH:
                continue
            if v == "-":
                return CliError("%s line %d: %s is `-`" % (self.name, n, COLUMNS[i]))
            try:
                int(v)
            except ValueError:
                return CliError("%s line %d: %s is not a number: %r"
                                % (self.name, n, COLUMNS[i], v[:40]))
        return CliError("%s line %d: a bad number" % (self.name, n))

    def __iter__(self):
        """The records.  The usual layout (known columns first, in order,
        nothing to pad) is converted inline, as record() would."""
        record = self.record
        n = self.line_no
        if not (self.in_order and not self.pad):
            for line in self.lines:
                n += 1
                t = line.split()
                if t:
                    yield record(t, n)
            self.line_no = n
            return
        width, keep = self.width, self.keep
        strict, dash = self.strict, self.dash
        kinds, outcomes = KINDS, OUTCOMES
        for line in self.lines:
            n += 1
            t = line.split()
            if len(t) != width:
                if t:
                    self.fail_line(line, n)
                continue
            try:
                for i in strict:
                    t[i] = int(t[i])
                for i in dash:
                    v = t[i]
                    t[i] = None if v == "-" else int(v)
            except ValueError:
                self.fail_line(line, n)
            if t[KIND] not in kinds or t[OUTCOME] not in outcomes:
                self.fail_line(line, n)
            if t[EXEC] == "-":
                t[EXEC] = None
            if width > keep:
                del t[keep:]
            yield t
        self.line_no = n


def row_dict(r):
    """A record as a dict keyed by the column names (`-` as None)."""
    return dict(zip(COLUMNS, r))


def parse_forks(text):
    """A whole forks text as a list of dicts (keys as the header, plus uid
    and cgroup_id, None when the file has no such column)."""
    return [row_dict(r) for r in ForksReader(text.splitlines())]


# ------------------------------------------------------------ inputs

def captured(args):
    """True when the command reads captured files, not the live module."""
    return (getattr(args, "forks", None) is not None
            or getattr(args, "summary", None) is not None)


def load_summary(args):
    """The summary the command judges with: --summary FILE, else the live
    one, except that a captured log (--forks FILE) is never paired with
    the live summary (None then)."""
    if getattr(args, "summary", None) is not None:
        return parse_summary(read_text(args.summary))
    if getattr(args, "forks", None) is not None:
        return None
    need_module()
    return parse_summary(read_text(proc_path("vforkacct", "summary")))


def forks_path(args):
    """The forks file to read, or None when there is none to read: a
    captured summary without --forks has no log."""
    if getattr(args, "forks", None) is not None:
        return args.forks
    if getattr(args, "summary", None) is not None:
        return None
    return proc_path("vforkacct", "forks")


def live_forks_unreadable(args):
    """True when the command reads the live module and its root-only log
    cannot be opened (not root): it then does what the summary allows."""
    path = forks_path(args)
    if path is None or getattr(args, "forks", None) is not None:
        return False
    need_module()
    return not can_read(path)


@contextlib.contextmanager
def open_forks(path, numbers=None):
    """A ForksReader streaming the file at path (numbers: as ForksReader)."""
    f = open_text(path, "it is root only; or give --forks FILE")
    try:
        yield ForksReader(f, path, numbers)
    except BrokenPipeError:
        raise
    except OSError as e:
        raise CliError("cannot read %s: %s" % (path, e.strerror or e))
    finally:
        f.close()
