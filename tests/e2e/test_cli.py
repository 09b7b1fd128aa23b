"""The command line follows the conventions a user relies on (clig.dev): a version, exit codes
that a gate can trust, help for every option, and messages that name flags which exist."""

from __future__ import annotations

import argparse
import ast
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shadow import __version__
from shadow.cli import build_parser, main
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.serve.daemon import build_service
from tests.e2e.conftest import NOW
from tests.snapshots import tree_unchanged

ROOT = Path(__file__).resolve().parents[2]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser by name, nested ones (`profile check`) included."""
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    out = {}
    for name, p in action.choices.items():
        out[name] = p
        if any(isinstance(a, argparse._SubParsersAction) for a in p._actions):
            out |= {f"{name} {n}": q for n, q in subcommands(p).items()}
    return out


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._SubParsersAction)]


def test_every_option_of_every_subcommand_has_help() -> None:
    """`--help` explains every option and argument; a new flag without help fails here."""
    parser = build_parser()
    missing = [
        f"{name} {'/'.join(a.option_strings) or a.dest}"
        for name, p in [("shadow", parser), *subcommands(parser).items()]
        for a in _options(p)
        if not a.help or a.help == argparse.SUPPRESS
    ]
    assert [] == missing


@pytest.mark.parametrize(
    "argv",
    [
        ["verdict", "--bogus"],
        ["report", "--layout", "sideways"],
        ["verdict", "--now", "yesterday"],
        ["demo", "--seed", "seven"],
        ["no-such-command"],
        [],
        ["merge", "a.json", "--shards", "2"],
        ["demo", "--scenario", "no-such-scenario"],
    ],
)
def test_usage_errors_exit_64_never_a_verdict_code(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A typo in a gate's command line exits EX_USAGE (64): 0, 1 and 2 are READY, NOT_READY and
    INSUFFICIENT_DATA, and 3 is an error shadow met doing the job."""
    try:
        code = main([*argv, "--db", str(tmp_path / "x.db")] if argv else argv)
    except SystemExit as exc:
        code = exc.code  # argparse's own errors leave through SystemExit
    assert 64 == code
    err = capsys.readouterr().err
    assert "error:" in err


def test_version_and_python_dash_m() -> None:
    """`shadow --version` and `python -m shadow` work like the installed script."""
    version = subprocess.run(
        [sys.executable, "-m", "shadow", "--version"], capture_output=True, text=True, timeout=60
    )
    assert 0 == version.returncode, version.stderr
    assert f"shadow {__version__}" == version.stdout.strip()
    helped = subprocess.run(
        [sys.executable, "-m", "shadow", "--help"], capture_output=True, text=True, timeout=60
    )
    assert 0 == helped.returncode
    assert "verdict" in helped.stdout and "exit codes" in helped.stdout
    bogus = subprocess.run(
        [sys.executable, "-m", "shadow", "verdict", "--bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 64 == bogus.returncode
    assert "shadow verdict: error: unrecognized arguments: --bogus" in bogus.stderr


@pytest.mark.parametrize(
    ("argv", "lines_read"),
    [
        (["profile", "show", "telegram-bot"], 0),  # small: fails in the flush at the end
        (["profile", "check", "trigger-dev", "--json", "tests/fixtures/vendors"], 1),  # ~100 kB
    ],
)
def test_output_into_a_pipe_closed_early_ends_quietly(argv: list[str], lines_read: int) -> None:
    """`shadow ... | head` ends with SIGPIPE's status and no traceback when the reader stops."""
    with subprocess.Popen(
        [sys.executable, "-m", "shadow", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for _ in range(lines_read):
            proc.stdout.readline()
        proc.stdout.close()  # like `head -N` exiting: the next write meets a closed pipe
        err = proc.stderr.read()
        assert 141 == proc.wait(timeout=60)
    assert "" == err


def _strings(path: Path) -> list[str]:
    """Every string literal in a module but its docstrings, f-strings' literal parts included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_every_message_names_flags_that_exist() -> None:
    """A message that tells the user to pass `--something` names a flag some command takes."""
    parser = build_parser()
    flags = {s for a in _options(parser) for s in a.option_strings}
    for p in subcommands(parser).values():
        flags |= {s for a in _options(p) for s in a.option_strings}
    named: dict[str, set[str]] = {}
    for path in sorted((ROOT / "shadow").rglob("*.py")):
        for text in _strings(path):
            # `--x` after a space, a backtick, a quote or at the start; CSS's var(--x) is not a flag.
            for flag in re.findall(r"(?:^|[\s`'(/])(--[a-z][a-z-]*)", text):
                if not text.count(f"var({flag}"):
                    named.setdefault(flag, set()).add(path.name)
    unknown = {flag: sorted(where) for flag, where in named.items() if flag not in flags}
    assert {} == unknown
    assert "--prefix" in named  # the check reads the messages (the layout warning names it)


def test_a_scan_that_finds_no_run_directory_says_what_it_found_and_where_runs_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scan --source dir:bucket/runs` (one level too deep) does not end on a bare "listed 0":
    it says what the directory holds and names the bucket root as the source."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=12, days=1, plant=False)
    db = str(tmp_path / "s.db")
    with tree_unchanged(corpus.root):
        code = main(["scan", "--once", "--source", f"dir:{corpus.root}/runs", "--db", db])
    assert 0 == code
    err = capsys.readouterr().err
    assert re.search(r"holds \d+ directories named run_\*", err), err
    assert f"the source is the bucket root, dir:{corpus.root}\n" in err
    # A scan that finds runs says nothing of the kind.
    assert 0 == main(["scan", "--once", "--source", f"dir:{corpus.root}", "--db", db])
    assert "no run directory found" not in capsys.readouterr().err


async def test_serve_logs_where_the_runs_probably_are_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon says it in its log, on the first empty cycle only."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=12, days=1, plant=False)
    settings = load_settings(source=f"dir:{corpus.root}/runs", db=str(tmp_path / "s.db"))
    svc = build_service(settings, CollectorRegistry())
    try:
        with caplog.at_level(logging.WARNING, logger="shadow"):
            await svc.cycle(NOW.timestamp())
            await svc.cycle(NOW.timestamp())
    finally:
        await svc.close()
    said = [r.getMessage() for r in caplog.records if "no run directory found" in r.getMessage()]
    assert 1 == len(said)
    assert said[0].endswith(f"the source is the bucket root, dir:{corpus.root}")


def test_docs_cli_md_is_what_help_says(tmp_path: Path) -> None:
    """docs/cli.md is generated from the parser (cog); a page that differs from --help fails
    the check `make check` runs, so the reference cannot drift from the program."""
    cog = str(Path(sys.executable).with_name("cog"))
    page = ROOT / "docs" / "cli.md"
    fresh = subprocess.run([cog, "--check", str(page)], capture_output=True, text=True, timeout=60)
    assert 0 == fresh.returncode, fresh.stdout + fresh.stderr
    stale = tmp_path / "cli.md"
    stale.write_text(page.read_text().replace("judge as of this ISO-8601 time", "judge now"))
    drifted = subprocess.run(
        [cog, "--check", str(stale)], capture_output=True, text=True, timeout=60
    )
    assert 0 != drifted.returncode
    assert "--now" in page.read_text() and "exit codes" in page.read_text()
