"""Validation's evidence as records, against the real MongoDB.

The consumer's handler, the re-evaluator and the use cases run in this test's event loop
on a database of its own, each history in a tenant of its own, with a clock the test
moves. After every step the verdict the ledger keeps (from its incremental tally) must be
exactly what `gate.evaluate` says over the full evidence, read back record by record.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import Isolation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_validation.evidence import report_weights
from quorum_validation.gate import Endorsement
from quorum_validation.handler import facts
from quorum_validation.lifecycle import GateState, IdeaEvidence, Status
from quorum_validation.messages import endorsement_document, endorsement_of
from quorum_validation.migration import migrate_embedded_evidence, migrate_idea_versions
from support.servers import Servers
from support.validation import (
    START,
    Validation,
    endorsed,
    endorsement,
    merged,
    organization_message,
    submitted,
    validation_parts,
    withdrawn,
)

pytestmark = pytest.mark.integration

ORGS = [f"org{i}" for i in range(7)]
SEGMENTS = ["retail", "health", "finance"]
ACTIVE, PROSPECT, CHURNED = (
    domain_pb2.RELATIONSHIP_ACTIVE,
    domain_pb2.RELATIONSHIP_PROSPECT,
    domain_pb2.RELATIONSHIP_CHURNED,
)


@pytest.fixture
async def validation(infra: Servers, isolation: Isolation) -> AsyncIterator[Validation]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        # Rebuilds count 3 records per transaction: most of them take several.
        yield await validation_parts(client, client[isolation.database("validation")], chunk=3)
    finally:
        await client.close()


# --------------------------------------------------------------------------- histories

organization_drawn = st.tuples(
    st.sampled_from(SEGMENTS),
    st.sampled_from([0, 3_000_000, 20_000_000, 400_000_000]),
    st.sampled_from([ACTIVE, ACTIVE, PROSPECT, CHURNED]),
    st.sampled_from([False, False, False, True]),
    # Parents often, so that customers with several members (affiliates) are common.
    st.sampled_from(["", "", "org1", "org2", "holding"]),
)
policy_drawn = st.builds(
    lambda customers, share, weighting, affiliates, sponsor, age, active: domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=customers,
        min_segments=2,
        max_share=share,
        min_active=active,
        weighting=weighting,
        affiliates_count_once=affiliates,
        sponsor_excluded=sponsor,
        max_age_days=age,
    ),
    st.integers(1, 4),
    st.sampled_from([0.0, 0.5, 0.7]),
    st.sampled_from(
        [domain_pb2.WEIGHTING_EQUAL, domain_pb2.WEIGHTING_ARR_LOG, domain_pb2.WEIGHTING_ARR_LINEAR]
    ),
    st.sampled_from([True, True, False]),  # affiliates count once
    st.booleans(),
    st.sampled_from([0, 0, 5, 20]),
    st.sampled_from([0, 2]),
)
endorsement_drawn = st.tuples(
    st.sampled_from(ORGS),
    st.sampled_from([1, 2, 3]),
    st.lists(st.sampled_from([1, 2, 3]), max_size=2, unique=True),  # commitments
    st.integers(0, 30),  # days before now
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("endorse"), st.lists(endorsement_drawn, min_size=1, max_size=5)),
        st.tuples(st.just("withdraw"), st.sampled_from(ORGS)),
        st.tuples(
            st.just("merge"),
            st.lists(st.lists(endorsement_drawn, min_size=1, max_size=3), min_size=1, max_size=3),
        ),
        st.tuples(st.just("replay"), st.tuples(st.integers(0, 50), st.integers(1, 8))),
        st.tuples(
            st.just("directory"), st.tuples(st.sampled_from([*ORGS, "holding"]), organization_drawn)
        ),
        st.tuples(st.just("policy"), policy_drawn),
        st.tuples(st.just("clock"), st.integers(1, 12)),
        st.tuples(st.just("finish"), st.none()),
    ),
    max_size=10,
)


@dataclass
class History:
    tenant: str
    idea_id: str
    source_id: str
    version: int = 1
    sent: list[events_pb2.Event] = field(default_factory=list)
    # What each organization's evidence must be: its fact with the highest version.
    expected: dict[str, tuple[int, Endorsement | None]] = field(default_factory=dict)
    # The gate as last judged on a complete tally (a rebuild under way leaves it be).
    judged: GateState | None = None

    def send(self, events: Sequence[events_pb2.Event]) -> None:
        for event in events:
            self.sent.append(event)
            if event.envelope.idea_id != self.idea_id:
                continue
            for oid, counted, _, version in facts(event):
                if version > self.expected.get(oid, (0, None))[0]:
                    self.expected[oid] = (version, counted)


def _fresh(event: events_pb2.Event) -> events_pb2.Event:
    """The same fact under a new event id (a replayed history)."""
    again = events_pb2.Event()
    again.CopyFrom(event)
    again.envelope.event_id = str(uuid.uuid4())
    return again


async def _check(validation: Validation, history: History) -> None:
    records = await validation.evidence.idea_records(None, history.tenant, history.idea_id)
    assert {r.organization_id: r.endorsement for r in records} == {
        oid: e for oid, (_, e) in history.expected.items() if e is not None
    }
    entry = await validation.ledger.entry(history.tenant, history.idea_id)
    if entry.tally is not None and entry.tally.pending:
        # A rebuild is under way: the gate is judged once it has counted everyone.
        assert entry.gate == history.judged
        return
    entry, kept, plain = await validation.verdicts(history.tenant, history.idea_id)
    history.judged = entry.gate
    assert kept.holds == plain.holds
    assert kept.criteria == plain.criteria
    assert kept.summary == plain.summary
    assert entry.gate == GateState(plain.stage, plain.holds)
    assert entry.organization_count == len(plain.weights)
    assert entry.tally is not None
    assert not entry.tally.pending
    listed = await validation.evidence.listed(
        None, history.tenant, history.idea_id, entry.tally.generation
    )
    total = entry.tally.standing().total_weight
    assert report_weights(listed, total, entry.sponsor_organization_id) == plain.weights[:100]


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
    await _check(validation, history)

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
            batch.extend(_fresh(e) for e in history.sent[start : start + length])
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
        await _check(validation, history)
    await validation.reevaluator.finish_rebuilds()
    await _check(validation, history)
    assert not (await validation.ledger.unfinished())
    source = await validation.ledger.entry(tenant, history.source_id)
    merges = any(e.WhichOneof("payload") == "ideas_merged" for e in history.sent)
    assert source.status is (Status.MERGED if merges else Status.OPEN)


# --------------------------------------------------------------------------- upgrade


def _old_layout(tenant: str, idea_id: str, evidence: IdeaEvidence, at: datetime) -> dict[str, Any]:
    """A ledger entry as the layout before evidence records kept it."""
    return {
        "_id": idea_id,
        "tenant_id": tenant,
        "stage": "IDEATION",
        "status": "OPEN",
        "sponsor_organization_id": evidence.sponsor_organization_id,
        "endorsements": [endorsement_document(e) for e in evidence.counted()],
        "idea_version": evidence.idea_version,
        "council_votes": [],
        "overridden": False,
        "co_signed_by": [],
        "gate": {"stage": "DISCOVERY", "holds": False},
        "version": 7,
        "entered_stage_at": at,
        "merged_into": "",
    }


async def test_an_upgraded_ledger_judges_as_one_built_from_the_same_history(
    validation: Validation,
) -> None:
    tenant = "upgrading"
    for i, oid in enumerate(ORGS):
        await validation.organization(
            tenant,
            organization_message(
                oid,
                (SEGMENTS[i % 3], 10_000_000 * (i + 1), ACTIVE, False, "org1" if i == 5 else ""),
            ),
        )
    at = START
    old_id, new_id = str(uuid.uuid4()), str(uuid.uuid4())
    # One history, folded by the old layout's rules and consumed by the new handler.
    history = [
        endorsed(tenant, new_id, endorsement(oid, 1 + i % 3, (1,) if i % 2 else (), at), i + 2)
        for i, oid in enumerate(ORGS[1:])
    ] + [withdrawn(tenant, new_id, "org4", 9)]
    old = IdeaEvidence("org0", {"org0": endorsement_of(endorsement("org0", 2, (), at))}, 1)
    for event in history:
        if event.WhichOneof("payload") == "idea_endorsed":
            e = endorsement_of(event.idea_endorsed.organization_endorsement)
            old = replace(old, endorsements={**old.endorsements, e.organization_id: e})
            old = replace(old, idea_version=event.idea_endorsed.idea_version)
        else:
            gone = dict(old.endorsements)
            gone.pop(event.endorsement_withdrawn.organization_id)
            old = IdeaEvidence("org0", gone, event.endorsement_withdrawn.idea_version)
    await validation.database["stage_ledger"].insert_one(_old_layout(tenant, old_id, old, at))
    await validation.consume([submitted(tenant, new_id, "org0", at), *history])

    assert (
        await migrate_embedded_evidence(
            validation.client,
            validation.database,
            validation.evidence,
            validation.policies,
            validation.judging,
            validation.clock,
        )
        == 1
    )
    # Migrated once: a second start (or a crash before it) finds nothing left to do.
    assert (
        await migrate_embedded_evidence(
            validation.client,
            validation.database,
            validation.evidence,
            validation.policies,
            validation.judging,
            validation.clock,
        )
        == 0
    )
    upgraded = await validation.ledger.entry(tenant, old_id)
    assert upgraded.version == 7  # an upgrade is no change of the idea's
    assert upgraded.version_floor == 9
    assert upgraded.organization_count == len(ORGS) - 1
    assert upgraded.gate == GateState("DISCOVERY", False)  # as judged before the upgrade
    # 7 organizations, 3 per transaction: the re-evaluator finishes the tally.
    assert upgraded.tally is not None
    assert upgraded.tally.pending
    await validation.reevaluator.finish_rebuilds()

    _, _, old_report = await validation.gates.gate_report(tenant, old_id)
    _, _, new_report = await validation.gates.gate_report(tenant, new_id)
    assert old_report is not None
    assert new_report is not None
    assert old_report == new_report
    _, kept_old, plain_old = await validation.verdicts(tenant, old_id)
    _, kept_new, _ = await validation.verdicts(tenant, new_id)
    assert (kept_old.criteria, kept_old.summary) == (plain_old.criteria, plain_old.summary)
    assert (kept_old.criteria, kept_old.summary) == (kept_new.criteria, kept_new.summary)

    # The ledger has folded what each history told: readers waiting for it see so.
    assert upgraded.idea_version == 9
    assert (await validation.ledger.entry(tenant, new_id)).idea_version == 9

    # An event the old layout had applied does not apply again; a newer one does.
    await validation.consume([endorsed(tenant, old_id, endorsement("org4", 3, (), at), 5)])
    assert (await validation.ledger.entry(tenant, old_id)).organization_count == len(ORGS) - 1
    await validation.consume([endorsed(tenant, old_id, endorsement("org4", 3, (), at), 10)])
    after = await validation.ledger.entry(tenant, old_id)
    assert (after.organization_count, after.idea_version) == (len(ORGS), 10)


async def test_entries_from_before_idea_versions_get_the_version_they_folded(
    validation: Validation,
) -> None:
    tenant, idea_id, at = "versions", str(uuid.uuid4()), START
    await validation.consume(
        [
            submitted(tenant, idea_id, "org0", at),
            endorsed(tenant, idea_id, endorsement("org1", 2, (), at), 2),
            endorsed(tenant, idea_id, endorsement("org2", 2, (), at), 3),
            withdrawn(tenant, idea_id, "org1", 4),
        ]
    )
    ledger = validation.database["stage_ledger"]
    await ledger.update_one({"_id": idea_id}, {"$unset": {"idea_version": ""}})
    assert await migrate_idea_versions(validation.database) == 1
    assert (await validation.ledger.entry(tenant, idea_id)).idea_version == 4
    assert await migrate_idea_versions(validation.database) == 0


# --------------------------------------------------------------------------- the rare look-ups


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
    segments = []
    for batch in steps:
        await validation.consume(batch)
        history.send(batch)
        await _check(validation, history)
        _, kept, _ = await validation.verdicts(tenant, idea_id)
        segments.append(next(c.detail for c in kept.criteria if c.name == "min_segments"))
    assert segments == [
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
    await _check(validation, history)
    counted = []
    for days in (1, 2, 3, 4, 5):
        validation.clock.at += timedelta(days=days)
        await validation.reevaluator.reevaluate(tenant, every=True)
        await _check(validation, history)
        entry = await validation.ledger.entry(tenant, idea_id)
        assert entry.tally is not None
        counted.append(entry.tally.customers)
    # 4 counted; then x (8 days old) expires after 3 days, y after 7, s after 10, z after 10.
    assert counted == [4, 3, 3, 1, 0]
    # A member endorsing again makes its organization count again.
    again = [endorsed(tenant, idea_id, endorsement("x", 3, (), validation.clock()), 5)]
    await validation.consume(again)
    history.send(again)
    await _check(validation, history)


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
    leaders = []
    for batch in steps:
        await validation.consume(batch)
        history.send(batch)
        await _check(validation, history)
        _, kept, _ = await validation.verdicts(tenant, idea_id)
        leaders.append(next(c.subject for c in kept.criteria if c.name == "max_share"))
    assert leaders == ["m", "p", "q", "r"]


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
    await _check(validation, history)
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
    await _check(validation, history)
    assert await gate_events() == []
    await validation.reevaluator.finish_rebuilds()
    await _check(validation, history)
    assert history.judged == GateState("DISCOVERY", True)
    assert await gate_events() == ["gate_opened"]
    # The customers of the first generation are gone; the new one has them all.
    customers = await validation.database["evidence_customers"].find({"idea_id": idea_id}).to_list()
    assert {c["generation"] for c in customers} == {2}
    assert len(customers) == 11
