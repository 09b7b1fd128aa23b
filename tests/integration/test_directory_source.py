"""The directory source in a hostile tree: FIFOs, symbolic links, names that are not UTF-8 and
directories it may not read. Nothing hangs, nothing is passed over in silence (issue 16, items
6 and 9). Real FIFOs, real permissions, real bytes in names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shadow.bootstrap import make_engine
from shadow.cli import main
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from tests.e2e.conftest import NOW, NOW_ISO
from tests.snapshots import tree_unchanged

SHADOW = str(Path(sys.executable).with_name("shadow"))


def _run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A snippet in its own interpreter: a hang there is a failed test, not a stuck suite."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _a_run(root: Path) -> str:
    """A dry-run twin's directory name."""
    return next(p.name for p in sorted((root / "runs").iterdir()) if p.name.endswith("-dryrun"))


def test_a_fifo_in_place_of_an_object_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A FIFO where a status.json was (swapped in after the listing, or named by a hint) is
    a clear error at once; opening it blocking would wait for a writer forever."""
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    os.mkfifo(run / "status.json")
    try:
        done = _run_python(
            f"""
            import asyncio
            from pathlib import Path
            from shadow.collectors.directory import DirectorySource
            from shadow.errors import SourceError

            async def main():
                src = DirectorySource(Path({str(tmp_path)!r}))
                assert await src.head("runs/r1/status.json") is None
                try:
                    await src.fetch("runs/r1/status.json")
                except SourceError as exc:
                    print(exc.kind, exc)
                await src.close()

            asyncio.run(main())
            """,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("reading a FIFO blocked")
    assert 0 == done.returncode, done.stderr
    assert "invalid_key" in done.stdout and "is not a regular file (FIFO)" in done.stdout


def test_a_stuck_call_never_holds_the_process_exit(tmp_path: Path) -> None:
    """The source's blocking calls run on daemon threads: a call stuck in the kernel (here a
    real blocking open of a FIFO with no writer) is abandoned when its caller gives up, and the
    interpreter still exits. On asyncio's default executor it would be joined forever."""
    fifo = tmp_path / "stuck"
    os.mkfifo(fifo)
    try:
        done = _run_python(
            f"""
            import asyncio
            from pathlib import Path
            from shadow.collectors.directory import DirectorySource

            async def main():
                src = DirectorySource(Path({str(tmp_path)!r}))
                try:
                    await asyncio.wait_for(src._threads.run(lambda: open({str(fifo)!r}, "rb")), 0.5)
                except TimeoutError:
                    print("gave up")
                await src.close()

            asyncio.run(main())
            """,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a stuck call held the process exit")
    assert 0 == done.returncode, done.stderr
    assert "gave up" in done.stdout


async def test_entries_that_cannot_be_objects_are_counted_and_named(tmp_path: Path) -> None:
    """FIFOs, symbolic links and names that are not UTF-8 are scan errors with their names
    (printable), and every other run is still judged; nothing vanishes without a word."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=20, days=2, plant=False)
    root = corpus.root
    twin = _a_run(root)
    os.mkfifo(root / "runs" / twin / "steps" / "99-fifo.json")
    (root / "runs" / twin / "linked.json").symlink_to(root / "runs" / twin / "status.json")
    (root / "runs" / "linked-dir").symlink_to(root / "runs" / twin)
    bad_dir = os.path.join(os.fsencode(root / "runs"), b"run_\xff")
    os.mkdir(bad_dir)
    with open(os.path.join(bad_dir, b"status.json"), "wb") as fh:
        fh.write(b"{}")
    with open(os.path.join(os.fsencode(root / "runs" / twin), b"caf\xe9.json"), "wb") as fh:
        fh.write(b"{}")
    settings = load_settings(source=f"dir:{root}", db=str(tmp_path / "s.db"))
    engine = make_engine(settings)
    try:
        with tree_unchanged(root):
            summary = await engine.run_cycle(NOW.timestamp())
    finally:
        assert engine.source is not None
        await engine.source.close()
        engine.ledger.close()
    s = summary.scan
    assert 5 == s.errors["invalid_key"], s.error_messages
    said = "\n".join(s.error_messages)
    assert f"runs/{twin}/steps/99-fifo.json (FIFO)" in said
    assert f"runs/{twin}/linked.json (symbolic link)" in said
    assert "runs/linked-dir/ (symbolic link)" in said
    assert "runs/run_\\xff/" in said and f"runs/{twin}/caf\\xe9.json" in said
    said.encode("utf-8")  # printable and storable: no lone surrogates
    assert summary.report is not None and summary.report.totals.paired >= 19


def test_an_unreadable_run_directory_stops_judging_and_says_so(
    tmp_path: Path, without_read_all: list[str]
) -> None:
    """A twin directory shadow may not read is not a lost run: the listing is incomplete, the
    cycle does not judge (exit 3), and the error names the directory. A real mode-000
    directory, read without root's privilege to read anything."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=20, days=2, plant=False)
    twin = _a_run(corpus.root)
    db = tmp_path / "s.db"
    argv = [*without_read_all, SHADOW, "scan", "--once", "--source", f"dir:{corpus.root}"]
    argv += ["--db", str(db), "--now", NOW_ISO]
    readable = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert 0 == readable.returncode, readable.stderr
    assert "errors 0" in readable.stdout
    db.unlink()
    (corpus.root / "runs" / twin).chmod(0)
    try:
        hidden = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        (corpus.root / "runs" / twin).chmod(0o755)
    assert 3 == hidden.returncode, hidden.stdout + hidden.stderr
    assert f"cannot list 1 directory (runs/{twin}/: Permission denied)" in hidden.stderr
    assert "errors 1" in hidden.stdout and "verdict" not in hidden.stdout
    assert "previous judgement stands" in hidden.stderr


def test_the_cli_prints_skipped_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`shadow scan` names what it passed over on stderr, and its error count says how many."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=20, days=2, plant=False)
    os.mkfifo(corpus.root / "runs" / _a_run(corpus.root) / "manifest.json.fifo")
    argv = ["scan", "--once", "--source", f"dir:{corpus.root}", "--db", str(tmp_path / "s.db")]
    assert 0 == main([*argv, "--now", NOW_ISO])
    out, err = capsys.readouterr()
    assert "errors 1" in out
    assert "skipped 1 entry (not a regular file)" in err
    assert json.dumps(err)  # plain text
