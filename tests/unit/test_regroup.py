"""Grouping again after runs changed in place: the same grouping as from scratch, or none."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.core.layout import Side
from shadow.core.pairing import Grouped, PairBy, group_runs
from shadow.core.regroup import regrouped
from shadow.core.runs import NormalizedRun, RunLinks
from shadow.core.schedules import Schedule
from shadow.core.vocabulary import RunState
from tests.builders import T0, run, twin


def _links(**given: object) -> RunLinks:
    fields: dict[str, object] = {
        "identity": None,
        "link": None,
        "attempt": None,
        "scheduled": None,
        "slot": None,
        "queued_at": None,
        "steps_seen": True,
        "retries_seen": True,
    }
    return RunLinks(**{**fields, **given})  # type: ignore[arg-type]


def _corpus() -> list[NormalizedRun]:
    """Runs in every way grouping can treat them: plain twins, a lost primary, a duplicate, the
    same id under two agents, a twin under another agent, declared links, deliveries of one
    run, scheduled runs paired by fire time, idempotency keys."""
    out: list[NormalizedRun] = []
    for i in range(4):
        p = run(f"r{i}", start=T0 + i * 60)
        out += [p, twin(p)]
    out.append(run("lost", start=T0 + 900))
    dup = run("d1", start=T0 + 1000)
    out += [dup, twin(dup), replace(dup, run_dir="runs/d1-again/", started_at=T0 + 1100)]
    for slug in ("alpha", "beta"):
        p = run("same", agent=slug, start=T0 + 1200)
        p = replace(p, run_dir=f"agents/{slug}/runs/same/")
        out += [p, replace(twin(p), run_dir=f"agents/{slug}/runs/same-dryrun/")]
    stray = run("moved", agent="alpha", start=T0 + 1300)
    out += [
        replace(stray, run_dir="agents/alpha/runs/moved/"),
        replace(twin(stray), run_dir="agents/beta/runs/moved-dryrun/"),
    ]
    linked = run("job-1", start=T0 + 1400)
    out += [
        replace(linked, links=_links(identity="job-1")),
        replace(
            twin(linked), run_dir="runs/task-9/", links=_links(identity="task-9", link="job-1")
        ),
    ]
    for attempt in (1, 2):
        d = run(f"msg-{attempt}", start=T0 + 1500 + attempt)
        out.append(replace(d, links=_links(identity="msg", link="m-key", attempt=attempt)))
    hour = T0 - T0 % 3600
    for n, slot in enumerate((hour + 3600, hour + 7200, hour + 7210, hour + 9000)):
        s = run(f"cron-{n}", agent="nightly", start=slot + 5)
        out.append(replace(s, links=_links(identity=f"cron-{n}", scheduled=True, slot=slot)))
    keyed = run("chat-1", start=T0 + 1600, idempotency_key="update-7")
    out += [keyed, replace(twin(keyed), run_dir="runs/chat-x/", pairing_key="chat-x")]
    return out


SCHEDULES = (Schedule(stratum="nightly", cron="0 * * * *", tolerance_s=60.0),)


def _changed(old: NormalizedRun, how: str) -> NormalizedRun:
    if how == "state":  # what a status rewrite does: grouping reads none of it
        return replace(old, state=RunState.FAILED, error_code="AGENT_TIMEOUT")
    if how == "same":
        return replace(old)
    if how == "start":
        return replace(old, started_at=(old.started_at or T0) + 30)
    if how == "attempt" and old.links is not None:
        return replace(old, links=replace(old.links, attempt=(old.links.attempt or 0) + 5))
    if how == "link":
        return replace(old, links=_links(identity=old.run_dir, link="r1"))
    if how == "key":
        return replace(old, pairing_key=old.pairing_key + "-x")
    return replace(old, agent=old.agent + "-x")


def _same(a: Grouped, b: Grouped) -> bool:
    def dupes(g: Grouped) -> dict[str, list[str]]:
        return {k: [f.model_dump_json() for f in fs] for k, fs in g.duplicates.items()}

    return (
        a.sides.keys() == b.sides.keys()
        and all(a.sides[k][i] is b.sides[k][i] for k in a.sides for i in (0, 1))
        and dupes(a) == dupes(b)
        and (a.renamed, a.slotted) == (b.renamed, b.slotted)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(PairBy)),
    st.dictionaries(
        st.integers(0, len(_corpus()) - 1),
        st.sampled_from(["state", "same", "start", "key", "agent", "attempt", "link"]),
        max_size=6,
    ),
)
def test_regrouping_equals_grouping_from_scratch_or_declines(
    by: PairBy, changes: dict[int, str]
) -> None:
    """Whatever runs change and how, a regrouping is the grouping from scratch of the new runs
    (the same run objects on the same keys, the same duplicates and renames), or None."""
    runs = sorted(_corpus(), key=lambda r: r.run_dir)
    before = group_runs(runs, by, SCHEDULES)
    after = list(runs)
    swaps = []
    for i, how in changes.items():
        after[i] = _changed(runs[i], how)
        swaps.append((runs[i], after[i]))
    patched = regrouped(before, swaps)
    scratch = group_runs(after, by, SCHEDULES)
    assert patched is None or _same(scratch, patched)
    if all(how in ("state", "same") for how in changes.values()):
        # declined only for a run that was not the one judged for its key
        judged = {id(r) for pair in before.sides.values() for r in pair if r is not None}
        assert (patched is None) == any(id(runs[i]) not in judged for i in changes)


def test_a_status_rewrite_keeps_the_grouping_with_the_new_run_in_it() -> None:
    """The steady case: a running dry run rewrote its status; its new object takes its place."""
    runs = sorted(_corpus(), key=lambda r: r.run_dir)
    before = group_runs(runs)
    old = next(r for r in runs if r.run_dir == "runs/r2-dryrun/")
    new = _changed(old, "state")
    patched = regrouped(before, [(old, new)])
    assert patched is not None and new is patched.sides["r2"][1]
    assert Side.CANDIDATE is new.side and before.sides["r2"][0] is patched.sides["r2"][0]
