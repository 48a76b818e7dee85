# SPDX-License-Identifier: GPL-2.0
"""The command line: one parser, a subparser per subcommand module, and
main(), which turns every failure into one line on stderr."""

import os
import sys

from . import advise, export, modctl, plot, report, watch
from .args import Parser
from .common import EXIT_ERROR, EXIT_INTR, EXIT_OK, PROG, VERSION, CliError

DESCRIPTION = """\
The user's tool for the vforkacct module: load it with the system's
strict-overcommit limit; report which programs, services, containers and
users would have failed to fork under strict overcommit; re-judge under
a what-if limit; advise a vm.overcommit_ratio; watch forks live; export
metrics for Prometheus; plot."""

EPILOG = """\
Exit status: 0 ok, 1 error, 2 usage, 3 module not loaded, 4 not root,
130 interrupted.  `%s SUBCOMMAND --help` for each.""" % PROG


def build_parser():
    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--version", action="version",
                   version="%s %s" % (PROG, VERSION),
                   help="print the version (%s) and exit" % VERSION)
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND",
                           parser_class=Parser)
    sub.required = True
    modctl.add_parsers(sub)
    report.add_parser(sub)
    advise.add_parser(sub)
    export.add_parser(sub)
    watch.add_parser(sub)
    plot.add_parser(sub)
    return p


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CliError as e:
        sys.stdout.flush()
        msg = str(e).splitlines()[0] if str(e) else "error"
        sys.stderr.write("%s: %s\n" % (PROG, msg))
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTR
    except BrokenPipeError:
        # `vforkacct report | head`: quietly, and no error at exit either.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
    except Exception as e:      # never a traceback
        sys.stderr.write("%s: internal error: %s: %s\n"
                         % (PROG, type(e).__name__, e))
        return EXIT_ERROR
