# SPDX-License-Identifier: GPL-2.0
"""Helpers shared by the experiments in scripts/experiments/ (stdlib only).

The experiments run as root inside the test VM (scripts/vm), drive the
module through scripts/vforkacct, and reuse its parsing and statistics.
"""

import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(TOP, "scripts", "vforkacct")
OUT = os.path.join(TOP, ".build", "experiments")
BIGPARENT = os.path.join(TOP, ".build", "tools", "bigparent")


sys.dont_write_bytecode = True


def _load_cli():
    loader = importlib.machinery.SourceFileLoader("vforkacct_cli", CLI)
    spec = importlib.util.spec_from_loader("vforkacct_cli", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


V = _load_cli()


def die(msg):
    sys.stderr.write("%s: %s\n" % (os.path.basename(sys.argv[0]), msg))
    sys.exit(1)


def setup():
    if os.geteuid() != 0:
        die("run as root in the test VM: scripts/vm -- %s"
            % os.path.relpath(sys.argv[0], TOP))
    os.makedirs(OUT, exist_ok=True)
    os.chdir(TOP)


def run(cmd, check=True, **kw):
    """Runs cmd (a list, or a string for sh -c); returns its stdout."""
    if isinstance(cmd, str):
        cmd = ["sh", "-c", cmd]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, **kw)
    if check and p.returncode != 0:
        die("%s failed (exit %d): %s" % (" ".join(cmd)[:80], p.returncode,
                                         p.stdout.strip()[-300:]))
    return p.stdout


def cli(*args, check=True):
    return run([sys.executable, CLI] + list(args), check=check)


def reload(*args):
    """Unloads the module if loaded and loads it with `vforkacct load ARGS`."""
    if V.module_loaded():
        cli("unload")
    return cli("load", *args).strip()


def reset():
    with open("/proc/vforkacct/control", "w") as f:
        f.write("reset\n")


def meminfo():
    return V.parse_meminfo(open("/proc/meminfo").read())


def sysctl(name, value=None):
    path = "/proc/sys/vm/" + name
    if value is not None:
        with open(path, "w") as f:
            f.write("%s\n" % value)
    return int(open(path).read())


def capture(name):
    """Saves the module's summary and forks as .build/experiments/NAME.*;
    returns (summary, rows)."""
    forks = open("/proc/vforkacct/forks").read()
    summary = open("/proc/vforkacct/summary").read()
    for ext, text in (("forks", forks), ("summary", summary)):
        with open(os.path.join(OUT, "%s.%s" % (name, ext)), "w") as f:
            f.write(text)
    return V.parse_summary(summary), V.parse_forks(forks)


def ensure_bigparent():
    src = os.path.join(TOP, "scripts", "tools", "bigparent.c")
    if (not os.path.exists(BIGPARENT)
            or os.path.getmtime(src) > os.path.getmtime(BIGPARENT)):
        os.makedirs(os.path.dirname(BIGPARENT), exist_ok=True)
        run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", BIGPARENT, src])
    return BIGPARENT


def gnuplot(script, out):
    """Runs a gnuplot script body with the png terminal prepended."""
    gp = shutil.which("gnuplot")
    if not gp:
        print("(no gnuplot: %s not drawn)" % out)
        return False
    term = V.gnuplot_terminal(gp).replace("size 1100,1000", "size 1000,650")
    d = tempfile.mkdtemp(prefix="vfa-exp.")
    try:
        path = os.path.join(d, "plot.gp")
        with open(path, "w") as f:
            f.write("set terminal %s\nset output %s\n%s\nset output\n"
                    % (term, V.gp_quote(out), script))
        p = subprocess.run([gp, path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if p.returncode != 0:
            print("gnuplot failed: %s" % p.stdout.strip()[-300:])
            return False
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("plot: %s (%d bytes)" % (os.path.relpath(out, TOP), os.path.getsize(out)))
    return True


def datafile(name, lines):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return V.gp_quote(path)


# ------------------------------------------------------------ workload

PROJECT_C = r'''
#include <stdio.h>
#include "config.h"
#include "proj.h"

int f%(i)d(int x)
{
	int s = 0, k;

	for (k = 0; k < x; k++)
		s += k * %(i)d + HAVE_STDLIB_H;
	return s;
}
'''

PROJECT_MAIN = r'''
#include <stdio.h>
#include "config.h"
#include "proj.h"

int main(void)
{
	printf("%%d\n", %(calls)s);
	return 0;
}
'''

PROJECT_MK = '''\
CC ?= cc
CFLAGS ?= -O1 -Wall
SRCS := $(wildcard f*.c) main.c
OBJS := $(SRCS:.c=.o)

proj: $(OBJS)
\t$(CC) -o $@ $(OBJS)

%.o: %.c config.h proj.h
\t$(CC) $(CFLAGS) -c -o $@ $<

config.h: configure
\tbash ./configure > config.h

clean:
\trm -f proj *.o config.h
'''

# A configure-like script: the classic fork-heavy shell code.
PROJECT_CONFIGURE = '''\
#!/bin/bash
for h in stdio.h stdlib.h string.h unistd.h sys/mman.h spawn.h nosuch.h; do
	name=$(echo "$h" | tr 'a-z./' 'A-Z__')
	if printf '#include <%s>\\n' "$h" | ${CC:-cc} -E - > /dev/null 2>&1; then
		echo "#define HAVE_$name 1"
	else
		echo "/* no $h */"
	fi
done
echo "#define BUILD_HOST \\"$(uname -n | sed 's/"//g')\\""
echo "#define BUILD_FILES $(ls *.c | wc -l)"
'''

WORKLOAD_SH = '''\
#!/bin/sh
# The experiments' workload: a bash configure + make -j2 of a tiny C project,
# three times, plus the usual shell and perl glue.
set -e
cd "$1"
for round in 1 2 3; do
	make -s clean
	make -s -j2 proj
	./proj > /dev/null
	n=$(ls *.o | wc -l)
	for f in f*.c; do grep -c return "$f" > /dev/null; done
	perl -e 'for my $f (glob "f*.c") { system("cmp", "-s", $f, $f) == 0 or die }'
	echo "round $round: $n objects, $(wc -c < proj) bytes"
done
'''


def make_project(nfiles=6):
    d = tempfile.mkdtemp(prefix="vfa-proj.", dir="/tmp")
    for i in range(nfiles):
        with open(os.path.join(d, "f%d.c" % i), "w") as f:
            f.write(PROJECT_C % {"i": i})
    with open(os.path.join(d, "proj.h"), "w") as f:
        f.write("".join("int f%d(int x);\n" % i for i in range(nfiles)))
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(PROJECT_MAIN % {"calls": " + ".join("f%d(%d)" % (i, i + 3)
                                                    for i in range(nfiles))})
    for name, text in (("Makefile", PROJECT_MK), ("configure", PROJECT_CONFIGURE),
                       ("workload.sh", WORKLOAD_SH)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


def run_workload(d):
    """Runs the workload in project dir d; returns its output."""
    return run(["sh", os.path.join(d, "workload.sh"), d])


def dist(values):
    """p10/p50/p90/p99/max (nearest rank) of a list, None-safe."""
    return [V.pct(values, p) for p in (10, 50, 90, 99, 100)]
