"""The normalized-run cache: every run normalized once, re-done only for what changed.

Normalized runs are cached by the (key, ETag) signature of their objects and the length of
their status history: an unchanged run is not re-parsed. The ledger's generation names the
evidence, so while it stands still nothing is re-read. The cache is mirrored in the ledger (one
encoded row per run, under a stamp naming the generation and the normalization settings), so a
fresh process restores it instead of re-reading every object.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from shadow.core import normalize as normalize_rules
from shadow.core.assemble import RunObjects, assemble, group_objects, needs_body
from shadow.core.layout import KeyLayout, Side
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.pairing import Grouped, PairBy, group_runs
from shadow.core.profiles import Profile
from shadow.core.records import Rejected
from shadow.core.runs import NormalizedRun
from shadow.errors import StoreError
from shadow.ledger import runcodec
from shadow.ledger.store import Ledger

log = logging.getLogger("shadow.runcache")


@dataclass(frozen=True, slots=True)
class CacheOptions:
    """Everything that shapes a normalized run: stored runs apply only under the same values."""

    layout: KeyLayout
    normalize: NormalizeOptions
    profiles: dict[Side, Profile]
    max_object_bytes: int
    pair_by: PairBy


class RunCache:
    def __init__(self, ledger: Ledger, opts: CacheOptions) -> None:
        self.ledger = ledger
        self.opts = opts
        # run dir -> (signature of its objects, history length, normalized run, rejections)
        self._cache: dict[str, tuple[int, int, NormalizedRun, tuple[Rejected, ...]]] = {}
        # The ledger generation and settings the cache reflects, and the runs grouped from it.
        self._cache_stamp: str | None = None
        self._grouped: tuple[Grouped, list[Rejected]] | None = None
        self._settings = normalization_fingerprint(opts)

    def normalized_runs(self) -> tuple[Grouped, list[Rejected]]:
        """Every run, normalized, grouped into pairs; work done only for what changed.

        The ledger's generation names the evidence: while it stands still nothing is re-read.
        A fresh process first tries the normalized runs stored under the same generation and
        settings (one row per run); otherwise changed runs are re-assembled from their objects.
        """
        stamp = f"{self.ledger.generation()}:{self._settings}"
        if stamp != self._cache_stamp or self._grouped is None:
            with _gc_paused():
                if not (self._cache_stamp is None and self._restore(stamp)):
                    self._refresh(stamp, self._cache_stamp)
                self._cache_stamp = stamp
                rejected: list[Rejected] = []
                normalized: list[NormalizedRun] = []
                for d in sorted(self._cache):
                    _, _, run, rej = self._cache[d]
                    rejected.extend(rej)
                    normalized.append(run)
                self._grouped = (group_runs(normalized, self.opts.pair_by), rejected)
        grouped, rejected = self._grouped
        return grouped, list(rejected)

    def _restore(self, stamp: str) -> bool:
        rows = self.ledger.stored_runs(stamp)
        if rows is None:
            return False
        cache = {}
        try:
            for _, signature, hist_len, body in rows:
                run, rejected = runcodec.decode(body)
                cache[run.run_dir] = (signature, hist_len, run, rejected)  # one string, not two
        except runcodec.CodecError as exc:
            log.warning("stored normalized runs unreadable (%s); re-normalizing", exc)
            return False
        self._cache = cache
        return True

    def _refresh(self, stamp: str, previous: str | None) -> None:
        index = self.ledger.object_index()
        groups = group_objects(index, self.opts.layout)
        histories = self.ledger.histories()
        stale = [g for d, g in groups.items() if not self._fresh(d, g, histories)]
        first_versions = self.ledger.first_versions() if stale else {}
        bodies = self.ledger.bodies([k.key for g in stale for k in g.keys if needs_body(k.kind)])
        for g in stale:
            profile = self.opts.profiles[g.keys[0].side]
            ev = assemble(
                g,
                bodies,
                histories.get(g.run_dir),
                self.opts.max_object_bytes,
                profile,
                first_versions.get(g.run_dir),
            )
            hist_len = len(histories.get(g.run_dir, ("", []))[1])
            run = normalize(ev, self.opts.normalize)
            self._cache[g.run_dir] = (g.signature, hist_len, run, ev.rejected + run.rejected)
        gone = sorted(set(self._cache) - set(groups))
        for d in gone:
            del self._cache[d]
        self._store_runs(stamp, previous, [g.run_dir for g in stale], gone)

    def _store_runs(
        self, stamp: str, previous: str | None, changed: list[str], gone: list[str]
    ) -> None:
        """Keep the ledger's copy of the normalized runs current; it is a cache, so best effort.

        A delta applies only on top of what this cache last matched (`previous`): after a failed
        save, or rows written by another process, every run is written again.
        """
        stored = self.ledger.get_meta("runs_stamp")
        if stored == stamp and not changed and not gone:
            return
        if stored is None or stored != previous:
            changed = list(self._cache)
        rows = [(d, *self._cache[d][:2], runcodec.encode(*self._cache[d][2:])) for d in changed]
        try:
            self.ledger.save_runs(rows, gone, stamp)
        except StoreError as exc:
            log.warning("could not store normalized runs (%s); the next cycle retries", exc)

    def _fresh(
        self, run_dir: str, g: RunObjects, histories: dict[str, tuple[str, list[str]]]
    ) -> bool:
        cached = self._cache.get(run_dir)
        hist_len = len(histories.get(run_dir, ("", []))[1])
        return cached is not None and cached[0] == g.signature and cached[1] == hist_len


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Build the run cache without the cyclic collector, then freeze what was built.

    The cache is millions of long-lived, acyclic objects (frozen dataclasses, tuples, records).
    Left to the collector, each growth step rescans all of it (half the throughput at 5,000
    pairs), and the first collection after a pause walks every new object once more. Frozen
    objects are skipped by later collections and still freed by reference counting when a run
    leaves the cache. A reference cycle frozen here would never be collected: the build creates
    none, and garbage left by the rest of the process (requests served meanwhile) is collected
    first, cheaply, since the cache frozen by earlier cycles is no longer walked.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def normalization_fingerprint(opts: CacheOptions) -> str:
    """Everything that shapes a normalized run: stored runs apply only under the same value."""
    n = opts.normalize
    parts = [
        runcodec.VERSION,
        normalize_rules.RULES_VERSION,
        opts.layout.layout.value,
        opts.layout.prefix,
        opts.layout.suffix,
        opts.max_object_bytes,
        n.suffix,
        sorted(n.excluded_steps),
        sorted(n.vendor_fields),
        n.max_steps,
        {side.value: p.model_dump(mode="json") for side, p in sorted(opts.profiles.items())},
    ]
    text = json.dumps(parts, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
