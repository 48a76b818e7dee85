#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host-side tests of scripts/vforkacct (python unittest, stdlib only).

    python3 scripts/tests/test_cli.py [-v] [TestClass[.test_name] ...]

Checks argument parsing and exit codes, `report` (text and --json, by
comm, cgroup, unit and uid), what-if verdicts, `advise`, `export`, `watch`
(poll, and --trace with a stand-in for bpftrace), the package layout and
the bash completion against captured data in scripts/tests/data/:

  forks, summary, meminfo   captured in the test VM (data/capture
                            regenerates them); an older module's log, with
                            no uid/cgroup_id columns and no load/reset time
  forks-attr, summary-attr  hand-made from a host with services, docker
                            and kubernetes containers and a user session:
                            uid/cgroup_id columns, load_time/reset_time,
                            seq 100..122 with 110..114 missing
  cgroups                   that host's cgroup tree, as `find
                            /sys/fs/cgroup -type d -printf '%i %P\\n'`
                            prints it (id 9999 is not in it)

The expected numbers were worked out by hand from those files.  Ends with
`N passed, N failed, N skipped`; exits 1 when anything failed.

Nothing here needs the module or root: /proc and /sys are replaced by
fake trees (VFA_PROC_ROOT, VFA_SYS_ROOT), and the not-root checks run as
nobody via setpriv when this runs as root (skipped when that cannot be
done).
"""

import importlib.machinery
import importlib.util
import io
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CLI = os.path.join(TOP, "scripts", "vforkacct")
COMPLETION = os.path.join(TOP, "scripts", "completion", "vforkacct.bash")
DATA = os.path.join(HERE, "data")
FORKS = os.path.join(DATA, "forks")
SUMMARY = os.path.join(DATA, "summary")
MEMINFO = os.path.join(DATA, "meminfo")
AFORKS = os.path.join(DATA, "forks-attr")
ASUMMARY = os.path.join(DATA, "summary-attr")
CGMAP = os.path.join(DATA, "cgroups")
ATTR = ["--forks", AFORKS, "--summary", ASUMMARY, "--cgroup-map", CGMAP]

DOCKER_A = "a3f1c2d4e5b6978812345678901234567890abcdefabcdefabcdef0123456789"

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(TOP, "scripts"))

from vforkacct_cli import attrib as A            # noqa: E402
from vforkacct_cli import fmt as F               # noqa: E402
from vforkacct_cli import parse as P             # noqa: E402
from vforkacct_cli import stats as S             # noqa: E402
from vforkacct_cli import watch as W             # noqa: E402


def load_cli():
    """scripts/vforkacct loaded as a module, as the experiments do."""
    loader = importlib.machinery.SourceFileLoader("vforkacct_launcher", CLI)
    spec = importlib.util.spec_from_loader("vforkacct_launcher", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


V = load_cli()


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class FakeProc:
    """A directory standing in for /proc: meminfo, sys/vm/*, and optionally
    vforkacct/{summary,forks}."""

    def __init__(self, module=False, meminfo=MEMINFO, forks_mode=0o400,
                 forks=FORKS, summary=SUMMARY):
        self.dir = tempfile.mkdtemp(prefix="vfa-test-proc.")
        os.chmod(self.dir, 0o755)
        shutil.copy(meminfo, os.path.join(self.dir, "meminfo"))
        vm = os.path.join(self.dir, "sys", "vm")
        os.makedirs(vm)
        for name, val in (("admin_reserve_kbytes", 8192),
                          ("user_reserve_kbytes", 62560),
                          ("overcommit_memory", 0), ("overcommit_ratio", 50),
                          ("overcommit_kbytes", 0)):
            write(os.path.join(vm, name), "%d\n" % val)
        for d in (self.dir, os.path.join(self.dir, "sys"), vm):
            os.chmod(d, 0o755)
        if module:
            m = os.path.join(self.dir, "vforkacct")
            os.makedirs(m)
            os.chmod(m, 0o755)
            shutil.copy(summary, os.path.join(m, "summary"))
            shutil.copy(forks, os.path.join(m, "forks"))
            os.chmod(os.path.join(m, "summary"), 0o444)
            os.chmod(os.path.join(m, "forks"), forks_mode)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(args, proc=None, prefix=(), python=None, stdin=None, env=None,
        sys_root=None, cli=CLI, cwd=None):
    """Runs the CLI (scripts/vforkacct, or cli); returns (exit status,
    stdout, stderr)."""
    e = dict(os.environ)
    e["VFA_PROC_ROOT"] = proc.dir if proc else "/nonexistent-vfa-proc"
    e["VFA_SYS_ROOT"] = sys_root or (proc.dir if proc else "/nonexistent-vfa-sys")
    e["TZ"] = "UTC"
    e.update(env or {})
    p = subprocess.run(list(prefix) + [python or sys.executable, cli] + list(args),
                       stdin=subprocess.DEVNULL if stdin is None else stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=e, timeout=120, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


class CliCase(unittest.TestCase):
    maxDiff = None

    def assertOneLineError(self, rc, err, code):
        self.assertEqual(rc, code, "exit status (stderr: %r)" % err)
        self.assertNotIn("Traceback", err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "stderr is not one line: %r" % err)
        self.assertTrue(lines[0].startswith("vforkacct: "), lines[0])

    def ok(self, args, **kw):
        rc, out, err = run(args, **kw)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Traceback", err)
        return out


def nobody_prefix():
    """A command prefix that runs as nobody, and a python nobody can run."""
    if os.geteuid() != 0:
        return (), sys.executable
    setpriv = shutil.which("setpriv")
    py = "/usr/bin/python3"
    if not setpriv or not os.access(py, os.X_OK):
        return None, None
    return (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"), py


def user_of(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


# ------------------------------------------------------------- parsing

class TestUsage(CliCase):
    def test_no_subcommand(self):
        rc, out, err = run([])
        self.assertOneLineError(rc, err, 2)

    def test_unknown_subcommand(self):
        rc, out, err = run(["frobnicate"])
        self.assertOneLineError(rc, err, 2)
        self.assertIn("frobnicate", err)

    def test_unknown_option(self):
        rc, out, err = run(["report", "--bogus"])
        self.assertOneLineError(rc, err, 2)

    def test_bad_numbers(self):
        for args in (["load", "--ratio", "abc"], ["load", "--ratio", "-1"],
                     ["load", "--ratio", "1.5"], ["load", "--ratio", ""],
                     ["load", "--ratio", "0x10"], ["load", "--ratio", "1_0"],
                     ["load", "--kbytes", "0"], ["load", "--kbytes", "12k"],
                     ["load", "--limit-kb", str((1 << 50) + 1)],
                     ["sync", "--limit-kb", "0"],
                     ["load", "--log-size", "15"],
                     ["load", "--log-size", "1048577"],
                     ["report", "--prompt-ms", "x"],
                     ["report", "--ratio", "x"], ["advise", "--kbytes", "0"],
                     ["report", "--by", "pid"], ["export", "--by", "comm"],
                     ["export", "--top", "-1"], ["watch", "-p", "x"],
                     ["watch", "--interval", "0"], ["watch", "--interval", "nan"],
                     ["watch", "--hold", "-2"],
                     ["watch", "--count", "-1"], ["load", "--ratio"]):
            with self.subTest(args=args):
                rc, out, err = run(args)
                self.assertOneLineError(rc, err, 2)

    def test_exclusive(self):
        for args in (["load", "--ratio", "50", "--kbytes", "100"],
                     ["report", "--ratio", "50", "--limit-kb", "100"],
                     ["watch", "--json", "--csv"], ["watch", "--poll", "--trace"]):
            with self.subTest(args=args):
                rc, out, err = run(args)
                self.assertOneLineError(rc, err, 2)

    def test_trace_takes_no_file(self):
        rc, out, err = run(["watch", "--trace", "--forks", FORKS])
        self.assertOneLineError(rc, err, 2)

    def test_sync_has_no_log_size(self):
        rc, out, err = run(["sync", "--log-size", "100"])
        self.assertOneLineError(rc, err, 2)

    def test_plot_needs_output(self):
        rc, out, err = run(["plot"])
        self.assertOneLineError(rc, err, 2)

    SUBS = ([], ["load"], ["sync"], ["unload"], ["report"], ["advise"],
            ["export"], ["watch"], ["plot"])

    def test_help(self):
        for sub in self.SUBS:
            with self.subTest(sub=sub):
                rc, out, err = run(sub + ["--help"])
                self.assertEqual(rc, 0)
                self.assertIn("usage: vforkacct", out)
                self.assertEqual(err, "")
        rc, out, err = run(["--help"])
        self.assertIn("3 module not loaded", out)
        rc, out, err = run(["report", "--help"])
        self.assertIn("vforkacct-report/2", out)

    def test_help_wrapped(self):
        # Descriptions are wrapped to the terminal (COLUMNS), tables kept.
        for cols in (80, 100):
            for sub in self.SUBS:
                with self.subTest(sub=sub, cols=cols):
                    out = self.ok(sub + ["--help"], env={"COLUMNS": str(cols)})
                    long = [l for l in out.splitlines() if len(l) > cols]
                    self.assertEqual(long, [])
        # Never wider than 100 columns, on any terminal.
        out = self.ok(["watch", "--help"], env={"COLUMNS": "300"})
        self.assertLessEqual(max(len(l) for l in out.splitlines()), 100)
        self.assertIn("strict-overcommit", self.ok(["--help"],
                                                   env={"COLUMNS": "80"}))


class TestModuleNotLoaded(CliCase):
    def setUp(self):
        self.proc = FakeProc(module=False)

    def tearDown(self):
        self.proc.close()

    def test_exit_3(self):
        for args in (["report"], ["report", "--json"], ["advise"], ["export"],
                     ["report", "--by", "unit"],
                     ["plot", os.path.join(self.proc.dir, "x.png")],
                     ["watch", "--count", "1"], ["watch", "--poll", "--count", "1"]):
            with self.subTest(args=args):
                rc, out, err = run(args, self.proc)
                self.assertOneLineError(rc, err, 3)
                self.assertIn("not loaded", err)

    def test_unload_and_sync_exit_3_as_root(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to get past the root check")
        for args in (["unload"], ["sync"]):
            rc, out, err = run(args, self.proc)
            self.assertOneLineError(rc, err, 3)

    def test_files_need_no_module(self):
        for args in (["report", "--forks", FORKS, "--summary", SUMMARY],
                     ["export"] + ATTR, ["watch", "--forks", FORKS, "--count", "1"],
                     ["advise", "--summary", SUMMARY, "--meminfo", MEMINFO]):
            with self.subTest(args=args):
                self.ok(args, proc=self.proc)

    def test_missing_file(self):
        rc, out, err = run(["report", "--forks", "/nonexistent/forks"], self.proc)
        self.assertOneLineError(rc, err, 1)


class TestNotRoot(CliCase):
    def setUp(self):
        self.prefix, self.py = nobody_prefix()
        if self.prefix is None:
            self.skipTest("cannot run as nobody here (no setpriv or /usr/bin/python3)")
        self.proc = FakeProc(module=True, forks=AFORKS, summary=ASUMMARY)
        rc, out, err = run(["--help"], self.proc, self.prefix, self.py)
        if rc != 0:
            self.proc.close()
            self.skipTest("nobody cannot run the CLI from this checkout: %s"
                          % err.strip()[:80])

    def tearDown(self):
        self.proc.close()

    def nobody(self, args):
        return run(args, self.proc, self.prefix, self.py)

    def test_exit_4(self):
        for args in (["load"], ["unload"], ["sync"], ["watch", "--count", "1"],
                     ["watch", "--trace", "--count", "1"]):
            with self.subTest(args=args):
                rc, out, err = self.nobody(args)
                self.assertOneLineError(rc, err, 4)
                self.assertIn("root", err)

    def test_report_says_what_summary_allows(self):
        rc, out, err = self.nobody(["report"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        self.assertIn("9 forks would have FAILED", out)
        self.assertIn("Counting since the last reset, 2025-11-29 22:30:00 UTC", out)
        root = [l for l in out.splitlines() if "root" in l]
        self.assertEqual(root, [
            "The per-program table needs the fork log %s/vforkacct/forks, "
            "which is root only: run as root (or give --forks FILE)."
            % self.proc.dir])
        self.assertNotIn("\nprogram ", out)        # no table
        rc, out, err = self.nobody(["report", "--json", "--by", "unit"])
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertEqual((r["log"], r["groups"], r["by"]), (None, None, "unit"))
        self.assertIn("root only", r["note"])
        self.assertEqual(r["summary"]["would_fail"], 9)

    def test_report_whatif_from_summary(self):
        # min_safe_limit 1100756 kB: ratio 55 (1111640 kB) covers it, 50 not.
        rc, out, err = self.nobody(["report", "--ratio", "55"])
        self.assertEqual(rc, 0, err)
        self.assertIn("What if the limit were 1.06 GiB (vm.overcommit_ratio=55) "
                      "instead of 986.9 MiB: every fork seen would have passed.",
                      out)
        rc, out, err = self.nobody(["report", "--ratio", "54", "--kb"])
        self.assertIn("What if the limit were 1091428 kB (vm.overcommit_ratio=54) "
                      "instead of 1010580 kB: at least one fork seen would have "
                      "FAILED", out)

    def test_export_summary_only(self):
        rc, out, err = self.nobody(["export"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "vforkacct: the per-unit series need the root-only "
                         "%s/vforkacct/forks: exported the summary's metrics "
                         "only\n" % self.proc.dir)
        self.assertIn("vforkacct_would_fail_total 9\n", out)
        self.assertIn("vforkacct_reset_time_seconds 1764455400\n", out)
        self.assertNotIn("unit=", out)

    def test_summary_is_enough_for_advise(self):
        rc, out, err = self.nobody(["advise"])
        self.assertEqual(rc, 0, err)
        self.assertIn("sysctl -w vm.overcommit_ratio=55", out)


class TestParse(CliCase):
    def test_summary(self):
        s = V.parse_summary(read(SUMMARY))
        self.assertEqual(s["limit_kb"], 1010580)
        self.assertEqual(s["limit_source"], "param")
        self.assertEqual(s["forks"], 36)
        self.assertEqual(s["min_safe_limit_kb"], 1474728)
        self.assertEqual(s["log_size"], 256)
        s = V.parse_summary(read(ASUMMARY))
        self.assertEqual((s["load_time"], s["reset_time"]), (1764452400, 1764455400))

    def test_forks(self):
        rows = V.parse_forks(read(FORKS))
        self.assertEqual(len(rows), 42)
        self.assertEqual([r["seq"] for r in rows], list(range(42)))
        r = rows[5]
        self.assertEqual((r["comm"], r["kind"], r["charge_kB"], r["verdict"],
                          r["outcome"], r["life_us"], r["faults"], r["exec_comm"]),
                         ("python3", "fork", 723992, "fail", "exit", 9628, 201, None))
        # An older module's log: no uid or cgroup_id, read as unknown.
        self.assertEqual((r["uid"], r["cgroup_id"]), (None, None))

    def test_forks_with_attribution(self):
        rows = V.parse_forks(read(AFORKS))
        self.assertEqual(len(rows), 18)
        r = [x for x in rows if x["seq"] == 116][0]
        self.assertEqual((r["comm"], r["uid"], r["cgroup_id"]), ("java", 65534, 9999))

    def test_columns_by_name(self):
        # Columns in another order, an unknown column appended, and an
        # older layout with an unknown one after exec_comm: same records.
        base = V.parse_forks(read(AFORKS))
        lines = read(AFORKS).splitlines()
        hdr = lines[0].split()
        order = list(reversed(range(len(hdr))))
        shuffled = "\n".join(" ".join(l.split()[i] for i in order)
                             for l in lines) + "\n"
        self.assertEqual(V.parse_forks(shuffled), base)
        extra = lines[0] + " future_col\n" + "\n".join(
            l + " 42" for l in lines[1:]) + "\n"
        self.assertEqual(V.parse_forks(extra), base)
        old = "\n".join([" ".join(hdr[:14] + ["future_col"])] +
                        [" ".join(l.split()[:14] + ["7"]) for l in lines[1:]])
        rows = V.parse_forks(old)
        self.assertEqual([r["seq"] for r in rows], [r["seq"] for r in base])
        self.assertEqual({(r["uid"], r["cgroup_id"]) for r in rows}, {(None, None)})

    def test_refused_and_no_pid(self):
        text = (" ".join(V.FORKS_HEADER) + " uid cgroup_id\n"
                "7 100 1 - big fork 900 10 20 fail refused - - - 0 5\n")
        r = V.parse_forks(text)[0]
        self.assertEqual((r["pid"], r["outcome"], r["verdict"]), (None, "refused", "fail"))

    def test_escapes_running_unknown(self):
        text = (" ".join(V.FORKS_HEADER) + "\n"
                "7 100 1 2 my\\040prog fork - 10 20 unknown running - - -\n"
                "8 200 1 3 a\\134b\\303\\251 fork 8 10 20 ok exec 5 2 x\\011y\n")
        rows = V.parse_forks(text)
        self.assertIsNone(rows[0]["charge_kB"])
        self.assertIsNone(rows[0]["life_us"])
        self.assertEqual(V.unescape_comm(rows[0]["comm"]), "my prog")
        self.assertEqual(V.unescape_comm(rows[1]["comm"]), "a\\b\u00e9")
        self.assertEqual(V.escape_comm(b"a\\b\xc3\xa9 x"), "a\\134b\\303\\251\\040x")
        st = V.program_stats(rows)
        mine = [p for p in st if p["comm"] == "my prog"][0]
        self.assertEqual((mine["unknown"], mine["running"], mine["exec_share"]),
                         (1, 1, None))

    def test_bad_forks_file(self):
        d = tempfile.mkdtemp()
        h = " ".join(V.FORKS_HEADER)
        try:
            for name, text, msg in (
                    ("noheader", "1 2 3\n", "not the forks header"),
                    ("short", h + "\n1 2 3\n", "line 2 has 3 fields, want 14"),
                    ("nan", h + "\nx 1 1 2 c fork 0 1 2 ok exec 1 1 -\n",
                     "line 2: seq is not a number: 'x'"),
                    ("nan2", h + " uid cgroup_id\n"
                     "1 1 1 2 c fork 0 1 2 ok exec 1 1 - 0 5\n"
                     "2 1 1 2 c fork 0 1 2 ok exec 1 1 - 0 5x\n",
                     "line 3: cgroup_id is not a number: '5x'"),
                    ("dash", h + "\n1 1 1 2 c fork 0 - 2 ok exec 1 1 -\n",
                     "line 2: committed_kB is `-`"),
                    ("kind", h + " uid cgroup_id\n"
                     "1 1 1 2 c spoon 0 1 2 ok exec 1 1 - 0 5\n",
                     "line 2: unknown kind 'spoon'"),
                    ("empty", "", "not the forks header")):
                with self.subTest(name=name):
                    p = os.path.join(d, name)
                    write(p, text)
                    # (report converts the columns it reads: cgroup_id
                    # with --by unit)
                    rc, out, err = run(["report", "--by", "unit", "--forks", p])
                    self.assertOneLineError(rc, err, 1)
                    self.assertIn(msg, err)
            p = os.path.join(d, "badsummary")
            write(p, "hello world\n")
            rc, out, err = run(["advise", "--summary", p, "--meminfo", MEMINFO])
            self.assertOneLineError(rc, err, 1)
        finally:
            shutil.rmtree(d)

    def test_percentiles(self):
        self.assertIsNone(V.pct([], 50))
        self.assertEqual(V.pct([5], 99), 5)
        self.assertEqual(V.pct([4, 1, 3, 2], 50), 2)      # lower middle
        self.assertEqual(V.pct([1, 2, 3], 50), 2)
        self.assertEqual(V.pct(list(range(1, 101)), 99), 99)
        self.assertEqual(V.pct(list(range(1, 201)), 99), 198)


class TestFormat(CliCase):
    def tearDown(self):
        F.set_exact_kb(False)

    def test_sizes(self):
        for kb, want in ((None, "-"), (0, "0 KiB"), (396, "396 KiB"),
                         (1023, "1023 KiB"), (1024, "1.0 MiB"),
                         (614784, "600.4 MiB"), (1048575, "1.00 GiB"),
                         (1474728, "1.41 GiB"), (3 << 30, "3.00 TiB")):
            self.assertEqual(F.hkb(kb), want, kb)
        F.set_exact_kb(True)
        self.assertEqual(F.hkb(614784), "614784 kB")

    def test_percent(self):
        for share, want in ((None, "-"), (0, "0%"), (1.0, "100%"), (0.75, "75%"),
                            (2 / 3, "67%"), (0.0995, "10%"), (0.023, "2.3%"),
                            (0.01, "1.0%"), (88 / 614784, "0.014%"),
                            (820 / 723992, "0.11%"), (1e-9, "<0.0001%"),
                            (12.5, "1250%")):
            self.assertEqual(F.percent(share), want, share)
        for i in range(1, 2000):
            self.assertNotIn("e", F.percent(i / 1999.0 ** 2))

    def test_durations(self):
        for us, want in ((None, "-"), (950, "950 us"), (60189, "60.2 ms"),
                         (12_345_678, "12.3 s")):
            self.assertEqual(F.hus(us), want)


# ------------------------------------------------------------- report

REPORT_TEXT = """\
Judged against a strict-overcommit limit of 986.9 MiB (set by parameter); reserves: admin 8.0 MiB, user 61.1 MiB.
System commit now: 9.6 MiB, 0.97% of the limit.
Seen: 36 forks, 6 vforks (vfork, posix_spawn), 0 other clones (CLONE_VM, no vfork), 0 threads.
4 forks would have FAILED (ENOMEM) under strict overcommit: 3 then exec'd (a needless failure: vfork or posix_spawn would have worked), 1 exited without exec.
Fork children: 27 exec'd, 9 exited without exec; 2.67 GiB charged in all.
Smallest CommitLimit under which no fork seen would have failed: 1.41 GiB (`vforkacct advise` turns it into a vm.overcommit_ratio).

Log: 42 records (seq 0..41).

program    forks  vforks  fail  fail>exec  exec%  life-med  life-p99  touched    charged  touch%  spawn?
python3        3       1     3          2    67%   21.4 ms   44.6 ms  820 KiB  707.0 MiB   0.11%  YES
bigparent      1       2     1          1   100%   60.2 ms   60.2 ms   88 KiB  600.4 MiB  0.014%
capture       32       3     0          0    75%    4.9 ms   41.0 ms   96 KiB    396 KiB     24%

forks: fork-like clones (charged); vforks: vfork/posix_spawn/CLONE_VM (never charged); fail: would fail in strict mode;
exec%, life (fork to exec, median/p99), touched (median faults before exec x 4 KiB) and charged (median) are over
fork children that exec'd; touch% = touched / charged.

Spawn candidates (programs whose would-fail forks' children exec'd within 50 ms, median):
  python3: 2 would-fail forks exec'd after 21.4 ms (median), touching 820 KiB of 707.0 MiB charged: start children with posix_spawn() or vfork()+exec instead of fork()+exec.
"""

REPORT_UNIT = """\
Judged against a strict-overcommit limit of 986.9 MiB (set by parameter); reserves: admin 8.0 MiB, user 61.1 MiB.
System commit now: 402.6 MiB, 41% of the limit.
Counting since the last reset, 2025-11-29 22:30:00 UTC (module loaded 2025-11-29 21:40:00 UTC).
Seen: 98 forks, 25 vforks (vfork, posix_spawn), 0 other clones (CLONE_VM, no vfork), 40 threads.
9 forks would have FAILED (ENOMEM) under strict overcommit: 6 then exec'd (a needless failure: vfork or posix_spawn would have worked), 2 exited without exec, 1 still running.
Fork children: 80 exec'd, 16 exited without exec; 9.42 GiB charged in all.
Smallest CommitLimit under which no fork seen would have failed: 1.05 GiB (`vforkacct advise` turns it into a vm.overcommit_ratio).
Note: 3 forks with an unknown charge (not followed, too many VMAs to walk).

Log: 18 records (seq 100..122); 100 older ones overwritten (raise log_size); 5 missing inside.

unit                         forks  vforks  fail  fail>exec  exec%  life-med  life-p99   touched    charged  touch%  spawn?  top program
docker-a3f1c2d4e5b6              4       1     4          2    67%    9.8 ms   12.4 ms   760 KiB  707.0 MiB   0.10%  YES     python3
docker-b7e2d1c0ffee              2       0     1          1   100%    2.5 ms  120.0 ms   120 KiB    1.1 MiB     11%          cron
cgroup:9999                      1       0     1          0     0%         -         -         -          -       -          java
cri-containerd-c0ffee012345      1       0     1          1   100%   35.0 ms   35.0 ms  1000 KiB  595.7 MiB   0.16%  YES     java
postgresql@15-main.service       2       0     0          0     0%         -         -         -          -       -          postgres
session-3.scope                  2       0     0          0   100%    1.5 ms    1.7 ms   140 KiB    5.9 MiB    2.3%          bash
cron.service                     1       1     0          0   100%    2.1 ms    2.1 ms   124 KiB    1.2 MiB     10%          cron
nginx.service                    1       1     0          0   100%    4.0 ms    4.0 ms   160 KiB   23.4 MiB   0.67%          nginx
(unknown)                        1       0     0          0   100%    3.0 ms    3.0 ms   120 KiB    2.0 MiB    6.0%          my job

forks: fork-like clones (charged); vforks: vfork/posix_spawn/CLONE_VM (never charged); fail: would fail in strict mode;
exec%, life (fork to exec, median/p99), touched (median faults before exec x 4 KiB) and charged (median) are over
fork children that exec'd; touch% = touched / charged.

Spawn candidates (units whose would-fail forks' children exec'd within 50 ms, median):
  docker-a3f1c2d4e5b6 (python3): 2 would-fail forks exec'd after 9.8 ms (median), touching 760 KiB of 707.0 MiB charged: start children with posix_spawn() or vfork()+exec instead of fork()+exec.
  cri-containerd-c0ffee012345 (java): 1 would-fail fork exec'd after 35.0 ms (median), touching 1000 KiB of 595.7 MiB charged: start children with posix_spawn() or vfork()+exec instead of fork()+exec.
"""


class TestReport(CliCase):
    @classmethod
    def setUpClass(cls):
        rc, out, err = run(["report", "--json", "--forks", FORKS,
                            "--summary", SUMMARY])
        assert rc == 0, err
        cls.rep = json.loads(out)
        cls.progs = {p["comm"]: p for p in cls.rep["groups"]}

    def test_schema(self):
        r = self.rep
        self.assertEqual(r["schema"], "vforkacct-report/2")
        self.assertEqual(set(r), {"schema", "by", "summary", "log", "prompt_ms",
                                  "whatif", "groups", "spawn_candidates",
                                  "note", "notes", "programs"})
        self.assertEqual((r["by"], r["whatif"], r["note"], r["notes"],
                          r["programs"]), ("comm", None, None, [], None))
        self.assertIsInstance(r["summary"], dict)
        for k in ("limit_kb", "admin_reserve_kb", "user_reserve_kb",
                  "committed_kb", "forks", "vforks", "vm_clones", "threads",
                  "would_fail", "would_fail_exec", "would_fail_exit",
                  "exec_after_fork", "exit_without_exec", "charged_kb",
                  "min_safe_limit_kb", "log_size", "logged", "untracked"):
            self.assertIsInstance(r["summary"][k], int, k)
        self.assertIsInstance(r["summary"]["limit_source"], str)
        ints = ("records", "missing", "overwritten", "forks", "vforks",
                "vm_clones", "would_fail")
        for k in ints + ("first_seq", "last_seq", "min_safe_limit_kb"):
            self.assertIn(k, r["log"])
        for k in ints:
            self.assertIsInstance(r["log"][k], int, k)
        self.assertIsInstance(r["prompt_ms"], int)
        self.assertIsInstance(r["spawn_candidates"], list)
        types = {"key": str, "comm": str, "comm_escaped": str, "forks": int,
                 "vforks": int, "vm_clones": int, "would_fail": int,
                 "would_fail_exec": int, "unknown": int, "exec": int,
                 "exit": int, "running": int, "refused": int,
                 "exec_share": float, "life_us_median": int, "life_us_p99": int,
                 "faults_median": int, "touched_kb_median": int,
                 "charge_kb_median": int, "touched_share": float,
                 "charge_kb_max": int, "charged_kb": int,
                 "min_safe_limit_kb": int, "fail_exec_life_us_median": int,
                 "spawn_candidate": bool}
        for p in r["groups"]:
            self.assertEqual(set(p), set(types), p["comm"])
            for k, t in types.items():
                if p[k] is not None or t in (str, bool):
                    self.assertIsInstance(p[k], t, "%s.%s" % (p["comm"], k))
                if t is int and p[k] is not None:
                    self.assertNotIsInstance(p[k], bool)

    def test_log(self):
        lg = self.rep["log"]
        self.assertEqual((lg["records"], lg["first_seq"], lg["last_seq"],
                          lg["missing"], lg["overwritten"]), (42, 0, 41, 0, 0))
        self.assertEqual((lg["forks"], lg["vforks"], lg["would_fail"]), (36, 6, 4))
        # The log agrees with the module's counters.
        self.assertEqual(lg["min_safe_limit_kb"],
                         self.rep["summary"]["min_safe_limit_kb"])
        self.assertEqual(lg["forks"], self.rep["summary"]["forks"])
        # Per program: python3's forks need 1474728 kB, bigparent's less.
        self.assertEqual(self.progs["python3"]["min_safe_limit_kb"], 1474728)
        self.assertEqual(self.progs["bigparent"]["min_safe_limit_kb"],
                         618620 + 614784 + 1010580 - 991304 + 4)

    def test_order(self):
        self.assertEqual([p["comm"] for p in self.rep["groups"]],
                         ["python3", "bigparent", "capture"])

    def test_bigparent(self):
        p = self.progs["bigparent"]
        self.assertEqual((p["forks"], p["vforks"], p["would_fail"],
                          p["would_fail_exec"], p["exec"], p["exit"]),
                         (1, 2, 1, 1, 1, 0))
        self.assertEqual(p["exec_share"], 1.0)
        self.assertEqual((p["life_us_median"], p["life_us_p99"]), (60189, 60189))
        self.assertEqual((p["faults_median"], p["touched_kb_median"],
                          p["charge_kb_median"]), (22, 88, 614784))
        self.assertAlmostEqual(p["touched_share"], 88 / 614784)
        # 60 ms under emulation: not "prompt" at the default 50 ms.
        self.assertEqual(p["fail_exec_life_us_median"], 60189)
        self.assertFalse(p["spawn_candidate"])

    def test_python3(self):
        p = self.progs["python3"]
        self.assertEqual((p["forks"], p["vforks"], p["would_fail"],
                          p["would_fail_exec"], p["exec"], p["exit"]),
                         (3, 1, 3, 2, 2, 1))
        self.assertAlmostEqual(p["exec_share"], 2 / 3)
        self.assertEqual((p["life_us_median"], p["life_us_p99"]), (21368, 44609))
        self.assertEqual((p["faults_median"], p["touched_kb_median"],
                          p["charge_kb_median"], p["charge_kb_max"]),
                         (205, 820, 723992, 723992))
        self.assertEqual(p["charged_kb"], 3 * 723992)
        self.assertEqual(p["fail_exec_life_us_median"], 21368)
        self.assertTrue(p["spawn_candidate"])

    def test_shell(self):
        p = self.progs["capture"]
        self.assertEqual((p["forks"], p["vforks"], p["would_fail"], p["exec"],
                          p["exit"]), (32, 3, 0, 24, 8))
        self.assertEqual(p["exec_share"], 0.75)
        self.assertEqual((p["life_us_median"], p["life_us_p99"]), (4902, 40990))
        self.assertEqual((p["faults_median"], p["touched_kb_median"],
                          p["charge_kb_median"]), (24, 96, 396))
        self.assertIsNone(p["fail_exec_life_us_median"])
        self.assertFalse(p["spawn_candidate"])

    def test_candidates(self):
        self.assertEqual(self.rep["spawn_candidates"], ["python3"])
        rc, out, err = run(["report", "--json", "--prompt-ms", "100",
                            "--forks", FORKS, "--summary", SUMMARY])
        self.assertEqual(json.loads(out)["spawn_candidates"],
                         ["python3", "bigparent"])

    def test_text(self):
        out = self.ok(["report", "--forks", FORKS, "--summary", SUMMARY])
        self.assertEqual(out, REPORT_TEXT)

    def test_one_size_style(self):
        # Human units everywhere by default; exact kB everywhere with --kb.
        out = self.ok(["report", "--forks", FORKS, "--summary", SUMMARY])
        self.assertNotRegex(out, r"\d ?kB\b|\d[KMG]\b|\d+kB")
        self.assertNotRegex(out, r"\de[+-]\d")
        out = self.ok(["report", "--kb", "--forks", FORKS, "--summary", SUMMARY])
        self.assertNotRegex(out, r"\d (KiB|MiB|GiB)")
        self.assertIn("a strict-overcommit limit of 1010580 kB", out)
        self.assertIn("would have failed: 1474728 kB (`vforkacct advise`", out)
        py = [l for l in out.splitlines() if l.startswith("python3 ")][0]
        self.assertIn("820 kB  723992 kB   0.11%", py)

    def test_forks_only(self):
        # Even with the module loaded, a captured log is not paired with
        # the live summary.
        proc = FakeProc(module=True)
        try:
            rc, out, err = run(["report", "--json", "--forks", FORKS], proc)
        finally:
            proc.close()
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertIsNone(r["summary"])
        self.assertIsNone(r["log"]["min_safe_limit_kb"])
        self.assertEqual(r["spawn_candidates"], ["python3"])

    def test_report_notes_unknown_charges(self):
        out = self.ok(["report"] + ATTR)
        self.assertIn("Note: 3 forks with an unknown charge (not followed, "
                      "too many VMAs to walk).", out)
        self.assertNotIn("lock busy", out)

    def test_empty_log(self):
        d = tempfile.mkdtemp()
        try:
            empty = os.path.join(d, "forks")
            write(empty, " ".join(V.FORKS_HEADER) + " uid cgroup_id\n")
            out = self.ok(["report", "--forks", empty, "--summary", SUMMARY])
            self.assertTrue(out.endswith("\n\nThe log is empty: no fork, vfork "
                                         "or clone seen since load or reset.\n"))
            r = json.loads(self.ok(["report", "--json", "--forks", empty,
                                    "--summary", SUMMARY, "--limit-kb", "4"]))
            self.assertEqual((r["log"]["records"], r["log"]["min_safe_limit_kb"],
                              r["groups"], r["whatif"]["all_pass"],
                              r["whatif"]["would_fail"]), (0, 0, [], True, 0))
        finally:
            shutil.rmtree(d)

    def test_programs_live(self):
        """The live report names the programs whose commit requests would
        fail, from /proc/vforkacct/programs (one line per CPU merged)."""
        proc = FakeProc(module=True)
        try:
            path = os.path.join(proc.dir, "vforkacct", "programs")
            write(path, "comm uid would_fail largest_kB min_safe_kB\n"
                  "java 1000 2 524288 1600000\n"
                  "make 0 1 4096 1100000\n"
                  "java 1000 3 1048576 2100000\n")
            os.chmod(path, 0o400)
            rc, out, err = run(["report"], proc)
            rcj, outj, errj = run(["report", "--json"], proc)
        finally:
            proc.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("Programs whose commit requests would fail: java (uid "
                      "1000): 5, the largest 1.00 GiB, make (uid 0): 1, the "
                      "largest 4.0 MiB.", out)
        self.assertEqual(json.loads(outj)["programs"][0],
                         {"comm": "java", "uid": 1000, "would_fail": 5,
                          "largest_kb": 1048576, "min_safe_kb": 2100000})

    def test_summary_only(self):
        # A captured summary without its log: what the summary allows.
        out = self.ok(["report", "--summary", SUMMARY])
        self.assertTrue(out.endswith("\nNo log given: --forks FILE adds the "
                                     "per-program table.\n"), out)

    def test_from_fake_proc(self):
        proc = FakeProc(module=True)
        try:
            rc, out, err = run(["report", "--json"], proc)
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out), self.rep)
        finally:
            proc.close()

    def test_broken_pipe(self):
        p = subprocess.Popen([sys.executable, CLI, "report", "--forks", FORKS,
                              "--summary", SUMMARY], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdout.read(10)
        p.stdout.close()
        err = p.stderr.read().decode()
        p.wait(timeout=60)
        self.assertNotIn("Traceback", err)
        self.assertEqual(err, "")


class TestReportBy(CliCase):
    def test_unit_text(self):
        self.assertEqual(self.ok(["report", "--by", "unit"] + ATTR), REPORT_UNIT)

    def test_unit_json(self):
        r = json.loads(self.ok(["report", "--json", "--by", "unit"] + ATTR))
        g = {x["key"]: x for x in r["groups"]}
        self.assertEqual(r["by"], "unit")
        self.assertEqual(list(g), [
            "docker-a3f1c2d4e5b6", "docker-b7e2d1c0ffee", "cgroup:9999",
            "cri-containerd-c0ffee012345", "postgresql@15-main.service",
            "session-3.scope", "cron.service", "nginx.service", "(unknown)"])
        # Two cgroups (the container's init.scope and its cron.service)
        # make one unit: the container.
        b = g["docker-b7e2d1c0ffee"]
        self.assertEqual((b["forks"], b["would_fail"], b["charged_kb"],
                          b["top_comm"]), (2, 1, 561100, "cron"))
        a = g["docker-a3f1c2d4e5b6"]
        self.assertEqual((a["forks"], a["vforks"], a["would_fail"], a["running"],
                          a["min_safe_limit_kb"]),
                         (4, 1, 4, 1, 305000 + 723992 + 1010580 - 948020 + 4))
        self.assertEqual(r["spawn_candidates"],
                         ["docker-a3f1c2d4e5b6", "cri-containerd-c0ffee012345"])
        self.assertEqual(g["(unknown)"]["top_comm"], "my job")
        self.assertEqual(r["notes"], [])

    def test_cgroup(self):
        out = self.ok(["report", "--by", "cgroup"] + ATTR)
        first = [l.split()[0] for l in out.split("\n\n")[2].splitlines()[1:]]
        self.assertEqual(first, [
            "system.slice/docker-%s.scope" % DOCKER_A,
            "cgroup:9999",
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
            "pod5f3e.slice/cri-containerd-c0ffee0123456789abcdef0123456789"
            "abcdef0123456789abcdef0123456789.scope",
            "system.slice/docker-b7e2d1c0ffee4242deadbeef00112233445566778899"
            "aabbccddeeff00112233.scope/init.scope",
            "system.slice/system-postgresql.slice/postgresql@15-main.service",
            "user.slice/user-4242.slice/session-3.scope",
            "system.slice/cron.service", "system.slice/nginx.service",
            "(unknown)",
            "system.slice/docker-b7e2d1c0ffee4242deadbeef00112233445566778899"
            "aabbccddeeff00112233.scope/system.slice/cron.service"])

    def test_uid(self):
        if user_of(4242) is not None or user_of(65534) != "nobody":
            self.skipTest("this host's passwd has uid 4242 or no nobody")
        out = self.ok(["report", "--by", "uid"] + ATTR)
        table = out.split("\n\n")[2]
        self.assertEqual(table, """\
user    forks  vforks  fail  fail>exec  exec%  life-med  life-p99   touched    charged  touch%  spawn?  top program
root        9       3     5          3    88%    4.0 ms  120.0 ms   160 KiB   23.4 MiB   0.67%  YES     python3
nobody      4       0     2          1    25%   35.0 ms   35.0 ms  1000 KiB  595.7 MiB   0.16%  YES     java
4242        2       0     0          0   100%    1.5 ms    1.7 ms   140 KiB    5.9 MiB    2.3%          bash""")

    def test_old_capture(self):
        # A log without the columns: one `(unknown)` group, said in a note.
        for by, col in (("unit", "cgroup_id"), ("cgroup", "cgroup_id"),
                        ("uid", "uid")):
            with self.subTest(by=by):
                r = json.loads(self.ok(["report", "--json", "--by", by,
                                        "--forks", FORKS, "--summary", SUMMARY]))
                self.assertEqual([g["key"] for g in r["groups"]], ["(unknown)"])
                self.assertEqual(r["groups"][0]["forks"], 36)
                self.assertEqual(len(r["notes"]), 1)
                self.assertIn("no %s column" % col, r["notes"][0])

    def test_no_cgroup_mount(self):
        # No map and no cgroup2 mount: ids stay ids, and the report says so.
        d = tempfile.mkdtemp()
        try:
            out = self.ok(["report", "--by", "cgroup", "--forks", AFORKS],
                          sys_root=d)
            self.assertIn("No cgroup2 mount under %s/fs/cgroup: cgroups show as "
                          "cgroup:ID (--cgroup-map FILE maps them)." % d, out)
            self.assertIn("\ncgroup:5120 ", out)
        finally:
            shutil.rmtree(d)


class FakeCgroupTree:
    """The cgroup tree of data/cgroups made under a fake sys root (cgroup2
    at fs/cgroup, or fs/cgroup/unified), and data/forks-attr with its
    cgroup ids rewritten to the new directories' inode numbers."""

    def __init__(self, unified=False):
        self.dir = tempfile.mkdtemp(prefix="vfa-test-sys.")
        root = os.path.join(self.dir, "fs", "cgroup")
        if unified:
            os.makedirs(root)
            write(os.path.join(root, "cpu"), "")          # a v1 hierarchy
            root = os.path.join(root, "unified")
        os.makedirs(root)
        write(os.path.join(root, "cgroup.controllers"), "cpu memory pids\n")
        ino = {}
        for line in read(CGMAP).splitlines():
            old, _, path = line.partition(" ")
            d = os.path.join(root, path) if path else root
            os.makedirs(d, exist_ok=True)
            write(os.path.join(d, "cgroup.procs"), "")
            ino[int(old)] = os.stat(d).st_ino
        self.ino = ino
        assert 9999 not in ino.values()
        lines = read(AFORKS).splitlines()
        out = [lines[0]]
        for l in lines[1:]:
            t = l.split()
            t[-1] = str(ino.get(int(t[-1]), int(t[-1])))
            out.append(" ".join(t))
        self.forks = os.path.join(self.dir, "forks")
        write(self.forks, "\n".join(out) + "\n")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class TestAttribution(CliCase):
    def test_unit_of(self):
        for path, unit in (
                ("system.slice/nginx.service", "nginx.service"),
                ("user.slice/user-1000.slice/session-3.scope", "session-3.scope"),
                ("user.slice/user-1000.slice/user@1000.service/app.slice/"
                 "app-tmux.scope", "app-tmux.scope"),
                ("system.slice/docker-%s.scope" % DOCKER_A, "docker-a3f1c2d4e5b6"),
                ("system.slice/docker-%s.scope/init.scope" % DOCKER_A,
                 "docker-a3f1c2d4e5b6"),
                ("machine.slice/libpod-%s.scope/container" % DOCKER_A,
                 "libpod-a3f1c2d4e5b6"),
                ("docker/%s" % DOCKER_A, "docker-a3f1c2d4e5b6"),
                ("system.slice/docker.service", "docker.service"),
                ("system.slice", "system.slice"),
                ("system.slice/foo.service/worker", "foo.service"),
                ("mygroup/sub", "mygroup/sub"), ("/", "/"), ("", "/")):
            self.assertEqual(A.unit_of(path), unit, path)

    def test_labels(self):
        a = A.Attribution(CGMAP)
        self.assertEqual(a.cgroup_label(1), "/")
        self.assertEqual(a.unit_label(1), "/")
        self.assertEqual(a.cgroup_label(2201), "system.slice/nginx.service")
        self.assertEqual(a.unit_label(7001), "session-3.scope")
        self.assertEqual(a.unit_label(9999), "cgroup:9999")
        self.assertEqual(a.cgroup_label(0), "(unknown)")
        self.assertEqual(a.unit_label(None), "(unknown)")
        self.assertEqual(a.user_label(0), "root")
        self.assertEqual(a.user_label(None), "(unknown)")
        self.assertTrue(a.in_cgroup(2301, "system.slice"))
        self.assertTrue(a.in_cgroup(2301, "/system.slice/"))
        self.assertTrue(a.in_cgroup(2301, "/"))
        self.assertFalse(a.in_cgroup(2301, "system.sl"))
        self.assertFalse(a.in_cgroup(7001, "system.slice"))

    def test_bad_map(self):
        d = tempfile.mkdtemp()
        try:
            p = os.path.join(d, "map")
            write(p, "12 a\nx b\n")
            rc, out, err = run(["report", "--by", "cgroup", "--forks", AFORKS,
                                "--cgroup-map", p])
            self.assertOneLineError(rc, err, 1)
            self.assertIn("line 2: want `INODE PATH`", err)
        finally:
            shutil.rmtree(d)

    def test_walks_the_mount(self):
        # The same report from walking a cgroup2 tree as from the map.
        want = json.loads(self.ok(["report", "--json", "--by", "unit"] + ATTR))
        for unified in (False, True):
            with self.subTest(unified=unified):
                t = FakeCgroupTree(unified)
                try:
                    got = json.loads(self.ok(
                        ["report", "--json", "--by", "unit", "--forks", t.forks,
                         "--summary", ASUMMARY], sys_root=t.dir))
                finally:
                    t.close()
                self.assertEqual([(g["key"], g["forks"], g["would_fail"])
                                  for g in got["groups"]],
                                 [(g["key"], g["forks"], g["would_fail"])
                                  for g in want["groups"]])
                self.assertEqual(got["notes"], [
                    "cgroup ids are resolved against this host's cgroup tree "
                    "(a log from another host needs --cgroup-map FILE)."])

    def test_live_walk_after_new_cgroup(self):
        # watch walks the tree again for an id it does not know yet.
        t = FakeCgroupTree()
        try:
            a = A.Attribution()
            old = os.environ.get("VFA_SYS_ROOT")
            os.environ["VFA_SYS_ROOT"] = t.dir
            try:
                self.assertEqual(a.unit_label(t.ino[2201]), "nginx.service")
                d = os.path.join(t.dir, "fs", "cgroup", "system.slice", "new.service")
                os.mkdir(d)
                ino = os.stat(d).st_ino
                self.assertEqual(a.unit_label(ino), "cgroup:%d" % ino)
                a.refresh()
                self.assertEqual(a.unit_label(ino), "new.service")
            finally:
                if old is None:
                    del os.environ["VFA_SYS_ROOT"]
                else:
                    os.environ["VFA_SYS_ROOT"] = old
        finally:
            t.close()


# ------------------------------------------------------------- arithmetic

MEM = V.parse_meminfo(read(MEMINFO))
# A machine with hugetlb and swap: numbers not multiple of 4 pages apart.
MEM_HS = {"MemTotal": 16303932, "Hugetlb": 1048576, "SwapTotal": 2097148}


class TestLimits(CliCase):
    def test_captured_commit_limit(self):
        # The guest ran with overcommit_ratio 50: the kernel said
        # CommitLimit 1010580 kB, and so must we.
        self.assertEqual(MEM["CommitLimit"], 1010580)
        self.assertEqual(V.commit_limit_kb(MEM, ratio=50, page_kb=4), 1010580)

    def test_page_arithmetic(self):
        # (2021164/4 = 505291 pages) * 50 / 100 = 252645 pages (not 252645.5)
        self.assertEqual(V.commit_limit_kb(MEM, ratio=33, page_kb=4),
                         505291 * 33 // 100 * 4)
        self.assertEqual(V.commit_limit_kb(MEM, ratio=0, page_kb=4), 0)
        self.assertEqual(V.commit_limit_kb(MEM, ratio=150, page_kb=4),
                         757936 * 4)
        # hugetlb is taken out of RAM, swap added after the ratio
        ram = 16303932 // 4 - 1048576 // 4
        self.assertEqual(V.commit_limit_kb(MEM_HS, ratio=50, page_kb=4),
                         (ram * 50 // 100 + 2097148 // 4) * 4)
        self.assertEqual(V.commit_limit_kb(MEM_HS, ratio=50, page_kb=4), 9724824)
        # kbytes: rounded down to pages, plus swap; the ratio is ignored
        self.assertEqual(V.commit_limit_kb(MEM_HS, ratio=50, kbytes=1000003,
                                           page_kb=4), 1000000 + 2097148)

    def test_hugetlb_fallback(self):
        m = {"MemTotal": 4000000, "SwapTotal": 0, "HugePages_Total": 100,
             "Hugepagesize": 2048}
        self.assertEqual(V.hugetlb_kb(m), 204800)

    def test_load_dry_run(self):
        proc = FakeProc()
        try:
            for args, want in ((["load", "-n"], "limit_kb=1010580 (CommitLimit)"),
                               (["load", "-n", "--ratio", "50"], "limit_kb=1010580 "),
                               (["load", "-n", "--ratio", "73"], "limit_kb=1475448 "),
                               (["sync", "-n", "--kbytes", "1000003"],
                                "limit_kb=1000000 "),
                               (["load", "-n", "--limit-kb", "123456"],
                                "limit_kb=123456 (given)")):
                with self.subTest(args=args):
                    rc, out, err = run(args, proc)
                    self.assertEqual(rc, 0, err)
                    self.assertIn(want, out)
                    self.assertIn("admin_reserve_kb=8192 user_reserve_kb=62560", out)
            rc, out, err = run(["load", "-n", "--ratio", "0"], proc)
            self.assertOneLineError(rc, err, 1)     # 0 kB: would mean "estimate"
        finally:
            proc.close()

    def test_meminfo_option(self):
        d = tempfile.mkdtemp()
        try:
            p = os.path.join(d, "meminfo")
            write(p, "MemTotal: %d kB\nHugetlb: %d kB\nSwapTotal: %d kB\n"
                  % (MEM_HS["MemTotal"], MEM_HS["Hugetlb"], MEM_HS["SwapTotal"]))
            proc = FakeProc()
            rc, out, err = run(["load", "-n", "--ratio", "50", "--meminfo", p], proc)
            proc.close()
            self.assertEqual(rc, 0, err)
            self.assertIn("limit_kb=9724824 ", out)
        finally:
            shutil.rmtree(d)


class TestModeTwoLog(CliCase):
    """Records of a module that projects mode 2: refused forks and
    MAP_NORESERVE memory."""

    HDR = " ".join(P.COLUMNS) + " mode2_charge_kB\n"

    def test_refused_not_a_fork_and_noreserve_counts(self):
        lines = (self.HDR +
                 # committed 100 + noreserve 50, charge 200 + 50: 400 - 380
                 "1 1 10 11 srv fork 200 100 380 fail exit 5 1 - 0 1 50 250\n"
                 "2 2 10 - srv fork 300 700 380 fail refused - - - 0 1 0 300\n"
                 "3 3 10 12 srv fork 10 100 380 ok exit 5 1 - 0 1 0 10\n"
                 ).splitlines(True)
        groups, log = S.aggregate(P.ForksReader(iter(lines)), "comm", None, 0)
        g = groups["srv"]
        self.assertEqual((log.forks, g.forks, g.refused, log.would_fail),
                         (2, 2, 1, 1))
        # Without the noreserve projection the excess would be -80.
        self.assertEqual(log.excess, 100 + 50 + 200 + 50 - 380)
        self.assertEqual(S.min_safe(log.excess, 380, 4), 400 + 4)


class TestAdvise(CliCase):
    def test_captured(self):
        rc, out, err = run(["advise", "--json", "--summary", SUMMARY,
                            "--meminfo", MEMINFO])
        self.assertEqual(rc, 0, err)
        d = json.loads(out)
        # need 1474728 kB = 368682 pages of 505291: 72.96% -> 73
        self.assertEqual(d["min_safe_limit_kb"], 1474728)
        self.assertEqual(d["ratio"], 73)
        self.assertEqual(d["ratio_limit_kb"], 1475448)
        self.assertEqual(d["kbytes"], 1474728)
        self.assertEqual(d["kbytes_limit_kb"], 1474728)
        self.assertEqual(d["current_limit_kb"], 1010580)
        self.assertEqual(d["forks"], 36)
        self.assertIsNone(d["whatif"])
        # Captured: nothing of this host's sysctls.
        self.assertFalse([k for k in d if k.startswith("current_overcommit")])
        # 72 would not be enough
        self.assertLess(V.commit_limit_kb(V.parse_meminfo(read(MEMINFO)),
                                          ratio=72, page_kb=4), 1474728)

    def test_text(self):
        out = self.ok(["advise", "--summary", SUMMARY, "--meminfo", MEMINFO])
        self.assertEqual(out, """\
All 36 forks seen would have passed with a CommitLimit of at least 1.41 GiB (min_safe_limit).  This module does not judge other commit requests: mmap, brk and the like are not covered.
Covers the forks and commit requests since the module was loaded or reset, and the MAP_NORESERVE memory of now (at most a second old), not its peaks in between.
RAM for the ratio: MemTotal 1.93 GiB - Hugetlb 0 KiB; SwapTotal 0 KiB.
Smallest vm.overcommit_ratio:   73  (CommitLimit 1.41 GiB)
Smallest vm.overcommit_kbytes:  1474728  (CommitLimit 1.41 GiB)
The current CommitLimit (in that meminfo), 986.9 MiB, is 453.3 MiB short: strict mode would refuse some of these forks.
To set it (either line; writing one sysctl clears the other):
  sysctl -w vm.overcommit_ratio=73
  sysctl -w vm.overcommit_kbytes=1474728
then enforce strict overcommit:  sysctl -w vm.overcommit_memory=2
(persist in /etc/sysctl.d/; this is the bare minimum for the forks seen: leave headroom, and re-run `vforkacct sync` after a change.)
""")
        out = self.ok(["advise", "--kb", "--summary", SUMMARY, "--meminfo", MEMINFO])
        self.assertIn("1010580 kB, is 464148 kB short", out)

    def test_commits_and_noreserve(self):
        """min_safe_limit_all (above the forks' own) plus the MAP_NORESERVE
        memory is what the ratio is computed for."""
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "summary")
            write(path, read(SUMMARY) +
                  "commits: 500\ncommits_would_fail: 2\n"
                  "min_safe_limit_all: 1500000 kB\nnoreserve: 65536 kB\n")
            rc, out, err = run(["advise", "--json", "--summary", path,
                                "--meminfo", MEMINFO])
            self.assertEqual(rc, 0, err)
            j = json.loads(out)
            self.assertEqual(j["min_safe_limit_kb"], 1474728)
            self.assertEqual(j["min_safe_limit_all_kb"], 1500000)
            self.assertEqual(j["noreserve_kb"], 65536)
            self.assertEqual(j["need_kb"], 1565536)
            self.assertEqual(j["kbytes"], 1565536)
            self.assertGreaterEqual(j["ratio_limit_kb"], 1565536)
            out = self.ok(["advise", "--kb", "--summary", path, "--meminfo",
                           MEMINFO])
            self.assertIn("36 forks and 500 commit requests seen would have "
                          "passed with a CommitLimit of at least 1500000 kB "
                          "(min_safe_limit_all; the forks alone: 1474728 kB)",
                          out)
            self.assertIn("Plus 65536 kB of MAP_NORESERVE memory", out)
            self.assertIn("1565536 kB in all", out)
        finally:
            shutil.rmtree(d)

    def test_captured_needs_captured_meminfo(self):
        # Never this host's meminfo for a captured summary, even when the
        # module is loaded here.
        proc = FakeProc(module=True)
        try:
            rc, out, err = run(["advise", "--summary", SUMMARY], proc)
            self.assertOneLineError(rc, err, 1)
            self.assertIn("give --meminfo FILE", err)
            rc, out, err = run(["advise", "--forks", FORKS, "--meminfo",
                                MEMINFO], proc)
            self.assertOneLineError(rc, err, 1)
            self.assertIn("give --summary FILE", err)
        finally:
            proc.close()

    def test_missing_values(self):
        d = tempfile.mkdtemp()
        try:
            s = os.path.join(d, "summary")
            write(s, "\n".join(l for l in read(SUMMARY).splitlines()
                               if not l.startswith("min_safe_limit")) + "\n")
            rc, out, err = run(["advise", "--summary", s, "--meminfo", MEMINFO])
            self.assertOneLineError(rc, err, 1)
            self.assertIn("has no min_safe_limit line", err)
            m = os.path.join(d, "meminfo")
            write(m, "MemTotal: 1000 kB\n")
            rc, out, err = run(["advise", "--summary", SUMMARY, "--meminfo", m])
            self.assertOneLineError(rc, err, 1)
            self.assertIn("%s has no SwapTotal line" % m, err)
        finally:
            shutil.rmtree(d)

    def test_live(self):
        proc = FakeProc(module=True)
        try:
            d = json.loads(self.ok(["advise", "--json"], proc=proc))
        finally:
            proc.close()
        self.assertEqual((d["ratio"], d["current_overcommit_ratio"],
                          d["current_user_reserve_kbytes"]), (73, 50, 62560))

    def test_whatif(self):
        out = self.ok(["advise", "--summary", ASUMMARY, "--meminfo", MEMINFO,
                       "--forks", AFORKS, "--ratio", "52"])
        self.assertTrue(out.endswith(
            "\nWhat if the limit were 1.00 GiB (vm.overcommit_ratio=52) instead "
            "of 986.9 MiB: 6 of the 15 forks in the log would have FAILED (the "
            "module said 7: 0 more, 1 fewer).\n"
            "Would fail: python3 (4), java (2).\n"), out)
        # Without the log: from min_safe_limit alone.
        out = self.ok(["advise", "--summary", ASUMMARY, "--meminfo", MEMINFO,
                       "--limit-kb", "1100756"])
        self.assertTrue(out.endswith(
            "\nWhat if the limit were 1.05 GiB (--limit-kb 1100756) instead of "
            "986.9 MiB: every fork seen would have passed.\n"), out)
        d = json.loads(self.ok(["advise", "--json", "--summary", ASUMMARY,
                                "--meminfo", MEMINFO, "--limit-kb", "1100755"]))
        self.assertEqual((d["whatif"]["all_pass"], d["whatif"]["would_fail"]),
                         (False, None))

    def test_no_fork(self):
        d = tempfile.mkdtemp()
        try:
            p = os.path.join(d, "summary")
            text = read(SUMMARY)
            text = text.replace("forks:                       36",
                                "forks:                        0")
            text = text.replace("1474728 kB", "0 kB")
            write(p, text)
            out = self.ok(["advise", "--summary", p, "--meminfo", MEMINFO])
            self.assertIn("No fork", out)
            rc, out, err = run(["advise", "--json", "--summary", p,
                                "--meminfo", MEMINFO])
            self.assertIsNone(json.loads(out)["ratio"])
        finally:
            shutil.rmtree(d)

    def test_minimal_for_many(self):
        # The advised ratio is the smallest whose kernel limit covers it.
        for mem in (MEM, MEM_HS, {"MemTotal": 1000, "SwapTotal": 0}):
            for m in list(range(4, 5000, 4)) + [1474728, 9724824, 30000000]:
                ratio, kb = V.advise_calc(m, mem, page_kb=4)
                lim = V.commit_limit_kb(mem, ratio=ratio, page_kb=4)
                self.assertGreaterEqual(lim, m, (mem, m, ratio))
                if ratio > 0:
                    self.assertLess(V.commit_limit_kb(mem, ratio=ratio - 1,
                                                      page_kb=4), m)
                if kb is not None:
                    self.assertGreaterEqual(V.commit_limit_kb(mem, kbytes=kb,
                                                              page_kb=4), m)
                    self.assertLess(V.commit_limit_kb(mem, kbytes=kb - 4,
                                                      page_kb=4) if kb > 4 else 0, m)

    def test_swap_covers(self):
        self.assertEqual(V.advise_calc(1000000, MEM_HS, page_kb=4), (0, None))


class TestWhatIf(CliCase):
    def test_rejudge(self):
        rows = V.parse_forks(read(FORKS))
        s = V.parse_summary(read(SUMMARY))

        def fails(ratio):
            lim = V.commit_limit_kb(MEM, ratio=ratio, page_kb=4)
            return len(V.rejudge(rows, lim - s["limit_kb"]))
        self.assertEqual(fails(50), 4)          # the module's own verdicts
        self.assertEqual(fails(62), 3)          # bigparent passes, python3 not
        self.assertEqual(fails(72), 3)
        self.assertEqual(fails(73), 0)          # = advise
        self.assertEqual(fails(10), 4)
        self.assertEqual(fails(0), 36)          # even the shell's

    def test_own_limit_gives_own_verdicts(self):
        for forks, summary in ((FORKS, SUMMARY), (AFORKS, ASUMMARY)):
            lim = V.parse_summary(read(summary))["limit_kb"]
            r = json.loads(self.ok(["report", "--json", "--forks", forks,
                                    "--summary", summary, "--limit-kb", str(lim)]))
            w = r["whatif"]
            self.assertEqual((w["would_fail"], w["newly_failing"],
                              w["no_longer_failing"], w["delta_kb"]),
                             (r["log"]["would_fail"], 0, 0, 0))

    def test_report_ratio(self):
        out = self.ok(["report", "--by", "unit", "--meminfo", MEMINFO,
                       "--ratio", "52"] + ATTR)
        self.assertIn(
            "\nWhat if the limit were 1.00 GiB (vm.overcommit_ratio=52) instead "
            "of 986.9 MiB: 6 of the 15 forks in the log would have FAILED (the "
            "module said 7: 0 more, 1 fewer). The table is judged under that "
            "limit.\n", out)
        # node's fork (docker-b7e2...) passes at 52: 390000 + 560000 kB is
        # below its allowed 948020 + 40424 kB.
        b = [l for l in out.splitlines() if l.startswith("docker-b7e2d1c0ffee ")][0]
        self.assertEqual(b.split()[1:5], ["2", "0", "0", "0"])
        self.assertIn("""
Would fail under 1.00 GiB (all 6):
  seq  program  unit                            charge  commit after    allowed  outcome
  102  python3  docker-a3f1c2d4e5b6          707.0 MiB    1001.0 MiB  965.3 MiB  exec
  103  python3  docker-a3f1c2d4e5b6          707.0 MiB    1001.0 MiB  965.3 MiB  exec
  104  python3  docker-a3f1c2d4e5b6          707.0 MiB    1001.0 MiB  965.3 MiB  exit
  116  java     cgroup:9999                  634.8 MiB    1005.9 MiB  957.3 MiB  exit
  120  java     cri-containerd-c0ffee012345  595.7 MiB     981.4 MiB  957.3 MiB  exec
  121  python3  docker-a3f1c2d4e5b6          707.0 MiB    1004.9 MiB  965.3 MiB  running
""", out)

    def test_report_lower_limit(self):
        # 700000 kB: postgres' second fork (600000 + 180000 kB) now fails.
        r = json.loads(self.ok(["report", "--json", "--limit-kb", "700000"] + ATTR))
        w = r["whatif"]
        self.assertEqual((w["limit_kb"], w["how"], w["delta_kb"], w["would_fail"],
                          w["module_would_fail"], w["newly_failing"],
                          w["no_longer_failing"], w["all_pass"]),
                         (700000, "--limit-kb 700000", -310580, 8, 7, 1, 0, False))
        self.assertIn({"seq": 107, "comm": "postgres", "key": "postgres",
                       "charge_kb": 180000, "committed_kb": 600000,
                       "allowed_kb": 939828 - 310580, "outcome": "exit"},
                      w["failing"])
        pg = [g for g in r["groups"] if g["key"] == "postgres"][0]
        self.assertEqual(pg["would_fail"], 1)

    def test_kbytes(self):
        # overcommit_kbytes 1100000 on that meminfo (no swap): 1100000 kB,
        # just under the 1100756 kB java's fork needs.
        r = json.loads(self.ok(["report", "--json", "--meminfo", MEMINFO,
                                "--kbytes", "1100000"] + ATTR))
        self.assertEqual((r["whatif"]["limit_kb"], r["whatif"]["would_fail"],
                          [f["seq"] for f in r["whatif"]["failing"]]),
                         (1100000, 1, [116]))

    def test_captured_needs_captured_values(self):
        for args, msg in (
                (["--forks", AFORKS, "--summary", ASUMMARY, "--ratio", "60"],
                 "--ratio on captured data needs --meminfo FILE"),
                (["--forks", AFORKS, "--summary", ASUMMARY, "--kbytes", "60"],
                 "--kbytes on captured data needs --meminfo FILE"),
                (["--forks", AFORKS, "--limit-kb", "60"], "give --summary FILE")):
            with self.subTest(args=args):
                rc, out, err = run(["report"] + args)
                self.assertOneLineError(rc, err, 1)
                self.assertIn(msg, err)

    def test_live_uses_live_meminfo(self):
        proc = FakeProc(module=True, forks=AFORKS, summary=ASUMMARY)
        try:
            r = json.loads(self.ok(["report", "--json", "--ratio", "52"], proc=proc))
        finally:
            proc.close()
        self.assertEqual((r["whatif"]["limit_kb"], r["whatif"]["would_fail"]),
                         (1051004, 6))


# ------------------------------------------------------------- export

EXPORT_UNITS = """\
# HELP vforkacct_log_records Records now in the fork log (the window the per-unit series count over).
# TYPE vforkacct_log_records gauge
vforkacct_log_records 18
# HELP vforkacct_unit_forks Forks (charged clones) by processes of this unit among the records now in the fork log.
# TYPE vforkacct_unit_forks gauge
vforkacct_unit_forks{unit="docker-a3f1c2d4e5b6"} 4
vforkacct_unit_forks{unit="docker-b7e2d1c0ffee"} 2
vforkacct_unit_forks{unit="other"} 9
# HELP vforkacct_unit_vforks vforks and other CLONE_VM clones by processes of this unit among the records now in the fork log.
# TYPE vforkacct_unit_vforks gauge
vforkacct_unit_vforks{unit="docker-a3f1c2d4e5b6"} 1
vforkacct_unit_vforks{unit="docker-b7e2d1c0ffee"} 0
vforkacct_unit_vforks{unit="other"} 2
# HELP vforkacct_unit_would_fail Forks by processes of this unit that strict overcommit would have refused, among the records now in the fork log.
# TYPE vforkacct_unit_would_fail gauge
vforkacct_unit_would_fail{unit="docker-a3f1c2d4e5b6"} 4
vforkacct_unit_would_fail{unit="docker-b7e2d1c0ffee"} 1
vforkacct_unit_would_fail{unit="other"} 2
# HELP vforkacct_unit_would_fail_exec Would-fail forks by processes of this unit whose child then exec'd, among the records now in the log.
# TYPE vforkacct_unit_would_fail_exec gauge
vforkacct_unit_would_fail_exec{unit="docker-a3f1c2d4e5b6"} 2
vforkacct_unit_would_fail_exec{unit="docker-b7e2d1c0ffee"} 1
vforkacct_unit_would_fail_exec{unit="other"} 1
# HELP vforkacct_unit_charged_bytes Commit charged to fork children of this unit, over the records now in the fork log.
# TYPE vforkacct_unit_charged_bytes gauge
vforkacct_unit_charged_bytes{unit="docker-a3f1c2d4e5b6"} 2965471232
vforkacct_unit_charged_bytes{unit="docker-b7e2d1c0ffee"} 574566400
vforkacct_unit_charged_bytes{unit="other"} 1699024896
# HELP vforkacct_unit_min_safe_limit_bytes The smallest CommitLimit under which no fork of this unit in the fork log would have failed.
# TYPE vforkacct_unit_min_safe_limit_bytes gauge
vforkacct_unit_min_safe_limit_bytes{unit="docker-a3f1c2d4e5b6"} 1117753344
vforkacct_unit_min_safe_limit_bytes{unit="docker-b7e2d1c0ffee"} 1036865536
vforkacct_unit_min_safe_limit_bytes{unit="other"} 1127174144
"""


def metric(text, name):
    """The value of an unlabelled sample."""
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return None if m is None else float(m.group(1))


class TestExport(CliCase):
    def test_units(self):
        out = self.ok(["export", "--top", "2"] + ATTR)
        self.assertTrue(out.endswith(EXPORT_UNITS), out[-3000:])

    def test_summary_metrics(self):
        out = self.ok(["export"] + ATTR)
        s = V.parse_summary(read(ASUMMARY))
        for name, want in (("limit_bytes", s["limit_kb"] * 1024),
                           ("limit_estimated", 0),
                           ("min_safe_limit_bytes", 1100756 * 1024),
                           ("committed_bytes", 412304 * 1024),
                           ("forks_total", 98), ("would_fail_total", 9),
                           ("would_fail_exec_total", 6),
                           ("charged_bytes_total", 9876543 * 1024),
                           ("logged_total", 123), ("log_size", 32),
                           ("lock_misses_total", 0), ("walk_misses_total", 3),
                           ("probe_seconds_total", 0.123456789),
                           ("probe_max_seconds", 98765e-9),
                           ("load_time_seconds", 1764452400),
                           ("reset_time_seconds", 1764455400)):
            self.assertEqual(metric(out, "vforkacct_" + name), want, name)

    def test_format(self):
        # Every family has HELP then TYPE; counters end in _total; sizes
        # are in bytes and times in seconds; no sample without its family.
        out = self.ok(["export", "--by", "cgroup", "--top", "100"] + ATTR)
        lines = out.splitlines()
        fams = {}
        for i, l in enumerate(lines):
            if l.startswith("# HELP "):
                name = l.split()[2]
                t = lines[i + 1].split()
                self.assertEqual(t[:3], ["#", "TYPE", name])
                fams[name] = t[3]
            elif not l.startswith("#"):
                name = re.match(r"^([a-z_]+)", l).group(1)
                self.assertIn(name, fams, l)
        for name, t in fams.items():
            self.assertTrue(name.startswith("vforkacct_"), name)
            self.assertEqual(name.endswith("_total"), t == "counter", name)
            self.assertNotRegex(name, r"_(kb|ns|us)(_|$)|kbytes")
        self.assertIn('vforkacct_cgroup_forks{cgroup="system.slice/nginx.service"} 1\n',
                      out)
        # No `other` when every cgroup has its series.
        self.assertNotIn('"other"', out)
        self.assertEqual(len(re.findall(r"^vforkacct_cgroup_forks\{", out, re.M)), 10)

    def test_top_bounds_series(self):
        for top, n in ((0, 1), (1, 2), (8, 9), (9, 9), (50, 9)):
            with self.subTest(top=top):
                out = self.ok(["export", "--top", str(top)] + ATTR)
                series = re.findall(r'^vforkacct_unit_forks\{unit="([^"]*)"\} (\d+)',
                                    out, re.M)
                self.assertEqual(len(series), n)
                self.assertEqual(sum(int(v) for _, v in series), 15)
                self.assertEqual(series[-1][0] == "other", top < 9)

    def test_label_escaping(self):
        d = tempfile.mkdtemp()
        try:
            m = os.path.join(d, "map")
            write(m, read(CGMAP).replace("system.slice/nginx.service",
                                         'system.slice/we"ird\\x.service'))
            out = self.ok(["export", "--by", "cgroup", "--top", "100", "--forks",
                           AFORKS, "--summary", ASUMMARY, "--cgroup-map", m])
            self.assertIn('{cgroup="system.slice/we\\"ird\\\\x.service"} 1\n', out)
        finally:
            shutil.rmtree(d)

    def test_out_atomic(self):
        d = tempfile.mkdtemp()
        try:
            p = os.path.join(d, "vforkacct.prom")
            write(p, "old\n")
            os.chmod(p, 0o600)
            self.assertEqual(self.ok(["export", "--out", p] + ATTR), "")
            self.assertEqual(os.listdir(d), ["vforkacct.prom"])
            self.assertEqual(read(p), self.ok(["export"] + ATTR))
            self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o644)
            rc, out, err = run(["export", "--out", os.path.join(d, "no", "x.prom")]
                               + ATTR)
            self.assertOneLineError(rc, err, 1)
        finally:
            shutil.rmtree(d)

    def test_needs_summary(self):
        rc, out, err = run(["export", "--forks", AFORKS])
        self.assertOneLineError(rc, err, 1)
        self.assertIn("give --summary FILE", err)

    def test_promtool(self):
        pt = shutil.which("promtool")
        if not pt:
            self.skipTest("no promtool (scripts/tests/promtool-check fetches it)")
        for args in (["--top", "3"], ["--by", "cgroup"]):
            out = self.ok(["export"] + args + ATTR)
            p = subprocess.run([pt, "check", "metrics"], input=out,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout)


# ------------------------------------------------------------- watch

WATCH_TEXT = """\
TIME            SEQ    PPID     PID COMM             KIND        CHARGE VERDICT OUTCOME     AFTER FAULTS EXEC             SPAWN? UNIT
86400.237000    100     812   20101 cron             fork       1.2 MiB ok      exec       2.1 ms     31 sh                      cron.service
86400.475001    101   20101   20102 sh               vfork        0 KiB ok      exec       812 us      3 logrotate               cron.service
86400.714001    102    3301   20110 python3          fork     707.0 MiB fail    exec       9.8 ms    190 git              YES    docker-a3f1c2d4e5b6
86400.954001    103    3301   20111 python3          fork     707.0 MiB fail    exec      12.4 ms    201 git              YES    docker-a3f1c2d4e5b6
86401.195002    104    3301   20112 python3          fork     707.0 MiB fail    exit       5.1 ms    160 -                       docker-a3f1c2d4e5b6
86401.437002    105    3301   20113 python3          vfork        0 KiB ok      exec       900 us      4 git                     docker-a3f1c2d4e5b6
86401.680002    106    1501   20120 postgres         fork     175.8 MiB ok      exit     250.0 ms    900 -                       postgresql@15-main.service
86401.924002    107    1501   20121 postgres         fork     175.8 MiB ok      exit     260.0 ms    910 -                       postgresql@15-main.service
86402.169003    108    1100   20130 nginx            fork      23.4 MiB ok      exec       4.0 ms     40 nginx                   nginx.service
86402.415003    109    4400   20140 bash             fork       5.9 MiB ok      exec       1.5 ms     35 ls                      session-3.scope
lost 5 records (seq 110..114): the log overwrote them before watch read them (raise log_size)
86402.667003    115    4400   20150 bash             fork       5.9 MiB ok      exec       1.7 ms     36 git                     session-3.scope
86402.920004    116    2900   20160 java             fork     634.8 MiB fail    exit      70.0 ms   2000 -                       cgroup:9999
86403.174004    117    2950   20170 my\\040job        fork       2.0 MiB ok      exec       3.0 ms     30 true                    (unknown)
86403.429005    118    5500   20180 node             fork     546.9 MiB fail    exec     120.0 ms    300 npm                     docker-b7e2d1c0ffee
86403.685005    119    5501   20181 cron             fork       1.1 MiB ok      exec       2.5 ms     30 sh                      docker-b7e2d1c0ffee
86403.942005    120    7700   20190 java             fork     595.7 MiB fail    exec      35.0 ms    250 sh               YES    cri-containerd-c0ffee012345
86404.200006    121    3301   20200 python3          fork     707.0 MiB fail    running         -      - -                       docker-a3f1c2d4e5b6
86404.459006    122    1100   20201 nginx            vfork        0 KiB ok      running         -      - -                       nginx.service
"""

WATCH = ["watch", "--forks", AFORKS, "--cgroup-map", CGMAP, "--count", "1"]


def seqs(out):
    return [int(l.split()[1]) for l in out.splitlines()[1:]
            if not l.startswith("lost")]


class TestWatch(CliCase):
    def test_backlog_text(self):
        self.assertEqual(self.ok(WATCH + ["--backlog"]), WATCH_TEXT)

    def test_starts_now(self):
        # Without --backlog, what is in the log is not news.
        self.assertEqual(self.ok(WATCH), WATCH_TEXT.splitlines()[0] + "\n")

    def test_json(self):
        out = self.ok(WATCH + ["--backlog", "--json"])
        objs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual(len(objs), 19)
        self.assertEqual(objs[10], {"event": "lost", "records": 5,
                                    "first_seq": 110, "last_seq": 114})
        r = objs[2]
        self.assertEqual(r, {
            "event": "fork", "seq": 102, "time": None, "time_ns": 86400714000909,
            "ppid": 3301, "pid": 20110, "comm": "python3", "kind": "fork",
            "charge_kb": 723992, "committed_kb": 301000, "allowed_kb": 948020,
            "verdict": "fail", "outcome": "exec", "life_us": 9800, "faults": 190,
            "exec_comm": "git", "uid": 0, "user": "root", "cgroup_id": 5120,
            "cgroup": "system.slice/docker-%s.scope" % DOCKER_A,
            "unit": "docker-a3f1c2d4e5b6", "spawn": True})
        self.assertEqual(objs[13]["comm"], "my job")
        self.assertEqual((objs[13]["cgroup"], objs[13]["unit"]), (None, None))
        self.assertEqual((objs[12]["cgroup"], objs[12]["unit"]),
                         (None, "cgroup:9999"))

    def test_csv(self):
        rc, out, err = run(WATCH + ["--backlog", "--csv", "-x"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "vforkacct: lost 5 records (seq 110..114): the log "
                         "overwrote them before watch read them (raise log_size)\n")
        lines = out.splitlines()
        self.assertEqual(lines[0], "seq,time,time_ns,ppid,pid,comm,kind,charge_kb,"
                         "committed_kb,allowed_kb,verdict,outcome,life_us,faults,"
                         "exec_comm,uid,user,cgroup_id,cgroup,unit,spawn")
        self.assertEqual(lines[1], "102,,86400714000909,3301,20110,python3,fork,"
                         "723992,301000,948020,fail,exec,9800,190,git,0,root,5120,"
                         "system.slice/docker-%s.scope,docker-a3f1c2d4e5b6,true"
                         % DOCKER_A)
        self.assertEqual([int(l.split(",")[0]) for l in lines[1:]],
                         [102, 103, 104, 116, 118, 120, 121])

    def test_filters(self):
        for args, want in ((["-p", "3301"], [102, 103, 104, 105, 121]),
                           (["-c", "java"], [116, 120]),
                           (["-c", "my job"], [117]), (["-c", "my\\040job"], [117]),
                           (["--unit", "docker-b7e2d1c0ffee"], [118, 119]),
                           (["--unit", "cgroup:9999"], [116]),
                           (["--cgroup", "system.slice"],
                            [100, 101, 102, 103, 104, 105, 106, 107, 108, 118,
                             119, 121, 122]),
                           (["--cgroup", "/user.slice/"], [109, 115]),
                           (["-x", "--unit", "docker-a3f1c2d4e5b6"],
                            [102, 103, 104, 121])):
            with self.subTest(args=args):
                out = self.ok(WATCH + ["--backlog"] + args)
                self.assertEqual(seqs(out), want)
                # The lost records are the log's: said whatever the filter.
                self.assertIn("lost 5 records (seq 110..114)", out)

    def test_kb(self):
        out = self.ok(WATCH + ["--backlog", "--kb", "-p", "1501"])
        self.assertIn(" 180000 kB ok      exit", out)

    def test_live_wall_clock(self):
        proc = FakeProc(module=True, forks=AFORKS, summary=ASUMMARY)
        try:
            out = self.ok(["watch", "--backlog", "--count", "1", "-p", "1100",
                           "--cgroup-map", CGMAP], proc=proc)
        finally:
            proc.close()
        lines = [l for l in out.splitlines()[1:] if not l.startswith("lost ")]
        self.assertEqual(len(lines), 2)
        for l in lines:
            self.assertRegex(l, r"^\d\d:\d\d:\d\d\.\d\d\d +(108|122) +1100 ")

    def test_fast_exec_threshold_shared(self):
        # 120 ms: a spawn candidate at --prompt-ms 150, as in `report`.
        out = self.ok(WATCH + ["--backlog", "--prompt-ms", "150", "-c", "node"])
        self.assertIn(" npm              YES    docker-b7e2d1c0ffee", out)
        p = V.build_parser()
        self.assertEqual([p.parse_args([c]).prompt_ms for c in ("watch", "report")],
                         [V.FAST_EXEC_MS, V.FAST_EXEC_MS])
        self.assertEqual(V.FAST_EXEC_MS, 50)
        # bpftrace/vforkwatch.bt's default "exec within MS" is the same.
        bt = read(os.path.join(TOP, "scripts", "bpftrace", "vforkwatch.bt"))
        m = re.search(r"^\s*@ms = \$# >= 1 \? \$1 : (\d+);$", bt, re.M)
        self.assertEqual(int(m.group(1)) if m else None, V.FAST_EXEC_MS)
        self.assertIn("(default %d," % V.FAST_EXEC_MS, bt)
        r = json.loads(self.ok(["report", "--json", "--prompt-ms", "150"] + ATTR))
        self.assertIn("node", r["spawn_candidates"])


def records(text):
    """Records of a forks text (header first)."""
    return list(P.ForksReader(text.splitlines()))


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class TestTraceParse(CliCase):
    """watch --trace's reading of bpftrace's lines."""

    def test_fork_and_refused(self):
        t = W.TraceSource.__new__(W.TraceSource)   # no bpftrace started
        kind, r = t.parse(b"F 7 5 100 101 396 9000 50000 0 12 fork ok sh x")
        self.assertEqual((kind, r[P.SEQ], r[P.TIME], r[P.PID], r[P.COMM],
                          r[P.OUTCOME], len(r)),
                         ("fork", 7, 5, 101, "sh\\040x", "running",
                          len(P.COLUMNS)))
        # pid 0: a fork the kernel refused; no child, no outcome to wait for
        kind, r = t.parse(b"F 8 6 100 0 720032 727080 987712 0 12 fork fail py")
        self.assertEqual((r[P.PID], r[P.OUTCOME], r[P.VERDICT]),
                         (None, "refused", "fail"))


class TestWatcher(CliCase):
    """The watcher over several polls of a changing log, in process."""

    HDR = " ".join(P.COLUMNS) + "\n"

    def setUp(self):
        self.buf = io.StringIO()
        self.clock = Clock()
        a = A.Attribution(CGMAP)
        args = type("Args", (), {"pid": None, "comm": None, "unit": None,
                                 "cgroup": None, "fail_only": False})
        out = W.Output("text", a, W.Clock(False), 50, stream=self.buf)
        self.w = W.Watcher(out, W.Filters(args, a), 5.0, a, now=self.clock)

    def rec(self, seq, outcome="running", life="-", verdict="ok"):
        return ("%d %d 1 %d p fork 100 10 1000 %s %s %s %s %s 0 2201 0\n" % (
            seq, seq * 10**9, 100 + seq, verdict, outcome, life,
            "-" if life == "-" else 5, "x" if outcome == "exec" else "-"))

    def poll(self, *recs):
        lines = (self.HDR + "".join(recs)).splitlines(True)
        reader = P.ForksReader(iter(lines))
        self.w.poll(reader.lines, reader)

    def printed(self):
        """What was printed since the last call: seq numbers, and notices
        in full (self.lines: the lines in full)."""
        self.lines = self.buf.getvalue().splitlines()
        out = [l.split()[1] if not l.startswith(("lost", "the log")) else l
               for l in self.lines]
        self.buf.seek(0)
        self.buf.truncate()
        return out

    def test_now_then_new(self):
        self.w.start_at(1)
        self.poll(self.rec(0, "exec", 5), self.rec(1, "exit", 5),
                  self.rec(2, "exec", 7))
        self.assertEqual(self.printed(), ["2"])

    def test_outcome_later(self):
        self.w.start_at(-1)
        self.poll(self.rec(0), self.rec(1, "exec", 5))
        self.assertEqual(self.printed(), ["1"])          # 0 still runs
        self.clock.t = 1
        self.poll(self.rec(0, "exec", 900), self.rec(1, "exec", 5))
        self.assertEqual(self.printed(), ["0"])          # once, now done
        self.poll(self.rec(0, "exec", 900), self.rec(1, "exec", 5))
        self.assertEqual(self.printed(), [])

    def test_hold(self):
        self.w.start_at(-1)
        self.poll(self.rec(0))
        self.clock.t = 4.9
        self.poll(self.rec(0))
        self.assertEqual(self.printed(), [])
        self.clock.t = 5.0
        self.poll(self.rec(0))
        self.assertEqual(self.printed(), ["0"])          # as running
        self.assertIn(" running ", self.lines[0])
        self.clock.t = 6
        self.poll(self.rec(0, "exec", 900))
        self.assertEqual(self.printed(), [])             # printed once

    def test_lost_between_polls(self):
        self.w.start_at(-1)
        self.poll(self.rec(0, "exec", 5), self.rec(1, "exec", 5))
        self.poll(self.rec(9, "exec", 5), self.rec(10, "exec", 5))
        self.assertEqual(self.printed(), [
            "0", "1", "lost 7 records (seq 2..8): the log overwrote them before "
            "watch read them (raise log_size)", "9", "10"])
        self.poll(self.rec(12, "exec", 5))
        self.assertEqual(self.printed(), [
            "lost 1 record (seq 11): the log overwrote it before watch read it "
            "(raise log_size)", "12"])

    def test_pending_overwritten(self):
        self.w.start_at(-1)
        self.poll(self.rec(0), self.rec(1, "exec", 5))
        self.assertEqual(self.printed(), ["1"])
        self.poll(self.rec(2, "exec", 5))                # 0 left the log
        self.assertEqual(self.printed(), ["2", "0"])

    def test_reset(self):
        self.w.start_at(-1)
        self.poll(self.rec(5, "exec", 5), self.rec(6, "exec", 5))
        self.printed()
        self.poll(self.rec(0, "exec", 5))                # seq went back
        self.assertEqual(self.printed(),
                         ["the log was reset: following it from seq 0"])
        self.poll(self.rec(0, "exec", 5), self.rec(1, "exec", 5))
        self.assertEqual(self.printed(), ["0", "1"])


FAKE_BPFTRACE = r"""#!/bin/sh
# A stand-in for bpftrace: what vforkacct's program prints.
trap 'exit 0' INT TERM
echo "$*" > "$0.args"
echo $$ > "$0.pid"
echo "Attaching 4 probes..."
sleep 0.2
echo READY
echo "F 123 1000000000 3301 20300 723992 305000 948020 0 5120 fork fail python3"
echo "F 124 1000000500 4400 20301 6000 410000 1001748 4242 7001 fork ok my prog"
echo "O 124 20301 1500 35 exec ls"
echo "F 126 1000001000 1100 20302 0 305000 1009940 0 2201 vfork ok nginx"
echo "O 123 20300 9000 180 exec git"
echo "O 126 20302 700 4 exec nginx"
echo "F 127 1000002000 3301 20303 723992 305000 948020 0 5120 fork fail python3"
while :; do sleep 1; done
"""


# A bpftrace that misses the first SIGINT, as bpftrace 0.17 does when it
# lands between two epoll_wait() calls.
FAKE_BPFTRACE_DEAF = FAKE_BPFTRACE.replace(
    "trap 'exit 0' INT TERM",
    "n=0\ntrap 'n=$((n + 1)); [ $n -lt 2 ] || { echo $n > \"$0.ints\"; exit 0; }' INT")


class TestWatchTrace(CliCase):
    """watch --trace with a stand-in for bpftrace (VFA_BPFTRACE): the same
    lines as polling, --interval/--count honoured, gaps said."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("watch --trace checks for root")
        self.d = tempfile.mkdtemp()
        self.bt = os.path.join(self.d, "bpftrace")
        write(self.bt, FAKE_BPFTRACE)
        os.chmod(self.bt, 0o755)
        self.proc = FakeProc(module=True, forks=AFORKS, summary=ASUMMARY)

    def tearDown(self):
        self.proc.close()
        shutil.rmtree(self.d)

    def test_trace(self):
        out = self.ok(["watch", "--trace", "--count", "2", "--interval", "0.5",
                       "--cgroup-map", CGMAP], proc=self.proc,
                      env={"VFA_BPFTRACE": self.bt})
        lines = [re.sub(r"^\d\d:\d\d:\d\d\.\d\d\d ", "TIME ", l)
                 for l in out.splitlines()]
        self.assertEqual(lines, [
            WATCH_TEXT.splitlines()[0],
            "TIME    124    4400   20301 my\\040prog       fork       5.9 MiB ok      exec       1.5 ms     35 ls                      session-3.scope",
            "lost 1 record (seq 125): the log overwrote it before watch read it (raise log_size)",
            "TIME    123    3301   20300 python3          fork     707.0 MiB fail    exec       9.0 ms    180 git              YES    docker-a3f1c2d4e5b6",
            "TIME    126    1100   20302 nginx            vfork        0 KiB ok      exec       700 us      4 nginx                   nginx.service",
            "TIME    127    3301   20303 python3          fork     707.0 MiB fail    running         -      - -                       docker-a3f1c2d4e5b6"])
        self.assertIn("-B none -e", read(self.bt + ".args"))

    def test_trace_stop_says_sigint_again(self):
        write(self.bt, FAKE_BPFTRACE_DEAF)
        start = time.monotonic()
        self.ok(["watch", "--trace", "--count", "1", "--interval", "0.5"],
                proc=self.proc, env={"VFA_BPFTRACE": self.bt})
        took = time.monotonic() - start
        self.assertEqual(read(self.bt + ".ints").strip(), "2")
        self.assertLess(took, 9.5)

    def test_trace_json_backlog(self):
        out = self.ok(["watch", "--trace", "--count", "2", "--interval", "0.5",
                       "--backlog", "--json", "-x"], proc=self.proc,
                      env={"VFA_BPFTRACE": self.bt})
        objs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([o.get("seq") for o in objs if o["event"] == "fork"],
                         [102, 103, 104, 116, 118, 120, 123, 121, 127])
        self.assertEqual([o for o in objs if o["event"] == "lost"],
                         [{"event": "lost", "records": 5, "first_seq": 110,
                           "last_seq": 114},
                          {"event": "lost", "records": 1, "first_seq": 125,
                           "last_seq": 125}])

    def test_sigterm_stops_bpftrace(self):
        e = dict(os.environ, VFA_PROC_ROOT=self.proc.dir,
                 VFA_SYS_ROOT=self.proc.dir, VFA_BPFTRACE=self.bt)
        p = subprocess.Popen([sys.executable, CLI, "watch", "--trace"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, env=e)
        try:
            for _ in range(4):
                p.stdout.readline()     # header, 124, lost 125, 123
            self.assertIn(" 126 ", p.stdout.readline())
            time.sleep(0.5)             # F 127 read: it runs (pending)
            p.terminate()
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual((p.returncode, err), (130, ""))
        # The pending fork is printed on the way out.
        self.assertEqual([l.split()[1:10:8] for l in out.splitlines()],
                         [["127", "running"]])
        pid = int(read(self.bt + ".pid"))
        self.assertFalse(os.path.exists("/proc/%d" % pid), "bpftrace left running")

    def test_bpftrace_fails(self):
        write(self.bt, "#!/bin/sh\necho 'ERROR: tracepoint not found: "
              "vforkacct:vforkacct_fork' >&2\nexit 1\n")
        rc, out, err = run(["watch", "--trace", "--count", "1"], proc=self.proc,
                           env={"VFA_BPFTRACE": self.bt})
        self.assertOneLineError(rc, err, 1)
        self.assertIn("bpftrace failed (exit 1): ERROR: tracepoint not found", err)
        rc, out, err = run(["watch", "--trace", "--count", "1"], proc=self.proc,
                           env={"VFA_BPFTRACE": os.path.join(self.d, "none")})
        self.assertOneLineError(rc, err, 1)
        self.assertIn("bpftrace not found", err)


# ------------------------------------------------------------- plot

class TestPlot(CliCase):
    def test_plot(self):
        if not shutil.which("gnuplot"):
            self.skipTest("no gnuplot")
        d = tempfile.mkdtemp()
        try:
            out = os.path.join(d, "p.png")
            o = self.ok(["plot", out, "--forks", FORKS, "--summary", SUMMARY])
            self.assertEqual(o, "wrote %s (%d bytes): 36 forks\n"
                             % (out, os.path.getsize(out)))
            with open(out, "rb") as f:
                data = f.read()
            self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
            self.assertGreater(len(data), 10000)
            rc, o, err = run(["plot", os.path.join(d, "no", "p.png"),
                              "--forks", FORKS])
            self.assertOneLineError(rc, err, 1)
            # An empty log still plots (two empty panels).
            empty = os.path.join(d, "empty")
            write(empty, " ".join(V.FORKS_HEADER) + "\n")
            self.ok(["plot", out, "--forks", empty])
        finally:
            shutil.rmtree(d)


# ------------------------------------------------------------- load, sync

# What the fake /proc of the tests gives: CommitLimit, the limit at ratio
# 80, the reserves.
COMMIT_LIMIT, LIMIT_R80 = 1010580, 1616928
RESERVES = "admin_reserve_kb=8192 user_reserve_kb=62560"
PARAMS = ("limit_kb", "admin_reserve_kb", "user_reserve_kb", "log_size")
SHIPPED_CONF = os.path.join(TOP, "systemd", "vforkacct.conf")


def fake_params(proc, values=(1, 1, 1, 4096)):
    """The loaded module's parameters below the fake /sys (the fake /proc's
    directory, as run() uses it for both)."""
    d = os.path.join(proc.dir, "module", "vforkacct", "parameters")
    os.makedirs(d)
    for name, v in zip(PARAMS, values):
        write(os.path.join(d, name), "%d\n" % v)
    return d


def param_values(d):
    return [read(os.path.join(d, n)).strip() for n in PARAMS[:3]]


def fake_tools(d, fail=None):
    """insmod, modprobe and rmmod that append their argv to d/calls; the
    one named by fail says what modprobe says for a missing module and
    exits 1.  Returns the env that puts them first in PATH."""
    b = os.path.join(d, "bin")
    os.makedirs(b, exist_ok=True)
    for tool in ("insmod", "modprobe", "rmmod"):
        body = '#!/bin/sh\necho "%s $*" >> "%s"\n' % (tool, os.path.join(d, "calls"))
        if tool == fail:
            body += ("echo '%s: FATAL: Module vforkacct not found in directory "
                     "/lib/modules/6.1.0-test' >&2\nexit 1\n" % tool)
        write(os.path.join(b, tool), body)
        os.chmod(os.path.join(b, tool), 0o755)
    return {"PATH": b + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")}


def calls(d):
    p = os.path.join(d, "calls")
    return read(p).splitlines() if os.path.exists(p) else []


def fake_install(d):
    """The CLI laid out as scripts/install installs it (no checkout around
    it): usr/share/vforkacct/{vforkacct,vforkacct_cli/*.py}, and
    usr/sbin/vforkacct a relative symlink to it.  Returns the symlink."""
    share = os.path.join(d, "usr", "share", "vforkacct")
    os.makedirs(os.path.join(share, "vforkacct_cli"))
    shutil.copy(CLI, os.path.join(share, "vforkacct"))
    pkg = os.path.join(TOP, "scripts", "vforkacct_cli")
    for f in os.listdir(pkg):
        if f.endswith(".py"):
            shutil.copy(os.path.join(pkg, f), os.path.join(share, "vforkacct_cli"))
    os.makedirs(os.path.join(d, "usr", "sbin"))
    link = os.path.join(d, "usr", "sbin", "vforkacct")
    os.symlink("../share/vforkacct/vforkacct", link)
    return link


def fake_checkout(d):
    """A source checkout without a built module: Kbuild, module/, and the
    CLI in scripts/.  Returns the CLI."""
    os.makedirs(os.path.join(d, "module"))
    write(os.path.join(d, "Kbuild"), "obj-m += vforkacct.o\n")
    os.makedirs(os.path.join(d, "scripts"))
    shutil.copy(CLI, os.path.join(d, "scripts", "vforkacct"))
    shutil.copytree(os.path.join(TOP, "scripts", "vforkacct_cli"),
                    os.path.join(d, "scripts", "vforkacct_cli"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    return os.path.join(d, "scripts", "vforkacct")


def need_root(case):
    if os.geteuid() != 0:
        case.skipTest("load and sync need root to get past the root check")


class TestVersion(CliCase):
    def test_version(self):
        rc, out, err = run(["--version"])
        self.assertEqual((rc, out, err), (0, "vforkacct 0.1\n", ""))

    def test_version_is_dkms_conf(self):
        # The installed CLI cannot read dkms.conf: the constant must be
        # its PACKAGE_VERSION (and so debian/changelog's, which
        # scripts/debpkg checks against dkms.conf).
        m = re.search(r'^PACKAGE_VERSION="([^"]*)"$',
                      read(os.path.join(TOP, "dkms.conf")), re.M)
        self.assertIsNotNone(m)
        self.assertEqual(V.VERSION, m.group(1))
        self.assertEqual(self.ok(["--version"]), "vforkacct %s\n" % m.group(1))
        m = re.match(r"^vforkacct \(([^)]*)\)",
                     read(os.path.join(TOP, "debian", "changelog")))
        self.assertEqual(V.VERSION, m.group(1) if m else None)

    def test_installed_version(self):
        d = tempfile.mkdtemp()
        try:
            link = fake_install(d)
            rc, out, err = run(["--version"], cli=link, cwd="/")
            self.assertEqual((rc, out, err), (0, "vforkacct %s\n" % V.VERSION, ""))
        finally:
            shutil.rmtree(d)


class TestConfig(CliCase):
    def setUp(self):
        self.proc = FakeProc()
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        self.proc.close()
        shutil.rmtree(self.d)

    def conf(self, text, name="vforkacct.conf"):
        p = os.path.join(self.d, name)
        write(p, text)
        return p

    def test_same_as_options(self):
        c = self.conf("RATIO=80\nLOG_SIZE=8192\n")
        want = self.ok(["load", "--ratio", "80", "--log-size", "8192",
                        "--dry-run"], proc=self.proc)
        self.assertEqual(want, "would load with limit_kb=%d (what-if "
                         "vm.overcommit_ratio=80) %s log_size=8192\n"
                         % (LIMIT_R80, RESERVES))
        self.assertEqual(self.ok(["load", "--config", c, "--dry-run"],
                                 proc=self.proc), want)
        self.assertEqual(self.ok(["sync", "--config", c, "-n"], proc=self.proc),
                         self.ok(["sync", "--ratio", "80", "-n"], proc=self.proc))

    def test_shell_syntax(self):
        for text, want in (
                ("# a comment\n\n   \n  # indented\nKBYTES=1000003\n",
                 "limit_kb=1000000 (what-if vm.overcommit_kbytes=1000003)"),
                ('RATIO="80"\nLOG_SIZE=\'64\'  # trailing comment\n',
                 "limit_kb=%d " % LIMIT_R80),
                ("export LIMIT_KB=123456\n", "limit_kb=123456 (given)"),
                # empty is unset; the last assignment wins, as in the shell
                ("RATIO=\nKBYTES=\nLIMIT_KB=\nLOG_SIZE=\n",
                 "limit_kb=%d (CommitLimit)" % COMMIT_LIMIT),
                ("RATIO=80\nRATIO=\nLIMIT_KB=5000\n", "limit_kb=5000 (given)"),
                ("RATIO=\"\"\nLOG_SIZE=64\n", "(CommitLimit) %s log_size=64"
                 % RESERVES)):
            with self.subTest(text=text):
                out = self.ok(["load", "-n", "--config", self.conf(text)],
                              proc=self.proc)
                self.assertIn(want, out)
                self.assertEqual("log_size=64" in out, "64" in text)

    def test_shipped_config(self):
        out = self.ok(["load", "-n", "--config", SHIPPED_CONF], proc=self.proc)
        self.assertEqual(out, "would load with limit_kb=%d (CommitLimit) %s "
                         "log_size=4096\n" % (COMMIT_LIMIT, RESERVES))

    def test_options_win(self):
        c = self.conf("RATIO=80\nLOG_SIZE=8192\n")
        out = self.ok(["load", "-n", "--config", c, "--limit-kb", "5000",
                       "--log-size", "128"], proc=self.proc)
        self.assertEqual(out, "would load with limit_kb=5000 (given) %s "
                         "log_size=128\n" % RESERVES)
        out = self.ok(["sync", "-n", "--kbytes", "1000003", "--config", c],
                      proc=self.proc)
        self.assertIn("limit_kb=1000000 (what-if vm.overcommit_kbytes=", out)

    def test_usage_errors(self):
        for text, words in (
                ("RATIO=80\nKBYTES=100\n", ["RATIO and KBYTES", "at most one"]),
                ("LIMIT_KB=1\nRATIO=2\nKBYTES=3\n", ["RATIO and KBYTES and LIMIT_KB"]),
                ("RATIO=x\n", [":1: bad number 'x' for RATIO"]),
                ("\nRATIO=-1\n", [":2: bad number '-1' for RATIO"]),
                ("KBYTES=0\n", ["KBYTES 0 out of range"]),
                ("LIMIT_KB=%d\n" % ((1 << 50) + 1), ["LIMIT_KB", "out of range"]),
                ("LOG_SIZE=15\n", ["LOG_SIZE 15 out of range (16..1048576)"]),
                ("LOG_SIZE=1048577\n", ["LOG_SIZE"]),
                ("RATIO=1.5\n", ["RATIO"]),
                ("FOO=1\n", [":1: unknown key FOO"]),
                ("ratio=80\n", ["unknown key ratio"]),
                ("RATIO 80\n", ["not a KEY=VALUE line"]),
                ("RATIO = 80\n", ["not a KEY=VALUE line"]),
                ("RATIO=80 90\n", ["RATIO: one value expected"]),
                ("RATIO= 80\n", ["RATIO: one value expected"]),
                ('RATIO="80\n', ["RATIO: no closing quotation"])):
            with self.subTest(text=text):
                c = self.conf(text)
                rc, out, err = run(["load", "-n", "--config", c], self.proc)
                self.assertOneLineError(rc, err, 2)
                self.assertIn(c, err)
                for w in words:
                    self.assertIn(w, err)
                self.assertEqual(out, "")
        # A bad file is bad whatever the command line says.
        c = self.conf("RATIO=80\nKBYTES=100\n")
        rc, out, err = run(["load", "-n", "--limit-kb", "5", "--config", c], self.proc)
        self.assertOneLineError(rc, err, 2)
        rc, out, err = run(["sync", "-n", "--config", c], self.proc)
        self.assertOneLineError(rc, err, 2)

    def test_sync_ignores_log_size(self):
        c = self.conf("LOG_SIZE=5\nRATIO=80\n")
        out = self.ok(["sync", "-n", "--config", c], proc=self.proc)
        self.assertEqual(out, "would set limit_kb=%d (what-if "
                         "vm.overcommit_ratio=80) %s\n" % (LIMIT_R80, RESERVES))
        rc, out, err = run(["load", "-n", "--config", c], self.proc)
        self.assertOneLineError(rc, err, 2)

    def test_missing_file(self):
        rc, out, err = run(["load", "-n", "--config",
                            os.path.join(self.d, "none.conf")], self.proc)
        self.assertOneLineError(rc, err, 1)
        self.assertIn("none.conf", err)


class TestSync(CliCase):
    """sync (and --quiet) on a fake loaded module: only changed values are
    written (a parameter file's mtime says whether it was)."""

    OLD = 978307200                 # 2001-01-01, the mtime before a sync

    def setUp(self):
        need_root(self)
        self.proc = FakeProc(module=True)
        self.params = fake_params(self.proc)

    def tearDown(self):
        self.proc.close()

    def age(self):
        for n in PARAMS:
            os.utime(os.path.join(self.params, n), (self.OLD, self.OLD))

    def written(self):
        return [n for n in PARAMS
                if os.stat(os.path.join(self.params, n)).st_mtime != self.OLD]

    def test_quiet(self):
        self.age()
        out = self.ok(["sync", "--quiet"], proc=self.proc)
        self.assertEqual(out, "synced: limit_kb=%d (CommitLimit) %s (changed: "
                         "limit_kb was 1, admin_reserve_kb was 1, "
                         "user_reserve_kb was 1)\n" % (COMMIT_LIMIT, RESERVES))
        self.assertEqual(param_values(self.params),
                         [str(COMMIT_LIMIT), "8192", "62560"])
        self.assertEqual(self.written(), ["limit_kb", "admin_reserve_kb",
                                          "user_reserve_kb"])
        # Nothing changed: not a word, not a write.
        self.age()
        self.assertEqual(self.ok(["sync", "--quiet"], proc=self.proc), "")
        self.assertEqual(self.written(), [])
        # Without --quiet it says so, and still writes nothing.
        self.assertEqual(self.ok(["sync"], proc=self.proc),
                         "in sync: limit_kb=%d (CommitLimit) %s (nothing "
                         "changed)\n" % (COMMIT_LIMIT, RESERVES))
        self.assertEqual(self.written(), [])

    def test_only_what_changed(self):
        self.ok(["sync"], proc=self.proc)
        write(os.path.join(self.proc.dir, "sys", "vm", "user_reserve_kbytes"),
              "131072\n")
        self.age()
        out = self.ok(["sync", "--quiet"], proc=self.proc)
        self.assertTrue(out.startswith("synced: "), out)
        self.assertTrue(out.endswith("(changed: user_reserve_kb was 62560)\n"), out)
        self.assertEqual(self.written(), ["user_reserve_kb"])
        # A what-if limit from the config: only limit_kb moves.
        c = os.path.join(self.proc.dir, "c.conf")
        write(c, "RATIO=80\nLOG_SIZE=64\n")
        self.age()
        out = self.ok(["sync", "--quiet", "--config", c], proc=self.proc)
        self.assertIn("(changed: limit_kb was %d)" % COMMIT_LIMIT, out)
        self.assertEqual(self.written(), ["limit_kb"])
        self.assertEqual(read(os.path.join(self.params, "log_size")), "4096\n")

    def test_quiet_failure_said(self):
        os.unlink(os.path.join(self.params, "user_reserve_kb"))
        os.mkdir(os.path.join(self.params, "user_reserve_kb"))
        rc, out, err = run(["sync", "--quiet"], self.proc)
        self.assertOneLineError(rc, err, 1)
        self.assertIn("cannot write user_reserve_kb=62560", err)

    def test_not_loaded(self):
        shutil.rmtree(os.path.join(self.proc.dir, "module"))
        rc, out, err = run(["sync", "--quiet"], self.proc)
        self.assertOneLineError(rc, err, 3)


class TestLoad(CliCase):
    """load: insmod of a module built in a checkout, else modprobe (the
    installed CLI), and --sync-if-loaded; insmod, modprobe and rmmod are
    stand-ins that record their argv."""

    def setUp(self):
        need_root(self)
        self.d = tempfile.mkdtemp()
        self.proc = FakeProc()
        self.env = fake_tools(self.d)

    def tearDown(self):
        self.proc.close()
        shutil.rmtree(self.d)

    def test_installed_modprobes(self):
        cli = fake_install(os.path.join(self.d, "root"))
        # A vforkacct.ko in the current directory is not the installed CLI's.
        write(os.path.join(self.d, "vforkacct.ko"), "")
        out = self.ok(["load", "--ratio", "80", "--log-size", "64"],
                      proc=self.proc, env=self.env, cli=cli, cwd=self.d)
        want = "limit_kb=%d admin_reserve_kb=8192 user_reserve_kb=62560" % LIMIT_R80
        self.assertEqual(calls(self.d), ["modprobe vforkacct %s log_size=64" % want])
        self.assertEqual(out, "loaded vforkacct (modprobe): limit_kb=%d (what-if "
                         "vm.overcommit_ratio=80) %s log_size=64\n"
                         % (LIMIT_R80, RESERVES))
        os.unlink(os.path.join(self.d, "calls"))
        c = os.path.join(self.d, "c.conf")
        write(c, "LIMIT_KB=5000\n")
        self.ok(["load", "--config", c], proc=self.proc, env=self.env, cli=cli)
        self.assertEqual(calls(self.d), ["modprobe vforkacct limit_kb=5000 %s"
                                         % RESERVES])

    def test_modprobe_fails(self):
        cli = fake_install(os.path.join(self.d, "root"))
        env = fake_tools(self.d, fail="modprobe")
        rc, out, err = run(["load"], self.proc, env=env, cli=cli)
        self.assertOneLineError(rc, err, 1)
        self.assertIn("modprobe failed: modprobe: FATAL: Module vforkacct not "
                      "found in directory /lib/modules/6.1.0-test", err)
        self.assertEqual(out, "")
        # No modprobe at all.
        rc, out, err = run(["load"], self.proc, cli=cli,
                           env={"PATH": os.path.join(self.d, "nobin")})
        self.assertOneLineError(rc, err, 1)
        self.assertIn("modprobe not found", err)

    def test_checkout_insmods_its_module(self):
        cli = fake_checkout(os.path.join(self.d, "co"))
        # Not built: modprobe, and if that fails it says to build.
        env = fake_tools(self.d, fail="modprobe")
        rc, out, err = run(["load"], self.proc, env=env, cli=cli, cwd="/")
        self.assertOneLineError(rc, err, 1)
        self.assertIn("no vforkacct.ko for %s in the checkout" % os.uname().release,
                      err)
        os.unlink(os.path.join(self.d, "calls"))
        ko = os.path.join(self.d, "co", ".build", os.uname().release, "vforkacct.ko")
        os.makedirs(os.path.dirname(ko))
        write(ko, "")
        self.ok(["load", "--log-size", "16"], proc=self.proc, env=self.env,
                cli=cli, cwd="/")
        self.assertEqual(calls(self.d), ["insmod %s limit_kb=%d %s log_size=16"
                                         % (ko, COMMIT_LIMIT, RESERVES)])

    def test_ko(self):
        cli = fake_install(os.path.join(self.d, "root"))
        ko = os.path.join(self.d, "my.ko")
        write(ko, "")
        out = self.ok(["load", "--ko", ko], proc=self.proc, env=self.env, cli=cli)
        self.assertEqual(calls(self.d), ["insmod %s limit_kb=%d %s"
                                         % (ko, COMMIT_LIMIT, RESERVES)])
        self.assertTrue(out.startswith("loaded %s: " % ko), out)

    def test_sync_if_loaded(self):
        proc = FakeProc(module=True)
        try:
            params = fake_params(proc)
            c = os.path.join(self.d, "c.conf")
            write(c, "RATIO=80\nLOG_SIZE=8192\n")
            out = self.ok(["load", "--config", c, "--sync-if-loaded"],
                          proc=proc, env=self.env)
            self.assertEqual(calls(self.d), [])        # no insmod, no modprobe
            self.assertEqual(param_values(params), [str(LIMIT_R80), "8192", "62560"])
            self.assertEqual(read(os.path.join(params, "log_size")), "4096\n")
            self.assertTrue(out.startswith("synced: limit_kb=%d " % LIMIT_R80), out)
            # Without it, loaded is an error.
            rc, out, err = run(["load", "--config", c], proc, env=self.env)
            self.assertOneLineError(rc, err, 1)
            self.assertIn("already loaded", err)
            self.assertEqual(calls(self.d), [])
        finally:
            proc.close()
        # Not loaded: --sync-if-loaded loads.
        cli = fake_install(os.path.join(self.d, "root"))
        self.ok(["load", "--sync-if-loaded"], proc=self.proc, env=self.env, cli=cli)
        self.assertEqual(calls(self.d), ["modprobe vforkacct limit_kb=%d %s"
                                         % (COMMIT_LIMIT, RESERVES)])


# ------------------------------------------------------------- packaging

class TestPackage(CliCase):
    def test_symlinked_launcher(self):
        # The launcher finds its package through a symlink (installed as
        # /usr/local/bin/vforkacct, say).
        d = tempfile.mkdtemp()
        try:
            link = os.path.join(d, "vforkacct")
            os.symlink(CLI, link)
            p = subprocess.run([link, "report", "--forks", FORKS, "--summary",
                                SUMMARY], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True,
                               env=dict(os.environ, TZ="UTC"), timeout=60)
            self.assertEqual((p.returncode, p.stderr), (0, ""))
            self.assertEqual(p.stdout, REPORT_TEXT)
        finally:
            shutil.rmtree(d)

    def test_scripts_api(self):
        # What scripts/experiments use from the loaded launcher.
        for name in ("parse_forks", "parse_summary", "parse_meminfo",
                     "program_stats", "rejudge", "commit_limit_kb",
                     "advise_calc", "pct", "hkb", "hus", "table", "PAGE_KB",
                     "module_loaded", "gnuplot_terminal", "gp_quote",
                     "FORKS_HEADER", "unescape_comm"):
            self.assertTrue(hasattr(V, name), name)
        st = V.program_stats(V.parse_forks(read(FORKS)))
        self.assertEqual([p["comm_escaped"] for p in st],
                         ["python3", "bigparent", "capture"])
        self.assertEqual(st[0]["touched_kb_median"], 820)

    def test_no_bytecode_left(self):
        self.ok(["--help"])
        self.assertFalse(os.path.exists(os.path.join(
            TOP, "scripts", "vforkacct_cli", "__pycache__")))

    def test_size(self):
        # Small modules, none of them the whole CLI again.
        pkg = os.path.join(TOP, "scripts", "vforkacct_cli")
        for f in os.listdir(pkg):
            if f.endswith(".py"):
                with open(os.path.join(pkg, f)) as fh:
                    self.assertLess(len(fh.readlines()), 700, f)


class TestCompletion(CliCase):
    def test_options_match_parser(self):
        text = read(COMPLETION)
        parser = V.build_parser()
        subs = parser._subparsers._group_actions[0].choices
        self.assertIn('local subs="%s"' % " ".join(subs), text)
        for name, sp in subs.items():
            with self.subTest(sub=name):
                m = re.search(r"^\t%s\) echo \"([^\"]*)\" ;;$" % name, text, re.M)
                self.assertIsNotNone(m, name)
                want = {o for a in sp._actions for o in a.option_strings}
                self.assertEqual(set(m.group(1).split()), want)
        m = re.search(r'compgen -W "\$subs ([^"]*)"', text)
        self.assertIsNotNone(m)
        self.assertEqual(set(m.group(1).split()),
                         {o for a in parser._actions for o in a.option_strings})

    def test_completes(self):
        bash = shutil.which("bash")
        if not bash:
            self.skipTest("no bash")

        def complete(*words):
            script = (". %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_vforkacct\n"
                      "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
                      % (COMPLETION, " ".join("'%s'" % w for w in words),
                         len(words) - 1))
            p = subprocess.run([bash, "--norc", "-c", script],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=30)
            self.assertEqual(p.stderr, "")
            return sorted(l for l in p.stdout.splitlines() if l)
        self.assertEqual(complete("vforkacct", "re"), ["report"])
        self.assertEqual(complete("vforkacct", "report", "--by", ""),
                         ["cgroup", "comm", "uid", "unit"])
        self.assertEqual(complete("vforkacct", "export", "--by", "c"), ["cgroup"])
        self.assertEqual(complete("vforkacct", "watch", "--ba"), ["--backlog"])
        self.assertEqual(complete("vforkacct", "--v"), ["--version"])
        self.assertEqual(complete("vforkacct", "load", "--sy"), ["--sync-if-loaded"])
        self.assertEqual(complete("vforkacct", "sync", "--q"), ["--quiet"])
        self.assertEqual(complete("vforkacct", "sync", "--co"), ["--config"])
        self.assertEqual(complete("vforkacct", "load", "--config",
                                  os.path.join(DATA, "forks-a")), [AFORKS])
        self.assertEqual(complete("vforkacct", "report", "--forks",
                                  os.path.join(DATA, "forks-a")), [AFORKS])


# ------------------------------------------------------------- runner

class Result(unittest.TextTestResult):
    pass


def main():
    argv = [a for a in sys.argv[1:] if a != "-v"]
    loader = unittest.TestLoader()
    if argv:
        suite = loader.loadTestsFromNames(argv, sys.modules[__name__])
    else:
        suite = loader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=sys.stdout, resultclass=Result,
                                     verbosity=2 if "-v" in sys.argv else 1)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
