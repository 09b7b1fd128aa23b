"""Progress of a scan in flight: a live line on a terminal, a log line every few seconds
elsewhere, and a tick for counters that should move while the scan runs.

The engine hands an observer its scan's live `ScanStats` when the scan starts and again when
it ends; `ScanProgress` reads it on a timer and writes nothing into it. A cold backfill lists
for seconds and fetches for minutes: the line says how far the listing got, how many of the
new or changed objects are done, the rate over the last seconds, and the time left for what
has been listed (a lower bound while the listing goes on, marked `≥`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from shadow.engine import ScanStats

log = logging.getLogger("shadow.progress")

_WINDOW_SECONDS = 10.0  # the rate is measured over the last this many seconds
_CLEAR = "\r\x1b[K"  # carriage return, then erase to the end of the line (ECMA-48 EL)


@dataclass(frozen=True, slots=True)
class Progress:
    """One reading of a scan in flight."""

    listed: int
    changed: int  # listed objects the ledger did not hold as they are
    done: int  # changed objects stored or given up on
    fetched: int
    errors: int
    listing_done: bool
    elapsed: float
    rate: float | None  # objects done per second, recently; None until measurable

    @property
    def eta_seconds(self) -> float | None:
        if not self.rate:
            return None
        return max(0, self.changed - self.done) / self.rate

    def line(self) -> str:
        """`scan 13s: listed 29,000…, fetched 22,262, done 27,829/29,000 changed, 2,220/s, ETA ≥1s`"""
        parts = [
            f"listed {self.listed:,}" + ("" if self.listing_done else "…"),
            f"fetched {self.fetched:,}",
            f"done {self.done:,}/{self.changed:,} changed",
        ]
        if self.rate is not None:
            parts.append(f"{self.rate:,.0f}/s")
        eta = self.eta_seconds
        if eta is not None:
            parts.append(f"ETA {'' if self.listing_done else '≥'}{_duration(eta)}")
        if self.errors:
            parts.append(f"errors {self.errors:,}")
        return f"scan {_duration(self.elapsed)}: " + ", ".join(parts)

    def finished_line(self) -> str:
        return (
            f"scan {_duration(self.elapsed)}: listed {self.listed:,}, fetched {self.fetched:,}; "
            "judging…"
        )

    def fields(self) -> dict[str, object]:
        """The figures as log fields (JSON logs keep them as numbers)."""
        eta = self.eta_seconds
        return {
            "listed": self.listed,
            "changed": self.changed,
            "done": self.done,
            "fetched": self.fetched,
            "errors": self.errors,
            "listing_done": self.listing_done,
            "rate": round(self.rate, 1) if self.rate is not None else None,
            "eta_seconds": round(eta, 1) if eta is not None else None,
        }


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _width(stream: TextIO) -> int:
    """The terminal's width; 80 when it does not say (no fileno, or a size of 0 never set)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


class ScanProgress:
    """A ScanObserver: reads the scan's live stats every `tick` seconds.

    `line`: a terminal to keep one live line on (redrawn in place, cleared at the end).
    `log_every`: else, an INFO log line this often (none for a scan shorter than that).
    `on_tick`: called with the live stats at each tick and at the end (metrics counting).
    """

    def __init__(
        self,
        *,
        line: TextIO | None = None,
        log_every: float | None = None,
        on_tick: Callable[[ScanStats], None] | None = None,
        tick: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.line, self.log_every, self.on_tick, self.tick = line, log_every, on_tick, tick
        self.clock = clock
        self._stats: ScanStats | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = self._last_log = 0.0
        self._window: deque[tuple[float, int]] = deque()
        self._drawn = False

    # ScanObserver ------------------------------------------------------------------------
    def scan_started(self, stats: ScanStats) -> None:
        self._stats = stats
        self._started = self._last_log = self.clock()
        self._window.clear()
        self._window.append((self._started, stats.processed))
        self._task = asyncio.get_running_loop().create_task(self._ticking())

    def scan_finished(self, stats: ScanStats) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        reading = self.read()
        self._count(stats)
        if self.line is not None and reading is not None:
            # The scan is over; what follows (normalizing, judging) can take a while too.
            self._draw(reading.finished_line())

    def close(self) -> None:
        """Take the live line off the terminal (the caller prints its summary next)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.line is not None and self._drawn:
            self.line.write(_CLEAR)
            self.line.flush()
            self._drawn = False

    # reading -----------------------------------------------------------------------------
    def read(self) -> Progress | None:
        stats = self._stats
        if stats is None:
            return None
        now = self.clock()
        self._window.append((now, stats.processed))
        while len(self._window) > 2 and now - self._window[0][0] > _WINDOW_SECONDS:
            self._window.popleft()
        (t0, n0), (t1, n1) = self._window[0], self._window[-1]
        rate = (n1 - n0) / (t1 - t0) if t1 - t0 >= min(1.0, 2 * self.tick) else None
        return Progress(
            listed=stats.listed,
            changed=stats.listed - stats.unchanged,
            done=stats.processed,
            fetched=stats.fetched,
            errors=sum(stats.errors.values()),
            listing_done=stats.listing_done,
            elapsed=now - self._started,
            rate=rate,
        )

    async def _ticking(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            reading = self.read()
            if reading is None:
                continue
            assert self._stats is not None
            self._count(self._stats)
            if self.line is not None:
                self._draw(reading.line())
            elif self.log_every is not None and self.clock() - self._last_log >= self.log_every:
                self._last_log = self.clock()
                log.info("%s", reading.line(), extra=reading.fields())

    def _count(self, stats: ScanStats) -> None:
        if self.on_tick is None:
            return
        try:
            self.on_tick(stats)
        except Exception:  # counting must never break the scan it watches; it is still said
            log.exception("counting the scan in flight failed")

    def _draw(self, text: str) -> None:
        assert self.line is not None
        width = _width(self.line)
        if len(text) >= width:  # a wrapped line cannot be redrawn in place
            text = text[: max(1, width - 2)] + "…"
        self.line.write(_CLEAR + text)
        self.line.flush()
        self._drawn = True
