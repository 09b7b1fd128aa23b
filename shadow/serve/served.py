"""What one judgement serves, built once per judgement and shared by every request.

The engine replaces its judgement (and the report head built with it) whole at the end of a
cycle; both are immutable. Everything the HTTP side derives from them, the `/readiness` body, the
run index by key, the filter choices and, per filter, which runs pass it, is built once per
judgement here instead of on every request (requests used to build a `RunOut` per run each:
8-9 requests/s under 20 clients, issue 16). Building happens in a worker thread, so the event
loop keeps answering meanwhile, and at most once per judgement: concurrent requests wait for the
one build in flight.

Pages are rendered once too: a console page or a page of `/report` is the same bytes for
everyone until the judgement changes, so the rendered bytes are kept, up to a byte budget per
judgement (least recently used first out). Nothing here holds a `RunOut` per run: the report's
runs are built per page from the results (a `RunOut` per pair was a sixth of the memory held
per tracked run), and a whole unpaged report is built per request, off the loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

import anyio.to_thread

from shadow.core.results import PairResult
from shadow.judging.judge import Judgement
from shadow.judging.report import Report, RunOut
from shadow.serve.views import RunFilters, filter_choices

_FILTERS_KEPT = 256  # distinct filters whose matching runs are kept per judgement
_RENDERED_BYTES = 16 * 1024 * 1024  # rendered pages kept per judgement


class Rendered:
    """Responses rendered from one judgement, by what they show, within a byte budget."""

    def __init__(self, budget: int = _RENDERED_BYTES) -> None:
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._budget = budget
        self._lock = threading.Lock()  # pages are rendered in worker threads

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        with self._lock:
            if key in self._items or len(body) > self._budget:
                return
            self._items[key] = body
            self._size += len(body)
            while self._size > self._budget:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)


@dataclass(frozen=True)
class Served:
    judgement: Judgement
    head: Report
    ready: bool
    readiness: bytes  # the /readiness body, as JSON
    by_key: dict[str, PairResult]
    choices: dict[str, list[str]]
    rendered: Rendered = field(default_factory=Rendered, repr=False)
    # filters -> indexes into judgement.results of the runs that pass them (oldest first out)
    _matching: dict[RunFilters, tuple[int, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, head: Report, j: Judgement) -> Served:
        r = head.readiness
        ready = r.verdict.value == "READY"
        body = {
            "verdict": r.verdict.value,
            "ready": ready,
            "reasons": r.reasons,
            "needs": r.needs,
            "since": r.since.isoformat() if r.since else None,
            "generated_at": head.generated_at.isoformat(),
        }
        served = cls(
            judgement=j,
            head=head,
            ready=ready,
            readiness=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            by_key={res.key: res for res in j.results},
            choices=filter_choices(j.results),
        )
        served.matching(RunFilters())  # the unfiltered list: what most pages ask for
        return served

    def cached(self, filters: RunFilters) -> tuple[int, ...] | None:
        return self._matching.get(filters)

    def matching(self, filters: RunFilters) -> tuple[int, ...]:
        """Indexes of the runs that pass `filters`, in report order; computed once per filter.

        Called from worker threads and the event loop alike: each dict operation is atomic, and
        two threads computing the same filter store the same value."""
        hit = self._matching.get(filters)
        if hit is not None:
            return hit
        found = tuple(i for i, r in enumerate(self.judgement.results) if filters.keep(r))
        while len(self._matching) >= _FILTERS_KEPT:
            self._matching.pop(next(iter(self._matching)), None)
        self._matching[filters] = found
        return found

    def report(self, filters: RunFilters, offset: int, limit: int | None) -> Report:
        """The report with the runs that pass `filters`, paged (report.md)."""
        matching = self.matching(filters)
        end = None if limit is None else offset + limit
        results = self.judgement.results
        runs = [RunOut.of(results[i]) for i in matching[offset:end]]
        return self.head.model_copy(update={"runs": runs, "runs_total": len(matching)})


class ServedCache:
    """The `Served` of the engine's current judgement, rebuilt when the judgement changes."""

    def __init__(self) -> None:
        self._served: Served | None = None
        self._lock = asyncio.Lock()

    async def get(self, head: Report | None, j: Judgement | None) -> Served | None:
        if head is None or j is None:
            return None
        current = self._served
        if current is not None and current.judgement is j and current.head is head:
            return current
        async with self._lock:  # one build per judgement, however many requests ask
            current = self._served
            if current is None or current.judgement is not j or current.head is not head:
                current = await anyio.to_thread.run_sync(Served.build, head, j)
                self._served = current
            return current

    async def matching(self, served: Served, filters: RunFilters) -> tuple[int, ...]:
        """`served.matching(filters)`, computed off the event loop when not yet known."""
        hit = served.cached(filters)
        if hit is not None:
            return hit
        return await anyio.to_thread.run_sync(served.matching, filters)
