"""An idea's size does not change what validation does per event, against the real MongoDB.

Counts, not times: the MongoDB commands a consumed batch sends are the same for an idea
with 10 organizations as for one with 2,000; reports list the 100 heaviest organizations
and count the rest; a decision keeps every organization, in chunks.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient, monitoring

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import PoisonEvent
from quorum_validation.decisions import Decisions
from quorum_validation.gate import evaluate
from quorum_validation.messages import organization_document, report_message
from support.servers import Servers
from support.validation import (
    START,
    Validation,
    endorsed,
    endorsement,
    submitted,
    validation_parts,
)

pytestmark = pytest.mark.integration

TENANT = "popular"
ACTIVE = domain_pb2.RELATIONSHIP_ACTIVE
PM = domain_pb2.Actor(principal_id="pm", role="PRODUCT_MANAGER")


class Commands(monitoring.CommandListener):
    """The commands a client sends, by name, while counting."""

    def __init__(self) -> None:
        self.counted: Counter[str] | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counted is not None:
            self.counted[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(
    infra: Servers, isolation: Isolation
) -> AsyncIterator[tuple[Validation, Commands]]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongodb_uri, tz_aware=True, event_listeners=[commands]
    )
    try:
        parts = await validation_parts(client, client[isolation.database("validation")])
        # 2,100 organizations in 3 segments; every tenth has a parent.
        await parts.database["organizations"].insert_many(
            [
                organization_document(
                    TENANT,
                    domain_pb2.Organization(
                        organization_id=f"o{i:05d}",
                        name=f"Customer {i}",
                        segment=("retail", "health", "finance")[i % 3],
                        arr=1_000_000 + 7_919 * i,
                        relationship=ACTIVE,
                        parent_id=f"o{i - 1:05d}" if i % 10 == 9 else "",
                    ),
                    START,
                )
                for i in range(2_100)
            ]
        )
        yield parts, commands
    finally:
        await client.close()


async def idea_with(parts: Validation, organizations: range) -> tuple[str, int]:
    """An idea endorsed by these organizations (o00000 submits it); its last version."""
    idea_id = str(uuid.uuid4())
    await parts.consume([submitted(TENANT, idea_id, "o00000", START)])
    version = 1
    ids = [f"o{i:05d}" for i in organizations if i]
    for start in range(0, len(ids), 200):
        batch = []
        for oid in ids[start : start + 200]:
            version += 1
            batch.append(endorsed(TENANT, idea_id, endorsement(oid, 2, (), START), version))
        await parts.consume(batch)
    return idea_id, version


async def _discovery_gate(parts: Validation, min_customers: int) -> None:
    """The gate into DISCOVERY wants this many customers, none over half the weight."""
    await parts.policy(
        TENANT,
        domain_pb2.GatePolicy(
            stage="DISCOVERY",
            min_customers=min_customers,
            max_share=0.5,
            weighting=domain_pb2.WEIGHTING_ARR_LINEAR,
        ),
    )
    await parts.reevaluator.run_once()


async def test_a_batch_sends_the_same_commands_for_10_or_2000_organizations(
    counted: tuple[Validation, Commands],
) -> None:
    parts, commands = counted
    # A gate that never opens: no transition, so only the per-batch work is counted.
    await _discovery_gate(parts, min_customers=100_000)
    sent: list[Counter[str]] = []
    for size, newcomers in ((10, range(2_010, 2_030)), (2_000, range(2_030, 2_050))):
        idea_id, version = await idea_with(parts, range(size))
        batch: list[events_pb2.Event] = []
        for i in newcomers:
            version += 1
            batch.append(endorsed(TENANT, idea_id, endorsement(f"o{i:05d}", 1, (), START), version))
        commands.counted = Counter()
        await parts.consume(batch)
        sent.append(commands.counted)
        commands.counted = None
        assert (await parts.ledger.entry(TENANT, idea_id)).organization_count == size + 20
    small, large = sent
    assert small == large
    # Set-based: a handful of commands for 20 events, none of them per event.
    assert sum(small.values()) < 20, small
    assert small["bulkWrite"] + small["update"] + small["insert"] + small["delete"] <= 3 + 1


async def test_a_report_lists_the_100_heaviest_and_a_decision_keeps_every_one(
    counted: tuple[Validation, Commands],
) -> None:
    parts, _ = counted
    await _discovery_gate(parts, min_customers=1_500)
    idea_id, _ = await idea_with(parts, range(2_001))
    entry = await parts.ledger.entry(TENANT, idea_id)
    assert entry.organization_count == 2_001
    assert entry.gate is not None
    assert entry.gate.holds

    rows = await parts.database["outbox"].find({"key": idea_id}).to_list()
    opened = [
        e
        for e in map(events_pb2.Event.FromString, (r["value"] for r in rows))
        if e.HasField("gate_opened")
    ]
    assert len(opened) == 1
    report = opened[0].gate_opened.report
    full = await parts.gates.full_evidence(entry, "DISCOVERY")
    # The gate opened in the batch that brought the 1,500th customer.
    assert len(report.weights) == 100
    assert report.weights_omitted + 100 < 2_001
    _, _, now = await parts.gates.gate_report(TENANT, idea_id)
    assert now is not None
    answer = report_message(now)
    assert len(answer.weights) == 100
    assert answer.weights_omitted == 1_901
    plain = evaluate(
        (await parts.policies.pipeline(TENANT)).policy_into("DISCOVERY"),
        full,
        parts.clock(),
    )
    assert [w.organization_id for w in answer.weights] == [
        w.organization_id for w in plain.weights[:100]
    ]

    done = await parts.gates.advance(TENANT, idea_id, "DISCOVERY", PM, 0)
    assert done.entry.stage == "DISCOVERY"
    decision = await parts.database["decisions"].find_one({"idea_id": idea_id})
    assert decision is not None
    assert decision["evidence_chunks"] == 3
    assert len(decision["report"]["weights"]) == 100
    frozen, weights = await Decisions(parts.database).snapshot(decision)
    assert len(frozen) == len(weights) == 2_001
    chunks = (
        await parts.database["decision_evidence"].find({"decision_id": decision["_id"]}).to_list()
    )
    assert sorted(len(c["evidence"]) for c in chunks) == [1, 1_000, 1_000]


async def test_an_event_for_an_idea_the_ledger_does_not_know_is_poison(
    counted: tuple[Validation, Commands],
) -> None:
    parts, _ = counted
    with pytest.raises(PoisonEvent, match="which the ledger does not know"):
        await parts.consume(
            [endorsed(TENANT, str(uuid.uuid4()), endorsement("o00001", 2, (), START), 2)]
        )
