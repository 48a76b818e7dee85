# SPDX-License-Identifier: GPL-2.0
"""`vforkacct plot`: commit over time against the limit, and touched
against charged, drawn by gnuplot.  The log is streamed into gnuplot's
data files, never held in memory."""

import os
import shutil
import subprocess
import tempfile

from .args import input_opts
from .common import EXIT_OK, PAGE_KB, CliError
from .parse import (ALLOWED, CHARGE, COMMITTED, FAULTS, KIND, OUTCOME, TIME,
                    VERDICT, forks_path, load_summary, open_forks)

COLOURS = {"ok": "#1a9850", "fail": "#d73027", "unknown": "#808080"}


def add_parser(sub):
    sp = sub.add_parser(
        "plot", help="a two-panel PNG drawn with gnuplot",
        description="Two panels, drawn by gnuplot (pngcairo, else png): the "
        "system commit at each fork (commit before it + its charge) over "
        "time against the model's threshold, each fork coloured by verdict; "
        "and, for fork children that exec'd, pages touched before exec "
        "(faults x page size) against the charge, log scales.")
    sp.add_argument("out", metavar="OUT.png")
    input_opts(sp)
    sp.add_argument("--keep", action="store_true",
                    help="keep the gnuplot script and data (path printed)")
    sp.set_defaults(func=run)


def gnuplot_terminal(gp):
    try:
        p = subprocess.run([gp, "-e", "print GPVAL_TERMINALS"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True,
                           timeout=60)
        terms = p.stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        terms = []
    if "pngcairo" in terms:
        return "pngcairo size 1100,1000 font 'sans,10'"
    if "png" in terms:
        return "png size 1100,1000"
    raise CliError("gnuplot has neither a pngcairo nor a png terminal")


def gp_quote(s):
    return "'" + s.replace("'", "''") + "'"


class DataFiles:
    """gnuplot data files in a directory, opened on first write."""

    def __init__(self, d):
        self.d = d
        self.files = {}
        self.counts = {}

    def write(self, name, line):
        f = self.files.get(name)
        if f is None:
            f = self.files[name] = open(os.path.join(self.d, name), "w")
            self.counts[name] = 0
        f.write(line)
        self.counts[name] += 1

    def close(self):
        for f in self.files.values():
            f.close()

    def path(self, name):
        return gp_quote(os.path.join(self.d, name))


def write_data(records, data):
    """One pass: the series of both panels.  Returns (forks, would-fail)."""
    t0 = None
    forks = fails = 0
    for r in records:
        if t0 is None:
            t0 = r[TIME]
        if r[KIND] != "fork" or r[CHARGE] is None:
            continue
        forks += 1
        v = r[VERDICT] if r[VERDICT] in COLOURS else "unknown"
        fails += v == "fail"
        t = (r[TIME] - t0) / 1e9
        data.write("allowed.dat", "%.6f %.3f\n" % (t, r[ALLOWED] / 1024.0))
        data.write("p1-%s.dat" % v, "%.6f %.3f\n" % (
            t, (r[COMMITTED] + r[CHARGE]) / 1024.0))
        if r[OUTCOME] == "exec" and r[CHARGE] > 0 and r[FAULTS] is not None:
            data.write("p2-%s.dat" % v, "%d %d\n" % (
                r[CHARGE], max(1, r[FAULTS]) * PAGE_KB))
    return forks, fails


def plot_script(data, forks, fails, summary, out, term):
    """The gnuplot script for `plot`, over the data files written."""
    n = data.counts
    g = ["set terminal " + term, "set output " + gp_quote(out),
         "set multiplot layout 2,1 title 'vforkacct: %d forks, %d would fail "
         "under strict overcommit'" % (forks, fails)]
    # Panel 1: commit over time.
    g += ["set title 'system commit at each fork (commit before + charge) "
          "against the model threshold'",
          "set xlabel 'time since the first record (s)'",
          "set ylabel 'MiB'", "set key outside right top", "set grid",
          "set format y '%.0f'"]
    plots = []
    if forks:
        plots.append(data.path("allowed.dat") + " using 1:2 with steps lw 2 "
                     "lc rgb '#4575b4' title 'threshold (allowed)'")
        for v in ("ok", "fail", "unknown"):
            name = "p1-%s.dat" % v
            if name in n:
                plots.append(data.path(name) + " using 1:2 with points pt 7 "
                             "ps 1.2 lc rgb '%s' title 'fork %s (%d)'"
                             % (COLOURS[v], v, n[name]))
        if summary and summary.get("limit_kb"):
            plots.append("%.3f with lines dt 2 lc rgb '#000000' title "
                         "'limit %d kB'" % (summary["limit_kb"] / 1024.0,
                                            summary["limit_kb"]))
    if plots:
        g.append("plot " + ", \\\n     ".join(plots))
    else:
        g += ["set xrange [0:1]", "set yrange [0:1]",
              "set label 1 'no fork in the log' at 0.5,0.5 center",
              "plot NaN notitle", "unset label 1"]
    # Panel 2: touched against charged.
    g += ["set title 'fork children that exec''d: touched before exec "
          "(faults x %d kB) against charge'" % PAGE_KB,
          "set xlabel 'charge (kB)'", "set ylabel 'touched before exec (kB)'",
          "set logscale xy", "set format x '10^{%L}'", "set format y '10^{%L}'",
          "set autoscale"]
    plots = []
    for v in ("ok", "fail", "unknown"):
        name = "p2-%s.dat" % v
        if name in n:
            plots.append(data.path(name) + " using 1:2 with points pt 7 ps 1.2 "
                         "lc rgb '%s' title '%s (%d)'" % (COLOURS[v], v, n[name]))
    if plots:
        plots.append("x with lines dt 2 lc rgb '#000000' title 'touched = charged'")
        g.append("plot " + ", \\\n     ".join(plots))
    else:
        g += ["set xrange [1:10]", "set yrange [1:10]",
              "set label 1 'no fork child exec''d' at 3,3 center",
              "plot NaN notitle"]
    g += ["unset multiplot", "set output"]
    return "\n".join(g) + "\n"


def run(args):
    gp = shutil.which("gnuplot")
    if not gp:
        raise CliError("gnuplot not found (install gnuplot-nox: scripts/deps)")
    summary = load_summary(args)
    path = forks_path(args)
    if path is None:
        raise CliError("plot draws the log: give --forks FILE with --summary FILE")
    out = os.path.abspath(args.out)
    d = os.path.dirname(out)
    if not os.path.isdir(d):
        raise CliError("cannot write %s: no directory %s" % (args.out, d))
    tmp = tempfile.mkdtemp(prefix="vforkacct-plot.")
    try:
        data = DataFiles(tmp)
        try:
            with open_forks(path, (TIME, CHARGE, COMMITTED, ALLOWED,
                                    FAULTS)) as reader:
                forks, fails = write_data(reader, data)
        finally:
            data.close()
        script = plot_script(data, forks, fails, summary, out,
                             gnuplot_terminal(gp))
        sp = os.path.join(tmp, "plot.gp")
        with open(sp, "w") as f:
            f.write(script)
        p = subprocess.run([gp, sp], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        errs = [line for line in p.stdout.splitlines() if line.strip()]
        if p.returncode != 0 or not os.path.isfile(out):
            raise CliError("gnuplot failed (script %s): %s" % (
                sp, errs[-1] if errs else "exit %d" % p.returncode))
    finally:
        if args.keep:
            print("gnuplot script and data kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("wrote %s (%d bytes): %d forks" % (args.out, os.path.getsize(out), forks))
    return EXIT_OK
