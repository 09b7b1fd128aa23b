"""Waivers: documented, owned, expiring differences.

Rules: a waiver matches on dimension and optionally kind, agent, path and run (glob patterns).
The first active matching waiver (file order) waives a finding: it stays visible, marked
`waived_by`, and is counted apart from matches. A waiver whose expiry date has passed stops
applying; a finding it would have covered carries `expired_waiver` so the report can say so.
A waiver is active through the whole of its expiry day (UTC).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shadow.core.findings import Dimension, Finding, Kind
from shadow.errors import ConfigError


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    # Only * and ? are wildcards: finding paths contain brackets (`steps[2]`, `retries[x]`),
    # which fnmatch would read as character classes.
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def glob_match(value: str, pattern: str) -> bool:
    return _glob(pattern).fullmatch(value) is not None


class Waiver(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    dimension: Dimension
    kind: Kind | None = None
    agent: str | None = None
    path: str | None = None
    run: str | None = None
    owner: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    expires: date

    def matches(self, finding: Finding, agent: str, run_key: str) -> bool:
        return (
            finding.dimension is self.dimension
            and (self.kind is None or finding.kind is self.kind)
            and (self.agent is None or glob_match(agent, self.agent))
            and (self.path is None or glob_match(finding.path, self.path))
            and (self.run is None or glob_match(run_key, self.run))
        )

    def active_on(self, day: date) -> bool:
        return day <= self.expires


class WaiverFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    waiver: tuple[Waiver, ...] = ()


class WaiverSet:
    """The waivers in force for one judgement, and how many findings each covered."""

    def __init__(self, waivers: tuple[Waiver, ...], today: date) -> None:
        self.waivers = waivers
        self.today = today
        self.covered: Counter[str] = Counter()
        self.would_cover: Counter[str] = Counter()

    def apply(self, findings: list[Finding], agent: str, run_key: str) -> list[Finding]:
        return [self._one(f, agent, run_key) for f in findings]

    def _one(self, finding: Finding, agent: str, run_key: str) -> Finding:
        expired: str | None = None
        for w in self.waivers:
            if not w.matches(finding, agent, run_key):
                continue
            if w.active_on(self.today):
                self.covered[w.id] += 1
                return finding.model_copy(update={"waived_by": w.id})
            if expired is None:
                expired = w.id
                self.would_cover[w.id] += 1
        if expired is not None:
            return finding.model_copy(update={"expired_waiver": expired})
        return finding


def parse_waivers(text: str, source: str) -> tuple[Waiver, ...]:
    """Parse a TOML waivers document; errors name the file, the waiver and the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"waivers file {source}: not valid TOML ({exc})") from exc
    try:
        parsed = WaiverFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"waivers file {source}: {loc}: {first['msg']} "
            "(each [[waiver]] needs dimension, owner, reason and expires = YYYY-MM-DD)"
        ) from exc
    out = []
    for i, w in enumerate(parsed.waiver):
        wid = w.id or f"{w.dimension.value}/{w.kind.value if w.kind else '*'}#{i + 1}"
        out.append(w.model_copy(update={"id": wid}))
    ids = [w.id for w in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"waivers file {source}: duplicate waiver id(s) {dupes}")
    return tuple(out)


def load_waivers(path: Path | None) -> tuple[Waiver, ...]:
    if path is None:
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"waivers file {path}: cannot read it ({exc.strerror}); "
            "fix the path in SHADOW_WAIVERS or remove the setting"
        ) from exc
    return parse_waivers(text, str(path))
