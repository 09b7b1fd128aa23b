"""Time and id formats as the vendors write them (docs/vendors.md cites each).

A `datetime` holds microseconds; Go and protobuf writers keep nanoseconds. The three digits
below the microsecond are derived from the instant itself, so a time reads the same wherever
it is written and the corpus stays deterministic without drawing from the generator.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"


def _nanos(t: datetime) -> int:
    """Nanoseconds within the second: the microseconds and three digits below them."""
    micros = t.microsecond
    below = (micros * 7919 + t.second * 104729) % 1000
    return micros * 1000 + below


def iso_ms(t: datetime) -> str:
    """JavaScript's `Date.toISOString()`: UTC, three fractional digits, `Z` (Trigger.dev,
    a Worker's `JSON.stringify`, a Node bot server)."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_go(t: datetime, whole_micros: bool = False) -> str:
    """Go's `time.Time` JSON (RFC 3339 with nanoseconds, trailing zeros trimmed: 0 to 9
    digits), as Inngest's REST v1 writes it. `whole_micros`: a time stored with microseconds."""
    t = t.astimezone(UTC)
    nanos = t.microsecond * 1000 if whole_micros else _nanos(t)
    frac = f"{nanos:09d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def iso_proto(t: datetime, whole_micros: bool = False) -> str:
    """protojson's Timestamp: `Z` with 0, 3, 6 or 9 fractional digits, the fewest that hold the
    value exactly (Inngest REST v2)."""
    t = t.astimezone(UTC)
    nanos = t.microsecond * 1000 if whole_micros else _nanos(t)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos == 0:
        return base + "Z"
    for digits in (3, 6, 9):
        if nanos % 10 ** (9 - digits) == 0:
            return f"{base}.{nanos // 10 ** (9 - digits):0{digits}d}Z"
    raise AssertionError("unreachable")


def epoch_ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def epoch_s(t: datetime) -> int:
    """Unix time in whole seconds (Telegram's `date`): truncated, as the server stores it."""
    return int(t.timestamp())


def ulid(rng: random.Random, at: datetime) -> str:
    """A ULID (Inngest run and event ids): 48 bits of milliseconds, 80 random bits, Crockford
    base32; the id encodes its own time."""
    value = (epoch_ms(at) << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def trigger_id(rng: random.Random, prefix: str = "run") -> str:
    """A Trigger.dev friendly id: `run_`, `sched_` or `batch_` and 25 lowercase letters and digits."""
    return prefix + "_" + "".join(rng.choice(_LOWER) for _ in range(25))


def hex_id(rng: random.Random, bits: int = 128) -> str:
    """An opaque hex id (a queue message id, a span id)."""
    return f"{rng.getrandbits(bits):0{bits // 4}x}"
