"""A demo bucket with one hostile pair: markup in its run id and in a field value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from shadow.corpora.demo import DemoCorpus, write_demo
from tests.e2e.conftest import NOW

HOSTILE_ID = "run-<img src=x onerror=window.__xss=1>"
HOSTILE_ERROR = "<script>window.__xss=2</script>"
WAIVERS = """
[[waiver]]
id = "slow-finalize-ok"
dimension = "timing"
owner = "sre@example.com"
reason = "the dry run's storage is remote"
expires = 2099-12-31

[[waiver]]
id = "old-retry-policy"
dimension = "retries"
owner = "platform@example.com"
reason = "retry policy aligned in January"
expires = 2026-01-31
"""


def console_corpus(root: Path) -> DemoCorpus:
    """The planted demo bucket plus a pair whose id and error text are markup."""
    corpus = write_demo(root, now=NOW)
    runs = root / "runs"
    source = next(
        p
        for p in sorted(runs.iterdir())
        if not p.name.endswith("-dryrun") and (runs / f"{p.name}-dryrun").is_dir()
    )
    for suffix in ("", "-dryrun"):
        target = runs / f"{HOSTILE_ID}{suffix}"
        shutil.copytree(runs / f"{source.name}{suffix}", target)
        status = json.loads((target / "status.json").read_text())
        status["run_id"] = HOSTILE_ID + suffix
        if suffix:
            status["status"], status["error"] = "failed", HOSTILE_ERROR
        (target / "status.json").write_text(json.dumps(status))
    return corpus
