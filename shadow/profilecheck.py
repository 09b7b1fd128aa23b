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
from pathlib import Path
from typing import Any, Final

from shadow.config import Settings, load_settings
from shadow.core.assemble import RunObjects, assemble
from shadow.core.layout import KeyLayout, Layout
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.objects import StoredObject
from shadow.core.profiles import RUN_DOCUMENT, Profile, resolve_extends
from shadow.core.reading import FieldRead, read_run
from shadow.core.records import load_object
from shadow.core.shipped import SHIPPED, SHIPPED_RAW, SHIPPED_TEXT
from shadow.errors import UsageError
from shadow.profileview import Checked, as_json, as_text
from shadow.tomlwrite import to_toml

EXIT_REJECTED: Final = 1


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


# --- check -------------------------------------------------------------------------------------


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
        print(json.dumps(as_json(profile, checked, words), indent=2, default=str))
    else:
        print(as_text(profile, checked, words))
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
