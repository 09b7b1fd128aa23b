"""`shadow profile list | show | check`: write a profile against sample records in minutes.

`check` reads sample records through a profile exactly as a scan does (the same assembly and
normalization), and shows, field by field, which getter branch fired and the raw value it read,
every state word the profile does not understand, and the normalized run. Exit codes: 0 when
every record read, 1 when one was rejected (a word not understood, a wrongly typed field), 64
for a usage error (an unknown profile, a path that does not exist).
"""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from shadow.config import Settings, load_settings
from shadow.core.assemble import RunObjects, assemble
from shadow.core.getters import ABSENT
from shadow.core.layout import KeyLayout, Layout
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.objects import StoredObject
from shadow.core.profiles import RUN_DOCUMENT, Profile, resolve_extends
from shadow.core.reading import FieldRead, read_run
from shadow.core.records import load_object
from shadow.core.runs import NormalizedRun
from shadow.core.shipped import SHIPPED, SHIPPED_RAW, SHIPPED_TEXT
from shadow.errors import UsageError

EXIT_REJECTED: Final = 1
NOT_RECORDED: Final = "(not recorded)"  # a retry whose records do not name its error


Record = tuple[str, dict[str, Path]]


def register(sub: Any) -> None:
    """Add `shadow profile ...` to the CLI's subparsers."""
    prof = sub.add_parser("profile", help="list, show and check record-format profiles")
    psub = prof.add_subparsers(dest="profile_command", required=True, metavar="ACTION")
    lst = psub.add_parser(
        "list",
        help="the shipped profiles and those of --config",
        description="List the shipped profiles and those defined in --config, one a line.",
    )
    lst.add_argument("--config", type=Path, help="TOML config file whose [profiles] to list too")
    show = psub.add_parser(
        "show",
        help="print a profile as TOML, as you would write it",
        description="Print a profile as TOML, as you would write it in the config file.",
    )
    show.add_argument("name", help="a shipped profile or one defined in --config")
    show.add_argument("--config", type=Path, help="TOML config file with [profiles.NAME]")
    chk = psub.add_parser(
        "check",
        help="read sample records through a profile: what each field read, words not "
        "understood, the normalized run",
        description="Read sample records through a profile as a scan does: per field the getter "
        "branch that fired and the raw value, every state word not understood, and the "
        "normalized run. Exit 0 when every record read, 1 when one was rejected, 64 for a "
        "usage error.",
    )
    chk.add_argument(
        "profile", help="a profile name (shipped or in --config), or a TOML file with one profile"
    )
    chk.add_argument(
        "paths",
        nargs="+",
        type=Path,
        help="record files (each a run's status.json), run directories, or directories of them",
    )
    chk.add_argument("--config", type=Path, help="TOML config file (profiles, error classes)")
    chk.add_argument(
        "--document",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="another document of the run for a record file, e.g. trace=trace-failed.json",
    )
    chk.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """A usage error (an unknown profile, a missing path) raises UsageError: the CLI exits 64."""
    if args.profile_command == "list":
        return cmd_list(args)
    if args.profile_command == "show":
        return cmd_show(args)
    return cmd_check(args)


# --- list and show -----------------------------------------------------------------------------


def _settings(config: Path | None) -> Settings:
    if config is not None and not config.is_file():
        raise UsageError(f"config file {config} does not exist")
    return load_settings(config)


def cmd_list(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    rows = [(name, "shipped", p) for name, p in SHIPPED.items()]
    rows += [(name, "config", p) for name, p in sorted(settings.profiles.items())]
    width = max(len(name) for name, _, _ in rows)
    for name, origin, p in rows:
        form = "declarative" if p.declarative else "garden form"
        print(f"{name:<{width}}  {origin:<7}  {form:<11}  {p.description}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    name = args.name
    if name in settings.profiles:
        dumped = settings.profiles[name].model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude={"name"}
        )
        print(to_toml(f"profiles.{name}", dumped))
    elif name in SHIPPED_TEXT:
        print(SHIPPED_TEXT[name].strip())
    elif name in SHIPPED:
        print(f"# {name}: {SHIPPED[name].description}\n# built in: nothing to configure")
    else:
        raise UsageError(f"no profile {name!r}; `shadow profile list` names them")
    return 0


def to_toml(table: str, data: dict[str, Any]) -> str:
    """A profile as TOML: scalars and getter lists inline, nested tables as [sections]."""
    lines = [f"[{table}]"]
    subtables: list[str] = []
    arrays: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict) and value and _is_table(value):
            subtables.append(to_toml(f"{table}.{key}", value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            if key == "retries":
                arrays += [
                    to_toml(f"{table}.{key}", v).replace(
                        f"[{table}.{key}]", f"[[{table}.{key}]]", 1
                    )
                    for v in value
                ]
            else:
                lines.append(f"{_key(key)} = {_inline(value)}")
        else:
            lines.append(f"{_key(key)} = {_inline(value)}")
    return "\n\n".join(["\n".join(lines), *subtables, *arrays])


def _is_table(value: dict[str, Any]) -> bool:
    """A section rather than an inline value: a table of the language (run, error, steps...)."""
    return not ({"path", "value"} & set(value)) and not all(
        isinstance(v, str | int | float | bool) for v in value.values()
    )


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # a regex reads best as a TOML literal string, which cannot hold a quote or a newline;
        # JSON's escapes are TOML basic-string escapes (DEL is the one TOML also wants escaped)
        if "\\" in value and "'" not in value and value.isprintable():
            return "'" + value + "'"
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


# --- check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    path: str
    reads: tuple[FieldRead, ...]
    problems: list[dict[str, Any]]
    run: NormalizedRun | None
    words: tuple[str, ...] = ()  # state words not understood


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    profile = resolve_profile(args.profile, settings)
    from shadow.bootstrap import engine_options

    opts = engine_options(settings).normalize
    extra = _documents(args.document)
    records = list(_records(args.paths, profile, extra))
    if not records:
        raise UsageError("no record found under " + ", ".join(str(p) for p in args.paths))
    checked = [check_record(label, files, profile, opts) for label, files in records]
    words = Counter(w for c in checked for w in c.words)
    if args.json:
        print(json.dumps(_json(profile, checked, words), indent=2, default=str))
    else:
        print(_text(profile, checked, words))
    return EXIT_REJECTED if any(c.problems or c.run is None for c in checked) else 0


def resolve_profile(spec: str, settings: Settings) -> Profile:
    """A profile by name (configured, then shipped), or the one profile of a TOML file."""
    if spec in settings.profiles:
        return settings.profiles[spec]
    if spec in SHIPPED:
        return SHIPPED[spec]
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(sorted({*SHIPPED, *settings.profiles}))
        raise UsageError(f"{spec!r} is neither a profile ({names}) nor a TOML file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: {exc}") from None
    tables = data.get("profiles", {"": data})
    if not isinstance(tables, dict) or len(tables) != 1:
        names = ", ".join(tables) if isinstance(tables, dict) else "?"
        raise UsageError(f"{path} must hold exactly one [profiles.NAME] table (found: {names})")
    key, table = next(iter(tables.items()))
    name = str(key) or path.stem
    known: dict[str, Any] = dict(SHIPPED_RAW)
    for other, p in settings.profiles.items():
        known[other] = p.model_dump(by_alias=True, exclude_defaults=True)
    try:
        merged = resolve_extends({name: {"name": name, **table}}, known)[name]
        return Profile.model_validate(merged)
    except ValueError as exc:
        raise UsageError(f"{path}: profile {name!r} is not valid: {exc}") from None


def _documents(specs: list[str]) -> dict[str, Path]:
    out = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise UsageError(f"--document {spec!r}: write NAME=FILE, e.g. trace=trace.json")
        if not Path(file).is_file():
            raise UsageError(f"--document {spec!r}: {file} does not exist")
        out[name] = Path(file)
    return out


def _records(paths: list[Path], profile: Profile, extra: dict[str, Path]) -> Iterator[Record]:
    """(label, {file below the run directory: path}) per run: a run directory's status.json and
    the documents the profile reads (for the garden form, manifest.json and steps/*.json too), or
    a record file with --document files and same-named documents beside it."""
    doc_files = {f for n, f in profile.documents.items() if n != "run"}
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist")
        if path.is_file():
            files = {RUN_DOCUMENT: path}
            for file in doc_files:
                if (path.parent / file).is_file() and path.name != file:
                    files[file] = path.parent / file
            for name, doc in extra.items():
                files[profile.documents.get(name, f"{name}.json")] = doc
            yield str(path), files
        else:
            yield from _walk(path, profile, doc_files)


def _walk(directory: Path, profile: Profile, doc_files: set[str]) -> Iterator[Record]:
    if (directory / RUN_DOCUMENT).is_file():
        files = {RUN_DOCUMENT: directory / RUN_DOCUMENT}
        files |= {f: directory / f for f in doc_files if (directory / f).is_file()}
        if not profile.declarative:
            if (directory / "manifest.json").is_file():
                files["manifest.json"] = directory / "manifest.json"
            for step in sorted((directory / "steps").glob("*.json")):
                files[f"steps/{step.name}"] = step
        yield str(directory), files
        return
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            yield from _walk(entry, profile, doc_files)
        elif entry.suffix == ".json" and entry.name not in doc_files:
            yield str(entry), {RUN_DOCUMENT: entry}


def check_record(
    label: str, files: dict[str, Path], profile: Profile, opts: NormalizeOptions
) -> Checked:
    """Read one run as a scan would, and explain the reading."""
    bodies = {f"runs/sample/{name}": path.read_bytes() for name, path in files.items()}
    reads: tuple[FieldRead, ...] = ()
    words: list[str] = []
    if profile.declarative:
        docs: dict[str, Any] = {}
        run_doc: Any = None
        for name, path in files.items():
            loaded = load_object(str(path), path.read_bytes(), 1 << 30)
            if isinstance(loaded, dict):
                if name == RUN_DOCUMENT:
                    run_doc = loaded
                else:
                    docs[{f: n for n, f in profile.documents.items()}.get(name, name)] = loaded
        if run_doc is not None:
            reading = read_run(run_doc, docs, profile.compiled, explain=True)
            reads = reading.reads
            words = [p.word for p in reading.problems if p.word is not None]
    layout = KeyLayout(Layout.FLAT)
    keys, stored = [], []
    for key, body in sorted(bodies.items()):
        parsed = layout.parse(key)
        assert parsed is not None
        keys.append(parsed)
        stored.append(StoredObject(key, "", len(body), 0.0, 0.0, body))
    ev = assemble(
        RunObjects("runs/sample/", tuple(keys), tuple(stored)), bodies, None, 1 << 30, profile
    )
    run = normalize(ev, opts)
    rejected = (*ev.rejected, *run.rejected)
    problems = [
        {"reason": r.reason.value, "object": _label(r.key, files), "detail": r.detail}
        for r in rejected
    ]
    if not profile.declarative:  # the garden's records name the word in pydantic's words
        words = [
            m.group(1)
            for r in rejected
            if r.reason.value == "unknown_status" and (m := _GOT.search(r.detail))
        ]
    return Checked(label, reads, problems, run if run.state is not None else None, tuple(words))


_GOT = re.compile(r"status: [^;]*\(got '([^']*)'\)")


def _label(key: str, files: dict[str, Path]) -> str:
    name = key.rsplit("/", 1)[-1]
    return str(files.get(name, name))


def _shown(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 70 else text[:69] + "…"


def run_summary(run: NormalizedRun) -> dict[str, Any]:
    links = run.links
    return {
        "state": run.state.value if run.state else None,
        "history": [s.value for s in run.history],
        "stratum": run.agent,
        "error_code": run.error_code,
        "error_class": run.error_class,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "end_to_end_ms": run.e2e_ms,
        "idempotency_key": run.idempotency_key,
        "identity": links.identity if links else None,
        "link": links.link if links else None,
        "attempt": links.attempt if links else None,
        "scheduled": links.scheduled if links else None,
        "slot": links.slot if links else None,
        "steps": [
            {
                "number": s.number,
                "name": s.name,
                "state": s.state.value,
                "error_code": s.error_code,
                "duration_ms": ms,
            }
            for s, ms in run.timed_steps()
        ],
        "steps_seen": run.steps_visible,
        "retries": [
            {
                "scope": r.step,
                "whole_run": r.whole_run,
                "recovered": r.recovered,
                "error_code": r.error_code if r.error_seen else NOT_RECORDED,
                "attempts": r.attempts,
            }
            for r in run.retries
        ],
        "retries_seen": run.retries_visible,
        "unknown_fields": sorted(run.unknown_fields),
    }


def _json(profile: Profile, checked: list[Checked], words: Counter[str]) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "records": [
            {
                "path": c.path,
                "reads": [
                    {
                        "field": r.field,
                        "branch": r.branch,
                        "raw": None if r.raw is ABSENT else r.raw,
                        "value": None if r.value is ABSENT else r.value,
                    }
                    for r in c.reads
                ],
                "problems": c.problems,
                "run": run_summary(c.run) if c.run is not None else None,
            }
            for c in checked
        ],
        "not_understood": dict(words.most_common()),
        "read": sum(1 for c in checked if c.run is not None and not c.problems),
        "rejected": sum(1 for c in checked if c.run is None or c.problems),
    }


def _text(profile: Profile, checked: list[Checked], words: Counter[str]) -> str:
    out: list[str] = []
    for c in checked:
        out.append(f"== {c.path}  (profile {profile.name or '?'})")
        width = max((len(r.field) for r in c.reads), default=0)
        for r in c.reads:
            branch = r.branch if r.branch is not None else "(no branch found anything)"
            value = "" if r.value is ABSENT or r.value == r.raw else f"  => {_shown(r.value)}"
            out.append(f"  {r.field:<{width}}  {branch}: {_shown(r.raw)}{value}")
        for p in c.problems:
            out.append(f"  ! {p['reason']}: {p['detail']}  [{p['object']}]")
        if c.run is None:
            out.append("  normalized: rejected (no readable state)")
        else:
            out.append("  normalized: " + _run_line(c.run))
        out.append("")
    read = sum(1 for c in checked if c.run is not None and not c.problems)
    out.append(f"{len(checked)} record(s): {read} read, {len(checked) - read} with problems")
    if words:
        listed = ", ".join(f"{w!r} ({n})" for w, n in words.most_common())
        out.append(f"words not understood: {listed}")
    else:
        out.append("words not understood: none")
    return "\n".join(out)


def _run_line(run: NormalizedRun) -> str:
    s = run_summary(run)
    parts = [f"state {s['state']}", f"stratum {s['stratum']}"]
    if s["error_code"]:
        cls = f" (class {s['error_class']})" if s["error_class"] != s["error_code"] else ""
        parts.append(f"error {s['error_code']}{cls}")
    for key in ("identity", "link", "idempotency_key", "attempt"):
        if s[key] is not None:
            parts.append(f"{key} {s[key]}")
    if s["scheduled"]:
        slot = _iso(s["slot"]) if s["slot"] is not None else "(none)"
        parts.append(f"scheduled, slot {slot}")
    if s["end_to_end_ms"] is not None:
        parts.append(f"{s['end_to_end_ms']:g} ms end to end")
    steps = ", ".join(f"{x['number']} {x['name']} {x['state']}" for x in s["steps"])
    parts.append(f"steps [{steps}]" if s["steps_seen"] else "steps not seen")
    retries = ", ".join(
        f"{x['scope']} x{x['attempts']} {'recovered' if x['recovered'] else 'exhausted'}"
        + _error_note(x["error_code"])
        for x in s["retries"]
    )
    parts.append(f"retries [{retries}]" if s["retries_seen"] else "retries not seen")
    return "; ".join(parts)


def _error_note(code: str | None) -> str:
    """A retry's error in parentheses; the placeholder for none recorded has its own already."""
    if not code:
        return ""
    return f" {code}" if code == NOT_RECORDED else f" ({code})"


def _iso(at: float) -> str:
    """An epoch time as ISO-8601 UTC, to the millisecond when it has any."""
    t = datetime.fromtimestamp(at, UTC)
    spec = "milliseconds" if t.microsecond else "seconds"
    return t.isoformat(timespec=spec).replace("+00:00", "Z")
