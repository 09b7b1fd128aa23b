"""The `shadow` command line: scan, report, diff, verdict, rejudge, demo, check-config, serve.

Exit codes: 0 success (and READY for `verdict`), 1 NOT_READY, 2 INSUFFICIENT_DATA, 3 an error
shadow explains on stderr (bad config, unreadable ledger or source), 64 a usage error (EX_USAGE
from sysexits.h: an unknown flag, a malformed value). 0, 1 and 2 belong to the verdict, so a
typo in a pipeline's gate can never read as one. Output piped into a reader that stops early
(`shadow report | head -1`) ends the command quietly with 141, as SIGPIPE would.

The modules: parser.py (the subcommands, their flags and the exit codes), scanning.py (scan,
serve, check-config), stored.py (report, verdict, rejudge, diff, merge: judging the evidence a
ledger holds), demo.py (demo); `shadow profile` is shadow/profilecheck.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from shadow import profilecheck
from shadow.cli.demo import cmd_demo
from shadow.cli.parser import EXIT_ERROR, EXIT_PIPE, EXIT_USAGE, build_parser, subcommands
from shadow.cli.scanning import cmd_check_config, cmd_scan, cmd_serve
from shadow.cli.stored import cmd_diff, cmd_merge, cmd_rejudge, cmd_report, cmd_verdict
from shadow.errors import ShadowError, UsageError
from shadow.malloc import pin_mmap_threshold

__all__ = ["COMMANDS", "build_parser", "main", "subcommands"]

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": cmd_scan,
    "report": cmd_report,
    "diff": cmd_diff,
    "verdict": cmd_verdict,
    "rejudge": cmd_rejudge,
    "demo": cmd_demo,
    "check-config": cmd_check_config,
    "merge": cmd_merge,
    "serve": cmd_serve,
    "profile": lambda args: profilecheck.run(args),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named in the subcommand's usage, which lists the flags it does take
        subcommands(parser)[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    pin_mmap_threshold()  # shadow serve runs for months: keep big freed blocks off the heap
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except UsageError as exc:
        print(f"shadow {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ShadowError as exc:
        print(f"shadow: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _stdout_closed() -> int:
    """The reader of stdout went away (`shadow report | head -1`): stop quietly, as a command
    killed by SIGPIPE does, with the status a shell shows for one (141). What is still buffered
    goes to devnull, so the interpreter's flush at exit raises nothing either (the Python docs'
    "Note on SIGPIPE"). SIGPIPE itself stays ignored: `shadow serve` writes to sockets."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE
