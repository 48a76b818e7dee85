# SPDX-License-Identifier: GPL-2.0
"""vforkacct_cli: the package behind scripts/vforkacct.

  common   exit statuses, constants, /proc and /sys paths, one-line errors
  parse    meminfo, summary and forks (streamed), where input comes from
  limits   CommitLimit arithmetic, advise, what-if re-judging
  attrib   cgroup id -> path -> systemd unit, uid -> user
  stats    one streaming pass over the log, grouped
  fmt      sizes, times, percentages, tables, help wrapping
  args     shared options and number checks
  modctl   load, sync, unload       report   report
  advise   advise                   export   export (Prometheus)
  watch    watch                    plot     plot
  main     the parser and main()

Scripts that load scripts/vforkacct get the names below (the parsing and
arithmetic helpers) as attributes of it."""

from .common import *           # noqa: F401,F403
from .parse import *            # noqa: F401,F403
from .limits import *           # noqa: F401,F403
from .attrib import *           # noqa: F401,F403
from .stats import *            # noqa: F401,F403
from .fmt import *              # noqa: F401,F403
from .plot import gnuplot_terminal, gp_quote      # noqa: F401
from .report import build_report, report_text, summary_words  # noqa: F401
from .main import build_parser, main              # noqa: F401
