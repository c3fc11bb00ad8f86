"""Validation's evidence as records, against the real MongoDB.

The consumer's handler, the re-evaluator and the use cases run in this test's event loop
on a database of its own, each history in a tenant of its own, with a clock the test
moves. After every step the verdict the ledger keeps (from its incremental tally) must be
exactly what `gate.evaluate` says over the full evidence, read back record by record
(support/validation_records.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import Isolation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_validation.gate import CriterionResult
from quorum_validation.lifecycle import GateState, Status
from support.servers import Servers
from support.validation import (
    START,
    Validation,
    endorsed,
    endorsement,
    merged,
    organization_message,
    parts_on,
    submitted,
    withdrawn,
)
from support.validation_records import (
    ACTIVE,
    ORGS,
    SEGMENTS,
    History,
    check,
    fresh,
    organization_drawn,
    policy_drawn,
    steps,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def validation(infra: Servers, isolation: Isolation) -> AsyncIterator[Validation]:
    # Rebuilds count 3 records per transaction: most of them take several.
    async with parts_on(infra.mongodb_uri, isolation.database("validation"), chunk=3) as parts:
        yield parts


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.fixed_dictionaries(dict.fromkeys(ORGS[:5], organization_drawn)),
    policy_drawn,
    steps,
)
async def test_the_ledger_judges_every_history_as_evaluate_does_over_its_records(
    validation: Validation,
    drawn: dict[str, tuple[str, int, int, bool, str]],
    policy: domain_pb2.GatePolicy,
    history_steps: list[tuple[str, Any]],
) -> None:
    validation.clock.at = START
    history = History(f"tenant-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), str(uuid.uuid4()))
    tenant = history.tenant
    for oid, organization in drawn.items():
        await validation.organization(tenant, organization_message(oid, organization))
    await validation.policy(tenant, policy)
    await validation.reevaluator.run_once()
    first = [
        submitted(tenant, history.idea_id, "org0", START),
        submitted(tenant, history.source_id, "org3", START),
    ]
    await validation.consume(first)
    history.send(first)
    await check(validation, history)

    def drawn_endorsement(
        drawn: tuple[str, int, list[int], int],
    ) -> domain_pb2.OrganizationEndorsement:
        oid, importance, commitments, days = drawn
        return endorsement(oid, importance, commitments, validation.clock() - timedelta(days=days))

    for kind, detail in history_steps:
        batch: list[events_pb2.Event] = []
        if kind == "endorse":
            for one in detail:
                history.version += 1
                batch.append(
                    endorsed(tenant, history.idea_id, drawn_endorsement(one), history.version)
                )
        elif kind == "withdraw":
            history.version += 1
            batch.append(withdrawn(tenant, history.idea_id, detail, history.version))
        elif kind == "merge":
            history.version += 1
            seen: set[str] = set()
            parts = []
            for part in detail:
                mine = [drawn_endorsement(e) for e in part if e[0] not in seen]
                seen.update(e.organization_id for e in mine)
                if mine:
                    parts.append(mine)
            batch.extend(merged(tenant, history.source_id, history.idea_id, parts, history.version))
        elif kind == "replay":
            # Redelivered or replayed under new ids: a stretch of what was sent, which
            # later events may have overtaken (they must not be undone).
            start, length = detail
            start %= len(history.sent)
            batch.extend(fresh(e) for e in history.sent[start : start + length])
        elif kind == "directory":
            oid, organization = detail
            await validation.organization(tenant, organization_message(oid, organization))
            await validation.reevaluator.run_once()
        elif kind == "policy":
            await validation.policy(tenant, detail)
            # One transaction per idea: a rebuild gets a chunk done, events may come next.
            await validation.reevaluator.reevaluate(tenant, every=True)
        elif kind == "finish":
            await validation.reevaluator.finish_rebuilds()
        else:
            validation.clock.at += timedelta(days=detail, minutes=13)
            # Nothing arrives: the re-evaluation of the tenant's ideas expires what is stale.
            await validation.reevaluator.reevaluate(tenant, every=True)
        if batch:
            await validation.consume(batch)
            history.send(batch)
        await check(validation, history)
    await validation.reevaluator.finish_rebuilds()
    await check(validation, history)
    assert not (await validation.ledger.unfinished())
    source = await validation.ledger.entry(tenant, history.source_id)
    merges = any(e.WhichOneof("payload") == "ideas_merged" for e in history.sent)
    assert source.status is (Status.MERGED if merges else Status.OPEN)


# --------------------------------------------------------------------------- the rare look-ups


async def _kept_after_each(
    validation: Validation,
    history: History,
    steps: list[list[events_pb2.Event]],
    criterion: str,
) -> list[CriterionResult]:
    """Consumes the steps a batch at a time, the kept verdict checked against every record
    after each; that verdict's `criterion` after each."""
    kept = []
    for batch in steps:
        await validation.consume(batch)
        history.send(batch)
        await check(validation, history)
        _, verdict, _ = await validation.verdicts(history.tenant, history.idea_id)
        kept.append(next(c for c in verdict.criteria if c.name == criterion))
    return kept


async def test_a_customer_with_affiliates_is_stood_for_by_its_next_heaviest_member(
    validation: Validation,
) -> None:
    tenant, idea_id = "affiliates", str(uuid.uuid4())
    tree = [
        ("hold", "finance", ""),
        ("a", "retail", "hold"),
        ("b", "health", "hold"),
        ("c", "energy", ""),
        ("d", "retail", ""),
    ]
    for oid, segment, parent in tree:
        await validation.organization(
            tenant, organization_message(oid, (segment, 1_000_000, ACTIVE, False, parent))
        )
    policy = domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=2,
        min_segments=3,
        max_share=0.9,
        weighting=domain_pb2.WEIGHTING_EQUAL,
        affiliates_count_once=True,
    )
    await validation.policy(tenant, policy)
    await validation.reevaluator.run_once()
    at = validation.clock()
    history = History(tenant, idea_id, "")
    steps = [
        [submitted(tenant, idea_id, "c", at)],
        [
            endorsed(tenant, idea_id, endorsement("a", 3, (), at), 2),
            endorsed(tenant, idea_id, endorsement("b", 1, (), at), 3),
            endorsed(tenant, idea_id, endorsement("d", 1, (), at), 4),
        ],
        # The heaviest member of "hold" leaves: its next one (health) stands for it.
        [withdrawn(tenant, idea_id, "a", 5)],
        # The head of the tree endorses, heavier than its remaining affiliate.
        [endorsed(tenant, idea_id, endorsement("hold", 2, (), at), 6)],
        [withdrawn(tenant, idea_id, "hold", 7)],
        # The top customer ("hold", 3) leaves entirely: the next one leads.
        [withdrawn(tenant, idea_id, "b", 8)],
    ]
    kept = await _kept_after_each(validation, history, steps, "min_segments")
    assert [c.detail for c in kept] == [
        "1 of 3 segments: energy",
        "2 of 3 segments: energy, retail",  # a (retail) stands for hold
        "3 of 3 segments: energy, health, retail",  # b (health) does
        "3 of 3 segments: energy, finance, retail",  # hold itself, heavier than b
        "3 of 3 segments: energy, health, retail",
        "2 of 3 segments: energy, retail",
    ]


async def test_endorsements_stop_counting_once_too_old_each_once(validation: Validation) -> None:
    tenant, idea_id = "freshness", str(uuid.uuid4())
    for i, oid in enumerate(["s", "x", "y", "z"]):
        await validation.organization(
            tenant, organization_message(oid, (SEGMENTS[i % 3], 1_000_000, ACTIVE, False, ""))
        )
    policy = domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=3,
        weighting=domain_pb2.WEIGHTING_EQUAL,
        max_age_days=10,
    )
    await validation.policy(tenant, policy)
    await validation.reevaluator.run_once()
    at = validation.clock()
    history = History(tenant, idea_id, "")
    first = [
        submitted(tenant, idea_id, "s", at),
        endorsed(tenant, idea_id, endorsement("x", 2, (), at - timedelta(days=8)), 2),
        endorsed(tenant, idea_id, endorsement("y", 2, (), at - timedelta(days=4)), 3),
        endorsed(tenant, idea_id, endorsement("z", 2, (), at - timedelta(days=1)), 4),
    ]
    await validation.consume(first)
    history.send(first)
    await check(validation, history)
    counted = []
    for days in (1, 2, 3, 4, 5):
        validation.clock.at += timedelta(days=days)
        await validation.reevaluator.reevaluate(tenant, every=True)
        await check(validation, history)
        entry = await validation.ledger.entry(tenant, idea_id)
        assert entry.tally is not None
        counted.append(entry.tally.customers)
    # 4 counted; then x (8 days old) expires after 3 days, y after 7, s after 10, z after 10.
    assert counted == [4, 3, 3, 1, 0]
    # A member endorsing again makes its organization count again.
    again = [endorsed(tenant, idea_id, endorsement("x", 3, (), validation.clock()), 5)]
    await validation.consume(again)
    history.send(again)
    await check(validation, history)


async def test_among_equally_heavy_customers_the_smallest_id_leads(validation: Validation) -> None:
    tenant, idea_id = "ties", str(uuid.uuid4())
    for i, oid in enumerate(["m", "p", "q", "r"]):
        await validation.organization(
            tenant, organization_message(oid, (SEGMENTS[i % 3], 1_000_000, ACTIVE, False, ""))
        )
    at = validation.clock()
    history = History(tenant, idea_id, "")
    steps = [
        [submitted(tenant, idea_id, "m", at)],
        [
            endorsed(tenant, idea_id, endorsement(oid, 3, (), at), v)
            for v, oid in [(2, "r"), (3, "q"), (4, "p")]
        ],
        [withdrawn(tenant, idea_id, "p", 5)],  # the leader leaves: q and r weigh the same
        [endorsed(tenant, idea_id, endorsement("q", 1, (), at), 6)],  # q gets lighter: r
    ]
    kept = await _kept_after_each(validation, history, steps, "max_share")
    assert [c.subject for c in kept] == ["m", "p", "q", "r"]


async def test_a_rebuild_over_several_transactions_judges_once_it_has_counted_everyone(
    validation: Validation,
) -> None:
    tenant, idea_id = "rebuilding", str(uuid.uuid4())
    small = [f"s{i}" for i in range(9)]
    await validation.organization(
        tenant, organization_message("mega", ("energy", 900_000_000, ACTIVE, False, ""))
    )
    for i, oid in enumerate([*small, "late"]):
        await validation.organization(
            tenant, organization_message(oid, (SEGMENTS[i % 3], 1_000_000, ACTIVE, False, ""))
        )
    linear = domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=3,
        min_segments=2,
        max_share=0.5,
        weighting=domain_pb2.WEIGHTING_ARR_LINEAR,
    )
    await validation.policy(tenant, linear)
    await validation.reevaluator.run_once()
    at = validation.clock()
    history = History(tenant, idea_id, "")
    first = [submitted(tenant, idea_id, "mega", at)] + [
        endorsed(tenant, idea_id, endorsement(oid, 2, (), at), v)
        for v, oid in enumerate(small, start=2)
    ]
    await validation.consume(first)
    history.send(first)
    await check(validation, history)
    assert history.judged == GateState("DISCOVERY", False)  # MegaCorp carries it

    async def gate_events() -> list[str]:
        rows = await validation.database["outbox"].find({"key": idea_id}).to_list()
        told = [events_pb2.Event.FromString(r["value"]) for r in rows]
        return [e.WhichOneof("payload") or "" for e in told if e.HasField("gate_opened")]

    # Counted alike no more: a new generation of the tally, 3 records per transaction.
    equal = domain_pb2.GatePolicy()
    equal.CopyFrom(linear)
    equal.weighting = domain_pb2.WEIGHTING_EQUAL
    await validation.policy(tenant, equal)
    await validation.reevaluator.reevaluate(tenant, every=True)
    entry = await validation.ledger.entry(tenant, idea_id)
    assert entry.tally is not None
    assert entry.tally.pending
    assert entry.gate == GateState("DISCOVERY", False)
    late = [endorsed(tenant, idea_id, endorsement("late", 3, (), at), 20)]
    await validation.consume(late)  # arrives in the middle of the rebuild
    history.send(late)
    await check(validation, history)
    assert await gate_events() == []
    await validation.reevaluator.finish_rebuilds()
    await check(validation, history)
    assert history.judged == GateState("DISCOVERY", True)
    assert await gate_events() == ["gate_opened"]
    # The customers of the first generation are gone; the new one has them all.
    customers = await validation.database["evidence_customers"].find({"idea_id": idea_id}).to_list()
    assert {c["generation"] for c in customers} == {2}
    assert len(customers) == 11
