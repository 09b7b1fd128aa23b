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
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shadow.core import normalize as normalize_rules
from shadow.core.assemble import RunObjects, assemble, group_objects, wants_body
from shadow.core.layout import KeyLayout, Side
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.pairing import Grouped, PairBy, group_runs
from shadow.core.profiles import Profile
from shadow.core.records import Rejected
from shadow.core.regroup import regrouped
from shadow.core.runs import NormalizedRun
from shadow.core.schedules import Schedule
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
    # A full re-normalization of a ledger with more objects than this runs in a child
    # process that stores the runs; this one then restores them (see `_renormalize`).
    child_above_objects: int = 20_000
    schedules: tuple[Schedule, ...] = ()  # scheduled runs of declarative profiles pair by slot


class RunCache:
    def __init__(self, ledger: Ledger, opts: CacheOptions) -> None:
        self.ledger = ledger
        self.opts = opts
        # run dir -> (signature of its objects, history length, normalized run, rejections)
        self._cache: dict[str, tuple[int, int, NormalizedRun, tuple[Rejected, ...]]] = {}
        # The ledger generation and settings the cache reflects, and the runs grouped from it.
        self._cache_stamp: str | None = None
        self._grouped: tuple[Grouped, list[Rejected]] | None = None
        self._order: list[str] = []  # the cached run directories, sorted, as last grouped
        self._settings = normalization_fingerprint(opts)

    def normalized_runs(self) -> tuple[Grouped, list[Rejected]]:
        """Every run, normalized, grouped into pairs; work done only for what changed.

        The ledger's generation names the evidence: while it stands still nothing is re-read.
        A fresh process first tries the normalized runs stored under the same generation and
        settings (one row per run); otherwise changed runs are re-assembled from their objects.
        """
        generation = self.ledger.generation()
        stamp = f"{generation}:{self._settings}"
        if stamp != self._cache_stamp or self._grouped is None:
            with _gc_paused():
                previous = self._cache_stamp
                # Dropped until rebuilt: a refresh that fails half-way must not leave a grouping
                # that the next one would patch as if it held the runs it does not.
                last, self._grouped = self._grouped, None
                swaps: list[tuple[NormalizedRun, NormalizedRun]] | None = None
                if previous is None:
                    if not self._restore(stamp):
                        self._renormalize(stamp, previous)
                elif self._tracked_since(int(previous.split(":", 1)[0])):
                    since = int(previous.split(":", 1)[0])
                    swaps = self._refresh(stamp, previous, self.ledger.dirs_changed_since(since))
                else:
                    self._renormalize(stamp, previous)
                self._cache_stamp = stamp
                self._grouped = self._group(last, swaps)
        grouped, rejected = self._grouped
        return grouped, list(rejected)

    def _group(
        self,
        last: tuple[Grouped, list[Rejected]] | None,
        swaps: list[tuple[NormalizedRun, NormalizedRun]] | None,
    ) -> tuple[Grouped, list[Rejected]]:
        """Every run grouped into pairs, and every rejection, in run directory order.

        When only known runs changed since the `last` grouping (`swaps`: old and new run, the
        same directories), it is reused with the new runs in it where that is what grouping
        from scratch gives (shadow/core/regroup.py), and the sorted directories are kept."""
        grouped = None
        if swaps is not None and last is not None and len(self._order) == len(self._cache):
            grouped = regrouped(last[0], swaps)
        if grouped is None:
            self._order = sorted(self._cache)
        cache = self._cache
        rejected = [r for d in self._order for r in cache[d][3]]
        if grouped is None:
            runs = [cache[d][2] for d in self._order]
            grouped = group_runs(runs, self.opts.pair_by, self.opts.schedules)
        return grouped, rejected

    def terminal(self, run_dir: str) -> bool:
        """Whether the cached run of this directory has reached a terminal state."""
        cached = self._cache.get(run_dir)
        return cached is not None and cached[2].terminal

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

    def _renormalize(self, stamp: str, previous: str | None) -> None:
        """Normalize every run from its objects (a cold start, new normalization settings, a
        rules upgrade).

        On a large ledger this runs in a child process that stores the runs under `stamp`,
        and this process restores them: parsing every object leaves ~8 KB of freed heap per
        run that the allocator cannot give back, and a daemon would hold it for good (9.8 KB
        per tracked run instead of ~1.5). A restore builds only the compact runs.
        """
        count, _ = self.ledger.some_keys(0)
        if count > self.opts.child_above_objects:
            self._cache = {}  # what the child replaces is not held meanwhile
            try:
                _in_child(self.ledger, self.opts, stamp)
            except Exception as exc:  # the child is an optimisation: never a failed cycle
                log.warning("re-normalizing in a child process failed (%s); in this one", exc)
            else:
                if self._restore(stamp):
                    return
                log.warning("the child's stored runs did not restore; re-normalizing here")
        self._refresh(stamp, previous)

    def _tracked_since(self, generation: int) -> bool:
        """Whether every write after `generation` named its run directories (so the changed
        runs can be found without reading every object)."""
        untracked = self.ledger.get_meta("untracked")
        return untracked is None or int(untracked) <= generation

    def _refresh(
        self, stamp: str, previous: str | None, changed: list[str] | None = None
    ) -> list[tuple[NormalizedRun, NormalizedRun]] | None:
        """Re-normalize the runs whose objects or history changed: among every run, or among
        the `changed` run directories only (their objects alone are read). Returns the (old,
        new) runs re-normalized among `changed`, or None if a directory came or went (or all
        were looked at)."""
        if changed is None:
            groups = group_objects(self.ledger.object_index(), self.opts.layout)
            histories = self.ledger.histories()
        else:
            groups = group_objects(self.ledger.objects_under(changed), self.opts.layout)
            histories = self.ledger.histories(sorted(groups))
        stale = [g for d, g in groups.items() if not self._fresh(d, g, histories)]
        dirs = [g.run_dir for g in stale]
        first_versions = self.ledger.first_versions(dirs) if stale else {}
        wanted = self.opts.profiles
        bodies = self.ledger.bodies(
            [k.key for g in stale for k in g.keys if wants_body(k, wanted[k.side])]
        )
        swaps: list[tuple[NormalizedRun, NormalizedRun]] | None = (
            [] if changed is not None else None
        )
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
            before = self._cache.get(g.run_dir)
            if before is None:
                swaps = None  # a new run directory: group every run
            elif swaps is not None:
                swaps.append((before[2], run))
            self._cache[g.run_dir] = (g.signature, hist_len, run, ev.rejected + run.rejected)
        # Objects are never deleted from the ledger; a run disappears only when a full read
        # no longer finds it (a layout change is another stamp, so that is defensive).
        gone = sorted(set(self._cache) - set(groups)) if changed is None else []
        for d in gone:
            del self._cache[d]
        self._store_runs(stamp, previous, dirs, gone)
        return swaps

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


def _in_child(ledger: Ledger, opts: CacheOptions, stamp: str) -> None:
    """Normalize and store every run in a fresh (spawned) process; raise if it fails."""
    ctx = multiprocessing.get_context("spawn")  # not fork: a fork would share this heap
    proc = ctx.Process(
        target=_child_main,
        args=(ledger.target, ledger.shard, opts, stamp),
        name="shadow-renormalize",
    )
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"the child exited with status {proc.exitcode}")


def _child_main(
    target: Path | str, shard: tuple[int, int] | None, opts: CacheOptions, stamp: str
) -> None:
    ledger = Ledger(target, shard)
    try:
        cache = RunCache(ledger, opts)
        with _gc_paused():
            cache._refresh(stamp, None)  # stores every run: no stored stamp matches None
        if ledger.get_meta("runs_stamp") != stamp:
            raise SystemExit(3)  # could not store them (logged by _store_runs)
    finally:
        ledger.close()


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
        sorted(n.error_classes.items()),
        sorted(n.cron_strata.items()),
    ]
    text = json.dumps(parts, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
