"""Compare throughput: shadow's normalize-and-compare vs a naive per-pair DeepDiff.

Generates a demo bucket, loads its pairs into memory, replicates them to N pairs, and times
on one core, in one run:
  A. shadow: normalize both runs of a pair and run every pair comparator (records parsed once,
     as the engine caches them),
  B. shadow from bytes: parse + assemble + normalize + compare (a cold start),
  D. shadow compare only: the steady state, where the engine's cache holds normalized runs,
  E. the ceiling of this design: both typed runs built from ready field values, then compared
     (what normalize-and-compare would cost if normalization read nothing),
  C. naive: DeepDiff of the raw JSON documents of each pair (status, manifest, every step).
Prints pairs per second for each and the ratios A/C and B/C. The naive run is timed on a
sample (it is ~100x slower) and extrapolated per pair.

    python bench/compare.py [--pairs 10000] [--naive-sample 500]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from deepdiff import DeepDiff

from shadow.comparators import CompareOptions, compare_pair
from shadow.core.assemble import assemble, group_objects
from shadow.core.layout import KeyLayout, Layout
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.objects import StoredObject
from shadow.core.runs import NormalizedRun
from shadow.corpora.demo import write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAX = 1024 * 1024


def load_pairs(root: Path) -> list[tuple[str, dict[str, bytes], dict[str, bytes]]]:
    """(primary files, candidate files) per complete pair, keyed by path below the run dir."""
    runs: dict[str, dict[str, dict[str, bytes]]] = {}
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        if len(parts) < 3 or parts[0] != "runs":
            continue
        run_id, rest = parts[1], "/".join(parts[2:])
        if rest.startswith("output/"):
            continue
        side = "c" if run_id.endswith("-dryrun") else "p"
        runs.setdefault(run_id.removesuffix("-dryrun"), {}).setdefault(side, {})[rest] = (
            path.read_bytes()
        )
    return [
        (k, v["p"], v["c"])
        for k, v in runs.items()
        if "p" in v and "c" in v and "manifest.json" in v["p"]
    ]


def as_objects(run_id: str, files: dict[str, bytes]) -> tuple[list[StoredObject], dict[str, bytes]]:
    objs, bodies = [], {}
    for rest, body in sorted(files.items()):
        key = f"runs/{run_id}/{rest}"
        objs.append(StoredObject(key, "e", len(body), 0.0, 0.0, body))
        bodies[key] = body
    return objs, bodies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--naive-sample", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_demo(Path(tmp) / "b", now=NOW, runs=400, plant=False)
        base = load_pairs(Path(tmp) / "b")
    layout = KeyLayout(Layout.FLAT)
    nopts, copts = NormalizeOptions(), CompareOptions()
    pairs = [base[i % len(base)] for i in range(args.pairs)]

    # Prepare shadow's inputs: assembled evidence per side (what the ledger cache holds).
    evidence = []
    raw = []
    for key, p, c in pairs:  # copies share ids: each pair is assembled on its own
        sides = []
        raw_sides = []
        for run_id, files in ((key, p), (f"{key}-dryrun", c)):
            objs, bodies = as_objects(run_id, files)
            group = next(iter(group_objects(objs, layout).values()))
            raw_sides.append((group, bodies))
            sides.append(assemble(group, bodies, None, MAX))
        evidence.append(tuple(sides))
        raw.append(tuple(raw_sides))

    t0 = time.process_time()
    found = 0
    for pe, ce in evidence:
        pn, cn = normalize(pe, nopts), normalize(ce, nopts)
        found += len(compare_pair(pn, cn, copts))
    a = time.process_time() - t0

    normalized = [(normalize(pe, nopts), normalize(ce, nopts)) for pe, ce in evidence]
    t0 = time.process_time()
    for pn, cn in normalized:
        compare_pair(pn, cn, copts)
    d = time.process_time() - t0

    names = [f.name for f in dataclasses.fields(NormalizedRun) if f.init and f.name != "comparable"]
    ready = [
        tuple({name: getattr(run, name) for name in names} for run in pair) for pair in normalized
    ]
    t0 = time.process_time()
    for pf, cf in ready:
        compare_pair(NormalizedRun(**pf), NormalizedRun(**cf), copts)
    e = time.process_time() - t0

    t0 = time.process_time()
    for (pg, pb), (cg, cb) in raw:
        pn = normalize(assemble(pg, pb, None, MAX), nopts)
        cn = normalize(assemble(cg, cb, None, MAX), nopts)
        compare_pair(pn, cn, copts)
    b = time.process_time() - t0

    sample = pairs[: args.naive_sample]
    docs = [
        ({k: json.loads(v) for k, v in p.items()}, {k: json.loads(v) for k, v in c.items()})
        for _, p, c in sample
    ]
    t0 = time.process_time()
    for pd, cd in docs:
        DeepDiff(pd, cd)
    c_time = (time.process_time() - t0) / len(sample) * len(pairs)

    n = len(pairs)
    print(f"pairs: {n} (from {len(base)} distinct demo pairs); findings: {found}")
    print(f"A shadow normalize+compare (parsed records): {n / a:>10,.0f} pairs/s")
    print(f"B shadow parse+normalize+compare (bytes):    {n / b:>10,.0f} pairs/s")
    print(f"D shadow compare only (cached normalized):   {n / d:>10,.0f} pairs/s")
    print(f"E ceiling: typed runs from ready fields+compare {n / e:>8,.0f} pairs/s")
    print(
        f"C naive DeepDiff of raw documents:           {n / c_time:>10,.0f} pairs/s (sample {len(sample)})"
    )
    print(
        f"ratio A/C: {c_time / a:.1f}x   ratio B/C: {c_time / b:.1f}x   ratio D/C: {c_time / d:.1f}x"
        f"   ratio E/C: {c_time / e:.1f}x"
    )
    print(
        f"per pair: normalize {(a - d) / n * 1e6:.1f} us (both runs), compare {d / n * 1e6:.1f} us, "
        f"building the two typed runs {(e - d) / n * 1e6:.1f} us; 50x needs {c_time / n / 50 * 1e6:.1f} us"
    )


if __name__ == "__main__":
    main()
