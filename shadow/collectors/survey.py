"""What a source holds where a scan found no run directory: a few one-level listings (S3's
common prefixes), read-only, handed to the pure `core.whereabouts.diagnose`."""

from __future__ import annotations

from shadow.collectors import Source
from shadow.core.layout import KeyLayout
from shadow.core.whereabouts import Listing, children_to_look_into, diagnose, place_of


async def survey(source: Source, source_setting: str, layout: KeyLayout) -> str:
    """One sentence on what the source holds and the source it probably meant."""
    dirs, more = await _first_page(source, layout.prefix)
    listing = Listing(dirs, more)
    below: dict[str, list[str]] = {}
    for name in children_to_look_into(listing, layout.layout):
        below[name], _ = await _first_page(source, f"{layout.prefix}{name}/")
    listing = Listing(dirs, more, below)
    place = place_of(source_setting, layout.prefix)
    return diagnose(place, layout.layout, layout.suffix, listing)


async def _first_page(source: Source, prefix: str) -> tuple[list[str], bool]:
    """The names (no prefix, no slash) of the first page of directories below the prefix."""
    pages = source.list_dirs(prefix)
    try:
        first: list[str] = await anext(pages, [])
        more = await anext(pages, None) is not None
    finally:
        close = getattr(pages, "aclose", None)  # an async generator: end its listing now
        if close is not None:
            await close()
    return [d[len(prefix) :].rstrip("/") for d in first], more
