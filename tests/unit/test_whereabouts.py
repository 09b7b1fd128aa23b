"""Where the runs probably are: the usual wrong sources, each named with the one meant."""

from __future__ import annotations

import pytest

from shadow.core.layout import Layout
from shadow.core.whereabouts import Listing, Place, children_to_look_into, diagnose, place_of

RUNS = [f"run_{i:04d}" for i in range(130)] + [f"run_{i:04d}-dryrun" for i in range(130)]


def test_one_level_too_deep_names_the_bucket_root() -> None:
    place = place_of("dir:demo-bucket/runs", "")
    assert (
        "dir:demo-bucket/runs holds 260 directories named run_*: the source is the bucket root, "
        "dir:demo-bucket" == diagnose(place, Layout.FLAT, "-dryrun", Listing(RUNS))
    )


def test_s3_prefix_inside_the_runs_names_the_bucket() -> None:
    place = place_of("s3://runs-bucket/team/runs", "team/runs/")
    said = diagnose(place, Layout.FLAT, "-dryrun", Listing(RUNS, more=True))
    assert "s3://runs-bucket/team/runs/ holds 260+ directories named run_*" in said
    assert said.endswith("the source is the bucket root, s3://runs-bucket/team/")


@pytest.mark.parametrize(
    ("source", "root", "flag"),
    [
        ("dir:/data/b/agents/curator/runs", "dir:/data/b", " with --layout nested"),
        ("dir:b/agents", "dir:b", " with --layout nested"),
        ("dir:b/runs/run_0001/steps", "dir:b", ""),
    ],
)
def test_deeper_places_name_the_bucket_root_and_its_layout(
    source: str, root: str, flag: str
) -> None:
    said = diagnose(place_of(source, ""), Layout.FLAT, "-dryrun", Listing(["x"]))
    assert said.endswith(f"the source is the bucket root, {root}{flag}")


def test_the_other_layout_names_the_flag() -> None:
    place = place_of("dir:b", "")
    assert diagnose(place, Layout.NESTED, "-dryrun", Listing(["runs"])).endswith(
        "that is the flat layout, pass --layout flat"
    )
    assert diagnose(place, Layout.FLAT, "-dryrun", Listing(["agents"])).endswith(
        "pass --layout nested"
    )


def test_one_level_too_high_names_the_child_that_holds_runs() -> None:
    listing = Listing(["demo-bucket", "src"])
    assert ["demo-bucket", "src"] == children_to_look_into(listing, Layout.FLAT)
    listing = Listing(["demo-bucket", "src"], below={"demo-bucket": ["runs"], "src": ["shadow"]})
    assert diagnose(place_of("dir:.", ""), Layout.FLAT, "-dryrun", listing).endswith(
        "but dir:demo-bucket does: the source is dir:demo-bucket"
    )
    s3 = place_of("s3://b", "")
    assert diagnose(s3, Layout.FLAT, "-dryrun", listing).endswith(
        "the source is s3://b/demo-bucket/"
    )


def test_runs_copied_without_their_runs_directory() -> None:
    said = diagnose(Place("dir:", ("copy",)), Layout.FLAT, "-dryrun", Listing(RUNS))
    assert "run ids beside their -dryrun twins, but no runs/" in said


def test_empty_and_not_yet_written() -> None:
    assert "dir:b/runs holds no run directory yet" in diagnose(
        place_of("dir:b", ""), Layout.FLAT, "-dryrun", Listing(["runs"])
    )
    assert "dir:empty holds no directory" in diagnose(
        place_of("dir:empty", ""), Layout.FLAT, "-dryrun", Listing([])
    )
    assert "3 directories (a, b, c)" in diagnose(
        place_of("dir:x", ""), Layout.FLAT, "-dryrun", Listing(["a", "b", "c"])
    )
