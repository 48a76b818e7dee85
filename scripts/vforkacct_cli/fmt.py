# SPDX-License-Identifier: GPL-2.0
"""Text output: one style for sizes (human units, or exact kB with --kb),
durations, percentages, tables, and help wrapped to the terminal."""

import argparse
import math
import re
import shutil
import textwrap
import time

_exact_kb = False


def set_exact_kb(on):
    """--kb: sizes as the module prints them (`614784 kB`) instead of
    human units (`600.4 MiB`)."""
    global _exact_kb
    _exact_kb = bool(on)


def hkb(kb):
    """A size given in kB, in the one style of the text output:
    `396 KiB`, `600.4 MiB`, `1.41 GiB` (or `614784 kB` with --kb)."""
    if kb is None:
        return "-"
    if _exact_kb:
        return "%d kB" % kb
    if abs(kb) < 1024:
        return "%d KiB" % kb
    v = kb / 1024.0
    for unit, digits in (("MiB", 1), ("GiB", 2), ("TiB", 2)):
        if abs(round(v, digits)) < 1024 or unit == "TiB":
            return "%.*f %s" % (digits, v, unit)
        v /= 1024.0
    return "%.2f TiB" % v        # not reached


def hus(us):
    """A duration given in microseconds: `950 us`, `60.2 ms`, `12.3 s`."""
    if us is None:
        return "-"
    if us < 1000:
        return "%d us" % us
    if us < 10 * 1000 * 1000:
        return "%.1f ms" % (us / 1000.0)
    return "%.1f s" % (us / 1e6)


def percent(share):
    """A share (0..1, or more) as a percentage with two significant digits
    below 10% and never an exponent: `100%`, `75%`, `2.5%`, `0.014%`."""
    if share is None:
        return "-"
    v = 100.0 * share
    if v == 0:
        return "0%"
    if v >= 9.95:
        return "%.0f%%" % v
    if v >= 0.995:
        return "%.1f%%" % v
    if v < 0.0001:
        return "<0.0001%"
    return "%.*f%%" % (1 - math.floor(math.log10(v)), v)


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def when(ts):
    """Seconds since the epoch as local time with its zone."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))


def table(headers, rows, right=None):
    """Columns padded to their widest cell; right-aligned columns are the
    indexes in `right` (default: all but the first)."""
    w = [len(h) for h in headers]
    for r in rows:
        w = [max(a, len(str(b))) for a, b in zip(w, r)]
    right = right if right is not None else set(range(1, len(headers)))

    def fmt(r):
        return "  ".join((str(c).rjust(w[i]) if i in right else str(c).ljust(w[i]))
                         for i, c in enumerate(r)).rstrip()
    return "\n".join([fmt(headers)] + [fmt(r) for r in rows])


class HelpFormatter(argparse.HelpFormatter):
    """Help wrapped to the terminal (at most 100 columns): descriptions and
    epilogs are paragraphs separated by blank lines, wrapped; indented
    lines (tables, examples) are kept as written."""

    def __init__(self, prog, **kw):
        kw.setdefault("width", max(40, min(shutil.get_terminal_size().columns,
                                           100) - 2))
        kw.setdefault("max_help_position", 28)
        super().__init__(prog, **kw)

    def _fill_text(self, text, width, indent):
        out, para = [], []

        def flush():
            if para:
                out.append(textwrap.fill(" ".join(para), width,
                                         initial_indent=indent,
                                         subsequent_indent=indent,
                                         break_on_hyphens=False))
                para.clear()
        for line in text.splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif re.match(r"^\s", line):
                flush()
                out.append(indent + line)
            else:
                para.append(line.strip())
        flush()
        return "\n".join(out)
