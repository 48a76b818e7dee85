#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host-side tests of scripts/vforkacct (python unittest, stdlib only).

    python3 scripts/tests/test_cli.py [-v] [TestClass[.test_name] ...]

Checks argument parsing and exit codes, `report --json` (schema and the
per-program numbers), `advise` and the what-if limit arithmetic against the
forks/summary/meminfo captured in the test VM into scripts/tests/data/
(scripts/tests/data/capture regenerates them; the numbers below were
worked out by hand from those files).  Ends with `N passed, N failed,
N skipped`; exits 1 when anything failed.

Nothing here needs the module or root: /proc is replaced by a fake tree
(VFA_PROC_ROOT), and the not-root checks run as nobody via setpriv when
this runs as root (skipped when that cannot be done).
"""

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CLI = os.path.join(TOP, "scripts", "vforkacct")
DATA = os.path.join(HERE, "data")
FORKS = os.path.join(DATA, "forks")
SUMMARY = os.path.join(DATA, "summary")
MEMINFO = os.path.join(DATA, "meminfo")


sys.dont_write_bytecode = True


def load_cli():
    loader = importlib.machinery.SourceFileLoader("vforkacct_cli", CLI)
    spec = importlib.util.spec_from_loader("vforkacct_cli", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


V = load_cli()


def read(path):
    with open(path) as f:
        return f.read()


class FakeProc:
    """A directory standing in for /proc: meminfo, sys/vm/*, and optionally
    vforkacct/{summary,forks}."""

    def __init__(self, module=False, meminfo=MEMINFO, forks_mode=0o400):
        self.dir = tempfile.mkdtemp(prefix="vfa-test-proc.")
        os.chmod(self.dir, 0o755)
        shutil.copy(meminfo, os.path.join(self.dir, "meminfo"))
        vm = os.path.join(self.dir, "sys", "vm")
        os.makedirs(vm)
        for name, val in (("admin_reserve_kbytes", 8192),
                          ("user_reserve_kbytes", 62560),
                          ("overcommit_memory", 0), ("overcommit_ratio", 50),
                          ("overcommit_kbytes", 0)):
            with open(os.path.join(vm, name), "w") as f:
                f.write("%d\n" % val)
        for d in (self.dir, os.path.join(self.dir, "sys"), vm):
            os.chmod(d, 0o755)
        if module:
            m = os.path.join(self.dir, "vforkacct")
            os.makedirs(m)
            os.chmod(m, 0o755)
            shutil.copy(SUMMARY, os.path.join(m, "summary"))
            shutil.copy(FORKS, os.path.join(m, "forks"))
            os.chmod(os.path.join(m, "summary"), 0o444)
            os.chmod(os.path.join(m, "forks"), forks_mode)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(args, proc=None, prefix=(), python=None, stdin=None):
    """Runs the CLI; returns (exit status, stdout, stderr)."""
    env = dict(os.environ)
    env["VFA_PROC_ROOT"] = proc.dir if proc else "/nonexistent-vfa-proc"
    env["VFA_SYS_ROOT"] = proc.dir if proc else "/nonexistent-vfa-sys"
    p = subprocess.run(list(prefix) + [python or sys.executable, CLI] + list(args),
                       stdin=subprocess.DEVNULL if stdin is None else stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


class CliCase(unittest.TestCase):
    def assertOneLineError(self, rc, err, code):
        self.assertEqual(rc, code, "exit status (stderr: %r)" % err)
        self.assertNotIn("Traceback", err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "stderr is not one line: %r" % err)
        self.assertTrue(lines[0].startswith("vforkacct: "), lines[0])


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
                     ["watch", "--interval", "0"], ["watch", "--interval", "nan"],
                     ["watch", "--count", "-1"], ["load", "--ratio"]):
            with self.subTest(args=args):
                rc, out, err = run(args)
                self.assertOneLineError(rc, err, 2)

    def test_exclusive_limits(self):
        rc, out, err = run(["load", "--ratio", "50", "--kbytes", "100"])
        self.assertOneLineError(rc, err, 2)

    def test_sync_has_no_log_size(self):
        rc, out, err = run(["sync", "--log-size", "100"])
        self.assertOneLineError(rc, err, 2)

    def test_plot_needs_output(self):
        rc, out, err = run(["plot"])
        self.assertOneLineError(rc, err, 2)

    def test_help(self):
        for sub in ([], ["load"], ["sync"], ["unload"], ["report"], ["advise"],
                    ["plot"], ["watch"]):
            with self.subTest(sub=sub):
                rc, out, err = run(sub + ["--help"])
                self.assertEqual(rc, 0)
                self.assertIn("usage: vforkacct", out)
                self.assertEqual(err, "")
        rc, out, err = run(["--help"])
        self.assertIn("3 module not loaded", out)
        rc, out, err = run(["report", "--help"])
        self.assertIn("vforkacct-report/1", out)


class TestModuleNotLoaded(CliCase):
    def setUp(self):
        self.proc = FakeProc(module=False)

    def tearDown(self):
        self.proc.close()

    def test_exit_3(self):
        for args in (["report"], ["report", "--json"], ["advise"],
                     ["plot", os.path.join(self.proc.dir, "x.png")],
                     ["watch", "--poll", "--count", "1"]):
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
        rc, out, err = run(["report", "--forks", FORKS, "--summary", SUMMARY],
                           self.proc)
        self.assertEqual(rc, 0, err)

    def test_missing_file(self):
        rc, out, err = run(["report", "--forks", "/nonexistent/forks"], self.proc)
        self.assertOneLineError(rc, err, 1)


def nobody_prefix():
    """A command prefix that runs as nobody, and a python nobody can run."""
    if os.geteuid() != 0:
        return (), sys.executable
    setpriv = shutil.which("setpriv")
    py = "/usr/bin/python3"
    if not setpriv or not os.access(py, os.X_OK):
        return None, None
    return (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"), py


class TestNotRoot(CliCase):
    def setUp(self):
        self.prefix, self.py = nobody_prefix()
        if self.prefix is None:
            self.skipTest("cannot run as nobody here (no setpriv or /usr/bin/python3)")
        if not os.access(CLI, os.R_OK) and os.geteuid() != 0:
            self.skipTest("the CLI is not readable")
        self.proc = FakeProc(module=True)

    def tearDown(self):
        self.proc.close()

    def check_nobody_can_read_cli(self):
        rc, out, err = run(["--help"], self.proc, self.prefix, self.py)
        if rc != 0:
            self.skipTest("nobody cannot run the CLI from this checkout: %s"
                          % err.strip()[:80])

    def test_exit_4(self):
        self.check_nobody_can_read_cli()
        for args in (["load"], ["unload"], ["sync"], ["report"]):
            with self.subTest(args=args):
                rc, out, err = run(args, self.proc, self.prefix, self.py)
                self.assertOneLineError(rc, err, 4)
                self.assertIn("root", err)

    def test_summary_is_enough_for_advise(self):
        self.check_nobody_can_read_cli()
        rc, out, err = run(["advise"], self.proc, self.prefix, self.py)
        self.assertEqual(rc, 0, err)


class TestParse(CliCase):
    def test_summary(self):
        s = V.parse_summary(read(SUMMARY))
        self.assertEqual(s["limit_kb"], 1010580)
        self.assertEqual(s["limit_source"], "param")
        self.assertEqual(s["forks"], 36)
        self.assertEqual(s["min_safe_limit_kb"], 1474728)
        self.assertEqual(s["log_size"], 256)

    def test_forks(self):
        rows = V.parse_forks(read(FORKS))
        self.assertEqual(len(rows), 42)
        self.assertEqual([r["seq"] for r in rows], list(range(42)))
        r = rows[5]
        self.assertEqual((r["comm"], r["kind"], r["charge_kB"], r["verdict"],
                          r["outcome"], r["life_us"], r["faults"], r["exec_comm"]),
                         ("python3", "fork", 723992, "fail", "exit", 9628, 201, None))

    def test_escapes_running_unknown(self):
        text = (" ".join(V.FORKS_HEADER) + "\n"
                "7 100 1 2 my\\040prog fork - 10 20 unknown running - - -\n"
                "8 200 1 3 a\\134b\\303\\251 fork 8 10 20 ok exec 5 2 x\\011y\n")
        rows = V.parse_forks(text)
        self.assertIsNone(rows[0]["charge_kB"])
        self.assertIsNone(rows[0]["life_us"])
        self.assertEqual(V.unescape_comm(rows[0]["comm"]), "my prog")
        self.assertEqual(V.unescape_comm(rows[1]["comm"]), "a\\b\u00e9")
        st = V.program_stats(rows)
        mine = [p for p in st if p["comm"] == "my prog"][0]
        self.assertEqual((mine["unknown"], mine["running"], mine["exec_share"]),
                         (1, 1, None))

    def test_bad_forks_file(self):
        d = tempfile.mkdtemp()
        try:
            for name, text in (("noheader", "1 2 3\n"),
                               ("short", " ".join(V.FORKS_HEADER) + "\n1 2 3\n"),
                               ("nan", " ".join(V.FORKS_HEADER) +
                                "\nx 1 1 2 c fork 0 1 2 ok exec 1 1 -\n"),
                               ("empty", "")):
                with self.subTest(name=name):
                    p = os.path.join(d, name)
                    with open(p, "w") as f:
                        f.write(text)
                    rc, out, err = run(["report", "--forks", p])
                    self.assertOneLineError(rc, err, 1)
            p = os.path.join(d, "badsummary")
            with open(p, "w") as f:
                f.write("hello world\n")
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


# ------------------------------------------------------------- report

class TestReport(CliCase):
    @classmethod
    def setUpClass(cls):
        rc, out, err = run(["report", "--json", "--forks", FORKS,
                            "--summary", SUMMARY])
        assert rc == 0, err
        cls.rep = json.loads(out)
        cls.progs = {p["comm"]: p for p in cls.rep["programs"]}

    def test_schema(self):
        r = self.rep
        self.assertEqual(r["schema"], "vforkacct-report/1")
        self.assertEqual(set(r), {"schema", "summary", "log", "prompt_ms",
                                  "programs", "spawn_candidates"})
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
        types = {"comm": str, "comm_escaped": str, "forks": int, "vforks": int,
                 "vm_clones": int, "would_fail": int, "would_fail_exec": int,
                 "unknown": int, "exec": int, "exit": int, "running": int,
                 "exec_share": float, "life_us_median": int, "life_us_p99": int,
                 "faults_median": int, "touched_kb_median": int,
                 "charge_kb_median": int, "touched_share": float,
                 "charge_kb_max": int, "fail_exec_life_us_median": int,
                 "spawn_candidate": bool}
        for p in r["programs"]:
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

    def test_order(self):
        self.assertEqual([p["comm"] for p in self.rep["programs"]],
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
        rc, out, err = run(["report", "--forks", FORKS, "--summary", SUMMARY])
        self.assertEqual(rc, 0, err)
        self.assertIn("4 forks would have FAILED", out)
        self.assertIn("1474728 kB", out)
        table = [l.split() for l in out.splitlines()]
        py = [l for l in table if l and l[0] == "python3"][0]
        self.assertEqual(py[1:6], ["3", "1", "3", "2", "67"])
        self.assertEqual(py[-1], "YES")
        self.assertIn("Spawn candidates (would-fail", out)

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


# ------------------------------------------------------------- arithmetic

MEM = V.parse_meminfo(read(MEMINFO))
# A machine with hugetlb and swap: numbers not multiple of 4 pages apart.
MEM_HS = {"MemTotal": 16303932, "Hugetlb": 1048576, "SwapTotal": 2097148}


class TestWhatIf(CliCase):
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
            with open(p, "w") as f:
                f.write("MemTotal: %d kB\nHugetlb: %d kB\nSwapTotal: %d kB\n"
                        % (MEM_HS["MemTotal"], MEM_HS["Hugetlb"],
                           MEM_HS["SwapTotal"]))
            proc = FakeProc()
            rc, out, err = run(["load", "-n", "--ratio", "50", "--meminfo", p], proc)
            proc.close()
            self.assertEqual(rc, 0, err)
            self.assertIn("limit_kb=9724824 ", out)
        finally:
            shutil.rmtree(d)


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
        # 72 would not be enough
        self.assertLess(V.commit_limit_kb(V.parse_meminfo(read(MEMINFO)),
                                          ratio=72, page_kb=4), 1474728)

    def test_text(self):
        rc, out, err = run(["advise", "--summary", SUMMARY, "--meminfo", MEMINFO])
        self.assertEqual(rc, 0, err)
        self.assertIn("sysctl -w vm.overcommit_ratio=73", out)
        self.assertIn("sysctl -w vm.overcommit_kbytes=1474728", out)
        self.assertIn("sysctl -w vm.overcommit_memory=2", out)
        self.assertIn("464148 kB short", out)

    def test_no_fork(self):
        d = tempfile.mkdtemp()
        try:
            p = os.path.join(d, "summary")
            text = read(SUMMARY)
            text = text.replace("forks:                       36",
                                "forks:                        0")
            text = text.replace("1474728 kB", "0 kB")
            with open(p, "w") as f:
                f.write(text)
            rc, out, err = run(["advise", "--summary", p, "--meminfo", MEMINFO])
            self.assertEqual(rc, 0, err)
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


class TestRejudge(CliCase):
    def test_what_if(self):
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


class TestPlotWatch(CliCase):
    def test_plot(self):
        if not shutil.which("gnuplot"):
            self.skipTest("no gnuplot")
        d = tempfile.mkdtemp()
        try:
            out = os.path.join(d, "p.png")
            rc, o, err = run(["plot", out, "--forks", FORKS, "--summary", SUMMARY])
            self.assertEqual(rc, 0, err)
            with open(out, "rb") as f:
                data = f.read()
            self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
            self.assertGreater(len(data), 10000)
            rc, o, err = run(["plot", os.path.join(d, "no", "p.png"),
                              "--forks", FORKS])
            self.assertOneLineError(rc, err, 1)
            # An empty log still plots (two empty panels).
            empty = os.path.join(d, "empty")
            with open(empty, "w") as f:
                f.write(" ".join(V.FORKS_HEADER) + "\n")
            rc, o, err = run(["plot", out, "--forks", empty])
            self.assertEqual(rc, 0, err)
        finally:
            shutil.rmtree(d)

    def test_watch_poll(self):
        rc, out, err = run(["watch", "--poll", "--count", "1", "--forks", FORKS])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1 + 42)
        self.assertTrue(lines[2].startswith("new") and "fail" in lines[2])


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
